// The façade: the JavaScript twin of dev.cairn.engine.Cairn and its typed handles.
//
//   const cairn = await Cairn.open({ user: 'alice', server: { url: 'ws://host/sync', token: () => token } });
//   const settings = cairn.state('settings', { name: '' }, { saveDelay: 500, validate: (s) => typeof s.name === 'string' });
//   settings.setValue((prev) => ({ ...prev, name: 'Ada' }));
//   cairn.cards.card('intro').toggle();
//
// Writes land in memory at once (ReplicaState), are told to listeners and to the other tabs
// (BroadcastChannel), and reach their storage tiers after `saveDelay` (debounced) or `save()`;
// syncing writes go into the durable outbox in the same step and are pushed by the SyncClient.
// While the socket is up, syncing writes are saved at once so they can be pushed without waiting.

import { HybridClock, hlcHex } from './stamp.js';
import { ReplicaState } from './crdt.js';
import {
  encodeValue, decodeValue, makeChange, encodeChange, decodeChange, canonical, checkSection, WHOLE_SECTION,
} from './codec.js';
import { ChangeTier, Outbox, StorageError } from './storage.js';
import { IdbStore, IdbTier, MirrorKv, dbName } from './idb-store.js';
import { StorageStatus } from './storage-status.js';
/** @typedef {import('./sync.js').SyncClient} SyncClient */
import { Persister, DEFAULT_POLICY, checkPolicy } from './persister.js';
import * as privacy from './privacy.js';
import * as transfer from './transfer.js';
import * as port from './sync-port.js';
import { openStores, loadState, compactLater } from './open.js';
import { startWorker, useWorker, bindWorker } from './worker/tab-link.js';
import { FieldIndex } from './field-index.js';

export { ChangeTooLargeError } from './sync-port.js';
import { StateHandle, Cards, Components, Consent, Progress, Chat, KeyValues, Preferences } from './handles.js';

export { DEFAULT_POLICY, ValidationError } from './persister.js';
export { StateHandle, Cards, Components, Consent, Progress, Chat, KeyValues, Preferences } from './handles.js';
import { E2eKey, ValueCipher, ChangeCipher } from './crypto.js';
import { isSpaceId } from './protocol.js';
import * as membership from './space/membership.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {import('./persister.js').Policy} Policy */
/** @typedef {import('./persister.js').PersistTo} PersistTo */

/** The standard sections (dev.cairn.engine.section.StandardSections). */
export const STANDARD_SECTIONS = Object.freeze({
  preferences: 'map', ui: 'map', memory: 'map', features: 'map', cards: 'map', components: 'map', progress: 'map', state: 'map',
  chat: 'log', consent: 'log',
});

/**
 * @typedef {object} OpenOptions
 * @property {string} user the signed-in user (storage is kept per user)
 * @property {{url: string, token: () => (string|Promise<string>)}|null} [server] sync server; none: local only
 * @property {'browser'|'memory'} [storage] 'memory' for tests and when nothing may be stored
 * @property {string} [replica] fixed replica id (default: one per tab)
 * @property {() => number} [wall]
 * @property {number} [maxAheadMillis]
 * @property {Record<string, 'map'|'log'>} [sections] app sections beyond the standard ones
 * @property {Record<string, Partial<Policy>>} [policies] per-section policies
 * @property {boolean} [startSync] default true
 * @property {typeof WebSocket} [WebSocket]
 * @property {{local?: import('./storage.js').Kv, session?: import('./storage.js').Kv, logs?: import('./storage.js').Kv, outbox?: import('./storage.js').Kv}} [kv]
 * @property {BroadcastChannel|null} [channel]
 * @property {IDBFactory} [indexedDB] the IndexedDB to use in a browser (default: the global one; tests pass fake-indexeddb)
 * @property {StorageManager} [storageManager] for persist() and estimate() (default: navigator.storage)
 * @property {EndToEndOptions} [endToEnd] encrypt these sections' values on the device (see enableEndToEnd)
 * @property {typeof fetch} [fetch] for usage(), history() and to learn why a socket was refused (default: the global fetch)
 * @property {'shared'|'dedicated'|'none'} [worker] 'shared' (default where SharedWorker exists): the socket and the IndexedDB
 *   writes run in one shared worker per user, for all its tabs; 'dedicated' (the default where only Worker exists): in a
 *   worker of this tab's own (one socket per tab); 'none': in this page (also without Worker, and with an app `WebSocket`,
 *   `indexedDB` or `kv`). End-to-end encryption syncs in the page (the key stays there).
 * @property {MessagePort} [workerPort] tests: a port to a SyncHost (worker/sync-host.js) to use instead of a SharedWorker
 * @property {boolean} [spaces] sync the user's spaces too (PROTOCOL.md 8, `cairn.space(id)`): the hello names them and the
 *   socket carries their pages; through the sync worker like the user's state (each space's database is the worker's then)
 * @property {'keep'|'drop'} [onSpaceLeft] when the user leaves a space, is removed or it is deleted: 'keep' (default) the
 *   local copy (read-only in effect: the server refuses its pushes) or 'drop' it from this device
 * @property {Partial<import('./sync.js').SyncClientOptions>} [sync] sync tuning (spec/vectors/sync/README.md): batchSize,
 *   maxInFlight, maxFrameBytes (default 1 MiB: a change whose push frame alone is larger is refused when written), backoff...
 */

