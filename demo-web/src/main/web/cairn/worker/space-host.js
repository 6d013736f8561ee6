// The spaces in the sync worker (PROTOCOL.md 8): the host's one socket carries them as in a page
// (space-sync.js, unchanged: the same hello.spaces, pages, pushes, caught-up, space-left and
// presence on the wire), and the host owns each space's durable tier, its own IndexedDB database
// (`cairn-<user>/space/<id>`: chunks, outbox, meta), as it owns the user's. A tab registers the
// spaces it has open (`space-open`) and from then on gets their pages packed as chunks, their acks,
// refusals, states, peers and space-left; it writes through the host as for the user's state.
//
// Messages (besides sync-host.js's; `space` names the space):
//   tab -> host  space-open {space, member, drop} -> answer {ok, state, cursor, peers, left}, once every earlier page of it is committed; {error}
//                space-close (with no tab left on the space the host lets go of it: sync-host.js letGoOfSpace) | space-presence {state} | space-hold {cursor} | space-sync-now -> answer {} | {error}
//                write {space, ...} and idle {space} as the user's, in the space's database
//                space-retake {ids, changes} (refused changes a tab dropped, those rolled back: forgotten here and in every tab, the space taken again from 0)
//   host -> tab  space-page {chunk, cursor} | space-acked {ids} | space-refused {ids, error, refused} | space-forgot {changes, refused}
//                space-left {reason} | space-rejoined | space-state {state} | space-peers {peers} | space-problem {error}

import { IdbStore, MirrorKv } from '../idb-store.js';
import { Outbox } from '../storage.js';
import { isDurable } from '../persister.js';
import { persistToLookup } from './policies.js';
import { pack } from '../chunk.js';
import { compactIfWorth } from './compaction.js';

/** @typedef {import('../codec.js').Change} Change */
/** @typedef {import('../space/space-sync.js').SpaceState} SpaceState */
/** @typedef {import('../space/space-sync.js').Peer} Peer */

/** How long after a space's database opens here its chunks are compacted (when worth it), as the user's. */
const COMPACT_AFTER_MILLIS = 3000;

/** The name of a space's stores (space.js spaceStoreName, repeated: the worker does not load the façade). @param {string} user @param {string} id */
export function spaceStoreName(user, id) {
  return `${user}/space/${id}`;
}

/** One space's durable tier in the host, and its port for the host's SyncClient. */
export class SpaceHost {
  /**
   * @param {import('./sync-host.js').SyncHost} host @param {string} id @param {IDBFactory} [factory]
   * @returns {Promise<SpaceHost>}
   */
  static async open(host, id, factory) {
    const name = spaceStoreName(host.user, id);
    /** @type {SpaceHost|null} */
    let space = null;
    const store = new IdbStore(await IdbStore.openDb(name, factory), (e) => space?.problem({ code: 'storage-unavailable', message: e.message }));
    const { outbox, meta } = await store.load({ chunks: false });
    space = new SpaceHost(host, id, name, store, outbox, meta);
    return space;
  }

  /**
   * @param {import('./sync-host.js').SyncHost} host @param {string} id @param {string} name the store name
   * @param {IdbStore} store @param {Map<string, string>} outbox @param {Map<string, string>} meta
   */
  constructor(host, id, name, store, outbox, meta) {
    this.host = host;
    this.id = id;
    this.name = name;
    this.store = store;
    this.meta = new MirrorKv(store, 'meta', meta, (k) => k.endsWith(':cursor'));
    this.outbox = new Outbox(new MirrorKv(store, 'outbox', outbox), `${name}\u0000o\u0001`, (e) => this.problem({ code: 'storage-unavailable', message: e.message }));
    const stored = this.readMeta('cursor', 0);
    this.savedCursor = Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
    this.cursorHeld = false;
    /** @type {string|null} */
    this.leftReason = this.readMeta('left', null);
    /**
     * Each tab's presence in the space, in the order they were set (a tab's newest moves to the
     * end): the socket carries one presence per space, the last a tab still open set (myPresence).
     * @type {Map<MessagePort, unknown>}
     */
    this.presences = new Map();
    /** @type {SpaceState} */
    this.state = this.leftReason ? 'left' : 'offline';
    /** @type {Peer[]} */
    this.peers = [];
    /** The tabs that have the space open (get its messages). @type {Set<MessagePort>} */
    this.tabs = new Set();
    /** space-left drops the local copy (a tab opened with onSpaceLeft 'drop'). */
    this.drop = false;
    store.onCommit = (ok, error) => { if (!ok) this.cursorHeld = true; if (error) this.problem({ code: error.code ?? 'storage-unavailable', message: error.message }); };
    /** @type {Promise<boolean>|null} */
    this.compacting = null;
    /** @type {Promise<unknown>} the last rewrite of forgotten changes: compactions wait for it */
    this.forgetting = Promise.resolve();
    this.compactTimer = setTimeout(() => this.compact(), COMPACT_AFTER_MILLIS);
    /** @type {any} */ (this.compactTimer).unref?.(); // Node (tests): not a reason to keep running
  }

