// Spaces on the device (cairn/space/): one local replica per space in its own IndexedDB database
// (its chunks, outbox and cursor apart from the user's), what the hello names after a reload, the
// local copy dropped on space-left with onSpaceLeft 'drop', and the membership calls over fetch.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { IdbStore } from '../../main/web/cairn/idb-store.js';
import { MemoryKv } from '../../main/web/cairn/storage.js';
import { makeChange } from '../../main/web/cairn/codec.js';
import { spaceStoreName } from '../../main/web/cairn/space/space.js';
import { encode as encodePage, decode as decodePage } from '../../main/web/cairn/page.js';
import { until } from './support/until.js';

let users = 0;
const newUser = () => `space-user${++users}`;
let millis = Date.now() + 5000;
const server = (section, key, value) => makeChange('set', section, key, JSON.stringify(value), `${(millis++).toString(16).padStart(12, '0')}0000@server`);

/** A WebSocket that opens, records what the client sends, and answers nothing. */
function recordingSocket() {
  const sent = [];
  class Ws {
    constructor() {
      this.readyState = 0;
      setTimeout(() => { this.readyState = 1; this.onopen?.(); }, 1);
    }
    send(data) { sent.push(typeof data === 'string' ? JSON.parse(data) : data); }
    close() { this.readyState = 3; }
  }
  return { Ws, sent };
}

/**
 * A WebSocket that opens, records the frames the client sends (text parsed, with when on the
 * monotonic clock; pages decoded) and takes frames and pages to deliver.
 */
function scriptedSocket() {
  /** @type {Array<{at: number, frame: any}>} */
  const sent = [];
  /** @type {any[]} */
  const pages = [];
  /** @type {any} */
  let socket = null;
  class Ws {
    constructor() {
      this.readyState = 0;
      socket = this;
      setTimeout(() => { this.readyState = 1; this.onopen?.(); }, 1);
    }
    send(data) {
      if (typeof data === 'string') sent.push({ at: performance.now(), frame: JSON.parse(data) });
      else decodePage(new Uint8Array(data), 1 << 20).then((f) => pages.push(f));
    }
    close() { this.readyState = 3; }
  }
  return {
    Ws, sent, pages,
    open: () => socket?.readyState === 1,
    deliver: (/** @type {any} */ frame) => socket.onmessage({ data: JSON.stringify(frame) }),
    /** @param {any} frame */
    deliverPage: async (frame) => {
      const page = await encodePage(frame);
      socket.onmessage({ data: page.buffer.slice(page.byteOffset, page.byteOffset + page.byteLength) });
    },
  };
}

