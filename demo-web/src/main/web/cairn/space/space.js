// A space (PROTOCOL.md 8): state shared by several users, one local replica per space on this
// device. A Space is a Cairn over its own stores (in a browser its own IndexedDB database,
// `cairn-<user>/space/<id>`: chunks, outbox, cursor), with the same handles (state, cards, chat, get,
// write, ...); it has no socket of its own: the user's sync client carries it (space-sync.js).
// Besides: its members (the read-only `members` section), presence, the changes the server refused
// for good (forbidden, not-a-member) kept visible, and the membership calls of PROTOCOL.md 8.5.

import { Cairn } from '../cairn.js';
import { ReplicaState } from '../crdt.js';
import { FieldIndex } from '../field-index.js';
import { ChangeTier } from '../storage.js';
import { openStores, loadState, compactLater } from '../open.js';
import { ErrorCode } from '../protocol.js';
import * as membership from './membership.js';
import { joinWorker, bindToWorker } from '../worker/space-link.js';

/** @typedef {import('../codec.js').Change} Change */
/** @typedef {import('./space-sync.js').SpaceState} SpaceState */
/** @typedef {import('./space-sync.js').Peer} Peer */
/** @typedef {{id: string, change: Change, code: string, message: string}} RefusedChange */

/** The name a space's stores go under: its own database, settings and tab channel, apart from the user's. @param {string} user @param {string} id */
export function spaceStoreName(user, id) {
  return `${user}/space/${id}`;
}

export class Space extends Cairn {
  /**
   * Opens the local replica of space `id` of `parent`'s user (use cairn.space(id)).
   * @param {Cairn} parent @param {string} id @returns {Promise<Space>}
   */
  static async openFor(parent, id) {
    const o = parent.options;
    const browser = (o.storage ?? 'browser') === 'browser';
    /** @type {import('../cairn.js').OpenOptions} */
    const options = {
      user: spaceStoreName(parent.user, id), replica: parent.replica, storage: o.storage, wall: o.wall, maxAheadMillis: o.maxAheadMillis,
      sections: { ...(o.sections ?? {}), members: 'map' }, policies: o.policies, indexedDB: o.indexedDB, storageManager: o.storageManager,
      channel: o.channel === null ? null : undefined, kv: o.kv, sync: o.sync, server: null, startSync: false, worker: 'none',
    };
    /** @type {Array<(e: Error) => void>} */
    const errorSinks = [];
    // With the user's sync worker, the worker owns the space's database and socket traffic: the tab
    // registers first (its messages wait here), then reads the database, then writes through it.
    const link = parent.worker && !parent.cipher ? parent.worker : null;
    const joined = link ? await joinWorker(link, parent, id) : null;
    const { replica, kv, idb, notes } = await openStores(options, browser, (e) => errorSinks.forEach((f) => f(e)));
    const own = joined && idb ? idb.store : null;
    if (own && joined && idb) idb.store = /** @type {any} */ (joined.store(own));
    const space = new Space(parent, id, options, replica, kv, errorSinks, idb);
    space.storageNotes = notes;
    await loadState(space, browser);
    if (own && joined) {
      own.close();
      bindToWorker(space, joined);
    } else {
      joined?.cancel(); // IndexedDB did not open in the page: this space stays in memory here
      if (idb) compactLater(space, idb.snapshot);
    }
    return space;
  }

  /**
   * Use cairn.space(id).
   * @param {Cairn} parent @param {string} id @param {import('../cairn.js').OpenOptions} options @param {string} replica
   * @param {any} kv @param {Array<(e: Error) => void>} errorSinks @param {any} idb
   */
  constructor(parent, id, options, replica, kv, errorSinks, idb) {
    super(options, replica, kv, errorSinks, idb);
    /** The space id. */
    this.id = id;
    /** The user's Cairn, whose socket syncs this space. */
    this.parent = parent;
    this.readOnlySections = new Set(['members']);
    /** @type {RefusedChange[]} local changes the server refused for good: they stay in this copy until dropRefused() or the space's data says otherwise */
    this.refused = this.readSetting('refused', []);
    /** @type {string|null} why the space was left (removed, left, deleted, not-a-member); null while a member */
    this.leftReason = this.readSetting('left', null);
    /** @type {Peer[]} who else is present, sorted by user then replica */
    this.peers = [];
    /** @type {unknown} this replica's presence (undefined: none) */
    this.myPresence = undefined;
    /** @type {SpaceState} */
    this.syncState = this.leftReason ? 'left' : 'offline';
    /** @type {Promise<void>|undefined} the stored chunks being deleted (dropLocalCopy) */
    this.dropping = undefined;
    /** @type {import('../worker/tab-link.js').WorkerLink|null} the user's sync worker, when it owns this space's database (space-link.js) */
    this.workerLink = null;
    /** @type {(() => void)|null} stops the worker's messages of this space (close) */
    this.unbindWorker = null;
    // The façade's sync surface (status, syncNow, push, the cursor) over the user's sync client.
    this.sync = /** @type {any} */ (new SpaceSyncView(this));
  }

