// Live posts that arrive while a child's page is open count as seen: the page tells the
// server (POST /api/v1/children/{id}/seen) so the next visit's "New since your last visit"
// starts after them. Waits while the tab is hidden; one call for a burst of posts.
import { BACKGROUND, csrfToken } from "./render.js";

const feed = document.querySelector("[data-mark-seen]");
let pending = 0;
let timer = null;

async function send() {
  timer = null;
  if (!pending || document.visibilityState !== "visible") return;
  const postId = pending;
  pending = 0;
  try {
    await fetch(`/api/v1/children/${Number(feed.dataset.childId)}/seen`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrftoken": csrfToken(), ...BACKGROUND },
      body: JSON.stringify({ post_id: postId }),
    });
  } catch {
    pending = Math.max(pending, postId); // offline: try again with the next post or view
  }
}

function later() {
  clearTimeout(timer);
  timer = setTimeout(send, 800);
}

if (feed) {
  document.addEventListener("jigsaw:event", (event) => {
    const message = event.detail;
    if (message.type !== "post.created" || message.child_id !== Number(feed.dataset.childId)) return;
    if (!document.getElementById(`post-${Number(message.data.id)}`)) return; // not shown here
    pending = Math.max(pending, Number(message.data.id));
    later();
  });
  document.addEventListener("visibilitychange", later);
}
