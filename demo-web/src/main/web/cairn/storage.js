// Storage tiers of the browser client: the JavaScript twin of dev.cairn.engine.store/persist.
//
// A tier keeps the *winning changes* of the state it holds, merged on write with the same rules as
// the CRDTs (crdt.js), so two tabs writing one tier can never make it go backwards, and loading a
// tier is just applying its changes. Tiers:
//   memory          the ReplicaState itself (always; "context" in the original spec)
//   sessionStorage  WebStorageKv over window.sessionStorage (gone with the tab)
//   localStorage    WebStorageKv over window.localStorage (map sections)
//   IndexedDB       IdbKv (log sections such as chat and consent, and the outbox: large data)
// Every adapter is a small synchronous key-value port (`Kv`); IndexedDB is served from an in-memory
// mirror loaded at open and written through asynchronously. Failures (quota exceeded, storage
// disabled) are reported to `onError` and the app keeps working from memory.

import { beats } from './crdt.js';
import { encodeChange, decodeChange, changeId } from './codec.js';

/** @typedef {import('./codec.js').Change} Change */

/**
 * The port every tier's adapter implements.
 * @typedef {{ get(key: string): string|null, set(key: string, value: string): void, delete(key: string): void,
 *   keys(prefix: string): string[], bytes(prefix: string): number, name: string }} Kv
 */

/** In-memory Kv: for tests, and as the fallback when a browser store is unavailable. */
export class MemoryKv {
  constructor(name = 'memory') {
    this.name = name;
    /** @type {Map<string, string>} */
    this.map = new Map();
  }
  /** @param {string} k */ get(k) { return this.map.get(k) ?? null; }
  /** @param {string} k @param {string} v */ set(k, v) { this.map.set(k, v); }
  /** @param {string} k */ delete(k) { this.map.delete(k); }
  /** @param {string} p */ keys(p) { return [...this.map.keys()].filter((k) => k.startsWith(p)); }
  /** @param {string} p */ bytes(p) { let n = 0; for (const [k, v] of this.map) if (k.startsWith(p)) n += 2 * (k.length + v.length); return n; }
}

/** Kv over the Web Storage API (localStorage, sessionStorage). */
export class WebStorageKv {
  /** @param {Storage} storage @param {string} name */
  constructor(storage, name) {
    this.storage = storage;
    this.name = name;
  }
  /** @param {string} k */ get(k) { return this.storage.getItem(k); }
  /** @param {string} k @param {string} v */ set(k, v) { this.storage.setItem(k, v); }
  /** @param {string} k */ delete(k) { this.storage.removeItem(k); }
  /** @param {string} p */
  keys(p) {
    const out = [];
    for (let i = 0; i < this.storage.length; i++) {
      const k = this.storage.key(i);
      if (k !== null && k.startsWith(p)) out.push(k);
    }
    return out;
  }
  /** @param {string} p */
  bytes(p) {
    let n = 0;
    for (const k of this.keys(p)) n += 2 * (k.length + (this.storage.getItem(k)?.length ?? 0));
    return n;
  }
}

/** Kv over one IndexedDB object store, served from a mirror; writes go through asynchronously. */
export class IdbKv {
  /**
   * @param {IDBDatabase} db @param {string} store @param {string} prefix rows outside it are not mirrored
   * @param {(e: Error) => void} onError
   */
  static async open(db, store, prefix, onError) {
    const kv = new IdbKv(db, store, onError);
    await kv.reload(prefix);
    return kv;
  }

  /** @param {IDBDatabase} db @param {string} store @param {(e: Error) => void} onError */
  constructor(db, store, onError) {
    this.db = db;
    this.store = store;
    this.name = 'indexedDB';
    this.onError = onError;
    /** @type {Map<string, string>} */
    this.mirror = new Map();
    /** @type {Promise<void>} */
    this.pending = Promise.resolve();
  }

