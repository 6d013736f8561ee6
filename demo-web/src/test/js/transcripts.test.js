// Runs every spec/vectors/sync/*.json transcript (format and rules: spec/vectors/sync/README.md)
// against the real browser client, on both of its sync paths:
//   page    Cairn.open over memory storage, its own sync client, a scripted WebSocket injected
//           through the `WebSocket` option and a scripted fetch that answers the client's
//           question after a refused upgrade;
//   worker  the default in a browser: a tab (Cairn.open with `workerPort`, IndexedDB from
//           fake-indexeddb, a new one per transcript) syncing through a SyncHost
//           (worker/sync-host.js) over a MessageChannel, the scripted socket and fetch given to
//           the host, as a worker has them.
// The JVM client runs the same files (TranscriptTest.java).
import { IDBFactory } from 'fake-indexeddb';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { WHOLE_SECTION } from '../../main/web/cairn/codec.js';
import { decodeFrame, encodeFrame } from '../../main/web/cairn/protocol.js';
import { encode as encodePage, decode as decodePage } from '../../main/web/cairn/page.js';
import { acceptPort } from '../../main/web/cairn/worker/sync-host.js';
import { SyncClient } from '../../main/web/cairn/sync.js';

const DIR = new URL('../../../../spec/vectors/sync/', import.meta.url);
const EVENTUALLY_MS = 3000;
/**
 * syncNow() calls a sync client took, in the page or in the worker's host: a syncNow step goes on
 * once its call is taken (after its save), as the transcripts' README says. Through the worker
 * that is a few ms later than in the page (the save commits to IndexedDB, then the worker is asked).
 */
let syncNowsTaken = 0;
const clientSyncNow = SyncClient.prototype.syncNow;
SyncClient.prototype.syncNow = function (...args) {
  syncNowsTaken++;
  return clientSyncNow.apply(this, args);
};

/** Steps that only check: they do not move the mark afterMillis counts from. */
const CHECKS = ['status', 'get', 'cursor', 'syncNowResult', 'spaceStatus', 'peers'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until check() stops throwing (it is an assertion), at most 3 s. */
async function eventually(check) {
  const end = performance.now() + EVENTUALLY_MS;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (performance.now() > end) throw e;
    }
    await sleep(2);
  }
}

/** Matches a frame (or part) against a pattern: "*" anything, "$name" binds, arrays element-wise. */
function match(pattern, value, binds, path = '$') {
  if (pattern === '*') return;
  if (typeof pattern === 'string' && pattern.startsWith('$') && pattern.length > 1) {
    if (binds.has(pattern)) assert.deepEqual(value, binds.get(pattern), `${path}: ${pattern} was bound to ${JSON.stringify(binds.get(pattern))}`);
    else binds.set(pattern, value);
    return;
  }
  if (Array.isArray(pattern)) {
    assert.ok(Array.isArray(value), `${path}: expected an array, got ${JSON.stringify(value)}`);
    assert.equal(value.length, pattern.length, `${path}: expected ${pattern.length} elements, got ${value.length}`);
    pattern.forEach((p, i) => match(p, value[i], binds, `${path}[${i}]`));
    return;
  }
  if (pattern !== null && typeof pattern === 'object') {
    assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `${path}: expected an object, got ${JSON.stringify(value)}`);
    for (const k of Object.keys(pattern)) {
      if (pattern[k] === '*') continue;
      assert.ok(k in value, `${path}.${k} is missing`);
      match(pattern[k], value[k], binds, `${path}.${k}`);
    }
    for (const k of Object.keys(value)) assert.ok(k in pattern, `${path}.${k} is not in the pattern (${JSON.stringify(value[k])})`);
    return;
  }
  assert.deepEqual(value, pattern, `${path}`);
}

/** Replaces "$name" strings by their bound values. */
function bind(frame, binds) {
  if (typeof frame === 'string' && binds.has(frame)) return binds.get(frame);
  if (Array.isArray(frame)) return frame.map((f) => bind(f, binds));
  if (frame !== null && typeof frame === 'object') return Object.fromEntries(Object.entries(frame).map(([k, v]) => [k, bind(v, binds)]));
  return frame;
}

