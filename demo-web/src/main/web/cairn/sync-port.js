// The sync port: what the sync client sees of Cairn (the JVM's SyncPort). Changes from elsewhere
// (the server's pages, other tabs, imports) applied to memory and their tiers, the cursor saved no
// earlier than the changes it covers (PROTOCOL.md 3.2), the client's wiring, and the frame limit
// a write is checked against. Cairn's methods of the same names delegate here; apps do not call them.

import { encodeChange } from './codec.js';
import { SyncClient } from './sync.js';
import { SharedSyncClient } from './worker/tab-link.js';
import { pushFrameBytes, DEFAULT_MAX_FRAME_BYTES } from './push-pipeline.js';
import { spaceDirectory } from './space/directory.js';

/** @typedef {import('./codec.js').Change} Change */

/** A change too large for any push frame of the server: refused when it is written or imported. */
export class ChangeTooLargeError extends RangeError {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ChangeTooLargeError';
    this.code = 'change-too-large';
  }
}

/**
 * Merges changes from elsewhere (server, other tab, import); returns how many altered the state.
 * @param {Change[]} changes @param {'remote'|'tab'|'import'} origin
 */
export function merge(cairn, changes, origin) {
  /** @type {Change[]} */
  const applied = [];
  for (const c of changes) if (cairn.mergeOne(c, origin).applied) applied.push(c);
  cairn.merged(applied, origin);
  return applied.length;
}

/**
 * Applies a page of server changes (with their seqs) and then moves the sync cursor to `cursor`
 * (PROTOCOL.md 3.2); the cursor is saved no earlier than the changes it covers. Returns how many
 * changes altered the state. Like the engine's applyRemote(changes, cursor), server changes are
 * taken whatever this device's clock says (the server enforced its bound), and the clock moves
 * past them.
 * @param {Array<{seq: number, change: Change}>} entries @param {number} cursor
 */
export function applyRemote(cairn, entries, cursor) {
  cairn.lastPage = null;
  /** @type {Change[]} */
  const applied = [];
  let covered = cursor;
  // The clock moves past the page's greatest stamp once (text order is stamp order), not per change.
  let latest = '';
  for (const { seq, change } of entries) {
    if (cairn.privacy[change.section] === false) continue; // sync switched off here: not applied (see setSectionSync)
    const r = cairn.mergeOne(change, 'remote', false);
    if (r.applied) applied.push(change);
    if (!r.durable) covered = Math.min(covered, seq - 1);
    if (r !== REFUSED && change.stamp > latest) latest = change.stamp;
  }
  if (latest) cairn.clock.advance(latest); // the server checked it against its own bound
  cairn.merged(applied, 'remote');
  cairn.coverCursor(covered, covered < cursor);
  // With IndexedDB the page and its cursor went into one transaction: the sync client waits for it
  // before it takes the next page (backpressure, see startSync).
  if (cairn.store) cairn.lastPage = cairn.store.idle();
  return applied.length;
}

/** mergeOne's answer for a change that does not fit the known sections (reported, not applied). */
const REFUSED = Object.freeze({ applied: false, durable: false });

/**
 * One change from elsewhere: applied to memory, and written to its tiers (server changes always,
 * even when they lose in memory, so the tiers hold what the cursor claims).
 * @param {Change} c @param {'remote'|'tab'|'import'} origin
 * @param {boolean} [advance] a remote change moves the clock (false: the caller does it once for a page)
 * @returns {{applied: boolean, durable: boolean}}
 */
