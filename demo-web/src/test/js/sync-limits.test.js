// Issue 11 in the browser client, beyond the transcripts: nothing can block the outbox (over-large
// changes refused at write and import), the clock is saved as a lease (rarely, never reusing a
// stamp after a reload), debounce has a maximum wait, saveDelay holds online while a write with
// no delay syncs at once, the outbox is parsed once, and an outage is reported once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { MemoryKv } from '../../main/web/cairn/storage.js';
import { ScriptedServer } from './support/scripted-server.js';
import { until } from './support/until.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const open = (server, extra = {}) => Cairn.open({
  user: 'alice', storage: 'memory', channel: null,
  server: server && { url: 'ws://fake/sync', token: () => 'tok' }, WebSocket: server?.WebSocket, ...extra,
});

/** A MemoryKv that counts writes per key prefix and reads. */
class CountingKv extends MemoryKv {
  constructor() {
    super('counting');
    this.sets = new Map();
    this.gets = 0;
  }
  set(k, v) { const p = k.split(':').slice(0, 3).join(':'); this.sets.set(p, (this.sets.get(p) ?? 0) + 1); super.set(k, v); }
  get(k) { this.gets++; return super.get(k); }
}

test('an over-large change is refused when written, changes nothing, and the next small one syncs', async () => {
  const server = new ScriptedServer();
  const a = await open(server, { replica: 'a' });
  const b = await open(server, { replica: 'b' });
  await until(() => a.status === 'live' && b.status === 'live', 'live');
  assert.throws(() => a.chat.append('c1', 'user', 'x'.repeat(2 * 1024 * 1024)), (e) => e.code === 'change-too-large' && /1048576/.test(e.message));
  assert.deepEqual(a.chat.history('c1'), []);
  assert.equal(a.outbox.size(), 0, 'nothing queued');
  assert.throws(() => a.memory.set('blob', 'y'.repeat(1024 * 1024)), (e) => e.code === 'change-too-large');
  a.chat.append('c1', 'user', 'small');
  await until(() => b.chat.history('c1').length === 1, 'the small change on b');
  await a.close();
  await b.close();
});

test('an import holding one over-large message is refused as a whole; later changes sync', async () => {
  const server = new ScriptedServer();
  const source = await open(null, { replica: 's', sync: { maxFrameBytes: 4 * 1024 * 1024 } });
  source.chat.append('c1', 'user', 'before');
  source.chat.append('c1', 'user', 'z'.repeat(1536 * 1024));
  const file = source.exportData();
  await source.close();
  const a = await open(server, { replica: 'a' });
  const b = await open(server, { replica: 'b' });
  await until(() => a.status === 'live' && b.status === 'live', 'live');
  assert.throws(() => a.restoreData(file), (e) => e.code === 'change-too-large' && /chat\/c1/.test(e.message));
  assert.throws(() => a.importData(file), (e) => e.code === 'change-too-large');
  assert.deepEqual(a.chat.history('c1'), [], 'all or nothing');
  const t0 = Date.now();
  a.cards.card('intro').toggle();
  await until(() => b.cards.card('intro').isExpanded === true, 'the toggle on b');
  assert.ok(Date.now() - t0 < 1000, 'within a second');
  await a.close();
  await b.close();
});

test('the clock is saved rarely, and a reload never issues a stamp again', async () => {
  for (const step of [0, 7]) {
    let now = Date.UTC(2026, 11, 1);
    const local = new CountingKv();
    const kv = { local, session: new MemoryKv(), logs: new MemoryKv(), outbox: new MemoryKv() };
    const a = await open(null, { kv, replica: 'tab-1', wall: () => now });
    const scratch = a.state('scratch', 0, { persistTo: 'context' });
    const slow = a.state('slow', 0, { saveDelay: 60_000 });
    let last = '';
    for (let i = 0; i < 1000; i++) {
      now += step;
      scratch.setValue(i); // memory only: never stored
      slow.setValue(i); // not saved before the "reload"
      last = a.replicaState.map('state').sorted().find(([k]) => k === 'slow')[1].stamp;
    }
    const clockWrites = local.sets.get('cairn:alice:clock') ?? 0;
    assert.ok(clockWrites <= 1 + Math.ceil((1000 * step) / 2000), `clock saved ${clockWrites} times for 1000 writes (wall step ${step} ms)`);
    // the tab dies: nothing saved, no close()
    const b = await open(null, { kv, replica: 'tab-1', wall: () => now });
    const next = b.clock.tick();
    assert.ok(next > last, `after the reload ${next} must be above ${last}`);
    if (a.timer) clearTimeout(a.timer); // the dead tab saves nothing more
    await b.close();
  }
});

