// Spaces through the shared sync worker (worker/space-host.js, worker/space-link.js): tabs (Cairn
// with `workerPort` and `spaces: true`) talk to one SyncHost over MessageChannels, with
// fake-indexeddb; the host's one socket is a scripted WebSocket this test speaks PROTOCOL.md 8 on.
// A space change reaches every tab, a space push from a tab is acknowledged, space-left and
// presence reach the tabs, and the space's pages are saved once, by the worker, in its database.
import 'fake-indexeddb/auto';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { IdbStore } from '../../main/web/cairn/idb-store.js';
import { acceptPort } from '../../main/web/cairn/worker/sync-host.js';
import { serveScope } from '../../main/web/cairn/worker/worker-scope.js';
import { spaceStoreName } from '../../main/web/cairn/space/space.js';
import { unpack } from '../../main/web/cairn/chunk.js';
import { encode, decode } from '../../main/web/cairn/page.js';
import { rows } from './support/idb-rows.js';
import { until } from './support/until.js';


let millis = Date.now() + 5000;
const stamp = (who) => `${(millis++).toString(16).padStart(12, '0')}0000@${who}`;
const change = (section, key, value, who = 'server') => ({ op: 'set', section, key, value: JSON.stringify(value), stamp: stamp(who) });

/** A scripted socket: records every frame the client sends (text and binary pages, decoded), the test answers. */
function scriptedSockets() {
  const sockets = [];
  class Ws {
    constructor() {
      this.readyState = 0;
      /** @type {any[]} */
      this.sent = [];
      sockets.push(this);
      setTimeout(() => { this.readyState = 1; this.onopen?.(); }, 1);
    }
    send(data) {
      if (typeof data === 'string') this.sent.push(JSON.parse(data));
      else decode(new Uint8Array(data), 1 << 20).then((f) => this.sent.push(f));
    }
    close() { this.readyState = 3; this.onclose?.({ code: 1000, reason: '' }); }
    /** @param {any} frame */
    async deliver(frame) {
      if (frame.type === 'ack' || frame.type === 'changes') {
        const page = await encode(frame);
        this.onmessage?.({ data: page.buffer.slice(page.byteOffset, page.byteOffset + page.byteLength) });
      } else this.onmessage?.({ data: JSON.stringify(frame) });
    }
  }
  return { Ws, sockets, last: () => sockets[sockets.length - 1] };
}

let users = 0;
/** @type {Array<Map<string, Promise<any>>>} */
const workers = [];
after(async () => {
  for (const hosts of workers) for (const host of hosts.values()) (await host).close();
});

/** A worker (its hosts) and a way to open tabs of a new user against it. */
function worker(extra = {}) {
  const hosts = new Map();
  workers.push(hosts);
  const net = scriptedSockets();
  const user = `wspace-user${++users}`;
  const tab = (replica, more = {}) => {
    const channel = new MessageChannel();
    acceptPort(channel.port2, hosts, undefined, { WebSocket: net.Ws });
    return Cairn.open({ user, replica, channel: null, workerPort: channel.port1, spaces: true, server: { url: 'ws://fake/sync', token: () => 'tok' }, ...extra, ...more });
  };
  return { user, hosts, tab, net };
}

/** The server's welcome for `user` (the token's sub: a welcome for another user is refused). @param {string} user @param {any} spaces */
const welcome = (user, spaces, head = 0) => ({ type: 'welcome', protocol: 2, user, head, maxBatch: 100, maxAheadMillis: 60000, spaces });

