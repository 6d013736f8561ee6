// The connection: the JavaScript twin of dev.cairn.engine.sync.Connection (spec/vectors/sync/README.md,
// "Connection"). One WebSocket to GET /sync at a time: connect with a fresh token, hello/welcome,
// keepalive and the dead-socket timeout, backoff with full jitter, and the close-code policy. A
// browser cannot read why an upgrade was refused, so it asks the same URL over HTTP (fetch, GET,
// bearer token) and tells a passing failure from a permanent one.

import { encodeFrame, decodeFrame, PROTOCOL_VERSION, PROTOCOL_V2, ErrorCode } from './protocol.js';
import { encode as encodePage, decode as decodePage } from './page.js';

/** The largest page this client inflates (the JVM client's bound too): a deflate bomb stops here. */
const MAX_INBOUND_PAGE_BYTES = 64 << 20;
/** What a subprotocol can carry (RFC 7230 token characters): a JWT always fits. */
const HEADER_TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** @typedef {{code: string, message: string, batch?: number}} SyncError */

/**
 * @typedef {object} ConnectionOptions
 * @property {string} url ws:// or wss:// URL of /sync
 * @property {() => (string|Promise<string>)} token asked again on every connect
 * @property {string} replica
 * @property {string} [user] the user whose data this device holds (the token's `sub`): a welcome for another user is permanent (`wrong-user`)
 * @property {typeof WebSocket} [WebSocket]
 * @property {typeof fetch} [fetch] to learn why an upgrade was refused
 * @property {number} [keepAliveMillis] a ping after this much silence; none for as long again closes the socket
 * @property {number} [connectTimeoutMillis] from opening a socket to welcome
 * @property {number} [backoffMinMillis]
 * @property {number} [backoffMaxMillis]
 * @property {() => number} [random] in [0, 1), for jitter
 * @property {number} [maxProtocol] the highest protocol version offered in hello (PROTOCOL.md 7.1): 2 (default) offers 1 and 2, 1 speaks version 1 only
 */

/**
 * @typedef {object} ConnectionHandlers
 * @property {() => number} cursor the cursor to send in hello
 * @property {() => (Record<string, number>|null)} [spaces] the spaces to name in hello with their cursors (only when version 2 is offered, PROTOCOL.md 8.1)
 * @property {(frame: any, ws: WebSocket) => (void|Promise<void>)} frame every frame but ping/pong, welcome included, in arrival order;
 *   a promise: the next message is decoded once it settles
 * @property {(state: 'connecting'|'offline') => void} state
 * @property {(error: SyncError, kind: 'passing'|'quiet'|'permanent'|'info') => void} problem 'quiet': in the status, not logged (the same outage again, a routine token refresh)
 * @property {() => void} down the session ended (in-flight batches must be re-sent on the next one)
 * @property {() => void} tooLarge the server closed with 1009: the push budget shrinks
 */

export class Connection {
  /** @param {ConnectionOptions} options @param {ConnectionHandlers} on */
  constructor(options, on) {
    this.options = options;
    this.on = on;
    /** @type {WebSocket|null} */
    this.socket = null;
    /** A connect is waiting for the token provider. */
    this.askingToken = false;
    this.running = false;
    this.offline = false;
    this.handshaken = false;
    this.attempt = 0;
    /** @type {SyncError|null} set by a permanent failure: no reconnect until retry() */
    this.permanent = null;
    /** What resets the backoff: a welcome; after a 1009 only an ack; after an unusable page an ack or a clean catch-up. */
    this.resetBy = 'welcome';
    /** The last refused upgrade was a 401 (a second in a row is permanent). */
    this.refused401 = false;
    /** A passing failure is reported once per outage; a welcome ends the outage. */
    this.inOutage = false;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.retryTimer = null;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.aliveTimer = null;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.connectTimer = null;
    /** The session's protocol version (welcome.protocol); 2: changes, push and ack are binary pages. */
    this.protocol = PROTOCOL_VERSION;
    /** @type {Promise<void>} in a v2 session: inbound messages decoded in arrival order (inflating is asynchronous) */
    this.decoding = Promise.resolve();
    /** @type {Promise<void>} in a v2 session: push pages encoded and sent in call order */
    this.encoding = Promise.resolve();
  }