/** How far ahead of the stamps issued the saved clock mark reaches: the clock is saved at most once per this much stamp time. */
const CLOCK_LEASE_MILLIS = 2000n;

/**
 * @typedef {object} EndToEndOptions
 * @property {string} passphrase the user's passphrase; never stored, never sent
 * @property {string[]} sections e.g. ['chat', 'memory']
 * @property {number} [iterations] PBKDF2 rounds, default 600000 (every device of the user must use the same)
 */

/** @typedef {{changes: Change[], origin: 'local'|'remote'|'tab'|'import'}} ChangeEvent */

export class Cairn {
  /** @param {OpenOptions} options */
  static async open(options) {
    if (!options || typeof options.user !== 'string' || options.user === '') throw new TypeError('Cairn.open needs a user');
    if (!USER_ID.test(options.user)) {
      // The server's rule for a token's sub; the device's databases are named after the user too.
      throw new TypeError(`user must be 1-128 characters of A-Z a-z 0-9 . _ @ - (the token's sub), not ${JSON.stringify(options.user).slice(0, 140)}`);
    }
    checkSections(options.sections);
    checkServer(options.server);
    const browser = (options.storage ?? 'browser') === 'browser';
    /** @type {Array<(e: Error) => void>} */
    const errorSinks = [];
    const onError = (/** @type {Error} */ e) => errorSinks.forEach((f) => f(e));
    // Sync and IndexedDB writes in the user's shared worker where it runs (worker/), else in this
    // page; the worker starts while the page reads the device.
    // Spaces sync through the worker too (worker/space-host.js); with end-to-end encryption in the
    // page, as the user's state does (the key stays there).
    const starting = startWorker(options.spaces && options.endToEnd ? { ...options, worker: 'none' } : options);
    const { replica, kv, idb, notes } = await openStores(options, browser, onError);
    const worker = await useWorker(starting, replica, idb, notes);
    const cairn = new Cairn(options, replica, kv, errorSinks, idb);
    cairn.worker = worker;
    if (worker) bindWorker(worker, cairn);
    // Told after open() returns, so listeners the app adds right away hear them; kept in storageNotes too.
    cairn.storageNotes = notes;
    if (notes.length) setTimeout(() => notes.forEach((n) => cairn.emit('error', Object.assign(new Error(n), { code: 'storage-unavailable' }))), 0);
    if (browser && !idb) cairn.storageStatus.unavailable(notes.join('; '));
    await cairn.load(browser);
    if (idb && !worker) compactLater(cairn, idb.snapshot); // the worker compacts, off the main thread
    // Persistence and the first estimate are asked in the background: reads do not wait for them.
    if (browser) cairn.storageStatus.start();
    // The replicas of the spaces the user is a member of open before the socket: hello names their cursors.
    if (options.spaces) await Promise.all(cairn.spaces().map((s) => cairn.space(s.id).catch((e) => cairn.emit('error', e))));
    if (options.endToEnd) {
      try {
        await cairn.enableEndToEnd(options.endToEnd);
      } catch (e) {
        cairn.channel?.close();
        throw e;
      }
    }
    if (options.server && options.startSync !== false) cairn.startSync();
    return cairn;
  }

  /**
   * Deletes the IndexedDB databases this device keeps for `user` (sign-out with "remove the data"):
   * the user's and every space's (`cairn-<user>/space/<id>`: those of `spaces` and those the
   * browser lists). Close the user's Cairn first. Resolves to false when one could not be deleted
   * now, e.g. another tab (or the sync worker, until it ends) still holds it open: the browser
   * deletes it once that connection closes.
   * @param {string} user @param {{indexedDB?: IDBFactory, spaces?: string[]}} [options]
   * @returns {Promise<boolean>}
   */
  static async removeDeviceDatabases(user, { indexedDB: factory = globalThis.indexedDB, spaces = [] } = {}) {
    if (!factory) return true;
    const names = new Set([dbName(user), ...spaces.map((id) => dbName(`${user}/space/${id}`))]);
    try {
      for (const d of (await factory.databases?.()) ?? []) if (d.name?.startsWith(`${dbName(user)}/space/`)) names.add(d.name);
    } catch { /* databases() is missing (older browsers): the named spaces go */ }
    const deleted = await Promise.all([...names].map((name) => new Promise((resolve) => {
      const req = factory.deleteDatabase(name);
      req.onsuccess = () => resolve(true);
      req.onerror = () => resolve(false);
      req.onblocked = () => resolve(false);
    })));
    return deleted.every(Boolean);
  }

