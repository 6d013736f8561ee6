// The device's durable store in a browser: ONE IndexedDB database per user ('cairn-<user>') holds
// every durable tier (map and log sections, the outbox, and the small settings: sync cursor, clock
// mark, privacy switches). Object stores:
//   chunks  auto-increment key -> the changes of a page from the server, a save of local writes or
//           a part of a compacted state, packed in columns (chunk.js): the state is the merge of every chunk
//   outbox  id                 -> JSON {replica, change} (unacknowledged local changes)
//   meta    name               -> JSON setting ('cairn:<user>:cursor', ...: the names of the localStorage era)
//
// Why chunks and not a row per key: an IndexedDB request costs ~0.1 ms in Chromium, so 120,000
// rows take seconds to write, while 120 chunks of 1,000 take ~0.2 s; the open reads them a few
// chunks per getAll (readRanges), so no task deserializes all of them.
// The merge is a CRDT, so chunks never need to be read before a write (the tabs of a browser
// append their own; duplicates and order do not matter), and superseded changes (an overwritten
// key, entries under a clear) are dropped by compaction (`compact`), which replaces the chunks it
// read by their merge in one transaction. Until then a cleared entry stays on disk (not in the state).
//
// Writes are queued and committed in ONE readwrite transaction per batch: everything queued in one
// task (a page of server changes and the cursor that covers it, a save of local writes) lands in
// the same transaction, so a saved cursor never claims data that is not saved, and a failed
// transaction loses nothing it had not written before. One transaction runs at a time; what is
// queued meanwhile goes in the next one. A batch that failed (quota) is retried with the next one.
// Nothing is mirrored in memory except the outbox and the settings (small): the state lives in the
// ReplicaState, loaded once at open (`load` for the settings, `readRanges` for the chunks).
//
// Nothing here touches the DOM or the page: a (Shared)Worker can own this store unchanged
// (ARCHITECTURE.md, "Browser storage").

import { ReplicaState } from './crdt.js';
import { StorageError } from './storage.js';
import { pack, unpack, countOf, bytesOf, changeBytes, applyChunk } from './chunk.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {import('./chunk.js').Chunk} Chunk */

export const SCHEMA_VERSION = 1;
const STORES = ['chunks', 'outbox', 'meta'];
/** Chunks per read at open (readRanges): 8 compacted chunks are 40,000 changes, a few ms to deserialize and merge. */
const RANGE_CHUNKS = 8;
/** Changes per chunk of a compacted state. */
const COMPACT_CHUNK = 5000;

/**
 * Whether compacting is worth it: the chunks hold more than twice the changes the state needs, or
 * many more chunks than its merge would fill (small chunks make loading slower). Relative to the
 * state's size: a compacted state of 1,200,000 changes is 240 chunks, which must not count as
 * "many" and be compacted again at every open.
 * @param {number} stored changes in the chunks @param {number} held changes the state needs @param {number} chunks
 */
export function worthCompacting(stored, held, chunks) {
  return stored > 2 * held + 1000 || chunks > 200 + 2 * Math.ceil(held / COMPACT_CHUNK);
}

