// What the browser client does about durability, without a browser: the sync cursor is saved no
// earlier than the changes it covers (PROTOCOL.md 3.2) and sent in hello; server changes move the
// clock past the local maxAhead bound; a full or disabled store is a clear error event and the app
// keeps working from memory without losing what was saved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { ReplicaState } from '../../main/web/cairn/crdt.js';
import { decodeFrame, encodeFrame } from '../../main/web/cairn/protocol.js';
import { HybridClock, ClockSkewError, hlcHex, Stamp } from '../../main/web/cairn/stamp.js';
import { ChangeTier, MemoryKv, Outbox, StorageError, WebStorageKv } from '../../main/web/cairn/storage.js';
import { makeChange, encodeValue, writeExport } from '../../main/web/cairn/codec.js';
import { until } from './support/until.js';

const KINDS = { cards: 'map', preferences: 'map', chat: 'log', state: 'map', progress: 'map', consent: 'log', ui: 'map', memory: 'map', components: 'map', features: 'map' };
const CURSOR_KEY = 'cairn:alice:cursor';

/** A Web Storage double with a quota in UTF-16 code units, throwing like browsers do when full. */
class FakeStorage {
  constructor(quota = Infinity) {
    this.quota = quota;
    /** @type {Map<string, string>} */
    this.map = new Map();
    this.disabled = false;
  }
  used() { let n = 0; for (const [k, v] of this.map) n += k.length + v.length; return n; }
  get length() { this.guard(); return this.map.size; }
  key(i) { this.guard(); return [...this.map.keys()][i] ?? null; }
  getItem(k) { this.guard(); return this.map.get(k) ?? null; }
  setItem(k, v) {
    this.guard();
    const old = this.map.get(k);
    if (this.used() - (old === undefined ? 0 : k.length + old.length) + k.length + String(v).length > this.quota) {
      throw Object.assign(new Error("Failed to execute 'setItem' on 'Storage': Setting the value exceeded the quota."), { name: 'QuotaExceededError', code: 22 });
    }
    this.map.set(k, String(v));
  }
  removeItem(k) { this.guard(); this.map.delete(k); }
  guard() { if (this.disabled) throw Object.assign(new Error('The operation is insecure.'), { name: 'SecurityError', code: 18 }); }
}

const settle = () => new Promise((r) => setTimeout(r, 5));
const stamp = (millis, counter, replica) => `${hlcHex(Stamp.pack(millis, counter))}@${replica}`;

const open = (extra = {}) => Cairn.open({ user: 'alice', storage: 'memory', channel: null, replica: 'tab-1', startSync: false, ...extra });

// ------------------------------------------------------------------ the clock and server changes

test('HybridClock.advance takes a stamp beyond maxAhead; observe and check still refuse it', () => {
  const now = Date.UTC(2026, 0, 1);
  const clock = new HybridClock(() => now, 'me', 60_000);
  const far = stamp(now + 10 * 60_000, 3, 'server');
  assert.throws(() => clock.observe(far), ClockSkewError);
  assert.equal(clock.last(), hlcHex(0n), 'a refused observe leaves the clock alone');
  clock.advance(far);
  assert.ok(clock.tick() > far, 'the next local stamp sorts after the server stamp');
  assert.throws(() => clock.check(stamp(now + 20 * 60_000, 0, 'x')), ClockSkewError);
});

