// "I share this worry": keeps who shares each hunch or concern live on the child page, and
// offers the button on hunches and concerns that arrive live. Listens to the events live.js
// passes on (no second socket). The markup matches templates/partials/worry_share.html;
// user text only goes through textContent.
import { csrfToken, el, userId } from "./render.js";

const WORRY_KINDS = new Set((document.body.dataset.worryKinds || "").split(" "));
const feed = document.getElementById("child-feed");

function countText(count) {
  if (!count) return "Nobody else shares this worry yet.";
  return count === 1 ? "1 other shares this worry:" : `${count} others share this worry:`;
}

function shareForm(postId) {
  const note = el("input", { id: `worry-note-${postId}`, name: "note", type: "text", placeholder: "Why, briefly (optional)" });
  if (feed?.dataset.worryNoteMax) note.setAttribute("maxlength", feed.dataset.worryNoteMax);
  return el("form", { method: "post", action: `/posts/${postId}/worry-shares`, class: "worry-form" },
    el("input", { type: "hidden", name: "csrftoken", value: csrfToken() }),
    el("input", { type: "hidden", name: "next", value: location.pathname }),
    el("label", { for: `worry-note-${postId}`, class: "sr-only", text: "A short note (optional)" }),
    note, " ",
    el("button", { type: "submit", class: "small", text: "I share this worry" }),
  );
}

function worryBlock(post) {
  const mine = post.author.id === userId();
  return el("div", { class: "worry", "data-worry-for": String(post.id), "data-worry-count": "0" },
    el("p", { class: "worry-count muted", text: countText(0) }),
    el("ul", { class: "worry-names" }),
    mine || feed?.hasAttribute("data-closed") ? null : shareForm(post.id),
  );
}

function onCreated(post) {
  if (!WORRY_KINDS.has(post.kind)) return;
  const item = document.getElementById(`post-${Number(post.id)}`);
  if (item && !item.querySelector(".worry")) item.append(worryBlock(post));
}

function onShared({ post_id: postId, by, count }) {
  const block = document.querySelector(`[data-worry-for="${Number(postId)}"]`);
  if (!block || !by) return;
  block.dataset.worryCount = String(count);
  block.querySelector(".worry-count").textContent = countText(count);
  const names = block.querySelector(".worry-names");
  if (!names.querySelector(`[data-worrier="${Number(by.id)}"]`)) {
    names.append(el("li", { "data-worrier": String(by.id) },
      el("strong", { text: by.name }), " ", el("span", { class: "muted", text: by.agency })));
  }
  if (by.id === userId()) {
    block.querySelector(".worry-form")?.remove();
    if (!block.querySelector(".worry-mine")) block.append(el("p", { class: "muted worry-mine", text: "You share this worry." }));
  }
}

document.addEventListener("jigsaw:event", ({ detail: message }) => {
  if (message.type === "post.worry_shared") onShared(message.data);
  else if (message.type === "post.created") onCreated(message.data);
});
