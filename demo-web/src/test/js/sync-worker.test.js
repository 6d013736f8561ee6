// The shared sync worker (cairn/worker/) in Node: tabs (Cairn with `workerPort`) talk to one
// SyncHost over MessageChannels, with fake-indexeddb and an in-process fake server. One socket for
// all tabs, each change pushed once, the server's pages saved once (by the host) and applied in
// every tab, a tab's write on disk before its save() resolves, and compaction in the host.
import 'fake-indexeddb/auto';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { ScriptedServer } from './support/scripted-server.js';
import { unpack } from '../../main/web/cairn/chunk.js';
import { acceptPort } from '../../main/web/cairn/worker/sync-host.js';
import { rows } from './support/idb-rows.js';
import { makeChange, encodeValue } from '../../main/web/cairn/codec.js';
import { until } from './support/until.js';

const newServer = () => new ScriptedServer({ user: 'u', maxBatch: 100, echoToSender: false });


let users = 0;
/** @type {Array<Map<string, Promise<any>>>} */
const workers = [];
after(async () => {
  for (const hosts of workers) for (const host of hosts.values()) (await host).close();
});

/** A worker (hosts) and a way to open tabs of `user` against it. */
function worker(server) {
  const hosts = new Map();
  workers.push(hosts);
  const user = `worker-user${++users}`;
  server.user = user; // its welcome is for this user, as a real server's for the token's sub
  const tab = (replica) => {
    const channel = new MessageChannel();
    acceptPort(channel.port2, hosts, undefined, { WebSocket: server.WebSocket });
    return Cairn.open({ user, replica, channel: null, workerPort: channel.port1, server: { url: 'ws://fake/sync', token: () => 'tok' } });
  };
  return { user, hosts, tab };
}

test('two tabs share one socket: a write is pushed once, the server\'s page is saved once and applied in both', async () => {
  const server = newServer();
  const { user, tab } = worker(server);
  const a = await tab('tab-a');
  const b = await tab('tab-b');
  assert.ok(a.worker && b.worker, 'both tabs use the worker');
  await until(() => a.status === 'live' && b.status === 'live', 'both live');
  assert.equal(server.sockets.size, 1, 'one socket for two tabs');

  a.cards.card('intro').toggle();
  await a.syncNow();
  const stamps = server.pushed().map((c) => c.stamp);
  assert.ok(stamps.length >= 1 && new Set(stamps).size === stamps.length, 'each change pushed once: ' + stamps);
  assert.equal(a.syncStatus.pending, 0, 'acknowledged in the writing tab');

  const phone = makeChange('set', 'preferences', 'theme', encodeValue('dark'), `${(BigInt(Date.now()) << 16n).toString(16).padStart(16, '0')}@phone`);
  server.commit([phone]);
  await until(() => a.preferences.theme === 'dark' && b.preferences.theme === 'dark', 'the server\'s change in both tabs');
  await until(async () => (await rows(user, 'meta')).some(([k, v]) => k.endsWith(':cursor') && Number(v) === server.log.length), 'the cursor saved');
  const stored = (await rows(user, 'chunks')).flatMap(([, chunk]) => unpack(chunk));
  assert.equal(stored.filter((c) => c.key === 'theme').length, 1, 'the page saved once, by the worker');
  await a.close();
  await b.close();
});

test('a server change of a field entry is kept as its value is: a value held in memory only is not saved by the worker, and holds the saved cursor', async () => {
  const server = newServer();
  const { user, tab } = worker(server);
  const a = await tab('tab-a');
  await until(() => a.status === 'live', 'live');
  a.state('draft', {}, { persistTo: 'context' }); // kept in this tab's memory only
  a.cards.card('intro').toggle(); // a push tells the worker the tab's policies
  await a.syncNow();
  const cursorBefore = server.log.length;
  const stamp = `${(BigInt(Date.now()) << 16n).toString(16).padStart(16, '0')}@phone`;
  server.commit([makeChange('set', 'state', 'draft#title', encodeValue('secret plan'), stamp)]);
  await until(() => a.get('state', 'draft#title') === 'secret plan', 'the field entry in the tab');
  await a.save();
  const stored = (await rows(user, 'chunks')).flatMap(([, chunk]) => unpack(chunk));
  assert.equal(stored.filter((c) => c.key === 'draft#title').length, 0, 'not saved by the worker');
  const cursor = (await rows(user, 'meta')).find(([k]) => k.endsWith(':cursor'));
  assert.ok(cursor && Number(cursor[1]) <= cursorBefore, `the saved cursor stays below the unsaved entry: ${cursor?.[1]} > ${cursorBefore}`);
  await a.close();
});

