// Compaction of the stored chunks, run by the sync host (off every page's main thread): when the
// chunks hold more than twice the changes the state needs (or more than 200 chunks), they are
// replaced by their merge in one transaction (IdbStore.compact: chunks written since are kept).

import { ReplicaState } from '../crdt.js';
import { applyChunk } from '../chunk.js';

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
  if (!(stored > 2 * held + 1000 || chunkKeys.length > 200)) return false;
  return store.compact(chunkKeys, chunks, stored, kinds, state);
}
