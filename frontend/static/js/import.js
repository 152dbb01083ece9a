// The import page: read a picked CSV file into the form's text field (the app takes
// URL-encoded forms only, never multipart), refusing files the page cannot take.
const pick = document.getElementById("import-pick");
const text = document.getElementById("import-csv");
const note = document.getElementById("import-pick-note");

if (pick && text && note) {
  const limit = Number(pick.dataset.limit);
  pick.addEventListener("change", async () => {
    const file = pick.files && pick.files[0];
    if (!file) return;
    if (file.size > limit) {
      note.textContent = `${file.name} is too big for this page (${file.size} bytes; at most ${limit}): import it with "jigsaw import" on the server.`;
      pick.value = "";
      return;
    }
    text.value = await file.text();
    note.textContent = `${file.name} read: ${text.value.split("\n").length - 1} lines. Preview it next.`;
  });
}
