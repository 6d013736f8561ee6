// The browser client with Node's `ws` as its WebSocket (an app's `WebSocket` option; the server's
// BrowserClientFaultIT runs it so): giving up a socket that is still connecting (the connect
// timeout, e.g. a blackholed link) must not kill the process. `ws` reports that close as an
// 'error' event, which Node throws when no one listens; a browser never throws there. And where the
// token rides on a real upgrade: in a subprotocol beside 'cairn', never in the URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { SyncClient } from '../../main/web/cairn/sync.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('a socket that never finishes its upgrade is given up on the connect timeout, and the client tries again', async () => {
  /** @type {net.Socket[]} */
  const accepted = [];
  const silent = net.createServer((s) => { accepted.push(s); s.on('error', () => {}); }); // reads the upgrade, never answers
  await new Promise((r) => silent.listen(0, '127.0.0.1', () => r(undefined)));
  const port = /** @type {net.AddressInfo} */ (silent.address()).port;
  /** @type {string[]} */
  const errors = [];
  const client = new SyncClient({
    url: `ws://127.0.0.1:${port}/sync`,
    token: () => 'tok',
    replica: 'node-1',
    pending: () => [],
    acked: () => {},
    apply: () => {},
    onError: (e) => errors.push(e.code),
    WebSocket: /** @type {any} */ (WebSocket),
    connectTimeoutMillis: 100,
    backoffMinMillis: 10,
    backoffMaxMillis: 20,
  });
  try {
    client.start();
    const end = performance.now() + 5000;
    while (accepted.length < 3 && performance.now() < end) await sleep(10);
    assert.ok(accepted.length >= 3, `reconnected after each connect timeout (connections: ${accepted.length})`);
    assert.ok(errors.includes('connection-lost'), `reported: ${errors}`);
  } finally {
    client.stop();
    accepted.forEach((s) => s.destroy());
    await new Promise((r) => silent.close(() => r(undefined)));
  }
});

test('the token rides in an offered subprotocol beside cairn, not in the URL; one a subprotocol cannot carry goes as the query parameter', async () => {
  /** @type {Array<{url: string, protocols: string[]|undefined}>} */
  const upgrades = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (offered) => (offered.has('cairn') ? 'cairn' : false) });
  server.on('connection', (socket, req) => {
    upgrades.push({ url: req.url ?? '', protocols: req.headers['sec-websocket-protocol']?.split(/,\s*/) });
    socket.close();
  });
  await new Promise((r) => server.once('listening', () => r(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  const connect = async (token) => {
    const client = new SyncClient({
      url: `ws://127.0.0.1:${port}/sync`, token: () => token, replica: 'node-1', pending: () => [], acked: () => {}, apply: () => {},
      WebSocket: /** @type {any} */ (WebSocket), backoffMinMillis: 1000, backoffMaxMillis: 1000,
    });
    const before = upgrades.length;
    client.start();
    const end = performance.now() + 3000;
    while (upgrades.length === before && performance.now() < end) await sleep(5);
    client.stop();
    assert.equal(upgrades.length, before + 1, 'the client connected');
    return upgrades[before];
  };
  try {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl-_';
    assert.deepEqual(await connect(jwt), { url: '/sync', protocols: ['cairn', `cairn.bearer.${jwt}`] });
    assert.deepEqual(await connect('not a token'), { url: '/sync?access_token=not%20a%20token', protocols: undefined });
  } finally {
    await new Promise((r) => server.close(() => r(undefined)));
  }
});