/** Two tabs with space 'trip' open, its session live through the worker's one socket. */
async function liveTrip(extra) {
  const w = worker(extra);
  const a = await w.tab('tab-a');
  const b = await w.tab('tab-b');
  assert.ok(a.worker && b.worker, 'both tabs use the worker');
  const [ta, tb] = [await a.space('trip'), await b.space('trip')];
  assert.ok(ta.workerLink && tb.workerLink, 'the space\'s database and traffic are the worker\'s');
  await until(() => w.net.sockets.length === 1 && w.net.last().readyState === 1 && w.net.last().sent.length >= 1, 'the hello');
  const ws = w.net.last();
  await ws.deliver(welcome(w.user, { trip: { role: 'editor', head: 1 } }));
  await ws.deliver({ type: 'changes', changes: [{ seq: 1, change: change('spaces', 'trip', { name: 'Trip', role: 'editor' }) }], cursor: 1 });
  await ws.deliver({ type: 'caught-up', cursor: 1 });
  await ws.deliver({ type: 'changes', space: 'trip', changes: [{ seq: 1, change: change('state', 'items/a', 'tent') }], cursor: 1 });
  await ws.deliver({ type: 'caught-up', space: 'trip', cursor: 1 });
  await until(() => ta.status === 'live' && tb.status === 'live', 'the space live in both tabs');
  return { ...w, a, b, ta, tb, ws };
}

test('two tabs see a space change through the worker\'s one socket; the page is saved once, in the space\'s database; a new session names the space with its cursor', async () => {
  const { a, b, ta, tb, ws, user, net } = await liveTrip();
  assert.equal(net.sockets.length, 1, 'one socket for two tabs and their space');
  assert.equal(ta.get('state', 'items/a'), 'tent');
  assert.equal(tb.get('state', 'items/a'), 'tent');
  await ws.deliver({ type: 'changes', space: 'trip', changes: [{ seq: 2, change: change('state', 'items/b', 'stove', 'bob-phone') }], cursor: 2 });
  await until(() => ta.get('state', 'items/b') === 'stove' && tb.get('state', 'items/b') === 'stove', 'the other member\'s change in both tabs');
  assert.equal(a.get('state', 'items/b'), undefined, 'not in the user\'s own state');
  await until(async () => (await rows(spaceStoreName(user, 'trip'), 'meta')).some(([k, v]) => k.endsWith(':cursor') && Number(v) === 2), 'the space cursor saved');
  const stored = (await rows(spaceStoreName(user, 'trip'), 'chunks')).flatMap(([, chunk]) => unpack(chunk));
  assert.equal(stored.filter((c) => c.key === 'items/b').length, 1, 'the page saved once, by the worker');
  assert.equal((await rows(user, 'chunks')).flatMap(([, c]) => unpack(c)).filter((c) => c.section === 'state').length, 0, 'nothing of the space in the user\'s database');

  a.setOffline(true);
  await until(() => b.status === 'offline', 'the shared socket down');
  a.setOffline(false);
  await until(() => net.sockets.length === 2 && net.last().sent.length >= 1, 'a new hello');
  assert.deepEqual(net.last().sent[0].spaces, { trip: 2 }, 'hello names the space with its cursor');
  await a.close();
  await b.close();
});

test('a space write in a tab is pushed by the worker (kind 5) and acknowledged; syncNow resolves; a refusal for good shows as refused in every tab', async () => {
  const { a, b, ta, tb, ws, user } = await liveTrip();
  ta.write('set', 'state', 'items/c', 'map');
  const done = ta.syncNow();
  await until(() => ws.sent.some((f) => f.type === 'push' && f.space === 'trip'), 'the space push');
  const push = ws.sent.find((f) => f.type === 'push' && f.space === 'trip');
  assert.deepEqual(push.changes.map((c) => c.key), ['items/c']);
  assert.ok(push.changes[0].stamp.endsWith('@tab-a'), 'the tab\'s stamp');
  await ws.deliver({ type: 'ack', batch: push.batch });
  await done;
  assert.equal(ta.syncStatus.pending, 0, 'acknowledged in the writing tab');
  await until(async () => (await rows(spaceStoreName(user, 'trip'), 'outbox')).length === 0, 'the outbox row gone from the space\'s database');

  tb.write('set', 'state', 'items/d', 'rope');
  await tb.save();
  await until(() => ws.sent.filter((f) => f.type === 'push' && f.space === 'trip').length === 2, 'the second push');
  const second = ws.sent.filter((f) => f.type === 'push' && f.space === 'trip')[1];
  const errors = [];
  tb.on('error', (e) => errors.push(e.code));
  await ws.deliver({ type: 'error', code: 'forbidden', batch: second.batch, space: 'trip', message: 'a viewer now' });
  await until(() => tb.refused.length === 1 && ta.refused.length === 1, 'refused in both tabs');
  assert.equal(tb.refused[0].change.key, 'items/d');
  assert.equal(tb.get('state', 'items/d'), 'rope', 'kept visible in the writing tab');
  assert.ok(errors.includes('forbidden'));
  assert.equal(tb.syncStatus.pending, 0, 'never pushed again');
  await a.close();
  await b.close();
});