export function mergeOne(cairn, c, origin, advance = true) {
  try {
    cairn.replicaState.check(c);
  } catch (e) {
    cairn.emit('error', /** @type {Error} */ (e));
    return REFUSED;
  }
  if (origin === 'remote') {
    if (advance) cairn.clock.advance(c.stamp); // the server checked it against its own bound
  } else {
    try {
      cairn.clock.observe(c.stamp);
    } catch (e) {
      // A stamp too far ahead of this device's clock: keep it (it is the user's data), do not jump the clock.
      if (origin === 'import') throw e;
    }
  }
  const applied = cairn.replicaState.apply(c);
  const key = c.op === 'set' || c.op === 'delete' ? c.key : undefined;
  const policy = cairn.policyFor(c.section, key);
  if (origin === 'import') {
    if (applied) cairn.record(c, policy);
    return { applied, durable: false };
  }
  // Remote and other tabs' changes are kept at once (merge-on-write keeps the winner per key).
  if (applied || origin === 'remote') return { applied, durable: cairn.persist(c, policy) };
  return { applied, durable: true };
}

/** @param {Change[]} applied @param {'remote'|'tab'|'import'} origin */
export function merged(cairn, applied, origin) {
  if (applied.length) {
    if (origin === 'import') cairn.channel?.postMessage({ type: 'changes', from: cairn.replica, changes: applied.map(encodeChange) });
    cairn.emit('change', { changes: applied, origin });
  }
}

/**
 * Saves the sync cursor `upTo` with the writes it covers (with IndexedDB: in the same
 * transaction), so a saved cursor never claims a change that is not saved (PROTOCOL.md 3.2).
 *
 * Keys kept only in memory (persistTo 'context') or in this tab's sessionStorage: a reload (or a
 * new tab) loses them, and only a catch-up from below their seq brings them back (catch-up sends
 * current state). So a server change that this page could not keep durably (such a key, an
 * unknown section, or a store that refused the write, e.g. quota exceeded) holds the saved cursor
 * just below its seq for the rest of this page's life (`hold`); a local syncing write to such a key
 * holds it at the cursor of that moment, below the seq the server will give it. The next load
 * then catches up from there, which re-sends those keys and everything newer. Apps whose syncing
 * keys are all in localStorage or IndexedDB resume where they stopped; catching up from 0, the
 * alternative, would re-send the whole state on every load.
 * @param {number} upTo @param {boolean} [hold]
 */
export function coverCursor(cairn, upTo, hold = false) {
  if (cairn.sync?.shared) {
    // The sync worker saves the cursor (worker/sync-host.js); a tab only asks it to hold it.
    if (hold) cairn.sync.hold(upTo);
    return;
  }
  if (cairn.store) {
    // The cursor goes into the same transaction as the page it covers (queued in this same task);
    // after a failed transaction it is not written again (MirrorKv guard, cursorHeld).
    if (cairn.cursorHeld) return;
    if (hold) cairn.cursorHeld = true;
    const target = Math.max(0, upTo);
    if (target !== cairn.savedCursor && cairn.writeSetting('cursor', target)) cairn.savedCursor = target;
    const store = cairn.store;
    cairn.cursorChain = cairn.cursorChain.then(() => store.idle()).then(() => {});
    return;
  }
  // Without IndexedDB every tier is synchronous: a refused write already lowered `upTo` (and set hold).
  cairn.cursorChain = cairn.cursorChain.then(() => {
    if (cairn.cursorHeld) return;
    if (hold) cairn.cursorHeld = true;
    const target = Math.max(0, upTo);
    if (target !== cairn.savedCursor && cairn.writeSetting('cursor', target)) cairn.savedCursor = target;
  }).catch((e) => cairn.emit('error', e));
}

/** The server lost or reset this user's data (its head is below our cursor): it resends from 0. */
export function resetCursor(cairn) {
  if (cairn.sync?.shared) return; // the worker resets it with the resync that follows
  if (cairn.store) {
    cairn.cursorHeld = false;
    if (cairn.writeSetting('cursor', 0)) cairn.savedCursor = 0;
    return;
  }
  cairn.cursorChain = cairn.cursorChain.then(() => {
    cairn.cursorHeld = false;
    if (cairn.writeSetting('cursor', 0)) cairn.savedCursor = 0;
  });
}

