// Persistent values stored field by field, with versions (spec/vectors/values/README.md), across
// two devices of one user: in memory (changes handed over as the sync client would) and through an
// in-process fake server speaking PROTOCOL.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { ScriptedServer } from './support/scripted-server.js';
import { until } from './support/until.js';

/** A server speaking PROTOCOL.md over a fake WebSocket; keeps every push it received. */
const newServer = () => new ScriptedServer({ maxBatch: 50 });

const tick = () => new Promise((r) => setTimeout(r, 0));

/** A device of alice, in memory; `wall` lets a test order writes of two devices. */
const device = (replica, extra = {}) => Cairn.open({ user: 'alice', storage: 'memory', channel: null, replica, ...extra });
const online = (server, replica) => device(replica, { server: { url: 'ws://fake/sync', token: () => 'tok' }, WebSocket: server.WebSocket });

/** Hands every change of `from`'s state section to `to`, as the sync client would. */
const sync = (from, to) => to.merge(from.replicaState.changesOf('state'), 'remote');
/** The live entries of the state section: key -> value. */
const entries = (cairn) => Object.fromEntries(cairn.entries('state'));
/** Collects the 'error' events of a device. */
const errorsOf = (cairn) => { const seen = []; cairn.on('error', (e) => seen.push(e)); return seen; };

test('concurrent offline edits of different fields of one object both survive (through a server)', async () => {
  const server = newServer();
  const a = await online(server, 'dev-a');
  const b = await online(server, 'dev-b');
  await until(() => a.status === 'live' && b.status === 'live', 'both live');
  a.state('profile', {}).setValue({ name: 'Ada', theme: 'light', layout: { cols: 1, rows: 1 } });
  await until(() => b.state('profile', {}).value.name === 'Ada', 'the profile to reach b');
  a.setOffline(true);
  b.setOffline(true);
  a.state('profile', {}).setValue((p) => ({ ...p, name: 'Ada Lovelace', layout: { ...p.layout, cols: 3 } }));
  b.state('profile', {}).setValue((p) => ({ ...p, theme: 'dark', layout: { ...p.layout, rows: 2 } }));
  a.setOffline(false);
  b.setOffline(false);
  const want = { layout: { cols: 3, rows: 2 }, name: 'Ada Lovelace', theme: 'dark' };
  await until(() => a.canonical() === b.canonical() && b.state('profile', {}).value.name === 'Ada Lovelace', 'convergence');
  assert.deepEqual(a.state('profile', {}).value, want);
  assert.deepEqual(b.state('profile', {}).value, want);
  assert.deepEqual(Object.keys(entries(a)), ['profile', 'profile#layout#cols', 'profile#layout#rows', 'profile#name', 'profile#theme']);
  await a.close();
  await b.close();
});

test('one setValue is one write: its changes are saved and pushed together', async () => {
  const server = newServer();
  const a = await online(server, 'dev-a');
  await until(() => a.status === 'live', 'live');
  const events = [];
  a.subscribe((e) => { if (e.changes.length) events.push(e.changes.map((c) => c.key)); });
  const h = a.state('form', {}, { saveDelay: 50 });
  h.setValue({ first: 'Ada', last: 'Lovelace', address: { city: 'London' } });
  assert.deepEqual(events, [['form', 'form#address#city', 'form#first', 'form#last']], 'one change event, keys in sorted order');
  assert.ok(h.isDirty);
  await until(() => server.log.length === 4, 'the write on the server');
  const pushed = server.pushes.filter((p) => p.some((c) => c.key?.startsWith('form')));
  assert.equal(pushed.length, 1, 'one push frame');
  assert.equal(pushed[0].length, 4);
  assert.ok(!h.isDirty);
  await a.close();
});

test('the same field edited on both devices resolves by stamp, the other fields merge', async () => {
  let wall = 1_760_000_000_000;
  const a = await device('dev-a', { wall: () => wall });
  const b = await device('dev-b', { wall: () => wall });
  a.state('doc', {}).setValue({ title: 'Draft', body: 'x' });
  sync(a, b);
  wall += 10;
  a.state('doc', {}).setValue((d) => ({ ...d, title: 'From A' }));
  wall += 10;
  b.state('doc', {}).setValue((d) => ({ ...d, title: 'From B', body: 'y' }));
  sync(a, b);
  sync(b, a);
  assert.deepEqual(a.state('doc', {}).value, { body: 'y', title: 'From B' });
  assert.equal(a.canonical(), b.canonical());
  await a.close();
  await b.close();
});