test('dropRefused through the worker: every tab and the space\'s database forget the refused value, and the worker takes the space again from 0', async () => {
  const { a, b, ta, tb, ws, user, net } = await liveTrip();
  const theirs = change('state', 'title', 'theirs');
  await ws.deliver({ type: 'changes', space: 'trip', changes: [{ seq: 2, change: theirs }], cursor: 2 });
  await until(() => tb.get('state', 'title') === 'theirs', 'the server\'s value');
  ta.write('set', 'state', 'title', 'mine');
  await ta.save();
  await until(() => ws.sent.some((f) => f.type === 'push' && f.space === 'trip'), 'the space push');
  const push = ws.sent.find((f) => f.type === 'push' && f.space === 'trip');
  await ws.deliver({ type: 'error', code: 'forbidden', batch: push.batch, space: 'trip', message: 'a viewer now' });
  await until(() => ta.refused.length === 1 && tb.refused.length === 1, 'refused in both tabs');
  await until(async () => (await rows(spaceStoreName(user, 'trip'), 'chunks')).flatMap(([, c]) => unpack(c)).some((c) => c.value === JSON.stringify('mine')), 'the refused write stored');

  ta.dropRefused();
  assert.equal(ta.get('state', 'title'), undefined, 'rolled back in the tab that dropped it');
  await until(() => tb.refused.length === 0 && ta.refused.length === 0, 'the refused list empty in both tabs');
  await until(() => net.sockets.length === 2 && net.last().sent.length >= 1, 'the worker starts a new session');
  assert.deepEqual(net.last().sent[0].spaces, { trip: 0 }, 'the space is taken again from 0');
  const stored = (await rows(spaceStoreName(user, 'trip'), 'chunks')).flatMap(([, c]) => unpack(c));
  assert.ok(!stored.some((c) => c.value === JSON.stringify('mine')), 'the refused value left the space\'s database');

  const again = net.last();
  await again.deliver(welcome(user, { trip: { role: 'viewer', head: 2 } }, 1));
  await again.deliver({ type: 'caught-up', cursor: 1 });
  await again.deliver({ type: 'changes', space: 'trip', changes: [{ seq: 2, change: theirs }], cursor: 2 });
  await again.deliver({ type: 'caught-up', space: 'trip', cursor: 2 });
  await until(() => ta.get('state', 'title') === 'theirs' && tb.get('state', 'title') === 'theirs', 'the server\'s value back in both tabs');
  await a.close();
  await b.close();
});

test('presence through the worker: the socket carries the last a tab still open set; when that tab closes, the other tab\'s comes back; withdrawn when none is left', async () => {
  const { a, b, ta, tb, ws } = await liveTrip();
  const presences = () => ws.sent.filter((f) => f.type === 'presence').map((f) => f.state);
  ta.setPresence({ at: 'items/a' });
  await until(() => presences().length === 1, 'tab a\'s presence');
  tb.setPresence({ at: 'items/b' });
  await until(() => presences().length === 2, 'tab b\'s presence');
  assert.deepEqual(presences(), [{ at: 'items/a' }, { at: 'items/b' }]);
  await b.close(); // tab b goes: its presence must not stay on the socket
  await until(() => presences().length === 3, 'tab a\'s presence again');
  assert.deepEqual(presences()[2], { at: 'items/a' });
  ta.setPresence(null);
  await until(() => presences().length === 4, 'the withdrawal');
  assert.equal(presences()[3], null);
  await a.close();
});

