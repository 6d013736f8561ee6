// The stored form of a chunk (chunk.js): columns that round-trip to the same changes and merge
// into the same state as the changes one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pack, unpack, isPacked, countOf, bytesOf, changeBytes, applyChunk } from '../../main/web/cairn/chunk.js';
import { ReplicaState } from '../../main/web/cairn/crdt.js';
import { makeChange, encodeValue, WHOLE_SECTION } from '../../main/web/cairn/codec.js';
import { hlcHex, Stamp } from '../../main/web/cairn/stamp.js';

const stamp = (millis, counter, replica = 'p') => `${hlcHex(Stamp.pack(millis, counter))}@${replica}`;
const kinds = (s) => ({ state: 'map', prefs: 'map', chat: 'log' })[s];
const T = 1_700_000_000_000;

/** Sets (some superseded), deletes, appends, a map clear and a stream clear, in two map sections and a log. */
function mixed() {
  return [
    makeChange('set', 'state', 'a', encodeValue('old'), stamp(T, 1)),
    makeChange('set', 'state', 'a', encodeValue('new'), stamp(T, 9)),
    makeChange('set', 'state', 'b', encodeValue({ n: 2 }), stamp(T, 2)),
    makeChange('delete', 'state', 'c', undefined, stamp(T, 3)),
    makeChange('set', 'state', 'c', encodeValue('under the tombstone'), stamp(T, 2)),
    makeChange('set', 'prefs', 'gone', encodeValue(1), stamp(T, 4)),
    makeChange('clear', 'prefs', WHOLE_SECTION, undefined, stamp(T, 5)),
    makeChange('set', 'prefs', 'kept', encodeValue('ü \u{1F600}'), stamp(T, 6)),
    makeChange('append', 'chat', 'c1', encodeValue('before'), stamp(T, 1)),
    makeChange('clear', 'chat', 'c1', undefined, stamp(T, 2)),
    makeChange('append', 'chat', 'c1', encodeValue('after'), stamp(T, 3)),
    makeChange('append', 'chat', 'c2', encodeValue('other stream'), stamp(T, 4)),
  ];
}

/** The state as its changes, section by section, sorted (a Map's insertion order is not state). @param {ReplicaState} s */
const canonical = (s) => [...s.sections().keys()].map((name) => [name, s.changesOf(name).map((c) => JSON.stringify(c, Object.keys(c).sort())).sort()]);

test('a packed chunk holds arrays of strings, not an object per change, and unpacks to the same changes', () => {
  const changes = mixed();
  const chunk = pack(changes);
  assert.ok(isPacked(chunk));
  assert.equal(chunk.groups.length, 6, 'one group per op and section');
  for (const g of chunk.groups) {
    assert.ok(g.keys.every((k) => typeof k === 'string') && g.stamps.every((k) => typeof k === 'string'));
    assert.equal(g.values === undefined, g.op === 'delete' || g.op === 'clear', 'values only where changes have them');
  }
  const key = (c) => JSON.stringify([c.op, c.section, c.key ?? c.stream, c.stamp, c.value ?? null]);
  assert.deepEqual(unpack(chunk).map(key).sort(), changes.map(key).sort());
  assert.equal(countOf(chunk), changes.length);
  assert.equal(bytesOf(chunk), changes.reduce((n, c) => n + changeBytes(c), 0), 'the same estimate as per change');
  assert.equal(countOf(changes), changes.length, 'a chunk of the first layout (an array) counts as before');
  assert.equal(unpack(changes), changes);
});

test('applyChunk merges a packed chunk into the same state as the changes one by one, in any order and split', () => {
  const changes = mixed();
  const one = new ReplicaState(kinds);
  for (const c of changes) one.apply(c);
  for (const order of [changes, [...changes].reverse(), [...changes.slice(6), ...changes.slice(0, 6)]]) {
    const bulk = new ReplicaState(kinds);
    // two chunks, the second repeating part of the first: duplicates and order do not matter
    const h1 = applyChunk(bulk, pack(order.slice(0, 7)), (e) => assert.fail(e));
    const h2 = applyChunk(bulk, pack(order.slice(4)), (e) => assert.fail(e));
    assert.deepEqual(canonical(bulk), canonical(one));
    assert.equal([h1, h2].sort().at(-1), stamp(T, 9), 'the greatest stamp, for the clock');
    assert.equal(bulk.map('state').liveSize(), one.map('state').liveSize(), 'live count kept');
  }
  const old = new ReplicaState(kinds);
  assert.equal(applyChunk(old, changes, (e) => assert.fail(e)), stamp(T, 9), 'a chunk of the first layout too');
  assert.deepEqual(canonical(old), canonical(one));
});

test('a group of a section the app no longer has (or of the wrong kind) is skipped with one error; the rest loads', () => {
  const changes = [
    ...mixed(),
    ...Array.from({ length: 3 }, (_, i) => makeChange('set', 'retired', `k${i}`, encodeValue(i), stamp(T, 20 + i))),
    makeChange('append', 'state', 'not-a-log', encodeValue('x'), stamp(T, 30)),
  ];
  const errors = [];
  const state = new ReplicaState(kinds);
  applyChunk(state, pack(changes), (e) => errors.push(e));
  assert.equal(errors.length, 2);
  assert.match(errors[0].message + errors[1].message, /unknown section 'retired': 3 stored change/);
  assert.match(errors[0].message + errors[1].message, /'state' is a map section; 1 stored log change/);
  assert.equal(state.map('state').value('a'), '"new"');
  assert.equal(state.log('chat').size(), 2);
});