test('a v1 value read by a v2 app is migrated and written back once; v1 and v2 devices keep working, nothing is stripped', async () => {
  let wall = 1_760_000_000_000;
  const v1 = await device('dev-v1', { wall: () => wall });
  const v2 = await device('dev-v2', { wall: () => wall });
  const v1Errors = errorsOf(v1);
  const v2Errors = errorsOf(v2);
  const old = v1.state('prefs', {}, { version: 1 });
  old.setValue({ colour: 'red', size: 1, legacy: true });
  assert.deepEqual(entries(v1).prefs, { $cairn: 'fields', version: 1 });
  sync(v1, v2);
  wall += 10;

  /** @type {number[]} */
  const calls = [];
  const migrate = (/** @type {any} */ p, /** @type {number} */ from) => {
    calls.push(from);
    const { colour, ...rest } = p;
    return { ...rest, color: colour };
  };
  const next = v2.state('prefs', { color: 'blue', size: 0, fontSize: 12 }, { version: 2, migrate });
  assert.deepEqual(next.value, { color: 'red', size: 1, fontSize: 12, legacy: true }, 'migrated, default filled in');
  assert.deepEqual(next.value, { color: 'red', size: 1, fontSize: 12, legacy: true });
  assert.deepEqual(calls, [1], 'migrate called once, from version 1');
  await tick();
  assert.deepEqual(entries(v2), { prefs: { $cairn: 'fields', version: 2 }, 'prefs#color': 'red', 'prefs#legacy': true, 'prefs#size': 1 }, 'written back once: the old name deleted, the head raised');
  void next.value;
  await tick();
  assert.deepEqual(calls, [1], 'no second migration after the write-back');

  sync(v2, v1);
  wall += 10;
  assert.deepEqual(old.value, { color: 'red', size: 1, legacy: true }, 'the v1 device reads the newer value as is');
  old.setValue((p) => ({ ...p, size: 2 }));
  await tick();
  assert.deepEqual(v1Errors.map((e) => e.code), ['newer-version']);
  assert.deepEqual(entries(v1), { prefs: { $cairn: 'fields', version: 2 }, 'prefs#color': 'red', 'prefs#legacy': true, 'prefs#size': 2 }, 'the v1 write keeps the head and every field');
  old.setValue({ size: 3 }); // drops every other member: a v1 app writing over a newer value deletes nothing
  assert.deepEqual(entries(v1), { prefs: { $cairn: 'fields', version: 2 }, 'prefs#color': 'red', 'prefs#legacy': true, 'prefs#size': 3 });
  await tick();
  assert.deepEqual(v1Errors.map((e) => e.code), ['newer-version'], 'reported once per handle');

  sync(v1, v2);
  assert.deepEqual(next.value, { color: 'red', size: 3, fontSize: 12, legacy: true });
  next.setValue((p) => ({ ...p, fontSize: 14 }));
  assert.deepEqual(entries(v2)['prefs#fontSize'], 14);
  assert.deepEqual(calls, [1]);
  assert.deepEqual(v2Errors, []);
  await v1.close();
  await v2.close();
});

test('a whole handle of version 1 stores the versioned form; a version 2 app migrates it', async () => {
  const a = await device('dev-a');
  a.state('list', [], { version: 1, merge: 'whole' }).setValue([1, 2]);
  assert.deepEqual(entries(a), { list: { $cairn: 'value', version: 1, value: [1, 2] } });
  const h = a.state('list', [], { version: 2, migrate: (old, from) => [...old, from] });
  assert.deepEqual(h.value, [1, 2, 1]);
  await tick();
  assert.deepEqual(entries(a), { list: { $cairn: 'value', version: 2, value: [1, 2, 1] } });
  await a.close();
});

