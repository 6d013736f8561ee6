// The façade over memory storage, and two replicas syncing through an in-process fake server that
// speaks PROTOCOL.md (hello/welcome/changes/caught-up/push/ack) over a fake WebSocket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn, ValidationError } from '../../main/web/cairn/cairn.js';
import { ReplicaState } from '../../main/web/cairn/crdt.js';
import { decodeFrame, encodeFrame } from '../../main/web/cairn/protocol.js';
import { MemoryKv } from '../../main/web/cairn/storage.js';
import { until } from './support/until.js';

class FakeServer {
  constructor() {
    this.state = new ReplicaState((s) => ({ cards: 'map', preferences: 'map', chat: 'log', state: 'map', progress: 'map', consent: 'log', ui: 'map', memory: 'map', components: 'map', features: 'map' })[s]);
    this.log = []; // {seq, change}
    this.sockets = new Set();
    this.frames = [];
    const server = this;
    this.WebSocket = class {
      constructor(url, protocols) {
        assert.doesNotMatch(url, /tok/, 'the token is not in the URL');
        assert.deepEqual(protocols, ['cairn', 'cairn.bearer.tok'], 'the token rides in a subprotocol beside cairn');
        this.readyState = 0;
        this.live = false;
        setTimeout(() => { this.readyState = 1; server.sockets.add(this); this.onopen?.(); }, 1);
      }
      send(text) { setTimeout(() => server.receive(this, text), 1); }
      close() { this.readyState = 3; server.sockets.delete(this); }
      deliver(frame) { setTimeout(() => this.readyState === 1 && this.onmessage?.({ data: encodeFrame(frame) }), 1); }
    };
  }
  receive(ws, text) {
    const f = decodeFrame(text);
    this.frames.push(f.type);
    if (f.type === 'hello') {
      ws.deliver({ type: 'welcome', protocol: 1, user: 'alice', head: this.log.length, maxBatch: 2, maxAheadMillis: 60000 });
      const page = this.log.filter((e) => e.seq > f.cursor);
      if (page.length) ws.deliver({ type: 'changes', changes: page, cursor: this.log.length });
      ws.deliver({ type: 'caught-up', cursor: this.log.length });
      ws.live = true;
    } else if (f.type === 'push') {
      const fresh = [];
      for (const change of f.changes) if (this.state.apply(change)) { const e = { seq: this.log.length + 1, change }; this.log.push(e); fresh.push(e); }
      ws.deliver({ type: 'ack', batch: f.batch });
      if (fresh.length) for (const s of this.sockets) if (s.live) s.deliver({ type: 'changes', changes: fresh, cursor: this.log.length });
    } else if (f.type === 'ping') ws.deliver({ type: 'pong' });
  }
}


const open = (server, extra = {}) => Cairn.open({
  user: 'alice', storage: 'memory', channel: null,
  server: server && { url: 'ws://fake/sync', token: () => 'tok' }, WebSocket: server?.WebSocket, ...extra,
});

test('a state handle: value, updater, isDirty, save, validate, default', async () => {
  const cairn = await open(null);
  const h = cairn.state('counter', { count: 0 }, { saveDelay: 60_000, validate: (v) => v.count >= 0 });
  assert.deepEqual(h.value, { count: 0 });
  h.setValue((prev) => ({ count: prev.count + 1 }));
  assert.deepEqual(h.value, { count: 1 });
  assert.equal(h.isDirty, true);
  assert.throws(() => h.setValue({ count: -1 }), ValidationError);
  assert.deepEqual(h.value, { count: 1 }, 'a rejected value leaves the old one');
  await h.save();
  assert.equal(h.isDirty, false);
  assert.ok(cairn.tiers.localStorage.bytes() > 0, 'saved to localStorage (the default tier)');
  const ctx = cairn.state('scratch', 'x', { persistTo: 'context', saveDelay: 0 });
  ctx.setValue('y');
  await cairn.save();
  assert.equal(cairn.tiers.localStorage.load().filter((c) => c.key === 'scratch').length, 0, 'context stays in memory');
  await cairn.close();
});

test('state survives a reload from the same storage', async () => {
  const kv = { local: new MemoryKv(), session: new MemoryKv(), logs: new MemoryKv(), outbox: new MemoryKv() };
  const a = await open(null, { kv, replica: 'tab-1' });
  a.cards.card('intro').toggle();
  a.chat.append('conv-1', 'user', 'hello');
  a.consent.sign('service-waiver', 'v1', 3600_000);
  await a.close();
  const b = await open(null, { kv, replica: 'tab-1' });
  assert.equal(b.cards.card('intro').isExpanded, true);
  assert.equal(b.chat.history('conv-1')[0].text, 'hello');
  assert.equal(b.consent.hasValidWaiver('service-waiver', 'v1'), true);
  assert.equal(b.canonical(), a.canonical());
  assert.ok(b.outbox.size() > 0, 'unsent changes are still in the outbox');
  const next = b.clock.tick();
  assert.ok(a.replicaState.log('chat').entries('conv-1')[0].stamp < next, 'the clock never goes back across a reload');
  await b.close();
});

