// The browser's durable store (idb-store.js) over fake-indexeddb: every durable tier in one database
// per user, a page and its cursor in one transaction, a localStorage-era device moved over once and
// without loss, and a full or failing store as a status and an error event.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { unpack, pack } from '../../main/web/cairn/chunk.js';
import { IdbStore, MirrorKv, dbName, worthCompacting } from '../../main/web/cairn/idb-store.js';
import { MemoryKv } from '../../main/web/cairn/storage.js';
import { LwwMap } from '../../main/web/cairn/crdt.js';
import { makeChange, encodeValue } from '../../main/web/cairn/codec.js';
import { hlcHex, Stamp } from '../../main/web/cairn/stamp.js';
import { SyncClient } from '../../main/web/cairn/sync.js';
import { encodeFrame, decodeFrame } from '../../main/web/cairn/protocol.js';
import { rows } from './support/idb-rows.js';
import { until } from './support/until.js';

let users = 0;
const newUser = () => `user${++users}`;
const stamp = (millis, counter, replica) => `${hlcHex(Stamp.pack(millis, counter))}@${replica}`;
const open = (user, kv, extra = {}) => Cairn.open({ user, storage: 'browser', channel: null, replica: 'tab-1', startSync: false, kv, ...extra });
const page = (from, n, now, section = 'state') => Array.from({ length: n }, (_, i) => ({
  seq: from + i, change: makeChange('set', section, `k${from + i}`, encodeValue({ n: from + i }), stamp(now, from + i, 'phone')),
}));

test('every durable tier is in the user\'s IndexedDB database; localStorage keeps only the clock copy', async () => {
  const user = newUser();
  const kv = { local: new MemoryKv('localStorage'), session: new MemoryKv('sessionStorage') };
  const a = await open(user, kv);
  assert.equal(a.storage.backend, 'indexedDB');
  a.cards.card('intro').toggle();
  a.chat.append('conv-1', 'user', 'hello');
  a.preferences.set('theme', 'dark');
  await a.save();
  a.applyRemote(page(1, 50, Date.now()), 60);
  await a.close();
  assert.deepEqual(kv.local.keys(''), [`cairn-clock:${user}:tab-1`]);
  const stored = (await rows(user, 'chunks')).flatMap(([, chunk]) => unpack(chunk));
  assert.equal(stored.filter((c) => c.section === 'state').length, 50, 'the map entries');
  assert.equal(stored.filter((c) => c.section === 'chat').length, 1, 'the chat message');
  assert.equal((await rows(user, 'chunks')).length, 2, 'one chunk per save, one per page');
  const meta = new Map(await rows(user, 'meta'));
  assert.equal(meta.get(`cairn:${user}:cursor`), '60', 'the cursor, beside the data it covers');
  assert.ok(meta.has(`cairn:${user}:clock:tab-1`), 'the clock mark');
  assert.ok((await rows(user, 'outbox')).length >= 2, 'the unacknowledged local writes');

  const b = await open(user, kv);
  assert.equal(b.cards.card('intro').isExpanded, true);
  assert.equal(b.chat.history('conv-1').length, 1);
  assert.equal(b.entries('state').length, 50);
  assert.equal(b.savedCursor, 60, 'the next catch-up starts from the stored cursor');
  assert.equal(b.syncStatus.pending >= 2, true, 'the outbox is read back');
  await b.close();
});

