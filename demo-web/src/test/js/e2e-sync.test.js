// End-to-end encryption in the browser client's sync (issue 7): values of the chosen sections are
// sealed before they are pushed and opened before they are applied; a wrong passphrase locks sync
// with nothing applied; a value that does not open is skipped and reported; frames keep their order.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { ReplicaState } from '../../main/web/cairn/crdt.js';
import { decodeFrame, encodeFrame } from '../../main/web/cairn/protocol.js';
import { SyncClient } from '../../main/web/cairn/sync.js';
import { E2eKey, ValueCipher, ChangeCipher, isEnvelope } from '../../main/web/cairn/crypto.js';
import { makeChange, encodeValue } from '../../main/web/cairn/codec.js';
import { until } from './support/until.js';

const KINDS = { cards: 'map', preferences: 'map', chat: 'log', state: 'map', progress: 'map', consent: 'log', ui: 'map', memory: 'map', components: 'map', features: 'map' };
const SEALED = ['chat', 'memory'];
const PASSPHRASE = 'correct horse battery staple';
const ITERATIONS = 1000; // fast for tests; every device of a user must use the same count

/** A server speaking PROTOCOL.md over a fake WebSocket; keeps every frame it received, as text. */
class FakeServer {
  constructor() {
    this.state = new ReplicaState((s) => KINDS[s]);
    /** @type {Array<{seq: number, change: any}>} */
    this.log = [];
    this.sockets = new Set();
    /** @type {Array<{replica: string, text: string, type: string}>} */
    this.received = [];
    /** caught-up is sent this long after the catch-up page (to watch pushes wait for it) */
    this.caughtUpDelay = 0;
    /** @type {Array<{replica: string, at: string}>} */
    this.events = [];
    const server = this;
    this.WebSocket = class {
      constructor(url) {
        this.readyState = 0;
        this.live = false;
        this.replica = '?';
        setTimeout(() => { this.readyState = 1; server.sockets.add(this); this.onopen?.(); }, 1);
      }
      send(text) { setTimeout(() => server.receive(this, text), 1); }
      close() { this.readyState = 3; server.sockets.delete(this); }
      deliver(frame) { setTimeout(() => this.readyState === 1 && this.onmessage?.({ data: encodeFrame(frame) }), 1); }
    };
  }

  receive(ws, text) {
    const f = decodeFrame(text);
    if (f.type === 'hello') ws.replica = f.replica;
    this.received.push({ replica: ws.replica, text, type: f.type });
    if (f.type === 'hello') {
      ws.deliver({ type: 'welcome', protocol: 1, user: 'alice', head: this.log.length, maxBatch: 3, maxAheadMillis: 60000 });
      const page = this.log.filter((e) => e.seq > f.cursor);
      if (page.length) ws.deliver({ type: 'changes', changes: page, cursor: this.log.length });
      const head = this.log.length;
      const caughtUp = () => {
        this.events.push({ replica: ws.replica, at: 'caught-up' });
        ws.deliver({ type: 'caught-up', cursor: head });
        ws.live = true;
      };
      if (this.caughtUpDelay) setTimeout(caughtUp, this.caughtUpDelay); else caughtUp();
    } else if (f.type === 'push') {
      this.events.push({ replica: ws.replica, at: 'push' });
      this.accept(f.changes);
      ws.deliver({ type: 'ack', batch: f.batch });
    } else if (f.type === 'ping') ws.deliver({ type: 'pong' });
  }

  /** Merges changes as the real server does (by stamp, values opaque) and sends them to live sockets. */
  accept(changes) {
    const fresh = [];
    for (const change of changes) if (this.state.apply(change)) { const e = { seq: this.log.length + 1, change }; this.log.push(e); fresh.push(e); }
    if (fresh.length) for (const s of this.sockets) if (s.live) s.deliver({ type: 'changes', changes: fresh, cursor: this.log.length });
  }

  pushesFrom(replica) {
    return this.received.filter((r) => r.replica === replica && r.type === 'push');
  }
}

const settle = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** Everything a test opened, closed after it even when it fails (open sockets would keep Node running). */
const opened = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    try { await o.close(); } catch { /* already closed */ }
  }
});

const open = async (server, replica, passphrase = PASSPHRASE, extra = {}) => {
  const cairn = await Cairn.open({
    user: 'alice', storage: 'memory', channel: null, replica,
    server: { url: 'ws://fake/sync', token: () => 'tok' }, WebSocket: server.WebSocket,
    endToEnd: { passphrase, sections: SEALED, iterations: ITERATIONS }, ...extra,
  });
  opened.push(cairn);
  return cairn;
};

