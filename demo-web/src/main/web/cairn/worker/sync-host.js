// The sync host: what the shared worker runs for one user (sync-worker.js), so the tabs of one
// browser share ONE WebSocket and ONE IndexedDB writer. It owns the user's IdbStore (chunks,
// outbox, meta), the SyncClient (connection, push pipeline, pull applier: unchanged, so the wire
// is the same as in a page) and compaction. Each tab keeps its own ReplicaState and replica id
// (its stamps), applies the pages the host sends it and writes its local changes through it.
//
// Messages (ARCHITECTURE.md, "Browser storage"); `id` marks a request, answered by {type: 'answer', id, ...}:
//   tab -> host  attach {user, lock, server: {url}|null, tuning}            -> answer {ok} | {error}
//                write {changes, rows: [{store, key, value?, guard}]}       -> answer {ok}, after the transaction
//                sync {replica}                                             -> answer {status, cursor, lastError}: this tab syncs through the host
//                unsync | detach | push | offline {offline} | resync {cursor} | hold {cursor}
//                sync-now                                                   -> answer {} | {error}
//                idle                                                       -> answer {ok}: everything queued so far committed
//                applied {page}    the tab applied that page (backpressure)
//                token {id, token|error}                                    the answer to token?
//                space-* and write/idle {space}                             a space's (worker/space-host.js)
//   host -> tab  page {page, chunk}     server changes to apply (memory only: the host saved them),
//                                       packed as a stored chunk (chunk.js: a few arrays clone far faster than 1,000 objects)
//                acked {ids}            outbox entries the server has: forget them
//                status {status, cursor, lastError, lastSync, offline} | error {error, lastError, ...} | cursor {cursor, saved} | limits {maxFrameBytes}
//                storage {ok, error}    a transaction of the host ended (the tab's storage status)
//                storage-error {error}  the store started failing (the tab's 'error' event, once)
//                token? {id}            a token for the next connect (asked of a syncing tab)
//                space-* {space, ...}   a space's pages, acks, states... to the tabs that have it open (space-host.js)
// The host answers a write only once its transaction committed: a tab closing after its save()
// resolved loses nothing (the outbox row is on disk; the host pushes it, or the next host does).

import { IdbStore, MirrorKv } from '../idb-store.js';
import { Outbox, liveReplicas, newReplicaId } from '../storage.js';
import { SyncClient } from '../sync.js';
import { isDurable } from '../persister.js';
import { persistToLookup } from './policies.js';
import { compactIfWorth } from './compaction.js';
import { pack } from '../chunk.js';
import { isPrivacyClear } from '../privacy.js';
import { SpaceHost, hostDirectory } from './space-host.js';

/** @typedef {import('../codec.js').Change} Change */

/** How long after the host opens the stored chunks are compacted (when worth it). */
const COMPACT_AFTER_MILLIS = 3000;
/** A page waits for the tabs to apply the one before it, but no longer than this (a frozen tab must not stall the others). */
const TAB_APPLY_WAIT_MILLIS = 2000;
/**
 * Pages whose transaction may still be committing while the next one is decoded: meanwhile the
 * next pages' writes queue into the following transaction (fewer, larger commits), so the commit
 * latency is not paid once per page; at most this many pages wait in memory, as the catch-up's
 * backpressure.
 */
const PAGES_UNSAVED = 3;
/** How long a tab has to hand over a token. */
const TOKEN_WAIT_MILLIS = 10_000;

/**
 * What the host uses of its global scope, given by tests (a scripted server); a worker leaves it empty.
 * @typedef {object} HostEnv
 * @property {typeof WebSocket} [WebSocket]
 * @property {typeof fetch} [fetch] to learn why an upgrade was refused
 * @property {() => number} [random] in [0, 1), for the sync client's jitter (a tab's own `sync.random` is a function: it cannot cross the port)
 * @property {string} [replica] the session's replica id in hello (else a new `w...` one)
 */

/**
 * @typedef {object} Tab
 * @property {MessagePort} port
 * @property {string} replica
 * @property {boolean} syncing the tab syncs through the host (else: store only, e.g. end-to-end encryption in the page)
 * @property {number} applied the last page it applied
 * @property {Map<string, {gaveUp: boolean}>} spaceAsks its space-open requests not answered yet, by space
 */