  /**
   * Use Cairn.open.
   * @param {OpenOptions} options @param {string} replica
   * @param {{local: import('./storage.js').Kv, session: import('./storage.js').Kv, logs: import('./storage.js').Kv, outbox: import('./storage.js').Kv}} kv
   * @param {Array<(e: Error) => void>} errorSinks
   * @param {{store: IdbStore, reader?: IdbStore, snapshot: {chunks: import('./chunk.js').Chunk[], stored: number, chunkKeys: IDBValidKey[], outbox: Map<string, string>, meta: Map<string, string>}}|null} [idb]
   *   the user's IndexedDB database (browser): every durable tier lives there
   */
  constructor(options, replica, kv, errorSinks, idb = null) {
    this.user = options.user;
    this.replica = replica;
    this.options = options;
    this.wall = options.wall ?? Date.now;
    /** @type {Record<string, 'map'|'log'>} */
    this.kinds = { ...STANDARD_SECTIONS, ...(options.sections ?? {}), ...(options.spaces ? { spaces: 'map' } : {}) };
    /** Sections only the server writes (PROTOCOL.md 8): a local write of them is refused with `forbidden`. @type {Set<string>} */
    this.readOnlySections = options.spaces ? new Set(['spaces']) : new Set();
    /** @type {Map<string, import('./space/space.js').Space>} the spaces whose replica is open */
    this.openSpaces = new Map();
    /** @type {Map<string, Promise<import('./space/space.js').Space>>} */
    this.spaceOpening = new Map();
    this.replicaState = new ReplicaState((s) => this.kinds[s]);
    this.clock = new HybridClock(this.wall, replica, options.maxAheadMillis ?? 60_000);
    const prefix = `${this.user}\u0000`;
    const report = (/** @type {Error} */ e) => this.emit('error', e);
    errorSinks.push(report);
    /** @type {IdbStore|null} */
    this.store = idb?.store ?? null;
    this.storageStatus = new StorageStatus(idb ? 'indexedDB' : options.storage === 'memory' ? 'memory' : 'localStorage',
      (type, payload) => this.emit(type, payload), options.storageManager);
    if (idb) {
      // One database: 'localStorage' (durable on this device) and the logs are both served by it.
      const tier = new IdbTier(idb.store, idb.reader ?? null, idb.snapshot);
      this.tiers = { sessionStorage: new ChangeTier(kv.session, `cairn:${prefix}`, report), localStorage: tier, indexedDB: tier };
      this.outbox = new Outbox(new MirrorKv(idb.store, 'outbox', idb.snapshot.outbox), `${prefix}o\u0001`, report);
      this.settingsStore = new MirrorKv(idb.store, 'meta', idb.snapshot.meta, (k) => k.endsWith(':cursor'));
      idb.store.onCommit = (ok, error) => {
        if (!ok) this.cursorHeld = true; // a write the next cursor covers may be lost: keep the saved one below it
        this.storageStatus.committed(ok, error);
      };
    } else {
      this.tiers = {
        sessionStorage: new ChangeTier(kv.session, `cairn:${prefix}`, report),
        localStorage: new ChangeTier(kv.local, `cairn:${prefix}`, report),
        indexedDB: new ChangeTier(kv.logs, prefix, report),
      };
      this.outbox = new Outbox(kv.outbox, `${prefix}o\u0001`, report);
      this.settingsStore = kv.local;
    }
    this.kv = kv;
    /** @type {string[]} problems found at open (a store unavailable) */
    this.storageNotes = [];
    this.settingsFailing = false;
    // The saved sync cursor (PROTOCOL.md 3.2), see coverCursor.
    const stored = this.readSetting('cursor', 0);
    /** The cursor saved in localStorage: every server change up to it is saved durably on this device. */
    this.savedCursor = Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
    /** Set when this page kept a server change outside durable storage: the saved cursor stays below it until the next load. */
    this.cursorHeld = false;
    /** @type {Promise<void>} cursor saves, in order, each after the writes it covers */
    this.cursorChain = Promise.resolve();
    /** @type {Promise<boolean>|null} the transaction holding the last page from the server (IndexedDB) */
    this.lastPage = null;
    /** @type {Array<Promise<boolean>>} pages from the server whose transaction may still be committing (sync-port.js pace) */
    this.pagesInFlight = [];
    /** @type {ReturnType<typeof setTimeout>|null} see compactLater */
    this.compactTimer = null;
    /** @type {Map<string, Policy>} */
    this.sectionPolicies = new Map();
    for (const [s, p] of Object.entries(options.policies ?? {})) this.sectionPolicies.set(s, checkPolicy({ ...DEFAULT_POLICY, ...p, delayed: 'saveDelay' in p }));
    /** @type {Map<string, Policy>} */
    this.keyPolicies = new Map();
    this.persister = new Persister(this);
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
    /** Where the fields of each persistent value are; told of changes before any listener of the app. */
    this.fieldIndex = new FieldIndex(this.replicaState);
    this.on('change', (/** @type {ChangeEvent} */ e) => this.fieldIndex.changed(e.changes));
    /** @type {SyncClient|null} */
    this.sync = null;
    /** @type {import('./worker/tab-link.js').WorkerLink|null} the sync worker, shared or dedicated (`kind`; set by open) */
    this.worker = null;
    /** @type {ChangeCipher|null} seals and opens the end-to-end encrypted sections at the sync boundary */
    this.cipher = null;
    /** @type {string|null} id of the end-to-end key (not secret: it tells keys apart) */
    this.keyId = null;
    this.privacy = this.readSetting('privacy', {});
    /** @type {Record<string, string>} section -> stamp of the clear a 'delete' privacy switch sent to the server */
    this.privacyDeleted = this.readSetting('privacy-deleted', {});
    /** @type {bigint} the clock mark saved in localStorage: no stamp at or below it is ever issued again */
    this.clockMark = 0n;
    /** @type {number|null} the server's frame limit, from its welcome */
    this.serverFrameBytes = null;

    this.cards = new Cards(this);
    this.components = new Components(this);
    this.consent = new Consent(this);
    this.progress = new Progress(this);
    this.chat = new Chat(this);
    this.memory = new KeyValues(this, 'memory');
    this.preferences = new Preferences(this);
    this.ui = new KeyValues(this, 'ui');
    this.features = new KeyValues(this, 'features');

    this.channel = options.channel !== undefined ? options.channel
      : typeof BroadcastChannel !== 'undefined' && (options.storage ?? 'browser') === 'browser' ? new BroadcastChannel(`cairn-${this.user}`) : null;
    if (this.channel) {
      this.channel.onmessage = (event) => {
        const msg = event.data;
        if (!msg || msg.from === this.replica) return;
        if (msg.type === 'changes') this.merge(msg.changes.map(decodeChange), 'tab');
        else if (msg.type === 'privacy') {
          const before = this.privacy;
          // The message carries the switches: with IndexedDB each tab reads settings from its own
          // copy (MirrorKv), which the other tab's write does not reach.
          if (this.store && msg.privacy) {
            /** @type {MirrorKv} */ (this.settingsStore).mirror.set(`cairn:${this.user}:privacy`, JSON.stringify(msg.privacy));
            /** @type {MirrorKv} */ (this.settingsStore).mirror.set(`cairn:${this.user}:privacy-deleted`, JSON.stringify(msg.privacyDeleted ?? {}));
          }
          this.privacy = this.readSetting('privacy', {});
          this.privacyDeleted = this.readSetting('privacy-deleted', {});
          // A section turned back on in another tab: this tab skipped its server changes too.
          if (Object.keys(before).some((s) => before[s] === false && this.privacy[s] !== false)) this.sync?.resync(0);
          this.emit('change', { changes: [], origin: 'tab' });
        }
      };
    }
  }

