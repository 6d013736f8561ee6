// Opening a Cairn: the replica id (one per tab, guarded by a Web Lock), the stores of each tier
// (falling back to memory or localStorage, with a note the app is told), and the state and
// clock read back from them. Cairn.open and Cairn.load use these.

import { isValidReplicaId } from './stamp.js';
import { MemoryKv, WebStorageKv, claimReplicaId, liveReplicas, newReplicaId, webStorage } from './storage.js';
import { IdbStore, worthCompacting } from './idb-store.js';
import { migrateLegacy } from './migrate.js';
import { applyChunk } from './chunk.js';

/** @typedef {import('./storage.js').Kv} Kv */

/**
 * The replica id and the stores of a new Cairn; `notes` says what was unavailable.
 * @param {import('./cairn.js').OpenOptions} options @param {boolean} browser @param {(e: Error) => void} onError
 * With IndexedDB (idb-store.js) `idb` holds the store and what it read: the map and log tiers, the
 * outbox and the settings all live there, and kv.local (localStorage) only keeps a copy of the clock
 * mark. Without it, the localStorage-era layout (kv.local for everything).
 * @returns {Promise<{replica: string, kv: {local: Kv, session: Kv, logs: Kv, outbox: Kv}, idb: {store: IdbStore, reader: IdbStore, snapshot: Awaited<ReturnType<IdbStore['load']>>}|null, notes: string[]}>}
 */
export async function openStores(options, browser, onError) {
  let replica = options.replica;
  if (!replica) replica = browser ? (await claimReplicaId(options.user)).replica : newReplicaId();
  if (!isValidReplicaId(replica)) throw new RangeError(`invalid replica id '${replica}'`);

  const kv = { ...(options.kv ?? {}) };
  const notes = [];
  /** @type {{store: IdbStore, reader: IdbStore, snapshot: Awaited<ReturnType<IdbStore['load']>>}|null} */
  let idb = null;
  if (browser) {
    const ls = webStorage('localStorage');
    const ss = webStorage('sessionStorage');
    if (!kv.local && ls) kv.local = new WebStorageKv(ls, 'localStorage');
    if (!kv.session) kv.session = ss ? new WebStorageKv(ss, 'sessionStorage') : (notes.push('sessionStorage is unavailable'), new MemoryKv('sessionStorage (memory fallback)'));
    const factory = options.indexedDB ?? globalThis.indexedDB;
    try {
      // Every durable tier in the user's own database; the localStorage era's rows move there once.
      const store = new IdbStore(await IdbStore.openDb(options.user, factory), onError);
      await migrateLegacy(store, options.user, kv.local ?? null, factory, onError);
      // The settings (the cursor) first, the chunks after them in ranges while merging (loadState):
      // what the cursor claims is then always among the chunks read (IdbStore.readRanges).
      idb = { store, reader: store, snapshot: await store.load({ chunks: false }) };
    } catch (e) {
      if (!kv.local) {
        notes.push(`nothing is saved on this device: IndexedDB (${/** @type {Error} */ (e)?.message ?? e}) and localStorage are unavailable`);
        kv.local = new MemoryKv('localStorage (memory fallback)');
      } else {
        notes.push(`IndexedDB is unavailable (${/** @type {Error} */ (e)?.message ?? e}): this device saves in localStorage (about 5 MB)`);
        kv.logs = kv.logs ?? kv.local;
        kv.outbox = kv.outbox ?? kv.local;
      }
    }
  }
  return {
    replica,
    kv: {
      local: kv.local ?? new MemoryKv('localStorage'),
      session: kv.session ?? new MemoryKv('sessionStorage'),
      logs: kv.logs ?? new MemoryKv('indexedDB'),
      outbox: kv.outbox ?? new MemoryKv('indexedDB'),
    },
    idb,
    notes,
  };
}

