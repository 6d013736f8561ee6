// The device's durable store in a browser: ONE IndexedDB database per user ('cairn-<user>') holds
// every durable tier (map entries, log entries, clear watermarks, the outbox, and the small
// settings: sync cursor, clock mark, privacy switches). Object stores:
//   maps    [section, key]           -> the winning change of the key (set or delete)
//   logs    [section, stream, stamp] -> an append
//   marks   [section, stream]        -> a clear ('' stream: a whole map section)
//   outbox  id                       -> JSON {replica, change} (unacknowledged local changes)
//   meta    name                     -> JSON setting ('cairn:<user>:cursor', ...: the names of the localStorage era)
//
// Writes are queued and committed in ONE readwrite transaction per batch: everything queued in one
// task (a page of server changes and the cursor that covers it, a save of local writes) lands in
// the same transaction, so a saved cursor never claims data that is not saved, and a failed
// transaction loses nothing it had not written before. One transaction runs at a time; what is
// queued meanwhile waits and goes in the next one (larger batches under load). Entries are merged
// on write with the CRDT rules (a row only ever moves forward), because the tabs of a browser share
// the database. Nothing is mirrored in memory except the outbox and the settings (small): the state
// itself lives in the ReplicaState, loaded once at open from a snapshot (`load`).
//
// Nothing here touches the DOM or the page: a (Shared)Worker can own this store unchanged
// (ARCHITECTURE.md, "Browser storage").

import { beats } from './crdt.js';
import { WHOLE_SECTION } from './codec.js';
import { StorageError } from './storage.js';

/** @typedef {import('./codec.js').Change} Change */

export const SCHEMA_VERSION = 1;
const STORES = ['maps', 'logs', 'marks', 'outbox', 'meta'];

/** The database of one user. @param {string} user */
export function dbName(user) {
  return `cairn-${user}`;
}

/** @param {Change} c */
const lww = (c) => ({ stamp: c.stamp, value: c.op === 'set' ? /** @type {string} */ (c.value) : null });

/**
 * @typedef {object} Batch
 * @property {Change[]} changes
 * @property {Array<{store: string, key: IDBValidKey, value?: string, guard: boolean}>} rows puts (value) and deletes
 * @property {Array<(tx: IDBTransaction) => void>} ops
 * @property {Promise<boolean>} done true once committed, false if the transaction failed
 * @property {(ok: boolean) => void} resolve
 */

export class IdbStore {
  /**
   * Opens (creating) the user's database.
   * @param {string} user @param {IDBFactory} [factory]
   * @returns {Promise<IDBDatabase>}
   */
  static openDb(user, factory = globalThis.indexedDB) {
    return new Promise((resolve, reject) => {
      if (!factory) { reject(new Error('IndexedDB is unavailable')); return; }
      const req = factory.open(dbName(user), SCHEMA_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        for (const s of STORES) if (!db.objectStoreNames.contains(s)) db.createObjectStore(s);
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('IndexedDB could not be opened'));
      req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab holding an older version'));
    });
  }

  /** @param {IDBDatabase} db @param {(e: Error) => void} onError */
  constructor(db, onError) {
    this.db = db;
    this.onError = onError;
    /** @type {Batch|null} the batch being filled */
    this.next = null;
    /** @type {Promise<boolean>|null} the transaction running */
    this.running = null;
    /** Transactions that failed so far in this page's life: after one, no guarded row (the cursor) is written again. */
    this.failures = 0;
    this.failing = false;
    /** @type {((ok: boolean, error: StorageError|null) => void)|null} told after each transaction */
    this.onCommit = null;
    /** @type {Map<string, string>} section␁stream -> stamp of its clear watermark (few: kept in memory to skip a read per write) */
    this.marks = new Map();
    /** Approximate bytes of the rows (UTF-16 code units x 2, as quotas count), for the dashboard. */
    this.bytes = 0;
  }

  /** The batch being filled (a new one is committed after the current task). @private @returns {Batch} */
  batch() {
    if (this.next) return this.next;
    /** @type {(ok: boolean) => void} */
    let resolve = () => {};
    const done = new Promise((r) => { resolve = r; });
    const b = { changes: [], rows: [], ops: [], done, resolve };
    this.next = b;
    queueMicrotask(() => this.pump());
    return b;
  }

  /** Stores changes (merged on write); resolves with the batch's outcome. @param {Iterable<Change>} changes */
  putChanges(changes) {
    const b = this.batch();
    for (const c of changes) {
      b.changes.push(c);
      if (c.op === 'clear') {
        const k = `${c.section}\u0001${c.stream}`;
        const old = this.marks.get(k);
        if (old === undefined || c.stamp > old) this.marks.set(k, c.stamp);
      }
    }
    return b.done;
  }

