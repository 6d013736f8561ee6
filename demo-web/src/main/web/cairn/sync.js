// The sync client: the JavaScript twin of dev.cairn.engine.sync.SyncClient (PROTOCOL.md 2-3). A small
// façade over the parts spec/vectors/sync/README.md names: the connection (connection.js), the push
// pipeline (push-pipeline.js), the pull applier (pull-applier.js) and the syncNow waiters
// (waiters.js). Inbound frames are handled one after the other through a promise queue, because
// opening an end-to-end encrypted page is asynchronous; with E2E, pushes wait for the session's
// first caught-up, which proves the key opens what the server holds.

import { ErrorCode } from './protocol.js';
import { Connection } from './connection.js';
import { PushPipeline } from './push-pipeline.js';
import { PullApplier } from './pull-applier.js';
import { SyncWaiters, syncError } from './waiters.js';
import { SpaceSync } from './space/space-sync.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {'offline'|'connecting'|'catching-up'|'live'|'locked'} SyncStatus */
/** @typedef {{code: string, message: string, batch?: number}} SyncError */

/**
 * @typedef {object} SyncClientOptions
 * @property {string} url ws:// or wss:// URL of /sync
 * @property {() => (string|Promise<string>)} token the bearer token (asked again on each connect)
 * @property {string} replica
 * @property {string} [user] the user whose data this device holds (the token's `sub`): a welcome for another user is permanent (`wrong-user`)
 * @property {number} [cursor] highest seq already applied (0: new replica)
 * @property {() => Array<{id: string, change: Change}>} pending unacknowledged local changes, oldest first
 * @property {(id: string) => boolean} [isPending] whether a change is still unacknowledged (default: looks in pending())
 * @property {(ids: string[]) => void} acked the changes are on the server (or dropped for good): forget them
 * @property {(changes: Change[], cursor: number, entries: Array<{seq: number, change: Change}>) => void} apply
 * @property {(cursor: number) => void} [covered] caught-up: every change up to `cursor` has been sent
 * @property {() => void} [reset] the server's head is below our cursor and it resends from 0
 * @property {(status: SyncStatus) => void} [onStatus]
 * @property {(error: SyncError) => void} [onError]
 * @property {(maxFrameBytes: number) => void} [onLimits] a welcome told the server's frame limit
 * @property {typeof WebSocket} [WebSocket]
 * @property {typeof fetch} [fetch] to learn why an upgrade was refused
 * @property {() => number} [random] in [0, 1), for jitter
 * @property {() => number} [now]
 * @property {import('./crypto.js').ChangeCipher|null} [cipher] end-to-end encryption of some sections' values
 * The rest are the tuning options of spec/vectors/sync/README.md (millis, bytes, counts):
 * @property {number} [batchSize] @property {number} [maxInFlight] @property {number} [maxFrameBytes]
 * @property {number} [backoffMinMillis] @property {number} [backoffMaxMillis]
 * @property {number} [retryMinMillis] @property {number} [retryMaxMillis]
 * @property {number} [skewRetryMinMillis] @property {number} [skewRetryMaxMillis]
 * @property {number} [quotaRetryMinMillis] @property {number} [quotaRetryMaxMillis]
 * @property {number} [keepAliveMillis] @property {number} [connectTimeoutMillis]
 * @property {number} [maxProtocol] the highest protocol version offered (PROTOCOL.md 7.1): 2 (default) or 1
 * @property {import('./space/space-sync.js').SpaceDirectory} [spaces] sync the user's spaces too (PROTOCOL.md 8; version 2 only)
 */