  /** Reads what this device keeps (open.js). @private @param {boolean} browser */
  load(browser) {
    return loadState(this, browser);
  }

  // ------------------------------------------------------------------ sections and policies

  /** @param {string} section */
  kind(section) {
    return this.kinds[section];
  }

  /** The policy of one key (its own, else its section's, else the default). @param {string} section @param {string} [key] */
  policyFor(section, key) {
    // No key string is built while no key has its own policy (a catch-up asks once per change).
    return (key !== undefined && this.keyPolicies.size > 0 && this.keyPolicyOf(section, key)) || this.sectionPolicies.get(section) || DEFAULT_POLICY;
  }

  /** A key's own policy; a field entry `K#a#b` of a persistent value has the policy of `K`. @private @param {string} section @param {string} key */
  keyPolicyOf(section, key) {
    const own = this.keyPolicies.get(`${section}\u0000${key}`);
    if (own) return own;
    const cut = key.indexOf('#');
    return cut > 0 ? this.keyPolicies.get(`${section}\u0000${key.slice(0, cut)}`) : undefined;
  }

  /** Sets a section's policy. @param {string} section @param {Partial<Policy>} policy */
  setPolicy(section, policy) {
    const before = this.policyFor(section);
    this.sectionPolicies.set(section, checkPolicy({ ...before, ...policy, delayed: 'saveDelay' in policy || !!before.delayed }));
  }

  /** Whether a section syncs (the policy and the user's privacy switch). @param {string} section */
  isSyncing(section) {
    return this.policyFor(section).sync && this.privacy[section] !== false;
  }

  /**
   * The privacy switch of a section, as the engine's disableSync/enableSync. Off: this device's
   * writes to it stay here and the server's changes to it are not applied here; `serverCopy` is the
   * user's choice for the copy the server already has: 'keep' it, or 'delete' it (a clear of the
   * section is pushed but not applied here, so the server purges its copy and the user's other
   * devices lose theirs too, while this device keeps its own). On: what stayed local is pushed
   * (after 'delete', what the clear removed is written again with new stamps) and the client
   * catches up from the start, bringing in what changed meanwhile.
   * @param {string} section @param {boolean} on @param {'keep'|'delete'} [serverCopy]
   */
  setSectionSync(section, on, serverCopy = 'keep') {
    return privacy.setSectionSync(this, section, on, serverCopy);
  }

  /** A clear sent by a 'delete' privacy switch: pushed although its section does not sync. @param {Change} c */
  isPrivacyClear(c) {
    return privacy.isPrivacyClear(this.privacyDeleted, c);
  }

  // ------------------------------------------------------------------ writes

  /** Stamps and applies one local write. @param {'set'|'delete'|'append'|'clear'} op @param {string} section @param {string} target @param {unknown} [value] @param {Policy} [policy] */
  write(op, section, target, value, policy) {
    return this.writeText(op, section, target, op === 'set' || op === 'append' ? encodeValue(value) : undefined, policy);
  }

