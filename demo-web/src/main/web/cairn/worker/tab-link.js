// The tab's side of the sync worker (sync-worker.js): the link over the worker's MessagePort, the
// store the tab writes through it (WorkerStore, in place of its own IdbStore) and the sync client
// it sees (SharedSyncClient, in place of its own SyncClient). The message set is in sync-host.js
// and ARCHITECTURE.md ("Browser storage"). The tab keeps its ReplicaState: reads stay synchronous.

import { StorageError } from '../storage.js';
import { unpack } from '../chunk.js';
import { RecentRefusals } from '../space/recent-refusals.js';
import { syncError } from '../waiters.js';

/** @typedef {import('../codec.js').Change} Change */

/** How long open() waits for the worker's answer before it falls back to the in-page path. */
const ATTACH_TIMEOUT_MILLIS = 5000;

/**
 * Where this Cairn runs its sync and IndexedDB writes: 'shared' (the default where SharedWorker
 * exists: one worker for all the user's tabs), 'dedicated' (a Worker of this tab's own: the
 * fallback where SharedWorker is missing, or asked for), or null: the in-page path (`worker:
 * 'none'`, no Worker either, or an app WebSocket, IndexedDB or kv of its own: tests, Node).
 * @param {import('../cairn.js').OpenOptions} options @param {any} [scope] the globals (tests stub them)
 * @returns {'shared'|'dedicated'|null}
 */
export function workerKind(options, scope = globalThis) {
  if (options.workerPort) return 'shared';
  const asked = options.worker ?? 'shared';
  if (asked === 'none') return null;
  if ((options.storage ?? 'browser') !== 'browser' || options.WebSocket || options.indexedDB || options.kv) return null;
  if (asked === 'shared' && typeof scope.SharedWorker === 'function') return 'shared';
  return typeof scope.Worker === 'function' ? 'dedicated' : null;
}

/**
 * Starts (or joins) the user's worker, while the tab reads its own state (Cairn.open runs both at
 * once); resolves with a link once the worker has its database open, or with why it cannot be
 * used (the caller keeps the in-page path). Null when the options do not want it (workerKind).
 * @param {import('../cairn.js').OpenOptions} options
 * @returns {Promise<WorkerLink|string>|null}
 */
export function startWorker(options) {
  const kind = workerKind(options);
  return kind ? connectWorker(options, kind) : null;
}

/**
 * @param {import('../cairn.js').OpenOptions} options @param {'shared'|'dedicated'} kind
 * @returns {Promise<WorkerLink|string>}
 */
async function connectWorker(options, kind) {
  /** @type {MessagePort} */
  let port;
  try {
    const url = new URL('./sync-worker.js', import.meta.url);
    const name = `cairn-${options.user}`;
    if (options.workerPort) port = options.workerPort;
    else if (kind === 'shared') {
      const worker = new SharedWorker(url, { type: 'module', name });
      port = worker.port;
      worker.onerror = () => port.close();
    } else {
      // A Worker speaks like a port (postMessage, onmessage); it ends itself once its tab detached.
      // One that fails to load never answers the attach: open() then falls back to the page.
      port = /** @type {MessagePort} */ (/** @type {unknown} */ (new Worker(url, { type: 'module', name })));
    }
  } catch (e) {
    return `the sync worker could not start (${/** @type {Error} */ (e).message}): sync runs in this page`;
  }
  const link = new WorkerLink(port, kind);
  const server = options.server ? { url: new URL(options.server.url, globalThis.location?.href).toString() } : null;
  const tuning = Object.fromEntries(Object.entries(options.sync ?? {}).filter(([, v]) => typeof v === 'number'));
  const lock = await holdTabLock();
  const answer = await link.request({ type: 'attach', user: options.user, lock, server, tuning, spaces: !!options.spaces }, ATTACH_TIMEOUT_MILLIS);
  if (!answer || answer.error) {
    link.close();
    return `the sync worker is unavailable (${answer?.error ?? 'no answer'}): sync runs in this page`;
  }
  return link;
}

/**
 * A Web Lock held for this tab's lifetime: the worker waits for it, and so learns the tab is gone
 * (a MessagePort says nothing when its page closes). Null without Web Locks.
 */