/** A stamp text `n` ms from now, of `replica`. */
const stampAt = (n, replica) => `${((BigInt(Date.now() + n)) << 16n).toString(16).padStart(16, '0')}@${replica}`;

const errorsOf = (cairn) => {
  const errors = [];
  cairn.on('error', (e) => errors.push(e));
  return errors;
};

test('values of encrypted sections are sealed on push and opened on pull; other sections and local storage stay plain', async () => {
  const server = new FakeServer();
  const a = await open(server, 'a');
  const b = await open(server, 'b');
  await until(() => a.status === 'live' && b.status === 'live', 'both live');

  a.chat.append('conv-1', 'user', 'secret message from A');
  a.memory.remember('favourite', 'secret fact from A');
  a.ui.set('panel', 'open');
  await a.syncNow();
  await until(() => b.chat.history('conv-1').length === 1 && b.memory.recall('favourite') === 'secret fact from A', 'B to read A');
  assert.equal(b.chat.history('conv-1')[0].text, 'secret message from A');
  assert.equal(b.ui.get('panel'), 'open');

  const wire = server.pushesFrom('a').map((r) => r.text).join('\n');
  assert.doesNotMatch(wire, /secret/, 'plain text of an encrypted section went on the wire');
  assert.match(wire, /"\$e2e":1/);
  const chatValue = server.state.log('chat').entries('conv-1')[0].value;
  assert.ok(isEnvelope(chatValue), chatValue);
  assert.ok(isEnvelope(server.state.map('memory').value('favourite')));
  assert.equal(server.state.map('ui').value('panel'), '"open"', 'sections not chosen stay readable');

  // merging by stamp still works on ciphertext: B's later value wins everywhere
  b.memory.remember('favourite', 'secret fact from B');
  await b.syncNow();
  await until(() => a.memory.recall('favourite') === 'secret fact from B', 'A to read B\'s newer value');
  // the device is trusted: its own storage keeps plain values
  assert.ok(b.tiers.localStorage.load().some((c) => c.section === 'memory' && c.value === '"secret fact from B"'));
  assert.ok(a.tiers.indexedDB.load().some((c) => c.section === 'chat' && c.value.includes('secret message from A')));
  assert.equal(a.canonical(), b.canonical());
  assert.deepEqual(a.stats().sections.filter((s) => s.encrypted).map((s) => s.name), SEALED);
  await a.close();
  await b.close();
});

test('with encryption on, pushes wait for the session\'s first caught-up', async () => {
  const server = new FakeServer();
  server.caughtUpDelay = 80;
  const a = await open(server, 'a', PASSPHRASE, { startSync: false });
  a.chat.append('conv-1', 'user', 'written offline');
  a.ui.set('panel', 'open');
  await a.save();
  a.startSync();
  await until(() => a.status === 'live', 'live');
  await a.syncNow();
  const mine = server.events.filter((e) => e.replica === 'a');
  assert.equal(mine[0].at, 'caught-up', `no push before caught-up: ${JSON.stringify(mine)}`);
  assert.ok(mine.some((e) => e.at === 'push'));
  assert.equal(server.state.log('chat').size('conv-1'), 1);
  await a.close();
});

test('a wrong passphrase locks sync: nothing of the page applied, the cursor stays, nothing pushed, no reconnect', async () => {
  const server = new FakeServer();
  const a = await open(server, 'a');
  await until(() => a.status === 'live', 'A live');
  a.chat.append('conv-1', 'user', 'secret message from A');
  a.memory.remember('favourite', 'secret fact from A');
  a.ui.set('panel', 'open'); // a plain section in the same page: not applied either
  await a.syncNow();
  const head = server.log.length;

  const c = await open(server, 'c', 'incorrect horse', { startSync: false });
  const errors = errorsOf(c);
  const statuses = [];
  c.on('status', (s) => statuses.push(s));
  c.chat.append('conv-1', 'user', 'written under the wrong key');
  await c.save();
  c.startSync();
  await until(() => c.status === 'locked', 'C locked');
  assert.deepEqual(c.chat.history('conv-1').map((m) => m.text), ['written under the wrong key'], 'C must apply nothing');
  assert.equal(c.memory.recall('favourite'), undefined);
  assert.equal(c.ui.get('panel'), undefined, 'nothing of the page is applied');
  assert.equal(c.sync.cursor, 0, 'the cursor stays');
  assert.equal(c.savedCursor, 0);
  const locked = errors.find((e) => e.code === 'wrong-passphrase');
  assert.ok(locked, errors.map((e) => e.message).join('; '));
  assert.match(locked.message, /wrong passphrase/);
  assert.match(c.stats().syncError, /^wrong passphrase: /);
  await assert.rejects(c.syncNow(), /wrong passphrase/);
  c.setOffline(true);
  c.setOffline(false);
  await settle(200);
  assert.equal(c.status, 'locked');
  assert.equal(server.received.filter((r) => r.replica === 'c' && r.type === 'hello').length, 1, 'no reconnect loop');
  assert.equal(server.pushesFrom('c').length, 0, 'C never pushed');
  assert.equal(server.log.length, head);
  assert.ok(!statuses.includes('live'), statuses.join(','));

  // the right passphrase unlocks it: C catches up and sends its own message, sealed
  await c.enableEndToEnd({ passphrase: PASSPHRASE, sections: SEALED, iterations: ITERATIONS });
  await c.syncNow();
  assert.equal(c.memory.recall('favourite'), 'secret fact from A');
  assert.equal(c.ui.get('panel'), 'open');
  await until(() => a.chat.history('conv-1').length === 2, 'A to read C');
  assert.doesNotMatch(server.pushesFrom('c').map((r) => r.text).join('\n'), /written under/);
  await a.close();
  await c.close();
});