  /** @internal As write, with the value already JSON text (privacy.js). */
  writeText(op, section, target, text, policy) {
    this.checkWritable(section);
    const p = policy ?? this.policyFor(section, op === 'set' || op === 'delete' ? target : undefined);
    // checked before the clock ticks: a refused write changes nothing
    if (p.sync && this.privacy[section] !== false) this.checkFits(makeChange(op, section, target, text, `7fffffffffffffff@${this.replica}`));
    const change = makeChange(op, section, target, text, this.clock.tick());
    this.reserveClock();
    if (this.replicaState.apply(change)) {
      this.record(change, p);
      this.channel?.postMessage({ type: 'changes', from: this.replica, changes: [encodeChange(change)] });
      this.emit('change', { changes: [change], origin: 'local' });
    }
    return change;
  }

  /**
   * Stamps and applies the sets and deletes of one map section as one local write: each change its
   * own stamp, all checked before any is applied, told in one event and one message to the other
   * tabs, and saved (so pushed) together. Returns the changes that altered the state.
   * @param {string} section @param {Array<{op: 'set', key: string, value: string} | {op: 'delete', key: string}>} writes values as JSON text
   * @param {Policy} [policy]
   * @returns {Change[]}
   */
  writeBatch(section, writes, policy) {
    if (writes.length === 0) return [];
    this.checkWritable(section);
    const p = policy ?? this.policyFor(section, writes[0].key);
    const value = (/** @type {typeof writes[number]} */ w) => (w.op === 'set' ? w.value : undefined);
    // checked before the clock ticks: a refused write changes nothing
    for (const w of writes) {
      const probe = makeChange(w.op, section, w.key, value(w), `7fffffffffffffff@${this.replica}`);
      if (p.sync && this.privacy[section] !== false) this.checkFits(probe);
    }
    const changes = writes.map((w) => makeChange(w.op, section, w.key, value(w), this.clock.tick()));
    this.reserveClock();
    const applied = changes.filter((c) => this.replicaState.apply(c));
    if (applied.length) {
      this.persister.recordBatch(applied, p);
      this.channel?.postMessage({ type: 'changes', from: this.replica, changes: applied.map(encodeChange) });
      this.emit('change', { changes: applied, origin: 'local' });
    }
    return applied;
  }

  /** Refuses a local write of a section only the server writes (`spaces`, a space's `members`). @private @param {string} section */
  checkWritable(section) {
    if (!this.readOnlySections.has(section)) return;
    throw Object.assign(new Error(`forbidden: the section '${section}' is written by the server only (membership changes go through `
      + `createSpace, joinSpace and the space's invite, addMember, removeMember, leave, transferOwnership, deleteSpace); nothing was written`), { code: 'forbidden' });
  }

  /** @private @param {Change} change @param {Policy} policy */
  record(change, policy) {
    this.persister.record(change, policy);
  }

  /**
   * Saves pending writes to their tiers and the outbox (all, or only those due). Resolves when
   * IndexedDB has committed them.
   * @param {boolean} [all] @param {(id: string) => boolean} [only]
   */
  flush(all = true, only) {
    return this.persister.flush(all, only);
  }

  /** Saves everything pending now. */
  save() {
    return this.persister.flush(true);
  }

  /** Writes a change to its tiers; true if it is now durable (see Persister.persist). @internal @param {Change} change @param {Policy} policy */
  persist(change, policy) {
    return this.persister.persist(change, policy);
  }

  /** Writes not yet saved, by id. */
  get pendingSaves() { return this.persister.pending; }
  /** Ids being saved. */
  get saving() { return this.persister.saving; }
  /** The save timer (tests stop it). */
  get timer() { return this.persister.timer; }
  /** @type {number|null} millis of the last save */
  get lastSaved() { return this.persister.lastSaved; }

  /** Merges changes from elsewhere (server, other tab, import); returns how many altered the state (remote.js). @param {Change[]} changes @param {'remote'|'tab'|'import'} origin */
  merge(changes, origin) {
    return port.merge(this, changes, origin);
  }

  /** Applies a page of server changes, then moves the sync cursor (remote.js). @param {Array<{seq: number, change: Change}>} entries @param {number} cursor */
  applyRemote(entries, cursor) {
    return port.applyRemote(this, entries, cursor);
  }

  /** @private @param {Change} c @param {'remote'|'tab'|'import'} origin @param {boolean} [advance] */
  mergeOne(c, origin, advance = true) {
    return port.mergeOne(this, c, origin, advance);
  }

  /** @internal @param {Change[]} applied @param {'remote'|'tab'|'import'} origin */
  merged(applied, origin) {
    return port.merged(this, applied, origin);
  }

  /** Saves the sync cursor once the writes it covers are saved (remote.js). @internal @param {number} upTo @param {boolean} [hold] */
  coverCursor(upTo, hold = false) {
    return port.coverCursor(this, upTo, hold);
  }

  /** @internal */
  resetCursor() {
    return port.resetCursor(this);
  }

  /**
   * Keeps a clock mark in localStorage a little ahead of the stamps issued, so it is written about
   * once per CLOCK_LEASE_MILLIS of stamps, not on every write; a reload restores the clock to the
   * mark, above every stamp this replica issued, so none is ever issued twice. Call after tick(),
   * before the stamp leaves (synchronously).
   * @internal
   */
  reserveClock() {
    const last = BigInt('0x' + this.clock.last());
    if (last < this.clockMark) return;
    const mark = ((last >> 16n) + CLOCK_LEASE_MILLIS) << 16n;
    if (this.writeSetting(`clock:${this.replica}`, hlcHex(mark))) this.clockMark = mark;
    if (this.store) {
      // IndexedDB commits later: a synchronous copy keeps the mark ahead of every stamp that leaves now.
      try { this.kv.local.set(this.clockCopyKey(), hlcHex(mark)); } catch { /* the IndexedDB mark still lands */ }
    }
  }