test('presence through the worker: the last tab closing the space within the socket\'s presence gap still withdraws it', async () => {
  const { a, b, ta, tb, ws } = await liveTrip();
  const presences = () => ws.sent.filter((f) => f.type === 'presence').map((f) => f.state);
  ta.setPresence({ at: 'items/a' });
  await until(() => presences().length === 1, 'tab a\'s presence');
  await ta.close(); // within 150 ms of the presence frame: the withdrawal must wait for the rate
  await tb.close(); // the last tab: the worker lets go of the space
  await until(() => presences().length === 2, 'the withdrawal after the space closed', 1000);
  assert.deepEqual(ws.sent.filter((f) => f.type === 'presence').at(-1), { type: 'presence', space: 'trip', state: null });
  await a.close();
  await b.close();
});

test('space-left reaches every tab; with onSpaceLeft drop the worker deletes the stored copy; presence goes out on the one socket and peers reach every tab', async () => {
  const { a, b, ta, tb, ws, user } = await liveTrip({ onSpaceLeft: 'drop' });
  ta.setPresence({ at: 'items/a' });
  await until(() => ws.sent.some((f) => f.type === 'presence'), 'the presence frame');
  assert.deepEqual(ws.sent.find((f) => f.type === 'presence'), { type: 'presence', space: 'trip', state: { at: 'items/a' } });
  await ws.deliver({ type: 'presence', space: 'trip', user: 'bob', replica: 'r9', state: { at: 'items/b' } });
  await until(() => ta.presence().length === 1 && tb.presence().length === 1, 'the peer in both tabs');
  assert.deepEqual(tb.presence(), [{ user: 'bob', replica: 'r9', state: { at: 'items/b' } }]);

  const left = [];
  ta.on('left', (e) => left.push(e));
  tb.on('left', (e) => left.push(e));
  await ws.deliver({ type: 'space-left', space: 'trip', reason: 'removed' });
  await until(() => left.length === 2, 'space-left in both tabs');
  assert.deepEqual(left, [{ space: 'trip', reason: 'removed' }, { space: 'trip', reason: 'removed' }]);
  assert.equal(ta.status, 'left');
  assert.equal(tb.syncStatus.left, 'removed');
  assert.equal(tb.get('state', 'items/a'), undefined, 'dropped from memory');
  assert.deepEqual(tb.presence(), [], 'no peers once left');
  await until(async () => (await rows(spaceStoreName(user, 'trip'), 'chunks')).length === 0, 'the stored chunks deleted by the worker');
  await a.close();
  await b.close();
});

test('a tab opened later reads the space the worker saved, and gets its pages from then on', async () => {
  const { a, b, tab, net, user } = await liveTrip();
  await a.close();
  await b.close();
  const c = await tab('tab-c');
  const tc = c.openedSpace('trip');
  assert.ok(tc, 'the spaces of the spaces section open with the user');
  assert.equal(tc.get('state', 'items/a'), 'tent', 'read from the space\'s database');
  await until(() => net.sockets.length === 2 && net.last().sent.length >= 1, 'the new session\'s hello');
  const ws = net.last();
  assert.deepEqual(ws.sent[0].spaces, { trip: 1 });
  await ws.deliver(welcome(user, { trip: { role: 'editor', head: 2 } }, 1));
  await ws.deliver({ type: 'changes', space: 'trip', changes: [{ seq: 2, change: change('state', 'items/e', 'lamp') }], cursor: 2 });
  await until(() => tc.get('state', 'items/e') === 'lamp', 'the page in the new tab');
  await c.close();
});

