// Posting with JavaScript, online or not. A post is written to the device's outbox
// (localStorage) *before* it is sent, with an idempotency key made once; it leaves the
// outbox only when the server has answered 201 (or refused it for good). Resending with
// the same key can never create a second post, so a post is neither lost nor duplicated.
import { announce, capitalize, csrfToken, el, insertPost, setSeen, userId } from "./render.js";

const RETRY_MS = 15000;
const sending = new Set();
const storageKey = () => `jigsaw.outbox.${userId()}`;

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

function update(key, change) {
  save(load().map((item) => (item.key === key ? { ...item, ...change } : item)));
}

function remove(key) {
  save(load().filter((item) => item.key !== key));
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
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
      el("span", { class: "state", text: item.error || (sending.has(item.key) ? "Sending…" : "Waiting to send") }),
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
  if (sending.has(item.key)) return;
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
    return;
  }
  if (response.status === 401) {
    update(item.key, { error: "Log in again to send this" });
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
  if (!body.value) body.value = item.body;
  let error = document.getElementById("post-error");
  if (!error) {
    error = el("p", { class: "error", id: "post-error", role: "alert" });
    form.before(error);
  }
  error.textContent = message;
}

/** Send everything waiting, for any child (a post written offline on another page too). */
export function flush() {
  if (navigator.onLine === false) return;
  for (const item of load()) send(item);
}

function queueFromForm(form) {
  const body = form.querySelector("textarea").value.trim();
  if (!body) return null;
  const item = {
    key: newKey(),
    childId: Number(form.dataset.childId),
    kind: form.querySelector("select[name=kind]").value,
    body,
    queuedAt: new Date().toISOString(),
  };
  save([...load(), item]);
  form.reset();
  document.getElementById("post-error")?.remove();
  return item;
}

function watchPostForm() {
  const form = document.getElementById("post-form");
  if (!form) return;
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

/** Logging out forgets everything this device kept: queued posts and cached files. */
export async function forgetDevice() {
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

export function startOutbox() {
  watchPostForm();
  watchAckForms();
  watchLogout();
  renderOutbox();
  window.addEventListener("online", flush);
  window.addEventListener("storage", (event) => { if (event.key === storageKey()) renderOutbox(); });
  setInterval(flush, RETRY_MS);
  flush();
}
