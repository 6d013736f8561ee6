// The sync client: the JavaScript twin of dev.cairn.engine.sync.SyncClient (PROTOCOL.md 2-3).
// One WebSocket to GET /sync, authenticated by the `access_token` query parameter (browsers cannot
// set headers on a WebSocket). hello -> welcome -> catch-up pages -> caught-up -> live; the outbox
// is pushed in batches of at most maxBatch and forgotten only after the batch's ack; everything
// unacknowledged is re-sent after a reconnect. Reconnects back off exponentially with full jitter.
//
// End-to-end encryption (option `cipher`, a ChangeCipher of crypto.js): values of the chosen
// sections are sealed before they are pushed and opened before a page is applied, both with
// asynchronous WebCrypto. So inbound frames are handled one after the other through a promise
// queue (pages, caught-up and acks in arrival order) and pushes through another (batch ids and
// sends in outbox order). Pushes wait for the session's first caught-up, which proves the key
// opens what the server holds; a value sealed with another key (a wrong passphrase) stops the
// client in status 'locked', applying and pushing nothing (as the JVM SyncClient's LOCKED).

import { encodeFrame, decodeFrame, PROTOCOL_VERSION, ErrorCode } from './protocol.js';
import { E2eError } from './crypto.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {'offline'|'connecting'|'catching-up'|'live'|'locked'} SyncStatus */

/**
 * @typedef {object} SyncClientOptions
 * @property {string} url ws:// or wss:// URL of /sync
 * @property {() => (string|Promise<string>)} token the bearer token (asked again on each connect)
 * @property {string} replica
 * @property {number} [cursor] highest seq already applied (0: new replica)
 * @property {() => Array<{id: string, change: Change}>} pending unacknowledged local changes
 * @property {(ids: string[]) => void} acked called with the ids of an acknowledged batch
 * @property {(changes: Change[], cursor: number, entries: Array<{seq: number, change: Change}>) => void} apply
 *   applies a page of remote changes (also given with their seqs), which covers seqs up to `cursor`
 * @property {(cursor: number) => void} [covered] caught-up: every change up to `cursor` has been sent
 * @property {() => void} [reset] the server's head is below our cursor (it lost or reset the data) and resends from 0
 * @property {(status: SyncStatus) => void} [onStatus]
 * @property {(error: {code: string, message: string, batch?: number}) => void} [onError]
 * @property {typeof WebSocket} [WebSocket]
 * @property {() => number} [random] in [0, 1), for jitter
 * @property {() => number} [now]
 * @property {number} [minBackoffMillis]
 * @property {number} [maxBackoffMillis]
 * @property {number} [pingMillis]
 * @property {import('./crypto.js').ChangeCipher|null} [cipher] end-to-end encryption of some sections' values
 * @property {number} [minQuotaRetryMillis] first delay before re-sending changes refused with quota-exceeded (default 15 s)
 * @property {number} [maxQuotaRetryMillis] longest such delay (default 5 min)
 */

/** Identifies one pending change (its outbox id and stamp). @param {{id: string, change: Change}} e */
function heldKey(e) {
  return `${e.id}\u0000${e.change.stamp}`;
}