test('sign-out with the data removed: the spaces the worker kept go with the user\'s database once the worker let go', async () => {
  const { a, b, user, hosts } = await liveTrip();
  const known = a.spaces().map((s) => s.id);
  await a.close();
  await b.close();
  (await hosts.get(user)).close(); // the worker ends with the user's last tab
  hosts.delete(user);
  assert.equal(await Cairn.removeDeviceDatabases(user, { spaces: known }), true);
  const names = (await indexedDB.databases()).map((d) => d.name);
  assert.deepEqual(names.filter((n) => n.startsWith(`cairn-${user}`)), [], 'nothing of the user: ' + names);
});

test('the worker compacts a space\'s superseded chunks, as the user\'s', async () => {
  const { a, b, ta, user, hosts } = await liveTrip();
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 1000; i++) ta.write('set', 'state', `k${i}`, { round });
    await ta.save();
  }
  const host = await hosts.get(user);
  assert.equal(await host.spaceHosts.get('trip').compact(), true, 'compacted');
  const chunks = await rows(spaceStoreName(user, 'trip'), 'chunks');
  assert.ok(chunks.length <= 2, `4,000 stored changes for 1,000 held compacted into ${chunks.length} chunk(s)`);
  const stored = chunks.flatMap(([, chunk]) => unpack(chunk));
  assert.equal(stored.filter((c) => c.section === 'state' && c.key.startsWith('k')).length, 1000);
  assert.ok(stored.some((c) => c.key === 'items/a'), 'the server\'s page kept');
  await a.close();
  await b.close();
});

test('without SharedWorker, a tab\'s dedicated Worker carries its spaces the same way', async () => {
  const net = scriptedSockets();
  const saved = { SharedWorker: globalThis.SharedWorker, Worker: globalThis.Worker };
  delete globalThis.SharedWorker;
  const hosts = new Map();
  workers.push(hosts);
  globalThis.Worker = class {
    constructor() {
      const channel = new MessageChannel();
      // the worker's side: its global scope, served by the real worker code
      const scope = {
        set onmessage(f) { channel.port2.onmessage = f; },
        get onmessage() { return channel.port2.onmessage; },
        postMessage: (m) => channel.port2.postMessage(m),
        close: () => channel.port2.close(),
      };
      serveScope(scope, hosts, undefined, { WebSocket: net.Ws });
      this.port = channel.port1;
    }
    set onmessage(f) { this.port.onmessage = f; }
    get onmessage() { return this.port.onmessage; }
    postMessage(m) { this.port.postMessage(m); }
    terminate() { this.port.close(); }
  };
  try {
    const user = `wspace-user${++users}`;
    const a = await Cairn.open({ user, replica: 'tab-a', channel: null, spaces: true, server: { url: 'ws://fake/sync', token: () => 'tok' } });
    assert.equal(a.worker?.kind, 'dedicated');
    const trip = await a.space('trip');
    assert.ok(trip.workerLink, 'the space goes through the tab\'s worker');
    await until(() => net.sockets.length === 1 && net.last().readyState === 1 && net.last().sent.length >= 1, 'the hello');
    const ws = net.last();
    await ws.deliver(welcome(user, { trip: { role: 'editor', head: 1 } }));
    await ws.deliver({ type: 'caught-up', cursor: 0 });
    await ws.deliver({ type: 'changes', space: 'trip', changes: [{ seq: 1, change: change('state', 'items/a', 'tent') }], cursor: 1 });
    await ws.deliver({ type: 'caught-up', space: 'trip', cursor: 1 });
    await until(() => trip.status === 'live' && trip.get('state', 'items/a') === 'tent', 'the space page in the tab');
    trip.write('set', 'state', 'items/b', 'stove');
    await trip.save();
    await until(() => ws.sent.some((f) => f.type === 'push' && f.space === 'trip'), 'the space push');
    await ws.deliver({ type: 'ack', batch: ws.sent.find((f) => f.type === 'push' && f.space === 'trip').batch });
    await until(() => trip.syncStatus.pending === 0, 'acknowledged');
    await a.close();
  } finally {
    if (saved.SharedWorker) globalThis.SharedWorker = saved.SharedWorker;
    if (saved.Worker) globalThis.Worker = saved.Worker;
    else delete globalThis.Worker;
  }
});

