// The space frames of PROTOCOL.md 8 in protocol.js and page.js: hello/welcome spaces, a space's
// changes, push and caught-up (pages of kinds 4 and 5 in version 2), space-left, presence, and the
// error's space; bad space ids are malformed-frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFrame, encodeFrame, ProtocolError, isSpaceId } from '../../main/web/cairn/protocol.js';
import { encode, encodePlain, decode } from '../../main/web/cairn/page.js';

const change = { op: 'set', section: 'state', key: 'items/a', value: '{"done":true}', stamp: '0190a1b2c3d40001@dev-2' };
const refuse = (text) => assert.throws(() => decodeFrame(text), (e) => e instanceof ProtocolError && e.code === 'malformed-frame');

test('hello carries each space cursor and decodes back', () => {
  const text = encodeFrame({ type: 'hello', protocol: 1, versions: [1, 2], replica: 'r1', cursor: 5, spaces: { 'sp-7f3k': 88, b_2: 0 } });
  assert.equal(text, '{"type":"hello","protocol":1,"replica":"r1","cursor":5,"versions":[1,2],"spaces":{"sp-7f3k":88,"b_2":0}}');
  assert.deepEqual(decodeFrame(text).spaces, { 'sp-7f3k': 88, b_2: 0 });
  assert.throws(() => encodeFrame({ type: 'hello', protocol: 1, replica: 'r1', cursor: 0, spaces: { 'no space': 1 } }), RangeError);
});

test('welcome names the spaces with role and head; a bad entry is malformed', () => {
  const w = decodeFrame('{"type":"welcome","protocol":2,"user":"bob","head":3,"maxBatch":10,"maxAheadMillis":1000,"spaces":{"sp-7f3k":{"role":"editor","head":97}}}');
  assert.deepEqual(w.spaces, { 'sp-7f3k': { role: 'editor', head: 97 } });
  refuse('{"type":"welcome","protocol":2,"user":"bob","head":3,"maxBatch":10,"maxAheadMillis":1000,"spaces":{"sp":{"role":"editor"}}}');
  refuse('{"type":"welcome","protocol":2,"user":"bob","head":3,"maxBatch":10,"maxAheadMillis":1000,"spaces":{"a/b":{"role":"editor","head":1}}}');
});

test('changes, push, caught-up and error name their space', () => {
  const c = decodeFrame(encodeFrame({ type: 'changes', space: 'trip', changes: [{ seq: 4, change }], cursor: 4 }));
  assert.equal(c.space, 'trip');
  assert.equal(decodeFrame('{"type":"caught-up","space":"trip","cursor":9}').space, 'trip');
  assert.equal(decodeFrame('{"type":"caught-up","cursor":9}').space, undefined);
  const p = decodeFrame(encodeFrame({ type: 'push', space: 'trip', batch: 7, changes: [change] }));
  assert.equal(p.space, 'trip');
  assert.equal(p.batch, 7);
  const e = decodeFrame('{"type":"error","code":"not-a-member","batch":7,"space":"trip","message":"gone"}');
  assert.deepEqual(e, { type: 'error', code: 'not-a-member', message: 'gone', batch: 7, space: 'trip' });
  refuse('{"type":"caught-up","space":"","cursor":9}');
  refuse('{"type":"caught-up","space":7,"cursor":9}');
});

test('space-left and presence', () => {
  assert.deepEqual(decodeFrame('{"type":"space-left","space":"trip","reason":"removed"}'), { type: 'space-left', space: 'trip', reason: 'removed' });
  refuse('{"type":"space-left","space":"trip"}');
  assert.deepEqual(decodeFrame('{"type":"presence","space":"trip","user":"bob","replica":"r2","state":{"cursor":"item-3"}}'),
    { type: 'presence', space: 'trip', user: 'bob', replica: 'r2', state: { cursor: 'item-3' } });
  assert.equal(decodeFrame('{"type":"presence","space":"trip","user":"bob","replica":"r2","state":null}').state, null);
  refuse('{"type":"presence","space":"trip","user":"bob"}');
  assert.equal(encodeFrame({ type: 'presence', space: 'trip', state: { at: [1, 'x'] } }), '{"type":"presence","space":"trip","state":{"at":[1,"x"]}}');
  assert.equal(encodeFrame({ type: 'presence', space: 'trip', state: null }), '{"type":"presence","space":"trip","state":null}');
});

test('space pages are kinds 4 and 5: the space id, then the body of kinds 1 and 2', async () => {
  const own = encodePlain({ type: 'changes', changes: [{ seq: 4, change }], cursor: 4 });
  const spaced = encodePlain({ type: 'changes', space: 'trip', changes: [{ seq: 4, change }], cursor: 4 });
  assert.equal(spaced[0], 4);
  assert.deepEqual([...spaced.subarray(2, 7)], [4, ...Buffer.from('trip')], 'the space id as a string');
  assert.deepEqual([...spaced.subarray(7)], [...own.subarray(2)], 'then the changes body');
  assert.deepEqual(await decode(spaced, 1 << 20), { type: 'changes', space: 'trip', changes: [{ seq: 4, change }], cursor: 4 });
  const push = { type: 'push', space: 'trip', batch: 9, changes: Array.from({ length: 30 }, (_, i) => ({ ...change, key: `items/${i}` })) };
  const sent = await encode(push);
  assert.equal(sent[0], 5);
  assert.equal(sent[1], 1, 'compressed like any page');
  assert.deepEqual(await decode(sent, 1 << 20), push);
});

test('a space page with a bad space id is malformed-frame', async () => {
  const bad = Uint8Array.from([4, 0, 3, ...Buffer.from('a b'), 0, 0, 0]);
  await assert.rejects(decode(bad, 1 << 20), (e) => e instanceof ProtocolError && e.code === 'malformed-frame' && /space id/.test(e.message));
  const empty = Uint8Array.from([5, 0, 0, 1, 0, 0]);
  await assert.rejects(decode(empty, 1 << 20), (e) => e instanceof ProtocolError && e.code === 'malformed-frame');
  await assert.rejects(decode(Uint8Array.from([6, 0]), 1 << 20), (e) => e.code === 'malformed-frame' && /kind 6/.test(e.message));
  assert.ok(isSpaceId('A-z_09') && !isSpaceId('x'.repeat(65)) && !isSpaceId(''));
});