/** The scripted server's side of the sockets and of HTTP. */
class Script {
  constructor() {
    /** @type {any[]} sockets the client opened, in order */
    this.created = [];
    this.accepted = 0;
    /** @type {any} */
    this.current = null;
    /** @type {Array<{ws: any, frame: any}>} frames the client sent, not yet taken by a recv */
    this.inbox = [];
    this.sentCount = 0;
    /** @type {{status: number, body: any}|{unanswered: true}|null} the answer to the client's GET after a refused upgrade */
    this.refusal = null;
    /** @type {string[]} bearer tokens of the client's GETs */
    this.fetched = [];
    const script = this;
    this.WebSocket = class {
      constructor(url, protocols) {
        this.url = url;
        this.protocols = protocols;
        this.readyState = 0;
        this.closedByClient = false;
        this.createdAt = performance.now();
        script.created.push(this);
      }
      send(data) {
        assert.equal(this.readyState, 1, 'the client sent on a socket that is not open');
        if (typeof data !== 'string') {
          // A v2 page (PROTOCOL.md 7): matched in its v1 JSON form once decoded, in the order sent.
          const entry = { ws: this, frame: null, at: performance.now(), page: true };
          script.sentCount++;
          script.inbox.push(entry);
          decodePage(new Uint8Array(data), 64 << 20).then((frame) => { entry.frame = frame; },
            (e) => { entry.frame = { undecodable: e.message }; });
          return;
        }
        const frame = JSON.parse(data);
        if (frame.type !== 'ping') script.sentCount++;
        script.inbox.push({ ws: this, frame, at: performance.now(), page: false });
      }
      close() {
        if (this.readyState === 3) return;
        this.readyState = 3;
        this.closedByClient = true;
        this.closedAt = performance.now();
      }
    };
    this.fetch = async (url, init) => {
      const auth = init?.headers?.Authorization ?? '';
      this.fetched.push(auth.replace(/^Bearer /, ''));
      if (this.refusal?.unanswered) {
        // a question nobody answers: only the client's own abort ends it, as with a real fetch
        return new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
      }
      const r = this.refusal ?? { status: 400, body: { error: 'bad-request', message: 'GET /sync needs a WebSocket upgrade' } };
      const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      return new Response(text, { status: r.status, headers: { 'content-type': 'application/json' } });
    };
  }
}

const DEFAULT_REFUSAL_BODY = {
  401: { error: 'unauthorized', message: 'token expired' },
  403: { error: 'forbidden-origin', message: 'origin not allowed' },
  429: { error: 'too-many-sockets', message: 'too many sockets' },
  503: { error: 'server-full', message: 'server full' },
};