  /** The socket's presence in the space: the last a tab still open set (undefined: none). */
  get myPresence() {
    let last;
    for (const state of this.presences.values()) last = state;
    return last;
  }

  /**
   * Compacts the space's chunks when worth it, one compaction at a time. Its sections are the
   * user's (the tabs' `sections` setting) and `members`; without that setting nothing is compacted
   * (a section missing from the kinds would be dropped). Resolves with whether it did.
   */
  compact() {
    if (!this.compacting) {
      this.compacting = (async () => {
        await this.forgetting;
        const kinds = this.host.readKinds();
        if (!kinds) return false;
        return compactIfWorth(this.store, (s) => (s === 'members' ? 'map' : kinds[s]));
      })().catch((e) => {
        this.problem({ code: 'storage-unavailable', message: e.message });
        return false;
      }).finally(() => { this.compacting = null; });
    }
    return this.compacting;
  }

  /** @param {any} msg */
  tell(msg) {
    for (const port of this.tabs) port.postMessage({ ...msg, space: this.id });
  }

  /** @private @param {string} name @param {any} fallback */
  readMeta(name, fallback) {
    try {
      const text = this.meta.get(`cairn:${this.name}:${name}`);
      return text === null ? fallback : JSON.parse(text);
    } catch {
      return fallback;
    }
  }

  /** @private @param {string} name @param {any} value */
  writeMeta(name, value) {
    this.meta.set(`cairn:${this.name}:${name}`, JSON.stringify(value));
  }

  /** Unacknowledged local changes of the tabs that sync through the host (and of tabs gone). */
  pending() {
    if (this.leftReason) return [];
    return this.outbox.entries().filter((e) => !this.host.others.has(e.replica));
  }

  /**
   * A page: saved with the cursor that covers it (one transaction), then sent to the space's tabs.
   * Keys are saved by the space's policies (its tabs' Space policyFor, told as the space's own
   * settings: space-link.js), never by the user's per-key ones: a user key kept in memory only must
   * not hold the space's cursor. Before a tab told them: the user's section policies, which a
   * space starts from (space.js openFor). @param {Array<{seq: number, change: Change}>} entries @param {number} cursor
   */
  apply(entries, cursor) {
    const user = this.host.readPolicies();
    const persistTo = persistToLookup(this.readMeta('policies', null) ?? (user ? { sections: user.sections, keys: {} } : null));
    /** @type {Change[]} */
    const durable = [];
    let covered = cursor;
    for (const { seq, change } of entries) {
      const key = change.op === 'set' || change.op === 'delete' ? change.key : undefined;
      if (isDurable(persistTo(change.section, key))) durable.push(change);
      else covered = Math.min(covered, seq - 1);
    }
    if (durable.length) this.store.putChanges(durable);
    this.coverCursor(covered, covered < cursor);
    this.tell({ type: 'space-page', chunk: pack(entries.map((e) => e.change)), cursor });
    return this.store.idle(); // the next page waits for this one's transaction, as in a page
  }

  /** As the user's (sync-host.js coverCursor). @param {number} upTo @param {boolean} [hold] */
  coverCursor(upTo, hold = false) {
    if (this.cursorHeld) return;
    if (hold) this.cursorHeld = true;
    const target = Math.max(0, upTo);
    if (target !== this.savedCursor) {
      this.writeMeta('cursor', target);
      this.savedCursor = target;
    }
  }

  resetCursor() {
    this.cursorHeld = false;
    this.writeMeta('cursor', 0);
    this.savedCursor = 0;
  }

