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
  SPACE_LEFT: 'space-left',
  PRESENCE: 'presence',
});

/** A space id (PROTOCOL.md 8): 1-64 characters of A-Z a-z 0-9 - _. */
export const SPACE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** @param {unknown} id */
export function isSpaceId(id) {
  return typeof id === 'string' && SPACE_ID.test(id);
}

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
  FORBIDDEN: 'forbidden',
  NOT_A_MEMBER: 'not-a-member',
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
 * Frames; `space` names a space's changes, push, caught-up or error (PROTOCOL.md 8), absent for the user's own.
 * @typedef {{type:'hello', protocol:number, replica:string, cursor:number, versions?:number[], spaces?:Record<string,number>}
 *  | {type:'welcome', protocol:number, user:string, head:number, maxBatch:number, maxAheadMillis:number, maxFrameBytes?:number, sections?:Record<string,string>, spaces?:Record<string,{role:string, head:number}>}
 *  | {type:'changes', changes:Array<{seq:number, change:Change}>, cursor:number, space?:string}
 *  | {type:'caught-up', cursor:number, space?:string}
 *  | {type:'push', batch:number, changes:Change[], space?:string}
 *  | {type:'ack', batch:number}
 *  | {type:'space-left', space:string, reason:string}
 *  | {type:'presence', space:string, state:unknown, user?:string, replica?:string}
 *  | {type:'ping'} | {type:'pong'}
 *  | {type:'error', code:string, message:string, batch?:number, supported?:number[], space?:string}} Frame
 */

/** Frame text. Changes are written in their ChangeJson form. @param {Frame} frame */
export function encodeFrame(frame) {
  switch (frame.type) {
    case 'push':
      return '{"type":"push",' + spaceMember(frame.space) + '"batch":' + int(frame.batch) + ',"changes":[' + frame.changes.map(encodeChange).join(',') + ']}';
    case 'changes':
      return '{"type":"changes",' + spaceMember(frame.space) + '"changes":[' + frame.changes.map((c) => '{"seq":' + int(c.seq) + ',"change":' + encodeChange(c.change) + '}').join(',')
        + '],"cursor":' + int(frame.cursor) + '}';
    case 'hello':
      return '{"type":"hello","protocol":' + int(frame.protocol) + ',"replica":' + quote(frame.replica) + ',"cursor":' + int(frame.cursor)
        + (frame.versions ? ',"versions":[' + frame.versions.map(int).join(',') + ']' : '')
        + (frame.spaces ? ',"spaces":{' + Object.entries(frame.spaces).map(([id, c]) => quote(spaceId(id)) + ':' + int(c)).join(',') + '}' : '') + '}';
    case 'presence':
      // client -> server: only space and state (PROTOCOL.md 8.6); the state is any JSON value
      return '{"type":"presence","space":' + quote(spaceId(frame.space)) + ',"state":' + (frame.state === undefined ? 'null' : JSON.stringify(frame.state)) + '}';
    default:
      return JSON.stringify(frame);
  }
}

/** `"space":"<id>",` for a space's frame, nothing for the user's own. @param {string|undefined} space */
function spaceMember(space) {
  return space === undefined ? '' : '"space":' + quote(spaceId(space)) + ',';
}

/** @param {string} id */
function spaceId(id) {
  if (!isSpaceId(id)) throw new RangeError(`not a space id: ${JSON.stringify(id)}`);
  return id;
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
    case 'hello': {
      /** @type {any} */
      const frame = { type, protocol: num(root, 'protocol'), replica: str(root, 'replica'), cursor: num(root, 'cursor') };
      const spaces = member(root, 'spaces');
      if (spaces !== undefined) {
        if (spaces.t !== 'o') throw missing('spaces', 'an object of space id to cursor');
        /** @type {Record<string, number>} */
        const cursors = {};
        for (const [id] of spaces.m) cursors[checkedSpace(id, `spaces.${id}`)] = num(spaces, id);
        frame.spaces = cursors;
      }
      return frame;
    }
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
      // Optional (PROTOCOL.md 8.1): the spaces of a session that speaks them, id -> {role, head}.
      const spaces = member(root, 'spaces');
      if (spaces !== undefined) {
        if (spaces.t !== 'o') throw missing('spaces', 'an object of space id to {role, head}');
        /** @type {Record<string, {role: string, head: number}>} */
        const out = {};
        for (const [id, info] of spaces.m) {
          if (info.t !== 'o') throw missing(`spaces.${id}`, 'an object');
          out[checkedSpace(id, `spaces.${id}`)] = { role: str(info, 'role'), head: num(info, 'head') };
        }
        frame.spaces = out;
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
      return withSpace(root, { type, changes, cursor: num(root, 'cursor') });
    }
    case 'caught-up':
      return withSpace(root, { type, cursor: num(root, 'cursor') });
    case 'push': {
      const list = member(root, 'changes');
      if (!list || list.t !== 'a') throw missing('changes', 'an array');
      return withSpace(root, { type, batch: num(root, 'batch'), changes: list.v.map(changeFromNode) });
    }
    case 'space-left':
      return { type, space: checkedSpace(str(root, 'space'), 'space'), reason: str(root, 'reason') };
    case 'presence': {
      const state = member(root, 'state');
      if (state === undefined) throw missing('state', 'a JSON value (null: withdrawn)');
      /** @type {any} */
      const frame = { type, space: checkedSpace(str(root, 'space'), 'space'), state: JSON.parse(text).state };
      // server -> client frames name whose presence it is
      if (member(root, 'user') !== undefined) frame.user = str(root, 'user');
      if (member(root, 'replica') !== undefined) frame.replica = str(root, 'replica');
      return frame;
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
      if (member(root, 'space') !== undefined) frame.space = str(root, 'space');
      return frame;
    }
    default:
      throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `unknown frame type '${type}'`);
  }
}

/** A frame's optional `space` member (PROTOCOL.md 8.3). @param {import('./codec.js').JsonNode} root @param {any} frame */
function withSpace(root, frame) {
  if (member(root, 'space') !== undefined) frame.space = checkedSpace(str(root, 'space'), 'space');
  return frame;
}

/** @param {string} id @param {string} field */
function checkedSpace(id, field) {
  if (!isSpaceId(id)) throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `field '${field}' must name a space id (1-64 of A-Z a-z 0-9 - _)`);
  return id;
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
