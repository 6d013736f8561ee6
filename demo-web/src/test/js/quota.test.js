// Issue 7 in the browser client: a push refused with quota-exceeded keeps its changes pending (not
// dropped), says why (lastError, syncNow rejects), lets other changes through (a delete frees
// space) and is sent again; history() and restore() over the HTTP API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { ReplicaState } from '../../main/web/cairn/crdt.js';
import { decodeFrame, encodeFrame } from '../../main/web/cairn/protocol.js';
import { until } from './support/until.js';

const utf8 = (s) => new TextEncoder().encode(s).length;

/** A fake server speaking PROTOCOL.md with a quota counted as the real one (live map entries: key + value bytes). */
class QuotaServer {
  constructor(quota) {
    this.quota = quota;
    this.state = new ReplicaState((s) => ({ preferences: 'map', memory: 'map', chat: 'log' })[s] ?? 'map');
    this.log = [];
    this.refusals = 0;
    const server = this;
    this.WebSocket = class {
      constructor() {
        this.readyState = 0;
        setTimeout(() => { this.readyState = 1; this.onopen?.(); }, 1);
      }
      send(text) { setTimeout(() => server.receive(this, text), 1); }
      close() { this.readyState = 3; }
      deliver(frame) { setTimeout(() => this.readyState === 1 && this.onmessage?.({ data: encodeFrame(frame) }), 1); }
    };
  }

  used(state = this.state) {
    let n = 0;
    for (const section of ['preferences', 'memory']) {
      for (const [key, entry] of state.map(section).entries) if (entry.value !== null) n += utf8(key) + utf8(entry.value);
    }
    return n;
  }

  receive(ws, text) {
    const f = decodeFrame(text);
    if (f.type === 'hello') {
      ws.deliver({ type: 'welcome', protocol: 1, user: 'alice', head: this.log.length, maxBatch: 1000, maxAheadMillis: 60000 });
      ws.deliver({ type: 'caught-up', cursor: this.log.length });
    } else if (f.type === 'push') {
      const before = this.used();
      const trial = new ReplicaState((s) => ({ preferences: 'map', memory: 'map', chat: 'log' })[s] ?? 'map');
      this.log.forEach((e) => trial.apply(e.change));
      f.changes.forEach((c) => trial.apply(c));
      const after = this.used(trial);
      if (after > before && after > this.quota) {
        this.refusals++;
        ws.deliver({ type: 'error', code: 'quota-exceeded', batch: f.batch,
          message: `storage quota exceeded: these changes would take the user's data on the server from ${before} to ${after} bytes; the quota is ${this.quota} bytes` });
        return;
      }
      for (const change of f.changes) if (this.state.apply(change)) this.log.push({ seq: this.log.length + 1, change });
      ws.deliver({ type: 'ack', batch: f.batch });
    } else if (f.type === 'ping') ws.deliver({ type: 'pong' });
  }
}


test('a change refused for the quota stays pending, says why, and goes through once space is freed', async () => {
  const server = new QuotaServer(300);
  const cairn = await Cairn.open({ user: 'alice', storage: 'memory', channel: null, replica: 'tab-1',
    server: { url: 'ws://fake/sync', token: () => 'tok' }, WebSocket: server.WebSocket });
  await until(() => cairn.status === 'live', 'live');
  cairn.memory.set('big', 'x'.repeat(200));
  await cairn.syncNow();
  cairn.memory.set('more', 'y'.repeat(150));
  await assert.rejects(cairn.syncNow(), (e) => e.code === 'quota-exceeded' && /quota is 300/.test(e.message));
  assert.equal(cairn.lastError?.code, 'quota-exceeded');
  assert.ok(cairn.outbox.entries('tab-1').some((e) => e.change.key === 'more'), 'the refused change is still pending');
  assert.equal(server.state.map('memory').value('more'), null, 'nothing of it on the server');
  const refusals = server.refusals;
  // a delete is not held back with it: it frees space, and the held change goes on the next try
  cairn.memory.remove('big');
  await until(() => server.state.map('memory').value('big') === null && server.log.length >= 2, 'the delete on the server');
  assert.equal(server.refusals, refusals, 'held changes are not re-sent at once');
  await cairn.syncNow();
  assert.equal(JSON.parse(server.state.map('memory').value('more')), 'y'.repeat(150));
  assert.equal(cairn.outbox.entries('tab-1').length, 0);
  await cairn.close();
});

test('history() lists a key\'s earlier values with the sync token and restore() writes one again', async () => {
  const server = new QuotaServer(0);
  const requests = [];
  const fetch = async (url, init) => {
    requests.push({ url, auth: init.headers.Authorization });
    if (url.endsWith('/api/usage')) return new Response(JSON.stringify({ usedBytes: 12, quotaBytes: 100, unlimited: false }), { status: 200 });
    return new Response(JSON.stringify({ section: 'preferences', key: 'card-intro/isExpanded', entries: [
      { value: 'dark', deleted: false, stamp: '0190a1b2c3d40001@other', replacedAt: '2026-12-01T10:00:00Z', replacedAtMillis: 1 },
      { value: null, deleted: true, stamp: '0190a1b2c3d40000@other', replacedAt: '2026-12-01T09:00:00Z', replacedAtMillis: 0 }] }), { status: 200 });
  };
  const cairn = await Cairn.open({ user: 'alice', storage: 'memory', channel: null, replica: 'tab-2',
    server: { url: 'wss://cairn.example:8443/sync', token: () => 'tok' }, WebSocket: server.WebSocket, fetch });
  const versions = await cairn.history('preferences', 'card-intro/isExpanded');
  assert.equal(requests[0].url, 'https://cairn.example:8443/api/history/preferences/card-intro%2FisExpanded');
  assert.equal(requests[0].auth, 'Bearer tok');
  assert.equal(versions.length, 2);
  cairn.preferences.setTheme('light');
  cairn.restore('preferences', 'theme', versions[0]);
  assert.equal(cairn.preferences.theme, 'dark', 'restored as a new local write');
  cairn.restore('preferences', 'theme', versions[1]);
  assert.equal(cairn.get('preferences', 'theme', 'none'), 'none', 'a deleted version deletes the key');
  assert.deepEqual(await cairn.usage(), { usedBytes: 12, quotaBytes: 100, unlimited: false });
  const failing = await Cairn.open({ user: 'bob', storage: 'memory', channel: null, startSync: false,
    server: { url: 'ws://h/sync', token: () => 't' }, fetch: async () => new Response('{"error":"unauthorized","message":"no"}', { status: 401 }) });
  await assert.rejects(failing.usage(), (e) => e.status === 401 && /unauthorized/.test(e.message));
  await failing.close();
  await cairn.close();
});