test('a page and its cursor are written in one transaction: a failed one saves neither, and no later cursor skips it', async () => {
  const user = newUser();
  const kv = { local: new MemoryKv(), session: new MemoryKv() };
  const a = await open(user, kv);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  const now = Date.now();
  a.applyRemote(page(1, 10, now), 10);
  assert.equal(await a.lastPage, true);

  const db = /** @type {IdbStore} */ (a.store).db;
  const real = db.transaction.bind(db);
  db.transaction = () => { throw Object.assign(new Error('The quota has been exceeded.'), { name: 'QuotaExceededError' }); };
  a.applyRemote(page(11, 10, now), 20);
  assert.equal(await a.lastPage, false);
  assert.equal(errors[0]?.code, 'quota-exceeded');
  assert.equal(a.storage.state, 'full', 'a status the app shows');
  db.transaction = real;
  a.applyRemote(page(21, 10, now), 30);
  assert.equal(await a.lastPage, true);
  assert.equal(a.storage.state, 'ok', 'a transaction that commits again ends it');
  await a.close();

  const meta = new Map(await rows(user, 'meta'));
  assert.equal(meta.get(`cairn:${user}:cursor`), '10', 'the cursor stays below the page that was not saved');
  const keys = (await rows(user, 'chunks')).flatMap(([, chunk]) => unpack(chunk)).map((c) => c.key);
  assert.ok(keys.includes('k5') && keys.includes('k25') && keys.includes('k15'), 'the failed page went again with the next transaction');
  const b = await open(user, kv);
  assert.equal(b.savedCursor, 10, 'the next load catches up from 10 and gets k11..k20 back');
  await b.close();
});

test('chunks merge as a CRDT on load: an older change another tab saved later never wins; compaction drops what is superseded', async () => {
  const user = newUser();
  const kv = { local: new MemoryKv(), session: new MemoryKv() };
  const now = Date.now();
  const a = await open(user, kv);
  const b = await open(user, kv, { replica: 'tab-2' });
  a.applyRemote([{ seq: 2, change: makeChange('set', 'state', 'x', encodeValue('new'), stamp(now, 5, 'p')) }], 2);
  await a.lastPage;
  b.applyRemote([{ seq: 1, change: makeChange('set', 'state', 'x', encodeValue('old'), stamp(now, 1, 'p')) }], 1);
  await b.lastPage;
  b.merge([makeChange('clear', 'chat', 'c', undefined, stamp(now, 3, 'p'))], 'tab');
  b.merge([makeChange('append', 'chat', 'c', encodeValue('before the clear'), stamp(now, 2, 'p'))], 'tab');
  b.merge([makeChange('append', 'chat', 'c', encodeValue('after the clear'), stamp(now, 4, 'p'))], 'tab');
  await a.close();
  await b.close();
  const c = await open(user, kv);
  assert.equal(c.get('state', 'x'), 'new');
  assert.equal(c.chat.history('c').length, 1, 'the entry under the clear stays out');
  const { chunks, stored, chunkKeys } = await c.store.load();
  assert.equal(stored, 4, 'both values of x, the clear, the entry after it');
  assert.equal(chunks.flatMap(unpack).length, 4);
  assert.ok(await c.store.compact(chunkKeys, chunks, stored, (s) => c.kind(s)));
  const after = (await rows(user, 'chunks')).flatMap(([, chunk]) => unpack(chunk));
  assert.deepEqual(after.map((x) => x.op).sort(), ['append', 'clear', 'set'], 'one value, the watermark, the entry after it');
  await c.close();
  const d = await open(user, kv);
  assert.equal(d.get('state', 'x'), 'new');
  assert.equal(d.chat.history('c').length, 1);
  assert.equal(d.savedCursor, 1, 'the cursor the last tab saved (a lower one only means a longer catch-up)');
  await d.close();
});

test('an outbox row is deleted from IndexedDB only after its own write committed', async () => {
  const user = newUser();
  const store = new IdbStore(await IdbStore.openDb(user), () => {});
  const kv = new MirrorKv(store, 'outbox', new Map());
  const order = [];
  const put = store.putRow.bind(store);
  store.putRow = (s, k, v, g) => { order.push(v === undefined ? 'delete' : 'put'); return put(s, k, v, g); };
  kv.set('o1', '{"replica":"tab-1"}');
  kv.delete('o1'); // acked before the write landed
  assert.deepEqual(order, ['put'], 'the delete waits for the write');
  assert.equal(kv.get('o1'), null, 'gone from memory at once: it is not pushed again');
  await store.idle();
  await store.idle();
  assert.deepEqual(order, ['put', 'delete']);
  assert.deepEqual(await rows(user, 'outbox'), []);
  store.close();
});

