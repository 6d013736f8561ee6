// React hooks of spaces (PROTOCOL.md 8; the provider's Cairn opened with `spaces: true`):
// useSpaces (the user's spaces), useSpace (the space's handle and the user's membership), useSpaceMembers, usePresence. A space
// is its own Cairn instance with its own Binding (binding.js), so a change in one space re-renders
// only the components that read it; membership (name, role) comes from the user's `spaces` section.

import * as React from 'react';
import { ANY, bindingOf, useBinding, useSnapshot } from './binding.js';

const { useCallback, useEffect, useSyncExternalStore } = React;

/** @typedef {import('../space/space.js').Space} Space */
/** @typedef {import('../space/space-sync.js').Peer} Peer */

const NO_SUBSCRIPTION = () => () => {};

/**
 * The open Space of `id` (null until its replica is open: the hook opens it) and the provider's Cairn.
 * @param {string} hook @param {string} id
 */
function useOpenSpace(hook, id) {
  const b = useBinding(hook);
  const cairn = b.cairn;
  // Cairn emits a change when a space's replica opens: the snapshot picks it up then.
  const space = useSnapshot(b, `space-open\u0000${id}`, [ANY], () => cairn.openedSpace(id));
  useEffect(() => {
    if (!cairn.openedSpace(id)) cairn.space(id).catch((e) => cairn.emit('error', e));
  }, [cairn, id]);
  return { b, cairn, space };
}

/**
 * A snapshot of the space's own state (its Binding), `fallback` while it is not open.
 * @template T @param {Space|null} space @param {string} snapshotId @param {string[]} tokens @param {(s: Space) => T} compute @param {T} fallback @returns {T}
 */
function useSpaceSnapshot(space, snapshotId, tokens, compute, fallback) {
  const sb = space ? bindingOf(space) : null;
  const computeRef = React.useRef(compute);
  computeRef.current = compute;
  const tokenKey = tokens.join('\u0000');
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const get = useCallback(() => (sb && space ? sb.read(snapshotId, tokens, () => computeRef.current(space)) : fallback), [sb, space, snapshotId, tokenKey]);
  return useSyncExternalStore(sb ? sb.subscribe : NO_SUBSCRIPTION, get, get);
}

/**
 * A space and the user's membership of it: `space` is the handle (state, cards, chat, get, write,
 * members(), setPresence, invite, ... as in Cairn; null until its replica is open), `name` and
 * `role` come from the user's read-only `spaces` section (null when the user is not, or no
 * longer, a member), `status` is the space's sync state ('opening' until open, then offline,
 * catching-up, live or left) and `left` the reason it was left (removed, left, deleted,
 * not-a-member), `refused` how many local changes the server refused for good.
 * @param {string} id
 * @returns {{space: Space|null, id: string, name: string|null, role: string|null, status: string, left: string|null, refused: number}}
 */
export function useSpace(id) {
  const { b, cairn, space } = useOpenSpace('useSpace', id);
  const entry = useSnapshot(b, `space-entry\u0000${id}`, ['s:spaces'], () => cairn.spaces().find((s) => s.id === id) ?? null);
  const state = useSpaceSnapshot(space, 'space-state', [ANY], (s) => ({ status: /** @type {string} */ (s.status), left: s.leftReason, refused: s.refused.length }),
    /** @type {{status: string, left: string|null, refused: number}} */ (OPENING));
  return { space, id, name: entry?.name ?? null, role: entry?.role ?? null, status: state.status, left: state.left, refused: state.refused };
}

/**
 * The spaces the user is a member of, from the read-only `spaces` section (known offline):
 * [{id, name, role}] sorted by id; re-renders when one is joined, left or renamed.
 * @returns {Array<{id: string, name: string, role: string}>}
 */
export function useSpaces() {
  const b = useBinding('useSpaces');
  return useSnapshot(b, 'spaces', ['s:spaces'], () => b.cairn.spaces());
}

const OPENING = Object.freeze({ status: 'opening', left: null, refused: 0 });
/** @type {Array<{user: string, role: string}>} */
const NO_MEMBERS = Object.freeze(/** @type {any} */ ([]));
/** @type {Peer[]} */
const NO_PEERS = Object.freeze(/** @type {any} */ ([]));

/**
 * The members of a space, from its read-only `members` section: [{user, role}] sorted by user
 * (empty until the space's replica is open and caught up).
 * @param {string} id @returns {Array<{user: string, role: string}>}
 */
export function useSpaceMembers(id) {
  const { space } = useOpenSpace('useSpaceMembers', id);
  return useSpaceSnapshot(space, 'space-members', ['s:members'], (s) => s.members(), NO_MEMBERS);
}

/**
 * Who else is present in a space now, and a setter of this replica's presence (any JSON value of
 * at most 1,024 bytes; null withdraws it). Peers are [{user, replica, state}] sorted by user, then
 * replica; this replica is never among them. The presence is sent again every 2 s while set.
 * @param {string} id @returns {[Peer[], (state: unknown) => void]}
 */
export function usePresence(id) {
  const { cairn, space } = useOpenSpace('usePresence', id);
  const peers = useSpaceSnapshot(space, 'space-peers', [ANY], (s) => s.presence(), NO_PEERS);
  const setMyPresence = useCallback((/** @type {unknown} */ state) => {
    const open = cairn.openedSpace(id);
    if (open) open.setPresence(state);
    else cairn.space(id).then((s) => s.setPresence(state), (e) => cairn.emit('error', e));
  }, [cairn, id]);
  return [peers, setMyPresence];
}