test('waiver sign, revoke and expiry', async () => {
  let now = Date.UTC(2026, 0, 1);
  const c = await open(null, { wall: () => now });
  const w = c.consent.waiver('service-waiver', 'v2');
  assert.equal(w.hasValidWaiver, false);
  w.sign(1000);
  assert.equal(w.hasValidWaiver, true);
  now += 1001;
  assert.equal(w.hasValidWaiver, false, 'expired');
  w.sign(null);
  w.revoke();
  assert.equal(w.hasValidWaiver, false);
  assert.deepEqual(w.history().map((e) => e.type), ['signed', 'signed', 'revoked']);
  await c.close();
});

test('two replicas sync through the server; offline edits converge; export, clear, import', async () => {
  const server = new FakeServer();
  const a = await open(server, { replica: 'a' });
  const b = await open(server, { replica: 'b' });
  await until(() => a.status === 'live' && b.status === 'live', 'both live');
  a.cards.card('intro').toggle();
  await until(() => b.cards.card('intro').isExpanded === true, 'the toggle to reach b');

  b.setOffline(true);
  assert.equal(b.status, 'offline');
  b.preferences.setTheme('dark');
  b.chat.append('conv-1', 'user', 'offline hello');
  a.chat.append('conv-1', 'assistant', 'online hi');
  a.progress.updateOnboarding('welcome', true);
  await a.syncNow();
  b.setOffline(false);
  await until(() => b.status === 'live', 'b back online');
  await b.syncNow();
  await until(() => a.canonical() === b.canonical() && a.chat.history('conv-1').length === 2, 'convergence');
  assert.equal(a.preferences.theme, 'dark');
  assert.deepEqual(b.progress.onboarding.completedSteps, ['welcome']);
  assert.ok(server.frames.filter((t) => t === 'push').length >= 2);

  const doc = a.exportData();
  a.clear('chat');
  assert.equal(a.chat.history('conv-1').length, 0);
  await until(() => b.chat.history('conv-1').length === 0, 'the clear to reach b');
  const result = a.importData(doc);
  assert.equal(result.changesRead > 0, true);
  assert.equal(a.chat.history('conv-1').length, 0, 'the clear watermark hides older messages, as on every replica');
  a.setSectionSync('memory', false);
  a.memory.remember('secret', 42);
  await a.syncNow();
  assert.equal(server.state.map('memory').value('secret'), null, 'a private section never leaves the device');
  a.setSectionSync('memory', true);
  await a.syncNow();
  assert.equal(server.state.map('memory').value('secret'), '42');
  await a.close();
  await b.close();
});

test('restoreData brings back what a later clear hid, in order, and importData does not', async () => {
  const a = await open(null);
  a.cards.card('intro').expand();
  a.preferences.setTheme('dark');
  a.chat.append('c1', 'user', 'first');
  a.chat.append('c1', 'user', 'second');
  const backup = a.exportData();
  for (const section of ['cards', 'preferences', 'chat']) a.clear(section);
  assert.equal(a.cards.card('intro').isExpanded, false);
  const merged = a.importData(backup);
  assert.equal(merged.changesApplied, 0, 'a merge keeps the newer clear');
  assert.equal(a.chat.history('c1').length, 0);
  const restored = a.restoreData(backup);
  assert.ok(restored.restored > 0, JSON.stringify(restored));
  assert.equal(a.cards.card('intro').isExpanded, true);
  assert.equal(a.preferences.theme, 'dark');
  assert.deepEqual(a.chat.history('c1').map((m) => m.text), ['first', 'second']);
  const again = a.restoreData(backup);
  assert.equal(again.restored, 0, 'restoring twice writes nothing new');
  assert.throws(() => a.restoreData('{"format":"cairn-export","version":2,"sections":{}}'), /version/);
  await a.close();
});

test('privacy switch: keep leaves the server copy, delete clears it on the server and the other device, on again shares it', async () => {
  const server = new FakeServer();
  const a = await open(server, { replica: 'a' });
  const b = await open(server, { replica: 'b' });
  await until(() => a.status === 'live' && b.status === 'live', 'both live');
  a.preferences.setTheme('dark');
  a.memory.remember('fact', 'shared');
  await a.syncNow();
  await until(() => b.preferences.theme === 'dark' && b.memory.recall('fact') === 'shared', 'b to have a\'s data');

  // keep: the server keeps memory; a's later writes stay local, b's do not reach a
  a.setSectionSync('memory', false, 'keep');
  assert.equal(a.isSyncing('memory'), false);
  a.memory.remember('diary', 'private');
  b.memory.remember('from-b', 'x');
  await a.syncNow();
  await b.syncNow();
  await until(() => server.log.some((e) => e.change.key === 'from-b'), 'b\'s write on the server');
  await a.syncNow();
  assert.equal(server.state.map('memory').value('diary'), null, 'written with sync off: never on the server');
  assert.equal(server.state.map('memory').value('fact'), '"shared"', 'keep: the server keeps its copy');
  assert.equal(a.memory.recall('from-b'), undefined, 'not applied while off');

  // delete: the server's preferences are cleared, and b's with them; a keeps its own
  a.setSectionSync('preferences', false, 'delete');
  await a.syncNow();
  assert.equal(server.state.map('preferences').size(), 0, 'delete: no value or tombstone left on the server');
  await until(() => b.preferences.theme !== 'dark', 'b to lose the deleted section');
  assert.equal(a.preferences.theme, 'dark', 'a keeps its own copy');
  assert.equal(a.replicaState.map('preferences').watermark, undefined, 'the clear is not applied on a');

  // on again: memory catches up with b's write and pushes the diary; preferences are shared again
  a.setSectionSync('memory', true);
  await a.syncNow();
  await until(() => a.memory.recall('from-b') === 'x', 'a to catch up with what b wrote meanwhile');
  assert.equal(server.state.map('memory').value('diary'), '"private"');
  a.setSectionSync('preferences', true);
  await a.syncNow();
  await until(() => b.preferences.theme === 'dark', 'b to get the preferences again');
  await until(() => a.canonical() === b.canonical(), 'a and b to converge');
  await a.close();
  await b.close();
});

