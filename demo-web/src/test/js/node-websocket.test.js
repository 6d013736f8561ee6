// The browser client with Node's `ws` as its WebSocket (an app's `WebSocket` option; the server's
// BrowserClientFaultIT runs it so): giving up a socket that is still connecting (the connect
// timeout, e.g. a blackholed link) must not kill the process. `ws` reports that close as an
// 'error' event, which Node throws when no one listens; a browser never throws there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { WebSocket } from 'ws';
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
    const end = Date.now() + 5000;
    while (accepted.length < 3 && Date.now() < end) await sleep(10);
    assert.ok(accepted.length >= 3, `reconnected after each connect timeout (connections: ${accepted.length})`);
    assert.ok(errors.includes('connection-lost'), `reported: ${errors}`);
  } finally {
    client.stop();
    accepted.forEach((s) => s.destroy());
    await new Promise((r) => silent.close(() => r(undefined)));
  }
});