  /** @private */
  clockCopyKey() {
    return `cairn-clock:${this.user}:${this.replica}`;
  }

  /** The synchronous copy of the clock mark (see reserveClock), or null. @internal */
  readClockCopy() {
    try {
      return this.store ? this.kv.local.get(this.clockCopyKey()) : null;
    } catch {
      return null;
    }
  }

  /**
   * This device's storage: where durable data goes, whether the browser granted persistent storage,
   * usage against the quota, and whether it is full or failing. A 'storage' event tells each change.
   * @returns {import('./storage-status.js').StorageState}
   */
  get storage() {
    return this.storageStatus.get();
  }

  /** The largest push frame a change may need: the server's (its welcome), else the client's option (default 1 MiB). */
  maxFrameBytes() {
    return port.maxFrameBytes(this);
  }

  /** Refuses a change whose push frame alone would exceed the server's limit (sync-port.js). @private @param {Change} change */
  checkFits(change) {
    return port.checkFits(this, change);
  }

  // ------------------------------------------------------------------ sync

  /** Starts the sync client (done by open() when a server is given). */
  startSync() {
    return port.startSync(this);
  }

  /**
   * Turns on end-to-end encryption: values of `sections` are sealed (AES-GCM, key derived from
   * the passphrase and the user id with PBKDF2) before they are pushed and opened when they
   * arrive, so the server stores and merges only ciphertext. This device keeps plain values. If
   * the server holds values sealed with another passphrase, sync stops in status 'locked' with a
   * 'wrong-passphrase' error and applies nothing; call this again with the right passphrase.
   * A sync client already running (or locked) is restarted with the key. Values already on the
   * server stay as they were: turn it on before the first sync of those sections.
   * Resolves with the key id.
   * @param {EndToEndOptions} e2e
   */
  async enableEndToEnd(e2e) {
    const sections = e2e?.sections;
    if (!Array.isArray(sections) || sections.length === 0) throw new TypeError('endToEnd needs at least one section');
    for (const s of sections) {
      if (!this.kinds[s]) throw new RangeError(`endToEnd: '${s}' is not a known section (known: ${Object.keys(this.kinds).sort().join(', ')})`);
    }
    const key = await E2eKey.derive(e2e.passphrase, this.user, e2e.iterations);
    this.cipher = new ChangeCipher(new ValueCipher(key), sections);
    this.keyId = key.id;
    if (this.sync) {
      const old = this.sync;
      const restart = old.running || old.locked;
      old.stop();
      this.sync = null;
      if (restart) this.startSync();
      if (this.sync) old.handOverWaiters(this.sync); // the pending syncNow() calls settle on the new client
      else old.stop({ code: 'offline', message: 'offline: sync is switched off' });
    }
    this.emit('change', { changes: [], origin: 'local' });
    return key.id;
  }

  /** The end-to-end encrypted sections (empty when encryption is off). @returns {string[]} */
  get encryptedSections() {
    return this.cipher ? [...this.cipher.sections].sort() : [];
  }

  /** Sync status: offline | connecting | catching-up | live | locked (wrong passphrase). */
  get status() {
    return this.sync ? this.sync.status : 'offline';
  }

  /** The offline switch. @param {boolean} offline */
  setOffline(offline) {
    this.sync?.setOffline(offline);
  }

  /** Saves and pushes everything, resolves when the server has it. */
  async syncNow() {
    const mark = this.sync?.mark?.() ?? null; // a space refused or left while the saves run fails this call too
    await Promise.all([this.save(), ...[...(this.openSpaces?.values() ?? [])].map((s) => s.save())]); // the spaces' writes go too
    if (!this.sync) throw new Error('no sync server configured');
    await this.sync.syncNow(mark);
  }

  /** The sync client's last problem ({code, message}), e.g. quota-exceeded; null when none (or once it is over). */
  get lastError() {
    return this.sync ? this.sync.lastError : null;
  }

  /** The sync status: {state, pending (unacknowledged local changes), error (the last problem's code or null), lastError, cursor}. */
  get syncStatus() {
    const lastError = this.lastError;
    return { state: this.status, pending: this.pendingCount(), error: lastError?.code ?? null, lastError, cursor: this.sync?.cursor ?? 0 };
  }

  /**
   * `pending` of the status (spec/vectors/sync/README.md, the JVM's pendingChanges): the local
   * changes the server has not acknowledged, saved in the outbox or still waiting for their save
   * (a save delay, a draft) if they will go to the server once saved.
   */
  pendingCount() {
    let n = this.outbox.entries(this.replica).length;
    for (const p of this.persister.pending.values()) if (p.policy.sync && this.privacy[p.change.section] !== false) n++;
    return n;
  }

  // ------------------------------------------------------------------ what the server keeps (issue 7)

  /** GET on the sync server's HTTP API with the sync token. @private @param {string} path */
  serverGet(path) {
    return transfer.serverGet(this, path);
  }