  /**
   * Refused changes a tab dropped leave the refused list (this host owns it: a tab's copy could
   * race a new refusal) and every tab's memory; those rolled back leave the space's chunks, after
   * any compaction under way (a compaction would write back what it read before).
   * @param {string[]} ids @param {Change[]} changes @returns {Promise<unknown>}
   */
  forget(ids, changes) {
    const drop = new Set(ids);
    const refused = this.readMeta('refused', []).filter((/** @type {{id: string}} */ r) => !drop.has(r.id));
    this.writeMeta('refused', refused);
    this.tell({ type: 'space-forgot', changes, refused });
    if (changes.length === 0) return this.store.idle();
    this.forgetting = Promise.all([this.compacting, this.forgetting])
      .then(() => this.store.forgetChanges(changes))
      .catch((e) => this.problem({ code: 'storage-unavailable', message: e.message }));
    return this.forgetting;
  }

  /** @param {string[]} ids */
  acked(ids) {
    this.outbox.remove(ids);
    this.tell({ type: 'space-acked', ids });
  }

  /** Refused for good (forbidden, not-a-member): kept as refused (the space's `refused` setting), never pushed again. @param {string[]} ids @param {{code: string, message: string}} error */
  refused(ids, error) {
    const byId = new Map(this.outbox.entries().map((e) => [e.id, e.change]));
    const refused = this.readMeta('refused', []);
    for (const id of ids) {
      const change = byId.get(id);
      if (change) refused.push({ id, change, code: error.code, message: error.message });
    }
    this.writeMeta('refused', refused);
    this.outbox.remove(ids);
    this.tell({ type: 'space-refused', ids, error: { code: error.code, message: error.message }, refused });
  }

  /** space-left: the cursor goes back to 0 (a user added again catches up from 0); with 'drop' the stored copy goes. @param {string} reason */
  left(reason) {
    this.leftReason = reason;
    this.writeMeta('left', reason);
    this.resetCursor();
    if (this.drop) {
      this.outbox.remove(this.outbox.entries().map((e) => e.id));
      this.writeMeta('refused', []);
      const store = this.store;
      // after a compaction under way (both would replace the same chunks)
      Promise.resolve(this.compacting).then(() => store.idle()).then(() => store.load({ meta: false }))
        .then(({ chunkKeys, stored }) => store.compact(chunkKeys, [], stored, () => undefined))
        .catch((e) => this.problem({ code: 'storage-unavailable', message: e.message }));
    }
    this.tell({ type: 'space-left', reason });
  }

  rejoined() {
    if (!this.leftReason) return;
    this.leftReason = null;
    this.writeMeta('left', null);
    this.tell({ type: 'space-rejoined' });
  }

  /** @param {{code: string, message: string}} error */
  problem(error) {
    this.tell({ type: 'space-problem', error: { code: error.code, message: error.message } });
  }

  /** The SpacePort (space-sync.js) the host's SyncClient uses. @returns {import('../space/space-sync.js').SpacePort} */
  port() {
    const self = this;
    return {
      get savedCursor() { return self.savedCursor; },
      get myPresence() { return self.myPresence; },
      get leftReason() { return self.leftReason; },
      pending: () => this.pending(),
      isPending: (id) => this.outbox.has(id),
      acked: (ids) => this.acked(ids),
      apply: (entries, cursor) => this.apply(entries, cursor),
      covered: (cursor) => this.coverCursor(cursor),
      reset: () => this.resetCursor(),
      refused: (ids, error) => this.refused(ids, error),
      left: (reason) => this.left(reason),
      rejoined: () => this.rejoined(),
      stateChanged: (state) => { this.state = state; this.tell({ type: 'space-state', state }); },
      peersChanged: (peers) => { this.peers = peers; this.tell({ type: 'space-peers', peers }); },
      problem: (error) => this.problem(error),
    };
  }

  close() {
    clearTimeout(this.compactTimer);
    this.store.close();
  }
}

/**
 * The host's spaces as its SyncClient sees them (space-sync.js SpaceDirectory): the spaces its tabs
 * opened (named in hello unless left), membership from what the tabs and the user's pages told.
 * @param {import('./sync-host.js').SyncHost} host @returns {import('../space/space-sync.js').SpaceDirectory}
 */
export function hostDirectory(host) {
  return {
    cursors: () => {
      /** @type {Record<string, number>} */
      const out = {};
      for (const [id, space] of host.spaceHosts) if (!space.leftReason) out[id] = space.savedCursor;
      return out;
    },
    isMember: (id) => host.members.has(id),
    port: (id) => host.spaceHosts.get(id)?.port() ?? null,
    open: async (id) => (await host.openSpace(id)).port(),
  };
}