/** Reads the state and the clock back from the tiers; takes over the outbox of closed tabs. @param {import('./cairn.js').Cairn} cairn @param {boolean} browser */
export async function loadState(cairn, browser) {
  const separateLogs = cairn.tiers.indexedDB !== cairn.tiers.localStorage && cairn.kv.logs !== cairn.kv.local;
  const durable = /** @type {any} */ (cairn.tiers.localStorage);
  let highest = '';
  // IndexedDB's chunks are read in ranges of a few chunks and merge in bulk (chunk.js); the other
  // tiers change by change. A large state (1,000,000 entries) takes seconds to read and merge: each
  // range is merged before the one after it is read (IdbStore.readRanges), and the merge yields to
  // the page every YIELD_AFTER_MILLIS, so no task of the open blocks input that long.
  const bulk = typeof durable.readChunks === 'function';
  if (bulk) {
    const onError = (/** @type {Error} */ e) => cairn.emit('error', e);
    for await (const chunks of durable.readChunks()) {
      let slice = performance.now(); // a range arrives in a task of its own
      for (const chunk of chunks) {
        const h = applyChunk(cairn.replicaState, chunk, onError);
        if (h > highest) highest = h;
        if (performance.now() - slice > YIELD_AFTER_MILLIS) {
          await yieldToPage();
          slice = performance.now();
        }
      }
    }
  }
  const sources = [
    bulk ? [] : cairn.tiers.localStorage.load(), cairn.tiers.sessionStorage.load(),
    separateLogs ? cairn.tiers.indexedDB.load() : [],
    cairn.outbox.entries().map((e) => e.change),
  ];
  for (const changes of sources) {
    for (const c of changes) {
      try {
        if (c.stamp > highest) highest = c.stamp;
        cairn.replicaState.apply(c);
      } catch (e) {
        cairn.emit('error', /** @type {Error} */ (e));
      }
    }
  }
  try {
    if (highest) cairn.clock.restore(BigInt('0x' + highest.slice(0, 16)));
  } catch (e) {
    cairn.emit('error', /** @type {Error} */ (e));
  }
  for (const saved of [cairn.readSetting(`clock:${cairn.replica}`, null), cairn.readClockCopy()]) {
    if (typeof saved === 'string' && /^[0-9a-f]{16}$/.test(saved) && BigInt('0x' + saved) > cairn.clockMark) {
      cairn.clock.restore(saved);
      cairn.clockMark = BigInt('0x' + saved);
    }
  }
  if (browser) {
    const live = await liveReplicas();
    if (live) cairn.outbox.adopt((r) => !live.has(r), cairn.replica);
  }
}

/**
 * Compacts the stored chunks a little after open when they hold many superseded changes (or
 * many small chunks, which make loading slower): see IdbStore.compact. In the background: the
 * page is readable before.
 * @param {import('./cairn.js').Cairn} cairn @param {{chunks: import('./chunk.js').Chunk[], stored: number, chunkKeys: IDBValidKey[]}} snapshot
 */
export function compactLater(cairn, snapshot) {
  const store = cairn.store;
  if (!store) return;
  let held = 0;
  for (const m of cairn.replicaState.maps.values()) held += m.size();
  for (const l of cairn.replicaState.logs.values()) held += l.size();
  const { chunks, stored, chunkKeys } = snapshot;
  if (!worthCompacting(stored, held, chunkKeys.length)) return;
  cairn.compactTimer = setTimeout(() => {
    store.compact(chunkKeys, chunks, stored, (s) => cairn.kind(s)).catch((e) => cairn.emit('error', e));
  }, COMPACT_AFTER_MILLIS);
}

/** The longest the merge of the stored chunks runs at open before it lets the page handle input. */
const YIELD_AFTER_MILLIS = 40;

/** Lets the page's other tasks run (Chromium's scheduler.yield keeps this task's priority; else a macrotask). */
function yieldToPage() {
  const scheduler = /** @type {any} */ (globalThis).scheduler;
  if (typeof scheduler?.yield === 'function') return scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** How long after open the stored chunks are compacted (when worth it). */
const COMPACT_AFTER_MILLIS = 3000;