test('a localStorage-era device moves to IndexedDB on first open, nothing lost; a crash before the old rows are removed merges again harmlessly', async () => {
  const user = newUser();
  const now = Date.now();
  // The old layout: map sections and settings in localStorage, logs and outbox in the shared
  // database 'cairn' (object stores 'logs' and 'outbox', rows keyed `<user>␀…`). The old client is
  // run on Kvs in memory, then its log and outbox rows are put where it kept them.
  const local = new MemoryKv('localStorage');
  const prefix = `${user}\u0000`;
  const oldIdb = new MemoryKv('indexedDB');
  const oldKv = { local, session: new MemoryKv(), logs: oldIdb, outbox: oldIdb };
  const old = await Cairn.open({ user, storage: 'memory', channel: null, replica: 'tab-1', kv: oldKv });
  old.applyRemote(page(1, 300, now), 320);
  old.applyRemote(Array.from({ length: 40 }, (_, i) => ({ seq: 321 + i, change: makeChange('append', 'chat', 'conv-1', encodeValue({ role: 'user', text: `m${i}` }), stamp(now, 400 + i, 'phone')) })), 360);
  old.cards.card('intro').toggle(); // a local write not yet acknowledged: in the outbox
  await old.save();
  const pending = old.syncStatus.pending;
  assert.ok(pending > 0);
  await old.close();
  const legacyDb = await new Promise((resolve, reject) => {
    const req = indexedDB.open('cairn', 1);
    req.onupgradeneeded = () => { req.result.createObjectStore('logs'); req.result.createObjectStore('outbox'); };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  await new Promise((resolve) => {
    const tx = legacyDb.transaction(['logs', 'outbox'], 'readwrite');
    for (const k of oldIdb.keys(prefix)) tx.objectStore(k.startsWith(`${prefix}o\u0001`) ? 'outbox' : 'logs').put(oldIdb.get(k), k);
    tx.oncomplete = resolve;
  });
  assert.ok(oldIdb.keys(prefix).length > 40);
  assert.equal(local.get(`cairn:${user}:cursor`), '360');
  const before = new Map(local.map);

  const kv = { local, session: new MemoryKv() };
  const a = await open(user, kv);
  assert.equal(a.entries('state').length, 300);
  assert.equal(a.chat.history('conv-1').length, 40);
  assert.equal(a.cards.card('intro').isExpanded, true);
  assert.equal(a.syncStatus.pending, pending, 'the unacknowledged writes are still to be pushed');
  assert.equal(a.savedCursor, 360, 'the cursor moved with the data it covers');
  assert.deepEqual(local.keys(`cairn:${user}`), [], 'the old localStorage rows are gone');
  const legacyLeft = await new Promise((resolve) => {
    const tx = legacyDb.transaction(['logs', 'outbox'], 'readonly');
    const n = tx.objectStore('logs').count();
    const m = tx.objectStore('outbox').count();
    tx.oncomplete = () => resolve(n.result + m.result);
  });
  assert.equal(legacyLeft, 0, 'and so are the old IndexedDB rows');
  await a.close();

  // A crash between the commit and the removal leaves both: the next open merges again.
  for (const [k, v] of before) local.set(k, v);
  const b = await open(user, kv);
  assert.equal(b.entries('state').length, 300);
  assert.equal(b.chat.history('conv-1').length, 40, 'no message twice');
  assert.equal(b.syncStatus.pending, pending);
  assert.equal(b.savedCursor, 360);
  assert.deepEqual(local.keys(`cairn:${user}`), []);
  await b.close();
  legacyDb.close();
});

test('storage limits: persistence asked and told, a nearly full origin is a status and an error event', async () => {
  const user = newUser();
  let usage = 10;
  const manager = { persisted: async () => false, persist: async () => true, estimate: async () => ({ usage, quota: 100 }) };
  const a = await open(user, { local: new MemoryKv(), session: new MemoryKv() }, { storageManager: manager });
  const errors = [];
  const states = [];
  a.on('error', (e) => errors.push(e));
  a.on('storage', (s) => states.push(s.state));
  await a.storageStatus.refresh(true);
  assert.equal(a.storage.persisted, true);
  assert.equal(a.storage.usageBytes, 10);
  assert.equal(a.storage.quotaBytes, 100);
  assert.equal(a.storage.state, 'ok');
  usage = 99;
  await a.storageStatus.refresh(true);
  assert.equal(a.storage.state, 'full');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'quota-exceeded');
  assert.match(errors[0].message, /full/);
  assert.equal(a.stats().storage.state, 'full', 'the dashboard sees it too');
  usage = 20;
  await a.storageStatus.refresh(true);
  assert.equal(a.storage.state, 'ok', 'space freed: over');
  assert.deepEqual(states.filter((s, i) => s !== states[i - 1]), ['ok', 'full', 'ok']);
  await a.close();
});

test('catch-up backpressure: the next page is not decoded before the previous one is saved', async () => {
  const sockets = [];
  class Ws {
    constructor() { this.readyState = 0; sockets.push(this); setTimeout(() => { this.readyState = 1; this.onopen?.(); }, 1); }
    send(text) { const f = decodeFrame(text); if (f.type === 'hello') this.deliver({ type: 'welcome', protocol: 1, user: 'u', head: 30, maxBatch: 100, maxAheadMillis: 60000 }); }
    close() { this.readyState = 3; }
    deliver(frame) { this.onmessage?.({ data: encodeFrame(frame) }); }
  }
  const now = Date.now();
  /** @type {Array<{cursor: number, release: () => void}>} */
  const applying = [];
  const client = new SyncClient({
    url: 'ws://fake/sync', token: () => 't', replica: 'tab-1', WebSocket: /** @type {any} */ (Ws), maxProtocol: 1,
    pending: () => [], acked: () => {},
    apply: (_c, cursor) => new Promise((resolve) => applying.push({ cursor, release: () => resolve(true) })),
  });
  client.start();
  while (sockets[0]?.readyState !== 1) await new Promise((r) => setTimeout(r, 2));
  await new Promise((r) => setTimeout(r, 5));
  for (const from of [1, 11, 21]) sockets[0].deliver({ type: 'changes', changes: page(from, 10, now).map((e) => ({ seq: e.seq, change: e.change })), cursor: from + 9 });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(applying.map((a) => a.cursor), [10], 'one page at a time');
  applying[0].release();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(applying.map((a) => a.cursor), [10, 20]);
  assert.equal(client.cursor, 10);
  applying[1].release();
  await new Promise((r) => setTimeout(r, 10));
  applying[2].release();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(client.cursor, 30);
  client.stop();
});

test('dbName is per user', () => {
  assert.equal(dbName('alice'), 'cairn-alice');
});

test('a privacy switch reaches the other tabs, which read settings from their own copy of the meta rows', async () => {
  const user = newUser();
  const kv = { local: new MemoryKv(), session: new MemoryKv() };
  const a = await Cairn.open({ user, storage: 'browser', replica: 'tab-1', startSync: false, kv });
  const b = await Cairn.open({ user, storage: 'browser', replica: 'tab-2', startSync: false, kv });
  a.setSectionSync('memory', false);
  await until(() => !b.isSyncing('memory'), 'the other tab to stop syncing memory');
  await a.close();
  await b.close();
  const c = await open(user, kv);
  assert.equal(c.isSyncing('memory'), false, 'and it is saved');
  await c.close();
});

test('chunks of the first IndexedDB layout (an array of changes) still load, and compaction rewrites them packed', async () => {
  const user = newUser();
  const kv = { local: new MemoryKv(), session: new MemoryKv() };
  const now = Date.now();
  const db = await IdbStore.openDb(user);
  await new Promise((resolve, reject) => {
    const tx = db.transaction('chunks', 'readwrite');
    const old = page(1, 300, now).map((p) => p.change);
    tx.objectStore('chunks').add(old);
    tx.objectStore('chunks').add(old.map((c) => ({ ...c, value: encodeValue('newer'), stamp: stamp(now + 1, 0, 'phone') })));
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
  const a = await open(user, kv);
  assert.equal(a.entries('state').length, 300);
  assert.equal(a.get('state', 'k7'), 'newer', 'merged as before');
  a.applyRemote(page(301, 10, now), 400);
  await a.lastPage;
  const { chunks, stored, chunkKeys } = await a.store.load();
  assert.deepEqual(chunks.map((c) => Array.isArray(c)), [true, true, false], 'old chunks as they were; the new one packed');
  assert.equal(stored, 610);
  assert.ok(await a.store.compact(chunkKeys, chunks, stored, (s) => a.kind(s)));
  const after = await rows(user, 'chunks');
  assert.ok(after.every(([, c]) => !Array.isArray(c) && c.v === 2), 'compacted into packed chunks');
  assert.equal(after.flatMap(([, c]) => unpack(c)).length, 310, 'one change per key left');
  await a.close();
  const b = await open(user, kv);
  assert.equal(b.entries('state').length, 310);
  assert.equal(b.get('state', 'k7'), 'newer');
  await b.close();
});

/** Writes `n` packed chunks of 500 entries each (k0, k1, ...) straight into the user's database. */
async function seedChunks(user, n, now) {
  const db = await IdbStore.openDb(user);
  await new Promise((resolve, reject) => {
    const tx = db.transaction('chunks', 'readwrite');
    for (let c = 0; c < n; c++) {
      const first = 500 * c;
      tx.objectStore('chunks').add(pack(Array.from({ length: 500 }, (_, i) =>
        makeChange('set', 'state', `k${first + i}`, encodeValue(first + i), stamp(now, 1, 'phone')))));
    }
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}

test('a large state is read at open in ranges of a few chunks, each merged before the one after next is read, yielding between', async () => {
  const user = newUser();
  const kv = { local: new MemoryKv(), session: new MemoryKv() };
  await seedChunks(user, 40, Date.now());
  const saved = { scheduler: globalThis.scheduler, now: performance.now, getAll: IDBObjectStore.prototype.getAll, applyMany: LwwMap.prototype.applyMany };
  let yields = 0;
  let clock = 0;
  let merged = 0;
  /** @type {Array<{count: number, merged: number}>} each read of chunks, with the entries merged when it was asked */
  const reads = [];
  globalThis.scheduler = { yield: () => { yields++; return Promise.resolve(); } };
  LwwMap.prototype.applyMany = function (keys, ...rest) {
    merged += keys.length;
    return saved.applyMany.call(this, keys, ...rest);
  };
  IDBObjectStore.prototype.getAll = function (query, count) {
    if (this.name === 'chunks') reads.push({ count, merged });
    return saved.getAll.call(this, query, count);
  };
  // A slow device: this clock moves 12.5 ms per reading (one when a range arrives, one per chunk
  // merged), so the 40 ms slice ends every 3 chunks of a range.
  performance.now = () => (clock += 12.5);
  try {
    const a = await open(user, kv);
    performance.now = saved.now;
    assert.equal(a.entries('state').length, 20_000);
    assert.equal(reads.length, 6, '40 chunks in ranges of 8: 5 ranges, then an empty read');
    assert.ok(reads.every((r) => r.count === 8), 'never every chunk in one getAll');
    // Range i is asked once range i-2 is merged (range i-1 merges while it is read): at most two
    // ranges are in memory unmerged.
    assert.deepEqual(reads.map((r) => r.merged), [0, 0, 4000, 8000, 12000, 16000]);
    assert.equal(yields, 10, 'each range of 8 chunks yields twice while it merges');
    assert.equal(a.store.stored, 20_000, 'the chunks read are counted');
    await a.close();
  } finally {
    performance.now = saved.now;
    IDBObjectStore.prototype.getAll = saved.getAll;
    LwwMap.prototype.applyMany = saved.applyMany;
    if (saved.scheduler === undefined) delete globalThis.scheduler;
    else globalThis.scheduler = saved.scheduler;
  }
});

test('chunks compacted by another tab while the open reads ranges are not lost: the merge is read after', async () => {
  const user = newUser();
  const kv = { local: new MemoryKv(), session: new MemoryKv() };
  await seedChunks(user, 40, Date.now());
  const other = new IdbStore(await IdbStore.openDb(user), () => {});
  const saved = { scheduler: globalThis.scheduler, now: performance.now };
  let compacted = null;
  // At the open's first yield (after its first chunk: this clock moves 50 ms per reading), another
  // tab compacts every chunk: those not read yet are deleted and their merge added under a greater key.
  let clock = 0;
  performance.now = () => (clock += 50);
  globalThis.scheduler = {
    yield: () => compacted ??= other.load({ meta: false })
      .then(({ chunkKeys, chunks, stored }) => other.compact(chunkKeys, chunks, stored, () => 'map')),
  };
  try {
    const a = await open(user, kv);
    performance.now = saved.now;
    assert.equal(await compacted, true, 'the compaction ran during the open');
    assert.equal(a.entries('state').length, 20_000, 'every entry, though the chunks after the first two ranges were gone before they were read');
    assert.equal(a.get('state', 'k19999'), 19_999);
    await a.close();
  } finally {
    performance.now = saved.now;
    other.close();
    if (saved.scheduler === undefined) delete globalThis.scheduler;
    else globalThis.scheduler = saved.scheduler;
  }
});

test('compaction is worth it for superseded changes or many small chunks, not for a large state already compacted', () => {
  assert.equal(worthCompacting(1_200_000, 1_200_000, 1_200), true, 'a catch-up of 1,200 pages of 1,000');
  assert.equal(worthCompacting(1_200_000, 1_200_000, 240), false, 'its merge, 240 chunks of 5,000: not again at every open');
  assert.equal(worthCompacting(120_000, 120_000, 120), false, '120 pages');
  assert.equal(worthCompacting(3_000, 3_000, 300), true, '300 small saves');
  assert.equal(worthCompacting(250_000, 100_000, 100), true, 'more than twice the changes the state needs');
});

test('forgetChanges removes exactly those changes from the chunks that hold them: a value they superseded is stored again, other chunks stay', async () => {
  const user = newUser();
  const store = new IdbStore(await IdbStore.openDb(user), () => {});
  const theirs = { op: 'set', section: 'state', key: 'title', value: '"theirs"', stamp: stamp(1000, 0, 'server') };
  const mine = { op: 'set', section: 'state', key: 'title', value: '"mine"', stamp: stamp(2000, 0, 'tab-1') };
  const other = { op: 'set', section: 'state', key: 'other', value: '"x"', stamp: stamp(2000, 1, 'tab-1') };
  const note = { op: 'append', section: 'chat', stream: 'c1', value: '"hi"', stamp: stamp(2000, 2, 'tab-1') };
  store.putChanges([theirs]);
  await store.idle();
  store.putChanges([mine, other, note]);
  await store.idle();
  const before = await rows(user, 'chunks');
  assert.equal(await store.forgetChanges([mine, note, { ...other, stamp: stamp(1, 0, 'nobody') }]), true);
  const after = await rows(user, 'chunks');
  assert.deepEqual(after[0], before[0], 'the chunk without them is not touched');
  assert.deepEqual(after.flatMap(([, c]) => unpack(c)), [theirs, other], 'only the named changes left; a change with another stamp stays');
  assert.equal(store.stored, 2);
  store.close();
});