  /** Syncs through the user's socket, never its own. */
  startSync() {
    return null;
  }

  /** The space's state in the user's session: offline | catching-up | live | left. */
  get status() {
    return /** @type {any} */ (this.syncState);
  }

  /** The space's entry in the user's `spaces` section: {id, name, role}, or null when the user is not (or no longer) a member. */
  get membership() {
    return this.parent.spaces().find((s) => s.id === this.id) ?? null;
  }

  /** The members, from the space's read-only `members` section: [{user, role}] sorted by user. */
  members() {
    return this.entries('members').map(([user, v]) => ({ user, role: typeof v?.role === 'string' ? v.role : 'viewer' }));
  }

  /** @override The sync state of this space, the pending changes and the refused ones. */
  get syncStatus() {
    return { ...super.syncStatus, refused: this.refused.length, left: this.leftReason };
  }

  // ------------------------------------------------------------------ presence (PROTOCOL.md 8.6)

  /**
   * Sets this replica's presence in the space (any JSON value of at most 1,024 bytes; null withdraws
   * it). Sent now and every 2 s while set; gone for the others within 5 s of this tab closing.
   * @param {unknown} state
   */
  setPresence(state) {
    if (state === undefined) state = null;
    const text = JSON.stringify(state);
    if (text === undefined || new TextEncoder().encode(text).length > 1024) {
      throw Object.assign(new RangeError(`presence must be a JSON value of at most 1024 bytes; this one is ${text === undefined ? 'not JSON' : `${new TextEncoder().encode(text).length} bytes`}`), { code: ErrorCode.INVALID_CHANGE });
    }
    this.myPresence = state === null ? undefined : JSON.parse(text);
    this.parent.sync?.spaces?.setPresence(this.id, state === null ? null : this.myPresence);
  }

  /** Who else is present now: [{user, replica, state}], sorted by user, then replica. */
  presence() {
    return this.peers;
  }

  // ------------------------------------------------------------------ refused changes (PROTOCOL.md 8.2)

  /**
   * Forgets the refused changes (all, or those ids) and rolls their values back: each that still
   * holds its key here leaves this copy (memory and storage), and the space is taken from the
   * server again from cursor 0 (at once when connected: the session starts over), so the value it
   * replaced comes back and the copy shows the space as the server has it. A kept copy of a left
   * space only loses them. @param {string[]} [ids]
   */
  dropRefused(ids) {
    const drop = ids ? new Set(ids) : null;
    const dropped = drop ? this.refused.filter((r) => drop.has(r.id)) : this.refused;
    this.refused = drop ? this.refused.filter((r) => !drop.has(r.id)) : [];
    const gone = this.forgetChanges(dropped.map((r) => r.change));
    if (this.workerLink) {
      // The worker owns the refused list and the database: it edits both, tells every tab and takes the space again.
      this.workerLink.post({ type: 'space-retake', space: this.id, ids: dropped.map((r) => r.id), changes: gone });
      return;
    }
    this.writeSetting('refused', this.refused);
    if (gone.length > 0 && !this.leftReason) {
      this.resetCursor();
      this.parent.sync?.spaces?.retake(this.id);
    }
  }

  /**
   * A tab dropped refused changes (the sync worker's space-forgot): every tab forgets those rolled
   * back and shows the worker's list; the worker rewrote the database and takes the space again.
   * @param {Change[]} changes @param {RefusedChange[]} refused
   */
  forgotBySync(changes, refused) {
    this.refused = refused;
    this.forgetChanges(changes);
  }

