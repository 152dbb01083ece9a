// The team around the child. Without JavaScript, Revoke opens a confirmation page, the
// "Access removed — Undo" notice stays on the page, and the granting form takes a full
// email. With it: Revoke asks inline, the notice goes after about 10 seconds, and typing
// a name suggests people (the server decides who may be suggested).
const UNDO_SECONDS = 10;

function showConfirm(link) {
  const form = document.getElementById(`revoke-${link.dataset.revoke}`);
  if (!form) return false;
  link.hidden = true;
  form.hidden = false;
  form.querySelector("button[type=submit]").focus();
  return true;
}

function cancelConfirm(button) {
  const form = button.closest("form");
  const link = form.parentElement.querySelector("a[data-revoke]");
  form.hidden = true;
  if (link) {
    link.hidden = false;
    link.focus();
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[data-revoke]");
  if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && event.button === 0) {
    if (showConfirm(link)) event.preventDefault();
    return;
  }
  const cancel = event.target.closest?.("button[data-revoke-cancel]");
  if (cancel) cancelConfirm(cancel);
});

const notice = document.querySelector("[data-undo-notice]");
if (notice) {
  let left = UNDO_SECONDS;
  const timer = setInterval(() => {
    left -= 1;
    // Kept while the pointer or focus is on it: nobody loses Undo mid-reach.
    if (notice.matches(":hover, :focus-within")) left = Math.max(left, 1);
    if (left <= 0) {
      clearInterval(timer);
      notice.remove();
    }
  }, 1000);
}

const form = document.querySelector("form[data-grant-form]");
if (form) {
  const input = form.querySelector("input[name=email]");
  const picked = form.querySelector("input[name=professional_id]");
  const list = document.getElementById(input.getAttribute("list"));
  let found = new Map();
  let waiting = null;

  const choose = () => {
    picked.value = found.get(input.value) ?? "";
  };

  const suggest = async () => {
    const q = input.value.trim();
    if (!q || q.includes("@")) return;
    try {
      const url = `${form.dataset.suggest}?q=${encodeURIComponent(q)}`;
      const response = await fetch(url, { headers: { accept: "application/json" } });
      if (!response.ok) return;
      const { people } = await response.json();
      found = new Map(people.map((p) => [`${p.name} (${p.job_title ? `${p.job_title}, ` : ""}${p.agency})`, String(p.id)]));
      list.replaceChildren(...[...found.keys()].map((label) => Object.assign(document.createElement("option"), { value: label })));
      choose();
    } catch {
      // Offline or signed out: the full email still works.
    }
  };

  input.addEventListener("input", () => {
    choose();
    clearTimeout(waiting);
    if (!picked.value) waiting = setTimeout(suggest, 200);
  });
}