  /**
   * Puts (value given) or deletes a row of the outbox or meta store. A guarded row is not written
   * once a transaction failed: the cursor must not move past data that was not saved.
   * @param {'outbox'|'meta'} store @param {string} key @param {string|undefined} value @param {boolean} [guard]
   */
  putRow(store, key, value, guard = false) {
    const b = this.batch();
    b.rows.push({ store, key, value, guard });
    if (value !== undefined) this.bytes += 2 * (key.length + value.length);
    return b.done;
  }

  /** Runs an operation inside the next transaction (migration). @param {(tx: IDBTransaction) => void} op */
  run(op) {
    const b = this.batch();
    b.ops.push(op);
    return b.done;
  }

  /** Resolves once everything queued so far has committed (true) or a transaction failed (false). */
  async idle() {
    let ok = true;
    while (this.next || this.running) ok = (await (this.next ? this.next.done : this.running)) && ok;
    return ok;
  }

  /** Commits the filled batch unless a transaction is running (then it goes when that one ends). @private */
  pump() {
    if (this.running || !this.next) return;
    const b = this.next;
    this.next = null;
    this.running = this.commit(b).then((ok) => {
      this.running = null;
      b.resolve(ok);
      this.pump();
      return ok;
    });
  }

  /** @private @param {Batch} b @returns {Promise<boolean>} */
  commit(b) {
    return new Promise((resolve) => {
      /** @type {IDBTransaction} */
      let tx;
      const failed = (/** @type {unknown} */ cause) => {
        this.failures++;
        const error = new StorageError('indexedDB', cause ?? new Error('IndexedDB transaction failed'));
        if (!this.failing) this.onError(error);
        this.failing = true;
        this.onCommit?.(false, error);
        resolve(false);
      };
      try {
        tx = this.db.transaction(STORES, 'readwrite');
      } catch (e) {
        failed(e);
        return;
      }
      tx.oncomplete = () => {
        this.failing = false;
        this.onCommit?.(true, null);
        resolve(true);
      };
      tx.onabort = () => failed(tx.error);
      try {
        for (const op of b.ops) op(tx);
        this.writeChanges(tx, b.changes);
        for (const r of b.rows) {
          if (r.guard && this.failures > 0) continue;
          const s = tx.objectStore(r.store);
          if (r.value === undefined) s.delete(r.key);
          else s.put(r.value, r.key);
        }
      } catch (e) {
        try { tx.abort(); } catch { /* already over */ }
        if (!tx.error) failed(e);
      }
    });
  }

  /** Merge-on-write of changes inside a transaction. @private @param {IDBTransaction} tx @param {Change[]} changes */
  writeChanges(tx, changes) {
    if (changes.length === 0) return;
    const maps = tx.objectStore('maps');
    const logs = tx.objectStore('logs');
    const marks = tx.objectStore('marks');
    for (const c of changes) {
      if (c.op === 'set' || c.op === 'delete') {
        const mark = this.marks.get(`${c.section}\u0001${WHOLE_SECTION}`);
        if (mark !== undefined && c.stamp <= mark) continue;
        const key = [c.section, c.key];
        const req = maps.get(key);
        req.onsuccess = () => {
          const old = /** @type {Change|undefined} */ (req.result);
          if (old && !beats(lww(c), lww(old))) return;
          maps.put(c, key);
          this.bytes += rowBytes(c);
        };
      } else if (c.op === 'append') {
        const mark = this.marks.get(`${c.section}\u0001${c.stream}`);
        if (mark !== undefined && c.stamp <= mark) continue;
        const key = [c.section, c.stream, c.stamp];
        const req = logs.get(key);
        req.onsuccess = () => {
          const old = /** @type {Change|undefined} */ (req.result);
          if (old && !(/** @type {string} */ (c.value) > /** @type {string} */ (old.value))) return;
          logs.put(c, key);
          this.bytes += rowBytes(c);
        };
      } else {
        const key = [c.section, c.stream];
        const req = marks.get(key);
        req.onsuccess = () => {
          const old = /** @type {Change|undefined} */ (req.result);
          if (old && c.stamp <= old.stamp) return;
          marks.put(c, key);
          if (c.stream === WHOLE_SECTION) {
            // A map section's clear purges its values and tombstones (the watermark keeps older writes out).
            const cur = maps.openCursor(IDBKeyRange.bound([c.section], [c.section, []]));
            cur.onsuccess = () => {
              const row = cur.result;
              if (!row) return;
              if (/** @type {Change} */ (row.value).stamp <= c.stamp) row.delete();
              row.continue();
            };
          } else {
            logs.delete(IDBKeyRange.bound([c.section, c.stream, ''], [c.section, c.stream, c.stamp]));
          }
        };
      }
    }
  }