  /**
   * Forgets these changes where they still hold their key or log entry (a clear is not rolled
   * back), in memory and storage; the ones forgotten. @private @param {Change[]} dropped
   */
  forgetChanges(dropped) {
    /** @type {Change[]} */
    const gone = [];
    const state = /** @type {ReplicaState} */ (this.replicaState);
    for (const c of dropped) {
      const forgot = c.op === 'set' || c.op === 'delete' ? state.map(c.section).forget(c.key, c.stamp)
        : c.op === 'append' ? state.log(c.section).forget(c.stream, c.stamp) : false;
      if (forgot) gone.push(c);
    }
    if (gone.length > 0) this.forgetStored(gone);
    // a key rolled back reads as deleted until the server's value comes back
    const changes = gone.filter((c) => c.op !== 'append').map((c) => ({ op: 'delete', section: c.section, key: /** @type {any} */ (c).key, stamp: c.stamp }));
    this.emit('change', { changes, origin: 'remote' });
    return gone;
  }

  /**
   * Rolled-back changes leave storage too: a row of a key-value tier is deleted; the IndexedDB
   * chunks holding them are rewritten without them (IdbStore.forgetChanges). Through
   * the sync worker the worker does the latter. @private @param {Change[]} gone
   */
  forgetStored(gone) {
    for (const tier of new Set(Object.values(this.tiers))) if (tier instanceof ChangeTier) for (const c of gone) tier.forget(c);
    const store = this.store;
    if (!store || this.workerLink || typeof store.forgetChanges !== 'function') return;
    this.dropping = Promise.resolve(this.dropping).then(() => store.forgetChanges(gone))
      .then(() => {}, (e) => this.emit('error', e));
  }

  // ------------------------------------------------------------------ membership over HTTP (PROTOCOL.md 8.5)

  /** The space as the server has it: {id, name, role, members: [{user, role}]}. */
  info() { return membership.info(this.parent, this.id); }

  /** An invitation code (owner): {code, role, expiresAtMillis}. @param {'editor'|'viewer'} role @param {number} [expiresInSeconds] */
  invite(role, expiresInSeconds) { return membership.invite(this.parent, this.id, role, expiresInSeconds); }

  /** Adds a user or changes a member's role (owner). @param {string} user @param {'editor'|'viewer'} role */
  addMember(user, role) { return membership.addMember(this.parent, this.id, user, role); }

  /** Changes a member's role (owner); the same call as addMember. @param {string} user @param {'editor'|'viewer'} role */
  setRole(user, role) { return membership.addMember(this.parent, this.id, user, role); }

  /** Removes a member (owner). @param {string} user */
  removeMember(user) { return membership.removeMember(this.parent, this.id, user); }

  /** Leaves the space (not the owner: transfer ownership first). */
  leave() { return membership.removeMember(this.parent, this.id, this.parent.user); }

  /** Makes another member the owner; this user becomes an editor. @param {string} user */
  transferOwnership(user) { return membership.transferOwnership(this.parent, this.id, user); }

  /** Deletes the space for every member (owner). */
  deleteSpace() { return membership.deleteSpace(this.parent, this.id); }

  // ------------------------------------------------------------------ what the user's sync client calls (space-sync.js SpacePort)

  /** @internal */
  pendingForSync() {
    if (this.leftReason) return [];
    return this.outbox.entries(this.replica).filter((e) => this.isSyncing(e.change.section));
  }

  /** @internal @param {string[]} ids */
  ackedBySync(ids) {
    this.outbox.remove(ids);
    this.emit('change', { changes: [], origin: 'remote' });
  }

  /** @internal @param {Array<{seq: number, change: Change}>} entries @param {number} cursor */
  applyFromSync(entries, cursor) {
    this.applyRemote(entries, cursor);
    return this.lastPage ?? undefined; // the next page waits for this one's transaction (sync-port.js pace)
  }

  /** @internal @param {string[]} ids @param {{code: string, message: string}} error */
  refusedBySync(ids, error) {
    const byId = new Map(this.outbox.entries().map((e) => [e.id, e.change]));
    for (const id of ids) {
      const change = byId.get(id);
      if (change) this.refused.push({ id, change, code: error.code, message: error.message });
    }
    this.writeSetting('refused', this.refused);
    this.outbox.remove(ids); // never pushed again
    this.emit('error', Object.assign(new Error(`${error.code}: ${error.message}`), { code: error.code, space: this.id, refused: ids.length }));
    this.emit('change', { changes: [], origin: 'remote' });
  }

  /** @internal @param {string} reason */
  leftBySync(reason) {
    this.leftReason = reason;
    this.writeSetting('left', reason);
    this.resetCursor(); // a user added again catches up from 0
    if (this.parent.options.onSpaceLeft === 'drop') this.dropLocalCopy();
    this.emit('left', { space: this.id, reason });
    this.emit('change', { changes: [], origin: 'remote' });
  }

