// The push pipeline: the JavaScript twin of dev.cairn.engine.sync.PushPipeline (spec/vectors/sync/README.md,
// "Push pipeline"). Batches of at most min(batchSize, welcome.maxBatch) changes within 90% of the
// server's frame limit, at most maxInFlight unacknowledged; one retry queue keyed by reason with one
// timer per reason; a refused batch of several changes is split in halves until the bad one is alone.

import { encodeChange } from './codec.js';
import { ErrorCode } from './protocol.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {{id: string, change: Change}} Entry */
/** @typedef {{code: string, message: string, batch?: number}} SyncError */

/** Bytes of a push frame besides its changes: `{"type":"push","batch":<16 digits>,"changes":[` ... `]}`. */
export const PUSH_OVERHEAD = 64;
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Numbers the unanswered batches of every pipeline: a space's marks outlive its pipeline (space-sync.js). */
let unansweredBatches = 0;
/** The push budget is halved after a 1009 at most this often in the client's life. */
const MAX_HALVINGS = 6;

/** UTF-8 length of a string, without encoding it. @param {string} s */
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { n += 4; i++; } // a surrogate pair
    else n += 3;
  }
  return n;
}

/** Bytes of a push frame carrying only this change (as JSON text). @param {string} changeText */
export function pushFrameBytes(changeText) {
  return PUSH_OVERHEAD + utf8Length(changeText);
}

/** Which timer a refused batch waits for. @type {Record<string, 'retry'|'skew'|'quota'>} */
const RETRY_CLASS = {
  [ErrorCode.RATE_LIMITED]: 'retry', [ErrorCode.UNAVAILABLE]: 'retry', [ErrorCode.CLOCK_SKEW]: 'skew', [ErrorCode.QUOTA_EXCEEDED]: 'quota',
};

/**
 * @typedef {object} PipelineOptions
 * @property {number} [batchSize] most changes per push (also capped by welcome.maxBatch), default 500
 * @property {number} [maxInFlight] default 4
 * @property {number} [maxFrameBytes] the frame limit assumed before a welcome says otherwise
 * @property {number} [retryMinMillis] @property {number} [retryMaxMillis] after rate-limited, unavailable
 * @property {number} [skewRetryMinMillis] @property {number} [skewRetryMaxMillis] after clock-skew
 * @property {number} [quotaRetryMinMillis] @property {number} [quotaRetryMaxMillis] after quota-exceeded
 * @property {() => number} [random]
 * @property {import('./crypto.js').ChangeCipher|null} [cipher]
 * @property {string} [space] the space whose changes this pipeline pushes (PROTOCOL.md 8.2); none: the user's own
 * @property {() => number} [nextBatch] batch ids shared with the other pipelines of the socket (unique among them)
 * @property {Map<string, number>} [unanswered] where the unanswered batches are kept, if it outlives the pipeline (a space's: space-sync.js)
 */

/**
 * @typedef {object} PipelineHandlers
 * @property {() => Entry[]} pending unacknowledged local changes, oldest first
 * @property {(text: string, frame: any) => void} send the push's text, and the frame (a v2 session sends it as a page)
 * @property {(ids: string[]) => void} acked
 * @property {(ids: string[], error: SyncError) => void} dropped the server can never take these: forget them
 * @property {(ids: string[], error: SyncError) => void} stuck these wait (quota, unknown section); waiters for them fail
 * @property {(error: SyncError) => void} problem
 * @property {(ids: string[], error: SyncError) => void} [refused] refused for good (forbidden, not-a-member: PROTOCOL.md 8.2):
 *   never retried, kept visible to the app; without it such changes are dropped
 */

