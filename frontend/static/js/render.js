// Building posts and small bits of page in the DOM. User text only ever goes through
// textContent: never innerHTML. The markup matches templates/partials/post.html.

// Hunches and concerns can be acknowledged; the server names them (feeds.kinds).
const ACKNOWLEDGEABLE = new Set((document.body.dataset.worryKinds || "").split(" "));

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/** Headers of a request the page makes by itself (in answer to a live event): the server
 * does not count it as the person being there, so an unattended screen still times out. */
export const BACKGROUND = Object.freeze({ "x-jigsaw-background": "1" });

export function csrfToken() {
  const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

export function capitalize(word) {
  return word ? word[0].toUpperCase() + word.slice(1) : "";
}

export function userId() {
  return Number(document.body.dataset.userId || 0);
}

function ackForm(post) {
  const form = el("form", { method: "post", action: `/posts/${post.id}/acknowledge`, class: "inline ack-form" },
    el("input", { type: "hidden", name: "csrftoken", value: csrfToken() }),
    el("input", { type: "hidden", name: "next", value: location.pathname }),
    el("button", { type: "submit", class: "small" }, "Seen", el("span", { class: "sr-only", text: ` this ${post.kind}` })),
  );
  return form;
}

function seenBlock(post) {
  const mine = post.author.id === userId();
  return el("div", { class: "seen", "data-seen-for": String(post.id) },
    el("span", { class: "seen-count muted", text: "Not yet seen by anyone else" }),
    mine ? null : ackForm(post),
  );
}

function editedLink(post) {
  return el("a", { class: "edited muted", href: `/posts/${post.id}/history` },
    "(edited)", el("span", { class: "sr-only", text: " earlier wordings" }));
}

/** "Edit" under one's own post, as templates/partials/post.html has it (post_edit.js opens the form). */
function editLink(post) {
  return el("p", { class: "post-actions" },
    el("a", { class: "edit-link", href: `/posts/${post.id}/history#edit`, "data-edit": String(post.id) },
      "Edit", el("span", { class: "sr-only", text: ` your ${post.kind}` })));
}

/** A post as an <li>, with the child's name when it goes into a mixed stream. */
export function postItem(post, childName = "") {
  const time = el("time", { datetime: post.created_at, text: post.created_at.slice(0, 16).replace("T", " ") });
  const meta = el("div", { class: "meta" },
    el("span", { class: "badge kind-label", text: capitalize(post.kind) }),
    el("strong", { class: "author", text: post.author.name }),
    el("span", { class: "handle muted", text: `@${post.author.handle}` }),
    el("span", { class: "muted", text: `${post.author.job_title}, ${post.author.agency}` }),
    time,
    post.edited_at ? editedLink(post) : null,
  );
  for (const node of [...meta.childNodes].slice(1)) node.before(" ");
  const closed = Boolean(document.querySelector(`[data-closed-child="${Number(post.child_id)}"]`));
  return el("li", {
    class: `post kind-${post.kind}`, id: `post-${post.id}`,
    "data-post-id": String(post.id), "data-child-id": String(post.child_id),
  }, childName ? el("a", { class: "child-link", href: `/children/${post.child_id}`, text: childName }) : null,
  meta, el("p", { class: "body", text: post.body }), ACKNOWLEDGEABLE.has(post.kind) ? seenBlock(post) : null,
  post.author.id === userId() && !closed ? editLink(post) : null);
}

/** A post changed (edited here or elsewhere): redraw it in place, keeping who has seen it. */
export function replacePost(post) {
  const old = document.getElementById(`post-${Number(post.id)}`);
  if (!old) return null;
  const item = postItem(post, old.querySelector(".child-link")?.textContent || "");
  const seen = old.querySelector(".seen");
  const fresh = item.querySelector(".seen");
  if (seen && fresh) fresh.replaceWith(seen);
  old.replaceWith(item);
  return item;
}

/** Say which @mentions notified nobody (the server words them: docs/trust.md). */
export function showMentionNotes(unreachable) {
  const messages = (unreachable || []).map((u) => u.message);
  const box = document.getElementById("mention-notes");
  if (box) box.replaceChildren(...messages.map((text) => el("p", { class: "notice", text })));
  if (messages.length) announce(messages.join(" "));
}

/** Put a post at the top of a feed (once), with a quiet highlight. Returns true if added. */
export function insertPost(feed, post, childName = "") {
  if (document.getElementById(`post-${post.id}`)) return false;
  feed.querySelector(".empty")?.remove();
  const item = postItem(post, childName);
  item.classList.add("fresh");
  feed.prepend(item);
  setTimeout(() => item.classList.remove("fresh"), 6000);
  return true;
}

export function setSeen(postId, count, byMe) {
  const block = document.querySelector(`[data-seen-for="${Number(postId)}"]`);
  if (!block) return;
  block.querySelector(".seen-count").textContent = count ? `Seen by ${count}` : "Not yet seen by anyone else";
  if (byMe) {
    block.querySelector(".ack-form")?.remove();
    if (!block.querySelector(".seen-mine")) block.append(el("span", { class: "muted seen-mine", text: " · you have seen it" }));
  }
}

export function setUnread(count) {
  for (const badge of document.querySelectorAll("[data-unread]")) {
    badge.dataset.unread = String(count);
    badge.textContent = String(count);
    badge.classList.toggle("zero", !count);
  }
}

let announceTimer = null;
/** Tell screen readers, politely, without stealing focus. */
export function announce(message) {
  const region = document.getElementById("live-announcer");
  if (!region) return;
  region.textContent = "";
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => { region.textContent = message; }, 100);
}

export function showStatus(message) {
  const bar = document.getElementById("connection-status");
  if (!bar) return;
  bar.textContent = message;
  bar.hidden = !message;
}