/** Starts the sync client (done by open() when a server is given). */
export function startSync(cairn) {
  const server = cairn.options.server;
  if (!server || cairn.sync) return cairn.sync;
  // Through the shared worker unless end-to-end encryption is on: the key stays in the page.
  if (cairn.worker && !cairn.cipher) return startShared(cairn, cairn.worker);
  cairn.sync = new SyncClient({
    url: server.url,
    token: server.token,
    replica: cairn.replica,
    user: cairn.user,
    cursor: cairn.savedCursor, // resume where the last page stopped (see coverCursor for memory-only keys)
    pending: () => cairn.outbox.entries(cairn.replica).filter((e) => cairn.isSyncing(e.change.section) || cairn.isPrivacyClear(e.change)),
    acked: (ids) => { cairn.outbox.remove(ids); cairn.emit('change', { changes: [], origin: 'remote' }); },
    // Backpressure: the next page is decoded once this returns (connection.js), so a long catch-up
    // holds at most PAGES_IN_FLIGHT pages waiting for their transaction, not all of them.
    apply: (_changes, cursor, entries) => { cairn.applyRemote(entries, cursor); return pace(cairn); },
    isPending: (id) => cairn.outbox.has(id),
    covered: (cursor) => cairn.coverCursor(cursor),
    reset: () => cairn.resetCursor(),
    onLimits: (max) => { cairn.serverFrameBytes = max; },
    onStatus: (status) => statusChanged(cairn, status),
    onError: (e) => cairn.emit('error', Object.assign(new Error(`${e.code}: ${e.message}`), { code: e.code })),
    WebSocket: cairn.options.WebSocket,
    fetch: cairn.options.fetch,
    cipher: cairn.cipher,
    ...(cairn.options.spaces ? { spaces: spaceDirectory(cairn) } : {}),
    ...(cairn.options.sync ?? {}),
  });
  cairn.sync.start();
  return cairn.sync;
}

/** The sync status changed (in this page or in the shared worker). @param {import('./cairn.js').Cairn} cairn @param {string} status */
function statusChanged(cairn, status) {
  // connected: what waits only for a connection goes now; not the drafts (autoSave off), which wait
  // for save(), nor a write held for the user's pause (saveDelay): a reconnect is no pause
  if (status === 'live' || status === 'catching-up') cairn.flush(true, (id) => { const p = cairn.pendingSaves.get(id)?.policy; return p?.sync === true && p.autoSave && !p.delayed; });
  cairn.emit('status', status);
  cairn.emit('change', { changes: [], origin: 'remote' });
}

/**
 * Pages applied whose transaction may still be committing when the next page is decoded. 1: the
 * next page waits for the previous one's transaction, so a long catch-up holds one page at a time.
 * (3 overlapped commit and decoding but measured no faster in Chromium: the main thread is the limit.)
 */
export const PAGES_IN_FLIGHT = 1;

/** Resolves when at most PAGES_IN_FLIGHT - 1 saved pages are still committing. @param {import('./cairn.js').Cairn} cairn */
function pace(cairn) {
  if (!cairn.lastPage) return undefined;
  cairn.pagesInFlight.push(cairn.lastPage);
  if (cairn.pagesInFlight.length < PAGES_IN_FLIGHT) return undefined; // never with 1: every page waits
  return cairn.pagesInFlight.shift();
}

/** The largest push frame a change may need: the server's (its welcome), else the client's option (default 1 MiB). */
export function maxFrameBytes(cairn) {
  return cairn.serverFrameBytes ?? cairn.options.sync?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
}

/**
 * Refuses a change whose push frame alone would exceed the server's limit: it could never be sent
 * and, queued, would only wait forever. A sealed (E2E) value is counted at its sealed size.
 * @param {Change} change
 */
