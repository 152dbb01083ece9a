// Editing one's own post in place. Without JavaScript "Edit" opens the post's page (its
// form and earlier wordings: templates/post_history.html); with it, the same form opens
// under the post, saves through the API and redraws the post (other open screens get the
// change from the post.edited event). The count and the reasons a post cannot be saved are
// the compose box's (compose.js).
import { problemWith, showCount } from "./compose.js";
import { startMentions } from "./mention.js";
import { announce, capitalize, csrfToken, el, replacePost, showMentionNotes } from "./render.js";

function kindSelect(id, selected) {
  const kinds = (document.body.dataset.postKinds || "").split(" ").filter(Boolean);
  const select = el("select", { id, name: "kind" });
  for (const kind of kinds) {
    const option = el("option", { value: kind, text: capitalize(kind) });
    option.selected = kind === selected;
    select.append(option);
  }
  return select;
}

/** The form under a post: its text and kind as they are now, the count, Save and Cancel. */
function editForm(item) {
  const id = item.dataset.postId;
  const kind = /\bkind-(\w+)\b/.exec(item.className)?.[1] || "";
  const max = document.body.dataset.maxBody || "500";
  const box = el("textarea", {
    id: `edit-body-${id}`, name: "body", rows: "3", required: "", "data-max": max,
    "data-mentions": "", "aria-describedby": `edit-count-${id}`,
  });
  box.value = item.querySelector(".body")?.textContent || "";
  const count = el("p", { class: "char-count muted", id: `edit-count-${id}` });
  const form = el("form", {
    method: "post", action: `/posts/${id}/edit`, class: "edit-form",
    "data-post-id": id, "data-child-id": item.dataset.childId,
  },
  el("input", { type: "hidden", name: "csrftoken", value: csrfToken() }),
  el("label", { for: box.id, text: "Correct your post" }),
  box, count,
  el("div", { class: "row" },
    el("label", { for: `edit-kind-${id}`, class: "sr-only", text: "Kind" }),
    kindSelect(`edit-kind-${id}`, kind),
    el("button", { type: "submit", text: "Save" }),
    el("button", { type: "button", class: "secondary", "data-edit-cancel": "", text: "Cancel" })),
  el("p", { class: "muted small-print", text: "The earlier wording stays visible to everyone who can see this post." }));
  form.noValidate = true; // our messages, not the browser's bubble
  showCount(box, count);
  return form;
}

function openEditor(link) {
  const item = link.closest("li.post");
  if (!item) return false;
  let form = item.querySelector(".edit-form");
  if (!form) {
    form = editForm(item);
    link.closest(".post-actions").after(form);
  }
  link.hidden = true;
  const box = form.querySelector("textarea");
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
  return true;
}

function closeEditor(form) {
  const link = form.closest("li.post")?.querySelector("a[data-edit]");
  form.remove();
  if (link) {
    link.hidden = false;
    link.focus();
  }
}

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

document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[data-edit]");
  if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && event.button === 0) {
    if (openEditor(link)) event.preventDefault();
    return;
  }
  const cancel = event.target.closest?.("[data-edit-cancel]");
  if (cancel) closeEditor(cancel.closest("form"));
});

startMentions();
