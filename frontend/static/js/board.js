// The live board. The tab's one websocket belongs to live.js, which re-dispatches every
// event as a `jigsaw:event` DOM event; the board listens there and never opens a socket of
// its own. The velocity watcher stores each child's verdict after posts and says so:
// `velocity.changed` when a flag flips, `velocity.updated` when a score moves enough to
// re-rank. On those (and on grant changes) the board reads this same page again (same
// filters) and swaps in the summary, the ranked list and the comparison: no reload, focus
// kept, flips announced politely.
import { BACKGROUND, announce } from "./render.js";

const SETTLE_MS = 700; // a burst of posts becomes one re-read
const SWAPPED = ["#board-summary", "ol.board", "table.compare"];
const notice = document.getElementById("board-live");
const flips = new Map(); // child id -> { flagged, reasons, name }

let timer = null;
let reading = false;
let again = false;

function childName(childId) {
  return document.querySelector(`ol.board a[href="/children/${Number(childId)}"] strong`)?.textContent || "";
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(reread, SETTLE_MS);
}

/** Swap the parts of the board that the new page has; keep focus on the same link. */
function swapIn(page) {
  const focused = document.activeElement?.closest?.("a[href]")?.getAttribute("href");
  let keepFocus = false;
  for (const selector of SWAPPED) {
    const old = document.querySelector(selector);
    const fresh = page.querySelector(selector);
    if (!old || !fresh) continue;
    keepFocus ||= Boolean(focused && old.contains(document.activeElement));
    old.replaceWith(document.adoptNode(fresh));
  }
  if (keepFocus) {
    for (const link of document.querySelectorAll("a[href]")) {
      if (link.getAttribute("href") === focused && link.closest(SWAPPED.join(","))) { link.focus(); break; }
    }
  }
}

function announceFlips() {
  const said = [];
  for (const [childId, flip] of flips) {
    const name = childName(childId) || flip.name;
    if (!name) continue;
    const why = flip.reasons.length ? `: ${flip.reasons.join("; ")}` : "";
    said.push(flip.flagged ? `${name} is now flagged${why}.` : `${name} is no longer flagged.`);
  }
  flips.clear();
  if (said.length) announce(`Board updated. ${said.join(" ")}`);
}

async function reread() {
  if (reading) {
    again = true;
    return;
  }
  reading = true;
  try {
    const response = await fetch(location.href, { headers: { accept: "text/html", ...BACKGROUND } });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    if (!page.querySelector("ol.board")) throw new Error("not the board"); // e.g. signed out
    swapIn(page);
    notice.hidden = true;
    announceFlips();
  } catch {
    notice.hidden = false; // "The board has changed. Refresh"
  } finally {
    reading = false;
    if (again) {
      again = false;
      schedule();
    }
  }
}

const REREAD_ON = new Set(["velocity.changed", "velocity.updated", "grant.changed"]);

function onEvent({ detail: message }) {
  if (!REREAD_ON.has(message.type)) return;
  if (message.type === "velocity.changed") {
    const data = message.data || {};
    const reasons = Array.isArray(data.reasons) ? data.reasons.map(String) : [];
    flips.set(message.child_id, { flagged: Boolean(data.flagged), reasons, name: childName(message.child_id) });
  }
  schedule();
}

if (notice && document.querySelector("ol.board")) document.addEventListener("jigsaw:event", onEvent);