  start() {
    this.running = true;
    this.connect();
  }

  stop() {
    this.running = false;
    this.teardown();
  }

  /** The app's offline switch. @param {boolean} offline */
  setOffline(offline) {
    this.offline = offline;
    if (offline) {
      this.teardown();
      this.on.state('offline');
    } else this.retry();
  }

  /** After a permanent failure (or to skip a backoff): try once more now. */
  retry() {
    this.permanent = null;
    this.refused401 = false;
    if (!this.running || this.offline || this.socket) return;
    this.attempt = 0;
    this.clearRetry();
    this.connect();
  }

  /** Ends this session and starts a new one at once (e.g. to catch up from another cursor). */
  restart() {
    if (!this.socket) return;
    this.teardown();
    this.connect();
  }

  /**
   * Sends a frame's text; in a v2 session a push goes as a binary page instead (its size was
   * checked on the text, which is never smaller than the page, PROTOCOL.md 7.4).
   * @param {string} text @param {import('./protocol.js').Frame} [frame] the frame, for a page
   */
  send(text, frame) {
    const ws = this.socket;
    if (!ws || ws.readyState !== 1) return;
    if (frame && this.protocol >= PROTOCOL_V2) {
      this.encoding = this.encoding.then(() => encodePage(frame)).then((page) => {
        if (this.socket === ws && ws.readyState === 1) ws.send(page);
      }).catch((e) => {
        if (this.socket === ws) this.fail({ code: 'connection-lost', message: `could not send a page: ${/** @type {Error} */ (e).message}` });
      });
      return;
    }
    ws.send(text);
  }

  /** The session could not go on (a frame or page that could not be used): reconnect; the next welcome does not reset the backoff. @param {SyncError} error */
  fail(error) {
    if (this.resetBy === 'welcome') this.resetBy = 'pull';
    this.drop(error, 'passing');
  }