export class SyncClient {
  /** @param {SyncClientOptions} options */
  constructor(options) {
    this.options = options;
    this.cursor = options.cursor ?? 0;
    /** @type {SyncStatus} */
    this.status = 'offline';
    /** @type {number|null} millis of the last caught-up or ack */
    this.lastSync = null;
    /** @type {WebSocket|null} */
    this.socket = null;
    this.running = false;
    this.offline = false;
    this.attempt = 0;
    this.maxBatch = 1000;
    this.nextBatch = 1;
    /** @type {Map<number, string[]>} batch -> outbox ids */
    this.inFlight = new Map();
    /** @type {Set<string>} */
    this.inFlightIds = new Set();
    /** @type {Map<number, string[]>} batch -> heldKey of its changes */
    this.inFlightKeys = new Map();
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.retryTimer = null;
    /** @type {ReturnType<typeof setInterval>|null} */
    this.pingTimer = null;
    /** @type {Array<{resolve: () => void, reject: (e: Error) => void}>} */
    this.waiters = [];
    this.handshaken = false;
    /** @type {import('./crypto.js').ChangeCipher|null} */
    this.cipher = options.cipher ?? null;
    /** This session has caught up once (with E2E on, pushes wait for it). */
    this.caughtUp = false;
    /** Values from the server did not open with this key (a wrong passphrase): stopped for good. */
    this.locked = false;
    /** @type {string|null} why the client is locked (also reported, so in lastError) */
    this.lockReason = null;
    /** @type {Promise<void>} inbound frames, handled in arrival order */
    this.inbound = Promise.resolve();
    /** @type {Promise<void>} sealed pushes, sent in order */
    this.outbound = Promise.resolve();
    /** @type {{code: string, message: string, batch?: number}|null} the last problem; cleared by a welcome */
    this.lastError = null;
    /** @type {Set<string>} changes (heldKey) the server refused for the quota: held back until quotaTimer fires */
    this.quotaHeld = new Set();
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.quotaTimer = null;
    this.quotaAttempt = 0;
  }

  /** Connects and keeps connecting until stop(). */
  start() {
    if (this.running || this.locked) return;
    this.running = true;
    this.connect();
  }

  /** Closes the socket and stops reconnecting. */
  stop() {
    this.running = false;
    this.teardown();
    this.setStatus(this.locked ? 'locked' : 'offline');
  }

  /** The offline switch: cuts the socket (true) or reconnects at once (false). @param {boolean} offline */
  setOffline(offline) {
    this.offline = offline;
    if (this.locked) return;
    if (offline) {
      this.teardown();
      this.setStatus('offline');
    } else if (this.running && !this.socket) {
      this.attempt = 0;
      this.connect();
    }
  }

  /**
   * Catches up again from `cursor` (0: the server's whole current state) on a new connection, e.g.
   * after a section's sync was turned back on. @param {number} [cursor]
   */
  resync(cursor = 0) {
    this.cursor = cursor;
    if (this.socket) {
      this.teardown();
      this.connect();
    }
  }