  /** Re-reads every row under the prefix (other tabs write the same database). @param {string} prefix */
  reload(prefix) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(this.store, 'readonly');
      const req = tx.objectStore(this.store).openCursor(IDBKeyRange.bound(prefix, prefix + '\uffff'));
      /** @type {Map<string, string>} */
      const rows = new Map();
      req.onsuccess = () => {
        const cursor = req.result;
        if (cursor) {
          rows.set(String(cursor.key), String(cursor.value));
          cursor.continue();
        }
      };
      tx.oncomplete = () => {
        for (const k of this.keys(prefix)) this.mirror.delete(k);
        for (const [k, v] of rows) this.mirror.set(k, v);
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    });
  }

  /** @param {string} k */ get(k) { return this.mirror.get(k) ?? null; }
  /** @param {string} k @param {string} v */ set(k, v) { this.mirror.set(k, v); this.write((s) => s.put(v, k)); }
  /** @param {string} k */ delete(k) { this.mirror.delete(k); this.write((s) => s.delete(k)); }
  /** @param {string} p */ keys(p) { return [...this.mirror.keys()].filter((k) => k.startsWith(p)); }
  /** @param {string} p */ bytes(p) { let n = 0; for (const [k, v] of this.mirror) if (k.startsWith(p)) n += 2 * (k.length + v.length); return n; }

  /** @param {(store: IDBObjectStore) => void} op */
  write(op) {
    this.pending = this.pending.then(() => new Promise((resolve) => {
      try {
        const tx = this.db.transaction(this.store, 'readwrite');
        op(tx.objectStore(this.store));
        tx.oncomplete = () => resolve(undefined);
        tx.onerror = tx.onabort = () => { this.onError(tx.error ?? new Error('IndexedDB write failed')); resolve(undefined); };
      } catch (e) {
        this.onError(/** @type {Error} */ (e));
        resolve(undefined);
      }
    }));
  }

  /** Resolves when every write so far has committed. */
  flush() {
    return this.pending;
  }
}

/** Opens (creating) the client's IndexedDB database; null if IndexedDB is unavailable. */
export function openIndexedDb(name = 'cairn') {
  return new Promise((resolve) => {
    try {
      if (typeof indexedDB === 'undefined') return resolve(null);
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore('logs');
        req.result.createObjectStore('outbox');
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => resolve(null);
      req.onblocked = () => resolve(null);
    } catch {
      resolve(null);
    }
  });
}

const SEP = '\u0001'; // keys, streams and sections never hold control characters

/**
 * A tier: the winning changes of the keys stored in it, merged on write.
 * Row keys: `<prefix>m␁section␁key`, `<prefix>l␁section␁stream␁stamp`, `<prefix>w␁section␁stream`.
 */
export class ChangeTier {
  /** @param {Kv} kv @param {string} prefix @param {(e: Error) => void} [onError] */
  constructor(kv, prefix, onError = () => {}) {
    this.kv = kv;
    this.prefix = prefix;
    this.onError = onError;
  }

  get name() {
    return this.kv.name;
  }

  /** Stores changes, keeping the winner of each key/entry/watermark. False if the store failed. @param {Change[]} changes */
  write(changes) {
    try {
      for (const c of changes) this.writeOne(c);
      return true;
    } catch (e) {
      this.onError(/** @type {Error} */ (e));
      return false;
    }
  }

  /** @param {Change} c */
  writeOne(c) {
    const p = this.prefix;
    if (c.op === 'set' || c.op === 'delete') {
      const k = `${p}m${SEP}${c.section}${SEP}${c.key}`;
      const old = this.kv.get(k);
      if (old !== null) {
        const o = decodeChange(old);
        const oe = { stamp: o.stamp, value: o.op === 'set' ? o.value : null };
        if (!beats({ stamp: c.stamp, value: c.op === 'set' ? c.value : null }, oe)) return;
      }
      this.kv.set(k, encodeChange(c));
    } else if (c.op === 'append') {
      const mark = this.kv.get(`${p}w${SEP}${c.section}${SEP}${c.stream}`);
      if (mark !== null && c.stamp <= decodeChange(mark).stamp) return;
      const k = `${p}l${SEP}${c.section}${SEP}${c.stream}${SEP}${c.stamp}`;
      const old = this.kv.get(k);
      if (old !== null && !(c.value > /** @type {{value: string}} */ (decodeChange(old)).value)) return;
      this.kv.set(k, encodeChange(c));
    } else {
      const wk = `${p}w${SEP}${c.section}${SEP}${c.stream}`;
      const mark = this.kv.get(wk);
      if (mark !== null && c.stamp <= decodeChange(mark).stamp) return;
      this.kv.set(wk, encodeChange(c));
      const entries = `${p}l${SEP}${c.section}${SEP}${c.stream}${SEP}`;
      for (const k of this.kv.keys(entries)) if (k.slice(entries.length) <= c.stamp) this.kv.delete(k);
    }
  }

  /** Every stored change (unreadable rows are skipped and reported). @returns {Change[]} */
  load() {
    /** @type {Change[]} */
    const out = [];
    for (const k of this.kv.keys(this.prefix)) {
      const row = this.kv.get(k);
      if (row === null) continue;
      try {
        out.push(decodeChange(row));
      } catch (e) {
        this.onError(new Error(`skipped an unreadable ${this.kv.name} row ${k}: ${/** @type {Error} */ (e).message}`));
      }
    }
    return out;
  }

