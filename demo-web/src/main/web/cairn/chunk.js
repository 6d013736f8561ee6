// The stored form of a chunk (idb-store.js): columns, not an object per change. A chunk is
// {v: 2, groups: [{op, section, keys, stamps, values?}]}: one group per op and section, `keys`
// holding each change's key (set, delete) or stream (append, clear), `values` each value text (set,
// append). Why: IndexedDB stores and returns a value by structured clone, whose cost is per object:
// 120,000 change objects took most of a reload's device read, while the same changes as a few
// arrays of strings clone about ten times faster, and load straight into the maps (`applyChunk`)
// without a Change object or a check per change. Chunks of the first IndexedDB layout (an array of
// Change objects) are still read, as before; they are replaced by packed ones at the next compaction.

import { UnknownSectionError } from './crdt.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {import('./crdt.js').ReplicaState} ReplicaState */
/** @typedef {{op: Change['op'], section: string, keys: string[], stamps: string[], values?: string[]}} Group */
/** @typedef {{v: 2, groups: Group[]}} PackedChunk */
/** @typedef {PackedChunk|Change[]} Chunk a packed chunk, or one of the first layout */

/** Packs changes into one chunk (order within a group kept; the merge does not need it). @param {Change[]} changes @returns {PackedChunk} */
export function pack(changes) {
  /** @type {Map<string, Group>} */
  const groups = new Map();
  for (const c of changes) {
    const id = `${c.op}\u0000${c.section}`;
    let g = groups.get(id);
    if (!g) {
      g = { op: c.op, section: c.section, keys: [], stamps: [] };
      if (c.op === 'set' || c.op === 'append') g.values = [];
      groups.set(id, g);
    }
    g.keys.push('key' in c ? c.key : c.stream);
    g.stamps.push(c.stamp);
    g.values?.push(/** @type {string} */ (c.value));
  }
  return { v: 2, groups: [...groups.values()] };
}

/** @param {unknown} chunk @returns {chunk is PackedChunk} */
export function isPacked(chunk) {
  return !Array.isArray(chunk) && typeof chunk === 'object' && chunk !== null && /** @type {any} */ (chunk).v === 2;
}

/** The changes of a chunk, as objects (compaction of old chunks, tests). @param {Chunk} chunk @returns {Change[]} */
export function unpack(chunk) {
  if (!isPacked(chunk)) return chunk;
  /** @type {Change[]} */
  const out = [];
  for (const { op, section, keys, stamps, values } of chunk.groups) {
    for (let i = 0; i < keys.length; i++) {
      const stamp = stamps[i];
      if (op === 'set') out.push({ op, section, key: keys[i], value: /** @type {string[]} */ (values)[i], stamp });
      else if (op === 'delete') out.push({ op, section, key: keys[i], stamp });
      else if (op === 'append') out.push({ op, section, stream: keys[i], value: /** @type {string[]} */ (values)[i], stamp });
      else out.push({ op: 'clear', section, stream: keys[i], stamp });
    }
  }
  return out;
}

/** How many changes a chunk holds. @param {Chunk} chunk */
export function countOf(chunk) {
  if (!isPacked(chunk)) return chunk.length;
  let n = 0;
  for (const g of chunk.groups) n += g.keys.length;
  return n;
}

/** Approximate bytes of a chunk as quotas count them (UTF-16), the same estimate as per change. @param {Chunk} chunk */
export function bytesOf(chunk) {
  let n = 0;
  if (!isPacked(chunk)) {
    for (const c of chunk) n += changeBytes(c);
    return n;
  }
  for (const g of chunk.groups) {
    n += g.keys.length * (g.section.length + 24);
    for (const k of g.keys) n += k.length;
    for (const s of g.stamps) n += s.length;
    if (g.values) for (const v of g.values) n += v.length;
  }
  return 2 * n;
}

/** @param {Change} c */
export function changeBytes(c) {
  return 2 * (c.section.length + ('key' in c ? c.key.length : c.stream.length) + c.stamp.length + (c.value?.length ?? 0) + 24);
}

/**
 * Merges a chunk into `state` in bulk (the device read at open, compaction): a section's kind is
 * checked once per group, and map entries go straight into the map. A group the state's sections
 * refuse (a section this app no longer has) is skipped and reported once, with how many changes it
 * held. Returns the greatest stamp in the chunk ('' if none), for the clock.
 * @param {ReplicaState} state @param {Chunk} chunk @param {(e: Error) => void} onError
 */
export function applyChunk(state, chunk, onError) {
  let highest = '';
  if (!isPacked(chunk)) {
    for (const c of chunk) {
      if (c.stamp > highest) highest = c.stamp;
      try { state.apply(c); } catch (e) { onError(/** @type {Error} */ (e)); }
    }
    return highest;
  }
  for (const g of chunk.groups) {
    const { op, section, keys, stamps, values } = g;
    for (const s of stamps) if (s > highest) highest = s;
    const kind = state.kind(section);
    const needed = op === 'set' || op === 'delete' ? 'map' : op === 'append' ? 'log' : undefined;
    if (!kind || (needed && kind !== needed)) {
      onError(new UnknownSectionError(kind
        ? `section '${section}' is a ${kind} section; ${keys.length} stored ${needed} change(s) cannot apply to it`
        : `unknown section '${section}': ${keys.length} stored change(s) skipped`));
      continue;
    }
    if (op === 'set' || op === 'delete') state.map(section).applyMany(keys, stamps, op === 'set' ? /** @type {string[]} */ (values) : null);
    else if (op === 'append') {
      const log = state.log(section);
      const vs = /** @type {string[]} */ (values);
      for (let i = 0; i < keys.length; i++) log.append(keys[i], stamps[i], vs[i]);
    } else {
      for (let i = 0; i < keys.length; i++) {
        try {
          state.apply({ op: 'clear', section, stream: keys[i], stamp: stamps[i] });
        } catch (e) {
          onError(/** @type {Error} */ (e));
        }
      }
    }
  }
  return highest;
}