async function holdTabLock() {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (!locks) return null;
  const name = `cairn-tab-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  await new Promise((held) => {
    locks.request(name, () => {
      held(undefined);
      return new Promise(() => {}); // released when the tab goes away
    });
  });
  return name;
}

/** The tab's end of the worker's port: requests with answers, and the worker's broadcasts. */
export class WorkerLink {
  /** @param {MessagePort} port @param {'shared'|'dedicated'} [kind] */
  constructor(port, kind = 'shared') {
    this.port = port;
    /** 'shared': the user's one worker for all tabs; 'dedicated': this tab's own (one socket per tab) */
    this.kind = kind;
    /** @type {string|null} the tab's replica id, told to the worker when it syncs */
    this.replica = null;
    this.nextId = 1;
    /** @type {Map<number, (answer: any) => void>} */
    this.answers = new Map();
    /** @type {(msg: any) => void} broadcasts (pages, status, acks...), set by the Cairn */
    this.onBroadcast = () => {};
    /** @type {(() => (string|Promise<string>))|null} */
    this.token = null;
    /** @type {Map<string, (msg: any) => void>} where each open space's messages go (space-link.js) */
    this.spaceRoutes = new Map();
    /** @type {Map<string, number>} each space's cursor in the worker's session, as last told */
    this.spaceCursors = new Map();
    /** The refusals for good and leaves of this tab's spaces, as the worker told them (syncNow marks). */
    this.refusals = new RecentRefusals();
    port.onmessage = (event) => this.receive(event.data);
    port.start?.();
  }

  /** @param {any} msg */
  post(msg) {
    this.port.postMessage(msg);
  }

  /** Posts a message and resolves with the worker's answer (null after `timeout` millis). @param {any} msg @param {number} [timeout] */
  request(msg, timeout) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      /** @type {ReturnType<typeof setTimeout>|null} */
      const timer = timeout ? setTimeout(() => { this.answers.delete(id); resolve(null); }, timeout) : null;
      this.answers.set(id, (answer) => { if (timer) clearTimeout(timer); resolve(answer); });
      this.post({ ...msg, id });
    });
  }

  /** @private @param {any} msg */
  async receive(msg) {
    if (msg.type === 'answer') {
      const done = this.answers.get(msg.id);
      this.answers.delete(msg.id);
      done?.(msg);
      return;
    }
    if (msg.type === 'token?') {
      try {
        if (!this.token) throw new Error('this tab does not sync');
        this.post({ type: 'token', id: msg.id, token: await this.token() });
      } catch (e) {
        this.post({ type: 'token', id: msg.id, error: /** @type {Error} */ (e).message });
      }
      return;
    }
    this.onBroadcast(msg);
  }

  close() {
    try { this.post({ type: 'detach' }); } catch { /* closed */ }
    this.port.close?.(); // a dedicated Worker has none: it closes itself on detach
    // What still waits for an answer never gets one now: a syncNow() fails, as in a page, none hangs.
    const closed = { error: { code: 'engine-closed', message: 'the Cairn was closed before sync finished' } };
    for (const done of [...this.answers.values()]) done(closed);
    this.answers.clear();
  }
}

/**
 * The IdbStore interface the tiers, the outbox and the settings write through (IdbTier, MirrorKv):
 * what is queued in one task goes to the worker as one `write` message, which the worker commits
 * in one transaction before it answers; `idle()` resolves once every write sent has its answer.
 */
export class WorkerStore {
  /**
   * @param {WorkerLink} link @param {{bytes: number, stored: number}} counts from the tab's read at open
   * @param {string} [space] a space's database (space-link.js), else the user's
   */
  constructor(link, counts, space) {
    this.link = link;
    this.space = space;
    this.bytes = counts.bytes;
    this.stored = counts.stored;
    /** @type {{changes: Change[], rows: Array<{store: string, key: string, value?: string, guard: boolean}>, done: Promise<boolean>}|null} */
    this.next = null;
    /** @type {Set<Promise<boolean>>} writes sent and not answered yet */
    this.sent = new Set();
    /** @type {((ok: boolean, error: StorageError|null) => void)|null} told after each of the worker's transactions */
    this.onCommit = null;
  }

  /** @private */
  batch() {
    if (this.next) return this.next;
    /** @type {(ok: boolean) => void} */
    let resolve = () => {};
    /** @type {{changes: Change[], rows: Array<{store: 'outbox'|'meta', key: string, value?: string, guard: boolean}>, done: Promise<boolean>}} */
    const b = { changes: [], rows: [], done: new Promise((r) => { resolve = r; }) };
    this.next = b;
    queueMicrotask(() => {
      this.next = null;
      const answered = this.link.request({ type: 'write', changes: b.changes, rows: b.rows, ...this.target() }).then((a) => !!a?.ok);
      this.sent.add(answered);
      answered.then((ok) => { this.sent.delete(answered); resolve(ok); });
    });
    return b;
  }

  /** @param {Iterable<Change>} changes */
  putChanges(changes) {
    const b = this.batch();
    for (const c of changes) {
      b.changes.push(c);
      this.stored++;
    }
    return b.done;
  }

  /** @param {'outbox'|'meta'} store @param {string} key @param {string|undefined} value @param {boolean} [guard] */
  putRow(store, key, value, guard = false) {
    const b = this.batch();
    b.rows.push(value === undefined ? { store, key, guard } : { store, key, value, guard });
    if (value !== undefined) this.bytes += 2 * (key.length + value.length);
    return b.done;
  }

  /** @private */
  target() {
    return this.space === undefined ? {} : { space: this.space };
  }

  /** Only the migration at open runs operations, on the tab's own store before the worker takes over. */
  run() {
    return Promise.reject(new Error('the sync worker owns this database: no transaction runs in the page'));
  }

  /**
   * Resolves once every write sent so far is committed (true) or one failed (false), and what the
   * worker queued meanwhile too (the server's pages this tab applied, their cursor), as IdbStore.idle.
   */
  async idle() {
    let ok = true;
    while (this.next || this.sent.size) ok = (await (this.next ? this.next.done : [...this.sent][0])) && ok;
    const worker = await this.link.request({ type: 'idle', ...this.target() });
    return ok && !!worker?.ok;
  }

  /** A transaction of the worker ended (any tab's): the storage status hears it. @param {boolean} ok @param {{code: string, message: string}|null} error */
  committed(ok, error) {
    this.onCommit?.(ok, error ? Object.assign(new StorageError('indexedDB', error), { code: error.code }) : null);
  }

  close() {}
}

/**
 * The SyncClient surface the Cairn uses (status, cursor, lastError, push, syncNow, setOffline,
 * resync, stop), served by the worker's one client. The offline switch and resync act on the
 * shared socket, so on every tab of the user.
 */
export class SharedSyncClient {
  /**
   * @param {WorkerLink} link
   * @param {{token: () => (string|Promise<string>), acked: (ids: string[]) => void, applyPage: (changes: Change[]) => void,
   *   onStatus: (s: string) => void, onError: (e: {code: string, message: string}) => void, onLimits: (max: number) => void,
   *   saved: (cursor: number) => void}} on the last two: the server's frame limit, the cursor the worker saved
   */
  constructor(link, on) {
    this.link = link;
    this.on = on;
    this.shared = true;
    this.status = 'offline';
    this.cursor = 0;
    /** @type {{code: string, message: string}|null} */
    this.lastError = null;
    /** @type {number|null} */
    this.lastSync = null;
    this.running = false;
    this.locked = false;
    this.offline = false;
    link.token = on.token;
    /** The spaces the worker's socket carries, as the tab's spaces see them (space/space.js SpaceSyncView). */
    this.spaces = new SharedSpaces(link);
  }

  /** A broadcast of the worker. @param {any} msg */
  receive(msg) {
    switch (msg.type) {
      case 'page':
        this.on.applyPage(unpack(msg.chunk));
        this.link.post({ type: 'applied', page: msg.page });
        break;
      case 'acked': this.on.acked(msg.ids); break;
      case 'status': this.sync(msg); if (this.status !== msg.status) { this.status = msg.status; this.on.onStatus(msg.status); } break;
      case 'error': this.sync(msg); this.on.onError(msg.error); break;
      case 'limits': this.on.onLimits(msg.maxFrameBytes); break;
      case 'cursor': this.sync(msg); break;
      default:
    }
  }

  /** @private @param {{cursor?: number, saved?: number, lastError?: any, lastSync?: number|null, offline?: boolean}} msg */
  sync(msg) {
    if (msg.cursor !== undefined) this.cursor = msg.cursor;
    if (msg.offline !== undefined) this.offline = msg.offline; // the switch is the shared socket's: any tab may turn it
    if (msg.saved !== undefined) this.on.saved(msg.saved);
    if (msg.lastError !== undefined) this.lastError = msg.lastError;
    if (msg.lastSync !== undefined) this.lastSync = msg.lastSync;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.link.request({ type: 'sync', replica: this.link.replica }).then((a) => a && this.receive({ ...a, type: 'status' }));
  }

  stop() {
    if (!this.running) return;
    this.running = false;
    this.link.post({ type: 'unsync' });
    this.status = 'offline';
  }

  /** After writes: sent after the write messages of this task, so the worker has their outbox rows. */
  push() {
    queueMicrotask(() => queueMicrotask(() => this.link.post({ type: 'push' })));
  }

  /** @param {boolean} offline */
  setOffline(offline) {
    this.offline = offline;
    this.link.post({ type: 'offline', offline });
  }

  /** @param {number} [cursor] */
  resync(cursor = 0) {
    this.link.post({ type: 'resync', cursor });
  }

  /** A syncing write kept only in this tab: the worker holds the saved cursor at `cursor`. @param {number} cursor */
  hold(cursor) {
    this.link.post({ type: 'hold', cursor });
  }

  /** A mark for syncNow(mark), taken before saving: the spaces open in this tab (SyncClient.mark). */
  mark() {
    return this.link.refusals.mark([...this.link.spaceRoutes.keys()]);
  }

  /** @param {import('../space/recent-refusals.js').SpaceMark|null} [mark] */
  async syncNow(mark) {
    await new Promise((r) => queueMicrotask(() => queueMicrotask(/** @type {VoidFunction} */ (r)))); // after this task's writes
    await answered(this.link, this.link.request({ type: 'sync-now' }), mark);
  }
}

/**
 * The worker's answer to a sync-now, failed by a refusal for good or leave of a space of `mark`
 * that this tab heard since (as SyncClient.syncNow in a page). Checked once the answer is here:
 * the worker's messages come in order, so every refusal it told before answering is known then.
 * @param {WorkerLink} link @param {Promise<any>} request @param {import('../space/recent-refusals.js').SpaceMark|null|undefined} mark
 */
async function answered(link, request, mark) {
  const a = await request;
  const failed = a?.error ? Object.assign(new Error(a.error.message), { code: a.error.code }) : null;
  if (failed && STATE_ERRORS.has(failed.code)) throw failed; // as in a page, checked before the mark
  const missed = mark ? link.refusals.missed(mark) : null;
  if (missed) throw syncError(missed);
  if (failed) throw failed;
}

/** Errors of the client's state that a page's syncNow() gives before it looks at its mark (sync.js). */
const STATE_ERRORS = new Set(['offline', 'wrong-passphrase']);

/**
 * Hands the tab's store over to the worker when it runs (startWorker): the tab has read its state
 * (and migrated) with its own connection, which it closes; from then on every write goes through
 * the worker (`idb.store` becomes a WorkerStore). Null: the in-page path, unchanged.
 * @param {Promise<WorkerLink|string>|null} starting @param {string} replica
 * @param {{store: any, snapshot: any}|null} idb null: IndexedDB did not open in the page, the worker is not used
 * @param {string[]} notes
 */
export async function useWorker(starting, replica, idb, notes) {
  const link = await starting;
  if (!link) return null;
  if (typeof link === 'string') {
    notes.push(link);
    return null;
  }
  if (!idb) {
    link.close();
    return null;
  }
  link.replica = replica;
  const own = idb.store;
  idb.store = new WorkerStore(link, { bytes: own.bytes, stored: own.stored });
  // `own` stays open (idb.reader) until the tab has read its chunks: IdbTier.readChunks closes it.
  return link;
}

/**
 * Routes the worker's broadcasts to the Cairn: storage outcomes to its status, the rest to its
 * shared sync client. @param {WorkerLink} link @param {import('../cairn.js').Cairn} cairn
 */
export function bindWorker(link, cairn) {
  link.onBroadcast = (msg) => {
    if (msg.type === 'storage') /** @type {WorkerStore} */ (/** @type {unknown} */ (cairn.store)).committed(msg.ok, msg.error);
    else if (msg.type === 'storage-error') cairn.emit('error', Object.assign(new StorageError('indexedDB', msg.error), { code: msg.error.code }));
    else if (typeof msg.type === 'string' && msg.type.startsWith('space-')) link.spaceRoutes.get(msg.space)?.(msg);
    else if (cairn.sync && /** @type {any} */ (cairn.sync).shared) /** @type {SharedSyncClient} */ (/** @type {unknown} */ (cairn.sync)).receive(msg);
  };
}

/** The spaces half of SharedSyncClient: the calls of space-sync.js SpaceSync a tab's spaces make, sent to the worker. */
export class SharedSpaces {
  /** @param {WorkerLink} link */
  constructor(link) {
    this.link = link;
  }

  /** @param {string} id */
  cursorOf(id) {
    return this.link.spaceCursors.get(id);
  }

  /** After writes: sent after the write messages of this task, as SharedSyncClient.push. @param {string} _id */
  push(_id) {
    queueMicrotask(() => queueMicrotask(() => this.link.post({ type: 'push' })));
  }

  /** The socket carries one presence per space: the last set by a tab of the user still open (sync-host.js spacePresence). @param {string} id @param {unknown} state */
  setPresence(id, state) {
    this.link.post({ type: 'space-presence', space: id, state });
  }

  /** @param {string} id @param {number} cursor */
  resync(id, cursor) {
    this.link.post({ type: 'space-resync', space: id, cursor });
  }

  /** A mark for a space's syncNow(mark) (space.js). */
  mark() {
    return this.link.refusals.mark([]);
  }

  /**
   * As SpaceSync.syncNowSince: the mark is checked once the worker answered (`answered`).
   * @param {string} id @param {import('../space/recent-refusals.js').SpaceMark|null} since
   */
  async syncNowSince(id, since) {
    await new Promise((r) => queueMicrotask(() => queueMicrotask(/** @type {VoidFunction} */ (r)))); // after this task's writes
    await answered(this.link, this.link.request({ type: 'space-sync-now', space: id }), since);
  }
}