export class SyncHost {
  /** @param {string} user @param {IDBFactory} [factory] @param {HostEnv} [env] */
  static async open(user, factory, env = {}) {
    /** @type {SyncHost|null} */
    let host = null;
    const store = new IdbStore(await IdbStore.openDb(user, factory), (e) => host?.broadcast({ type: 'storage-error', error: plain(e) }));
    const { outbox, meta } = await store.load({ chunks: false });
    host = new SyncHost(user, store, outbox, meta, env);
    host.factory = factory;
    return host;
  }

  /**
   * @param {string} user @param {IdbStore} store @param {Map<string, string>} outbox @param {Map<string, string>} meta
   * @param {HostEnv} env
   */
  constructor(user, store, outbox, meta, env) {
    this.user = user;
    this.store = store;
    this.env = env;
    this.meta = new MirrorKv(store, 'meta', meta, (k) => k.endsWith(':cursor'));
    this.outbox = new Outbox(new MirrorKv(store, 'outbox', outbox), `${user}\u0000o\u0001`, (e) => this.broadcast({ type: 'storage-error', error: plain(e) }));
    /** @type {Map<MessagePort, Tab>} */
    this.tabs = new Map();
    /** Live replicas (tabs) that push their own outbox entries: not attached, or syncing in their page. */
    this.others = new Set();
    /** The replica id of the host's session (hello); the changes it pushes keep their tabs' stamps. */
    this.replica = env.replica ?? `w${newReplicaId()}`.slice(0, 32);
    /** @type {SyncClient|null} */
    this.sync = null;
    /** @type {{url: string}|null} */
    this.server = null;
    /** @type {Record<string, number>} */
    this.tuning = {};
    const stored = this.readMeta('cursor', 0);
    this.savedCursor = Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
    this.cursorHeld = false;
    this.page = 0;
    /** @type {Array<Promise<boolean>>} the commits of the last pages, oldest first (PAGES_UNSAVED) */
    this.unsaved = [];
    /** @type {Promise<boolean>|null} */
    this.compacting = null;
    this.tokenAsks = 0;
    /** @type {Map<number, (answer: any) => void>} */
    this.tokenAnswers = new Map();
    /** @type {IDBFactory|undefined} */
    this.factory = undefined;
    /** A tab asked for spaces (PROTOCOL.md 8): the socket names them in hello and carries their pages. */
    this.wantsSpaces = false;
    /** @type {Map<string, SpaceHost>} the spaces whose database is open here */
    this.spaceHosts = new Map();
    /** @type {Map<string, Promise<SpaceHost>>} */
    this.spaceOpening = new Map();
    /** @type {Map<string, Promise<void>>} spaces let go of whose database is still closing (a new open waits) */
    this.spaceClosing = new Map();
    /** @type {Set<SpaceHost>} those spaces (close() closes them at once) */
    this.lettingGo = new Set();
    /** Spaces the user is a member of, as the tabs and the user's pages told (a page of another space is malformed). @type {Set<string>} */
    this.members = new Set();
    store.onCommit = (ok, error) => {
      if (!ok) this.cursorHeld = true; // as in a page: the saved cursor stays below what may be lost
      this.broadcast({ type: 'storage', ok, error: error ? plain(error) : null });
    };
    const compacting = setTimeout(() => this.compact(), COMPACT_AFTER_MILLIS);
    /** @type {any} */ (compacting).unref?.(); // Node (tests): not a reason to keep running
  }

  /** A new tab's port. @param {MessagePort} port @param {any} hello the attach message */
  attach(port, hello) {
    /** @type {Tab} */
    const tab = { port, replica: '', syncing: false, applied: 0, spaceAsks: new Map() };
    this.tabs.set(port, tab);
    if (!this.server && hello.server) this.server = hello.server;
    if (Object.keys(this.tuning).length === 0) this.tuning = hello.tuning ?? {};
    if (hello.spaces) this.wantsSpaces = true;
    port.onmessage = (event) => this.receive(tab, event.data);
    if (hello.lock && typeof navigator !== 'undefined' && navigator.locks) {
      // Granted once the tab is gone (it holds the lock for its lifetime).
      navigator.locks.request(hello.lock, () => this.detach(tab));
    }
    this.refreshOthers();
    answer(tab, hello, { ok: true });
  }

