// The import page: say at once when a picked file is over the page's limit, rather than
// after uploading it (the server refuses it anyway: this only saves the wait).
for (const pick of document.querySelectorAll("input[type=file][data-limit]")) {
  const limit = Number(pick.dataset.limit);
  const note = document.getElementById("import-pick-note");
  pick.addEventListener("change", () => {
    const file = pick.files && pick.files[0];
    if (!file || file.size <= limit) {
      pick.setCustomValidity("");
      return;
    }
    const message = `${file.name} is too big for this page (${file.size} bytes; at most ${limit}): import it with "jigsaw import" on the server.`;
    pick.setCustomValidity(message);
    if (note) note.textContent = message;
  });
}
