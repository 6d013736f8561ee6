// Where the browser client syncs (worker/tab-link.js workerKind, worker/worker-scope.js): the
// user's SharedWorker where it exists, else a dedicated Worker per tab (one socket per tab, still
// off the page), else the page. The globals are stubbed: a fake Worker runs the real worker code
// (serveScope over a MessageChannel) against fake-indexeddb and a scripted server.
import 'fake-indexeddb/auto';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { workerKind } from '../../main/web/cairn/worker/tab-link.js';
import { serveScope } from '../../main/web/cairn/worker/worker-scope.js';
import { ScriptedServer } from './support/scripted-server.js';
import { makeChange, encodeValue } from '../../main/web/cairn/codec.js';
import { until } from './support/until.js';


class FakeSharedWorker {}
class FakeWorker {}

test('the choice: SharedWorker where it exists, else a dedicated Worker, else the page', () => {
  const both = { SharedWorker: FakeSharedWorker, Worker: FakeWorker };
  const dedicatedOnly = { Worker: FakeWorker };
  assert.equal(workerKind({ user: 'u' }, both), 'shared');
  assert.equal(workerKind({ user: 'u', worker: 'shared' }, dedicatedOnly), 'dedicated', 'no SharedWorker (Chrome on Android): a Worker per tab');
  assert.equal(workerKind({ user: 'u' }, {}), null, 'neither: in the page');
  assert.equal(workerKind({ user: 'u', worker: 'dedicated' }, both), 'dedicated', 'asked for');
  assert.equal(workerKind({ user: 'u', worker: 'dedicated' }, { SharedWorker: FakeSharedWorker }), null);
  assert.equal(workerKind({ user: 'u', worker: 'none' }, both), null);
  for (const own of [{ kv: {} }, { indexedDB: {} }, { WebSocket: FakeWorker }, { storage: 'memory' }]) {
    assert.equal(workerKind({ user: 'u', ...own }, both), null, `an app's own ${Object.keys(own)[0]}: in the page`);
  }
});

test('a shared worker\'s scope takes its tabs from connect events, a dedicated one from its own messages', () => {
  class SharedScope {}
  const shared = Object.assign(new SharedScope(), { SharedWorkerGlobalScope: SharedScope });
  serveScope(shared, new Map());
  assert.equal(typeof shared.onconnect, 'function');
  const dedicated = { postMessage() {}, close() {} };
  serveScope(dedicated, new Map());
  assert.equal(typeof dedicated.onmessage, 'function', 'the scope itself is the one tab\'s port');
  assert.equal(dedicated.onconnect, undefined);
});

/** @type {Array<Map<string, Promise<any>>>} */
const allHosts = [];
after(async () => {
  for (const hosts of allHosts) for (const host of hosts.values()) (await host).close();
});

test('without SharedWorker, each tab syncs through a dedicated Worker of its own: one socket per tab, pages saved and applied, the worker ends on close', async () => {
  const server = new ScriptedServer({ user: 'dedicated-user', maxBatch: 100, echoToSender: false });
  /** @type {Array<{url: string, options: any, closed: boolean}>} */
  const started = [];
  const saved = { SharedWorker: globalThis.SharedWorker, Worker: globalThis.Worker };
  delete globalThis.SharedWorker;
  globalThis.Worker = class {
    /** @param {URL} url @param {any} options */
    constructor(url, options) {
      const record = { url: String(url), options, closed: false };
      started.push(record);
      const channel = new MessageChannel();
      // the worker's side: its global scope, served by the real worker code (a module instance of its own)
      const scope = {
        set onmessage(f) { channel.port2.onmessage = f; },
        get onmessage() { return channel.port2.onmessage; },
        postMessage: (m) => channel.port2.postMessage(m),
        close: () => { record.closed = true; channel.port2.close(); },
      };
      const hosts = new Map();
      allHosts.push(hosts);
      serveScope(scope, hosts, undefined, { WebSocket: server.WebSocket });
      this.port = channel.port1;
    }
    set onmessage(f) { this.port.onmessage = f; }
    get onmessage() { return this.port.onmessage; }
    postMessage(m) { this.port.postMessage(m); }
    terminate() { this.port.close(); }
  };
  try {
    const tab = (replica) => Cairn.open({ user: 'dedicated-user', replica, channel: null, server: { url: 'ws://fake/sync', token: () => 'tok' } });
    const a = await tab('tab-a');
    const b = await tab('tab-b');
    assert.equal(started.length, 2, 'a Worker per tab');
    assert.ok(started.every((w) => w.url.endsWith('/cairn/worker/sync-worker.js') && w.options.type === 'module'), 'the module worker: ' + started[0].url);
    assert.equal(a.worker?.kind, 'dedicated');
    assert.equal(b.worker?.kind, 'dedicated');
    await until(() => a.status === 'live' && b.status === 'live', 'both live');
    assert.equal(server.sockets.size, 2, 'one socket per tab');

    a.cards.card('intro').toggle();
    await a.syncNow();
    const stamps = server.pushed().map((c) => c.stamp);
    assert.ok(stamps.length >= 1 && new Set(stamps).size === stamps.length, 'pushed once: ' + stamps);
    await until(() => b.cards.card('intro').isExpanded, 'the other tab gets it from the server');

    const phone = makeChange('set', 'preferences', 'theme', encodeValue('dark'), `${(BigInt(Date.now()) << 16n).toString(16).padStart(16, '0')}@phone`);
    server.commit([phone]);
    await until(() => a.preferences.theme === 'dark' && b.preferences.theme === 'dark', 'the server\'s change in both tabs');
    await a.close();
    await b.close();
    await until(() => started.every((w) => w.closed), 'each worker ends itself once its tab detached');

    const c = await tab('tab-c');
    assert.equal(c.preferences.theme, 'dark', 'saved on the device by the worker');
    assert.equal(c.cards.card('intro').isExpanded, true);
    await c.close();
  } finally {
    if (saved.SharedWorker) globalThis.SharedWorker = saved.SharedWorker;
    if (saved.Worker) globalThis.Worker = saved.Worker;
    else delete globalThis.Worker;
  }
});
