// Saving: the JavaScript twin of dev.cairn.engine.persist.Persister (spec/vectors/sync/README.md,
// "Saving"). Moves writes from memory to their tiers and the outbox on each key's schedule: a write
// with saveDelay is saved (and so pushed) once the user pauses for that long, at the latest 10 x the
// delay after the first write of a burst (debounce); a syncing write with no delay of its own is
// saved and pushed at once while the client is online; a draft (autoSave off) only by the app's
// save(). Online or offline, the same schedule.

import { changeId, WHOLE_SECTION } from './codec.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {'context'|'sessionStorage'|'localStorage'|'all'} PersistTo */
/**
 * @typedef {object} Policy
 * @property {PersistTo} persistTo which tiers keep the data besides memory
 * @property {boolean} autoSave save after saveDelay without an explicit save()
 * @property {boolean} sync whether the data leaves the device
 * @property {number} saveDelay millis
 * @property {boolean} debounce a new write pushes the deadline back (at most to 10 × saveDelay after the first)
 * @property {boolean} [delayed] the app chose saveDelay (key or section): it holds online too; else a syncing write is pushed at once online
 */

/** StoragePolicy.DEFAULT of the engine. @type {Policy} */
export const DEFAULT_POLICY = Object.freeze({ persistTo: 'localStorage', autoSave: true, sync: true, saveDelay: 1000, debounce: true });

const PERSIST_TO = ['context', 'sessionStorage', 'localStorage', 'all'];

export class ValidationError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ValidationError';
  }
}

export class Persister {
  /** @param {import('./cairn.js').Cairn} cairn */
  constructor(cairn) {
    this.cairn = cairn;
    /** @type {Map<string, {change: Change, due: number, policy: Policy, first: number}>} writes not yet saved */
    this.pending = new Map();
    /** @type {Set<string>} */
    this.saving = new Set();
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.timer = null;
    /** @type {number|null} */
    this.lastSaved = null;
  }

  /** @internal @param {Change} change @param {Policy} policy */
  record(change, policy) {
    const id = change.op === 'set' || change.op === 'delete' ? `${change.section}\u0000m\u0000${change.key}` : changeId(change);
    const now = this.cairn.wall();
    const prior = this.pending.get(id);
    const first = prior ? prior.first : now;
    const live = this.cairn.sync?.status === 'live' || this.cairn.sync?.status === 'catching-up';
    let due = policy.autoSave ? now + policy.saveDelay : Infinity;
    // debounce: saved once the user pauses, but no later than 10 × saveDelay after the first write
    if (prior && policy.autoSave) due = policy.debounce ? Math.min(due, first + 10 * policy.saveDelay) : Math.min(due, prior.due);
    // Online, a syncing write with no delay of its own is saved and pushed at once (a card toggle);
    // a chosen saveDelay holds online too (one push once the user pauses, not one per keystroke),
    // and a draft (autoSave off) waits for the app's save(), online too.
    if (live && policy.autoSave && !policy.delayed && policy.sync && this.cairn.privacy[change.section] !== false) due = now;
    this.pending.set(id, { change, due, policy, first });
    this.schedule();
  }

  /**
   * Records the changes of one write (Cairn.writeBatch): all are due at the earliest of their
   * times, so they are saved and pushed together.
   * @param {Change[]} changes @param {Policy} policy
   */
  recordBatch(changes, policy) {
    for (const c of changes) this.record(c, policy);
    const ids = changes.map((c) => `${c.section}\u0000m\u0000${/** @type {{key: string}} */ (c).key}`);
    let due = Infinity;
    for (const id of ids) due = Math.min(due, this.pending.get(id)?.due ?? Infinity);
    for (const id of ids) {
      const p = this.pending.get(id);
      if (p) p.due = due;
    }
    this.schedule();
  }