  /** @private @param {Tab} tab @param {any} msg */
  receive(tab, msg) {
    switch (msg.type) {
      case 'write': if (msg.space !== undefined) this.spaceWrite(tab, msg); else this.write(tab, msg); break;
      case 'sync': this.startSync(tab, msg); break;
      case 'unsync': tab.syncing = false; this.syncersChanged(); break;
      case 'detach': this.detach(tab); break;
      case 'push': this.sync?.push(); break;
      case 'offline': this.sync?.setOffline(!!msg.offline); break;
      case 'resync':
        if (!this.sync) break;
        if (msg.cursor === 0) this.resetCursor();
        this.sync.resync(msg.cursor);
        break;
      case 'hold': this.coverCursor(msg.cursor, true); break;
      case 'idle': (msg.space !== undefined ? this.spaceHosts.get(msg.space)?.store ?? this.store : this.store).idle().then((ok) => answer(tab, msg, { ok })); break;
      case 'space-open': this.spaceOpen(tab, msg); break;
      case 'space-close': this.spaceClose(tab, msg.space); break;
      case 'space-presence': this.spacePresence(tab, msg.space, msg.state); break;
      case 'space-hold': this.spaceHosts.get(msg.space)?.coverCursor(msg.cursor, true); break;
      case 'space-sync-now': this.spaceSyncNow(tab, msg); break;
      case 'space-retake': this.spaceRetake(msg.space, msg.ids, msg.changes); break;
      case 'space-resync':
        if (msg.cursor === 0) this.spaceHosts.get(msg.space)?.resetCursor();
        this.sync?.spaces?.resync(msg.space, msg.cursor);
        break;
      case 'sync-now': this.syncNow(tab, msg); break;
      case 'applied': tab.applied = Math.max(tab.applied, msg.page); this.wakeApplied?.(); break;
      case 'token': this.tokenAnswers.get(msg.id)?.(msg); break;
      default:
    }
  }

  /**
   * A tab's save: its chunk, outbox rows and settings, in the host's next transaction (with
   * whatever else is queued in this task); answered once it committed.
   * @private @param {Tab} tab @param {{id: number, changes: Change[], rows: Array<{store: 'outbox'|'meta', key: string, value?: string, guard: boolean}>}} msg
   */
  write(tab, msg) {
    /** @type {Array<Promise<boolean>>} */
    const done = [];
    if (msg.changes.length) done.push(this.store.putChanges(msg.changes));
    let outbox = false;
    for (const r of msg.rows) {
      const kv = r.store === 'outbox' ? this.outbox.kv : this.meta;
      if (r.store === 'outbox') outbox = true;
      if (r.value === undefined) /** @type {MirrorKv} */ (kv).delete(r.key);
      else {
        /** @type {MirrorKv} */ (kv).mirror.set(r.key, r.value);
        done.push(this.store.putRow(r.store, r.key, r.value, r.guard));
      }
    }
    if (outbox) {
      this.outbox.reload();
      this.sync?.push(); // the rows are pushed while their transaction commits, as in a page
    }
    Promise.all(done).then((oks) => answer(tab, msg, { ok: oks.every(Boolean) }));
  }

  /** @private @param {Tab} tab @param {{id: number, replica: string}} msg */
  startSync(tab, msg) {
    tab.syncing = true;
    tab.replica = msg.replica;
    this.syncersChanged();
    /** @type {SyncClient|null} */
    let replaced = null;
    if (this.sync && this.wantsSpaces && !this.sync.spaces) {
      // The first tab did not sync spaces, this one does: the session starts again naming them.
      replaced = this.sync;
      replaced.stop();
      this.sync = null;
    }
    if (!this.sync && this.server) {
      this.sync = new SyncClient({
        url: this.server.url,
        token: () => this.token(),
        replica: this.replica,
        user: this.user,
        cursor: this.savedCursor,
        pending: () => this.pending(),
        isPending: (id) => this.outbox.has(id),
        acked: (ids) => {
          this.outbox.remove(ids);
          this.toSyncing({ type: 'acked', ids });
        },
        apply: (_changes, cursor, entries) => this.applyPage(entries, cursor),
        covered: (cursor) => this.coverCursor(cursor),
        reset: () => this.resetCursor(),
        onLimits: (max) => this.toSyncing({ type: 'limits', maxFrameBytes: max }),
        onStatus: (status) => this.toSyncing({ type: 'status', status, ...this.syncState() }),
        onError: (error) => this.toSyncing({ type: 'error', error, ...this.syncState() }),
        WebSocket: this.env.WebSocket,
        fetch: this.env.fetch,
        ...(this.env.random ? { random: this.env.random } : {}),
        ...(this.wantsSpaces ? { spaces: hostDirectory(this) } : {}),
        ...this.tuning,
      });
      replaced?.handOverWaiters(this.sync); // the tabs' pending syncNow calls settle on the new client
      this.sync.start();
    } else this.sync?.start();
    answer(tab, msg, { status: this.sync?.status ?? 'offline', ...this.syncState() });
  }

