// Protocol v2 binary pages (PROTOCOL.md 7): the JavaScript twin of dev.cairn.engine.protocol.PageCodec.
// changes, push and ack frames as one binary message each: a string table naming each section,
// replica id, key prefix and stream once, stamps as numbers delta-encoded within the page, values
// as their canonical JSON bytes, the body compressed with raw deflate when that is smaller.
// Decoding is strict: a page that breaks the format is a ProtocolError (malformed-frame), a bad
// change invalid-change (or clock-skew) naming its index, a page over the limit a PageTooLargeError;
// no length in a page makes the decoder allocate more than the bytes left or the limit.

import { makeChange, normalize, checkSection, WHOLE_SECTION } from './codec.js';
import { isValidReplicaId } from './stamp.js';
import { ProtocolError, ErrorCode, isSpaceId } from './protocol.js';

const CHANGES = 1;
const PUSH = 2;
const ACK = 3;
/** A space's changes and push (PROTOCOL.md 8.3): the space id, then a kind 1 or 2 body. */
const SPACE_CHANGES = 4;
const SPACE_PUSH = 5;
const PLAIN = 0;
const DEFLATE_RAW = 1;
const OPS = ['set', 'delete', 'append', 'clear', 'clear'];
const OP_CLEAR_SECTION = 4;
const MAX_INT = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const MILLIS_LIMIT = 2 ** 48;
const MAX_MILLIS = 2 ** 47 - 1;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/** Strings up to this many bytes are built without a TextDecoder when they are ASCII. */
const SHORT_ASCII = 256;
/** The char codes of the short ASCII string being read (Reader.utf8). @type {number[]} */
const SHORT_CODES = [];

/** A page larger than maxFrameBytes, sent or inflated: the socket is closed with 1009 (PROTOCOL.md 7.4). */
export class PageTooLargeError extends Error {
  /** @param {number} bytes @param {number} limit @param {string} what */
  constructor(bytes, limit, what) {
    super(`${what} is ${bytes} bytes; the limit is ${limit}`);
    this.name = 'PageTooLargeError';
    this.bytes = bytes;
  }
}

/** True for the frames v2 carries as pages (a space's changes and push too, kinds 4 and 5). @param {{type:string}} frame */
export function carries(frame) {
  return frame.type === 'changes' || frame.type === 'push' || frame.type === 'ack';
}

class Bytes {
  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
    this.size = 0;
  }

  /** @param {number} more */
  ensure(more) {
    if (this.size + more > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.size + more));
      next.set(this.buf.subarray(0, this.size));
      this.buf = next;
    }
  }

  /** @param {number} b */
  byte(b) {
    this.ensure(1);
    this.buf[this.size++] = b;
  }

  /** @param {Uint8Array} bytes */
  bytes(bytes) {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.size);
    this.size += bytes.length;
  }

  /** @param {number} n 0 to 2^53 - 1 */
  varint(n) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`v2 integer out of range: ${n}`);
    this.ensure(8);
    while (n >= 0x80) {
      this.buf[this.size++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.size++] = n;
  }

  /** @param {number} n */
  zigzag(n) {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  /** @param {string} s */
  string(s) {
    const b = utf8.encode(s);
    this.varint(b.length);
    this.bytes(b);
  }

  result() {
    return this.buf.slice(0, this.size);
  }
}

/**
 * The page uncompressed: its size is what counts against maxFrameBytes.
 * @param {import('./protocol.js').Frame} frame @returns {Uint8Array}
 */
