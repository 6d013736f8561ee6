// Stamps and the hybrid logical clock: the JavaScript twin of dev.cairn.engine.clock.{Stamp,HybridClock}.
//
// A stamp's text form is 16 lower-case hex digits of the 64-bit hlc (48 bits of Unix millis, then a
// 16-bit counter), '@', and the writer's replica id (PROTOCOL.md 1.1). Because the hex part has a
// fixed width, comparing two text forms as strings gives the stamps' order, so the rest of the client
// keeps stamps as strings and only this module does 64-bit arithmetic (with BigInt).

export const COUNTER_BITS = 16n;
/** Largest wall time a stamp can carry (the packed hlc stays a non-negative signed 64-bit long). */
export const MAX_MILLIS = (1n << 47n) - 1n;
export const COUNTER_MASK = (1n << COUNTER_BITS) - 1n;

const REPLICA_ID = /^[A-Za-z0-9_-]{1,64}$/;
const HEX16 = /^[0-9a-f]{16}$/;

/** @param {string} id */
export function isValidReplicaId(id) {
  return typeof id === 'string' && REPLICA_ID.test(id);
}

/**
 * A parsed stamp. Most code passes stamps around as their text form; use this for arithmetic.
 */
export class Stamp {
  /**
   * @param {bigint} hlc
   * @param {string} replica
   */
  constructor(hlc, replica) {
    if (typeof hlc !== 'bigint' || hlc < 0n || hlc > 0x7fffffffffffffffn) {
      throw new RangeError(`stamp hlc must be a non-negative 64-bit integer: ${hlc}`);
    }
    if (!isValidReplicaId(replica)) {
      throw new RangeError(`invalid replica id '${replica}': use 1-64 characters of A-Z, a-z, 0-9, '-' and '_'`);
    }
    this.hlc = hlc;
    this.replica = replica;
    Object.freeze(this);
  }

  /** @param {number|bigint} millis @param {number|bigint} counter */
  static pack(millis, counter) {
    const m = BigInt(millis);
    const c = BigInt(counter);
    if (m < 0n || m > MAX_MILLIS) throw new RangeError(`millis out of 48-bit range: ${millis}`);
    if (c < 0n || c > COUNTER_MASK) throw new RangeError(`counter out of 16-bit range: ${counter}`);
    return (m << COUNTER_BITS) | c;
  }

  /** Wall millis of the stamp (a safe integer: at most 2^47 - 1). */
  get millis() {
    return Number(this.hlc >> COUNTER_BITS);
  }

  get counter() {
    return Number(this.hlc & COUNTER_MASK);
  }

  /** The text form, e.g. `0190a1b2c3d40001@phone-1`. */
  toString() {
    return hlcHex(this.hlc) + '@' + this.replica;
  }

  /**
   * Parses the text form; a malformed stamp is a RangeError naming it.
   * @param {string} text
   */
  static parse(text) {
    if (typeof text !== 'string' || text.length < 18 || text.charAt(16) !== '@' || !HEX16.test(text.slice(0, 16))) {
      throw new RangeError(`malformed stamp '${text}': expected 16 lower-case hex digits, '@', replica id`);
    }
    return new Stamp(BigInt('0x' + text.slice(0, 16)), text.slice(17));
  }
}

/** @param {bigint} hlc 16 lower-case hex digits. */
export function hlcHex(hlc) {
  return hlc.toString(16).padStart(16, '0');
}

/** True if `text` is a well-formed stamp text. @param {unknown} text */
export function isStamp(text) {
  try {
    Stamp.parse(/** @type {string} */ (text));
    return true;
  } catch {
    return false;
  }
}

/**
 * Orders two stamp texts: negative, zero or positive. String comparison of the text forms equals
 * comparing (hlc, replica), exactly as the Java Stamp.compareTo does (UTF-16 code unit order).
 * @param {string} a @param {string} b
 */