  /** The user is a member again (the `spaces` section has the space): it syncs from 0. @internal */
  rejoined() {
    if (!this.leftReason) return;
    this.leftReason = null;
    this.writeSetting('left', null);
  }

  /** @internal @param {SpaceState} state */
  stateBySync(state) {
    this.syncState = state;
    if (state === 'live' || state === 'catching-up') this.flush(true, (id) => { const p = this.pendingSaves.get(id)?.policy; return p?.sync === true && p.autoSave && !p.delayed; });
    this.emit('status', state);
    this.emit('change', { changes: [], origin: 'remote' });
  }

  /** @internal @param {Peer[]} peers */
  peersBySync(peers) {
    this.peers = peers;
    this.emit('presence', peers);
    this.emit('change', { changes: [], origin: 'remote' });
  }

  /**
   * space-left with onSpaceLeft 'drop': the space's data leaves this device (memory, outbox, refused
   * changes and every stored chunk), while the replica stays open and marked left, so later hellos
   * do not name it; a user added again catches it up from 0 into the empty replica.
   * @private
   */
  dropLocalCopy() {
    const state = /** @type {ReplicaState} */ (this.replicaState);
    state.maps.clear();
    state.logs.clear();
    this.fieldIndex = new FieldIndex(this.replicaState);
    this.persister.pending.clear();
    this.outbox.remove(this.outbox.entries().map((e) => e.id));
    this.refused = [];
    this.writeSetting('refused', []);
    for (const tier of new Set(Object.values(this.tiers))) {
      if (tier instanceof ChangeTier) for (const section of Object.keys(this.kinds)) tier.drop(section);
    }
    const store = this.store;
    if (store && typeof store.load === 'function') {
      // Every chunk stored so far goes, in one transaction (compaction with nothing to keep).
      this.dropping = store.idle().then(() => store.load({ meta: false }))
        .then(({ chunkKeys, stored }) => store.compact(chunkKeys, [], stored, (s) => this.kind(s)))
        .then(() => {}, (e) => this.emit('error', e));
    }
  }

  /** Saves what is pending (and finishes a drop) before it closes. */
  async close() {
    await this.dropping;
    await super.close();
    this.unbindWorker?.();
  }
}

/** What the façade reads of `cairn.sync` (status, cursor, push, syncNow...), for a space. */
class SpaceSyncView {
  /** @param {Space} space */
  constructor(space) {
    this.space = space;
    this.locked = false;
    this.lastSync = null;
  }

  /** @private */
  client() {
    return this.space.parent.sync;
  }

  /** Through the user's sync worker: the worker saves the cursor, a tab only asks it to hold it (sync-port.js coverCursor). */
  get shared() { return !!this.space.workerLink; }

  /** @param {number} cursor */
  hold(cursor) { this.space.workerLink?.post({ type: 'space-hold', space: this.space.id, cursor }); }

  get status() { return this.space.syncState; }
  get running() { return !!this.client()?.running; }
  get offline() { return !!this.client()?.offline; }
  get lastError() { return this.client()?.lastError ?? null; }
  get cursor() { return this.client()?.spaces?.cursorOf(this.space.id) ?? this.space.savedCursor; }

  push() { this.client()?.spaces?.push(this.space.id); }

  /** A mark for syncNow(mark), taken before the space saves (SpaceSync.mark, or the tab's through the sync worker); null without a client. */
  mark() {
    return this.client()?.spaces?.mark?.() ?? null;
  }

  /**
   * With `mark`: a refusal for good or space-left of this space since the mark (while it saved) fails it.
   * @param {import('./recent-refusals.js').SpaceMark|null} [mark]
   */
  syncNow(mark) {
    const spaces = this.client()?.spaces;
    if (!spaces) return Promise.reject(Object.assign(new Error('no sync server configured'), { code: 'offline' }));
    return spaces.syncNowSince(this.space.id, mark ? { at: mark.at, held: [this.space.id] } : null);
  }

  /** @param {boolean} offline */
  setOffline(offline) { this.client()?.setOffline(offline); }

  /**
   * Catches the space up again from `cursor` (0: its whole state, e.g. a section switched back on):
   * the user's session carries it, so that session starts again, the user resuming from its cursor.
   * @param {number} [cursor]
   */
  resync(cursor = 0) {
    if (cursor === 0) this.space.resetCursor();
    this.client()?.spaces?.resync(this.space.id, cursor);
  }

  stop() {}
}