test('a syncNow() waiting when sync is switched off fails with offline, and one waiting when the Cairn closes with engine-closed: none hangs', async () => {
  class NeverOpens { constructor() { this.readyState = 0; } send() {} close() { this.readyState = 3; } } // an unreachable server
  const cairn = await Cairn.open({ user: 'alice', storage: 'memory', channel: null, replica: 'tab-1', server: { url: 'ws://unreachable/sync', token: () => 'tok' }, WebSocket: /** @type {any} */ (NeverOpens) });
  cairn.preferences.set('theme', 'dark');
  const offline = cairn.syncNow().then(() => 'ok', (e) => e.code);
  await new Promise((r) => setTimeout(r, 20));
  cairn.setOffline(true);
  assert.equal(await offline, 'offline');
  cairn.setOffline(false);
  const closing = cairn.syncNow().then(() => 'ok', (e) => e.code);
  await new Promise((r) => setTimeout(r, 20));
  await cairn.close();
  assert.equal(await closing, 'engine-closed');
});

test('a server option that could never connect is refused at open; a token provider that never answers is an error within the connect timeout', async () => {
  const base = { user: 'alice', storage: 'memory', channel: null, replica: 'tab-1' };
  await assert.rejects(Cairn.open({ ...base, server: /** @type {any} */ ({ url: 'ws://h/sync', token: 'a-string' }) }), /server\.token must be a function/);
  await assert.rejects(Cairn.open({ ...base, server: /** @type {any} */ ({ url: 'ws://h/sync' }) }), /server\.token must be a function/);
  await assert.rejects(Cairn.open({ ...base, server: { url: 'not a url', token: () => 't' } }), /server\.url is not a URL/);
  await assert.rejects(Cairn.open({ ...base, server: { url: 'ftp://h/sync', token: () => 't' } }), /must be a ws: or wss: URL/);

  const errors = [];
  const cairn = await Cairn.open({ ...base, server: { url: 'ws://h/sync', token: () => new Promise(() => {}) }, sync: { connectTimeoutMillis: 100 } });
  cairn.on('error', (e) => errors.push(e));
  await until(() => errors.some((e) => e.code === 'unauthorized'), 'an error for the silent token provider', 2000);
  assert.match(errors.find((e) => e.code === 'unauthorized').message, /token provider did not answer within 100 ms/);
  await cairn.close();
});

test('open refuses a user id the server would refuse as a sub and sections that could never sync', async () => {
  const base = { storage: /** @type {const} */ ('memory'), channel: null, replica: 'tab-1' };
  for (const user of ['bad user!', 'a/space/b', 'x'.repeat(129)]) {
    await assert.rejects(Cairn.open({ ...base, user }), /user must be 1-128 characters/, user);
  }
  await assert.rejects(Cairn.open({ ...base, user: 'alice', sections: /** @type {any} */ ({ chat: 'map' }) }), /'chat' is a standard log section/);
  await assert.rejects(Cairn.open({ ...base, user: 'alice', sections: /** @type {any} */ ({ notes: 'tree' }) }), /must be 'map' or 'log'/);
  await assert.rejects(Cairn.open({ ...base, user: 'alice', sections: { 'Bad Name': 'map' } }), /invalid section name/);
  const ok = await Cairn.open({ ...base, user: 'alice.b@example-1_x', sections: { notes: 'map', chat: 'log' } });
  await ok.close();
});

test('a token provider that keeps failing is one error event per outage, not one per retry', async () => {
  const errors = [];
  let asked = 0;
  const cairn = await Cairn.open({
    user: 'alice', storage: 'memory', channel: null, replica: 'tab-1',
    server: { url: 'ws://h/sync', token: () => { asked++; throw new Error('signed out'); } },
    sync: { backoffMinMillis: 10, backoffMaxMillis: 20 }, startSync: false,
  });
  try {
    cairn.on('error', (e) => errors.push(e.code));
    cairn.startSync();
    await until(() => asked >= 5, 'several retries');
    assert.deepEqual(errors, ['unauthorized'], `one event for ${asked} failed attempts`);
  } finally {
    await cairn.close();
  }
});