/** Errors of changes the server can never take: they stay until another problem replaces them. */
const DROPPED = new Set(['change-too-large', ErrorCode.INVALID_CHANGE, ErrorCode.FORBIDDEN, ErrorCode.NOT_A_MEMBER]);
export class SyncClient {
  /** @param {SyncClientOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {SyncStatus} */
    this.status = 'offline';
    /** @type {number|null} millis of the last caught-up or ack */
    this.lastSync = null;
    /** @type {SyncError|null} the last problem; cleared once it is over */
    this.lastError = null;
    this.cipher = options.cipher ?? null;
    this.caughtUp = false;
    /** Values from the server did not open with this key (a wrong passphrase): stopped for good. */
    this.locked = false;
    /** @type {string|null} */
    this.lockReason = null;
    /** @type {Promise<void>} inbound frames, handled in arrival order */
    this.inbound = Promise.resolve();
    this.waiters = new SyncWaiters();
    this.batchCounter = 1;
    /** Batch ids for every pipeline of the socket (the user's and each space's): unique among them. */
    this.nextBatchId = () => this.batchCounter++;
    const canPush = () => this.canPush();
    this.canPushFn = canPush;
    this.connection = new Connection({ ...options }, {
      cursor: () => this.puller.cursor,
      spaces: () => this.spaces?.helloSpaces() ?? null,
      frame: (frame, ws) => {
        this.inbound = this.inbound.then(() => (this.connection.socket === ws ? this.receive(frame, ws) : undefined))
          .catch((e) => this.report({ code: 'internal', message: /** @type {Error} */ (e).message }));
        return this.inbound; // the connection decodes the next message once this one is handled
      },
      state: (s) => this.setStatus(this.locked ? 'locked' : s),
      problem: (error, kind) => {
        this.report(error, kind !== 'quiet');
        if (kind === 'permanent') this.waiters.fail(error);
      },
      down: () => {
        this.caughtUp = false;
        this.pipeline.end();
        this.spaces?.down();
      },
      tooLarge: () => this.pipeline.halve(),
    });
    this.pipeline = new PushPipeline({ ...options, nextBatch: this.nextBatchId }, {
      pending: () => this.options.pending(),
      send: (text, frame) => this.connection.send(text, frame),
      acked: (ids) => this.options.acked(ids),
      dropped: (ids, error) => {
        this.options.acked(ids);
        this.report(error);
        this.waiters.fail(error, ids);
      },
      stuck: (ids, error) => this.waiters.fail(error, ids),
      problem: (error) => this.report(error),
    });
    this.pipeline.onRelease = () => this.push();
    this.puller = new PullApplier(options.cursor ?? 0, this.cipher, {
      apply: (changes, cursor, entries) => this.options.apply(changes, cursor, entries),
      covered: (cursor) => this.options.covered?.(cursor),
      reset: () => this.options.reset?.(),
      lock: (e) => this.lock(e),
      problem: (error) => this.report(error),
      fail: (error) => this.connection.fail(error),
    });
    /** @type {SpaceSync|null} the spaces this socket syncs besides the user's own state */
    this.spaces = options.spaces ? new SpaceSync(this, options.spaces) : null;
  }

  /** The highest seq applied. */
  get cursor() { return this.puller.cursor; }
  set cursor(value) { this.puller.cursor = value; }
  get running() { return this.connection.running; }
  get offline() { return this.connection.offline; }
  get socket() { return this.connection.socket; }

  /** Connects and keeps connecting until stop(). */
  start() {
    if (this.running || this.locked) return;
    this.connection.start();
  }

  /**
   * Closes the socket and stops reconnecting. With `reason`, the pending syncNow() calls fail with
   * it (the client closed: none is left hanging); without, they stay for handOverWaiters.
   * @param {{code: string, message: string}} [reason]
   */
  stop(reason) {
    if (reason) this.waiters.fail(reason);
    this.connection.stop();
    this.pipeline.stop();
    this.spaces?.stop();
    this.setStatus(this.locked ? 'locked' : 'offline');
  }

  /** The offline switch: cuts the socket (true) or reconnects at once (false). @param {boolean} offline */
  setOffline(offline) {
    if (this.locked) return;
    if (offline) this.waiters.fail({ code: 'offline', message: 'offline: sync is switched off' }); // as a syncNow() made now
    this.connection.setOffline(offline);
  }

  /** Catches up again from `cursor` (0: the server's whole state) on a new connection. @param {number} [cursor] */
  resync(cursor = 0) {
    this.puller.cursor = cursor;
    this.connection.restart();
  }

  /**
   * Pushes pending changes now; resolves once live with nothing written before the call pending:
   * the user's and, with spaces, each held space's (that space live too; a space refused or left
   * meanwhile fails it, as the space's own syncNow does; with `mark`, taken before the caller saved,
   * also one refused or left while it saved).
   * @param {import('./space/recent-refusals.js').SpaceMark|null} [mark]
   */
  syncNow(mark) {
    if (this.locked) return Promise.reject(Object.assign(new Error(/** @type {string} */ (this.lockReason)), { code: 'wrong-passphrase' }));
    if (!this.running || this.offline) return Promise.reject(Object.assign(new Error('offline: sync is switched off'), { code: 'offline' }));
    const missed = mark && this.spaces ? this.spaces.missed(mark) : null;
    if (missed) return Promise.reject(syncError(missed));
    const promise = this.waiters.add(this.options.pending().map((e) => e.id));
    this.connection.retry(); // after a permanent failure, or during a backoff: try once more now
    this.pipeline.release(); // the user may have freed space: re-send held changes at once
    this.push();
    this.settle();
    const spaces = this.spaces;
    if (!spaces) return promise;
    const call = {};
    const held = Object.keys(spaces.directory.cursors()).map((id) => spaces.syncNow(id, call));
    // The user's part done on a session without spaces (protocol 1, e.g. a version 1 server node
    // during a rolling upgrade): no space syncs on it, so none holds the call up (JVM SyncWaiters spacesDone).
    promise.then(() => { if (spaces.spaceless) spaces.release(call); }, () => {});
    return Promise.all([promise, ...held]).then(() => {});
  }

  /** A mark for syncNow(mark), taken before saving; null for a client without spaces. */
  mark() {
    return this.spaces ? this.spaces.mark() : null;
  }

  /**
   * Hands the pending syncNow() calls to the client that replaces this one (the sync worker
   * rebuilds its client when a tab asks for spaces): they settle there, none is left hanging.
   * @param {SyncClient} next
   */
  handOverWaiters(next) {
    next.waiters.adopt(this.waiters);
    next.settle();
  }

  /** Sends what is pending and fits the window (call after local writes). */
  push() {
    this.pipeline.pump(this.canPushFn);
    this.spaces?.pump();
  }

  /** @private */
  canPush() {
    if (!this.connection.handshaken || this.locked || !this.pipeline.open) return false;
    return !this.cipher || this.caughtUp; // with E2E: only once this session's catch-up proved the key
  }

  /** @private @param {any} frame @param {WebSocket} ws */
  async receive(frame, ws) {
    switch (frame.type) {
      case 'welcome':
        this.lastError = null; // a welcome clears it (spec/vectors/sync/README.md); what still holds is reported again
        this.pipeline.begin(frame);
        if (frame.maxFrameBytes !== undefined) this.options.onLimits?.(frame.maxFrameBytes);
        this.puller.welcome(frame);
        this.setStatus('catching-up');
        await this.spaces?.welcome(frame);
        this.push();
        break;
      case 'changes':
        if (frame.space !== undefined) {
          if (this.spaces) await this.spaces.page(frame, () => this.connection.socket === ws);
          else this.connection.fail({ code: ErrorCode.MALFORMED_FRAME, message: `a page of space ${frame.space}, but this client syncs no spaces` });
          break;
        }
        try {
          if (await this.puller.page(frame, () => this.connection.socket === ws)) await this.spaces?.userPage(frame.changes);
        } catch (e) {
          // Not applied (a store failed): the cursor stays; pull again on a new session after a backoff.
          this.connection.fail({ code: 'apply-failed', message: `a page from the server could not be applied: ${/** @type {Error} */ (e).message}` });
        }
        break;
      case 'caught-up':
        if (frame.space !== undefined) {
          this.spaces?.caughtUp(frame);
          break;
        }
        this.puller.caughtUp(frame);
        this.lastSync = this.now();
        this.caughtUp = true;
        this.connection.healthy('caught-up');
        this.setStatus('live');
        this.push();
        this.clearIfOver();
        this.settle();
        break;
      case 'ack':
        if (this.spaces && !this.pipeline.window.has(frame.batch)) {
          this.spaces.ack(frame.batch);
          break;
        }
        if (this.pipeline.ack(frame.batch, this.canPushFn)) {
          this.lastSync = this.now();
          this.connection.healthy('ack');
          this.clearIfOver();
        }
        this.settle();
        break;
      case 'error':
        if (frame.batch !== undefined && this.spaces && !this.pipeline.window.has(frame.batch) && this.spaces.refused(frame)) break;
        if (frame.batch !== undefined) this.pipeline.refused(frame, this.canPushFn);
        else if (!this.spaces?.error(frame)) this.report(frame);
        break;
      case 'space-left':
        await this.spaces?.left(frame);
        break;
      case 'presence':
        this.spaces?.presence(frame);
        break;
      default:
        this.connection.fail({ code: ErrorCode.MALFORMED_FRAME, message: `unexpected frame '${frame.type}' from the server` });
    }
  }

  /** The last problem is over once nothing waits for a reason (a dropped change's error stays: that change is lost to the server). @private */
  clearIfOver() {
    if (!this.lastError || DROPPED.has(this.lastError.code) || this.locked || this.connection.permanent) return;
    if (this.pipeline.stuckReason() === null) this.lastError = null;
  }

  /** @private */
  settle() {
    if (this.waiters.size === 0) return;
    let isPending = this.options.isPending;
    if (!isPending) {
      const ids = new Set(this.options.pending().map((e) => e.id));
      isPending = (id) => ids.has(id);
    }
    this.waiters.settle(this.status === 'live', isPending);
  }

  /**
   * The server holds values sealed with another key: nothing of the page is applied, nothing is
   * pushed, and the client does not reconnect. @private @param {Error} e
   */
  lock(e) {
    this.locked = true;
    this.lockReason = `wrong passphrase: ${e.message}; sync stopped until it is opened with the right passphrase`;
    this.connection.stop();
    this.setStatus('locked');
    const error = { code: 'wrong-passphrase', message: this.lockReason };
    this.report(error);
    this.waiters.fail(error);
  }

  /** @private @param {SyncStatus} status */
  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.options.onStatus?.(status);
  }

  /** @private @param {SyncError} error @param {boolean} [tell] */
  report(error, tell = true) {
    this.lastError = { code: error.code, message: error.message, ...(error.batch !== undefined ? { batch: error.batch } : {}) };
    if (tell) this.options.onError?.(this.lastError);
  }

  /** @private */
  now() {
    return (this.options.now ?? Date.now)();
  }
}