  /**
   * Reads everything once (open): the changes to apply to the ReplicaState, and the outbox and
   * meta rows. getAll per store: a few large reads, not one request per row.
   * @returns {Promise<{changes: Change[], outbox: Map<string, string>, meta: Map<string, string>}>}
   */
  load() {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(STORES, 'readonly');
      /** @type {Record<string, any[]>} */
      const got = {};
      const all = (/** @type {string} */ store, /** @type {'getAll'|'getAllKeys'} */ what) => {
        const req = tx.objectStore(store)[what]();
        req.onsuccess = () => { got[`${store}.${what}`] = req.result; };
      };
      for (const s of ['maps', 'logs', 'marks']) all(s, 'getAll');
      for (const s of ['outbox', 'meta']) { all(s, 'getAll'); all(s, 'getAllKeys'); }
      tx.oncomplete = () => {
        const marks = got['marks.getAll'];
        for (const m of marks) {
          const k = `${m.section}\u0001${m.stream}`;
          const old = this.marks.get(k);
          if (old === undefined || m.stamp > old) this.marks.set(k, m.stamp);
        }
        const changes = [...got['maps.getAll'], ...got['logs.getAll'], ...marks];
        let bytes = 0;
        for (const c of changes) bytes += rowBytes(c);
        /** @param {string} s */
        const rows = (s) => {
          const keys = got[`${s}.getAllKeys`];
          const values = got[`${s}.getAll`];
          const m = new Map();
          for (let i = 0; i < keys.length; i++) {
            m.set(String(keys[i]), String(values[i]));
            bytes += 2 * (String(keys[i]).length + String(values[i]).length);
          }
          return m;
        };
        const outbox = rows('outbox');
        const meta = rows('meta');
        this.bytes = bytes;
        resolve({ changes, outbox, meta });
      };
      tx.onerror = () => reject(tx.error);
    });
  }

  close() {
    this.db.close();
  }
}

/** @param {Change} c */
function rowBytes(c) {
  return 2 * (c.section.length + ('key' in c ? c.key.length : c.stream.length) + c.stamp.length + (c.value?.length ?? 0) + 24);
}

/**
 * The map and log tiers over the store (the `localStorage` and `indexedDB` tiers of a policy are
 * both this one in a browser with IndexedDB). The ChangeTier interface: write, load, bytes.
 */
export class IdbTier {
  /** @param {IdbStore} store @param {Change[]} snapshot the changes read at open */
  constructor(store, snapshot) {
    this.store = store;
    /** @type {Change[]|null} handed over once to the ReplicaState, then dropped */
    this.snapshot = snapshot;
    this.name = 'indexedDB';
  }

  /** Queues the changes for the next transaction; true: a failure is reported when it commits. @param {Change[]} changes */
  write(changes) {
    this.store.putChanges(changes);
    return true;
  }

  /** The changes read at open (once: they then live in the ReplicaState only). */
  load() {
    const out = this.snapshot ?? [];
    this.snapshot = null;
    return out;
  }

  bytes() {
    return this.store.bytes;
  }
}

/**
 * A Kv (storage.js) over the outbox or meta store: a mirror (both are small) read at open, written
 * through into the store's next transaction. A row is deleted from the database only after its own
 * write committed: an outbox entry acknowledged by the server before its local write landed is
 * removed from memory at once and from IndexedDB once that write is done.
 */
export class MirrorKv {
  /**
   * @param {IdbStore} store @param {'outbox'|'meta'} storeName @param {Map<string, string>} rows
   * @param {(key: string) => boolean} [guarded] rows not written after a failed transaction (the cursor)
   */
  constructor(store, storeName, rows, guarded = () => false) {
    this.store = store;
    this.storeName = storeName;
    this.mirror = rows;
    this.guarded = guarded;
    this.name = 'indexedDB';
    /** @type {Map<string, Promise<boolean>>} rows whose write has not committed yet */
    this.writing = new Map();
  }

  /** @param {string} k */ get(k) { return this.mirror.get(k) ?? null; }
  /** @param {string} k @param {string} v */
  set(k, v) {
    this.mirror.set(k, v);
    const done = this.store.putRow(this.storeName, k, v, this.guarded(k));
    this.writing.set(k, done);
    done.then(() => { if (this.writing.get(k) === done) this.writing.delete(k); });
  }
  /** @param {string} k */
  delete(k) {
    this.mirror.delete(k);
    const w = this.writing.get(k);
    if (w) w.then(() => { if (!this.mirror.has(k)) this.store.putRow(this.storeName, k, undefined); });
    else this.store.putRow(this.storeName, k, undefined);
  }
  /** @param {string} p */ keys(p) { return [...this.mirror.keys()].filter((k) => k.startsWith(p)); }
  /** @param {string} p */ bytes(p) { let n = 0; for (const [k, v] of this.mirror) if (k.startsWith(p)) n += 2 * (k.length + v.length); return n; }
}