  /** Bytes this user holds on the server against the quota: {usedBytes, quotaBytes (0: no limit), unlimited, overQuota, historyMillis}. */
  usage() {
    return transfer.usage(this);
  }

  /**
   * Earlier values of a map key the server keeps, newest first:
   * [{value, deleted, stamp, replacedAt, replacedAtMillis}].
   * @param {string} section @param {string} key
   */
  history(section, key) {
    return transfer.history(this, section, key);
  }

  /**
   * Makes an earlier value current again: a new local write (fresh stamp) that syncs like any
   * other; a deleted version deletes the key.
   * @param {string} section @param {string} key @param {{value: unknown, deleted: boolean}} version
   */
  restore(section, key, version) {
    return transfer.restore(this, section, key, version);
  }

  // ------------------------------------------------------------------ spaces (PROTOCOL.md 8)

  /**
   * The spaces the user is a member of, from the read-only `spaces` section (so known offline):
   * [{id, name, role}] sorted by id. Needs `spaces: true` at open.
   * @returns {Array<{id: string, name: string, role: string}>}
   */
  spaces() {
    if (!this.options.spaces) return [];
    return this.entries('spaces').map(([id, v]) => ({ id, name: typeof v?.name === 'string' ? v.name : id, role: typeof v?.role === 'string' ? v.role : 'viewer' }));
  }

  /**
   * The local replica of a space, with the same handles as this Cairn (state, cards, chat, get,
   * write, ...) plus members(), presence and the membership calls. Opened on first use (its own
   * IndexedDB database); the spaces the user is a member of at open are open already. Needs
   * `spaces: true` at open. A space the user is not a member of opens too (its writes stay local and
   * are refused by the server; status 'left' with 'not-a-member' once the server said so).
   * @param {string} id @returns {Promise<import('./space/space.js').Space>}
   */
  space(id) {
    if (!this.options.spaces) return Promise.reject(Object.assign(new Error('spaces are off: open with Cairn.open({spaces: true, ...})'), { code: 'spaces-off' }));
    if (!isSpaceId(id)) return Promise.reject(new RangeError(`not a space id: ${JSON.stringify(id)} (1-64 of A-Z a-z 0-9 - _)`));
    let opening = this.spaceOpening.get(id);
    if (!opening) {
      // Loaded when first used: space.js extends this class.
      opening = import('./space/space.js').then((m) => m.Space.openFor(this, id)).then((space) => {
        this.openSpaces.set(id, space);
        this.emit('change', { changes: [], origin: 'remote' });
        return space;
      });
      opening.catch(() => this.spaceOpening.delete(id));
      this.spaceOpening.set(id, opening);
    }
    return opening;
  }

  /** The space's replica if it is open, else null (synchronous; React). @param {string} id @returns {import('./space/space.js').Space|null} */
  openedSpace(id) {
    return this.openSpaces.get(id) ?? null;
  }

  /** Creates a space on the server; the user is its owner: {id, name, role}. Its replica opens at once. @param {string} name */
  async createSpace(name) {
    const entry = await membership.createSpace(this, name);
    if (this.options.spaces) await this.space(entry.id);
    return entry;
  }

  /** The user's spaces as the server has them now (GET /api/spaces): [{id, name, role}]. spaces() is the same list as synced, offline too. */
  listSpaces() {
    return membership.listSpaces(this);
  }

  /** Joins a space with an invitation code: {id, name, role}. Its replica opens at once. @param {string} code */
  async joinSpace(code) {
    const entry = await membership.joinSpace(this, code);
    if (this.options.spaces) await this.space(entry.id);
    return entry;
  }

  // ------------------------------------------------------------------ whole state

  /**
   * The export document of the chosen sections (default: every known section).
   * Built as one string, synchronously, from the state this tab holds in memory: the page is blocked
   * while the whole state is encoded, and the text takes its size in memory besides the state. A large account is better exported by the server, which streams it
   * (GET /api/export; the dashboard's "Download from server").
   * @param {string[]} [sections]
   */
  exportData(sections) {
    return transfer.exportData(this, sections);
  }

  /** Imports an export document: all-or-nothing check, then a merge that syncs. @param {string} document */
  importData(document) {
    return transfer.importData(this, document);
  }

  /**
   * Reads and checks a whole file before anything of it is written (all or nothing): a stamp too far
   * ahead, or a change too large for any push frame (ChangeTooLargeError), refuses the whole file.
   * @private @param {string} document
   */
  readImport(document) {
    return transfer.readImport(this, document);
  }

  /**
   * Restores a backup file (the dashboard's import). Everything merges as in importData; then
   * every entry of the file that is still missing here because it was deleted or cleared later
   * is written again as a new change, so the restore wins over that clear on every device.
   * All or nothing: the whole file is checked before anything is written.
   * @param {string} document
   */
  restoreData(document) {
    return transfer.restoreData(this, document);
  }

  /**
   * Clears a section on every device, online or offline: a map section with one whole-section clear
   * (a watermark that purges its values and tombstones everywhere and keeps older writes of offline
   * devices out), a log section with a watermark per stream. Returns how many entries it hid.
   * @param {string} section
   */
  clear(section) {
    return transfer.clear(this, section);
  }

