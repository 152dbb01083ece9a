// The child page's activity chart and flag notice, kept current. The tab's one websocket
// belongs to live.js, which re-dispatches every event as `jigsaw:event`; on a post for this
// child (new, edited, removed) or a flip of its verdict, this reads the server-drawn
// fragment again (GET /children/{id}/activity) and swaps it in: no second socket, no
// reload, the table left open if it was.
import { BACKGROUND, announce } from "./render.js";

const SETTLE_MS = 800; // a burst of posts becomes one read
const SWAPPED = ["flag-slot", "activity"];
const REREAD_ON = new Set(["post.created", "post.edited", "post.removed", "velocity.changed"]);
const stream = document.querySelector("[data-activity-for]");
const childId = Number(stream?.dataset.activityFor || 0);

let timer = null;
let reading = false;
let again = false;

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(reread, SETTLE_MS);
}

function swapIn(fragment) {
  const wasFlagged = Boolean(document.querySelector("#flag-slot .flag-notice"));
  const tableOpen = document.querySelector("#activity details")?.open;
  for (const id of SWAPPED) {
    const fresh = fragment.getElementById(id);
    const old = document.getElementById(id);
    if (fresh && old) old.replaceWith(document.adoptNode(fresh));
  }
  if (tableOpen) document.querySelector("#activity details")?.setAttribute("open", "");
  const flagged = Boolean(document.querySelector("#flag-slot .flag-notice"));
  if (flagged !== wasFlagged) {
    announce(flagged ? "This child is now flagged on the attention board; the reasons are at the top of the page."
      : "This child is no longer flagged on the attention board.");
  }
}

async function reread() {
  if (reading) {
    again = true;
    return;
  }
  reading = true;
  try {
    const response = await fetch(`/children/${childId}/activity`, { headers: { accept: "text/html", ...BACKGROUND } });
    if (!response.ok) return; // access ended or signed out: live.js deals with that
    swapIn(new DOMParser().parseFromString(await response.text(), "text/html"));
    document.getElementById("activity")?.setAttribute("data-refreshed", String(Date.now()));
  } catch {
    // Offline: the next event (or a reload) brings it up to date.
  } finally {
    reading = false;
    if (again) {
      again = false;
      schedule();
    }
  }
}

function onEvent({ detail: message }) {
  if (!REREAD_ON.has(message.type)) return;
  const about = Number(message.child_id ?? message.data?.child_id);
  if (about === childId) schedule();
}

if (childId && document.getElementById("activity")) document.addEventListener("jigsaw:event", onEvent);
