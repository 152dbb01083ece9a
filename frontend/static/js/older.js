// "Older posts" in place: without JavaScript the link opens the next page (keyset by id);
// with it, the next page's posts are read from that same page and added below, the link
// moves on to the page after, and focus goes to the first post added.
import { announce } from "./render.js";

async function loadOlder(link, feed) {
  link.setAttribute("aria-disabled", "true");
  try {
    const response = await fetch(link.href, { headers: { accept: "text/html" } });
    if (!response.ok) throw new Error(String(response.status));
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById(feed.id);
    if (!fresh) throw new Error("not a feed"); // e.g. signed out: let the link do it
    const added = [...fresh.querySelectorAll(":scope > li.post")].filter((item) => !document.getElementById(item.id));
    for (const item of added) feed.append(document.adoptNode(item));
    const next = page.querySelector(`a[data-older-for="${feed.id}"]`);
    if (next) link.href = next.getAttribute("href");
    else link.closest(".older")?.remove();
    announce(added.length ? `${added.length} older posts added.` : "No older posts.");
    if (added.length) {
      added[0].tabIndex = -1;
      added[0].focus();
    }
  } catch {
    location.assign(link.href);
  } finally {
    link.removeAttribute("aria-disabled");
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[data-older-for]");
  const feed = link && document.getElementById(link.dataset.olderFor);
  if (!feed || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  if (link.getAttribute("aria-disabled") !== "true") loadOlder(link, feed);
});
