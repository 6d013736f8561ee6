// Opening a Cairn: the replica id (one per tab, guarded by a Web Lock), the stores of each tier
// (falling back to memory or localStorage, with a note the app is told), and the state and
// clock read back from them. Cairn.open and Cairn.load use these.

import { isValidReplicaId } from './stamp.js';
import { MemoryKv, WebStorageKv, IdbKv, openIndexedDb, claimReplicaId, liveReplicas, newReplicaId, webStorage } from './storage.js';

/** @typedef {import('./storage.js').Kv} Kv */

/**
 * The replica id and the stores of a new Cairn; `notes` says what was unavailable.
 * @param {import('./cairn.js').OpenOptions} options @param {boolean} browser @param {(e: Error) => void} onError
 * @returns {Promise<{replica: string, kv: {local: Kv, session: Kv, logs: Kv, outbox: Kv}, notes: string[]}>}
 */
export async function openStores(options, browser, onError) {
  let replica = options.replica;
  if (!replica) replica = browser ? (await claimReplicaId(options.user)).replica : newReplicaId();
  if (!isValidReplicaId(replica)) throw new RangeError(`invalid replica id '${replica}'`);

  const kv = { ...(options.kv ?? {}) };
  const notes = [];
  if (browser) {
    const ls = webStorage('localStorage');
    const ss = webStorage('sessionStorage');
    if (!kv.local) kv.local = ls ? new WebStorageKv(ls, 'localStorage') : (notes.push('localStorage is unavailable'), new MemoryKv('localStorage (memory fallback)'));
    if (!kv.session) kv.session = ss ? new WebStorageKv(ss, 'sessionStorage') : (notes.push('sessionStorage is unavailable'), new MemoryKv('sessionStorage (memory fallback)'));
    const db = await openIndexedDb();
    const prefix = `${options.user}\u0000`;
    if (db) {
      try {
        if (!kv.logs) kv.logs = await IdbKv.open(db, 'logs', prefix, onError);
        if (!kv.outbox) kv.outbox = await IdbKv.open(db, 'outbox', prefix, onError);
      } catch (e) {
        notes.push(`IndexedDB could not be read (${/** @type {Error} */ (e)?.message ?? e}): logs and outbox use localStorage`);
        if (!(kv.logs instanceof IdbKv)) kv.logs = kv.local;
        kv.outbox = kv.local;
      }
    } else {
      notes.push('IndexedDB is unavailable: logs and outbox use localStorage');
      kv.logs = kv.logs ?? kv.local;
      kv.outbox = kv.outbox ?? kv.local;
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
    notes,
  };
}

/** Reads the state and the clock back from the tiers; takes over the outbox of closed tabs. @param {import('./cairn.js').Cairn} cairn @param {boolean} browser */
export async function loadState(cairn, browser) {
  const changes = [
    ...cairn.tiers.localStorage.load(), ...cairn.tiers.sessionStorage.load(),
    ...(cairn.kv.logs !== cairn.kv.local ? cairn.tiers.indexedDB.load() : []),
    ...cairn.outbox.entries().map((e) => e.change),
  ];
  for (const c of changes) {
    try {
      cairn.clock.restore(BigInt('0x' + c.stamp.slice(0, 16)));
      cairn.replicaState.apply(c);
    } catch (e) {
      cairn.emit('error', /** @type {Error} */ (e));
    }
  }
  const saved = cairn.readSetting(`clock:${cairn.replica}`, null);
  if (typeof saved === 'string' && /^[0-9a-f]{16}$/.test(saved)) {
    cairn.clock.restore(saved);
    cairn.clockMark = BigInt('0x' + saved);
  }
  if (browser) {
    const live = await liveReplicas();
    if (live) cairn.outbox.adopt((r) => !live.has(r), cairn.replica);
  }
}