  /** @private */
  syncState() {
    return {
      cursor: this.sync?.cursor ?? this.savedCursor, lastError: this.sync?.lastError ?? null, lastSync: this.sync?.lastSync ?? null,
      offline: this.sync?.offline ?? false, saved: this.savedCursor,
    };
  }

  /** Unacknowledged local changes of every tab that syncs through the host, and of tabs that are gone; oldest first. @private */
  pending() {
    const privacy = this.readMeta('privacy', {});
    const deleted = this.readMeta('privacy-deleted', {});
    return this.outbox.entries().filter((e) => {
      if (this.others.has(e.replica)) return false; // that tab pushes it itself
      return privacy[e.change.section] !== false || isPrivacyClear(deleted, e.change);
    });
  }

  /**
   * A page from the server: its changes are saved in one chunk with the cursor that covers them
   * (one transaction, as in a page, possibly with the next pages'), and sent to the syncing tabs;
   * the next page is decoded once the tabs applied this one (or TAB_APPLY_WAIT_MILLIS passed) and
   * at most PAGES_UNSAVED pages are not committed yet.
   * Server changes of keys the tabs keep in memory or sessionStorage only are not saved here: the
   * saved cursor stays below them, as in a page (sync-port.js coverCursor).
   * @private @param {Array<{seq: number, change: Change}>} entries @param {number} cursor
   */
  applyPage(entries, cursor) {
    const privacy = this.readMeta('privacy', {});
    const persistTo = persistToLookup(this.readPolicies());
    /** @type {Change[]} */
    const durable = [];
    /** @type {Change[]} */
    const changes = [];
    let covered = cursor;
    for (const { seq, change } of entries) {
      if (change.section === 'spaces' && change.op === 'set') this.members.add(change.key);
      else if (change.section === 'spaces' && change.op === 'delete') this.members.delete(change.key);
      if (privacy[change.section] === false) continue; // switched off on this device (privacy.js)
      changes.push(change);
      const key = change.op === 'set' || change.op === 'delete' ? change.key : undefined;
      if (isDurable(persistTo(change.section, key))) durable.push(change);
      else covered = Math.min(covered, seq - 1);
    }
    if (durable.length) this.store.putChanges(durable);
    this.coverCursor(covered, covered < cursor);
    const page = ++this.page;
    this.toSyncing({ type: 'page', page, chunk: pack(changes) });
    this.toSyncing({ type: 'cursor', cursor, saved: this.savedCursor });
    this.unsaved.push(this.store.settled()); // this page and its cursor
    const oldest = this.unsaved.length > PAGES_UNSAVED ? this.unsaved.shift() : undefined;
    return Promise.all([oldest, this.tabsApplied(page - 1)]).then(() => {});
  }