  /** Pushes pending changes now; resolves once live with nothing pending (or rejects when offline or locked). */
  syncNow() {
    if (this.locked) return Promise.reject(new Error(/** @type {string} */ (this.lockReason)));
    if (!this.running || this.offline) return Promise.reject(new Error('sync is offline'));
    if (!this.socket) {
      this.attempt = 0;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.connect();
    }
    this.releaseQuotaHeld(); // the user may have freed space: try now, not after the quota delay
    this.push();
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.settle();
    });
  }

  /** Sends what is pending and not in flight, in batches (call after local writes). */
  push() {
    if (!this.cipher) {
      this.sendPending(this.socket, (c) => c);
      return;
    }
    // Sealing is asynchronous: one push at a time, so batches leave in outbox order and no change
    // is sent twice (the next push sees the previous one's changes in flight).
    this.outbound = this.outbound.then(() => this.pushSealed()).catch((e) => {
      this.report({ code: 'e2e-seal', message: `could not encrypt changes for the server: ${/** @type {Error} */ (e).message}` });
    });
  }

  /** @private */
  async pushSealed() {
    const ws = this.socket;
    if (!this.canPush(ws)) return;
    // Held by change (id and stamp), not by id: a newer write of the key (a delete freeing space) goes at once.
    const fresh = this.options.pending().filter((e) => !this.inFlightIds.has(e.id) && !this.quotaHeld.has(heldKey(e)));
    if (fresh.length === 0) return;
    const cipher = /** @type {import('./crypto.js').ChangeCipher} */ (this.cipher);
    const sealed = await Promise.all(fresh.map((e) => cipher.seal(e.change)));
    // The session may have ended while sealing: its successor pushes them again.
    const byId = new Map(fresh.map((e, i) => [e.id, sealed[i]]));
    this.sendPending(ws, (c, id) => /** @type {Change} */ (byId.get(id) ?? c), new Set(byId.keys()));
  }

  /** @private @param {WebSocket|null} ws */
  canPush(ws) {
    if (!ws || this.socket !== ws || !this.handshaken || ws.readyState !== 1 || this.locked) return false;
    // With E2E, push only once this session's catch-up opened every value with this key, so a
    // device with a wrong passphrase never puts values the other devices cannot open.
    return !this.cipher || this.caughtUp;
  }

  /**
   * Sends pending changes not in flight (only those in `only`, if given), mapped by `wire`.
   * @private @param {WebSocket|null} ws @param {(change: Change, id: string) => Change} wire @param {Set<string>} [only]
   */
  sendPending(ws, wire, only) {
    if (!ws || !this.canPush(ws)) return;
    const fresh = this.options.pending().filter((e) => !this.inFlightIds.has(e.id) && (!only || only.has(e.id))
      && !this.quotaHeld.has(heldKey(e)));
    for (let i = 0; i < fresh.length; i += this.maxBatch) {
      const slice = fresh.slice(i, i + this.maxBatch);
      const batch = this.nextBatch++;
      const ids = slice.map((e) => e.id);
      this.inFlight.set(batch, ids);
      this.inFlightKeys.set(batch, slice.map(heldKey));
      ids.forEach((id) => this.inFlightIds.add(id));
      ws.send(encodeFrame({ type: 'push', batch, changes: slice.map((e) => wire(e.change, e.id)) }));
    }
  }

  /** @private */
  async connect() {
    if (!this.running || this.offline || this.socket || this.locked) return;
    this.setStatus('connecting');
    let token;
    try {
      token = await this.options.token();
    } catch (e) {
      this.report({ code: 'unauthorized', message: `no token: ${/** @type {Error} */ (e).message}` });
      this.scheduleRetry();
      return;
    }
    if (!this.running || this.offline || this.socket || this.locked) return;
    const Ws = this.options.WebSocket ?? globalThis.WebSocket;
    const sep = this.options.url.includes('?') ? '&' : '?';
    let ws;
    try {
      ws = new Ws(`${this.options.url}${sep}access_token=${encodeURIComponent(token)}`);
    } catch (e) {
      this.report({ code: 'connect', message: /** @type {Error} */ (e).message });
      this.scheduleRetry();
      return;
    }
    this.socket = ws;
    this.handshaken = false;
    this.caughtUp = false;
    ws.onopen = () => {
      ws.send(encodeFrame({ type: 'hello', protocol: PROTOCOL_VERSION, replica: this.options.replica, cursor: this.cursor }));
    };
    ws.onmessage = (event) => {
      if (this.socket !== ws) return;
      const text = typeof event.data === 'string' ? event.data : '';
      // In arrival order, each frame after the previous one is done (opening a page is asynchronous).
      this.inbound = this.inbound.then(() => (this.socket === ws ? this.receive(text, ws) : undefined)).catch((e) => {
        this.report({ code: 'internal', message: /** @type {Error} */ (e).message });
      });
    };
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.teardown();
      if (this.running && !this.offline) {
        this.setStatus('connecting');
        this.scheduleRetry();
      } else {
        this.setStatus('offline');
      }
    };
    ws.onerror = () => { /* onclose follows and handles the retry */ };
  }

  /** @private @param {string} text @param {WebSocket} ws */
  async receive(text, ws) {
    let frame;
    try {
      frame = decodeFrame(text);
    } catch (e) {
      this.report({ code: ErrorCode.MALFORMED_FRAME, message: /** @type {Error} */ (e).message });
      return;
    }
    switch (frame.type) {
      case 'welcome':
        this.handshaken = true;
        this.attempt = 0;
        this.lastError = null;
        this.maxBatch = Math.max(1, frame.maxBatch);
        if (frame.head < this.cursor) {
          // The server lost or reset this user's data: it sends everything from 0 (as the engine's client).
          this.cursor = 0;
          this.options.reset?.();
        }
        this.setStatus('catching-up');
        this.startPing();
        this.push();
        break;
      case 'changes': {
        const entries = this.cipher ? await this.openPage(frame.changes, ws) : frame.changes;
        if (!entries) break; // nothing applied, the cursor stays
        this.options.apply(entries.map((c) => c.change), frame.cursor, entries);
        this.cursor = Math.max(this.cursor, frame.cursor);
        break;
      }
      case 'caught-up':
        this.cursor = Math.max(this.cursor, frame.cursor);
        this.options.covered?.(frame.cursor);
        this.lastSync = this.now();
        this.caughtUp = true;
        this.setStatus('live');
        if (this.cipher) this.push(); // pushes were held until this catch-up proved the key
        this.settle();
        break;
      case 'ack': {
        const ids = this.inFlight.get(frame.batch);
        if (ids) {
          this.inFlight.delete(frame.batch);
          this.inFlightKeys.delete(frame.batch);
          ids.forEach((id) => this.inFlightIds.delete(id));
          this.options.acked(ids);
          this.lastSync = this.now();
          if (this.quotaHeld.size === 0) this.quotaAttempt = 0;
        }
        this.push();
        this.settle();
        break;
      }
      case 'ping':
        this.socket?.send('{"type":"pong"}');
        break;
      case 'pong':
        break;
      case 'error': {
        this.report(frame);
        if (frame.batch !== undefined) {
          const ids = this.inFlight.get(frame.batch) ?? [];
          const keys = this.inFlightKeys.get(frame.batch) ?? [];
          this.inFlight.delete(frame.batch);
          this.inFlightKeys.delete(frame.batch);
          ids.forEach((id) => this.inFlightIds.delete(id));
          if (frame.code === ErrorCode.INVALID_CHANGE) {
            // The server will never take these; keeping them would block the outbox forever.
            this.options.acked(ids);
          } else if (frame.code === ErrorCode.QUOTA_EXCEEDED) {
            // The user's storage on the server is full: keep the changes (pending, not dropped) and
            // send them again after a growing delay; other changes (deletes free space) go on.
            this.holdForQuota(keys);
            // A syncNow waiting for these would wait for space that may never come: tell it why.
            const waiters = this.waiters;
            this.waiters = [];
            waiters.forEach((w) => w.reject(Object.assign(new Error(`${frame.code}: ${frame.message}`), { code: frame.code })));
          } else {
            // unavailable, rate-limited, batch-too-large: try again a little later
            setTimeout(() => this.push(), 1000 + this.random() * 1000);
          }
        }
        if (frame.code === ErrorCode.PROTOCOL_VERSION) this.stop();
        break;
      }
      default:
        this.report({ code: ErrorCode.MALFORMED_FRAME, message: `unexpected frame '${frame.type}' from the server` });
    }
  }

  /**
   * Opens the encrypted values of a page. A value sealed with another key locks the client and
   * returns null (nothing of the page is applied); a value that does not open otherwise (altered,
   * or plain text in an encrypted section) is left out and reported, the rest is applied.
   * @private @param {Array<{seq: number, change: Change}>} page @param {WebSocket} ws
   * @returns {Promise<Array<{seq: number, change: Change}>|null>}
   */
  async openPage(page, ws) {
    const cipher = /** @type {import('./crypto.js').ChangeCipher} */ (this.cipher);
    const opened = await Promise.all(page.map(({ seq, change }) => cipher.open(change).then(
      (plain) => ({ seq, change: plain, error: null }),
      (/** @type {unknown} */ error) => ({ seq, change, error }))));
    if (this.socket !== ws) return null; // the session ended meanwhile; its successor catches up from the cursor
    const wrong = opened.find((o) => o.error instanceof E2eError && o.error.reason === 'WRONG_PASSPHRASE');
    if (wrong) {
      this.lock(/** @type {E2eError} */ (wrong.error));
      return null;
    }
    const failed = opened.find((o) => o.error && !(o.error instanceof E2eError));
    if (failed) {
      // Not the data's fault (e.g. WebCrypto failed): apply nothing, reconnect and catch up again.
      this.report({ code: 'e2e-open', message: `could not decrypt a page from the server: ${/** @type {Error} */ (failed.error).message}` });
      this.teardown();
      this.setStatus('connecting');
      this.scheduleRetry();
      return null;
    }
    for (const o of opened) {
      if (o.error) {
        // Not sealed by this user's key (altered on the way or at rest, or written in plain text
        // by someone else): never applied as data.
        const e = /** @type {E2eError} */ (o.error);
        this.report({ code: `e2e-${e.reason.toLowerCase()}`, message: `ignored an end-to-end encrypted change from the server that does not open: ${e.message}` });
      }
    }
    return opened.filter((o) => !o.error).map(({ seq, change }) => ({ seq, change }));
  }

  /**
   * The server holds values sealed with another key: a wrong passphrase. Nothing of the page is
   * applied (the cursor stays), nothing is pushed, and the client does not reconnect.
   * @private @param {E2eError} e
   */
  lock(e) {
    this.locked = true;
    this.running = false;
    this.lockReason = `wrong passphrase: ${e.message}; sync stopped until it is opened with the right passphrase`;
    this.teardown();
    this.setStatus('locked');
    this.report({ code: 'wrong-passphrase', message: this.lockReason });
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w.reject(new Error(/** @type {string} */ (this.lockReason))));
  }

  /** @private @param {string[]} keys */
  holdForQuota(keys) {
    keys.forEach((k) => this.quotaHeld.add(k));
    if (this.quotaTimer) return;
    const min = this.options.minQuotaRetryMillis ?? 15_000;
    const max = this.options.maxQuotaRetryMillis ?? 300_000;
    const ceiling = Math.min(max, min * 2 ** this.quotaAttempt++);
    const delay = Math.max(min, Math.floor(this.random() * ceiling));
    this.quotaTimer = setTimeout(() => {
      this.quotaTimer = null;
      this.quotaHeld.clear();
      this.push();
    }, delay);
  }

  /** Sends changes held back for the quota at the next push (syncNow). @private */
  releaseQuotaHeld() {
    if (this.quotaTimer) clearTimeout(this.quotaTimer);
    this.quotaTimer = null;
    this.quotaHeld.clear();
  }

  /** @private */
  settle() {
    if (this.status === 'live' && this.inFlight.size === 0 && this.options.pending().length === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((w) => w.resolve());
    }
  }

  /** @private */
  scheduleRetry() {
    if (!this.running || this.offline || this.retryTimer) return;
    const min = this.options.minBackoffMillis ?? 250;
    const max = this.options.maxBackoffMillis ?? 30_000;
    const ceiling = Math.min(max, min * 2 ** this.attempt++);
    const delay = Math.max(min, Math.floor(this.random() * ceiling)); // full jitter
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  /** @private */
  startPing() {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (this.socket && this.socket.readyState === 1) this.socket.send('{"type":"ping"}');
    }, this.options.pingMillis ?? 20_000);
  }

  /** @private */
  teardown() {
    const ws = this.socket;
    this.socket = null;
    this.handshaken = false;
    this.caughtUp = false;
    this.inFlight.clear();
    this.inFlightKeys.clear();
    this.inFlightIds.clear();
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (!this.running) this.releaseQuotaHeld();
    if (this.retryTimer && (!this.running || this.offline)) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch { /* already closed */ }
    }
  }

  /** @private @param {SyncStatus} status */
  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.options.onStatus?.(status);
  }

  /** @private @param {{code: string, message: string, batch?: number}} error */
  report(error) {
    this.lastError = error;
    this.options.onError?.(error);
  }

  /** @private */
  random() {
    return (this.options.random ?? Math.random)();
  }

  /** @private */
  now() {
    return (this.options.now ?? Date.now)();
  }
}
