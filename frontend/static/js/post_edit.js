// Editing one's own post in place. Without JavaScript the form under "Edit" posts to the
// server and the page comes back; with it, the post is changed through the API and redrawn
// (other open screens get the same change from the post.edited event). The count and the
// reasons a post cannot be saved are the compose box's (compose.js).
import { problemWith, showCount } from "./compose.js";
import { startMentions } from "./mention.js";
import { announce, csrfToken, el, replacePost, showMentionNotes } from "./render.js";

function countFor(box) {
  return document.getElementById(box.getAttribute("aria-describedby")?.split(" ").pop() || "");
}

function showError(form, message) {
  const box = form.querySelector("textarea");
  const id = `${box.id}-error`;
  let error = document.getElementById(id);
  if (!message) {
    error?.remove();
    box.removeAttribute("aria-invalid");
    box.setAttribute("aria-describedby", countFor(box)?.id || "");
    return;
  }
  if (!error) {
    error = el("p", { class: "error", id, role: "alert" });
    box.before(error);
  }
  error.textContent = message;
  box.setAttribute("aria-invalid", "true");
  box.setAttribute("aria-describedby", `${id} ${countFor(box)?.id || ""}`.trim());
}

async function save(form) {
  const box = form.querySelector("textarea");
  const problem = problemWith(box.value, Number(box.dataset.max));
  if (problem) {
    showError(form, problem);
    box.focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const response = await fetch(`/api/v1/posts/${form.dataset.postId}`, {
      method: "PATCH",
      headers: { "content-type": "application/json", "x-csrftoken": csrfToken() },
      body: JSON.stringify({ kind: form.querySelector("select[name=kind]").value, body: box.value }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      showError(form, answer?.error?.message || "Your change was not saved.");
      return;
    }
    const item = replacePost(answer);
    showMentionNotes(answer.unreachable_mentions);
    announce("Your post was saved.");
    if (item) {
      item.tabIndex = -1;
      item.focus();
    }
  } catch {
    showError(form, "Not saved: there is no connection. Try again when you are back online.");
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest?.(".edit-form");
  if (!form) return;
  event.preventDefault();
  save(form);
});

document.addEventListener("input", (event) => {
  const box = event.target.closest?.(".edit-form textarea");
  const count = box && countFor(box);
  if (count) showCount(box, count);
});

// Opening "Edit" puts the cursor at the end of the text.
document.addEventListener("toggle", (event) => {
  const details = event.target;
  if (!details.matches?.("details.edit-post") || !details.open) return;
  const box = details.querySelector("textarea");
  box?.focus();
  box?.setSelectionRange(box.value.length, box.value.length);
  details.querySelector(".edit-form").noValidate = true;
}, true);

startMentions();
