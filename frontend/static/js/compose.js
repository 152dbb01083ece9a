// The compose box: a live character count, and the reasons a post cannot be sent yet.
// The visible count changes with every keystroke but is not a live region; a separate
// polite region speaks only when the writer crosses a line (near the limit, over it, back
// under), once typing pauses. The server counts the same way (feeds/feed/posting.py).
import { el } from "./render.js";

const NEAR = 50; // characters left when the count starts to matter
const SPEAK_AFTER_MS = 900;
export const EMPTY_POST = "Write something before posting: the post is empty.";

let speakTimer = null;
let lastBand = "";

/** Characters as the server counts them: code points, line breaks as one, ends trimmed. */
export function lengthOf(text) {
  return [...text.replace(/\r\n/g, "\n").trim()].length;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function tooLong(length, max) {
  return `This post is ${plural(length - max, "character")} over the ${max}-character limit `
    + `(${length} written): shorten it before posting.`;
}

/** Why this text cannot be posted, or "" when it can. */
export function problemWith(text, max) {
  const length = lengthOf(text);
  if (!length) return EMPTY_POST;
  return length > max ? tooLong(length, max) : "";
}

function band(length, max) {
  if (length > max) return "over";
  return max - length <= NEAR ? "near" : "fine";
}

function spoken(length, max) {
  if (length > max) return `${plural(length - max, "character")} over the limit of ${max}.`;
  return `${plural(max - length, "character")} left.`;
}

/** Write the count under a box ("N of 500 characters", and by how much it is over). */
export function showCount(box, count) {
  const max = Number(box.dataset.max);
  const length = lengthOf(box.value);
  const over = length > max;
  count.textContent = over
    ? `${length} of ${max} characters: ${length - max} over`
    : `${length} of ${max} characters`;
  count.classList.toggle("over", over);
  count.classList.toggle("near", !over && max - length <= NEAR);
  return { length, max, over };
}

function update(box, count, live) {
  const { length, max, over } = showCount(box, count);
  if (over) box.setAttribute("aria-invalid", "true");
  else if (!document.getElementById("post-error")) box.removeAttribute("aria-invalid");
  const now = band(length, max);
  if (now === lastBand) return;
  clearTimeout(speakTimer);
  speakTimer = setTimeout(() => {
    lastBand = now;
    live.textContent = now === "fine" ? "" : spoken(lengthOf(box.value), max);
  }, SPEAK_AFTER_MS);
}

/** Show (or with "", clear) the message above the form; the box points at it. */
export function showPostError(form, message) {
  const box = form.querySelector("textarea");
  let error = document.getElementById("post-error");
  if (!message) {
    error?.remove();
    box.setAttribute("aria-describedby", "body-count");
    if (lengthOf(box.value) <= Number(box.dataset.max)) box.removeAttribute("aria-invalid");
    return;
  }
  if (!error) {
    error = el("p", { class: "error", id: "post-error", role: "alert" });
    form.before(error);
  }
  error.textContent = "";
  error.textContent = message; // re-set, so the same message is announced again
  box.setAttribute("aria-invalid", "true");
  box.setAttribute("aria-describedby", "post-error body-count");
}

/** Count as the writer types; the form checks `problemWith` before it sends. */
export function watchCount(form) {
  const box = form.querySelector("textarea[data-max]");
  const count = document.getElementById("body-count");
  const live = document.getElementById("body-count-live");
  if (!box || !count || !live) return;
  form.noValidate = true; // our messages, not the browser's bubble, say what is wrong
  lastBand = band(lengthOf(box.value), Number(box.dataset.max));
  const refresh = () => update(box, count, live);
  box.addEventListener("input", refresh);
  form.addEventListener("reset", () => setTimeout(refresh, 0));
  refresh();
}