test('server changes beyond maxAhead are applied and move the clock; an import with one is refused whole', async () => {
  const now = Date.UTC(2026, 0, 1);
  const cairn = await open({ wall: () => now, maxAheadMillis: 60_000 });
  const ahead = stamp(now + 10 * 60_000, 0, 'phone');
  cairn.applyRemote([{ seq: 1, change: makeChange('set', 'cards', 'card-intro/isExpanded', 'true', ahead) }], 1);
  assert.equal(cairn.cards.card('intro').isExpanded, true);
  cairn.cards.card('intro').collapse();
  assert.equal(cairn.cards.card('intro').isExpanded, false, 'a local write after a server stamp from the future still wins');
  assert.ok(cairn.replicaState.map('cards').sorted().find(([k]) => k === 'card-intro/isExpanded')[1].stamp > ahead);

  const other = new ReplicaState((s) => KINDS[s]);
  other.apply(makeChange('set', 'preferences', 'theme', encodeValue('dark'), stamp(now - 1000, 0, 'x')));
  other.apply(makeChange('set', 'preferences', 'font', encodeValue('large'), stamp(now + 30 * 60_000, 0, 'x')));
  const doc = writeExport('x', now, other, ['preferences']);
  assert.throws(() => cairn.importData(doc), ClockSkewError);
  assert.equal(cairn.preferences.theme, 'system', 'nothing of a refused import is applied');
  await cairn.close();
});

// ------------------------------------------------------------------ the saved cursor

// The cursor and the IndexedDB writes it covers share one transaction: idb-store.test.js.

test('a syncing key kept only in memory holds the saved cursor below its seq', async () => {
  const kv = { local: new MemoryKv(), session: new MemoryKv(), logs: new MemoryKv(), outbox: new MemoryKv() };
  const cairn = await open({ kv, policies: { ui: { persistTo: 'context' } } });
  const now = Date.now();
  cairn.applyRemote([{ seq: 2, change: makeChange('set', 'cards', 'card-a/isExpanded', 'true', stamp(now, 0, 'p')) }], 2);
  await cairn.cursorChain;
  assert.equal(kv.local.get(CURSOR_KEY), '2');
  cairn.applyRemote([
    { seq: 3, change: makeChange('set', 'cards', 'card-b/isExpanded', 'true', stamp(now, 1, 'p')) },
    { seq: 5, change: makeChange('set', 'ui', 'sidebar', 'true', stamp(now, 2, 'p')) },
    { seq: 6, change: makeChange('set', 'cards', 'card-c/isExpanded', 'true', stamp(now, 3, 'p')) },
  ], 6);
  cairn.applyRemote([{ seq: 7, change: makeChange('set', 'cards', 'card-d/isExpanded', 'true', stamp(now, 4, 'p')) }], 7);
  await cairn.cursorChain;
  assert.equal(kv.local.get(CURSOR_KEY), '4', 'just below the memory-only change, and no further this page');
  assert.equal(cairn.ui.get('sidebar'), true, 'the memory-only key is in memory');
  await cairn.close();
  const reloaded = await open({ kv, policies: { ui: { persistTo: 'context' } } });
  assert.equal(reloaded.savedCursor, 4);
  assert.equal(reloaded.ui.get('sidebar'), undefined, 'gone after a reload: the catch-up from 4 brings it back');
  assert.equal(reloaded.cards.card('c').isExpanded, true, 'durable keys are loaded from storage');
  await reloaded.close();
});

/** A server speaking PROTOCOL.md over a fake WebSocket that records the hello cursors. */
class FakeServer {
  constructor() {
    this.state = new ReplicaState((s) => KINDS[s]);
    this.log = [];
    this.hellos = [];
    this.sockets = new Set();
    const server = this;
    this.WebSocket = class {
      constructor() {
        this.readyState = 0;
        setTimeout(() => { this.readyState = 1; server.sockets.add(this); this.onopen?.(); }, 1);
      }
      send(text) { setTimeout(() => server.receive(this, text), 1); }
      close() { this.readyState = 3; server.sockets.delete(this); }
      deliver(frame) { setTimeout(() => this.readyState === 1 && this.onmessage?.({ data: encodeFrame(frame) }), 1); }
    };
  }
  receive(ws, text) {
    const f = decodeFrame(text);
    if (f.type === 'hello') {
      this.hellos.push(f.cursor);
      const head = this.log.length;
      ws.deliver({ type: 'welcome', protocol: 1, user: 'alice', head, maxBatch: 100, maxAheadMillis: 60000 });
      const from = f.cursor > head ? 0 : f.cursor; // a cursor beyond the head: the server lost data, send everything
      const page = this.log.filter((e) => e.seq > from);
      if (page.length) ws.deliver({ type: 'changes', changes: page, cursor: head });
      ws.deliver({ type: 'caught-up', cursor: head });
      ws.live = true;
    } else if (f.type === 'push') {
      const fresh = [];
      for (const change of f.changes) if (this.state.apply(change)) { const e = { seq: this.log.length + 1, change }; this.log.push(e); fresh.push(e); }
      ws.deliver({ type: 'ack', batch: f.batch });
      if (fresh.length) for (const s of this.sockets) if (s.live) s.deliver({ type: 'changes', changes: fresh, cursor: this.log.length });
    }
  }
}