  /** Resolves once every syncing tab applied page `n` (or after TAB_APPLY_WAIT_MILLIS). @private @param {number} n */
  tabsApplied(n) {
    const done = () => [...this.tabs.values()].every((t) => !t.syncing || t.applied >= n);
    if (n <= 0 || done()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, TAB_APPLY_WAIT_MILLIS);
      const self = this;
      function finish() {
        clearTimeout(timer);
        self.wakeApplied = null;
        resolve(undefined);
      }
      /** @type {(() => void)|null} */
      this.wakeApplied = () => { if (done()) finish(); };
    });
  }

  /** As sync-port.js coverCursor (IndexedDB): the cursor goes into the transaction of the page it covers. @private @param {number} upTo @param {boolean} [hold] */
  coverCursor(upTo, hold = false) {
    if (this.cursorHeld) return;
    if (hold) this.cursorHeld = true;
    const target = Math.max(0, upTo);
    if (target !== this.savedCursor) {
      this.meta.set(`cairn:${this.user}:cursor`, JSON.stringify(target));
      this.savedCursor = target;
    }
  }

  /** @private */
  resetCursor() {
    this.cursorHeld = false;
    this.meta.set(`cairn:${this.user}:cursor`, '0');
    this.savedCursor = 0;
  }

  /** A token from a syncing tab (the newest first; the next one if it does not answer). @private */
  async token() {
    const syncing = [...this.tabs.values()].filter((t) => t.syncing).reverse();
    let last = 'no tab syncs';
    for (const tab of syncing) {
      const id = ++this.tokenAsks;
      const got = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ error: 'the tab did not answer' }), TOKEN_WAIT_MILLIS);
        this.tokenAnswers.set(id, (a) => { clearTimeout(timer); resolve(a); });
        tab.port.postMessage({ type: 'token?', id });
      });
      this.tokenAnswers.delete(id);
      if (typeof got.token === 'string') return got.token;
      last = got.error;
    }
    throw new Error(last);
  }

  /** @private @param {Tab} tab @param {{id: number}} msg */
  async syncNow(tab, msg) {
    try {
      const mark = this.sync?.mark() ?? null; // a space refused or left while the store settles fails this call too
      await this.store.idle();
      if (!this.sync) throw Object.assign(new Error('no sync server configured'), { code: 'offline' });
      await this.sync.syncNow(mark);
      answer(tab, msg, {});
    } catch (e) {
      answer(tab, msg, { error: { code: /** @type {any} */ (e).code ?? 'internal', message: /** @type {Error} */ (e).message } });
    }
  }

  /** Stops the socket and closes every port and the database (tests; a worker just ends). */
  close() {
    this.sync?.stop();
    for (const tab of [...this.tabs.values()]) this.detach(tab);
    this.store.close();
    for (const space of [...this.spaceHosts.values(), ...this.lettingGo]) space.close();
  }

  // ------------------------------------------------------------------ spaces (space-host.js)

  /** The space's database, opened on first use. @param {string} id @returns {Promise<SpaceHost>} */
  openSpace(id) {
    let opening = this.spaceOpening.get(id);
    if (!opening) {
      opening = Promise.resolve(this.spaceClosing.get(id)).then(() => SpaceHost.open(this, id, this.factory))
        .then((space) => { this.spaceHosts.set(id, space); return space; });
      opening.catch(() => this.spaceOpening.delete(id));
      this.spaceOpening.set(id, opening);
    }
    return opening;
  }

  /**
   * A tab opened a space: it gets the space's messages from now on, and the answer once every page
   * saved before is committed, so the tab's read of the database misses none (later ones it gets).
   * @private @param {Tab} tab @param {{id: number, space: string, member?: boolean, drop?: boolean}} msg
   */
  async spaceOpen(tab, msg) {
    const ask = { gaveUp: false };
    tab.spaceAsks.set(msg.space, ask);
    try {
      let space = await this.openSpace(msg.space);
      // Let go of meanwhile (another tab's open that gave up): opened again.
      while (this.spaceHosts.get(msg.space) !== space && !ask.gaveUp && this.tabs.has(tab.port)) space = await this.openSpace(msg.space);
      if (ask.gaveUp || !this.tabs.has(tab.port)) {
        // The tab stopped waiting (space-close after its timeout: it opened the space itself) or is gone.
        this.letGoOfSpace(msg.space);
        answer(tab, msg, { error: { code: 'not-open', message: `the space ${msg.space} was closed before it opened here` } });
        return;
      }
      if (msg.member) this.members.add(msg.space);
      if (msg.drop) space.drop = true;
      space.tabs.add(tab.port);
      const ok = await space.store.idle();
      answer(tab, msg, { ok, state: space.state, peers: space.peers, left: space.leftReason, cursor: this.sync?.spaces?.channels.get(msg.space)?.puller.cursor ?? space.savedCursor });
    } catch (e) {
      answer(tab, msg, { error: plain(e) });
    } finally {
      if (tab.spaceAsks.get(msg.space) === ask) tab.spaceAsks.delete(msg.space);
    }
  }

  /**
   * A tab closed a space, or gave up opening it here (it then opens the space in the page). With no
   * tab left on it the host lets go of the space (letGoOfSpace).
   * @private @param {Tab} tab @param {string} id
   */
  spaceClose(tab, id) {
    const ask = tab.spaceAsks.get(id);
    if (ask) ask.gaveUp = true; // its space-open is still under way: spaceOpen lets go once it is open
    tab.spaceAsks.delete(id);
    const space = this.spaceHosts.get(id);
    if (!space) return;
    space.tabs.delete(tab.port);
    this.leftPresence(tab, id, space);
    this.letGoOfSpace(id);
  }

  /**
   * No tab has the space open: its database closes here (after what is queued and any compaction)
   * and the session forgets it, so no hello names it and no page of it is saved here, while a tab
   * may own the database itself (a space that fell back to the page, space-link.js). A page of it
   * on the session, a welcome naming it or a tab's space-open opens it again.
   * @private @param {string} id
   */
  letGoOfSpace(id) {
    const space = this.spaceHosts.get(id);
    if (!space || space.tabs.size > 0) return;
    this.spaceHosts.delete(id);
    this.spaceOpening.delete(id);
    this.sync?.spaces?.close(id);
    this.lettingGo.add(space);
    const closing = Promise.all([space.compacting, space.forgetting]).then(() => space.store.idle())
      .catch(() => false).then(() => {
        space.close();
        this.lettingGo.delete(space);
        if (this.spaceClosing.get(id) === closing) this.spaceClosing.delete(id);
      });
    this.spaceClosing.set(id, closing);
  }

  /** A tab's save of a space's rows, as write(). @private @param {Tab} tab @param {any} msg */
  async spaceWrite(tab, msg) {
    const space = this.spaceHosts.get(msg.space);
    if (!space) {
      answer(tab, msg, { ok: false });
      return;
    }
    /** @type {Array<Promise<boolean>>} */
    const done = [];
    if (msg.changes.length) done.push(space.store.putChanges(msg.changes));
    let outbox = false;
    for (const r of msg.rows) {
      const kv = r.store === 'outbox' ? space.outbox.kv : space.meta;
      if (r.store === 'outbox') outbox = true;
      if (r.value === undefined) /** @type {MirrorKv} */ (kv).delete(r.key);
      else {
        /** @type {MirrorKv} */ (kv).mirror.set(r.key, r.value);
        done.push(space.store.putRow(r.store, r.key, r.value, r.guard));
      }
    }
    if (outbox) {
      space.outbox.reload();
      this.sync?.push();
    }
    Promise.all(done).then((oks) => answer(tab, msg, { ok: oks.every(Boolean) }));
  }

  /**
   * A tab's presence in a space (null: withdrawn). The socket carries one presence per space: the
   * last a tab still open set, so when that tab withdraws it or goes, another tab's comes back.
   * @private @param {Tab} tab @param {string} id @param {unknown} state
   */
  spacePresence(tab, id, state) {
    const space = this.spaceHosts.get(id);
    if (!space) return;
    const before = space.myPresence;
    space.presences.delete(tab.port);
    if (state !== null) space.presences.set(tab.port, state);
    this.presenceChanged(id, space, before);
  }

  /** A tab left a space (closed it, or went): its presence goes with it. @private @param {Tab} tab @param {string} id @param {SpaceHost} space */
  leftPresence(tab, id, space) {
    const before = space.myPresence;
    if (space.presences.delete(tab.port)) this.presenceChanged(id, space, before);
  }

  /** @private @param {string} id @param {SpaceHost} space @param {unknown} before the socket's presence before */
  presenceChanged(id, space, before) {
    const now = space.myPresence;
    if (now !== before) this.sync?.spaces?.setPresence(id, now === undefined ? null : now);
  }

  /**
   * A tab dropped refused changes (space.js dropRefused; `changes`: those it rolled back): they
   * leave the refused list, the space's database and every tab, and the space is taken again from
   * 0, so what they replaced comes back from the server.
   * @private @param {string} id @param {string[]} ids @param {Change[]} changes
   */
  async spaceRetake(id, ids, changes) {
    const space = this.spaceHosts.get(id);
    if (!space) return;
    const retake = changes.length > 0 && !space.leftReason;
    // Cursor 0 is committed before the chunks lose the values (a saved cursor never covers data
    // that is gone), and held there until the new session: the old one's pages must not raise it.
    if (retake) {
      space.resetCursor();
      space.cursorHeld = true;
    }
    await space.forget(ids, changes);
    if (!retake) return;
    space.resetCursor();
    this.sync?.spaces?.retake(id);
  }

  /** @private @param {Tab} tab @param {{id: number, space: string}} msg */
  async spaceSyncNow(tab, msg) {
    try {
      await this.spaceHosts.get(msg.space)?.store.idle();
      const spaces = this.sync?.spaces;
      if (!spaces) throw Object.assign(new Error('no sync server configured'), { code: 'offline' });
      await spaces.syncNow(msg.space);
      answer(tab, msg, {});
    } catch (e) {
      answer(tab, msg, { error: { code: /** @type {any} */ (e).code ?? 'internal', message: /** @type {Error} */ (e).message } });
    }
  }

  /** @private @param {Tab} tab */
  detach(tab) {
    if (!this.tabs.delete(tab.port)) return;
    for (const [id, space] of this.spaceHosts) {
      space.tabs.delete(tab.port);
      this.leftPresence(tab, id, space);
    }
    try { tab.port.close(); } catch { /* gone */ }
    this.syncersChanged();
    this.wakeApplied?.();
  }

  /** @private */
  syncersChanged() {
    this.refreshOthers();
    if (this.sync && ![...this.tabs.values()].some((t) => t.syncing)) {
      // Nobody syncs through the host: the socket closes (a tab that asks again reopens it).
      this.sync.stop();
    }
  }

  /** Live replicas that do not sync through the host push their own entries. @private */
  async refreshOthers() {
    const live = await liveReplicas();
    const mine = new Set([...this.tabs.values()].filter((t) => t.syncing).map((t) => t.replica));
    this.others = new Set([...(live ?? [])].filter((r) => !mine.has(r)));
  }

  /** @private @param {any} msg */
  toSyncing(msg) {
    for (const t of this.tabs.values()) if (t.syncing) t.port.postMessage(msg);
  }

  /** @param {any} msg */
  broadcast(msg) {
    for (const t of this.tabs.values()) t.port.postMessage(msg);
  }

  /** @private @param {string} name @param {any} fallback */
  readMeta(name, fallback) {
    try {
      const text = this.meta.get(`cairn:${this.user}:${name}`);
      return text === null ? fallback : JSON.parse(text);
    } catch {
      return fallback;
    }
  }

  /** The tabs' storage policies (written by them into meta as 'policies'; space-host.js saves a space's pages by them too). */
  readPolicies() {
    return this.readMeta('policies', null);
  }

  /** The sections the tabs told (their `sections` setting, written when they sync through the host), or null. @returns {Record<string, 'map'|'log'>|null} */
  readKinds() {
    return this.readMeta('sections', null);
  }

  /** Compacts the stored chunks when worth it, off every page's main thread; resolves with whether it did. */
  compact() {
    // One at a time: two would both replace the same chunks, each adding the merge.
    if (!this.compacting) this.compacting = this.compactNow().finally(() => { this.compacting = null; });
    return this.compacting;
  }

  /** @private */
  async compactNow() {
    try {
      const kinds = this.readMeta('sections', null);
      if (!kinds) return false;
      return await compactIfWorth(this.store, (s) => kinds[s]);
    } catch (e) {
      this.broadcast({ type: 'storage-error', error: plain(/** @type {Error} */ (e)) });
      return false;
    }
  }
}

