// The observer app's service worker (scope /observe/). Ingest serves it with the list of the
// shell's files and a hash of them (services/ingest/routes/observe.py): it precaches exactly
// those, so the app opens with no network, also after the browser was closed; a changed
// shell is a changed worker, which replaces the cache. API calls are never cached: they go to
// the network, and the queue (outbox.js) keeps what did not get through. A background sync
// ("saylau-outbox") runs the same queue while the app is closed, where the browser has it.
import { SYNC_TAG, sendQueued } from "./outbox.js";

const VERSION = "__SHELL_VERSION__";
const SHELL = ["__SHELL_FILES__"];
const CACHE = `observe-${VERSION}`;
const APP = new URL("./", self.location.href).pathname;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith("observe-") && n !== CACHE)
      .map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin
      || !url.pathname.startsWith(APP)) return;
  event.respondWith(fromShell(event.request));
});

async function fromShell(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request.mode === "navigate" ? APP : request, { ignoreSearch: true });
  return hit ?? fetch(request);
}

self.addEventListener("sync", (event) => {
  if (event.tag === SYNC_TAG) event.waitUntil(syncQueue());
});

async function syncQueue() {
  const result = await sendQueued({ force: true });
  for (const client of await self.clients.matchAll()) client.postMessage({ type: "outbox" });
  if (result.waiting === "network" || result.waiting === "server") {
    throw new Error("reports still queued: the browser retries this sync later");
  }
}