test('a reload sends the saved cursor in hello instead of catching up from 0; a reset server resends everything', async () => {
  const server = new FakeServer();
  const kv = { local: new MemoryKv(), session: new MemoryKv(), logs: new MemoryKv(), outbox: new MemoryKv() };
  const opts = { kv, startSync: true, server: { url: 'ws://fake/sync', token: () => 'tok' }, WebSocket: server.WebSocket };
  const a = await open(opts);
  a.cards.card('intro').toggle();
  a.chat.append('conv-1', 'user', 'hello');
  await a.syncNow();
  await until(() => a.sync.cursor === 3, 'the echo of our own changes');
  await a.close();
  assert.equal(server.log.length, 3);
  assert.equal(kv.local.get(CURSOR_KEY), '3');

  const b = await open(opts);
  await b.syncNow();
  assert.deepEqual(server.hellos, [0, 3], 'the reload resumes from its saved cursor');
  assert.equal(b.chat.history('conv-1')[0].text, 'hello');
  await b.close();

  // The server lost its data and was refilled by another device: its head (1) is below our cursor (3).
  server.state = new ReplicaState((s) => KINDS[s]);
  server.log = [{ seq: 1, change: makeChange('set', 'preferences', 'theme', encodeValue('dark'), stamp(Date.now(), 0, 'phone')) }];
  const c = await open(opts);
  await c.syncNow();
  assert.equal(c.preferences.theme, 'dark', 'everything is resent from 0');
  await c.close();
  assert.deepEqual(server.hellos.slice(2), [3]);
  assert.equal(kv.local.get(CURSOR_KEY), '1', 'the saved cursor follows the server down');
});

// ------------------------------------------------------------------ quota exceeded, storage disabled

test('ChangeTier over a full Web Storage: one StorageError, false, and the rows already saved stay', () => {
  const storage = new FakeStorage(400);
  const errors = [];
  const tier = new ChangeTier(new WebStorageKv(/** @type {any} */ (storage), 'localStorage'), 'cairn:alice\u0000', (e) => errors.push(e));
  const now = Date.now();
  assert.equal(tier.write([makeChange('set', 'cards', 'k1', encodeValue('small'), stamp(now, 0, 'a'))]), true);
  const before = new Map(storage.map);
  assert.equal(tier.write([makeChange('set', 'cards', 'k1', encodeValue('x'.repeat(500)), stamp(now, 1, 'a'))]), false);
  assert.equal(tier.write([makeChange('set', 'cards', 'k2', encodeValue('y'.repeat(500)), stamp(now, 2, 'a'))]), false);
  assert.equal(errors.length, 1, 'reported once while the store keeps failing');
  assert.ok(errors[0] instanceof StorageError);
  assert.equal(errors[0].code, 'quota-exceeded');
  assert.equal(errors[0].tier, 'localStorage');
  assert.match(errors[0].message, /full/);
  assert.deepEqual(storage.map, before, 'the saved value is untouched');
  assert.equal(tier.load()[0].value, '"small"');
  assert.equal(tier.write([makeChange('set', 'cards', 'k1', encodeValue('ok'), stamp(now, 3, 'a'))]), true);
  tier.write([makeChange('set', 'cards', 'k3', encodeValue('z'.repeat(500)), stamp(now, 4, 'a'))]);
  assert.equal(errors.length, 2, 'a new failure after a success is reported again');
});