export function checkFits(cairn, change) {
  const text = encodeChange(change);
  let bytes = pushFrameBytes(text);
  if (cairn.cipher?.covers(change.section) && change.value !== undefined) {
    const plain = pushFrameBytes(change.value) - pushFrameBytes('');
    bytes += 4 * Math.ceil((plain + 16) / 3) + 100 - plain; // base64url of value and tag, nonce, key id
  }
  const limit = cairn.maxFrameBytes();
  if (bytes <= limit) return;
  const where = `${change.section}/${'key' in change ? change.key : change.stream}`;
  throw new ChangeTooLargeError(`change-too-large: the change to ${where} needs a ${bytes}-byte push frame, over the server's limit of ${limit} bytes; it was not written`);
}

/**
 * Syncs through the user's shared worker (worker/sync-host.js): its one socket pushes this tab's
 * outbox and sends every syncing tab the server's pages, which the worker has already saved; this
 * tab applies them to memory (reads stay synchronous).
 * @param {import('./cairn.js').Cairn} cairn @param {import('./worker/tab-link.js').WorkerLink} link
 */
function startShared(cairn, link) {
  const server = /** @type {{url: string, token: () => (string|Promise<string>)}} */ (cairn.options.server);
  sharePolicies(cairn);
  const client = new SharedSyncClient(link, {
    token: server.token,
    acked: (ids) => { cairn.outbox.remove(ids); cairn.emit('change', { changes: [], origin: 'remote' }); },
    applyPage: (changes) => applyShared(cairn, changes),
    onLimits: (max) => { cairn.serverFrameBytes = max; },
    saved: (cursor) => { cairn.savedCursor = cursor; },
    onStatus: (status) => statusChanged(cairn, status),
    onError: (e) => cairn.emit('error', Object.assign(new Error(`${e.code}: ${e.message}`), { code: e.code })),
  });
  const push = client.push.bind(client);
  client.push = () => { sharePolicies(cairn); push(); };
  cairn.sync = /** @type {any} */ (client); // the SyncClient's surface the façade uses
  client.start();
  return client;
}

/**
 * The worker saves the server's changes by the tabs' policies (keys kept in memory or
 * sessionStorage only are not saved, and hold the cursor): they go to it as settings, written
 * again when they changed (a space's, in the space's settings: space-link.js). @param {import('./cairn.js').Cairn} cairn
 */
export function sharePolicies(cairn) {
  /** @type {Record<string, string>} */
  const sections = {};
  for (const [s, p] of cairn.sectionPolicies) sections[s] = p.persistTo;
  /** @type {Record<string, string>} */
  const keys = {};
  for (const [k, p] of cairn.keyPolicies) keys[k] = p.persistTo;
  // Compared by value: a section or key whose persistTo changed is told again, not only a new one.
  const sig = JSON.stringify([sections, keys, cairn.kinds]);
  if (/** @type {any} */ (cairn).sharedPolicies === sig) return;
  /** @type {any} */ (cairn).sharedPolicies = sig;
  cairn.writeSetting('policies', { sections, keys });
  cairn.writeSetting('sections', cairn.kinds);
}

/**
 * A page the worker applied and saved: into memory here (and this tab's sessionStorage tier for
 * keys kept there), the clock past its greatest stamp. Returns how many changes altered the state.
 * @param {import('./cairn.js').Cairn} cairn @param {Change[]} changes
 */
export function applyShared(cairn, changes) {
  /** @type {Change[]} */
  const applied = [];
  let latest = '';
  for (const c of changes) {
    try {
      cairn.replicaState.check(c);
    } catch (e) {
      cairn.emit('error', /** @type {Error} */ (e));
      continue;
    }
    if (c.stamp > latest) latest = c.stamp;
    if (!cairn.replicaState.apply(c)) continue;
    applied.push(c);
    const p = cairn.policyFor(c.section, c.op === 'set' || c.op === 'delete' ? c.key : undefined);
    if (p.persistTo === 'sessionStorage' || p.persistTo === 'all') cairn.tiers.sessionStorage.write([c]);
  }
  if (latest) cairn.clock.advance(latest);
  cairn.merged(applied, 'remote');
  return applied.length;
}
