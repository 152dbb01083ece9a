// Live updates for every page of a logged-in user: one websocket (/ws), resumed after
// the last event id this tab saw, so nothing is missed or shown twice after a drop.
// Protocol: docs/api.md. Loaded as an ES module (CSP: script-src 'self', no inline code).
import { flush, forgetDevice, holdForSignIn, loggingOut, startOutbox } from "./outbox.js";
import { BACKGROUND, announce, el, insertPost, replacePost, setSeen, setUnread, showStatus, userId } from "./render.js";

const LAST_ID = "jigsaw.lastEventId";
const CLOSE_RELOAD = 4000;
const CLOSE_BEHIND = 4008;
const CLOSE_LOGGED_OUT = 4401;
const MAX_DELAY_MS = 30000;

let socket = null;
let attempt = 0;
let timer = null;
let ended = false;

function lastId() {
  return Number(sessionStorage.getItem(LAST_ID) || 0);
}

function remember(id) {
  if (Number.isInteger(id) && id > lastId()) sessionStorage.setItem(LAST_ID, String(id));
}

function childName(childId) {
  const link = document.querySelector(`.caseload a[href="/children/${Number(childId)}"] strong`);
  return link ? link.textContent : "";
}

function followedIds(feed) {
  return new Set((feed.dataset.following || "").split(",").filter(Boolean).map(Number));
}

function onPostCreated(message) {
  const post = message.data;
  let added = false;
  const childFeed = document.querySelector('[data-live-feed="child"]');
  if (childFeed && Number(childFeed.dataset.childId) === post.child_id) added = insertPost(childFeed, post);
  const home = document.querySelector('[data-live-feed="home"]');
  if (home && followedIds(home).has(post.child_id)) added = insertPost(home, post, childName(post.child_id)) || added;
  if (added && post.author.id !== userId()) {
    const about = childName(post.child_id);
    announce(`New ${post.kind} from ${post.author.name}${about ? ` about ${about}` : ""}.`);
  }
}

// A system entry ("Northgate Primary School is now involved"), as partials/system_entry.html
// draws it; only on the page of the child it belongs to, once.
function onChildEntry(message) {
  const entry = message.data;
  const feed = document.querySelector('[data-live-feed="child"]');
  if (!feed || Number(feed.dataset.childId) !== message.child_id || typeof entry.text !== "string") return;
  if (document.getElementById(`entry-${Number(entry.id)}`)) return;
  const when = el("time", { class: "muted", datetime: entry.created_at, text: entry.created_at.slice(0, 16).replace("T", " ") });
  const body = el("p", { class: "body" }, el("span", { class: "badge", text: "Network" }), ` ${entry.text} `, when);
  const item = el("li", { class: "post system-entry fresh", id: `entry-${Number(entry.id)}`, "data-entry-kind": entry.kind }, body);
  feed.querySelector(".empty")?.remove();
  feed.prepend(item);
  setTimeout(() => item.classList.remove("fresh"), 6000);
  announce(entry.text);
}

function onPostRemoved(message) {
  document.getElementById(`post-${Number(message.data.post_id ?? message.data.id)}`)?.remove();
}

function onPostEdited(message) {
  // Redrawn whole: text, kind and the "(edited)" link to the earlier wordings. An edit form
  // open on this post (being changed here) is left alone until it is saved or closed.
  const item = document.getElementById(`post-${Number(message.data.id)}`);
  if (!item || item.querySelector(".edit-form")) return;
  if (typeof message.data.body === "string" && message.data.author) replacePost(message.data);
}

async function onFollowChanged() {
  const home = document.querySelector('[data-live-feed="home"]');
  if (!home) return;
  const response = await fetch("/api/v1/home?limit=1", { headers: BACKGROUND });
  if (response.ok) home.dataset.following = (await response.json()).following.join(",");
}

function onNotification(message) {
  if (typeof message.data.unread === "number") setUnread(message.data.unread);
  if (message.type === "mention") {
    const who = message.data.post?.author?.name || "Someone";
    const about = childName(message.child_id);
    announce(`${who} mentioned you${about ? ` about ${about}` : ""}.`);
  }
}

const HANDLERS = {
  "post.created": onPostCreated,
  "post.edited": onPostEdited,
  "post.removed": onPostRemoved,
  "post.acknowledged": (m) => setSeen(m.data.post_id, m.data.count, m.data.by?.id === userId()),
  "follow.changed": onFollowChanged,
  "child.entry": onChildEntry,
  mention: onNotification,
  notification: onNotification,
};

