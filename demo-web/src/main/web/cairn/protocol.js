// Frames of PROTOCOL.md section 3: the JavaScript twin of dev.cairn.engine.protocol.{FrameType,ErrorCode,FrameCodec}.
// Decoding is strict: an unknown type, a missing field or a field of the wrong type is a ProtocolError
// and nothing of the frame is used.

import { parseNode, member, changeFromNode, encodeChange, quote, MalformedChangeError } from './codec.js';

export const PROTOCOL_VERSION = 1;
/** Protocol version 2: changes, push and ack as binary pages (PROTOCOL.md 7, page.js). */
export const PROTOCOL_V2 = 2;

/** Frame types by their wire names (PROTOCOL.md 3). */
export const FrameType = Object.freeze({
  HELLO: 'hello',
  WELCOME: 'welcome',
  CHANGES: 'changes',
  CAUGHT_UP: 'caught-up',
  PUSH: 'push',
  ACK: 'ack',
  PING: 'ping',
  PONG: 'pong',
  ERROR: 'error',
});

/** Error codes (PROTOCOL.md 3.5). */
export const ErrorCode = Object.freeze({
  MALFORMED_FRAME: 'malformed-frame',
  INVALID_CHANGE: 'invalid-change',
  BATCH_TOO_LARGE: 'batch-too-large',
  NOT_READY: 'not-ready',
  PROTOCOL_VERSION: 'protocol-version',
  CLOCK_SKEW: 'clock-skew',
  RATE_LIMITED: 'rate-limited',
  QUOTA_EXCEEDED: 'quota-exceeded',
  UNAVAILABLE: 'unavailable',
  SLOW_CONSUMER: 'slow-consumer',
});

export class ProtocolError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

/** @typedef {import('./codec.js').Change} Change */
/**
 * @typedef {{type:'hello', protocol:number, replica:string, cursor:number, versions?:number[]}
 *  | {type:'welcome', protocol:number, user:string, head:number, maxBatch:number, maxAheadMillis:number, maxFrameBytes?:number, sections?:Record<string,string>}
 *  | {type:'changes', changes:Array<{seq:number, change:Change}>, cursor:number}
 *  | {type:'caught-up', cursor:number}
 *  | {type:'push', batch:number, changes:Change[]}
 *  | {type:'ack', batch:number}
 *  | {type:'ping'} | {type:'pong'}
 *  | {type:'error', code:string, message:string, batch?:number, supported?:number[]}} Frame
 */

/** Frame text. Changes are written in their ChangeJson form. @param {Frame} frame */
export function encodeFrame(frame) {
  switch (frame.type) {
    case 'push':
      return '{"type":"push","batch":' + int(frame.batch) + ',"changes":[' + frame.changes.map(encodeChange).join(',') + ']}';
    case 'changes':
      return '{"type":"changes","changes":[' + frame.changes.map((c) => '{"seq":' + int(c.seq) + ',"change":' + encodeChange(c.change) + '}').join(',')
        + '],"cursor":' + int(frame.cursor) + '}';
    case 'hello':
      return '{"type":"hello","protocol":' + int(frame.protocol) + ',"replica":' + quote(frame.replica) + ',"cursor":' + int(frame.cursor)
        + (frame.versions ? ',"versions":[' + frame.versions.map(int).join(',') + ']' : '') + '}';
    default:
      return JSON.stringify(frame);
  }
}

/** @param {number} n */
function int(n) {
  if (!Number.isSafeInteger(n)) throw new RangeError(`not an integer: ${n}`);
  return String(n);
}

/**
 * Strictly decodes a frame.
 * @param {string} text @returns {Frame}
 */
export function decodeFrame(text) {
  let root;
  try {
    root = parseNode(text);
  } catch (e) {
    throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `frame is not valid JSON: ${/** @type {Error} */ (e).message}`);
  }
  if (root.t !== 'o') throw new ProtocolError(ErrorCode.MALFORMED_FRAME, 'a frame must be a JSON object');
  const type = str(root, 'type');
  switch (type) {
    case 'hello':
      return { type, protocol: num(root, 'protocol'), replica: str(root, 'replica'), cursor: num(root, 'cursor') };
    case 'welcome': {
      /** @type {any} */
      const frame = {
        type, protocol: num(root, 'protocol'), user: str(root, 'user'), head: num(root, 'head'),
        maxBatch: num(root, 'maxBatch'), maxAheadMillis: num(root, 'maxAheadMillis'),
      };
      // Optional: the frame limit (1 MiB when absent).
      if (member(root, 'maxFrameBytes') !== undefined) frame.maxFrameBytes = num(root, 'maxFrameBytes');
      // Optional (PROTOCOL.md 3.1): every section the server knows, name -> kind. Members a
      // server frame does not define are ignored, so servers can add them.
      const sections = member(root, 'sections');
      if (sections !== undefined) {
        if (sections.t !== 'o') throw missing('sections', 'an object of section name to kind');
        /** @type {Record<string, string>} */
        const kinds = {};
        for (const [name, kind] of sections.m) {
          if (kind.t !== 's') throw missing(`sections.${name}`, 'a string');
          kinds[name] = kind.v;
        }
        frame.sections = kinds;
      }
      return frame;
    }
    case 'changes': {
      const list = member(root, 'changes');
      if (!list || list.t !== 'a') throw missing('changes', 'an array');
      const changes = list.v.map((item, i) => {
        if (item.t !== 'o') throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `changes[${i}] must be an object`);
        const change = member(item, 'change');
        if (!change) throw missing(`changes[${i}].change`, 'an object');
        try {
          return { seq: num(item, 'seq'), change: changeFromNode(change) };
        } catch (e) {
          if (e instanceof MalformedChangeError) throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `changes[${i}]: ${e.message}`);
          throw e;
        }
      });
      return { type, changes, cursor: num(root, 'cursor') };
    }
    case 'caught-up':
      return { type, cursor: num(root, 'cursor') };
    case 'push': {
      const list = member(root, 'changes');
      if (!list || list.t !== 'a') throw missing('changes', 'an array');
      return { type, batch: num(root, 'batch'), changes: list.v.map(changeFromNode) };
    }
    case 'ack':
      return { type, batch: num(root, 'batch') };
    case 'ping':
    case 'pong':
      return { type };
    case 'error': {
      /** @type {Frame} */
      const frame = { type, code: str(root, 'code'), message: str(root, 'message') };
      if (member(root, 'batch') !== undefined) frame.batch = num(root, 'batch');
      const supported = member(root, 'supported');
      if (supported && supported.t === 'a') frame.supported = supported.v.map((n) => (n.t === 'n' ? Number(n.v) : NaN));
      return frame;
    }
    default:
      throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `unknown frame type '${type}'`);
  }
}

/** @param {string} field @param {string} what */
function missing(field, what) {
  return new ProtocolError(ErrorCode.MALFORMED_FRAME, `field '${field}' must be ${what}`);
}

/** @param {import('./codec.js').JsonNode} root @param {string} field */
function str(root, field) {
  const n = member(root, field);
  if (!n || n.t !== 's') throw missing(field, 'a string');
  return n.v;
}

/** @param {import('./codec.js').JsonNode} root @param {string} field */
function num(root, field) {
  const n = member(root, field);
  if (!n || n.t !== 'n' || !/^-?\d+$/.test(n.v) || !Number.isSafeInteger(Number(n.v))) throw missing(field, 'an integer');
  return Number(n.v);
}