export class PushPipeline {
  /** @param {PipelineOptions} options @param {PipelineHandlers} on */
  constructor(options, on) {
    this.options = options;
    this.on = on;
    this.cipher = options.cipher ?? null;
    this.open = false;
    this.maxBatch = 1000;
    this.frameLimit = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.halvings = 0;
    this.nextBatch = 1;
    /** @type {Map<number, Entry[]>} unacknowledged batches */
    this.window = new Map();
    /** @type {Set<string>} */
    this.inFlight = new Set();
    /** @type {Entry[][]} halves of refused batches, sent before anything else */
    this.splits = [];
    /** @type {Map<string, 'retry'|'skew'|'quota'>} change id -> the timer it waits for */
    this.held = new Map();
    /** @type {Map<string, Entry[][]>} refused batches by reason: re-sent as they were, before anything new */
    this.heldBatches = new Map();
    /** @type {(() => void)|undefined} set by the sync client: held batches were released, push now */
    this.onRelease = undefined;
    /** @type {Map<string, ReturnType<typeof setTimeout>>} */
    this.timers = new Map();
    /** @type {Map<string, number>} */
    this.attempts = new Map();
    /** @type {Map<string, {text: string, bytes: number, change: Change}>} each change as sent (sealed with E2E), and its text, made once */
    this.wire = new Map();
    /**
     * Changes of batches sent on an ended session that got no answer, by the batch they were in:
     * the server may have committed them, so each batch goes again as it was, never mixed with
     * other changes (PROTOCOL.md 3.3). Until acknowledged or refused for good.
     * @type {Map<string, number>}
     */
    this.unanswered = options.unanswered ?? new Map();
    /** @type {Set<string>|null} sections the server knows (welcome.sections), null: not told */
    this.sections = null;
    /** Changes of sections the server does not know, at the last fill. */
    this.unknown = 0;
    this.unknownReported = false;
    /** @type {Promise<void>} sealing is asynchronous: fills run one after the other */
    this.chain = Promise.resolve();
  }

  /** A session's welcome. @param {{maxBatch: number, maxFrameBytes?: number, sections?: Record<string, string>}} welcome */
  begin(welcome) {
    this.open = true;
    this.maxBatch = Math.max(1, welcome.maxBatch);
    this.frameLimit = welcome.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.sections = welcome.sections ? new Set(Object.keys(welcome.sections)) : null;
    this.unknownReported = false;
  }

  /** The session ended: every unacknowledged batch goes again on the next one, as it was. */
  end() {
    if (this.unanswered.size) {
      // Changes that left the queue another way (a dropped copy, another tab's ack) are forgotten.
      const queued = new Set(this.on.pending().map((e) => e.id));
      for (const id of [...this.unanswered.keys()]) if (!queued.has(id)) this.unanswered.delete(id);
    }
    for (const entries of this.window.values()) {
      const batch = ++unansweredBatches;
      for (const e of entries) this.unanswered.set(e.id, batch);
    }
    this.open = false;
    this.window.clear();
    this.inFlight.clear();
    this.splits = [];
  }

  /** The server closed with 1009: smaller frames from now on. */
  halve() {
    if (this.halvings < MAX_HALVINGS) this.halvings++;
  }

  /** Bytes a push frame may take. */
  budget() {
    return Math.floor((0.9 * this.frameLimit) / 2 ** this.halvings);
  }

  /** Sends what fits the window. @param {() => boolean} canPush */
  pump(canPush) {
    if (!this.cipher) {
      if (canPush()) this.fill();
      return this.chain;
    }
    this.chain = this.chain.then(async () => {
      if (!canPush()) return;
      const toSeal = this.candidates().filter((e) => !this.wire.has(e.id));
      const cipher = /** @type {import('./crypto.js').ChangeCipher} */ (this.cipher);
      const sealed = await Promise.all(toSeal.map((e) => cipher.seal(e.change)));
      toSeal.forEach((e, i) => this.remember(e.id, sealed[i]));
      if (canPush()) this.fill(); // the session may have ended while sealing: its successor pushes them
    }).catch((e) => this.on.problem({ code: 'e2e-seal', message: `could not encrypt changes for the server: ${/** @type {Error} */ (e).message}` }));
    return this.chain;
  }

  /** @private */
  candidates() {
    return this.on.pending().filter((e) => !this.inFlight.has(e.id) && !this.held.has(e.id)
      && (!this.sections || this.sections.has(e.change.section)));
  }

