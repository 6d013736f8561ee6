// An in-process server speaking PROTOCOL.md version 1 for the browser client's tests: a fake
// WebSocket class bound to it, one log of committed changes, catch-up from a cursor, acks, and live
// fan-out. Not a test file; the test files import it.
import { ReplicaState } from '../../../main/web/cairn/crdt.js';
import { decodeFrame, encodeFrame } from '../../../main/web/cairn/protocol.js';

const LOGS = new Set(['chat', 'consent']);

export class ScriptedServer {
  /**
   * @param {{user?: string, maxBatch?: number, echoToSender?: boolean}} [options] `echoToSender`:
   *   a push's changes also go back to the socket that pushed them (as live `changes`)
   */
  constructor({ user = 'alice', maxBatch = 1000, echoToSender = true } = {}) {
    this.user = user;
    this.maxBatch = maxBatch;
    this.echoToSender = echoToSender;
    this.state = new ReplicaState((s) => (LOGS.has(s) ? 'log' : 'map'));
    /** @type {Array<{seq: number, change: any}>} */
    this.log = [];
    /** @type {any[][]} the changes of each push frame, in arrival order */
    this.pushes = [];
    this.sockets = new Set();
    const server = this;
    this.WebSocket = class {
      constructor() {
        this.readyState = 0;
        this.live = false;
        setTimeout(() => { this.readyState = 1; server.sockets.add(this); this.onopen?.(); }, 1);
      }
      /** @param {string} text */
      send(text) { setTimeout(() => server.receive(this, text), 1); }
      close() { this.readyState = 3; server.sockets.delete(this); }
      /** @param {any} frame */
      deliver(frame) { setTimeout(() => this.readyState === 1 && this.onmessage?.({ data: encodeFrame(frame) }), 1); }
    };
  }

  /** Every pushed change, in arrival order; with a key, only that key's. @param {string} [key] */
  pushed(key) {
    const all = this.pushes.flat();
    return key === undefined ? all : all.filter((c) => c.key === key);
  }

  /** @param {any} ws @param {string} text */
  receive(ws, text) {
    const f = decodeFrame(text);
    if (f.type === 'hello') {
      ws.deliver({ type: 'welcome', protocol: 1, user: this.user, head: this.log.length, maxBatch: this.maxBatch, maxAheadMillis: 60000 });
      const page = this.log.filter((e) => e.seq > f.cursor);
      if (page.length) ws.deliver({ type: 'changes', changes: page, cursor: this.log.length });
      ws.deliver({ type: 'caught-up', cursor: this.log.length });
      ws.live = true;
    } else if (f.type === 'push') {
      this.pushes.push(f.changes);
      ws.deliver({ type: 'ack', batch: f.batch });
      this.commit(f.changes, this.echoToSender ? null : ws);
    } else if (f.type === 'ping') ws.deliver({ type: 'pong' });
  }

  /** Commits changes and sends the new ones to every live socket but `from`. @param {any[]} changes @param {any} [from] */
  commit(changes, from = null) {
    const fresh = [];
    for (const change of changes) if (this.state.apply(change)) { const e = { seq: this.log.length + 1, change }; this.log.push(e); fresh.push(e); }
    if (fresh.length) for (const s of this.sockets) if (s.live && s !== from) s.deliver({ type: 'changes', changes: fresh, cursor: this.log.length });
  }
}
