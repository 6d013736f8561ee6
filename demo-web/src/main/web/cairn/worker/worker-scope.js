// How the sync worker meets its tabs, whichever kind it runs as: a SharedWorker gets a port per
// tab (`connect` events), a dedicated Worker (the fallback where SharedWorker is missing, e.g.
// Chrome on Android) has one tab, spoken to through its global scope. Either way the SyncHost
// (sync-host.js) sees a MessagePort-like object.

import { acceptPort } from './sync-host.js';

/**
 * Serves the tabs that reach `scope` (the worker's globalThis).
 * @param {any} scope @param {Map<string, Promise<import('./sync-host.js').SyncHost>>} hosts
 * @param {IDBFactory} [factory] @param {import('./sync-host.js').HostEnv} [env]
 */
export function serveScope(scope, hosts, factory, env) {
  if (typeof scope.SharedWorkerGlobalScope === 'function' && scope instanceof scope.SharedWorkerGlobalScope) {
    scope.onconnect = (/** @type {MessageEvent} */ event) => acceptPort(event.ports[0], hosts, factory, env);
  } else {
    acceptPort(/** @type {MessagePort} */ (/** @type {unknown} */ (scopePort(scope))), hosts, factory, env);
  }
}

/**
 * A dedicated worker's global scope as a port. Closing it ends the worker: its one tab detached
 * (Cairn.close, after everything it wrote committed).
 * @param {any} scope
 */
export function scopePort(scope) {
  return {
    get onmessage() { return scope.onmessage; },
    set onmessage(/** @type {((e: MessageEvent) => void)|null} */ f) { scope.onmessage = f; },
    postMessage: (/** @type {any} */ msg) => scope.postMessage(msg),
    close: () => scope.close(),
  };
}