  /** @private */
  fill() {
    if (this.timers.has('retry')) return; // rate-limited or unavailable: the server asked for a pause
    let room = (this.options.maxInFlight ?? 4) - this.window.size;
    while (room > 0 && this.splits.length) {
      this.sendBatch(/** @type {Entry[]} */ (this.splits.shift()));
      room--;
    }
    if (room <= 0) return;
    const limit = Math.max(1, Math.min(this.options.batchSize ?? 500, this.maxBatch));
    const budget = this.budget();
    /** @type {Entry[]} */
    let batch = [];
    let bytes = PUSH_OVERHEAD;
    /** the unanswered batch the batch's changes were in (undefined: new changes) */
    let was;
    /** @type {Entry[]} */
    const unknown = [];
    /** @type {Entry[]} */
    const tooLarge = [];
    for (const e of this.on.pending()) {
      if (this.inFlight.has(e.id) || this.held.has(e.id)) continue;
      if (this.sections && !this.sections.has(e.change.section)) { unknown.push(e); continue; }
      const w = this.wireOf(e);
      if (!w) continue; // not sealed yet: the next fill
      if (PUSH_OVERHEAD + w.bytes > this.frameLimit) { tooLarge.push(e); continue; }
      const from = this.unanswered.get(e.id);
      if (batch.length && (batch.length >= limit || bytes + 1 + w.bytes > budget || from !== was)) {
        this.sendBatch(batch);
        batch = [];
        bytes = PUSH_OVERHEAD;
        if (--room === 0) break;
      }
      if (!batch.length) was = from;
      bytes += w.bytes + (batch.length ? 1 : 0);
      batch.push(e);
    }
    if (batch.length && room > 0) this.sendBatch(batch);
    if (tooLarge.length) {
      const ids = tooLarge.map((e) => e.id);
      this.forget(ids);
      this.on.dropped(ids, { code: 'change-too-large', message: `${ids.length} change(s) dropped: a push frame holding one alone would exceed the server's limit of ${this.frameLimit} bytes` });
    }
    this.unknown = unknown.length;
    if (unknown.length) {
      const names = [...new Set(unknown.map((e) => e.change.section))].sort().join(', ');
      const error = { code: 'unknown-section', message: `the server does not know section(s) ${names}: ${unknown.length} change(s) stay queued and are not sent` };
      if (!this.unknownReported) this.on.problem(error);
      this.unknownReported = true;
      this.on.stuck(unknown.map((e) => e.id), error);
    }
  }

  /** @private @param {Entry} e */
  wireOf(e) {
    const cached = this.wire.get(e.id);
    if (cached || this.cipher) return cached ?? null;
    return this.remember(e.id, e.change);
  }

  /** @private @param {string} id @param {Change} change as it goes to the server (sealed with E2E) */
  remember(id, change) {
    const text = encodeChange(change);
    const w = { text, bytes: utf8Length(text), change };
    this.wire.set(id, w);
    return w;
  }

  /** @private @param {Entry[]} entries */
  sendBatch(entries) {
    const batch = this.options.nextBatch ? this.options.nextBatch() : this.nextBatch++;
    this.window.set(batch, entries);
    entries.forEach((e) => this.inFlight.add(e.id));
    const wires = entries.map((e) => this.wire.get(e.id) ?? this.remember(e.id, e.change));
    const space = this.options.space;
    const text = `{"type":"push",${space === undefined ? '' : `"space":${JSON.stringify(space)},`}"batch":${batch},"changes":[${wires.map((w) => w.text).join(',')}]}`;
    /** @type {any} */
    const frame = { type: 'push', batch, changes: wires.map((w) => w.change) };
    if (space !== undefined) frame.space = space;
    this.on.send(text, frame);
  }

  /** The server committed a batch. @param {number} batch @param {() => boolean} canPush */
  ack(batch, canPush) {
    const entries = this.take(batch);
    if (!entries) return false;
    const ids = entries.map((e) => e.id);
    this.forget(ids);
    this.on.acked(ids);
    const waiting = new Set(this.held.values());
    for (const reason of [...this.attempts.keys()]) if (!waiting.has(/** @type {any} */ (reason))) this.attempts.delete(reason);
    this.pump(canPush);
    return true;
  }