  /** Bytes this tier holds (UTF-16, as browsers count quota). */
  bytes() {
    return this.kv.bytes(this.prefix);
  }

  /** Drops every row of a section from this tier (a section that is no longer stored here). @param {string} section */
  drop(section) {
    for (const t of ['m', 'l', 'w']) for (const k of this.kv.keys(`${this.prefix}${t}${SEP}${section}${SEP}`)) this.kv.delete(k);
  }
}

/**
 * The durable outbox: local changes not yet acknowledged by the server, tagged with the replica
 * (tab) that owns sending them. Shared by the tabs of a browser profile.
 */
export class Outbox {
  /** @param {Kv} kv @param {string} prefix */
  constructor(kv, prefix) {
    this.kv = kv;
    this.prefix = prefix;
  }

  /** @param {Change[]} changes @param {string} replica */
  add(changes, replica) {
    for (const c of changes) this.kv.set(this.prefix + changeId(c), JSON.stringify({ replica, change: encodeChange(c) }));
  }

  /** Entries owned by `replica` (all when omitted), oldest stamp first. @param {string} [replica] */
  entries(replica) {
    /** @type {Array<{id: string, replica: string, change: Change}>} */
    const out = [];
    for (const k of this.kv.keys(this.prefix)) {
      const row = this.kv.get(k);
      if (row === null) continue;
      try {
        const { replica: owner, change } = JSON.parse(row);
        if (replica === undefined || owner === replica) out.push({ id: k, replica: owner, change: decodeChange(change) });
      } catch {
        this.kv.delete(k);
      }
    }
    return out.sort((a, b) => (a.change.stamp < b.change.stamp ? -1 : 1));
  }

  /** @param {string[]} ids */
  remove(ids) {
    for (const id of ids) this.kv.delete(id);
  }

  /** Takes over entries of replicas that are gone (their tab closed). @param {(replica: string) => boolean} isGone @param {string} replica */
  adopt(isGone, replica) {
    let n = 0;
    for (const e of this.entries()) {
      if (e.replica !== replica && isGone(e.replica)) {
        this.kv.set(e.id, JSON.stringify({ replica, change: encodeChange(e.change) }));
        n++;
      }
    }
    return n;
  }

  size() {
    return this.kv.keys(this.prefix).length;
  }

  bytes() {
    return this.kv.bytes(this.prefix);
  }
}

/**
 * A replica id for this tab: kept in sessionStorage so a reload keeps it, and guarded by a Web Lock
 * so a duplicated tab (which copies sessionStorage) takes a new one. No two live tabs ever share an
 * id, so no two tabs can issue the same stamp. Returns the id and whether the lock guards it.
 * @param {string} user
 * @returns {Promise<{replica: string, locked: boolean}>}
 */
export async function claimReplicaId(user) {
  const key = `cairn:${user}:replica`;
  let id = safe(() => sessionStorage.getItem(key)) ?? null;
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (!id) id = newReplicaId();
    if (!locks) break;
    const got = await new Promise((resolve) => {
      locks.request(`cairn-replica-${id}`, { ifAvailable: true }, (lock) => {
        if (!lock) { resolve(false); return undefined; }
        resolve(true);
        return new Promise(() => {}); // held for the tab's lifetime
      });
    });
    if (got) {
      safe(() => sessionStorage.setItem(key, /** @type {string} */ (id)));
      return { replica: id, locked: true };
    }
    id = null;
  }
  const replica = id ?? newReplicaId();
  safe(() => sessionStorage.setItem(key, replica));
  return { replica, locked: false };
}

/** Replica ids whose tab is alive (holds its lock); null when Web Locks are unavailable. */
export async function liveReplicas() {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (!locks) return null;
  const state = await locks.query();
  return new Set((state.held ?? []).map((l) => l.name ?? '').filter((n) => n.startsWith('cairn-replica-')).map((n) => n.slice(14)));
}

export function newReplicaId() {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return 'web-' + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** @template T @param {() => T} f @returns {T|undefined} */
function safe(f) {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** The Web Storage object, or null when it is disabled (private mode, blocked cookies). @param {'localStorage'|'sessionStorage'} name */
export function webStorage(name) {
  try {
    const s = /** @type {Storage} */ (globalThis[name]);
    const probe = '__cairn_probe__';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return null;
  }
}