/** The database of one user. @param {string} user */
export function dbName(user) {
  return `cairn-${user}`;
}

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
        if (!db.objectStoreNames.contains('chunks')) db.createObjectStore('chunks', { autoIncrement: true });
        for (const s of ['outbox', 'meta']) if (!db.objectStoreNames.contains(s)) db.createObjectStore(s);
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
    /** @type {Batch|null} a batch whose transaction failed: its changes and rows go again with the next one */
    this.retry = null;
    /** Transactions that failed so far in this page's life: after one, no guarded row (the cursor) is written again. */
    this.failures = 0;
    this.failing = false;
    /** @type {((ok: boolean, error: StorageError|null) => void)|null} told after each transaction */
    this.onCommit = null;
    /** Approximate bytes stored (UTF-16 code units x 2, as quotas count), for the dashboard. */
    this.bytes = 0;
    /** Changes stored in chunks (superseded ones included: compaction drops them). */
    this.stored = 0;
  }

  /** The batch being filled (a new one is committed after the current task). @private @returns {Batch} */
  batch() {
    if (this.next) return this.next;
    /** @type {(ok: boolean) => void} */
    let resolve = () => {};
    const done = new Promise((r) => { resolve = r; });
    const again = this.retry;
    this.retry = null;
    const b = { changes: again ? again.changes : [], rows: again ? again.rows : [], ops: [], done, resolve };
    this.next = b;
    queueMicrotask(() => this.pump());
    return b;
  }

  /** Stores changes (in the next transaction's chunk); resolves with the batch's outcome. @param {Iterable<Change>} changes */
  putChanges(changes) {
    const b = this.batch();
    for (const c of changes) {
      b.changes.push(c);
      this.bytes += changeBytes(c);
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
    while (this.next || this.running) ok = (await (this.next ? this.next.done : /** @type {Promise<boolean>} */ (this.running))) && ok;
    return ok;
  }

  /**
   * Resolves once what is queued so far has committed (true) or failed (false), without waiting
   * for what is queued after this call (`idle` does).
   * @returns {Promise<boolean>}
   */
  settled() {
    return this.next ? this.next.done : (this.running ?? Promise.resolve(true));
  }

  /** Commits the filled batch unless a transaction is running (then it goes when that one ends). @private */
  pump() {
    if (this.running || !this.next) return;
    const b = this.next;
    this.next = null;
    this.running = this.commit(b).then((ok) => {
      this.running = null;
      if (!ok && (b.changes.length || b.rows.length)) {
        // Kept for the next batch (space may be freed); the ReplicaState and the outbox hold them meanwhile.
        this.retry = this.next ? null : b;
        if (this.next) {
          this.next.changes = b.changes.concat(this.next.changes);
          this.next.rows = b.rows.concat(this.next.rows);
        }
      }
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
        // Local writes not yet on the server are flushed to disk (strict); server data can be
        // fetched again, and its cursor is in the same transaction, so a relaxed commit is enough.
        const durability = b.rows.some((r) => r.store === 'outbox' && r.value !== undefined) ? 'strict' : 'relaxed';
        tx = this.db.transaction(STORES, 'readwrite', { durability });
      } catch (e) {
        failed(e);
        return;
      }
      tx.oncomplete = () => {
        this.failing = false;
        this.stored += b.changes.length;
        this.onCommit?.(true, null);
        resolve(true);
      };
      tx.onabort = () => failed(tx.error);
      try {
        for (const op of b.ops) op(tx);
        if (b.changes.length) tx.objectStore('chunks').add(pack(b.changes));
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

  /**
   * Reads everything once (open): the chunks to merge into the ReplicaState (`applyChunk`), their
   * keys (for `compact`) and how many changes they hold, and the outbox and meta rows. A few
   * getAll, not one request per row. `chunks: false` skips the chunks (the sync worker's start: it
   * keeps no state), `meta: false` the outbox and meta rows (compaction).
   * @param {{chunks?: boolean, meta?: boolean}} [what]
   * @returns {Promise<{chunks: Chunk[], stored: number, chunkKeys: IDBValidKey[], outbox: Map<string, string>, meta: Map<string, string>}>}
   */
  load({ chunks: withChunks = true, meta: withMeta = true } = {}) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(STORES, 'readonly');
      /** @type {Record<string, any[]>} */
      const got = {};
      const all = (/** @type {string} */ store, /** @type {'getAll'|'getAllKeys'} */ what) => {
        const req = tx.objectStore(store)[what]();
        req.onsuccess = () => { got[`${store}.${what}`] = req.result; };
      };
      for (const s of STORES) {
        if (s === 'chunks' ? !withChunks : !withMeta) { got[`${s}.getAll`] = []; got[`${s}.getAllKeys`] = []; continue; }
        all(s, 'getAll');
        all(s, 'getAllKeys');
      }
      tx.oncomplete = () => {
        /** @type {Chunk[]} */
        const chunks = got['chunks.getAll'];
        let bytes = 0;
        let stored = 0;
        for (const chunk of chunks) {
          bytes += bytesOf(chunk);
          stored += countOf(chunk);
        }
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
        // The open reads the rows first and the chunks after, in ranges (readRanges), which add theirs.
        if (withMeta) {
          this.bytes = bytes;
          this.stored = stored;
        }
        resolve({ chunks, stored, chunkKeys: got['chunks.getAllKeys'], outbox, meta });
      };
      tx.onerror = () => reject(tx.error);
    });
  }

  /**
   * Reads the chunks in ranges of `count` (the open): one readonly transaction per range, in key
   * order, the next range read while the caller merges this one (so at most two ranges are in
   * memory unmerged). One `getAll` of every chunk is deserialized in one task, seconds at
   * 1,000,000 entries; a range of a few chunks takes milliseconds. Consistency across the
   * transactions: the caller read the cursor (`load({chunks: false})`) before, so the chunks read
   * after hold at least what it claims; a chunk added meanwhile (another tab's write, a
   * compaction's merge) has a greater key than every chunk before it (auto-increment), so it is
   * still ahead and is read; a compaction deletes only chunks whose merge it adds in the same
   * transaction. Reading more than the cursor claims is harmless (the merge is a CRDT).
   * @param {number} [count]
   * @returns {AsyncGenerator<{keys: IDBValidKey[], chunks: Chunk[]}>}
   */
  async *readRanges(count = RANGE_CHUNKS) {
    /** @type {Promise<{keys: IDBValidKey[], chunks: Chunk[]}>|null} */
    let next = this.readRange(null, count);
    while (next) {
      const range = await next;
      next = range.keys.length === count ? this.readRange(range.keys[range.keys.length - 1], count) : null;
      for (const chunk of range.chunks) {
        this.bytes += bytesOf(chunk);
        this.stored += countOf(chunk);
      }
      yield range;
    }
  }

  /** @private @param {IDBValidKey|null} after @param {number} count @returns {Promise<{keys: IDBValidKey[], chunks: Chunk[]}>} */
  readRange(after, count) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction('chunks', 'readonly');
      const store = tx.objectStore('chunks');
      const range = after === null ? null : IDBKeyRange.lowerBound(after, true);
      const keys = store.getAllKeys(range, count);
      const chunks = store.getAll(range, count);
      tx.oncomplete = () => resolve({ keys: keys.result, chunks: chunks.result });
      tx.onerror = () => reject(tx.error);
    });
  }

  /**
   * Replaces the chunks `keys` (read by load, holding `stored` changes) by their merge: superseded
   * values and entries under a clear are dropped. One transaction: a crash keeps the old chunks.
   * Chunks written since (this tab's or another's) are not touched, so nothing is lost. Chunks of
   * the first layout come out packed.
   * @param {IDBValidKey[]} keys @param {Chunk[]} chunks @param {number} stored
   * @param {(section: string) => ('map'|'log'|undefined)} kinds
   * @param {ReplicaState} [state] `chunks` already merged (the caller counted it)
   * @returns {Promise<boolean>}
   */
  compact(keys, chunks, stored, kinds, state) {
    if (keys.length === 0) return Promise.resolve(true);
    const merged = state ?? new ReplicaState(kinds);
    if (!state) for (const chunk of chunks) applyChunk(merged, chunk, () => { /* a section this app no longer has: dropped */ });
    /** @type {Change[]} */
    const out = [];
    for (const section of merged.sections().keys()) for (const c of merged.changesOf(section)) out.push(c);
    return this.run((tx) => {
      const store = tx.objectStore('chunks');
      for (const k of keys) store.delete(k);
      for (let i = 0; i < out.length; i += COMPACT_CHUNK) store.add(pack(out.slice(i, i + COMPACT_CHUNK)));
    }).then((ok) => {
      if (ok) this.stored += out.length - stored;
      return ok;
    });
  }

  /**
   * Rolls refused changes back in storage (space.js dropRefused): exactly these changes (section,
   * key or stream, stamp) leave the chunks that hold them, each such chunk rewritten without them in
   * one transaction. Nothing is merged, so an older value they had superseded is stored again, and
   * writes not saved yet stay out. @param {Change[]} changes @returns {Promise<boolean>}
   */
  async forgetChanges(changes) {
    const id = (/** @type {Change} */ c) => `${c.op}\u0000${c.section}\u0000${'key' in c ? c.key : c.stream}\u0000${c.stamp}`;
    const drop = new Set(changes.map(id));
    await this.idle();
    const { chunks, chunkKeys } = await this.load({ meta: false });
    /** @type {Array<[IDBValidKey, Change[]]>} */
    const rewrite = [];
    let removed = 0;
    chunks.forEach((chunk, i) => {
      const all = unpack(chunk);
      const kept = all.filter((c) => !drop.has(id(c)));
      if (kept.length < all.length) {
        rewrite.push([chunkKeys[i], kept]);
        removed += all.length - kept.length;
      }
    });
    if (rewrite.length === 0) return true;
    return this.run((tx) => {
      const store = tx.objectStore('chunks');
      for (const [key, kept] of rewrite) {
        if (kept.length) store.put(pack(kept), key);
        else store.delete(key);
      }
    }).then((ok) => {
      if (ok) this.stored -= removed;
      return ok;
    });
  }

  close() {
    this.db.close();
  }
}

