// Live board: when a child's velocity flag changes (or a post lands on a child on the
// board), offer a refresh; reload by itself unless the user is filling in the form.
const summary = document.getElementById("board-summary");
const notice = document.getElementById("board-live");

function changed() {
  notice.hidden = false;
  const form = document.querySelector(".compare-form");
  if (!form || !form.contains(document.activeElement)) {
    setTimeout(() => window.location.reload(), 1500);
  }
}

function connect(after) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${window.location.host}/ws?after=${after}`);
  let last = after;
  socket.addEventListener("message", (message) => {
    const event = JSON.parse(message.data);
    if (event.id) last = event.id;
    if (event.type === "velocity.changed" || event.type === "post.created") changed();
    if (event.type === "reload") window.location.reload();
  });
  socket.addEventListener("close", () => setTimeout(() => connect(last), 5000));
}

if (summary && notice && "WebSocket" in window) {
  connect(Number(summary.dataset.lastEvent || 0));
}