test('a tampered value, a moved value and a plain value in an encrypted section are skipped and reported; the rest applies', async () => {
  const server = new FakeServer();
  const a = await open(server, 'a');
  await until(() => a.status === 'live', 'A live');
  a.chat.append('conv-1', 'user', 'first');
  a.memory.remember('kept', 'fine');
  a.memory.remember('moved', 'original place');
  await a.syncNow();
  const sealedFirst = server.state.log('chat').entries('conv-1')[0];
  const moved = server.state.map('memory').entry('moved');
  assert.ok(moved && isEnvelope(moved.value));
  // someone with access to the server: alters ciphertext, moves a value to another key, writes plain text
  const altered = JSON.parse(sealedFirst.value);
  altered.ct = (altered.ct[0] === 'A' ? 'B' : 'A') + altered.ct.slice(1);
  const stamp = (n) => stampAt(n, 'server');
  server.accept([
    makeChange('append', 'chat', 'conv-1', JSON.stringify(altered), stamp(1)),
    makeChange('set', 'memory', 'stolen', moved.value, stamp(2)),
    makeChange('set', 'memory', 'planted', encodeValue('plain text'), stamp(3)),
    makeChange('set', 'ui', 'panel', encodeValue('closed'), stamp(4)),
  ]);
  const b = await open(server, 'b', PASSPHRASE, { startSync: false });
  const errors = errorsOf(b);
  b.startSync();
  await b.syncNow();
  assert.equal(b.status, 'live');
  assert.deepEqual(b.chat.history('conv-1').map((m) => m.text), ['first']);
  assert.equal(b.memory.recall('kept'), 'fine');
  assert.equal(b.memory.recall('moved'), 'original place');
  assert.equal(b.memory.recall('stolen'), undefined, 'a value moved to another key does not open');
  assert.equal(b.memory.recall('planted'), undefined, 'a plain value in an encrypted section is refused');
  assert.equal(b.ui.get('panel'), 'closed');
  assert.equal(b.sync.cursor, server.log.length, 'the cursor moves past what was skipped');
  const codes = errors.map((e) => e.code).sort();
  assert.deepEqual(codes, ['e2e-malformed', 'e2e-tampered', 'e2e-tampered'], errors.map((e) => e.message).join('; '));
  assert.ok(errors.every((e) => /does not open/.test(e.message)));
  await a.close();
  await b.close();
});

/** A socket the test drives by hand: frames are delivered synchronously, back to back. */
class ManualSocket {
  /** @type {ManualSocket[]} */
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    /** @type {any[]} */
    this.sent = [];
    ManualSocket.all.push(this);
    setTimeout(() => { this.readyState = 1; this.onopen?.(); }, 0);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = 3; }
  deliver(frame) { this.onmessage?.({ data: encodeFrame(frame) }); }
}