/** @param {any} t the transcript @param {'page'|'worker'} path */
async function run(t, path) {
  const c = t.client ?? {};
  const script = new Script();
  let tokens = 0;
  const jitter = c.jitter ?? 0.5;
  const sync = {
    batchSize: c.batchSize ?? 500, maxInFlight: c.maxInFlight ?? 4, maxFrameBytes: c.maxFrameBytes ?? 1048576,
    backoffMinMillis: c.backoffMinMillis ?? 20, backoffMaxMillis: c.backoffMaxMillis ?? 200,
    retryMinMillis: c.retryMinMillis ?? 20, retryMaxMillis: c.retryMaxMillis ?? 200,
    skewRetryMinMillis: c.skewRetryMinMillis ?? 100, skewRetryMaxMillis: c.skewRetryMaxMillis ?? 400,
    quotaRetryMinMillis: c.quotaRetryMinMillis ?? 100, quotaRetryMaxMillis: c.quotaRetryMaxMillis ?? 400,
    keepAliveMillis: c.keepAliveMillis ?? 60000, connectTimeoutMillis: c.connectTimeoutMillis ?? 5000,
    maxProtocol: c.maxProtocol ?? 1,
    random: () => jitter,
  };
  // A transcript whose hello names spaces (PROTOCOL.md 8.1) runs a client that syncs spaces.
  const spaces = t.steps.some((s) => s.recv?.type === 'hello' && 'spaces' in s.recv);
  const replica = c.replica ?? 'dev-1';
  /** @type {Map<string, Promise<any>>} */
  const hosts = new Map();
  /** @type {any} */
  let where = { user: 'alice', storage: 'memory' };
  if (path === 'worker') {
    // The host's session says the tab's replica id in hello, so hello matches as in the page.
    const channel = new MessageChannel();
    const indexedDB = new IDBFactory();
    acceptPort(channel.port2, hosts, indexedDB, { WebSocket: /** @type {any} */ (script.WebSocket), fetch: /** @type {any} */ (script.fetch), random: sync.random, replica });
    where = { user: 'alice', workerPort: channel.port1, indexedDB };
  }
  const cairn = await Cairn.open({
    ...(spaces ? { spaces: true, onSpaceLeft: c.onSpaceLeft ?? 'keep' } : {}),
    ...where, channel: null, replica, sections: c.sections ?? {},
    server: { url: 'ws://scripted/sync', token: () => `tok-${++tokens}` },
    WebSocket: /** @type {any} */ (script.WebSocket), fetch: /** @type {any} */ (script.fetch), sync,
    ...(c.passphrase ? { endToEnd: { passphrase: c.passphrase, sections: c.e2eSections ?? [], iterations: 1000 } } : {}),
  });
  if (path === 'worker') assert.ok(cairn.worker, 'the tab syncs through the host');
  const outer = cairn;
  const binds = new Map();
  /** @type {Map<string, {settled: boolean, ok?: boolean, error?: any}>} */
  const calls = new Map();
  /** The held saves of syncNow calls (saveHeld), by name. @type {Map<string, VoidFunction>} */
  const heldSaves = new Map();
  /** @type {Map<string, any>} */
  const handles = new Map();
  /** @type {Map<string, any>} the handle the last write of a key through the persistent-state API used (for "save") */
  const lastHandle = new Map();
  let lastEnd = performance.now();
  /**
   * When the client sent the frame a recv took, or closed the socket; for a server action (send,
   * close), just before the client had it: the client may start a timer while handling it, and a
   * busy machine can delay the next clock read past it (a false "too early").
   * @type {number|null}
   */
  let ended = null;
  const notBefore = (step, what, at = performance.now()) => {
    if (step.afterMillis !== undefined) {
      const waited = at - lastEnd;
      assert.ok(waited >= step.afterMillis - 2, `${what} came ${waited} ms after the previous step, expected at least ${step.afterMillis}`);
    }
  };
  try {
    for (const [i, step] of t.steps.entries()) {
      const where = `step ${i} ${JSON.stringify(step).slice(0, 160)}`;
      try {
        await runStep(step);
      } catch (e) {
        /** @type {Error} */ (e).message = `${where}: ${/** @type {Error} */ (e).message}`;
        throw e;
      }
      // afterMillis counts from the last step that is not a check; a recv or expectClose ends when the client acted
      if (!CHECKS.some((k) => k in step)) lastEnd = ended ?? performance.now();
      ended = null;
    }
  } finally {
    await cairn.close().catch(() => {});
    for (const host of hosts.values()) await host.then((h) => h.close(), () => {}); // a failure here must not hide the step's
  }

  async function runStep(step) {
    if ('connect' in step) {
      const ws = await eventually(() => {
        assert.ok(script.created.length > script.accepted, 'the client opened no socket');
        return script.created[script.accepted];
      });
      script.accepted++;
      notBefore(step, 'the socket', ws.createdAt);
      if (step.token) {
        // a browser's token rides in a subprotocol beside 'cairn' (PROTOCOL.md 2), never in the URL
        assert.deepEqual(ws.protocols, ['cairn', `cairn.bearer.${step.token}`], `expected token ${step.token} in the offered subprotocols`);
        assert.ok(!ws.url.includes(step.token), `the token is in the URL ${ws.url}`);
      }
      if (step.refuse) {
        const status = step.refuse.status;
        script.refusal = step.refuse.unanswered ? { unanswered: true } : { status, body: step.refuse.body ?? DEFAULT_REFUSAL_BODY[status] ?? { error: 'not-found', message: 'no such path' } };
        ws.readyState = 3;
        ws.onerror?.({});
        ws.onclose?.({ code: 1006, reason: '', wasClean: false });
        return;
      }
      script.current = ws;
      ws.readyState = 1;
      ws.onopen?.({});
    } else if ('recv' in step) {
      const pattern = step.recv;
      const entry = await eventually(() => {
        // the current socket's frames, in order, each once (an earlier socket's are gone with it)
        script.inbox = script.inbox.filter((e) => e.ws === script.current);
        assert.ok(script.inbox.every((e) => e.frame !== null), 'a page the client sent is still being decoded');
        const k = script.inbox.findIndex((e) => pattern.type === 'ping' || e.frame.type !== 'ping');
        assert.ok(k >= 0, `the client sent no frame; expected ${JSON.stringify(pattern).slice(0, 200)}`);
        return script.inbox.splice(0, k + 1)[k];
      });
      notBefore(step, 'the frame', entry.at);
      // a page is matched in its v1 JSON form
      const sent = !entry.page ? entry.frame : entry.frame.type ? JSON.parse(encodeFrame(entry.frame)) : { undecodable: entry.frame.undecodable };
      match(pattern, sent, binds);
      if (step.page !== undefined) assert.equal(entry.page, step.page, `the frame came ${entry.page ? 'as a binary page' : 'as text'}`);
      ended = entry.at;
    } else if ('send' in step) {
      // A welcome naming protocol 2 switches the socket to pages: changes and ack then go as binary pages.
      const frame = bind(step.send, binds);
      ended = performance.now();
      const ws = script.current;
      if (frame.type === 'welcome') ws.v2 = frame.protocol === 2;
      // a space's changes go as a page of kind 4 (PROTOCOL.md 8.3)
      if (ws.v2 && (frame.type === 'changes' || frame.type === 'ack')) {
        const page = await encodePage(decodeFrame(JSON.stringify(frame)));
        ended = performance.now();
        ws.onmessage?.({ data: page.buffer.slice(page.byteOffset, page.byteOffset + page.byteLength) });
      } else {
        ws.onmessage?.({ data: JSON.stringify(frame) });
      }
    } else if ('sendPage' in step) {
      const page = Uint8Array.from(Buffer.from(step.sendPage, 'hex'));
      ended = performance.now();
      script.current.onmessage?.({ data: page.buffer });
    } else if ('sendRaw' in step) {
      ended = performance.now();
      script.current.onmessage?.({ data: step.sendRaw });
    } else if ('close' in step) {
      const ws = script.current;
      ended = performance.now();
      ws.readyState = 3;
      ws.onclose?.({ code: step.close.code, reason: step.close.reason ?? '', wasClean: true });
    } else if ('expectClose' in step) {
      await eventually(() => assert.ok(script.current?.closedByClient, 'the client did not close the socket'));
      notBefore(step, 'the close', script.current.closedAt);
      ended = script.current.closedAt;
    } else if ('silence' in step) {
      const frames = script.sentCount;
      const sockets = script.created.length;
      await sleep(step.silence);
      assert.equal(script.sentCount, frames, `the client sent ${JSON.stringify(script.inbox.slice(-1)[0]?.frame)?.slice(0, 200)} during the silence`);
      assert.equal(script.created.length, sockets, 'the client opened a socket during the silence');
    } else if ('wait' in step) {
      await sleep(step.wait);
    } else if ('write' in step) {
      write(step, step.write.space === undefined ? cairn : await cairn.space(step.write.space));
    } else if ('status' in step) {
      await eventually(() => {
        const s = cairn.syncStatus;
        const want = step.status;
        if ('state' in want) assert.equal(s.state, want.state, 'state');
        if ('pending' in want) assert.equal(s.pending, want.pending, 'pending');
        if ('error' in want) assert.equal(s.error, want.error, `error (${s.lastError?.message})`);
        if ('cursor' in want) assert.equal(s.cursor, want.cursor, 'cursor');
      });
    } else if ('get' in step) {
      const g = step.get;
      const cairn = g.space === undefined ? outer : await outer.space(g.space);
      await eventually(() => {
        if ('stream' in g) {
          const values = cairn.replicaState.log(g.section).entries(g.stream).map((e) => JSON.parse(e.value));
          assert.deepEqual(values, g.values);
        } else if (g.absent) {
          assert.equal(cairn.get(g.section, g.key), undefined, `${g.section}/${g.key} is there`);
        } else assert.deepEqual(cairn.get(g.section, g.key), g.value);
      });
    } else if ('cursor' in step) {
      await eventually(() => assert.equal(cairn.savedCursor, step.cursor, 'the durable cursor'));
    } else if ('syncNow' in step) {
      const call = { settled: false };
      calls.set(step.syncNow, call);
      if (step.saveHeld) {
        // this call's save waits for the releaseSave step: frames that come meanwhile come while it saves
        /** @type {VoidFunction} */ let release = () => {};
        const gate = new Promise((r) => { release = /** @type {VoidFunction} */ (r); });
        heldSaves.set(step.syncNow, release);
        const save = cairn.save;
        cairn.save = () => { cairn.save = save; return save.call(cairn).then((/** @type {any} */ v) => gate.then(() => v)); };
      }
      const taken = syncNowsTaken;
      cairn.syncNow().then(() => Object.assign(call, { settled: true, ok: true }), (e) => Object.assign(call, { settled: true, ok: false, error: e }));
      if (!step.saveHeld) await eventually(() => assert.ok(call.settled || syncNowsTaken > taken, 'the client did not take the syncNow call'));
    } else if ('releaseSave' in step) {
      const release = heldSaves.get(step.releaseSave);
      assert.ok(release, `no syncNow with saveHeld named ${step.releaseSave}`);
      release();
    } else if ('syncNowResult' in step) {
      const want = step.syncNowResult;
      await eventually(() => {
        const call = calls.get(want.id);
        assert.ok(call, `no syncNow named ${want.id}`);
        assert.ok(call.settled, `syncNow ${want.id} has not settled`);
        assert.equal(call.ok, want.ok, `syncNow ${want.id}: ${call.error?.message}`);
        if (want.error) assert.equal(call.error?.code, want.error, `syncNow ${want.id} failed with ${call.error?.code}: ${call.error?.message}`);
      });
    } else if ('save' in step) {
      const h = lastHandle.get(step.save);
      assert.ok(h, `save: no write of key ${step.save} through the persistent-state API`);
      await h.save();
    } else if ('spaceStatus' in step) {
      const want = step.spaceStatus;
      const space = await cairn.space(want.space);
      await eventually(() => {
        const s = space.syncStatus;
        if ('state' in want) assert.equal(s.state, want.state, `space ${want.space}: state`);
        if ('cursor' in want) assert.equal(s.cursor, want.cursor, `space ${want.space}: cursor`);
        if ('pending' in want) assert.equal(s.pending, want.pending, `space ${want.space}: pending`);
        if ('refused' in want) assert.equal(s.refused, want.refused, `space ${want.space}: refused`);
        if ('left' in want) assert.equal(s.left, want.left, `space ${want.space}: the reason it was left`);
      });
    } else if ('dropRefused' in step) {
      (await cairn.space(step.dropRefused.space)).dropRefused();
    } else if ('presence' in step) {
      (await cairn.space(step.presence.space)).setPresence(step.presence.state);
    } else if ('peers' in step) {
      const space = await cairn.space(step.peers.space);
      await eventually(() => assert.deepEqual(space.presence(), step.peers.present, `who is present in ${step.peers.space}`));
    } else if ('goOffline' in step) {
      cairn.setOffline(true);
    } else if ('goOnline' in step) {
      cairn.setOffline(false);
    } else {
      assert.fail(`unknown step ${JSON.stringify(step)}`);
    }
  }

  /** @param {any} step @param {any} cairn the user's Cairn, or the space the write names */
  function write(step, cairn) {
    const w = step.write;
    const value = w.valueBytes !== undefined ? 'x'.repeat(w.valueBytes) : w.value;
    const before = cairn.canonical();
    const act = () => {
      if (step.saveDelayMillis !== undefined || step.autoSave !== undefined) {
        assert.equal(w.section ?? 'state', 'state', 'saveDelayMillis and autoSave writes go to section state');
        const id = `${w.key}\u0000${step.saveDelayMillis}\u0000${step.autoSave}`;
        const options = {
          ...(step.saveDelayMillis !== undefined ? { saveDelay: step.saveDelayMillis } : {}),
          ...(step.autoSave !== undefined ? { autoSave: step.autoSave } : {}),
        };
        if (!handles.has(id)) handles.set(id, cairn.state(w.key, undefined, options));
        const h = handles.get(id);
        lastHandle.set(w.key, h);
        if (w.op === 'delete') h.reset();
        else h.setValue(value);
        return;
      }
      switch (w.op) {
        case 'set': cairn.write('set', w.section, w.key, value); break;
        case 'delete': cairn.write('delete', w.section, w.key); break;
        case 'append': cairn.write('append', w.section, w.stream, value); break;
        case 'clear': cairn.write('clear', w.section, w.stream ?? WHOLE_SECTION); break;
        default: assert.fail(`unknown write op ${w.op}`);
      }
    };
    if (step.refused) {
      assert.throws(act, (e) => /** @type {any} */ (e).code === step.refused, `the write must be refused with ${step.refused}`);
      assert.equal(cairn.canonical(), before, 'a refused write changes nothing');
    } else act();
  }
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
test('there are transcripts to run', () => assert.ok(files.length > 0));
for (const file of files) {
  const transcript = JSON.parse(readFileSync(new URL(file, DIR), 'utf8'));
  for (const path of /** @type {const} */ (['page', 'worker'])) {
    test(`${file} (${path}): ${String(transcript.about ?? '').slice(0, 80)}`, () => run(transcript, path));
  }
}