/** @param {Tab} tab @param {{id?: number}} msg @param {object} body */
function answer(tab, msg, body) {
  if (msg.id !== undefined) tab.port.postMessage({ type: 'answer', id: msg.id, ...body });
}

/** An error as a message can carry it. @param {any} e */
function plain(e) {
  return { code: e?.code ?? 'storage-unavailable', message: e?.message ?? String(e), name: e?.cause?.name ?? e?.name ?? 'Error' };
}

/**
 * A new port: its first message must be `attach`, which hands it to the user's host (opened on
 * the first attach). @param {MessagePort} port @param {Map<string, Promise<SyncHost>>} hosts
 * @param {IDBFactory} [factory] @param {HostEnv} [env] (tests)
 */
export function acceptPort(port, hosts, factory, env) {
  port.onmessage = async (event) => {
    const msg = event.data;
    if (msg?.type !== 'attach') return; // a port speaks only once attached
    port.onmessage = null;
    try {
      if (!hosts.has(msg.user)) hosts.set(msg.user, SyncHost.open(msg.user, factory, env));
      (await /** @type {Promise<SyncHost>} */ (hosts.get(msg.user))).attach(port, msg);
    } catch (e) {
      hosts.delete(msg.user);
      port.postMessage({ type: 'answer', id: msg.id, error: `its IndexedDB could not be opened: ${/** @type {Error} */ (e)?.message ?? e}` });
    }
  };
  port.start?.();
}
