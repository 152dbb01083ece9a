// Posting with JavaScript, online or not. A post is written to the device's outbox
// (localStorage) *before* it is sent, with an idempotency key made once; it leaves the
// outbox only when the server has answered 201 (or refused it for good). Resending with
// the same key can never create a second post, so a post is neither lost nor duplicated.
//
// The outbox (and a draft kept when a session ends) belongs to one person: it waits through
// an expired session for that same person to sign in again, is deleted if someone else signs
// in on the device, and logging out deletes it with everything else this device kept.
import { problemWith, showPostError, watchCount } from "./compose.js";
import { announce, capitalize, csrfToken, el, insertPost, setSeen, showMentionNotes, userId } from "./render.js";

const RETRY_MS = 15000;
const PERSONAL = /^jigsaw\.(outbox|draft)\.(\d+)$/; // keys that belong to one person
const sending = new Set();
const storageKey = () => `jigsaw.outbox.${userId()}`;
const draftKey = () => `jigsaw.draft.${userId()}`;
let held = false; // the session ended: keep everything, send nothing, until signed in again
let forgotten = false; // logging out: keep nothing
let retryTimer = null;
let onSessionEnded = () => {};

function load() {
  try {
    return JSON.parse(localStorage.getItem(storageKey()) || "[]");
  } catch {
    return [];
  }
}

function save(items) {
  if (items.length) localStorage.setItem(storageKey(), JSON.stringify(items));
  else localStorage.removeItem(storageKey());
}

function remove(key) {
  save(load().filter((item) => item.key !== key));
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function stateOf(item) {
  if (held) return "Waiting until you sign in again";
  return sending.has(item.key) ? "Sending…" : "Waiting to send";
}

function outboxList() {
  return document.getElementById("outbox");
}

/** Show this page's queued posts, each with its state. */
export function renderOutbox() {
  const list = outboxList();
  if (!list) return;
  const childId = Number(document.getElementById("post-form")?.dataset.childId || 0);
  list.replaceChildren(...load().filter((item) => item.childId === childId).map((item) =>
    el("li", { class: `pending kind-${item.kind}`, "data-key": item.key },
      el("span", { class: "state", text: stateOf(item) }),
      " ",
      el("span", { class: "badge kind-label", text: capitalize(item.kind) }),
      " ",
      el("span", { class: "body", text: item.body }),
    )));
}

function liveFeedFor(childId) {
  const feed = document.querySelector('[data-live-feed="child"]');
  return feed && Number(feed.dataset.childId) === childId ? feed : null;
}

async function send(item) {
  if (held || sending.has(item.key)) return;
  sending.add(item.key);
  renderOutbox();
  try {
    const response = await fetch(`/api/v1/children/${item.childId}/posts`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": item.key, "x-csrftoken": csrfToken() },
      body: JSON.stringify({ kind: item.kind, body: item.body }),
    });
    await settle(item, response);
  } catch {
    // No connection (or it dropped mid-request): keep it; it goes again with the same key.
  } finally {
    sending.delete(item.key);
    renderOutbox();
  }
}

async function settle(item, response) {
  if (response.status === 201) {
    remove(item.key);
    const post = await response.json();
    const feed = liveFeedFor(item.childId);
    if (feed) insertPost(feed, post);
    announce(`Your ${post.kind} was sent.`);
    showMentionNotes(post.unreachable_mentions);
    return;
  }
  if (response.status === 401) {
    onSessionEnded(); // the post stays queued for the same person's next sign-in
  } else if (response.status === 422 || response.status === 404) {
    // Refused for good (e.g. too long, or access ended): hand the text back to the writer.
    const message = (await response.json().catch(() => ({})))?.error?.message || "This post was refused.";
    remove(item.key);
    restoreDraft(item, message);
  }
  // 409 (same key in flight), 403 (stale CSRF cookie), 5xx: keep and retry later.
}

function restoreDraft(item, message) {
  const form = document.getElementById("post-form");
  if (!form || Number(form.dataset.childId) !== item.childId) return;
  const body = form.querySelector("textarea");
  if (!body.value) {
    body.value = item.body;
    body.dispatchEvent(new Event("input")); // the count follows
  }
  showPostError(form, message);
}

/** Send everything waiting, for any child (a post written offline on another page too). */
export function flush() {
  if (held || navigator.onLine === false) return;
  for (const item of load()) send(item);
}