test('Outbox over a full store keeps refused rows in memory, still hands them out, and reports once', () => {
  const storage = new FakeStorage(300);
  const errors = [];
  const outbox = new Outbox(new WebStorageKv(/** @type {any} */ (storage), 'localStorage'), 'alice\u0000o\u0001', (e) => errors.push(e));
  const now = Date.now();
  const changes = [0, 1, 2, 3].map((i) => makeChange('set', 'cards', `key-${i}`, encodeValue('v'.repeat(40)), stamp(now, i, 'a')));
  outbox.add(changes, 'a');
  assert.equal(outbox.entries('a').length, 4);
  assert.ok(outbox.spill.size > 0, 'some rows did not fit');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'quota-exceeded');
  outbox.remove(outbox.entries('a').map((e) => e.id));
  assert.equal(outbox.size(), 0);
});

test('a full localStorage: error event, the app keeps working from memory and syncing, nothing saved is lost', async () => {
  const storage = new FakeStorage(3000);
  const local = new WebStorageKv(/** @type {any} */ (storage), 'localStorage');
  const server = new FakeServer();
  const kv = () => ({ local, session: new MemoryKv(), logs: local, outbox: local }); // as without IndexedDB
  const opts = { kv: kv(), startSync: true, server: { url: 'ws://fake/sync', token: () => 'tok' }, WebSocket: server.WebSocket };
  const a = await open(opts);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  a.preferences.setTheme('dark');
  await a.syncNow();
  assert.equal(errors.length, 0);
  for (let i = 0; i < 40; i++) a.memory.remember(`fact-${i}`, 'x'.repeat(100));
  a.preferences.setTheme('light');
  await a.syncNow();
  assert.ok(errors.length >= 1 && errors.length <= 4, `a few clear errors, not one per write (${errors.length})`);
  assert.ok(errors.every((e) => e.code === 'quota-exceeded'), errors.map((e) => e.message).join('\n'));
  assert.equal(a.memory.recall('fact-39'), 'x'.repeat(100), 'still in memory');
  assert.equal(a.preferences.theme, 'light');
  assert.equal(server.state.map('memory').value('fact-39'), JSON.stringify('x'.repeat(100)), 'and still synced');
  const saved = storage.used();
  await a.close();

  const b = await open({ ...opts, startSync: false });
  assert.ok(['dark', 'light'].includes(b.preferences.theme), 'what was saved before is still there');
  assert.ok(storage.used() <= saved);
  await b.close();
});

test('storage disabled: an error event after open, and the app works from memory', async () => {
  const saved = { localStorage: globalThis.localStorage, sessionStorage: globalThis.sessionStorage };
  const disabled = new FakeStorage();
  disabled.disabled = true;
  Object.defineProperty(globalThis, 'localStorage', { value: disabled, configurable: true, writable: true });
  Object.defineProperty(globalThis, 'sessionStorage', { value: disabled, configurable: true, writable: true });
  try {
    const cairn = await Cairn.open({ user: 'alice', storage: 'browser', channel: null, replica: 'tab-1' });
    const errors = [];
    cairn.on('error', (e) => errors.push(e));
    cairn.cards.card('intro').toggle();
    await cairn.save();
    await settle();
    assert.ok(errors.some((e) => /IndexedDB .* and localStorage are unavailable/.test(e.message) && e.code === 'storage-unavailable'), errors.map((e) => e.message).join('\n'));
    assert.equal(cairn.storage.state, 'unavailable', 'a status the app shows, not a silent fall-back to memory');
    assert.equal(cairn.cards.card('intro').isExpanded, true);
    await cairn.close();
  } finally {
    for (const [k, v] of Object.entries(saved)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  }
});