/** Row counts of a database's object stores. @param {string} user */
async function counts(user) {
  const db = await IdbStore.openDb(user);
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(['chunks', 'outbox'], 'readonly');
      const chunks = tx.objectStore('chunks').count();
      const outbox = tx.objectStore('outbox').count();
      tx.oncomplete = () => resolve({ chunks: chunks.result, outbox: outbox.result });
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

const open = (user, kv, extra = {}) => Cairn.open({ user, storage: 'browser', channel: null, replica: 'tab-1', startSync: false, kv, spaces: true, ...extra });

test('a space keeps its data, outbox and cursor in its own database; after a reload the hello names it with its cursor', async () => {
  const user = newUser();
  const kv = { local: new MemoryKv(), session: new MemoryKv() };
  const cairn = await open(user, kv);
  cairn.applyRemote([{ seq: 1, change: server('spaces', 'trip', { name: 'Trip', role: 'editor' }) }], 1);
  const trip = await cairn.space('trip');
  trip.applyRemote([{ seq: 1, change: server('members', user, { role: 'editor' }) }, { seq: 7, change: server('state', 'items/a', 'tent') }], 7);
  trip.write('set', 'state', 'items/b', 'stove');
  await trip.save();
  await cairn.close();

  const stored = await counts(spaceStoreName(user, 'trip'));
  assert.ok(stored.chunks >= 1, 'the space\'s page is in its database');
  assert.equal(stored.outbox, 1, 'its local write waits in its own outbox');
  assert.equal((await counts(user)).outbox, 0, 'nothing of the space in the user\'s outbox');

  const { Ws, sent } = recordingSocket();
  const again = await open(user, kv, { startSync: true, server: { url: 'ws://x/sync', token: () => 't' }, WebSocket: Ws });
  const reopened = again.openedSpace('trip');
  assert.ok(reopened, 'the spaces of the spaces section open with the user');
  assert.equal(reopened.get('state', 'items/a'), 'tent');
  assert.equal(reopened.get('state', 'items/b'), 'stove');
  assert.equal(reopened.savedCursor, 7);
  assert.deepEqual(reopened.members(), [{ user, role: 'editor' }]);
  assert.equal(reopened.syncStatus.pending, 1, 'its unacknowledged write is still there to push');
  assert.deepEqual(again.spaces(), [{ id: 'trip', name: 'Trip', role: 'editor' }]);
  for (let i = 0; i < 100 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(sent[0], { type: 'hello', protocol: 1, versions: [1, 2], replica: 'tab-1', cursor: 1, spaces: { trip: 7 } });
  await again.close();
});

test('space-left with onSpaceLeft drop: the values, the outbox and the stored chunks leave the device; the replica stays marked left', async () => {
  const user = newUser();
  const kv = { local: new MemoryKv(), session: new MemoryKv() };
  const cairn = await open(user, kv, { onSpaceLeft: 'drop' });
  const trip = await cairn.space('trip');
  trip.applyRemote([{ seq: 1, change: server('state', 'items/a', 'tent') }], 1);
  trip.write('set', 'state', 'items/b', 'stove');
  await trip.save();
  const left = [];
  trip.on('left', (e) => left.push(e));
  trip.leftBySync('removed');
  assert.deepEqual(left, [{ space: 'trip', reason: 'removed' }]);
  assert.equal(trip.get('state', 'items/a'), undefined);
  assert.equal(trip.syncStatus.pending, 0);
  assert.equal(trip.syncStatus.left, 'removed');
  assert.equal(cairn.openedSpace('trip'), trip, 'the same replica, empty');
  await cairn.close();
  assert.deepEqual(await counts(spaceStoreName(user, 'trip')), { chunks: 0, outbox: 0 }, 'nothing of it is stored');
  const again = await open(user, kv);
  const reopened = await again.space('trip');
  assert.equal(reopened.get('state', 'items/b'), undefined);
  assert.equal(reopened.leftReason, 'removed', 'still left: later hellos do not name it');
  await again.close();
});

test('membership calls go over fetch with the token; an error answer rejects with its code; bad input is refused before any call', async () => {
  const calls = [];
  const answers = {
    'POST /api/spaces': [200, { id: 'sp-1', name: 'Trip', role: 'owner' }],
    'POST /api/spaces/sp-1/invitations': [200, { code: 'c0de', role: 'viewer', expiresAtMillis: 5 }],
    'DELETE /api/spaces/sp-1/members/bob': [403, { error: 'forbidden', message: 'only the owner removes members' }],
    'POST /api/spaces/join': [404, { error: 'invalid-invitation', message: 'unknown, used or expired' }],
    'DELETE /api/spaces/sp-1/members/alice': [200, { removed: true }],
    'POST /api/spaces/sp-1/owner': [200, { owner: 'bob' }],
    'DELETE /api/spaces/sp-1': [200, { deleted: true }],
    'GET /api/spaces': [200, { spaces: [{ id: 'sp-1', name: 'Trip', role: 'owner' }] }],
    'GET /api/spaces/sp-1': [200, { id: 'sp-1', name: 'Trip', role: 'owner', members: [{ user: 'alice', role: 'owner' }] }],
  };
  const fetch = async (url, init) => {
    const u = new URL(url);
    const key = `${init.method} ${u.pathname}`;
    calls.push({ key, auth: init.headers.Authorization, body: init.body ? JSON.parse(init.body) : undefined });
    const [status, body] = answers[key] ?? [404, { error: 'not-found', message: key }];
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  };
  const cairn = await Cairn.open({ user: 'alice', storage: 'memory', channel: null, spaces: true, startSync: false, fetch, server: { url: 'wss://host/sync', token: () => 'tok' } });
  assert.deepEqual(await cairn.createSpace('Trip'), { id: 'sp-1', name: 'Trip', role: 'owner' });
  assert.deepEqual(calls[0], { key: 'POST /api/spaces', auth: 'Bearer tok', body: { name: 'Trip' } });
  const space = await cairn.space('sp-1');
  assert.deepEqual(await cairn.listSpaces(), [{ id: 'sp-1', name: 'Trip', role: 'owner' }]);
  assert.deepEqual((await space.info()).members, [{ user: 'alice', role: 'owner' }]);
  calls.length = 1;
  assert.deepEqual(await space.invite('viewer', 3600), { code: 'c0de', role: 'viewer', expiresAtMillis: 5 });
  assert.deepEqual(calls[1].body, { role: 'viewer', expiresInSeconds: 3600 });
  await assert.rejects(space.removeMember('bob'), (e) => e.code === 'forbidden' && e.status === 403);
  await assert.rejects(cairn.joinSpace('nope'), (e) => e.code === 'invalid-invitation' && e.status === 404);
  assert.deepEqual(await space.leave(), { removed: true });
  assert.deepEqual(await space.transferOwnership('bob'), { owner: 'bob' });
  assert.deepEqual(await space.deleteSpace(), { deleted: true });
  const n = calls.length;
  assert.throws(() => space.addMember('bob', 'owner'), RangeError);
  assert.throws(() => space.invite('admin'), RangeError);
  await assert.rejects(cairn.createSpace(''), RangeError);
  assert.equal(calls.length, n, 'nothing was sent');
  await cairn.close();
});

test('presence: every space counts toward the socket\'s 10 frames a second; a refused presence is an error event of its space', async () => {
  const { Ws, sent, deliver } = scriptedSocket();
  const cairn = await Cairn.open({ user: 'alice', storage: 'memory', channel: null, spaces: true, WebSocket: Ws, server: { url: 'ws://x/sync', token: () => 't' } });
  try {
    await presenceChecks(cairn);
  } finally {
    await cairn.close(); // its timers end with it, passed or not
  }

  /** @param {Cairn} cairn */
  async function presenceChecks(cairn) {
    const [a, b] = [await cairn.space('a'), await cairn.space('b')];
    await until(() => sent.length === 1);
    assert.deepEqual(sent[0].frame.spaces, { a: 0, b: 0 });
    a.setPresence({ at: 1 });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(sent.filter((x) => x.frame.type === 'presence').length, 0, 'no presence before the session knows the space');
    deliver({ type: 'welcome', protocol: 2, user: 'alice', head: 0, maxBatch: 100, maxAheadMillis: 60000, spaces: { a: { role: 'editor', head: 0 }, b: { role: 'viewer', head: 0 } } });
    await until(() => a.status === 'catching-up' && b.status === 'catching-up');
    b.setPresence({ at: 2 });
    await until(() => sent.filter((s) => s.frame.type === 'presence').length === 2);
    const [pa, pb] = sent.filter((s) => s.frame.type === 'presence');
    assert.deepEqual([pa.frame, pb.frame], [{ type: 'presence', space: 'a', state: { at: 1 } }, { type: 'presence', space: 'b', state: { at: 2 } }]);
    assert.ok(pb.at - pa.at >= 140, `the second frame waited for the socket's rate (${pb.at - pa.at} ms)`);
    const errors = [];
    b.on('error', (e) => errors.push(e));
    deliver({ type: 'error', code: 'not-a-member', space: 'b', message: 'not a member of b' });
    await until(() => errors.length === 1);
    assert.equal(errors[0].code, 'not-a-member');
    assert.equal(errors[0].space, 'b');
  }
});

test('presence: a wall clock set back does not hold the next presence back (the socket\'s rate is counted on the monotonic clock)', async () => {
  const { Ws, sent, deliver } = scriptedSocket();
  const realNow = Date.now;
  const cairn = await Cairn.open({ user: 'alice', storage: 'memory', channel: null, spaces: true, WebSocket: Ws, server: { url: 'ws://x/sync', token: () => 't' } });
  try {
    const trip = await cairn.space('trip');
    await until(() => sent.length === 1, 'hello');
    deliver({ type: 'welcome', protocol: 2, user: 'alice', head: 0, maxBatch: 100, maxAheadMillis: 60000, spaces: { trip: { role: 'editor', head: 0 } } });
    await until(() => trip.status === 'catching-up', 'the space in the session');
    const presences = () => sent.filter((s) => s.frame.type === 'presence').map((s) => s.frame.state);
    trip.setPresence({ at: 1 });
    await until(() => presences().length === 1, 'the first presence');
    await new Promise((r) => setTimeout(r, 200)); // past the socket's 150 ms gap
    const setBack = realNow() - 3_600_000;
    Date.now = () => setBack;
    trip.setPresence({ at: 2 });
    await until(() => presences().length === 2, 'the second presence, with the wall clock an hour back', 1000);
    assert.deepEqual(presences(), [{ at: 1 }, { at: 2 }]);
  } finally {
    Date.now = realNow;
    await cairn.close();
  }
});

test('export and import leave the server-written sections alone: spaces and members are neither exported by default nor imported', async () => {
  const cairn = await Cairn.open({ user: 'alice', storage: 'memory', channel: null, spaces: true });
  cairn.applyRemote([{ seq: 1, change: server('spaces', 'trip', { name: 'Trip', role: 'viewer' }) }], 1);
  cairn.write('set', 'state', 'mine', 1);
  const doc = cairn.exportData();
  assert.ok(!doc.includes('"spaces"'), 'not in the default export');
  const withSpaces = cairn.exportData(['spaces', 'state']);
  const other = await Cairn.open({ user: 'alice', storage: 'memory', channel: null, spaces: true });
  other.importData(withSpaces);
  assert.equal(other.get('state', 'mine'), 1);
  assert.deepEqual(other.spaces(), [], 'membership is not imported: the server is its record');
  await other.save();
  assert.equal(other.syncStatus.pending, 1, 'only the user\'s own data waits to be pushed');
  await cairn.close();
  await other.close();
});

test('space.syncNow resolves once the space is live and its writes are acknowledged; it fails when the push is refused for good, also while it saves', async () => {
  const { Ws, pages, open, deliver, deliverPage } = scriptedSocket();
  const cairn = await Cairn.open({ user: 'alice', storage: 'memory', channel: null, spaces: true, WebSocket: Ws, server: { url: 'ws://x/sync', token: () => 't' } });
  try {
    const trip = await cairn.space('trip');
    await until(open);
    const ack = (batch) => deliverPage({ type: 'ack', batch });
    deliver({ type: 'welcome', protocol: 2, user: 'alice', head: 0, maxBatch: 100, maxAheadMillis: 60000, spaces: { trip: { role: 'editor', head: 0 } } });
    deliver({ type: 'caught-up', cursor: 0 });
    trip.write('set', 'state', 'a', 1);
    let settled = null;
    trip.syncNow().then(() => { settled = 'ok'; }, (e) => { settled = e.code; });
    await until(() => pages.length === 1);
    assert.equal(pages[0].space, 'trip');
    await ack(pages[0].batch);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(settled, null, 'not live yet: the space is still catching up');
    deliver({ type: 'caught-up', space: 'trip', cursor: 0 });
    await until(() => settled === 'ok');
    trip.write('set', 'state', 'b', 2);
    let refused = null;
    trip.syncNow().then(() => { refused = 'ok'; }, (e) => { refused = e.code; });
    await until(() => pages.length === 2);
    deliver({ type: 'error', code: 'forbidden', batch: pages[1].batch, space: 'trip', message: 'a viewer now' });
    await until(() => refused === 'forbidden');
    assert.equal(trip.refused.length, 1);
    assert.equal(cairn.lastError?.code, 'forbidden', 'the status reports it');

    // refused while the call still saves (its changes already gone when it registers): it fails all the same
    trip.write('set', 'state', 'c', 3);
    await until(() => pages.length === 3);
    let release = () => {};
    const gate = new Promise((r) => { release = r; });
    const save = trip.save;
    trip.save = () => { trip.save = save; return save.call(trip).then((v) => gate.then(() => v)); };
    let whileSaving = null;
    trip.syncNow().then(() => { whileSaving = 'ok'; }, (e) => { whileSaving = e.code; });
    deliver({ type: 'error', code: 'forbidden', batch: pages[2].batch, space: 'trip', message: 'a viewer now' });
    await until(() => trip.refused.length === 2);
    release();
    await until(() => whileSaving !== null);
    assert.equal(whileSaving, 'forbidden');
  } finally {
    await cairn.close();
  }
});

test("a server's export lists the server-written sections: an import reads past them and writes none", async () => {
  const doc = JSON.stringify({
    format: 'cairn-export', version: 1, exportedAt: '2026-12-06T00:00:00Z', sections: {
      members: { kind: 'map', entries: { bob: { value: { role: 'owner' }, stamp: '0190a1b2c3d40001@server' } } },
      spaces: { kind: 'map', entries: { sp1: { value: { name: 'Trip', role: 'owner' }, stamp: '0190a1b2c3d40002@server' } } },
      state: { kind: 'map', entries: { a: { value: 1, stamp: '0190a1b2c3d40003@x' } } },
    },
  });
  for (const spaces of [true, false]) {
    const cairn = await Cairn.open({ user: 'alice', storage: 'memory', channel: null, spaces, startSync: false });
    const r = cairn.importData(doc);
    assert.equal(r.changesApplied, 1);
    assert.equal(cairn.state('a').value, 1);
    if (spaces) assert.deepEqual(cairn.spaces(), []);
    cairn.close();
  }
});

test('removing the device data (sign-out) deletes the user\'s database and every space\'s, and no other user\'s', async () => {
  const user = newUser();
  const other = newUser();
  const kv = { local: new MemoryKv(), session: new MemoryKv() };
  const cairn = await open(user, kv);
  cairn.applyRemote([{ seq: 1, change: server('spaces', 'trip', { name: 'Trip', role: 'editor' }) }], 1);
  for (const id of ['trip', 'camp']) {
    const space = await cairn.space(id);
    space.write('set', 'state', 'x', id);
    await space.save();
  }
  const keep = await open(other, { local: new MemoryKv(), session: new MemoryKv() });
  await (await keep.space('trip')).save();
  await keep.close();
  await cairn.close();
  const names = async () => (await indexedDB.databases()).map((d) => d.name);
  assert.ok((await names()).includes(`cairn-${spaceStoreName(user, 'camp')}`));
  for (const s of cairn.openSpaces.values()) s.store.close();
  cairn.store.close();
  assert.equal(await Cairn.removeDeviceDatabases(user), true, 'found by the browser\'s list, none blocked');
  const left = await names();
  assert.deepEqual(left.filter((n) => n.startsWith(`cairn-${user}`)), [], 'nothing of the user: ' + left);
  assert.ok(left.includes(`cairn-${other}`) && left.includes(`cairn-${spaceStoreName(other, 'trip')}`), 'the other user\'s stay');
});

test('dropRefused rolls the refused values back in memory and in IndexedDB, and the cursor goes to 0 so the server\'s values come back', async () => {
  const user = newUser();
  const kv = { local: new MemoryKv(), session: new MemoryKv() };
  const cairn = await open(user, kv);
  cairn.applyRemote([{ seq: 1, change: server('spaces', 'trip', { name: 'Trip', role: 'viewer' }) }], 1);
  const trip = await cairn.space('trip');
  const theirs = server('state', 'title', 'theirs');
  trip.applyRemote([{ seq: 1, change: server('members', user, { role: 'viewer' }) }, { seq: 2, change: theirs }, { seq: 3, change: server('state', 'kept', 1) }], 3);
  trip.write('set', 'state', 'title', 'mine');
  trip.write('set', 'state', 'other', 'mine too');
  trip.write('append', 'chat', 'c1', 'hello');
  await trip.save();
  const ids = trip.outbox.entries().map((e) => e.id);
  trip.refusedBySync(ids, { code: 'forbidden', message: 'a viewer cannot write' });
  assert.equal(trip.replicaState.log('chat').size('c1'), 1);
  trip.write('set', 'state', 'other', 'newer'); // overwritten since: not rolled back
  await trip.save();
  trip.dropRefused();
  assert.equal(trip.get('state', 'title'), undefined, 'the refused value is gone');
  assert.equal(trip.get('state', 'other'), 'newer');
  assert.equal(trip.replicaState.log('chat').size('c1'), 0, 'the refused append is gone');
  assert.equal(trip.get('state', 'kept'), 1);
  assert.equal(trip.savedCursor, 0, 'the space is taken again from the server');
  assert.deepEqual(trip.refused, []);
  trip.applyRemote([{ seq: 2, change: theirs }], 3);
  assert.equal(trip.get('state', 'title'), 'theirs', 'the value the refused write replaced is back');
  await cairn.close();

  const again = await open(user, kv);
  const reopened = await again.space('trip');
  assert.equal(reopened.get('state', 'title'), 'theirs', 'rolled back in IndexedDB too');
  assert.equal(reopened.get('state', 'other'), 'newer');
  assert.equal(reopened.get('state', 'kept'), 1);
  assert.equal(reopened.replicaState.log('chat').size('c1'), 0);
  await again.close();
});
