// The shared worker of the browser client (issue 14 step 4): one per user and browser profile
// (the SharedWorker's name is `cairn-<user>`), so the user's tabs share one WebSocket and one
// IndexedDB writer. It only hands ports to the user's SyncHost (sync-host.js, where the message
// set is); tabs start it through tab-link.js. A module worker: no DOM, no page globals.

import { acceptPort } from './sync-host.js';

/** @type {Map<string, Promise<import('./sync-host.js').SyncHost>>} */
const hosts = new Map();

/** @type {any} */ (globalThis).onconnect = (/** @type {MessageEvent} */ event) => acceptPort(event.ports[0], hosts);
