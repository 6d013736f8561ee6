// The page of the bench's browser workload (BrowserBench.java). It opens the browser client
// (./cairn/cairn.js, served by the Cairn server from the same web root) for one user the bench
// seeded with the W3 shape, and measures with performance.now(), in ms from this document's
// navigation start:
//   modulesLoaded  this module runs (every import evaluated)
//   opened         Cairn.open resolved: what the device keeps is in memory ("readable from device")
//   welcome        the status is 'catching-up' (the server's welcome reached the page; unset if it went straight to 'live')
//   firstRemote    the first server change is applied in memory (about when the first catch-up page arrived)
//   readable       every seeded map entry and chat message is readable in memory
//   live           the sync status is 'live' (caught up with the server)
//   saved          cairn.save(), called once readable and live, has resolved
//   durable        cairn.close() has resolved after that: the catch-up's writes and the cursor are stored
// Only the client's public API is used (open, on, status, startSync, save, close, get, chat.history), so the page
// measures any client that keeps that API. Query: user, ws (sync URL; 'off' = no server
// configured), nMap, nChat, wait ('live': wait for readable + live + durable; 'none': report once
// open; sync still starts), worker ('shared' or 'none', see Cairn.open; absent: the client's default). The token is in the fragment (#token=...). The result goes to window.__result.
import { Cairn } from './cairn/cairn.js';

const T = { modulesLoaded: performance.now() };
const mark = (name) => { if (T[name] === undefined) T[name] = +performance.now().toFixed(1); };
const q = new URLSearchParams(location.search);
const user = q.get('user');
const ws = q.get('ws');
const nMap = Number(q.get('nMap'));
const nChat = Number(q.get('nChat'));
const wait = q.get('wait') ?? 'live';
const token = new URLSearchParams(location.hash.slice(1)).get('token');
const status = document.getElementById('status');

// Main-thread tasks over 50 ms (buffered: those before this module ran count too).
const longTasks = [];
try {
  new PerformanceObserver((list) => { for (const e of list.getEntries()) longTasks.push([+e.startTime.toFixed(1), +e.duration.toFixed(1)]); })
    .observe({ type: 'longtask', buffered: true });
} catch { /* no longtask entries in this browser */ }

const errors = [];
let errorCount = 0;

/** How many of the seeded entries and messages the public read API returns now. */
function count(cairn) {
  let entries = 0;
  for (let i = 0; i < nMap; i++) if (cairn.get('state', 'k' + i) === `value-${i}`) entries++;
  return { entries, messages: cairn.chat.history('conv-1').length };
}

function localStorageChars() {
  let n = 0;
  for (let i = 0; i < localStorage.length; i++) {
    const k = localStorage.key(i);
    n += k.length + (localStorage.getItem(k)?.length ?? 0);
  }
  return n;
}

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

async function run() {
  const server = ws === 'off' ? null : { url: ws, token: () => token };
  // worker: 'shared' (the default: sync and IndexedDB in the user's shared worker) or 'none' (in the page)
  const cairn = await Cairn.open({ user, server, startSync: false, ...(q.get('worker') ? { worker: q.get('worker') } : {}) });
  mark('opened');
  window.__cairn = cairn; // kept reachable: the heap after GC includes the state
  cairn.on('error', (e) => { errorCount++; if (errors.length < 5) errors.push(String(e?.message ?? e).slice(0, 200)); });
  // Server changes applied from here on, on top of what the device had.
  /** @type {{entries: number, messages: number}|null} */
  let fromDevice = null;
  let mapSeen = 0;
  let chatSeen = 0;
  let done = () => {};
  const complete = new Promise((resolve) => { done = resolve; });
  const check = () => {
    if (cairn.status === 'catching-up') mark('welcome');
    if (!fromDevice) return;
    if (T.readable === undefined && fromDevice.entries + mapSeen >= nMap && fromDevice.messages + chatSeen >= nChat) mark('readable');
    if (cairn.status === 'live') mark('live');
    if (T.readable !== undefined && T.live !== undefined) done();
  };
  cairn.on('change', (ev) => {
    if (ev.origin !== 'remote') return;
    if (ev.changes.length) mark('firstRemote'); // (an ack is a remote event without changes)
    for (const c of ev.changes) {
      if (c.section === 'state') mapSeen++;
      else if (c.section === 'chat') chatSeen++;
    }
    check();
  });
  cairn.on('status', check);
  // Sync starts first, then the page counts what the device gave back in the same task: no server
  // change can be applied before that task ends, so the count sees the device's data alone, and the
  // catch-up does not wait for the count (a check of this page's, left out of the long tasks).
  if (server) cairn.startSync();
  mark('countStart');
  fromDevice = count(cairn);
  mark('countEnd');
  if (fromDevice.entries >= nMap && fromDevice.messages >= nChat) T.readable = T.opened;
  let after = fromDevice;
  if (wait === 'live') {
    check();
    status.textContent = 'catching up';
    await complete;
    await cairn.save();
    mark('saved');
    // save() waits for the app's own pending writes only; close() also waits for the sync cursor,
    // which is saved once every server change before it has committed to the device's stores: the
    // one public promise that covers a catch-up's writes. It stops sync (the page is done).
    await cairn.close();
    mark('durable');
    // Counted in a task of its own, after durable: the page's check, not the client's work (left out of the long tasks).
    await nextTask();
    mark('recountStart');
    after = count(cairn);
    mark('recountEnd');
  }
  const estimate = await navigator.storage.estimate();
  status.textContent = 'done';
  return {
    navType: performance.getEntriesByType('navigation')[0]?.type ?? null,
    T,
    fromDevice,
    after,
    status: cairn.status,
    storageUsage: estimate.usage ?? null,
    localStorageChars: localStorageChars(),
    longTasks,
    errorCount,
    errors,
  };
}

run().then((r) => { window.__result = r; }, (e) => {
  window.__result = { failed: String(e?.stack ?? e).slice(0, 500), T, longTasks, errors };
});