test('inbound frames are handled in arrival order, and sealed pushes leave in outbox order', async () => {
  ManualSocket.all = [];
  const key = await E2eKey.derive(PASSPHRASE, 'alice', ITERATIONS);
  const cipher = new ChangeCipher(new ValueCipher(key), SEALED);
  let t = -60_000;
  const stamp = () => stampAt(t++, 'other');
  const sealed = async (text) => cipher.seal(makeChange('append', 'chat', 'c', encodeValue({ text }), stamp()));
  // page 1 is big (slow to open), page 2 small: page 2 must still be applied after page 1
  const page1 = [];
  for (let i = 0; i < 200; i++) page1.push({ seq: i + 1, change: await sealed(`m${i}`) });
  const page2 = [{ seq: 201, change: await sealed('last') }];

  /** @type {Array<{id: string, change: any}>} */
  let outbox = [];
  const log = [];
  const sync = new SyncClient({
    url: 'ws://fake/sync', token: () => 'tok', replica: 'me', WebSocket: /** @type {any} */ (ManualSocket), cipher,
    pending: () => outbox,
    acked: (ids) => { log.push(`acked ${ids.join(',')}`); outbox = outbox.filter((e) => !ids.includes(e.id)); },
    apply: (changes, cursor) => log.push(`apply ${changes.length} up to ${cursor}: ${JSON.parse(changes[changes.length - 1].value).text}`),
    covered: (cursor) => log.push(`covered ${cursor}`),
    onStatus: (s) => log.push(`status ${s}`),
  });
  opened.push({ close: async () => sync.stop() });
  const mine = (i) => ({ id: `id${i}`, change: makeChange('append', 'chat', 'mine', encodeValue({ text: `mine ${i}` }), stampAt(i, 'me')) });
  outbox = [mine(1), mine(2)];
  sync.start();
  await until(() => ManualSocket.all.length === 1 && ManualSocket.all[0].sent.length === 1, 'hello');
  const ws = ManualSocket.all[0];
  ws.deliver({ type: 'welcome', protocol: 1, user: 'alice', head: 201, maxBatch: 2, maxAheadMillis: 60000 });
  ws.deliver({ type: 'changes', changes: page1, cursor: 200 });
  ws.deliver({ type: 'changes', changes: page2, cursor: 201 });
  await until(() => sync.cursor === 201, 'both pages applied');
  await settle(20);
  assert.equal(ws.sent.length, 1, 'nothing pushed before caught-up, with changes pending');
  ws.deliver({ type: 'caught-up', cursor: 201 });
  await until(() => ws.sent.length >= 2, 'the first push');
  assert.deepEqual(log, ['status connecting', 'status catching-up', 'apply 200 up to 200: m199', 'apply 1 up to 201: last', 'covered 201', 'status live']);
  assert.equal(sync.cursor, 201);

  // more local writes while the first batch is in flight, and pushes asked for in a burst
  outbox.push(mine(3), mine(4), mine(5));
  sync.push();
  sync.push();
  sync.push();
  await until(() => ws.sent.filter((f) => f.type === 'push').length === 3, 'three batches');
  const pushes = ws.sent.filter((f) => f.type === 'push');
  assert.deepEqual(pushes.map((p) => p.batch), [1, 2, 3], 'batch ids in send order');
  const texts = [];
  for (const p of pushes) {
    for (const c of p.changes) {
      assert.equal(c.value.$e2e, 1, 'sealed');
      const plain = await cipher.open({ ...c, value: JSON.stringify(c.value) });
      texts.push(JSON.parse(plain.value).text);
    }
  }
  assert.deepEqual(texts, ['mine 1', 'mine 2', 'mine 3', 'mine 4', 'mine 5'], 'each change once, in outbox order');
  // acks arrive back to back with a live page: handled in arrival order too
  ws.deliver({ type: 'ack', batch: 1 });
  ws.deliver({ type: 'changes', changes: [{ seq: 202, change: await sealed('live') }], cursor: 202 });
  ws.deliver({ type: 'ack', batch: 2 });
  ws.deliver({ type: 'ack', batch: 3 });
  await until(() => outbox.length === 0, 'all acked');
  assert.deepEqual(log.slice(6), ['acked id1,id2', 'apply 1 up to 202: live', 'acked id3,id4', 'acked id5']);
  sync.stop();
});

test('open refuses bad end-to-end options before anything syncs', async () => {
  const base = { user: 'alice', storage: 'memory', channel: null };
  await assert.rejects(Cairn.open({ ...base, endToEnd: { passphrase: 'p', sections: [] } }), /at least one section/);
  await assert.rejects(Cairn.open({ ...base, endToEnd: { passphrase: 'p', sections: ['nope'] } }), /'nope' is not a known section/);
  await assert.rejects(Cairn.open({ ...base, endToEnd: { passphrase: '', sections: ['chat'] } }), /passphrase must not be empty/);
  await assert.rejects(Cairn.open({ ...base, endToEnd: { passphrase: 'p', sections: ['chat'], iterations: 5 } }), /iterations/);
});