test('an unreadable value: the default, an unreadable-value error, the stored entries untouched', async () => {
  const a = await device('dev-a');
  const seen = errorsOf(a);
  a.state('prefs', {}, { version: 1 }).setValue({ colour: 'red' });
  const before = a.canonical();
  const h = a.state('prefs', { color: 'blue' }, { version: 2, migrate: () => { throw new Error('cannot migrate'); } });
  assert.deepEqual(h.value, { color: 'blue' });
  assert.deepEqual(h.value, { color: 'blue' });
  await tick();
  assert.deepEqual(seen.map((e) => e.code), ['unreadable-value']);
  assert.match(seen[0].message, /'prefs'.*migrate from version 1 threw: cannot migrate/);
  assert.equal(a.canonical(), before, 'nothing written');
  // A migration that returns nothing is unreadable too.
  const empty = a.state('prefs', 'fallback', { version: 3, migrate: () => undefined });
  assert.equal(empty.value, 'fallback');
  await tick();
  assert.deepEqual(seen.map((e) => e.code), ['unreadable-value', 'unreadable-value']);
  assert.match(seen[1].message, /returned undefined/);
  assert.equal(a.canonical(), before, 'still nothing written');
  // The app's next write replaces the stored value.
  h.setValue({ color: 'green' });
  assert.deepEqual(entries(a), { prefs: { $cairn: 'fields', version: 2 }, 'prefs#color': 'green' }, 'a write while the stored version is older knows every stored field');
  await a.close();
});

test('a plain whole object stored by the old layout is read, and becomes fields on the next write', async () => {
  const a = await device('dev-a');
  a.write('set', 'state', 'prefs', { theme: 'dark', size: 1 }); // as values were stored before issue 15
  const h = a.state('prefs', {});
  assert.deepEqual(h.value, { theme: 'dark', size: 1 });
  h.setValue((p) => ({ ...p, size: 2 }));
  assert.deepEqual(entries(a), { prefs: { $cairn: 'fields', version: 0 }, 'prefs#size': 2, 'prefs#theme': 'dark' });
  assert.deepEqual(h.value, { size: 2, theme: 'dark' });
  await a.close();
});

test('setValue(null) and setValue(undefined) are refused (use reset()); a key with # is refused', async () => {
  const a = await device('dev-a');
  const h = a.state('draft', 'x');
  for (const bad of [null, undefined]) {
    assert.throws(() => h.setValue(bad), (e) => e instanceof TypeError && /use reset\(\)/.test(e.message));
    assert.throws(() => h.setValue(() => bad), TypeError);
  }
  assert.deepEqual(entries(a), {});
  assert.throws(() => a.state('a#b', 1), /state key 'a#b' may not contain '#'/);
  h.setValue({ n: null });
  assert.deepEqual(h.value, { n: null }, 'null inside an object is an ordinary field');
  await a.close();
});

test('reset deletes the root and every field; subscribe hears field changes from elsewhere; reads are cached', async () => {
  const a = await device('dev-a');
  const b = await device('dev-b');
  const h = a.state('doc', { title: '' });
  h.setValue({ title: 'T', meta: { tags: ['a'] } });
  const first = h.value;
  a.state('other', 0).setValue(5);
  assert.equal(h.value, first, 'the same object until an entry of the value changes');
  sync(a, b);
  const heard = [];
  h.subscribe((v) => heard.push(v));
  b.state('doc', {}).setValue((d) => ({ ...d, meta: { tags: ['a', 'b'] } }));
  sync(b, a);
  assert.deepEqual(heard.at(-1), { title: 'T', meta: { tags: ['a', 'b'] } });
  assert.notEqual(h.value, first);
  h.reset();
  assert.deepEqual(entries(a), { other: 5 });
  assert.deepEqual(h.value, { title: '' });
  await a.close();
  await b.close();
});

test('a field entry takes the persistence policy of its value', async () => {
  const a = await device('dev-a');
  const h = a.state('secret', {}, { sync: false, persistTo: 'context' });
  h.setValue({ pin: 1234 });
  assert.equal(a.policyFor('state', 'secret#pin'), h.policy);
  await a.save();
  assert.deepEqual(a.outbox.entries(a.replica), [], 'nothing to push');
  await a.close();
});