export function encodePlain(frame) {
  if (frame.type === 'ack') {
    const out = new Bytes(16);
    out.byte(ACK);
    out.byte(PLAIN);
    out.varint(frame.batch);
    return out.result();
  }
  /** @type {Map<string, number>} */
  const table = new Map();
  /** @param {string} s */
  const index = (s) => {
    let i = table.get(s);
    if (i === undefined) {
      i = table.size;
      table.set(s, i);
    }
    return i;
  };
  const entries = new Bytes(1024);
  let kind;
  let head;
  /** @type {Array<{seq?:number, change:import('./codec.js').Change}>} */
  let items;
  if (frame.type === 'changes') {
    kind = frame.space === undefined ? CHANGES : SPACE_CHANGES;
    head = frame.cursor;
    items = frame.changes;
  } else if (frame.type === 'push') {
    kind = frame.space === undefined ? PUSH : SPACE_PUSH;
    head = frame.batch;
    items = frame.changes.map((change) => ({ change }));
  } else {
    throw new TypeError(`v2 pages carry changes, push and ack frames, not ${frame.type}`);
  }
  let prevSeq = 0;
  let prevMillis = 0;
  for (const item of items) {
    const c = item.change;
    if (kind !== PUSH && kind !== SPACE_PUSH) {
      entries.varint(/** @type {number} */ (item.seq) - prevSeq);
      prevSeq = /** @type {number} */ (item.seq);
    }
    const op = c.op === 'clear' ? (c.stream === WHOLE_SECTION ? OP_CLEAR_SECTION : 3) : OPS.indexOf(c.op);
    entries.byte(op);
    entries.varint(index(c.section));
    if (op !== OP_CLEAR_SECTION) {
      const t = c.op === 'set' || c.op === 'delete' ? c.key : c.stream;
      const cut = op <= 1 ? t.lastIndexOf('/') + 1 : t.length;
      if (cut === 0) {
        entries.varint(0);
        entries.string(t);
      } else {
        entries.varint(index(t.slice(0, cut)) + 1);
        entries.string(t.slice(cut));
      }
    }
    entries.varint(index(c.stamp.slice(17)));
    const millis = parseInt(c.stamp.slice(0, 12), 16);
    entries.zigzag(millis - prevMillis);
    prevMillis = millis;
    entries.varint(parseInt(c.stamp.slice(12, 16), 16));
    if (c.op === 'set' || c.op === 'append') entries.string(c.value);
  }
  const out = new Bytes(entries.size + 64);
  out.byte(kind);
  out.byte(PLAIN);
  if (kind === SPACE_CHANGES || kind === SPACE_PUSH) {
    if (!isSpaceId(frame.space)) throw new RangeError(`not a space id: ${JSON.stringify(frame.space)}`);
    out.string(/** @type {string} */ (frame.space));
  }
  out.varint(head);
  out.varint(items.length);
  out.varint(table.size);
  for (const s of table.keys()) out.string(s);
  out.bytes(entries.buf.subarray(0, entries.size));
  return out.result();
}

/**
 * The page as sent: raw deflate of the body when that is smaller.
 * @param {import('./protocol.js').Frame} frame @returns {Promise<Uint8Array>}
 */
export async function encode(frame) {
  const plain = encodePlain(frame);
  if (plain.length - 2 < 64 || typeof CompressionStream !== 'function') return plain; // a plain page is always valid
  const compressed = await deflateRaw(plain.subarray(2));
  const header = new Bytes(12);
  header.byte(plain[0]);
  header.byte(DEFLATE_RAW);
  header.varint(plain.length - 2);
  if (header.size + compressed.length >= plain.length) return plain;
  header.bytes(compressed);
  return header.result();
}

/** @param {Uint8Array} bytes @returns {Promise<Uint8Array>} */
async function deflateRaw(bytes) {
  return new Uint8Array(await new Response(through(new CompressionStream('deflate-raw'), bytes)).arrayBuffer());
}

/**
 * The readable side of a (de)compression stream fed `bytes`. Written straight into the stream, not
 * through a Blob, whose bytes go to the browser process and are read back from it (inflating took
 * 0.14-0.2 s of a first open at 100,000 entries that way; see BENCHMARKS.md, "Browser (issue 14)").
 * A failure surfaces on the readable side.
 * @param {CompressionStream|DecompressionStream} stream @param {Uint8Array} bytes
 */
