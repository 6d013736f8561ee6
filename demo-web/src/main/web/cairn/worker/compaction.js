// Compaction of the stored chunks, run by the sync host (off every page's main thread): when the
// chunks hold more than twice the changes the state needs (or many small chunks: worthCompacting), they are
// replaced by their merge in one transaction (IdbStore.compact: chunks written since are kept).

import { ReplicaState } from '../crdt.js';
import { applyChunk } from '../chunk.js';
import { worthCompacting } from '../idb-store.js';

/** @typedef {import('../idb-store.js').IdbStore} IdbStore */

/**
 * Reads the chunks and compacts them when worth it; resolves with whether it did.
 * @param {IdbStore} store @param {(section: string) => ('map'|'log'|undefined)} kinds
 */
export async function compactIfWorth(store, kinds) {
  const { chunks, stored, chunkKeys } = await store.load({ meta: false });
  const state = new ReplicaState(kinds);
  for (const chunk of chunks) applyChunk(state, chunk, () => { /* a section this app no longer has: dropped by compact too */ });
  let held = 0;
  for (const m of state.maps.values()) held += m.size();
  for (const l of state.logs.values()) held += l.size();
  if (!worthCompacting(stored, held, chunkKeys.length)) return false;
  return store.compact(chunkKeys, chunks, stored, kinds, state);
}