export function compareStamps(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A stamp too far ahead of the local wall clock. */
export class ClockSkewError extends Error {
  /** @param {number} remoteMillis @param {number} localMillis @param {number} maxAheadMillis */
  constructor(remoteMillis, localMillis, maxAheadMillis) {
    super(`stamp is ${remoteMillis - localMillis} ms ahead of the local clock (at most ${maxAheadMillis} ms allowed)`);
    this.name = 'ClockSkewError';
    this.code = 'skew';
  }
}

/** @typedef {() => number} WallClock milliseconds since the Unix epoch */

/**
 * Hybrid logical clock: issues strictly increasing stamps close to wall time.
 * - tick() returns a stamp greater than every stamp issued or observed, even when the wall clock
 *   jumps backwards; a full counter carries into the next millisecond.
 * - observe(stamp) advances past a remote stamp, unless it is more than maxAheadMillis ahead of the
 *   wall clock: then it throws ClockSkewError and the clock is unchanged (the bound is inclusive).
 * - advance(stamp) advances past a stamp without the bound: for stamps the sync server already
 *   accepted (it enforces its own bound), so a device whose clock lags never stalls on them.
 * - restore(hlc) raises the clock to a persisted high-water mark; it never lowers it.
 * Time is injected (`wall`), never read inside the logic.
 */
export class HybridClock {
  /**
   * @param {WallClock} wall
   * @param {string} replica
   * @param {number} maxAheadMillis
   */
  constructor(wall, replica, maxAheadMillis) {
    if (typeof wall !== 'function') throw new TypeError('wall must be a function returning milliseconds');
    if (!isValidReplicaId(replica)) {
      throw new RangeError(`invalid replica id '${replica}': use 1-64 characters of A-Z, a-z, 0-9, '-' and '_'`);
    }
    if (!(Number.isSafeInteger(maxAheadMillis) && maxAheadMillis >= 0)) {
      throw new RangeError(`maxAheadMillis must be an integer >= 0: ${maxAheadMillis}`);
    }
    this.wall = wall;
    this.replica = replica;
    this.maxAheadMillis = maxAheadMillis;
    /** @type {bigint} */
    this.lastHlc = 0n;
  }

  /** A new stamp text, strictly greater than any issued or observed before. */
  tick() {
    const millis = BigInt(Math.max(0, Math.min(Math.floor(this.wall()), Number(MAX_MILLIS))));
    const physical = millis << COUNTER_BITS;
    this.lastHlc = physical > this.lastHlc ? physical : this.lastHlc + 1n;
    return hlcHex(this.lastHlc) + '@' + this.replica;
  }

  /** Advances past a remote stamp (text or Stamp), or throws ClockSkewError and changes nothing. @param {string|Stamp} remote */
  observe(remote) {
    const stamp = typeof remote === 'string' ? Stamp.parse(remote) : remote;
    this.check(stamp);
    if (stamp.hlc > this.lastHlc) this.lastHlc = stamp.hlc;
  }

  /**
   * Advances past a trusted stamp (text or Stamp) without the maxAhead check: for changes the
   * server delivered (it enforced its own bound when it accepted them), as the engine's
   * HybridClock.advance. Imports and other untrusted sources use observe().
   * @param {string|Stamp} trusted
   */
  advance(trusted) {
    const stamp = typeof trusted === 'string' ? Stamp.parse(trusted) : trusted;
    if (stamp.hlc > this.lastHlc) this.lastHlc = stamp.hlc;
  }

  /** Throws ClockSkewError if the stamp is further ahead than the bound. @param {string|Stamp} remote */
  check(remote) {
    const stamp = typeof remote === 'string' ? Stamp.parse(remote) : remote;
    const local = Math.floor(this.wall());
    if (stamp.millis - local > this.maxAheadMillis) {
      throw new ClockSkewError(stamp.millis, local, this.maxAheadMillis);
    }
  }

  /** Raises the clock to a high-water mark (bigint or 16 hex digits); never lowers it. @param {bigint|string} hlc */
  restore(hlc) {
    const value = typeof hlc === 'bigint' ? hlc : BigInt('0x' + (HEX16.test(hlc) ? hlc : bad(hlc)));
    if (value > this.lastHlc) this.lastHlc = value;
  }

  /** The highest hlc issued or observed, as 16 hex digits (for persisting). */
  last() {
    return hlcHex(this.lastHlc);
  }
}

/** @param {string} hlc @returns {never} */
function bad(hlc) {
  throw new RangeError(`restore takes 16 lower-case hex digits, not '${hlc}'`);
}