function queueFromForm(form) {
  const box = form.querySelector("textarea");
  const problem = problemWith(box.value, Number(box.dataset.max || Infinity));
  if (problem) {
    // Nothing is queued: say why, and leave the text where it is to be fixed.
    showPostError(form, problem);
    box.focus();
    return null;
  }
  const body = box.value.replace(/\r\n/g, "\n").trim();
  const item = {
    key: newKey(),
    childId: Number(form.dataset.childId),
    kind: form.querySelector("select[name=kind]").value,
    body,
    queuedAt: new Date().toISOString(),
  };
  save([...load(), item]);
  form.reset();
  showPostError(form, "");
  return item;
}

function watchPostForm() {
  const form = document.getElementById("post-form");
  if (!form) return;
  watchCount(form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const item = queueFromForm(form);
    if (!item) return;
    renderOutbox();
    if (navigator.onLine === false) announce("No connection: your post is waiting to send.");
    else send(item);
  });
}

function watchAckForms() {
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest?.(".ack-form");
    if (!form) return;
    event.preventDefault();
    const postId = form.action.match(/\/posts\/(\d+)\/acknowledge/)[1];
    try {
      const response = await fetch(`/api/v1/posts/${postId}/acknowledge`, {
        method: "POST", headers: { "x-csrftoken": csrfToken() },
      });
      if (!response.ok) throw new Error(String(response.status));
      setSeen(postId, (await response.json()).seen_by, true);
    } catch {
      form.submit(); // let the server-rendered path handle it
    }
  });
}

/** How many posts wait on this device for the signed-in person. */
export function waitingCount() {
  return load().length;
}

/** The session ended: stop sending, keep the queue and any half-written post for when the
 * same person signs in again. Says what was kept. */
export function holdForSignIn() {
  if (forgotten) return { queued: 0, draft: false };
  held = true;
  clearInterval(retryTimer);
  renderOutbox();
  return { queued: waitingCount(), draft: keepDraft() };
}

function keepDraft() {
  const form = document.getElementById("post-form");
  const body = form?.querySelector("textarea")?.value.trim();
  if (!body) return false;
  const kind = form.querySelector("select[name=kind]").value;
  localStorage.setItem(draftKey(), JSON.stringify({ childId: Number(form.dataset.childId), kind, body }));
  return true;
}

function restoreKeptDraft() {
  const form = document.getElementById("post-form");
  let draft = null;
  try {
    draft = JSON.parse(localStorage.getItem(draftKey()) || "null");
  } catch {
    localStorage.removeItem(draftKey());
  }
  if (!form || !draft || draft.childId !== Number(form.dataset.childId)) return;
  localStorage.removeItem(draftKey());
  const box = form.querySelector("textarea");
  if (box.value) return;
  box.value = draft.body;
  box.dispatchEvent(new Event("input"));
  form.querySelector("select[name=kind]").value = draft.kind;
  announce("The post you were writing when your session ended is back in the box, not yet sent.");
}

/** Someone else signed in on this device: what the previous person left waiting is deleted. */
function forgetOtherPeople() {
  const me = String(userId());
  for (const key of Object.keys(localStorage)) {
    const match = PERSONAL.exec(key);
    if (match && match[2] !== me) localStorage.removeItem(key);
  }
}

/** True once this tab has started logging out (its session ends on purpose). */
export function loggingOut() {
  return forgotten;
}

/** Logging out forgets everything this device kept: queued posts and cached files. */
export async function forgetDevice() {
  forgotten = true;
  for (const key of Object.keys(localStorage)) if (key.startsWith("jigsaw.")) localStorage.removeItem(key);
  sessionStorage.clear();
  if (window.caches) for (const key of await caches.keys()) await caches.delete(key);
  navigator.serviceWorker?.controller?.postMessage({ type: "logout" });
}

function watchLogout() {
  const form = document.getElementById("logout-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const waiting = load().length;
    if (waiting && !confirm(`${waiting} post(s) have not been sent yet. Log out and discard them?`)) return;
    await forgetDevice();
    form.submit();
  });
}

/** Start posting through the outbox; `sessionEnded` is called when the server says 401. */
export function startOutbox(sessionEnded = () => {}) {
  onSessionEnded = sessionEnded;
  forgetOtherPeople();
  restoreKeptDraft();
  watchPostForm();
  watchAckForms();
  watchLogout();
  renderOutbox();
  window.addEventListener("online", flush);
  window.addEventListener("storage", (event) => { if (event.key === storageKey()) renderOutbox(); });
  retryTimer = setInterval(flush, RETRY_MS);
  flush();
}
