// One browser device for the server's fault tests (server/.../faults/BrowserClientFaultIT): the real
// browser client (cairn.js and its sync, storage and codec modules, unchanged) in Node, with its
// real storage code path: IndexedDB from `fake-indexeddb` (every durable tier, through IdbStore),
// localStorage and sessionStorage through a Web Storage shim on globalThis (WebStorageKv), and
// `ws` as the WebSocket. Kept out of `node --test`'s default globs on purpose (no `test` in its
// path or name): it is driven by the Java test, not run on its own.
//
//   node src/it/fault/device.mjs --url ws://127.0.0.1:PORT/sync --token JWT --user U --replica web-0 --seed N
//
// stdin, one JSON command per line:
//   {"cmd":"write","n":K}                 K seeded random changes (map sets and deletes, card fields, chat appends, rare clears)
//   {"cmd":"burst","n":K,"bytes":B}       K chat appends of about B bytes each (to push frames over the server's limit)
//   {"cmd":"state","id":I}                answers {"ev":"state","id":I,"canonicalSha256":..., "canonicalBytes":..., "pending":..., ...}
//                                         (a digest of the canonical state: the state itself outgrows a line after many storms)
//   {"cmd":"exit"}                        saves, stops syncing and exits
// stdout, one JSON event per line:
//   {"ev":"ready"}                        opened (sync started)
//   {"ev":"wrote","change":"<wire change>"}   every local change, as the client stamped it
//   {"ev":"pushed","batch":B,"stamps":[...],"bytes":N}   a push frame or page the client sent (seen on the wire)
//   {"ev":"acked","batch":B,"stamps":[...]}  the server's ack of that push on the same socket: acknowledged (PROTOCOL.md 3.3)
//   {"ev":"refused","code":C,"batch":B,"message":M}  an error frame from the server
//   {"ev":"welcome","maxFrameBytes":N} / {"ev":"closed","code":C} / {"ev":"status","status":S} / {"ev":"error","code":C,"message":M}
// What counts as acknowledged is read from the wire (a push and its ack on one socket), not from
// the client's own bookkeeping, like the JVM tests' AckTracker.

import { createHash } from 'node:crypto';
import 'fake-indexeddb/auto';
import { WebSocket as WsWebSocket } from 'ws';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { encodeChange } from '../../main/web/cairn/codec.js';
import { decode as decodePage } from '../../main/web/cairn/page.js';

// ------------------------------------------------------------------ arguments

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['url', 'token', 'user', 'replica', 'seed']) {
  if (!args[k]) {
    process.stderr.write(`device.mjs: --${k} is required\n`);
    process.exit(2);
  }
}

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

// ------------------------------------------------------------------ Web Storage shim

/** The Web Storage API over a Map (what WebStorageKv reads and writes in a browser). */
class MapStorage {
  constructor() { this.map = new Map(); }
  get length() { return this.map.size; }
  key(i) { return [...this.map.keys()][i] ?? null; }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(String(k), String(v)); }
  removeItem(k) { this.map.delete(k); }
  clear() { this.map.clear(); }
}
for (const name of ['localStorage', 'sessionStorage']) {
  Object.defineProperty(globalThis, name, { value: new MapStorage(), configurable: true, writable: true });
}

// ------------------------------------------------------------------ the wire tap

/**
 * `ws`'s WebSocket, recording every push the client sends and every ack, error and close it gets,
 * in protocol 1 (JSON text) and protocol 2 (binary pages, decoded with the client's own page.js).
 * Pages decode asynchronously, so pushes and acks are tapped through one chain, in wire order.
 */
class TappedWebSocket extends WsWebSocket {
  constructor(url, protocols, options) {
    super(url, protocols, options);
    /** @type {Map<number, string[]>} batch -> stamps, for this socket only */
    this.pushes = new Map();
    /** @type {Promise<void>} */
    this.tap = Promise.resolve();
    this.on('message', (data, isBinary) => {
      if (isBinary) {
        const bytes = new Uint8Array(data);
        this.tap = this.tap.then(async () => {
          try {
            this.seen(await decodePage(bytes, TAP_MAX_PAGE_BYTES), 0);
          } catch {
            // not ours to judge: the client answers it
          }
        });
        return;
      }
      let frame;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return;
      }
      this.tap = this.tap.then(() => this.seen(frame, 0));
    });
    this.on('close', (code) => emit({ ev: 'closed', code }));
  }

  /** A frame from the server (bytes 0) or a push the client sent (its size in bytes). @param {any} frame @param {number} bytes */
  seen(frame, bytes) {
    if (frame.type === 'push') {
      const stamps = frame.changes.map((c) => c.stamp);
      this.pushes.set(frame.batch, stamps);
      emit({ ev: 'pushed', batch: frame.batch, stamps, bytes });
    } else if (frame.type === 'ack') {
      const stamps = this.pushes.get(frame.batch);
      if (stamps) {
        this.pushes.delete(frame.batch);
        emit({ ev: 'acked', batch: frame.batch, stamps });
      }
    } else if (frame.type === 'error') {
      emit({ ev: 'refused', code: frame.code, batch: frame.batch, message: frame.message });
    } else if (frame.type === 'welcome') {
      emit({ ev: 'welcome', maxFrameBytes: frame.maxFrameBytes, maxBatch: frame.maxBatch, head: frame.head, protocol: frame.protocol });
    }
  }

  send(data, ...rest) {
    if (typeof data === 'string') {
      if (data.startsWith('{"type":"push"')) {
        try {
          const frame = JSON.parse(data);
          this.tap = this.tap.then(() => this.seen(frame, Buffer.byteLength(data)));
        } catch {
          // not ours to judge: the server answers it
        }
      }
    } else {
      const bytes = new Uint8Array(data instanceof ArrayBuffer ? data : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
      this.tap = this.tap.then(async () => {
        try {
          this.seen(await decodePage(bytes, TAP_MAX_PAGE_BYTES), bytes.byteLength);
        } catch {
          // not ours to judge: the server answers it
        }
      });
    }
    return super.send(data, ...rest);
  }
}

