// One-time move of a localStorage-era device into the user's IndexedDB database (idb-store.js).
// Before it, a device kept map sections and the settings (cursor, clock, privacy) in localStorage
// (`cairn:<user>␀…`, `cairn:<user>:<name>`) and logs and the outbox in the shared database 'cairn'
// (`<user>␀…`), or in localStorage where IndexedDB was unavailable. Everything is written into the
// new database in ONE transaction (merged on write, so rows already there are never set back),
// and only after it committed are the old rows removed. A crash in between leaves both; the next
// open merges again, which changes nothing (the merge is a CRDT): the move is idempotent.

import { decodeChange } from './codec.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {import('./storage.js').Kv} Kv */

const LEGACY_DB = 'cairn';

/**
 * Moves what the old layout holds for `user` into `store`. Returns how many rows moved (0: none).
 * @param {import('./idb-store.js').IdbStore} store @param {string} user
 * @param {Kv|null} local the old localStorage @param {IDBFactory|undefined} factory @param {(e: Error) => void} onError
 */
export async function migrateLegacy(store, user, local, factory, onError) {
  /** @type {Change[]} */
  const changes = [];
  /** @type {Map<string, string>} */
  const outbox = new Map();
  /** @type {Map<string, string>} */
  const settings = new Map();
  const rowPrefix = `${user}\u0000`;
  const outboxPrefix = `${rowPrefix}o\u0001`;
  /** @param {string} key @param {string} value @param {string} prefix */
  const take = (key, value, prefix) => {
    if (key.startsWith(outboxPrefix)) { outbox.set(key, value); return; }
    try {
      changes.push(decodeChange(value));
    } catch (e) {
      onError(new Error(`skipped an unreadable stored row ${JSON.stringify(key.slice(prefix.length))} while moving to IndexedDB: ${/** @type {Error} */ (e).message}`));
    }
  };

  /** @type {string[]} */
  const localKeys = [];
  if (local) {
    for (const prefix of [`cairn:${rowPrefix}`, rowPrefix]) {
      for (const k of local.keys(prefix)) {
        const v = local.get(k);
        if (v !== null) take(k, v, prefix);
        localKeys.push(k);
      }
    }
    for (const k of local.keys(`cairn:${user}:`)) {
      const v = local.get(k);
      if (v !== null) settings.set(k, v);
      localKeys.push(k);
    }
  }
  const legacy = await openLegacy(factory);
  /** @type {Array<{store: string, keys: IDBValidKey[]}>} */
  const legacyRows = [];
  if (legacy) {
    for (const s of ['logs', 'outbox']) {
      if (!legacy.objectStoreNames.contains(s)) continue;
      const rows = await readPrefix(legacy, s, rowPrefix);
      for (const [k, v] of rows) take(k, v, rowPrefix);
      legacyRows.push({ store: s, keys: [...rows.keys()] });
    }
  }
  const moved = changes.length + outbox.size + settings.size;
  if (moved === 0) {
    legacy?.close();
    return 0;
  }

  store.putChanges(changes);
  store.run((tx) => {
    const ob = tx.objectStore('outbox');
    for (const [k, v] of outbox) {
      const req = ob.get(k);
      req.onsuccess = () => { if (req.result === undefined) ob.put(v, k); };
    }
    const meta = tx.objectStore('meta');
    for (const [k, v] of settings) {
      const req = meta.get(k);
      req.onsuccess = () => meta.put(mergeSetting(k, req.result, v), k);
    }
  });
  if (!(await store.idle())) {
    legacy?.close();
    return 0; // nothing removed: the next open tries again
  }
  for (const k of localKeys) {
    try { local?.delete(k); } catch { /* left behind: merged again next time, harmlessly */ }
  }
  if (legacy) {
    await new Promise((resolve) => {
      const tx = legacy.transaction(legacyRows.map((r) => r.store), 'readwrite');
      for (const r of legacyRows) for (const k of r.keys) tx.objectStore(r.store).delete(k);
      tx.oncomplete = tx.onabort = tx.onerror = () => resolve(undefined);
    }).catch(() => {});
    legacy.close();
  }
  return moved;
}

/**
 * A setting of both layouts: the higher cursor and clock mark (each covers what its own layout
 * holds, and both are now merged), else the one already in IndexedDB.
 * @param {string} key @param {unknown} current @param {string} legacy
 */
export function mergeSetting(key, current, legacy) {
  if (typeof current !== 'string') return legacy;
  if (key.endsWith(':cursor')) return Number(JSON.parse(current)) >= Number(JSON.parse(legacy)) ? current : legacy;
  if (key.includes(':clock:')) return current >= legacy ? current : legacy;
  return current;
}

/** The old shared database, or null if it does not exist (it is not created). @param {IDBFactory|undefined} factory */
function openLegacy(factory) {
  return new Promise((resolve) => {
    if (!factory) { resolve(null); return; }
    try {
      const req = factory.open(LEGACY_DB);
      req.onupgradeneeded = () => req.transaction?.abort(); // it did not exist: leave it so
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => resolve(null);
      req.onblocked = () => resolve(null);
    } catch {
      resolve(null);
    }
  });
}

/** @param {IDBDatabase} db @param {string} store @param {string} prefix @returns {Promise<Map<string, string>>} */
function readPrefix(db, store, prefix) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, 'readonly');
    const range = IDBKeyRange.bound(prefix, prefix + '\uffff');
    const keys = tx.objectStore(store).getAllKeys(range);
    const values = tx.objectStore(store).getAll(range);
    tx.oncomplete = () => resolve(new Map(keys.result.map((k, i) => [String(k), String(values.result[i])])));
    tx.onerror = () => reject(tx.error);
  });
}
