// Service worker of the pocketlm chat app: keeps the app's own files (the shell) so the page opens
// offline and from the home screen. Network first, so a new server binary's page is used at once;
// the cached copy only when the server cannot be reached. API calls are never cached.
const cache_name = "pocketlm-shell-v1";
const shell = [
  "/", "/app.css", "/app.js", "/api.js", "/chats.js", "/render.js", "/models.js",
  "/manifest.webmanifest", "/icon.svg", "/icon-192.png", "/icon-512.png",
  "/vendor/marked.js", "/vendor/purify.js", "/vendor/hljs.js", "/vendor/temml.js", "/vendor/hljs-light.css", "/vendor/hljs-dark.css",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(cache_name).then((c) => c.addAll(shell)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== cache_name) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (!shell.includes(path)) return;
  event.respondWith((async () => {
    const cache = await caches.open(cache_name);
    try {
      const res = await fetch(event.request);
      if (res.ok) await cache.put(path, res.clone());
      return res;
    } catch (e) {
      const hit = await cache.match(path);
      if (hit) return hit;
      throw e;
    }
  })());
});
