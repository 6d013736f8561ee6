// Storage tiers of the browser client: the JavaScript twin of dev.cairn.engine.store/persist.
//
// A tier keeps the *winning changes* of the state it holds, merged on write with the same rules as
// the CRDTs (crdt.js), so two tabs writing one tier can never make it go backwards, and loading a
// tier is just applying its changes. Tiers:
//   memory          the ReplicaState itself (always; "context" in the original spec)
//   sessionStorage  WebStorageKv over window.sessionStorage (gone with the tab)
//   durable         in a browser with IndexedDB: idb-store.js, one database per user holding the map
//                   and log sections, the outbox and the settings ('localStorage' in a policy means
//                   this). Without IndexedDB: the localStorage-era layout below, ChangeTier over
//                   WebStorageKv(localStorage) for everything (about 5 MB), told to the app.
// This file holds the synchronous key-value port (`Kv`) and its Web Storage and memory adapters,
// ChangeTier, the Outbox, the replica id and StorageError. (The localStorage era kept logs and the
// outbox in a shared database 'cairn' through a mirrored adapter; migrate.js moves that.) Failures (quota exceeded, storage disabled)
// are reported to `onError` as a StorageError (once per failing store, not per write) and the app
// keeps working from memory. A failed write never removes what the store already held: Web
// Storage's setItem and an IndexedDB transaction are all-or-nothing, and a tier only deletes rows
// (entries hidden by a clear) after the write that hides them succeeded.

import { beats } from './crdt.js';
import { encodeChange, decodeChange, changeId, WHOLE_SECTION } from './codec.js';

/** @typedef {import('./codec.js').Change} Change */

/**
 * The port every tier's adapter implements.
 * @typedef {{ get(key: string): string|null, set(key: string, value: string): void, delete(key: string): void,
 *   keys(prefix: string): string[], bytes(prefix: string): number, name: string }} Kv
 */

/**
 * A store refused a write or a read: `code` is 'quota-exceeded' (the browser's storage for this site
 * is full) or 'storage-unavailable' (disabled, private mode, blocked, or another failure); `tier`
 * names the store. The data stays in memory (and in the outbox, if it syncs).
 */
export class StorageError extends Error {
  /** @param {string} tier @param {unknown} cause */
  constructor(tier, cause) {
    const quota = isQuotaError(cause);
    const detail = cause instanceof Error || (cause && typeof cause === 'object' && 'message' in cause) ? /** @type {Error} */ (cause).message : String(cause);
    super(quota
      ? `${tier} is full (storage quota exceeded): new changes are kept in memory and still sync, but are not saved on this device until space is freed; what was saved before is kept`
      : `${tier} failed (${detail}): new changes are kept in memory and still sync; what was saved before is kept`);
    this.name = 'StorageError';
    this.code = quota ? 'quota-exceeded' : 'storage-unavailable';
    this.tier = tier;
    this.cause = cause;
  }
}

/** True for the errors browsers throw when a store is full. @param {unknown} e */
export function isQuotaError(e) {
  if (!e || typeof e !== 'object') return false;
  const { name, code } = /** @type {{name?: string, code?: number}} */ (e);
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED' || code === 22 || code === 1014;
}

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

const SEP = '\u0001'; // keys, streams and sections never hold control characters

/**
 * A tier: the winning changes of the keys stored in it, merged on write.
 * Row keys: `<prefix>m␁section␁key`, `<prefix>l␁section␁stream␁stamp`, `<prefix>w␁section␁stream`
 * (`<prefix>w␁section␁` with an empty stream: a map section's clear watermark).
 */
export class ChangeTier {
  /** @param {Kv} kv @param {string} prefix @param {(e: Error) => void} [onError] */
  constructor(kv, prefix, onError = () => {}) {
    this.kv = kv;
    this.prefix = prefix;
    this.onError = onError;
    /** True after a failed write until one succeeds: the failure is reported once, not per write. */
    this.failing = false;
  }

  get name() {
    return this.kv.name;
  }

  /**
   * Stores changes, keeping the winner of each key/entry/watermark. False if the store failed
   * (reported as a StorageError when the tier starts failing); rows stored before stay as they were.
   * @param {Change[]} changes
   */
  write(changes) {
    try {
      for (const c of changes) this.writeOne(c);
      this.failing = false;
      return true;
    } catch (e) {
      if (!this.failing) this.onError(new StorageError(this.kv.name, e));
      this.failing = true;
      return false;
    }
  }