/** A bare port to the worker (what a tab's WorkerLink sends, message by message): its answers by id. */
async function rawPort(hosts, user) {
  const channel = new MessageChannel();
  acceptPort(channel.port2, hosts);
  const answers = new Map();
  channel.port1.onmessage = (e) => { if (e.data.type === 'answer') answers.set(e.data.id, e.data); };
  channel.port1.postMessage({ type: 'attach', id: 0, user, lock: null, server: null, tuning: {}, spaces: true });
  await until(() => answers.has(0), 'the attach answer');
  return { post: (m) => channel.port1.postMessage(m), answers, close: () => channel.port1.close() };
}

test('a space-open the tab gave up on (space-close before the answer) is let go by the worker: no SpaceHost stays, the space is not named, and a later open takes it again', async () => {
  const w = worker();
  const a = await w.tab('tab-a');
  const host = await w.hosts.get(w.user);
  const port = await rawPort(w.hosts, w.user);
  // What joinWorker sends after its timeout: the space-close arrives while the worker still opens the database.
  port.post({ type: 'space-open', id: 1, space: 'lost', member: false, drop: false });
  port.post({ type: 'space-close', space: 'lost' });
  await until(() => port.answers.has(1), 'the first open\'s answer');
  assert.equal(port.answers.get(1).error?.code, 'not-open', 'closed before it opened');
  await until(() => !host.spaceClosing.has('lost'), 'the database let go');
  assert.equal(host.spaceHosts.has('lost'), false, 'the worker let go of the space the tab took into the page');
  assert.equal(host.spaceOpening.has('lost'), false);
  assert.deepEqual(Object.keys(host.sync?.spaces?.directory.cursors() ?? {}).filter((id) => id === 'lost'), [], 'not named in hello');

  port.post({ type: 'space-open', id: 2, space: 'lost', member: false, drop: false });
  await until(() => port.answers.has(2), 'the second open\'s answer');
  assert.equal(port.answers.get(2).ok, true);
  assert.equal(host.spaceHosts.get('lost')?.tabs.size, 1, 'opened again for the tab that asks');
  port.post({ type: 'space-close', space: 'lost' });
  await until(() => !host.spaceHosts.has('lost') && !host.spaceClosing.has('lost'), 'closed with its last tab');
  port.close();
  await a.close();
});

test('a space-open answered ok:false (a failed transaction in the space\'s database) binds the space to the worker and reports the storage problem; the tab does not open the database itself', async () => {
  const { a, b, user, hosts } = await liveTrip();
  await b.space('side'); // the worker opens the space's database for tab-b
  const host = await hosts.get(user);
  const space = host.spaceHosts.get('side');
  // Another connection holds the space's stores, so the worker's next transaction waits (then it is aborted).
  const other = await IdbStore.openDb(spaceStoreName(user, 'side'));
  let holding = true;
  const held = other.transaction(['meta'], 'readwrite');
  const spin = () => { if (holding) held.objectStore('meta').get('x').onsuccess = spin; };
  spin();
  const real = space.store.db.transaction.bind(space.store.db);
  const made = [];
  space.store.db.transaction = (...args) => { const tx = real(...args); made.push(tx); return tx; };
  try {
    space.store.putRow('meta', 'cairn:probe', '1');
    await until(() => made.length === 1, 'the worker\'s transaction waiting');
    const errors = [];
    a.on('error', (e) => errors.push(e.code));
    const opening = a.space('side');
    await until(() => space.tabs.size === 2, 'tab-a\'s space-open waiting in the worker');
    made[0].abort();
    holding = false;
    const side = await opening;
    assert.ok(side.workerLink, 'bound to the worker: it stays the one owner of the space\'s database');
    assert.ok(errors.includes('storage-unavailable'), 'the storage problem reported: ' + errors);
  } finally {
    holding = false;
    space.store.db.transaction = real;
    other.close();
  }
  await a.close();
  await b.close();
});