  /** @private */
  async connect() {
    if (!this.running || this.offline || this.socket || this.permanent || this.askingToken) return;
    this.on.state('connecting');
    let token;
    this.askingToken = true; // one connect at a time: a retry meanwhile finds this one under way
    try {
      // Bounded as the rest of the connect: a provider that never answers is said, not waited on forever.
      const limit = this.connectTimeout();
      /** @type {ReturnType<typeof setTimeout>|undefined} */
      let timer;
      token = await Promise.race([
        Promise.resolve(this.options.token()),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`the token provider did not answer within ${limit} ms`)), limit); }),
      ]).finally(() => clearTimeout(timer));
    } catch (e) {
      this.passing({ code: 'unauthorized', message: `no token: ${/** @type {Error} */ (e).message}` }); // told once per outage, as a lost socket
      return;
    } finally {
      this.askingToken = false;
    }
    if (!this.running || this.offline || this.socket || this.permanent) return;
    const Ws = this.options.WebSocket ?? globalThis.WebSocket;
    /** @type {WebSocket} */
    let ws;
    try {
      // A browser cannot set headers on a socket: the token rides in an offered subprotocol, not in
      // the URL, which proxies and access logs keep (PROTOCOL.md 2); the server picks 'cairn'. A token
      // a subprotocol cannot carry goes as the older query parameter.
      if (HEADER_TOKEN.test(token)) {
        ws = new Ws(this.options.url, ['cairn', `cairn.bearer.${token}`]);
      } else {
        const sep = this.options.url.includes('?') ? '&' : '?';
        ws = new Ws(`${this.options.url}${sep}access_token=${encodeURIComponent(token)}`);
      }
    } catch (e) {
      this.passing({ code: 'connection-lost', message: /** @type {Error} */ (e).message });
      return;
    }
    this.socket = ws;
    this.handshaken = false;
    this.protocol = PROTOCOL_VERSION;
    this.decoding = Promise.resolve();
    this.encoding = Promise.resolve();
    // v2 needs DecompressionStream('deflate-raw') to read the server's pages (Chrome 103, Firefox 113, Safari 16.4)
    const v2 = (this.options.maxProtocol ?? PROTOCOL_V2) >= PROTOCOL_V2 && typeof DecompressionStream === 'function';
    const offered = v2 ? [PROTOCOL_VERSION, PROTOCOL_V2] : [PROTOCOL_VERSION];
    try {
      ws.binaryType = 'arraybuffer'; // v2 pages
    } catch {
      // a socket without binaryType hands over what it has; decodeMessage takes every kind
    }
    let opened = false;
    this.connectTimer = setTimeout(() => {
      if (this.socket === ws) this.drop({ code: 'connection-lost', message: `no welcome within ${this.connectTimeout()} ms` }, 'passing');
    }, this.connectTimeout());
    ws.onopen = () => {
      opened = true;
      /** @type {any} */
      const hello = { type: /** @type {const} */ ('hello'), protocol: PROTOCOL_VERSION, replica: this.options.replica, cursor: this.on.cursor() };
      if (offered.length > 1) {
        hello.versions = offered;
        const spaces = this.on.spaces?.();
        if (spaces) hello.spaces = spaces;
      }
      ws.send(encodeFrame(hello));
    };
    /** @param {any} frame */
    const handle = (frame) => {
      if (this.socket !== ws) return;
      if (frame.type === 'ping') { ws.send('{"type":"pong"}'); return; }
      if (frame.type === 'pong') return;
      if (frame.type === 'welcome') {
        if (!offered.includes(frame.protocol)) {
          this.drop({ code: ErrorCode.PROTOCOL_VERSION, message: `the server speaks protocol ${frame.protocol}, this client ${offered.join(' and ')}` }, 'permanent');
          return;
        }
        if (this.options.user !== undefined && frame.user !== this.options.user) {
          // Another user's token: nothing of this device may be pushed to that account, nor its data applied here.
          this.drop({ code: 'wrong-user', message: `the token is for user '${frame.user}', this device holds user '${this.options.user}'` }, 'permanent');
          return;
        }
        this.protocol = frame.protocol;
        this.welcomed();
      }
      if (frame.type === 'error' && frame.code === ErrorCode.PROTOCOL_VERSION) {
        this.drop({ code: frame.code, message: frame.message }, 'permanent');
        return;
      }
      return this.on.frame(frame, ws);
    };
    // Nothing of an undecodable frame is used and the cursor stays: a new session resumes from it.
    const undecodable = (/** @type {any} */ e) => {
      if (this.socket === ws) this.fail({ code: ErrorCode.MALFORMED_FRAME, message: /** @type {Error} */ (e).message });
    };
    ws.onmessage = (event) => {
      if (this.socket !== ws) return;
      this.heard();
      const data = event.data;
      // Every message waits for the ones before it to be handled (v2 pages inflate asynchronously,
      // and a page is applied and saved before the next one is decoded: backpressure, so a long
      // catch-up keeps only the undecoded messages the browser buffered, not decoded pages).
      this.decoding = this.decoding.then(async () => {
        if (this.socket !== ws) return;
        let frame;
        try {
          if (this.protocol < PROTOCOL_V2) {
            if (typeof data !== 'string') throw new Error(`a binary message in a protocol ${this.protocol} session`);
            frame = decodeFrame(data);
          } else {
            frame = typeof data === 'string' ? decodeFrame(data) : await decodePage(await bytesOf(data), MAX_INBOUND_PAGE_BYTES);
          }
        } catch (e) {
          undecodable(e);
          return;
        }
        await handle(frame);
      });
    };
    ws.onclose = (event) => {
      if (this.socket !== ws) return;
      const code = event?.code ?? 1006;
      if (!opened) this.refused(token);
      else if (code === 1009) {
        this.resetBy = 'ack';
        this.on.tooLarge();
        this.drop({ code: 'frame-too-large', message: 'the server closed the socket: a frame was larger than its maxFrameBytes' }, 'passing');
      } else if (code === 4401) {
        // The token expired: a fresh one at once, no backoff.
        this.drop({ code: 'unauthorized', message: 'the token expired (close 4401); connecting again with a fresh token' }, 'quiet', 0);
      } else {
        this.drop({ code: 'connection-lost', message: `the socket closed (${code}${event?.reason ? `: ${event.reason}` : ''})` }, 'passing');
      }
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  /** @private */
  welcomed() {
    this.handshaken = true;
    this.refused401 = false;
    this.inOutage = false;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    if (this.resetBy === 'welcome') this.attempt = 0;
  }

  /** An ack, or a clean catch-up: the session works, the backoff starts over (a catch-up proves nothing about pushes after a 1009). @param {'ack'|'caught-up'} what */
  healthy(what) {
    if (what === 'caught-up' && this.resetBy === 'ack') return;
    this.resetBy = 'welcome';
    this.attempt = 0;
  }

  /**
   * The upgrade failed before the socket opened: the browser hides why, so ask the URL over HTTP.
   * @private @param {string} token
   */
  async refused(token) {
    const ws = this.socket;
    this.teardown();
    const verdict = await this.diagnose(token);
    if (this.socket || !ws || !this.running || this.offline) return; // stopped or reconnected meanwhile
    if (verdict.code === 'unauthorized') {
      if (this.refused401) {
        this.fatal({ code: 'unauthorized', message: `the server refused the token twice in a row (401): ${verdict.message}` });
        return;
      }
      this.refused401 = true;
      this.on.problem({ code: 'unauthorized', message: `the server refused the token (401); connecting again with a fresh one` }, 'quiet');
      this.schedule(0);
      return;
    }
    this.refused401 = false;
    if (verdict.permanent) this.fatal(verdict);
    else this.passing(verdict);
  }

  /** @private @param {string} token @returns {Promise<SyncError & {permanent?: boolean}>} */
  async diagnose(token) {
    const fetchFn = this.options.fetch ?? globalThis.fetch;
    const lost = { code: 'connection-lost', message: 'could not open the socket' };
    if (typeof fetchFn !== 'function') return lost;
    const url = new URL(this.options.url, globalThis.location?.href);
    url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
    let status;
    let body;
    // Bounded like the whole connect (the JVM client's handshake timer): an unanswered probe (a
    // half-open link, a proxy that swallows bytes) must not leave the client connecting forever.
    const limit = this.connectTimeout();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), limit);
    try {
      const response = await fetchFn(url.toString(), { method: 'GET', headers: { Authorization: `Bearer ${token}` }, cache: 'no-store', signal: abort.signal });
      status = response.status;
      const text = await response.text();
      try { body = JSON.parse(text); } catch { body = null; }
    } catch (e) {
      if (abort.signal.aborted) return { ...lost, message: `no answer from ${url.pathname} within ${limit} ms` };
      if (await this.answersOpaquely(fetchFn, url)) {
        const page = globalThis.location?.origin;
        return {
          code: 'forbidden-origin',
          message: `the server at ${url.origin} answers, but not to pages of ${page}: add ${page} to the server's CAIRN_ALLOWED_ORIGINS`,
          permanent: true,
        };
      }
      return { ...lost, message: `could not reach the server: ${/** @type {Error} */ (e).message}` };
    } finally {
      clearTimeout(timer);
    }
    const shaped = body !== null && typeof body === 'object' && typeof body.error === 'string' && typeof body.message === 'string';
    const told = shaped ? `${body.error}: ${body.message}` : `HTTP ${status}`;
    if (status === 401) return { code: 'unauthorized', message: told };
    // 400 is what a live sync endpoint answers this GET (it has no upgrade): the endpoint is there and
    // the probe cannot tell why the socket failed, so it passes as connection-lost. 429 and 5xx pass
    // with the body's code.
    if (status === 400) return { ...lost, message: `the socket could not be opened (the endpoint answers: ${told})` };
    if (status === 429 || status >= 500) return { code: shaped ? body.error : lost.code, message: `the server refused the socket for now (${told})` };
    if (status === 404 || !shaped) {
      return { code: 'not-a-sync-endpoint', message: `${url.pathname} is not a Cairn sync endpoint (${told}); check the server URL`, permanent: true };
    }
    return { code: body.error, message: `the server refused the socket (${told})`, permanent: status === 403 };
  }

  /**
   * The probe failed in a page of another origin: a CORS refusal looks like a network failure to
   * the script. The server refuses origins it does not allow (OriginPolicy: 403 forbidden-origin
   * to the upgrade and to the probe's preflight), so a request the page may not read
   * (mode 'no-cors', no headers) that is answered means the server is there but this origin is
   * not allowed; when it fails too, the server is out of reach.
   * @private @param {typeof fetch} fetchFn @param {URL} url
   */
  async answersOpaquely(fetchFn, url) {
    const page = globalThis.location?.origin;
    if (!page || page === 'null' || page === url.origin) return false;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.connectTimeout());
    try {
      await fetchFn(url.toString(), { method: 'GET', mode: 'no-cors', cache: 'no-store', credentials: 'omit', signal: abort.signal });
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** @private @param {SyncError} error */
  passing(error) {
    this.on.problem(error, this.inOutage ? 'quiet' : 'passing');
    this.inOutage = true;
    this.backoff();
  }

  /** @private @param {SyncError} error */
  fatal(error) {
    this.permanent = error;
    this.teardown();
    this.on.state('offline');
    this.on.problem(error, 'permanent');
  }

  /**
   * Ends the session; reconnects after a backoff (or `delay`), unless permanent.
   * @private @param {SyncError} error @param {'passing'|'permanent'|'info'|'quiet'} kind @param {number} [delay]
   */
  drop(error, kind, delay) {
    this.teardown();
    if (kind === 'permanent') { this.fatal(error); return; }
    if (kind === 'info' || kind === 'quiet') this.on.problem(error, kind);
    if (delay !== undefined) {
      this.schedule(delay);
    } else if (kind === 'passing') {
      this.passing(error);
    } else this.backoff();
  }

  /** @private */
  backoff() {
    const min = this.options.backoffMinMillis ?? 250;
    const max = this.options.backoffMaxMillis ?? 30_000;
    const ceiling = Math.min(max, min * 2 ** Math.min(30, this.attempt++));
    this.schedule(Math.max(min, Math.floor(this.random() * ceiling))); // full jitter, never below the minimum
  }

  /** @private @param {number} delay */
  schedule(delay) {
    if (!this.running || this.offline || this.permanent) {
      this.on.state('offline');
      return;
    }
    this.on.state('connecting');
    this.clearRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  /** Any frame from the server: the socket is alive. Ping after keepAlive of silence; close after as long again. @private */
  heard() {
    if (this.aliveTimer) clearTimeout(this.aliveTimer);
    const ws = this.socket;
    const period = this.options.keepAliveMillis ?? 30_000;
    this.aliveTimer = setTimeout(() => {
      if (this.socket !== ws) return;
      this.send('{"type":"ping"}');
      this.aliveTimer = setTimeout(() => {
        if (this.socket === ws) this.drop({ code: 'silent-socket', message: `the server answered no ping for ${period} ms` }, 'passing');
      }, period);
    }, period);
  }

  /** @private */
  connectTimeout() {
    return this.options.connectTimeoutMillis ?? 10_000;
  }

  /** @private */
  clearRetry() {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Closes the socket (if any) and its timers. @private */
  teardown() {
    const ws = this.socket;
    this.socket = null;
    this.handshaken = false;
    if (this.aliveTimer) clearTimeout(this.aliveTimer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.aliveTimer = this.connectTimer = null;
    if (!this.running || this.offline) this.clearRetry();
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      // Not null: closing a socket that is still connecting fails it, and Node's `ws` (an app's
      // `WebSocket` option) reports that as an 'error' event, which kills the process when no one
      // listens. A browser never throws there; this keeps both alike.
      ws.onerror = () => {};
      try { ws.close(); } catch { /* already closed */ }
      this.on.down();
    }
  }

  /** @private */
  random() {
    return (this.options.random ?? Math.random)();
  }
}

/** The bytes of a binary message, whatever the socket hands over (ArrayBuffer, a view such as Node's Buffer, a Blob). @param {any} data */
async function bytesOf(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof Blob !== 'undefined' && data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  throw new Error('a message that is neither text nor binary');
}