function through(stream, bytes) {
  const writer = stream.writable.getWriter();
  writer.write(/** @type {BufferSource} */ (bytes)).catch(() => {});
  writer.close().catch(() => {});
  return stream.readable;
}

/**
 * Inflates exactly `declared` bytes, reading no further than one byte beyond them.
 * @param {Uint8Array} data @param {number} declared @returns {Promise<Uint8Array>}
 */
async function inflateRaw(data, declared) {
  const out = new Uint8Array(declared);
  let n = 0;
  const reader = through(new DecompressionStream('deflate-raw'), data).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (n + value.length > declared) {
        throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `the deflated page inflates to more than its declared length ${declared}`);
      }
      out.set(value, n);
      n += value.length;
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError(ErrorCode.MALFORMED_FRAME, 'the page is not valid raw deflate, or does not end where its deflate stream ends');
  }
  if (n !== declared) {
    throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `the deflated page inflates to ${n} bytes, not its declared ${declared}`);
  }
  return out;
}

class Reader {
  /** @param {Uint8Array} bytes @param {number} pos */
  constructor(bytes, pos) {
    this.bytes = bytes;
    this.pos = pos;
    /** @type {number|undefined} */
    this.batch = undefined;
    /** @type {number|undefined} the change being read: names it in errors (built only then, not per field) */
    this.at = undefined;
  }

  /** @param {string} what */
  label(what) {
    return this.at === undefined ? what : `change ${this.at}${what}`;
  }

  remaining() {
    return this.bytes.length - this.pos;
  }

  /** @param {string} message */
  malformed(message) {
    return withBatch(new ProtocolError(ErrorCode.MALFORMED_FRAME, message), this.batch);
  }

  /** @param {string} what @param {string} [suffix] */
  u8(what, suffix = '') {
    if (this.pos >= this.bytes.length) throw this.malformed(`page ends inside ${this.label(what)}${suffix}`);
    return this.bytes[this.pos++];
  }

  /** @param {string} what @param {string} [suffix] */
  varint(what, suffix = '') {
    let value = 0;
    for (let shift = 0; shift < 56; shift += 7) {
      const b = this.u8(what, suffix);
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (b === 0 && shift > 0) throw this.malformed(`${this.label(what)}${suffix} is an over-long varint`);
        if (value > MAX_INT) throw this.malformed(`${this.label(what)}${suffix} is larger than 2^53 - 1`);
        return value;
      }
    }
    throw this.malformed(`${this.label(what)}${suffix} is larger than 2^53 - 1`);
  }

  /** @param {string} what */
  zigzag(what) {
    const z = this.varint(what);
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  /** @param {string} what @param {string} [suffix] */
  length(what, suffix = '') {
    const n = this.varint(what, suffix);
    if (n > this.remaining()) throw this.malformed(`${this.label(what)}${suffix} is ${n}, more than the ${this.remaining()} bytes left in the page`);
    return n;
  }

  /** @param {string} what */
  utf8(what) {
    const n = this.length(what, "'s length");
    if (n <= SHORT_ASCII) {
      // A short ASCII key or value is built from its bytes: a TextDecoder call costs ~1 µs, three
      // per change. (Not sliced from one decode of the page: a slice would keep the whole page
      // alive, and a page with any byte over 0x7f decodes to two-byte chars, stored at twice the size.)
      // The codes go through one reused array: an apply over a subarray of the page was slower.
      const bytes = this.bytes;
      const from = this.pos;
      const codes = SHORT_CODES;
      codes.length = n;
      let i = 0;
      for (; i < n; i++) {
        const b = bytes[from + i];
        if (b >= 0x80) break;
        codes[i] = b;
      }
      if (i === n) {
        this.pos = from + n;
        return String.fromCharCode.apply(null, codes);
      }
    }
    try {
      const s = strictUtf8.decode(this.bytes.subarray(this.pos, this.pos + n));
      this.pos += n;
      return s;
    } catch {
      throw this.malformed(`${this.label(what)} is not valid UTF-8`);
    }
  }
}

