// Jigsaw service worker: caches the app shell (CSS, JS, icons) and nothing else.
// Pages, the API and the websocket carry child data: they always go to the network and
// are never stored here. Logging out deletes the cache (see outbox.js).
const CACHE = "jigsaw-shell-v2";
const SHELL = [
  "/static/css/app.css",
  "/static/js/live.js",
  "/static/js/render.js",
  "/static/js/outbox.js",
  "/static/js/compose.js",
  "/static/js/older.js",
  "/static/js/activity.js",
  "/static/icons/icon.svg",
  "/static/icons/icon-192.png",
  "/static/manifest.webmanifest",
  "/static/offline.html",
];
const SHELL_PREFIXES = ["/static/css/", "/static/js/", "/static/icons/", "/static/manifest", "/static/offline"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

function isShell(url) {
  return url.origin === self.location.origin && SHELL_PREFIXES.some((prefix) => url.pathname.startsWith(prefix));
}

// Shell files: network first (so deploys show at once), the cache when offline.
async function shellResponse(request) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  } catch (error) {
    const cached = await caches.match(request);
    if (cached) return cached;
    throw error;
  }
}

// Pages: always the network; offline, a page that holds no child data.
async function pageResponse(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const offline = await caches.match("/static/offline.html");
    if (offline) return offline;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (isShell(url)) {
    event.respondWith(shellResponse(request));
  } else if (request.mode === "navigate") {
    event.respondWith(pageResponse(request));
  }
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "logout") {
    event.waitUntil(caches.keys().then((keys) => Promise.all(keys.map((key) => caches.delete(key)))));
  }
});
