// Randomized convergence: replicas make random writes and exchange them over a simulated network
// that reorders, duplicates and delays; after everything is delivered, every replica has the same
// canonical state byte for byte. The seed is printed; replay one with CAIRN_SEED=<n>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplicaState } from '../../main/web/cairn/crdt.js';
import { canonical, encodeValue, makeChange, encodeChange, decodeChange } from '../../main/web/cairn/codec.js';
import { HybridClock } from '../../main/web/cairn/stamp.js';

/** mulberry32: small, seedable, good enough for test schedules. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const kinds = { cards: 'map', prefs: 'map', chat: 'log' };
const seeds = process.env.CAIRN_SEED ? [Number(process.env.CAIRN_SEED)] : Array.from({ length: 20 }, () => Math.floor(Math.random() * 2 ** 31));

for (const seed of seeds) {
  test(`replicas converge (seed ${seed})`, () => {
    const random = rng(seed);
    const pick = (xs) => xs[Math.floor(random() * xs.length)];
    let wall = 1_720_000_000_000;
    const n = 2 + Math.floor(random() * 4);
    const replicas = Array.from({ length: n }, (_, i) => ({
      clock: new HybridClock(() => wall + Math.floor(random() * 50) - 25, `r${i}`, 60_000),
      state: new ReplicaState((s) => kinds[s]),
      inbox: /** @type {string[]} */ ([]),
    }));
    const all = [];
    for (let step = 0; step < 300; step++) {
      wall += Math.floor(random() * 3);
      const r = pick(replicas);
      const roll = random();
      if (roll < 0.55) {
        const stamp = r.clock.tick();
        const section = pick(['cards', 'prefs', 'chat']);
        let change;
        if (section === 'chat') {
          change = random() < 0.9
            ? makeChange('append', 'chat', pick(['c1', 'c2']), encodeValue({ text: pick(['hi', 'yo', 'ok']), n: Math.floor(random() * 9) }), stamp)
            : makeChange('clear', 'chat', pick(['c1', 'c2']), undefined, stamp);
        } else {
          change = random() < 0.8
            ? makeChange('set', section, pick(['a', 'b', 'c', 'd/e']), encodeValue(pick([true, false, 1, 2.5, 'x', { k: [1, 'é'] }, null])), stamp)
            : makeChange('delete', section, pick(['a', 'b', 'c', 'd/e']), undefined, stamp);
        }
        r.state.apply(change);
        const wire = encodeChange(change);
        all.push(wire);
        for (const other of replicas) if (other !== r) other.inbox.push(wire);
      } else {
        // deliver a random subset of the inbox in random order, sometimes duplicating
        const k = Math.floor(random() * (r.inbox.length + 1));
        for (let i = 0; i < k; i++) {
          const j = Math.floor(random() * r.inbox.length);
          const wire = r.inbox[j];
          if (random() < 0.8) r.inbox.splice(j, 1);
          const change = decodeChange(wire);
          try { r.clock.observe(change.stamp); } catch { /* skew: apply anyway */ }
          r.state.apply(change);
        }
      }
    }
    for (const r of replicas) {
      for (const wire of r.inbox.sort(() => random() - 0.5)) r.state.apply(decodeChange(wire));
      r.inbox = [];
    }
    const reference = new ReplicaState((s) => kinds[s]);
    for (const wire of all) reference.apply(decodeChange(wire));
    const expected = canonical(reference);
    replicas.forEach((r, i) => assert.equal(canonical(r.state), expected, `replica ${i} diverged (seed ${seed}; replay with CAIRN_SEED=${seed})`));
  });
}