function onMessage(event) {
  const message = JSON.parse(event.data);
  if (message.type === "hello") {
    attempt = 0;
    document.body.dataset.live = "connected";
    showStatus("");
    return;
  }
  if (message.type === "reload") return; // the close (4000) that follows reloads the page
  HANDLERS[message.type]?.(message);
  // Other page scripts (e.g. the board) listen here rather than open a second socket.
  document.dispatchEvent(new CustomEvent("jigsaw:event", { detail: message }));
  remember(message.id);
}

function backoff() {
  // Exponential with full jitter, so a hundred phones coming back do not reconnect in step.
  const ceiling = Math.min(MAX_DELAY_MS, 500 * 2 ** attempt);
  attempt += 1;
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

async function stillLoggedIn() {
  try {
    const response = await fetch("/api/v1/me", { headers: BACKGROUND });
    return response.status !== 401;
  } catch {
    return true; // no connection: not a reason to think the session ended
  }
}

function signInAgainPanel({ queued, draft }, signIn) {
  const who = document.querySelector(".account .who")?.textContent.split(" · ")[0] || "";
  const as = who ? ` as ${who}` : "";
  const what = queued === 1 ? "1 post is" : `${queued} posts are`;
  return el("section", { class: "card session-ended", role: "alert", "aria-labelledby": "session-ended-heading" },
    el("h1", { id: "session-ended-heading", text: "Your session has ended" }),
    queued ? el("p", { text: `${what} waiting on this device, not yet sent: ${queued === 1 ? "it" : "they"} will be `
      + `sent when you sign in again${as}.` }) : null,
    draft ? el("p", { text: `The post you were writing is kept on this device and will be back in the box `
      + `when you sign in again${as}.` }) : null,
    el("p", { class: "muted", text: "If someone else signs in on this device, it is deleted without being sent." }),
    el("p", {}, el("a", { class: "button", href: signIn, text: "Sign in again" })),
  );
}

/** The session ended (expired, logged out elsewhere, account closed). Child data leaves the
 * screen either way; what is waiting to be sent stays on the device for the same person. */
function sessionEnded() {
  if (ended) return;
  ended = true;
  clearTimeout(timer);
  socket?.close();
  document.body.dataset.live = "ended";
  showStatus("");
  // Logging out closes this socket too: the logout's own answer goes to the sign-in page,
  // and must not be overtaken by one that would send the next person to this page.
  if (loggingOut()) return;
  const signIn = `/login?next=${encodeURIComponent(location.pathname)}`;
  const kept = holdForSignIn();
  if (!kept.queued && !kept.draft) {
    location.assign(signIn);
    return;
  }
  document.getElementById("main")?.replaceChildren(signInAgainPanel(kept, signIn));
}

async function onClose(event) {
  socket = null;
  if (ended) return;
  document.body.dataset.live = "disconnected";
  if (event.code === CLOSE_RELOAD) {
    location.reload();
    return;
  }
  if (event.code === CLOSE_LOGGED_OUT || (attempt >= 3 && !(await stillLoggedIn()))) {
    sessionEnded();
    return;
  }
  showStatus(navigator.onLine === false ? "Offline: new posts wait on this device until you are back." : "Reconnecting…");
  schedule(event.code === CLOSE_BEHIND ? 0 : backoff());
}

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(connect, delay);
}

function connect() {
  if (socket || ended) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws?after=${lastId()}`);
  socket.addEventListener("message", onMessage);
  socket.addEventListener("close", onClose);
}

/** Arriving from a search hit (/children/7#post-42): bring that post into view and focus. */
function showLinkedPost() {
  const match = /^#post-(\d+)$/.exec(location.hash);
  const item = match && document.getElementById(`post-${match[1]}`);
  if (!item) return;
  item.tabIndex = -1;
  item.classList.add("fresh", "linked");
  item.focus();
  setTimeout(() => item.classList.remove("fresh"), 6000);
}

function start() {
  // The page shows everything up to the id it was rendered at; resume from there.
  const rendered = Number(document.body.dataset.lastEventId || 0);
  sessionStorage.setItem(LAST_ID, String(rendered));
  startOutbox(sessionEnded);
  showLinkedPost();
  window.addEventListener("hashchange", showLinkedPost);
  connect();
  window.addEventListener("online", () => { attempt = 0; schedule(0); flush(); });
  window.addEventListener("offline", () => showStatus("Offline: new posts wait on this device until you are back."));
  window.addEventListener("pageshow", async (event) => {
    // Back from the page cache: the session may have ended meanwhile (logged out, expired).
    if (!event.persisted) return;
    if (!(await stillLoggedIn())) sessionEnded();
    else if (!socket) schedule(0);
  });
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}

// Connect once the whole page (and so every page script listening for `jigsaw:event`) has run.
if (document.body?.dataset.userId) document.addEventListener("DOMContentLoaded", start, { once: true });
export { forgetDevice };