/** The tap reads every page the client or the server sends, whatever their limits. */
const TAP_MAX_PAGE_BYTES = 256 << 20;

// ------------------------------------------------------------------ the device

let token = args.token;
const cairn = await Cairn.open({
  user: args.user,
  replica: args.replica,
  server: { url: args.url, token: () => token },
  WebSocket: /** @type {any} */ (TappedWebSocket),
  // Like the JVM device's SyncClient in the fault tests (keepalive 2 s, connect timeout 2 s, backoff
  // 50 ms..1 s): a blackholed socket is given up within 4 s and a reconnect is at most 1 s away, so
  // convergence is bounded by the faults, not by the defaults' 30 s backoff and keepalive.
  sync: { keepAliveMillis: 2000, connectTimeoutMillis: 2000, backoffMinMillis: 50, backoffMaxMillis: 1000 },
});
if (!(cairn.store?.constructor?.name === 'IdbStore' && cairn.kv.session?.constructor?.name === 'WebStorageKv')) {
  process.stderr.write(`device.mjs: not on the browser storage path: store=${cairn.store?.constructor?.name} ${Object.entries(cairn.kv).map(([k, v]) => `${k}=${v?.constructor?.name}`).join(' ')}\n`);
  process.exit(3);
}
cairn.subscribe((e) => {
  if (e.origin === 'local') for (const c of e.changes) emit({ ev: 'wrote', change: encodeChange(c) });
});
cairn.on('status', (status) => emit({ ev: 'status', status }));
cairn.on('error', (e) => emit({ ev: 'error', code: e.code ?? e.name, message: String(e.message).slice(0, 300) }));

// A seeded random (mulberry32 over the seed's low and high 32 bits).
let s = Number(BigInt.asUintN(32, BigInt(args.seed)) ^ BigInt.asUintN(32, BigInt(args.seed) >> 32n)) >>> 0;
function random() {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(random() * n);
let ops = 0;
const name = args.replica;

function step() {
  const op = ++ops;
  const x = random();
  if (x < 0.30) {
    cairn.ui.set('k' + int(40), random() < 0.5 ? op : `v${op}`);
  } else if (x < 0.40) {
    const key = 'k' + int(40);
    if (cairn.ui.get(key) !== undefined) cairn.ui.remove(key);
    else cairn.ui.set(key, op);
  } else if (x < 0.55) {
    const card = cairn.cards.card('c' + int(8));
    const which = int(3);
    if (which === 0) card.toggle();
    else if (which === 1) card.setVisible(random() < 0.5);
    else card.putCustomData('n', op);
  } else if (x < 0.88) {
    cairn.chat.append('conv-' + int(4), random() < 0.5 ? 'user' : 'assistant', `${name}#${op}`);
  } else if (x < 0.995) {
    cairn.write('set', 'state', 's' + int(30), { n: op, by: name });
  } else if (random() < 0.5) {
    cairn.chat.clear('conv-' + int(4));
  } else {
    cairn.clear('ui');
  }
}

function burst(n, bytes) {
  const pad = 'x'.repeat(Math.max(1, bytes - 60));
  for (let i = 0; i < n; i++) {
    const op = ++ops;
    cairn.chat.append('big-' + int(2), 'user', `${name}#${op}:${pad}`);
  }
}

// ------------------------------------------------------------------ commands

let lines = '';
let queue = Promise.resolve();
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  lines += chunk;
  let nl;
  while ((nl = lines.indexOf('\n')) >= 0) {
    const line = lines.slice(0, nl).trim();
    lines = lines.slice(nl + 1);
    if (line) queue = queue.then(() => command(JSON.parse(line))).catch((e) => emit({ ev: 'fatal', message: String(e?.stack ?? e) }));
  }
});
process.stdin.on('end', () => { queue.then(() => process.exit(0)); });

async function command(c) {
  switch (c.cmd) {
    case 'write':
      for (let i = 0; i < c.n; i++) step();
      break;
    case 'burst':
      burst(c.n, c.bytes);
      break;
    case 'token':
      token = c.token;
      break;
    case 'state': {
      const stats = cairn.stats();
      const canonical = cairn.canonical();
      emit({
        ev: 'state', id: c.id, canonicalSha256: createHash('sha256').update(canonical, 'utf8').digest('hex'),
        canonicalBytes: Buffer.byteLength(canonical, 'utf8'), pending: stats.pending, unsaved: stats.unsaved,
        status: cairn.status, cursor: stats.cursor, lastError: stats.syncError,
      });
      break;
    }
    case 'exit':
      await cairn.close();
      emit({ ev: 'bye' });
      process.exit(0);
      break;
    default:
      emit({ ev: 'fatal', message: `unknown command ${JSON.stringify(c)}` });
  }
}

emit({ ev: 'ready', replica: name });