test('debounce has a maximum wait of 10 x saveDelay', async () => {
  const a = await open(null, { replica: 'a' });
  const h = a.state('note', '', { saveDelay: 40 });
  const start = Date.now();
  let firstSave = null;
  while (Date.now() - start < 900) {
    h.setValue(`v${Date.now()}`);
    if (firstSave === null && a.lastSaved !== null) firstSave = Date.now() - start;
    await sleep(10);
  }
  assert.ok(firstSave !== null, 'saved while the user kept typing');
  assert.ok(firstSave <= 400 + 150, `first save after ${firstSave} ms (at most 10 x 40 ms after the first write)`);
  await a.close();
});

test('online, typing for 10 s into a key with saveDelay 1000 gives one push after the pause; a toggle syncs at once', async () => {
  const server = new ScriptedServer();
  const a = await open(server, { replica: 'a' });
  await until(() => a.status === 'live', 'live');
  const note = a.state('note', '', { saveDelay: 1000 });
  const start = Date.now();
  let i = 0;
  let toggled = false;
  while (Date.now() - start < 9_600) {
    note.setValue(`text ${++i}`);
    if (!toggled && Date.now() - start > 3000) {
      toggled = true;
      const t0 = Date.now();
      a.cards.card('intro').toggle();
      await until(() => server.pushed('card-intro/isExpanded').length === 1, 'the toggle pushed', 500);
      assert.ok(Date.now() - t0 < 200, 'a write with no delay is pushed at once');
    }
    await sleep(150);
  }
  assert.equal(server.pushed('note').length, 0, 'nothing pushed while typing');
  await until(() => server.pushed('note').length === 1, 'one push after the pause', 2500);
  await sleep(1200);
  assert.equal(server.pushed('note').length, 1, 'exactly one push');
  assert.equal(JSON.parse(server.state.map('state').value('note')), `text ${i}`);
  await a.close();
});

test('the outbox is parsed once, not on every push', async () => {
  const server = new ScriptedServer();
  const outbox = new CountingKv();
  const a = await open(server, { replica: 'a', kv: { outbox } });
  await until(() => a.status === 'live', 'live');
  const before = outbox.gets;
  for (let k = 0; k < 200; k++) a.cards.card(`c${k}`).toggle();
  await until(() => a.outbox.size() === 0 && server.pushes.length > 0, 'all acked');
  assert.equal(outbox.gets, before, 'no row read back from the store');
  await a.close();
});

test('a passing outage is reported once, not once per retry', async () => {
  let sockets = 0;
  class Failing {
    constructor() {
      sockets++;
      this.readyState = 0;
      setTimeout(() => { this.readyState = 3; this.onclose?.({ code: 1006 }); }, 1);
    }
    send() {}
    close() {}
  }
  const fetch = async () => { throw new TypeError('network down'); };
  const a = await open(null, {
    replica: 'a', server: { url: 'ws://fake/sync', token: () => 'tok' }, WebSocket: Failing, fetch,
    sync: { backoffMinMillis: 5, backoffMaxMillis: 10 },
  });
  const errors = [];
  a.on('error', (e) => errors.push(e.code));
  await until(() => sockets >= 6, 'several retries');
  assert.deepEqual(errors, ['connection-lost']);
  assert.equal(a.syncStatus.error, 'connection-lost');
  assert.equal(a.syncStatus.state, 'connecting');
  await a.close();
});

test('a refused upgrade is diagnosed over HTTP: a plain-text 400 passes, an HTML 404 is permanent', async () => {
  class Refused {
    constructor() {
      this.readyState = 0;
      setTimeout(() => { this.readyState = 3; this.onclose?.({ code: 1006 }); }, 1);
    }
    send() {}
    close() {}
  }
  const asked = [];
  let answer = { status: 400, body: 'Bad Request' };
  const fetch = async (url, init) => {
    asked.push({ url, auth: init.headers.Authorization });
    return new Response(answer.body, { status: answer.status });
  };
  const a = await open(null, {
    replica: 'a', server: { url: 'wss://cairn.example/sync', token: () => 'tok' }, WebSocket: Refused, fetch,
    sync: { backoffMinMillis: 5, backoffMaxMillis: 10 },
  });
  await until(() => asked.length >= 3, 'retries after a passing failure');
  assert.deepEqual(asked[0], { url: 'https://cairn.example/sync', auth: 'Bearer tok' });
  assert.equal(a.syncStatus.error, 'connection-lost');
  assert.notEqual(a.syncStatus.state, 'offline');
  answer = { status: 404, body: '<html><body>Not Found</body></html>' };
  await until(() => a.syncStatus.state === 'offline', 'permanent');
  assert.equal(a.syncStatus.error, 'not-a-sync-endpoint');
  const n = asked.length;
  await sleep(100);
  assert.equal(asked.length, n, 'no reconnect');
  await assert.rejects(a.syncNow(), (e) => e.code === 'not-a-sync-endpoint');
  assert.equal(asked.length, n + 1, 'syncNow tried once more');
  await a.close();
});