test('a tab\'s write is in IndexedDB when save() resolves; a tab gone with it pending loses nothing', async () => {
  const server = newServer();
  const { user, tab } = worker(server);
  const a = await tab('tab-a');
  const b = await tab('tab-b');
  await until(() => a.status === 'live', 'live');
  a.setOffline(true);
  await until(() => b.status === 'offline', 'the shared socket is down for both tabs');
  a.state('draft', '').setValue('kept');
  await a.save();
  const outbox = (await rows(user, 'outbox')).map(([, v]) => JSON.parse(v));
  assert.equal(outbox.length, 1, 'the outbox row is on disk');
  assert.equal(outbox[0].replica, 'tab-a');
  a.worker.port.close(); // the tab is gone without a goodbye
  b.setOffline(false);
  await until(() => server.pushed().some((c) => c.key === 'draft'), 'the worker pushes the gone tab\'s write');
  await until(async () => (await rows(user, 'outbox')).length === 0, 'acknowledged and removed');
  const c = await tab('tab-c');
  assert.equal(c.get('state', 'draft'), 'kept', 'reopened: on the device');
  await b.close();
  await c.close();
});

test('the worker compacts superseded chunks, the tabs do not', async () => {
  const server = newServer();
  const { user, tab, hosts } = worker(server);
  const a = await tab('tab-a');
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 1000; i++) a.write('set', 'state', `k${i}`, { round });
    await a.save();
  }
  await a.close();
  const host = await hosts.get(user);
  await host.compact(); // or its timer did (3 s after the host opened): one compaction at a time
  const chunks = await rows(user, 'chunks');
  assert.ok(chunks.length <= 2, `4,000 stored changes for 1,000 held compacted into ${chunks.length} chunk(s)`);
  const stored = chunks.flatMap(([, chunk]) => unpack(chunk));
  assert.equal(stored.filter((c) => c.section === "state").length, 1000);
  const b = await tab('tab-b');
  assert.deepEqual(b.get('state', 'k5'), { round: 3 });
  assert.equal(b.compactTimer, null, 'no compaction timer in the tab');
  await b.close();
});

test('a transaction the worker\'s store refuses (quota) is the tab\'s storage state \'full\' and an error event', async () => {
  const server = newServer();
  const { user, tab, hosts } = worker(server);
  const a = await tab('tab-a');
  const errors = [];
  a.on('error', (e) => errors.push(e.code));
  const host = await hosts.get(user);
  const transaction = host.store.db.transaction.bind(host.store.db);
  host.store.db.transaction = () => { throw new DOMException('the quota is exceeded', 'QuotaExceededError'); };
  a.state('big', '').setValue('y'.repeat(200));
  await a.save();
  await until(() => a.storage.state === 'full', 'the storage state');
  assert.ok(errors.includes('quota-exceeded'), `an error event: ${errors}`);
  assert.equal(a.get('state', 'big'), 'y'.repeat(200), 'kept in memory');
  host.store.db.transaction = transaction;
  a.state('small', '').setValue('x');
  await a.save();
  await until(() => a.storage.state === 'ok', 'recovered after a transaction that commits');
  await a.close();
});

test('through the worker, a syncNow() waiting when the tab closes fails with engine-closed: none hangs', async () => {
  class NeverOpens { constructor() { this.readyState = 0; } send() {} close() { this.readyState = 3; } } // an unreachable server
  const hosts = new Map();
  workers.push(hosts);
  const channel = new MessageChannel();
  acceptPort(channel.port2, hosts, undefined, { WebSocket: /** @type {any} */ (NeverOpens) });
  const tab = await Cairn.open({ user: `worker-user${++users}`, replica: 'tab-1', channel: null, workerPort: channel.port1, server: { url: 'ws://unreachable/sync', token: () => 'tok' } });
  assert.ok(tab.worker, 'the tab syncs through the worker');
  tab.preferences.set('theme', 'dark');
  const waiting = tab.syncNow().then(() => 'ok', (e) => e.code);
  await new Promise((r) => setTimeout(r, 50));
  await tab.close();
  assert.equal(await waiting, 'engine-closed');
});