  /** @param {Change} c */
  writeOne(c) {
    const p = this.prefix;
    if (c.op === 'set' || c.op === 'delete') {
      const sectionMark = this.kv.get(`${p}w${SEP}${c.section}${SEP}`);
      if (sectionMark !== null && c.stamp <= decodeChange(sectionMark).stamp) return;
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
      if (c.stream === WHOLE_SECTION) {
        // A map section's clear: its values and tombstones are purged at once (the watermark keeps older writes out).
        const rows = `${p}m${SEP}${c.section}${SEP}`;
        for (const k of this.kv.keys(rows)) {
          const row = this.kv.get(k);
          if (row !== null && decodeChange(row).stamp <= c.stamp) this.kv.delete(k);
        }
        return;
      }
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

  /** Deletes the row a change rolled back in memory wrote, if it is still that change's (space.js dropRefused). @param {Change} c */
  forget(c) {
    const p = this.prefix;
    const k = c.op === 'set' || c.op === 'delete' ? `${p}m${SEP}${c.section}${SEP}${c.key}`
      : c.op === 'append' ? `${p}l${SEP}${c.section}${SEP}${c.stream}${SEP}${c.stamp}` : null;
    const row = k === null ? null : this.kv.get(k);
    if (row !== null && decodeChange(row).stamp === c.stamp) this.kv.delete(/** @type {string} */ (k));
  }

  /** Drops every row of a section from this tier (a section that is no longer stored here). @param {string} section */
  drop(section) {
    for (const t of ['m', 'l', 'w']) for (const k of this.kv.keys(`${this.prefix}${t}${SEP}${section}${SEP}`)) this.kv.delete(k);
  }
}

/**
 * The durable outbox: local changes not yet acknowledged by the server, tagged with the replica
 * (tab) that owns sending them. Shared by the tabs of a browser profile. When the store refuses a
 * row (quota exceeded), the row is kept in memory instead (`spill`), so it is still pushed; it is
 * only lost if the page closes before the server acknowledges it.
 */
export class Outbox {
  /** @param {Kv} kv @param {string} prefix @param {(e: Error) => void} [onError] */
  constructor(kv, prefix, onError = () => {}) {
    this.kv = kv;
    this.prefix = prefix;
    this.onError = onError;
    /** @type {Map<string, string>} rows the store refused */
    this.spill = new Map();
    this.failing = false;
    /** @type {Map<string, {id: string, replica: string, change: Change}>|null} parsed rows, read once and then kept up to date */
    this.cache = null;
    /** @type {Array<{id: string, replica: string, change: Change}>|null} the cache in stamp order, null: to sort again */
    this.sorted = null;
  }

  /** @param {Change[]} changes @param {string} replica */
  add(changes, replica) {
    const rows = this.rows();
    for (const c of changes) {
      const id = this.prefix + changeId(c);
      const row = JSON.stringify({ replica, change: encodeChange(c) });
      const entry = { id, replica, change: c };
      if (this.sorted && !rows.has(id)) {
        const last = this.sorted[this.sorted.length - 1];
        if (!last || last.change.stamp < c.stamp) this.sorted.push(entry); // the usual case: a newer stamp
        else this.sorted = null;
      } else this.sorted = null;
      rows.set(id, entry);
      try {
        this.kv.set(id, row);
        this.spill.delete(id);
        this.failing = false;
      } catch (e) {
        this.spill.set(id, row);
        if (!this.failing) this.onError(new StorageError(`${this.kv.name} (outbox)`, e));
        this.failing = true;
      }
    }
  }

  /** Parses the store once; later calls serve the parsed rows. @private */
  rows() {
    if (this.cache) return this.cache;
    /** @type {Map<string, {id: string, replica: string, change: Change}>} */
    const out = new Map();
    const ids = new Set([...this.kv.keys(this.prefix), ...this.spill.keys()]);
    for (const k of ids) {
      const row = this.spill.get(k) ?? this.kv.get(k);
      if (row === null) continue;
      try {
        const { replica: owner, change } = JSON.parse(row);
        out.set(k, { id: k, replica: owner, change: decodeChange(change) });
      } catch {
        this.spill.delete(k);
        try { this.kv.delete(k); } catch { /* the store is unavailable; the row is skipped */ }
      }
    }
    this.cache = out;
    this.sorted = null;
    return out;
  }

  /** Entries owned by `replica` (all when omitted), oldest stamp first. @param {string} [replica] */
  entries(replica) {
    if (!this.sorted) this.sorted = [...this.rows().values()].sort((a, b) => (a.change.stamp < b.change.stamp ? -1 : 1));
    return replica === undefined ? this.sorted.slice() : this.sorted.filter((e) => e.replica === replica);
  }

  /** Whether an entry is still here. @param {string} id */
  has(id) {
    return this.rows().has(id);
  }

  /** Re-reads the store (other tabs write it too). */
  reload() {
    this.cache = null;
    this.sorted = null;
  }

  /** @param {string[]} ids */
  remove(ids) {
    const rows = this.rows();
    let removed = 0;
    for (const id of ids) {
      if (rows.delete(id)) removed++;
      this.spill.delete(id);
      try {
        this.kv.delete(id);
      } catch (e) {
        if (!this.failing) this.onError(new StorageError(`${this.kv.name} (outbox)`, e));
        this.failing = true;
      }
    }
    if (removed && this.sorted) {
      const gone = new Set(ids);
      this.sorted = this.sorted.filter((e) => !gone.has(e.id));
    }
  }

  /** Takes over entries of replicas that are gone (their tab closed). @param {(replica: string) => boolean} isGone @param {string} replica */
  adopt(isGone, replica) {
    let n = 0;
    this.reload();
    for (const e of this.entries()) {
      if (e.replica !== replica && isGone(e.replica)) {
        this.add([e.change], replica);
        n++;
      }
    }
    return n;
  }

  size() {
    return this.rows().size;
  }

  bytes() {
    let n = this.kv.bytes(this.prefix);
    for (const [k, v] of this.spill) n += 2 * (k.length + v.length);
    return n;
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
