// What the app can show about this device's storage: whether the browser granted persistent
// storage (navigator.storage.persist(): not evicted under storage pressure), the origin's usage
// against its quota (navigator.storage.estimate()), and whether the store works. A full or failing
// store is a state the app sees (`cairn.storage`, a 'storage' event) and an 'error' event with a
// StorageError ('quota-exceeded' or 'storage-unavailable'); the data stays in memory and in the
// outbox meanwhile, and is saved again from the next successful transaction on.

import { StorageError } from './storage.js';

/** Usage at or above this share of the quota is reported as full before the browser refuses a write. */
export const NEARLY_FULL = 0.95;
/** Estimates are asked at most this often (they are not free: the browser sums the origin's files). */
const ESTIMATE_EVERY_MILLIS = 2000;

/**
 * @typedef {object} StorageState
 * @property {'indexedDB'|'localStorage'|'memory'} backend where durable data goes
 * @property {'ok'|'full'|'failing'|'unavailable'} state 'unavailable': nothing is durable on this device
 * @property {boolean|null} persisted whether the browser granted persistent storage (null: not known / not asked)
 * @property {number|null} usageBytes the origin's usage (estimate), null if unknown
 * @property {number|null} quotaBytes the origin's quota (estimate), null if unknown
 * @property {{code: string, message: string}|null} error the last storage problem, null once over
 */

export class StorageStatus {
  /**
   * @param {'indexedDB'|'localStorage'|'memory'} backend
   * @param {(type: string, payload: unknown) => void} emit
   * @param {StorageManager|undefined} [manager] navigator.storage
   */
  constructor(backend, emit, manager = globalThis.navigator?.storage) {
    this.emit = emit;
    this.manager = manager;
    /** @type {StorageState} */
    this.current = { backend, state: 'ok', persisted: null, usageBytes: null, quotaBytes: null, error: null };
    this.askedAt = -Infinity;
    /** @type {Promise<void>|null} */
    this.asking = null;
    /** The 'full' state came from the estimate (not from a refused write): it ends when the estimate drops. */
    this.byEstimate = false;
  }

  /** Asks for persistent storage (once, at open) and for a first estimate. Never throws. */
  async start() {
    try {
      if (this.manager?.persisted && await this.manager.persisted()) this.current.persisted = true;
      else if (this.manager?.persist) this.current.persisted = await this.manager.persist();
    } catch {
      this.current.persisted = null;
    }
    await this.refresh(true);
  }

  /** Re-reads the estimate (at most every 2 s unless forced) and reports a nearly full origin. @param {boolean} [force] */
  refresh(force = false) {
    if (!this.manager?.estimate) return Promise.resolve();
    if (this.asking || (!force && performance.now() - this.askedAt < ESTIMATE_EVERY_MILLIS)) return this.asking ?? Promise.resolve();
    this.askedAt = performance.now();
    this.asking = (async () => {
      try {
        const e = await /** @type {StorageManager} */ (this.manager).estimate();
        const usage = Number.isFinite(e.usage) ? /** @type {number} */ (e.usage) : null;
        const quota = Number.isFinite(e.quota) && /** @type {number} */ (e.quota) > 0 ? /** @type {number} */ (e.quota) : null;
        this.current.usageBytes = usage;
        this.current.quotaBytes = quota;
        const full = usage !== null && quota !== null && usage >= NEARLY_FULL * quota;
        if (full && this.current.state === 'ok') {
          this.byEstimate = true;
          this.fail(new StorageError('indexedDB', Object.assign(new Error(`this site uses ${usage} of its ${quota} bytes`), { name: 'QuotaExceededError' })));
        } else if (!full && this.byEstimate) {
          this.recovered();
        } else this.emit('storage', this.get());
      } catch {
        // no estimate: the state stays as it is
      } finally {
        this.asking = null;
      }
    })();
    return this.asking;
  }

  /** Nothing durable on this device (IndexedDB and localStorage refused at open): said once, not silently. @param {string} why */
  unavailable(why) {
    this.current.state = 'unavailable';
    this.current.error = { code: 'storage-unavailable', message: why };
    this.emit('storage', this.get());
  }

  /** A transaction committed or failed (idb-store.js). @param {boolean} ok @param {StorageError|null} error */
  committed(ok, error) {
    if (!ok && error) {
      this.byEstimate = false;
      if (this.current.state === 'ok' || this.current.error?.code !== error.code) this.fail(error, false);
      return;
    }
    if (this.current.state !== 'ok' && !this.byEstimate) this.recovered();
    this.refresh();
  }

  /** @private @param {StorageError} error @param {boolean} [tell] also as an 'error' event (the store reports its own failures) */
  fail(error, tell = true) {
    this.current.state = error.code === 'quota-exceeded' ? 'full' : 'failing';
    this.current.error = { code: error.code, message: error.message };
    if (tell) this.emit('error', error);
    this.emit('storage', this.get());
  }

  /** @private */
  recovered() {
    this.byEstimate = false;
    this.current.state = 'ok';
    this.current.error = null;
    this.emit('storage', this.get());
  }

  /** @returns {StorageState} a copy */
  get() {
    return { ...this.current };
  }
}