  /** An error frame naming a batch. @param {SyncError & {batch: number}} error @param {() => boolean} canPush */
  refused(error, canPush) {
    const entries = this.take(error.batch);
    this.on.problem(error);
    if (!entries) return;
    const split = error.code === ErrorCode.INVALID_CHANGE || error.code === ErrorCode.BATCH_TOO_LARGE;
    if (error.code === ErrorCode.FORBIDDEN || error.code === ErrorCode.NOT_A_MEMBER) {
      // The membership as of the commit refused the whole batch: retrying cannot cure it (PROTOCOL.md 8.2).
      const ids = entries.map((e) => e.id);
      this.forget(ids);
      if (this.on.refused) this.on.refused(ids, error);
      else this.on.dropped(ids, error);
    } else if (split && entries.length > 1) {
      // Find the refused change by halving; the others go through.
      const half = Math.ceil(entries.length / 2);
      this.splits.push(entries.slice(0, half), entries.slice(half));
    } else if (error.code === ErrorCode.INVALID_CHANGE) {
      const ids = entries.map((e) => e.id);
      this.forget(ids);
      this.on.dropped(ids, error); // can never be accepted; keeping it would block nothing but waste pushes
    } else {
      const reason = RETRY_CLASS[error.code] ?? 'retry';
      this.hold(entries, reason);
      if (reason === 'quota') this.on.stuck(entries.map((e) => e.id), error);
    }
    this.pump(canPush);
  }

  /** Changes answered for good (acknowledged, refused, dropped): their wire form and batch go. @private @param {string[]} ids */
  forget(ids) {
    for (const id of ids) {
      this.wire.delete(id);
      this.unanswered.delete(id);
    }
  }

  /** @private @param {number} batch */
  take(batch) {
    const entries = this.window.get(batch);
    if (!entries) return null;
    this.window.delete(batch);
    entries.forEach((e) => this.inFlight.delete(e.id));
    return entries;
  }

  /** @private @param {Entry[]} entries @param {'retry'|'skew'|'quota'} reason */
  hold(entries, reason) {
    entries.forEach((e) => this.held.set(e.id, reason));
    this.heldBatches.set(reason, [...(this.heldBatches.get(reason) ?? []), entries]);
    if (this.timers.has(reason)) return; // one timer per reason
    const o = this.options;
    const [min, max] = reason === 'skew' ? [o.skewRetryMinMillis ?? 5_000, o.skewRetryMaxMillis ?? 60_000]
      : reason === 'quota' ? [o.quotaRetryMinMillis ?? 15_000, o.quotaRetryMaxMillis ?? 300_000]
        : [o.retryMinMillis ?? 1_000, o.retryMaxMillis ?? 30_000];
    const attempt = this.attempts.get(reason) ?? 0;
    this.attempts.set(reason, attempt + 1);
    const ceiling = Math.min(max, min * 2 ** Math.min(30, attempt));
    const delay = Math.max(min, Math.floor((o.random ?? Math.random)() * ceiling));
    this.timers.set(reason, setTimeout(() => this.release(reason), delay));
  }

  /** Held changes of this reason (all, if none given) may go again. @param {string} [reason] */
  release(reason) {
    for (const [r, t] of [...this.timers]) {
      if (reason && r !== reason) continue;
      clearTimeout(t);
      this.timers.delete(r);
    }
    for (const [id, r] of [...this.held]) if (!reason || r === reason) this.held.delete(id);
    for (const [r, batches] of [...this.heldBatches]) {
      if (reason && r !== reason) continue;
      this.heldBatches.delete(r);
      if (this.open) this.splits.push(...batches); // the refused batches go first, as they were
    }
    this.onRelease?.();
  }

  /** Why something waits, if anything does: a code, or null. */
  stuckReason() {
    if (this.unknown > 0) return 'unknown-section';
    for (const r of this.held.values()) return r;
    return null;
  }

  /** Forgets timers (the client stopped). */
  stop() {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.held.clear();
    this.heldBatches.clear();
    this.end();
  }
}