  /** @private */
  schedule() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    let next = Infinity;
    for (const p of this.pending.values()) next = Math.min(next, p.due);
    if (next === Infinity) return;
    this.timer = setTimeout(() => this.flush(false), Math.max(0, next - this.cairn.wall()));
  }

  /**
   * Saves pending writes to their tiers and the outbox (all, or only those due). Resolves when
   * IndexedDB has committed them.
   * @param {boolean} [all] @param {(id: string) => boolean} [only]
   */
  async flush(all = true, only) {
    const now = this.cairn.wall();
    /** @type {Array<[string, {change: Change, due: number, policy: Policy, first: number}]>} */
    const batch = [];
    for (const [id, p] of this.pending) {
      if ((all || p.due <= now) && (!only || only(id))) {
        batch.push([id, p]);
        this.pending.delete(id);
      }
    }
    this.schedule();
    if (batch.length === 0) return;
    /** @type {Change[]} */
    const toSend = [];
    let holdCursor = false;
    for (const [id, p] of batch) {
      this.saving.add(id);
      this.persist(p.change, p.policy);
      if (p.policy.sync && this.cairn.privacy[p.change.section] !== false) {
        toSend.push(p.change);
        if (!isDurable(p.policy.persistTo)) holdCursor = true;
      }
    }
    // A syncing write kept only in memory or this tab gets a seq above the cursor we have now; the
    // saved cursor must stay below it so the next load catches it up again (see coverCursor).
    if (holdCursor && this.cairn.sync) this.cairn.coverCursor(this.cairn.sync.cursor, true);
    if (toSend.length) this.cairn.outbox.add(toSend, this.cairn.replica);
    this.cairn.emit('change', { changes: [], origin: 'local' });
    this.cairn.sync?.push();
    await this.cairn.store?.idle();
    for (const [id] of batch) this.saving.delete(id);
    this.lastSaved = this.cairn.wall();
    this.cairn.emit('change', { changes: [], origin: 'local' });
  }

  /**
   * Writes a change to its tiers; true if it is now in durable storage (localStorage or IndexedDB,
   * IndexedDB still committing asynchronously), false if it is kept only in memory or this tab's
   * sessionStorage, or a store refused it.
   * @internal @param {Change} change @param {Policy} policy
   */
  persist(change, policy) {
    let ok = true;
    // A map section's clear reaches every tier a key of it may live in (keys can have their own persistTo),
    // so each purges its rows and keeps the watermark.
    const tiers = change.op === 'clear' && change.stream === WHOLE_SECTION
      ? [this.cairn.tiers.sessionStorage, this.cairn.tiers.localStorage]
      : this.tiersFor(change.section, policy.persistTo);
    for (const tier of tiers) ok = tier.write([change]) && ok;
    return ok && isDurable(policy.persistTo);
  }

  /** @private @param {string} section @param {PersistTo} persistTo */
  tiersFor(section, persistTo) {
    const log = this.cairn.kind(section) === 'log';
    const durable = log ? this.cairn.tiers.indexedDB : this.cairn.tiers.localStorage;
    switch (persistTo) {
      case 'context': return [];
      case 'sessionStorage': return [this.cairn.tiers.sessionStorage];
      case 'localStorage': return [durable];
      default: return [this.cairn.tiers.sessionStorage, durable];
    }
  }

  /** Stops the timer (the app closes). */
  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** Whether a tier choice keeps data across reloads and tabs (localStorage or IndexedDB). @param {PersistTo} persistTo */
export function isDurable(persistTo) {
  return persistTo === 'localStorage' || persistTo === 'all';
}

/** @param {Policy} p */
export function checkPolicy(p) {
  if (!PERSIST_TO.includes(p.persistTo)) throw new RangeError(`persistTo must be one of ${PERSIST_TO.join(', ')}, not '${p.persistTo}'`);
  if (!(Number.isFinite(p.saveDelay) && p.saveDelay >= 0)) throw new RangeError(`saveDelay must be >= 0 ms, not ${p.saveDelay}`);
  return Object.freeze({ persistTo: p.persistTo, autoSave: !!p.autoSave, sync: !!p.sync, saveDelay: p.saveDelay, debounce: !!p.debounce, delayed: !!p.delayed });
}