test('a tab asking for spaces rebuilds the worker\'s client: a syncNow pending on the old one settles on the new one', async () => {
  const w = worker();
  const a = await w.tab('tab-a', { spaces: false });
  const host = await w.hosts.get(w.user);
  await until(() => w.net.sockets.length === 1 && w.net.last().sent.length >= 1, 'the first hello');
  assert.equal(w.net.last().sent[0].spaces, undefined, 'a client without spaces');
  a.write('set', 'state', 'note', 'one');
  let settled = null;
  a.syncNow().then(() => { settled = 'ok'; }, (e) => { settled = e.code; });
  await until(() => host.sync?.waiters.size === 1, 'the syncNow waiting in the worker');
  const b = await w.tab('tab-b');
  await until(() => w.net.sockets.length === 2 && w.net.last().readyState === 1 && w.net.last().sent.length >= 1, 'the new client\'s hello');
  const ws = w.net.last();
  assert.deepEqual(ws.sent[0].spaces, {}, 'the new session names spaces');
  await ws.deliver(welcome(w.user, {}));
  await ws.deliver({ type: 'caught-up', cursor: 0 });
  await until(() => ws.sent.some((f) => f.type === 'push'), 'the pending change pushed on the new session');
  await ws.deliver({ type: 'ack', batch: ws.sent.find((f) => f.type === 'push').batch });
  await until(() => settled !== null, 'the syncNow made before the rebuild settles');
  assert.equal(settled, 'ok');
  await a.close();
  await b.close();
});

test('the worker saves a space\'s pages by the space\'s policies: a user key kept in memory only does not hold the space\'s cursor', async () => {
  const { a, b, ta, ws, user, hosts } = await liveTrip();
  a.state('draft', '', { persistTo: 'context' }); // the user's own key, in memory only
  a.write('set', 'state', 'other', 1);
  await a.save();
  const host = await hosts.get(user);
  await until(() => host.readPolicies()?.keys['state\u0000draft'] === 'context', 'the user\'s policies told to the worker');
  await ws.deliver({ type: 'changes', space: 'trip', changes: [{ seq: 2, change: change('state', 'draft', 'shared') }], cursor: 2 });
  await until(() => ta.get('state', 'draft') === 'shared', 'the page in the tab');
  await until(async () => (await rows(spaceStoreName(user, 'trip'), 'meta')).some(([k, v]) => k.endsWith(':cursor') && Number(v) === 2), 'the space\'s cursor saved past the page', 1000);
  const stored = (await rows(spaceStoreName(user, 'trip'), 'chunks')).flatMap(([, c]) => unpack(c));
  assert.ok(stored.some((c) => c.key === 'draft'), 'the space\'s key saved');

  ta.state('scratch', '', { persistTo: 'context' }); // the space's own key, in memory only: that one is not saved
  ta.write('set', 'state', 'other', 2);
  await ta.save();
  await until(() => host.spaceHosts.get('trip').readMeta('policies', null)?.keys['state\u0000scratch'] === 'context', 'the space\'s policies told to the worker');
  await ws.deliver({ type: 'changes', space: 'trip', changes: [{ seq: 3, change: change('state', 'scratch', 'x') }], cursor: 3 });
  await until(() => ta.get('state', 'scratch') === 'x', 'the page in the tab');
  await host.spaceHosts.get('trip').store.idle();
  assert.equal(host.spaceHosts.get('trip').savedCursor, 2, 'held below the key kept in memory only');
  await a.close();
  await b.close();
});
