// A page whose origin the server does not allow (OriginPolicy, CAIRN_ALLOWED_ORIGINS): the browser
// hides why the upgrade and the CORS probe failed, so connection.js asks once more without CORS.
// The React view of it is in react-sections.test.js; these are the cases that must not change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cairn } from '../../main/web/cairn/cairn.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Refused {
  constructor() { this.readyState = 0; setTimeout(() => { this.readyState = 3; this.onclose?.({ code: 1006 }); }, 1); }
  send() {}
  close() {}
}

/** Opens a client whose page is at `pageOrigin` (undefined: no page, as in Node) with `fetch`; its status once `fetch` was called 4 times. */
async function refusedClient(pageOrigin, serverUrl, probe) {
  let calls = 0;
  const fetch = (url, init) => { calls++; return probe(url, init); };
  const real = globalThis.location;
  globalThis.location = pageOrigin ? /** @type {any} */ ({ origin: pageOrigin, href: `${pageOrigin}/` }) : undefined;
  const cairn = await Cairn.open({
    user: 'alice', storage: 'memory', channel: null, replica: 'a', server: { url: serverUrl, token: () => 'tok' },
    WebSocket: /** @type {any} */ (Refused), fetch, sync: { backoffMinMillis: 5, backoffMaxMillis: 10 },
  });
  const errors = [];
  cairn.on('error', (e) => errors.push(e.code));
  for (let i = 0; i < 400 && calls < 4; i++) await sleep(5);
  const result = { status: cairn.syncStatus, errors };
  await cairn.close();
  globalThis.location = real;
  return result;
}

test('another origin, server out of reach (the no-cors request fails too): connection-lost, retried', async () => {
  const modes = [];
  const { status, errors } = await refusedClient('http://app.example', 'ws://sync.example/sync', async (url, init) => {
    modes.push(init.mode ?? 'cors');
    throw new TypeError('Failed to fetch');
  });
  assert.equal(status.error, 'connection-lost');
  assert.notEqual(status.state, 'offline', 'passing: it keeps trying');
  assert.deepEqual(errors, ['connection-lost']);
    assert.ok(modes.filter((m) => m === 'no-cors').length >= 2, 'asked again on every refusal');
});

test('a page of the same origin, or no page: a failed probe is never asked again without CORS', async () => {
  for (const [page, url] of [['http://sync.example', 'ws://sync.example/sync'], [undefined, 'ws://sync.example/sync']]) {
    const modes = [];
    const { status } = await refusedClient(page, url, async (u, init) => {
      modes.push(init.mode ?? 'cors');
      throw new TypeError('Failed to fetch');
    });
    assert.equal(status.error, 'connection-lost');
    assert.ok(!modes.includes('no-cors'), `no no-cors request (${page ?? 'no page'})`);
  }
});
