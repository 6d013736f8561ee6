// The whole-map-section clear (PROTOCOL.md 1.2): its wire form, the CRDT twin of LwwMap's clear
// watermark, and the purge rule in the browser's storage tiers (a cleared section frees its rows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { LwwMap, ReplicaState } from '../../main/web/cairn/crdt.js';
import { canonical, decodeChange, encodeChange, makeChange, readExport, writeExport, MalformedChangeError, WHOLE_SECTION } from '../../main/web/cairn/codec.js';
import { ChangeTier, MemoryKv } from '../../main/web/cairn/storage.js';

const S = (n, r = 'a') => `0190a1b2c3d4000${n}@${r}`;
const KINDS = { cards: 'map', prefs: 'map', chat: 'log' };

test('a whole-section clear has no stream on the wire; an empty stream is refused', () => {
  const clear = makeChange('clear', 'cards', WHOLE_SECTION, undefined, S(1));
  assert.equal(encodeChange(clear), `{"op":"clear","section":"cards","stamp":"${S(1)}"}`);
  assert.deepEqual(decodeChange(encodeChange(clear)), clear);
  assert.throws(() => decodeChange(`{"op":"clear","section":"cards","stream":"","stamp":"${S(1)}"}`),
    (e) => e instanceof MalformedChangeError && /must not be empty/.test(e.message));
  assert.throws(() => decodeChange(`{"op":"clear","section":"cards","key":"k","stamp":"${S(1)}"}`), /not a 'key'/);
  const state = new ReplicaState((s) => KINDS[s]);
  assert.throws(() => state.apply(makeChange('clear', 'chat', WHOLE_SECTION, undefined, S(1))), /log section/);
});

test('LwwMap.clear purges values and tombstones under it and keeps older writes out; a single tombstone stays', () => {
  const m = new LwwMap();
  m.apply('k', { value: '1', stamp: S(1) });
  m.apply('k', { value: null, stamp: S(2) });
  assert.equal(m.size(), 1, 'a single delete keeps its tombstone');
  assert.equal(m.clear(S(3)), true);
  assert.equal(m.size(), 0);
  assert.equal(m.apply('k', { value: '"old"', stamp: S(2, 'z') }), false, 'older than the watermark');
  assert.equal(m.clear(S(2)), false);
  assert.equal(m.apply('k', { value: '"new"', stamp: S(4) }), true);
  assert.equal(m.liveSize(), 1);
});

test('the watermark is in the canonical state and export documents, and importing it clears', () => {
  const a = new ReplicaState((s) => KINDS[s]);
  a.apply(makeChange('set', 'cards', 'k', '1', S(1)));
  a.apply(makeChange('clear', 'cards', WHOLE_SECTION, undefined, S(2)));
  a.apply(makeChange('set', 'cards', 'j', '2', S(3)));
  assert.equal(canonical(a), `{"cards":{"kind":"map","clearedUpTo":"${S(2)}","entries":{"j":{"stamp":"${S(3)}","value":2}}}}`);
  const b = new ReplicaState((s) => KINDS[s]);
  b.apply(makeChange('set', 'cards', 'k', '1', S(1)));
  for (const c of readExport(writeExport('a', 0, a, ['cards']), (s) => KINDS[s])) b.apply(c);
  assert.equal(canonical(b), canonical(a));
  assert.deepEqual(a.changesOf('cards').map((c) => c.op), ['clear', 'set']);
});

test('a storage tier drops every row of a cleared map section and refuses older rows after it', () => {
  const kv = new MemoryKv();
  const tier = new ChangeTier(kv, 'p:');
  const rows = [];
  for (let i = 0; i < 50; i++) rows.push(makeChange('set', 'cards', `k${i}`, `"${'x'.repeat(100)}"`, S(1)));
  rows.push(makeChange('delete', 'cards', 'gone', undefined, S(2)));
  rows.push(makeChange('set', 'prefs', 'theme', '"dark"', S(1)));
  assert.ok(tier.write(rows));
  const before = tier.bytes();
  assert.ok(tier.write([makeChange('clear', 'cards', WHOLE_SECTION, undefined, S(3))]));
  assert.deepEqual(kv.keys('p:m\u0001cards\u0001'), [], 'no value or tombstone row of the cleared section is left');
  assert.equal(kv.keys('p:m\u0001prefs\u0001').length, 1, 'other sections stay');
  assert.ok(tier.bytes() * 10 < before, `the space is freed: ${before} -> ${tier.bytes()}`);
  tier.write([makeChange('set', 'cards', 'k1', '"offline"', S(2, 'z'))]);
  assert.deepEqual(kv.keys('p:m\u0001cards\u0001'), [], 'an older row stays out');
  const loaded = new ReplicaState((s) => KINDS[s]);
  for (const c of tier.load()) loaded.apply(c);
  assert.equal(loaded.map('cards').watermark, S(3), 'the watermark row is loaded back');
});

test('Cairn.clear of a map section writes one clear and purges the local tier', async () => {
  const local = new MemoryKv();
  const cairn = await Cairn.open({ user: 'alice', storage: 'memory', channel: null, replica: 'tab-1', startSync: false,
    kv: { local, session: new MemoryKv(), logs: new MemoryKv(), outbox: new MemoryKv() } });
  cairn.preferences.setTheme('dark');
  cairn.cards.card('intro').expand();
  await cairn.save();
  assert.ok(local.keys('cairn:alice\u0000m\u0001cards\u0001').length > 0);
  const n = cairn.clear('cards');
  assert.ok(n >= 1);
  await cairn.save();
  assert.deepEqual(local.keys('cairn:alice\u0000m\u0001cards\u0001'), [], 'the cleared section left no rows');
  assert.equal(cairn.cards.card('intro').isExpanded, false);
  assert.equal(cairn.preferences.theme, 'dark');
  const pushed = cairn.outbox.entries(cairn.replica).map((e) => e.change).filter((c) => c.section === 'cards' && c.op !== 'set');
  assert.deepEqual(pushed.map((c) => [c.op, c.stream]), [['clear', WHOLE_SECTION]], 'one clear, not a tombstone per key');
  await cairn.close();
});