/**
 * The map and log tiers over the store (the `localStorage` and `indexedDB` tiers of a policy are
 * both this one in a browser with IndexedDB). The ChangeTier interface: write, load, bytes.
 */
export class IdbTier {
  /**
   * @param {IdbStore|import('./worker/tab-link.js').WorkerStore} store where writes go
   * @param {IdbStore|null} reader the page's own connection, which reads the chunks at open (with a
   *   sync worker `store` is the worker's and the reader is closed once read)
   * @param {{chunks: Chunk[], stored: number, chunkKeys: IDBValidKey[]}} [snapshot] filled by
   *   readChunks for compaction (`compactLater`): the keys and count read, and the chunks when this
   *   page compacts (no worker)
   */
  constructor(store, reader, snapshot = { chunks: [], stored: 0, chunkKeys: [] }) {
    this.store = store;
    this.reader = reader;
    this.snapshot = snapshot;
    this.name = 'indexedDB';
  }

  /** Queues the changes for the next transaction; true: a failure is reported when it commits. @param {Change[]} changes */
  write(changes) {
    this.store.putChanges(changes);
    return true;
  }

  /**
   * The stored chunks, range by range (IdbStore.readRanges), for the ReplicaState to merge in bulk
   * (`applyChunk`) at open; once: they then live in the ReplicaState only.
   * @returns {AsyncGenerator<Chunk[]>}
   */
  async *readChunks() {
    const reader = this.reader;
    if (!reader) return;
    this.reader = null;
    const own = reader === /** @type {any} */ (this.store);
    const counted = { bytes: reader.bytes, stored: reader.stored };
    const snap = this.snapshot;
    try {
      for await (const { keys, chunks } of reader.readRanges()) {
        for (const k of keys) snap.chunkKeys.push(k);
        for (const c of chunks) {
          snap.stored += countOf(c);
          if (own) snap.chunks.push(c);
        }
        yield chunks;
      }
    } finally {
      if (!own) {
        // The worker's store counts what this page read.
        this.store.bytes += reader.bytes - counted.bytes;
        this.store.stored += reader.stored - counted.stored;
        reader.close();
      }
    }
  }

  /** The ChangeTier interface: nothing here, the chunks are read at open by `readChunks` (in ranges, asynchronously). @returns {Change[]} */
  load() {
    return [];
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
