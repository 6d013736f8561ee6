// The service worker of the demo page: caches the app shell so the page opens with the server
// unreachable (a user on a train sees and edits their state; it syncs when the network returns).
//
// - Shell files (the page, its script, styles and the client modules) are network-first: online,
//   a new deploy is picked up on the next load and refreshes the cache; offline (or when the
//   network does not answer within NETWORK_TIMEOUT_MS) the cached copy is served.
// - /api/*, /sync, /health and /metrics are never cached nor answered from the cache: they go to
//   the network as if there were no service worker.
// - The cache name carries VERSION; activating a new version deletes the older caches.
// Served at /sw.js, so its scope is the whole site.

const VERSION = 'v11';
const PREFIX = 'cairn-shell-';
const CACHE = `${PREFIX}${VERSION}`;
const NETWORK_TIMEOUT_MS = 4000;
const SHELL = [
  './',
  'index.html',
  'app.js',
  'styles.css',
  'demo/dom.js',
  'demo/session.js',
  'demo/status-banner.js',
  'demo/notes-editor.js',
  'demo/dashboard.js',
  'demo/panels.js',
  'demo/transfers.js',
  'demo/backup-preview.js',
  'demo/checklist.js',
  'cairn/cairn.js',
  'cairn/persister.js',
  'cairn/handles.js',
  'cairn/privacy.js',
  'cairn/transfer.js',
  'cairn/sync-port.js',
  'cairn/open.js',
  'cairn/sync.js',
  'cairn/connection.js',
  'cairn/push-pipeline.js',
  'cairn/pull-applier.js',
  'cairn/waiters.js',
  'cairn/storage.js',
  'cairn/idb-store.js',
  'cairn/chunk.js',
  'cairn/space/space-sync.js',
  'cairn/space/recent-refusals.js',
  'cairn/space/directory.js',
  'cairn/space/membership.js',
  'cairn/migrate.js',
  'cairn/storage-status.js',
  'cairn/codec.js',
  'cairn/crdt.js',
  'cairn/stamp.js',
  'cairn/protocol.js',
  'cairn/page.js',
  'cairn/crypto.js',
  'cairn/fields.js',
  'cairn/field-index.js',
  'cairn/worker/tab-link.js',
  'cairn/worker/sync-worker.js',
  'cairn/worker/worker-scope.js',
  'cairn/worker/sync-host.js',
  'cairn/worker/compaction.js',
  'cairn/worker/space-host.js',
  'cairn/worker/space-link.js',
  'cairn/worker/policies.js',
];
const SCOPE = new URL(self.registration.scope).pathname;
const NEVER = [/^api\//, /^sync(?:$|[/?])/, /^health$/, /^metrics$/];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // cache: 'reload' skips the HTTP cache, so the shell is the deployed one.
    await cache.addAll(SHELL.map((path) => new Request(path, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(SCOPE)) return;
  const path = url.pathname.slice(SCOPE.length);
  if (NEVER.some((re) => re.test(path))) return; // the network, untouched
  if (request.headers.get('upgrade')) return;
  event.respondWith(networkFirst(event, request));
});

/** @param {FetchEvent} event @param {Request} request */
async function networkFirst(event, request) {
  const cache = await caches.open(CACHE);
  const fromNetwork = fetch(request).then((response) => {
    if (response.ok && response.type === 'basic') {
      const copy = response.clone();
      event.waitUntil(cache.put(cacheKey(request), copy).catch(() => { /* a full cache only costs offline use */ }));
    }
    return response;
  });
  fromNetwork.catch(() => { /* handled below, or by the page */ });
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), NETWORK_TIMEOUT_MS));
  try {
    const response = await Promise.race([fromNetwork, timeout]);
    if (response) return response;
  } catch {
    // offline or the server is down: fall back to the cache
  }
  const cached = await cache.match(cacheKey(request), { ignoreSearch: true })
    ?? (request.mode === 'navigate' ? await cache.match('index.html') : undefined);
  if (cached) return cached;
  return fromNetwork; // nothing cached: wait for the network (or its error) after all
}

/** Navigations (`/`, `/?user=alice`) share one entry: the page. @param {Request} request */
function cacheKey(request) {
  if (request.mode === 'navigate') {
    const url = new URL(request.url);
    url.search = '';
    url.hash = '';
    return url.href;
  }
  return request;
}