  /** Canonical encoding of the state (byte-identical on converged replicas). */
  canonical() {
    return canonical(this.replicaState);
  }

  /** Storage use and sync state, for a dashboard. */
  stats() {
    return transfer.stats(this);
  }

  // ------------------------------------------------------------------ state handles and events

  /**
   * A persistent value (the original usePersistentState), in the `state` section by default.
   * Options: the policy (persistTo, autoSave, saveDelay, debounce, sync), validate, section,
   * merge ('fields' by default: a non-empty object is stored one entry per field; 'whole'),
   * version (the app's version of this value, default 0) and migrate(oldValue, fromVersion).
   * The key may not contain '#'.
   * @template T
   * @param {string} key @param {T} defaultValue
   * @param {import('./handles.js').StateOptions<T>} [options]
   * @returns {StateHandle<T>}
   */
  state(key, defaultValue, options = {}) {
    return new StateHandle(this, key, defaultValue, options);
  }

  /** Listens to events: 'change' ({changes, origin}), 'status', 'error'. Returns an unsubscribe function. @param {string} type @param {Function} fn */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    /** @type {Set<Function>} */ (this.listeners.get(type)).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  /** Listens to every change of the state. @param {(event: ChangeEvent) => void} fn */
  subscribe(fn) {
    return this.on('change', fn);
  }

  /** @param {string} type @param {unknown} payload */
  emit(type, payload) {
    for (const fn of this.listeners.get(type) ?? []) {
      try {
        fn(payload);
      } catch (e) {
        if (type !== 'error') this.emit('error', e);
      }
    }
  }

  /** Reads a map value as a JavaScript value. @param {string} section @param {string} key @param {unknown} [fallback] */
  get(section, key, fallback) {
    const text = this.replicaState.map(section).value(key);
    return text === null ? fallback : decodeValue(text);
  }

  /** Keys of a map section under a prefix, with their values. @param {string} section @param {string} [prefix] */
  entries(section, prefix = '') {
    /** @type {Array<[string, any]>} */
    const out = [];
    for (const [k, e] of this.replicaState.map(section).sorted()) if (e.value !== null && k.startsWith(prefix)) out.push([k, JSON.parse(e.value)]);
    return out;
  }

  /** @internal @param {string} name @param {any} fallback */
  readSetting(name, fallback) {
    try {
      const text = this.settingsStore.get(`cairn:${this.user}:${name}`);
      return text === null ? fallback : JSON.parse(text);
    } catch {
      return fallback;
    }
  }

  /** True if stored. A failing store is reported once until it works again. @internal @param {string} name @param {any} value */
  writeSetting(name, value) {
    try {
      this.settingsStore.set(`cairn:${this.user}:${name}`, JSON.stringify(value));
      this.settingsFailing = false;
      return true;
    } catch (e) {
      if (!this.settingsFailing) this.emit('error', new StorageError(`${this.settingsStore.name} (settings)`, e));
      this.settingsFailing = true;
      return false;
    }
  }

  /** Stops syncing and timers (saving what is pending first). */
  async close() {
    // The spaces first: they write through this Cairn's worker link, which closes below.
    for (const space of this.openSpaces.values()) if (space !== /** @type {any} */ (this)) await space.close();
    await this.save();
    await this.cursorChain;
    if (this.compactTimer) clearTimeout(this.compactTimer);
    await this.store?.idle();
    this.sync?.stop({ code: 'engine-closed', message: 'the Cairn was closed before sync finished' });
    this.channel?.close();
    this.worker?.close();
    this.persister.stop();
  }
}

/** A user id the server takes as a token's `sub` (PROTOCOL.md 2). */
const USER_ID = /^[A-Za-z0-9._@-]{1,128}$/;

/**
 * The app's own sections: valid names, each 'map' or 'log', and a standard section only with its
 * own kind (a chat kept as a map would be refused by every server, and its writes lost with it).
 * @param {any} sections
 */
function checkSections(sections) {
  if (sections === undefined || sections === null) return;
  for (const [name, kind] of Object.entries(sections)) {
    checkSection(name);
    if (kind !== 'map' && kind !== 'log') throw new TypeError(`sections.${name} must be 'map' or 'log', not ${JSON.stringify(kind)}`);
    const standard = /** @type {Record<string, string>} */ (STANDARD_SECTIONS)[name];
    if (standard !== undefined && standard !== kind) throw new TypeError(`sections.${name}: '${name}' is a standard ${standard} section, it cannot be a ${kind}`);
  }
}

/**
 * A server option that could never connect is a mistake in the app, said at open rather than as a
 * sync that retries forever: `token` must be a function, `url` a ws:, wss:, http: or https: URL
 * (relative to the page, where there is one).
 * @param {any} server
 */
function checkServer(server) {
  if (server === undefined || server === null) return;
  if (typeof server.token !== 'function') {
    throw new TypeError('server.token must be a function that returns the bearer token (or a promise of it), asked again on every connect');
  }
  let url;
  try {
    url = new URL(server.url, globalThis.location?.href);
  } catch {
    throw new TypeError(`server.url is not a URL: ${JSON.stringify(String(server.url)).slice(0, 200)}`);
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) {
    throw new TypeError(`server.url must be a ws: or wss: URL of the server's /sync, not ${url.protocol}`);
  }
}