/** @param {string} name */
function isSection(name) {
  try {
    checkSection(name);
    return true;
  } catch {
    return false;
  }
}

/** @param {ProtocolError} e @param {number|undefined} batch */
function withBatch(e, batch) {
  if (batch !== undefined) /** @type {any} */ (e).batch = batch;
  return e;
}

/**
 * Decodes one binary page.
 * @param {Uint8Array} page @param {number} maxFrameBytes @returns {Promise<import('./protocol.js').Frame>}
 */
export async function decode(page, maxFrameBytes) {
  if (page.length > maxFrameBytes) throw new PageTooLargeError(page.length, maxFrameBytes, 'the page');
  if (page.length < 2) throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `a v2 page has at least 2 bytes (kind, encoding), got ${page.length}`);
  const kind = page[0];
  if (kind < CHANGES || kind > SPACE_PUSH) throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `unknown v2 page kind ${kind}`);
  let body;
  if (page[1] === PLAIN) {
    body = new Reader(page, 2);
  } else if (page[1] === DEFLATE_RAW) {
    const header = new Reader(page, 2);
    const declared = header.varint('the inflated length');
    if (declared + 2 > maxFrameBytes) throw new PageTooLargeError(declared + 2, maxFrameBytes, 'the inflated page');
    body = new Reader(await inflateRaw(page.subarray(header.pos), declared), 0);
  } else {
    throw new ProtocolError(ErrorCode.MALFORMED_FRAME, `unknown v2 page encoding ${page[1]}`);
  }
  return decodeBody(kind, body);
}

/** @param {number} kind @param {Reader} in_ */
function decodeBody(kind, in_) {
  /** @type {string|undefined} */
  let space;
  if (kind === SPACE_CHANGES || kind === SPACE_PUSH) {
    space = in_.utf8('the space id');
    if (!isSpaceId(space)) throw in_.malformed(`the space id ${JSON.stringify(space)} is not valid (1-64 of A-Z a-z 0-9 - _)`);
    kind -= SPACE_CHANGES - CHANGES; // the body of the kind it extends
  }
  /** @type {any} */
  let frame;
  if (kind === ACK) {
    frame = { type: 'ack', batch: in_.varint("the ack's batch") };
  } else if (kind === PUSH) {
    const batch = in_.varint("the push's batch");
    in_.batch = batch;
    frame = { type: 'push', batch, changes: readEntries(in_, false) };
  } else {
    const cursor = in_.varint("the page's cursor");
    frame = { type: 'changes', changes: readEntries(in_, true), cursor };
  }
  if (in_.remaining() > 0) throw in_.malformed(`${in_.remaining()} bytes after the end of the page`);
  if (space !== undefined) frame.space = space;
  return frame;
}

/** The char codes of the hex digits. */
const HEX_DIGITS = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/**
 * A stamp's 16 hex digits: 12 of millis (checked below 2^48), 4 of the counter (below 2^16). Built
 * from char codes: `toString(16).padStart` took about a fifth of a catch-up page's decoding.
 * @param {number} millis @param {number} counter
 */
function stampHex(millis, counter) {
  const hi = Math.floor(millis / 0x1000000);
  const lo = millis % 0x1000000;
  const d = HEX_DIGITS;
  return String.fromCharCode(
    d[(hi >>> 20) & 15], d[(hi >>> 16) & 15], d[(hi >>> 12) & 15], d[(hi >>> 8) & 15], d[(hi >>> 4) & 15], d[hi & 15],
    d[(lo >>> 20) & 15], d[(lo >>> 16) & 15], d[(lo >>> 12) & 15], d[(lo >>> 8) & 15], d[(lo >>> 4) & 15], d[lo & 15],
    d[(counter >>> 12) & 15], d[(counter >>> 8) & 15], d[(counter >>> 4) & 15], d[counter & 15]);
}

