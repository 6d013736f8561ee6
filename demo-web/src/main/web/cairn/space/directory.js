// The spaces of a Cairn as its sync client sees them (space-sync.js SpaceDirectory): which spaces
// to name in hello with their cursors, membership from the user's `spaces` section, and each open
// Space's port (what the client calls when a page, an ack, a refusal or space-left comes).

/** @typedef {import('./space.js').Space} Space */

/** @param {import('../cairn.js').Cairn} cairn @returns {import('./space-sync.js').SpaceDirectory} */
export function spaceDirectory(cairn) {
  return {
    cursors: () => {
      /** @type {Record<string, number>} */
      const out = {};
      // A space left is not named until the user is a member again: a welcome naming it, or a
      // `spaces` entry set during a session (space-sync.js begin).
      for (const [id, space] of cairn.openSpaces) if (!space.leftReason) out[id] = space.savedCursor;
      return out;
    },
    isMember: (id) => cairn.get('spaces', id) !== undefined,
    port: (id) => {
      const space = cairn.openSpaces.get(id);
      return space ? portOf(space) : null;
    },
    open: async (id) => portOf(await cairn.space(id)),
  };
}

/** @type {WeakMap<Space, import('./space-sync.js').SpacePort>} */
const ports = new WeakMap();

/** @param {Space} space @returns {import('./space-sync.js').SpacePort} */
function portOf(space) {
  let port = ports.get(space);
  if (port) return port;
  /** @param {{code: string, message: string}} e */
  const tell = (e) => {
    const error = Object.assign(new Error(`${e.code}: ${e.message}`), { code: e.code, space: space.id });
    space.emit('error', error);
    space.parent.emit('error', error);
  };
  port = {
    get savedCursor() { return space.savedCursor; },
    get myPresence() { return space.myPresence; },
    get leftReason() { return space.leftReason; },
    pending: () => space.pendingForSync(),
    isPending: (id) => space.outbox.has(id),
    acked: (ids) => space.ackedBySync(ids),
    apply: (entries, cursor) => space.applyFromSync(entries, cursor),
    covered: (cursor) => space.coverCursor(cursor),
    reset: () => space.resetCursor(),
    refused: (ids, error) => {
      space.refusedBySync(ids, error);
      space.parent.emit('error', Object.assign(new Error(`${error.code}: ${error.message}`), { code: error.code, space: space.id, refused: ids.length }));
    },
    left: (reason) => space.leftBySync(reason),
    rejoined: () => space.rejoined(),
    stateChanged: (state) => space.stateBySync(state),
    peersChanged: (peers) => space.peersBySync(peers),
    problem: tell,
  };
  ports.set(space, port);
  return port;
}
