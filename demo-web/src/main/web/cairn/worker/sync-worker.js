// The sync worker of the browser client (issue 14 step 4): a SharedWorker, one per user and
// browser profile (its name is `cairn-<user>`), so the user's tabs share one WebSocket and one
// IndexedDB writer; where SharedWorker is missing, a dedicated Worker per tab (one socket per tab,
// still off the page's main thread). It only hands its tabs to the user's SyncHost (sync-host.js,
// where the message set is; worker-scope.js tells the two kinds apart); tabs start it through
// tab-link.js. A module worker: no DOM, no page globals.

import { serveScope } from './worker-scope.js';

/** @type {Map<string, Promise<import('./sync-host.js').SyncHost>>} */
const hosts = new Map();

serveScope(globalThis, hosts);