/** @param {Reader} in_ @param {boolean} sequenced */
function readEntries(in_, sequenced) {
  const count = in_.length('the change count');
  const n = in_.length('the string count');
  /** @type {string[]} */
  const strings = [];
  for (let i = 0; i < n; i++) strings.push(in_.utf8(`string ${i}`));
  /** @param {string} what */
  const index = (what) => {
    const i = in_.varint(what);
    if (i >= strings.length) throw in_.malformed(`${in_.label(what)} names string ${i} of ${strings.length}`);
    return i;
  };
  // A table string is checked once as a section name or replica id, not once per change naming it
  // (a page of thousands of changes names one section and a few replicas); a string that fails is left
  // to makeChange, which refuses the change with its usual message.
  const goodSection = new Uint8Array(n); // 0 unchecked, 1 valid, 2 invalid
  const goodReplica = new Uint8Array(n);
  /** @type {Array<any>} */
  const out = [];
  let seq = 0;
  let millis = 0;
  for (let i = 0; i < count; i++) {
    in_.at = i; // the reader names the change in its errors; nothing is built per field
    if (sequenced) {
      const delta = in_.varint("'s seq");
      if (delta === 0 || seq + delta > MAX_INT) throw in_.malformed(`change ${i}: seqs must increase within a page, up to 2^53 - 1`);
      seq += delta;
    }
    const op = in_.u8("'s op");
    if (op > OP_CLEAR_SECTION) throw in_.malformed(`change ${i}: unknown op ${op}`);
    const sectionIndex = index("'s section");
    const section = strings[sectionIndex];
    let targetName = WHOLE_SECTION;
    if (op !== OP_CLEAR_SECTION) {
      const prefix = in_.varint("'s prefix");
      if (prefix > strings.length) throw in_.malformed(`change ${i}'s prefix names string ${prefix - 1} of ${strings.length}`);
      const rest = in_.utf8("'s key or stream");
      targetName = prefix === 0 ? rest : strings[prefix - 1] + rest;
    }
    const replicaIndex = index("'s replica");
    const replica = strings[replicaIndex];
    millis += in_.zigzag("'s millis");
    if (millis < 0 || millis >= MILLIS_LIMIT) throw in_.malformed(`change ${i}: the stamp's millis is out of the 48-bit range`);
    const counter = in_.varint("'s counter");
    if (counter > 0xffff) throw in_.malformed(`change ${i}: the stamp's counter is out of the 16-bit range`);
    const raw = op === 0 || op === 2 ? in_.utf8("'s value") : undefined;
    if (millis > MAX_MILLIS) {
      throw withBatch(new ProtocolError(ErrorCode.CLOCK_SKEW, `change ${i}: its stamp is too far ahead: its time is beyond year 6429, later than any clock allows`), in_.batch);
    }
    const stamp = stampHex(millis, counter) + '@' + replica;
    let change;
    try {
      if (op === 3 && targetName === '') throw new RangeError('a stream clear needs a stream');
      if (goodSection[sectionIndex] === 0) goodSection[sectionIndex] = isSection(section) ? 1 : 2;
      if (goodReplica[replicaIndex] === 0) goodReplica[replicaIndex] = isValidReplicaId(replica) ? 1 : 2;
      // The stamp is built from checked millis and counter: with a valid replica it parses.
      const checked = goodSection[sectionIndex] === 1 && goodReplica[replicaIndex] === 1;
      change = makeChange(OPS[op], section, targetName, raw === undefined ? undefined : normalize(raw), stamp, checked);
    } catch (e) {
      throw withBatch(new ProtocolError(ErrorCode.INVALID_CHANGE, `change ${i}: ${/** @type {Error} */ (e).message}`), in_.batch);
    }
    out.push(sequenced ? { seq, change } : change);
  }
  in_.at = undefined;
  return out;
}
