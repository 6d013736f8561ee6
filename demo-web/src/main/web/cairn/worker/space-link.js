// A space's replica in a tab whose user syncs through the sync worker (space/space.js openFor):
// the worker owns the space's database and its traffic on the one socket (space-host.js); the tab
// keeps the space's ReplicaState (reads stay synchronous), writes through the worker (a
// WorkerStore of the space) and applies the pages it sends, packed as chunks like the user's.

import { WorkerStore } from './tab-link.js';
import { unpack } from '../chunk.js';
import { applyShared, sharePolicies } from '../sync-port.js';
import { StorageError } from '../storage.js';

/** @typedef {import('../space/space.js').Space} Space */
/** @typedef {import('./tab-link.js').WorkerLink} WorkerLink */

/** How long a space waits for the worker to open its database before it opens in the page alone. */
const OPEN_TIMEOUT_MILLIS = 10_000;

/**
 * Registers the space with the worker: its messages wait here until the Space is bound. Resolves
 * once the worker committed every page of it saved so far, so the tab's read of the database
 * that follows misses none. Null if the worker cannot open it or does not answer in time: the
 * space opens in the page, and the space-close tells the worker to let go of it (sync-host.js
 * letGoOfSpace), so one owner writes its database. A transaction that failed in the worker
 * (`ok: false`) is a storage problem, not a reason to take the database over: the space binds
 * and the problem is reported (bindToWorker).
 * @param {WorkerLink} link @param {import('../cairn.js').Cairn} parent @param {string} id
 */
export async function joinWorker(link, parent, id) {
  /** @type {any[]} */
  const waiting = [];
  link.spaceRoutes.set(id, (msg) => waiting.push(msg));
  const answer = await link.request({
    type: 'space-open', space: id, member: parent.get('spaces', id) !== undefined, drop: parent.options.onSpaceLeft === 'drop',
  }, OPEN_TIMEOUT_MILLIS);
  if (!answer || answer.error) {
    link.spaceRoutes.delete(id);
    link.post({ type: 'space-close', space: id });
    return null;
  }
  if (typeof answer.cursor === 'number') link.spaceCursors.set(id, answer.cursor);
  return {
    link, id, answer, waiting,
    /** @param {{bytes: number, stored: number}} own the tab's store, read at open */
    store: (own) => new WorkerStore(link, { bytes: own.bytes, stored: own.stored }, id),
    cancel: () => {
      link.spaceRoutes.delete(id);
      link.post({ type: 'space-close', space: id });
    },
  };
}

/**
 * The space takes its messages from the worker from now on (those that came while it was read first).
 * @param {Space} space @param {NonNullable<Awaited<ReturnType<typeof joinWorker>>>} joined
 */
export function bindToWorker(space, joined) {
  const { link, id, answer, waiting } = joined;
  space.workerLink = link;
  const route = (/** @type {any} */ msg) => deliver(space, link, msg);
  link.spaceRoutes.set(id, route);
  space.unbindWorker = () => {
    if (link.spaceRoutes.get(id) !== route) return;
    link.spaceRoutes.delete(id);
    try { link.post({ type: 'space-close', space: id }); } catch { /* the worker is gone */ }
  };
  if (answer.ok === false) {
    // A transaction of the space's database failed in the worker: what it held may be missing from the read.
    const error = () => Object.assign(new StorageError('indexedDB (the sync worker\'s, space ' + id + ')', new Error('a transaction of the space\'s database failed')), { space: id });
    space.emit('error', error());
    space.parent.emit('error', error());
  }
  if (answer.left && !space.leftReason) space.leftReason = answer.left;
  if (Array.isArray(answer.peers) && answer.peers.length) space.peers = answer.peers;
  if (answer.state && answer.state !== 'offline') space.syncState = answer.state;
  for (const msg of waiting) route(msg);
  // The worker saves the space's pages by the space's own policies (space-host.js apply), told as
  // the space's settings now and again after writes once they changed, as the user's (sync-port.js).
  sharePolicies(space);
  const view = /** @type {{push: () => void}} */ (space.sync);
  const push = view.push.bind(view);
  view.push = () => { sharePolicies(space); push(); };
}

/** One message of the worker about this space. @param {Space} space @param {WorkerLink} link @param {any} msg */
function deliver(space, link, msg) {
  switch (msg.type) {
    case 'space-page':
      applyShared(space, unpack(msg.chunk));
      link.spaceCursors.set(space.id, msg.cursor);
      break;
    case 'space-acked': space.ackedBySync(msg.ids); break;
    case 'space-refused': {
      // The worker kept them as refused (its copy of the space's `refused` setting): this tab shows the same list.
      space.refused = msg.refused;
      /** @type {any} */ (space.settingsStore).mirror?.set(`cairn:${space.user}:refused`, JSON.stringify(msg.refused));
      space.outbox.remove(msg.ids);
      link.refusals.remember(space.id, msg.error);
      const error = () => Object.assign(new Error(`${msg.error.code}: ${msg.error.message}`), { code: msg.error.code, space: space.id, refused: msg.ids.length });
      space.emit('error', error());
      space.parent.emit('error', error());
      space.emit('change', { changes: [], origin: 'remote' });
      break;
    }
    case 'space-forgot': space.forgotBySync(msg.changes, msg.refused); break;
    case 'space-left':
      link.refusals.remember(space.id, { code: 'not-a-member', message: `the space ${space.id} was left (${msg.reason})` });
      link.spaceCursors.set(space.id, 0);
      space.leftBySync(msg.reason);
      break;
    case 'space-rejoined': space.rejoined(); break;
    case 'space-state': space.stateBySync(msg.state); break;
    case 'space-peers': space.peersBySync(msg.peers); break;
    case 'space-problem': {
      const error = () => Object.assign(new Error(`${msg.error.code}: ${msg.error.message}`), { code: msg.error.code, space: space.id });
      space.emit('error', error());
      space.parent.emit('error', error());
      break;
    }
    default:
  }
}
