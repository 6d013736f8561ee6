// JSON codecs: the JavaScript twin of dev.cairn.engine.codec.{Json,ChangeJson,CanonicalJson,ExportDocument}.
//
// Values are kept as compact JSON *text*, spelled exactly as the Java engine (Jackson 2.x) spells
// them, because at equal stamps the greater text wins and converged replicas must be byte-identical:
// - object members keep the order written (JSON.parse would move integer-like names first);
// - numbers follow the number rule (PROTOCOL.md 1.2, javaNumber): finite, not -0, and exactly the
//   value of their double's shortest decimal, else refused; integers are kept as written, other
//   numbers written in Java's Double.toString layout with the shortest digits: "100.0", "1.0E21";
// - strings escape '"', '\\', \b \t \n \f \r, and other control characters as \u00XX (upper-case hex);
//   nothing else is escaped (no "\/", no non-ASCII escapes);
// - a repeated member name is an error (Jackson's STRICT_DUPLICATE_DETECTION), as is nesting
//   deeper than the limit.
// Difference left (see the report in README/ARCHITECTURE): a lone UTF-16 surrogate is refused here
// (Java keeps it; it cannot cross a UTF-8 WebSocket intact). The engine writes the shortest digits
// too (Json.canonicalDouble), not JDK 17's Double.toString.

import { Stamp } from './stamp.js';

/** Frames and documents may nest this deep (Json.MAX_DEPTH). */
export const MAX_DEPTH = 64;
/** Values inside a change may nest this deep (Names.MAX_VALUE_DEPTH). */
export const MAX_VALUE_DEPTH = 32;
export const MAX_KEY_LENGTH = 512;

export class MalformedJsonError extends SyntaxError {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'MalformedJsonError';
  }
}

export class MalformedChangeError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'MalformedChangeError';
  }
}

export class MalformedDocumentError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'MalformedDocumentError';
  }
}

// ------------------------------------------------------------------ JSON nodes

/**
 * A parsed JSON value that keeps member order and number spelling.
 * @typedef {{t:'o', m:Array<[string, JsonNode]>} | {t:'a', v:JsonNode[]} | {t:'s', v:string}
 *   | {t:'n', v:string} | {t:'b', v:boolean} | {t:'z'}} JsonNode
 */

/**
 * Parses one JSON text strictly into a JsonNode.
 * @param {string} text
 * @param {number} [maxDepth]
 * @returns {JsonNode}
 */
export function parseNode(text, maxDepth = MAX_DEPTH) {
  if (typeof text !== 'string') throw new MalformedJsonError('expected JSON text');
  const p = new Parser(text, maxDepth);
  p.ws();
  const node = p.value(0);
  p.ws();
  if (p.i !== text.length) p.fail('trailing content after the JSON value');
  return node;
}

class Parser {
  /** @param {string} s @param {number} maxDepth */
  constructor(s, maxDepth) {
    this.s = s;
    this.i = 0;
    this.maxDepth = maxDepth;
  }

  /** @param {string} msg @returns {never} */
  fail(msg) {
    throw new MalformedJsonError(`${msg} (at character ${this.i})`);
  }

  ws() {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else break;
    }
  }

  /** @param {number} depth @returns {JsonNode} */
  value(depth) {
    const s = this.s;
    const c = s[this.i];
    if (c === '{' || c === '[') {
      if (depth + 1 > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`);
      return c === '{' ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === '"') return { t: 's', v: this.string() };
    if (c === 't' && s.startsWith('true', this.i)) { this.i += 4; return { t: 'b', v: true }; }
    if (c === 'f' && s.startsWith('false', this.i)) { this.i += 5; return { t: 'b', v: false }; }
    if (c === 'n' && s.startsWith('null', this.i)) { this.i += 4; return { t: 'z' }; }
    if (c === '-' || (c >= '0' && c <= '9')) return { t: 'n', v: this.number() };
    return this.fail(c === undefined ? 'unexpected end of JSON' : `unexpected character '${c}'`);
  }

  /** @param {number} depth @returns {JsonNode} */
  object(depth) {
    this.i++;
    /** @type {Array<[string, JsonNode]>} */
    const members = [];
    const names = new Set();
    this.ws();
    if (this.s[this.i] === '}') { this.i++; return { t: 'o', m: members }; }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a member name');
      const name = this.string();
      if (names.has(name)) this.fail(`duplicate field '${name}'`);
      names.add(name);
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      this.ws();
      members.push([name, this.value(depth)]);
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return { t: 'o', m: members };
      if (c !== ',') { this.i--; this.fail("expected ',' or '}'"); }
    }
  }

  /** @param {number} depth @returns {JsonNode} */
  array(depth) {
    this.i++;
    /** @type {JsonNode[]} */
    const items = [];
    this.ws();
    if (this.s[this.i] === ']') { this.i++; return { t: 'a', v: items }; }
    for (;;) {
      this.ws();
      items.push(this.value(depth));
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return { t: 'a', v: items };
      if (c !== ',') { this.i--; this.fail("expected ',' or ']'"); }
    }
  }

  string() {
    const s = this.s;
    let i = this.i + 1;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= s.length) { this.i = i; this.fail('unterminated string'); }
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) { this.i = i; this.fail('control character in string'); }
      if (c === 0x5c) {
        out += s.slice(start, i);
        const e = s[i + 1];
        const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }[e];
        if (simple !== undefined) { out += simple; i += 2; }
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
          i += 6;
        } else { this.i = i; this.fail('bad escape in string'); }
        start = i;
      } else i++;
    }
    out += s.slice(start, i);
    this.i = i + 1;
    if (!isWellFormed(out)) { this.i = i; this.fail('string has a lone UTF-16 surrogate'); }
    return out;
  }

  number() {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.fail('malformed number');
    this.i += m[0].length;
    const next = this.s[this.i];
    if (next !== undefined && /[0-9.eE+-]/.test(next)) this.fail('malformed number');
    return m[0];
  }
}

/** @param {string} s */
function isWellFormed(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

// ------------------------------------------------------------------ writing

const HEX = '0123456789ABCDEF';

/** A JSON string literal escaped exactly as Jackson escapes it. @param {string} s */
export function quote(s) {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(start, i);
    start = i + 1;
    switch (c) {
      case 0x22: out += '\\"'; break;
      case 0x5c: out += '\\\\'; break;
      case 0x08: out += '\\b'; break;
      case 0x09: out += '\\t'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0c: out += '\\f'; break;
      case 0x0d: out += '\\r'; break;
      default: out += '\\u00' + HEX[c >> 4] + HEX[c & 15];
    }
  }
  return out + s.slice(start) + '"';
}

/**
 * PROTOCOL.md 1.2, the number rule: a JSON number is accepted iff it is finite as an IEEE-754
 * double, is not -0, and its value equals exactly the value of that double's shortest round-trip
 * decimal (what Number.prototype.toString writes). Returns the canonical text: an integer (no
 * fraction, no exponent) as written, any other number as Java's Double.toString lays out the
 * shortest digits ("1.0", "100.0", "2.0E23"). Anything else is a MalformedJsonError naming it.
 * spec/vectors/numbers.json pins it for both clients.
 * @param {string} raw a number in JSON syntax
 */
export function javaNumber(raw) {
  const x = Number(raw);
  if (!Number.isFinite(x)) throw new MalformedJsonError(`number ${shortened(raw)} is out of range: beyond the largest double (about 1.8E308)`);
  const integer = !/[.eE]/.test(raw);
  if (x === 0) {
    if (/[1-9]/.test(raw.split(/[eE]/)[0])) throw new MalformedJsonError(`number ${shortened(raw)} is out of range: closer to 0 than the smallest double`);
    if (raw[0] === '-') throw new MalformedJsonError(`number ${shortened(raw)} is -0, which is not accepted (it would come back as 0): send 0`);
    return integer ? '0' : '0.0';
  }
  const digits = raw[0] === '-' ? raw.length - 1 : raw.length;
  if (!(integer && digits <= 15) && decimalKey(raw) !== decimalKey(String(x))) {
    throw new MalformedJsonError(`number ${shortened(raw)} cannot be kept exactly: as a double it is ${javaDouble(x)}; send it as a string, or rounded`);
  }
  return integer ? raw : javaDouble(x);
}

/** @param {string} raw */
function shortened(raw) {
  return raw.length > 40 ? raw.slice(0, 40) + '...' : raw;
}

/**
 * A decimal number's exact value as "sign digits e exponent" with no leading or trailing zeros,
 * so two spellings are equal in value exactly when their keys are equal. @param {string} s
 */
function decimalKey(s) {
  const m = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(s);
  if (!m) throw new MalformedJsonError(`malformed number ${shortened(s)}`);
  const frac = m[3] || '';
  let digits = (m[2] + frac).replace(/^0+/, '');
  let exp = Number(m[4] || 0) - frac.length;
  if (digits === '') return '0';
  const trimmed = digits.replace(/0+$/, '');
  exp += digits.length - trimmed.length;
  digits = trimmed;
  return `${m[1]}${digits}e${exp}`;
}

/** Java's Double.toString for a finite double (with the shortest digits). @param {number} x */
export function javaDouble(x) {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const a = Math.abs(x);
  const [mant, expText] = a.toExponential().split('e');
  const digits = mant.replace('.', '');
  const exp = Number(expText);
  if (a >= 1e-3 && a < 1e7) {
    if (exp >= 0) {
      const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
      const frac = digits.slice(exp + 1);
      return sign + intPart + '.' + (frac || '0');
    }
    return sign + '0.' + '0'.repeat(-exp - 1) + digits;
  }
  return sign + digits[0] + '.' + (digits.slice(1) || '0') + 'E' + exp;
}

/** Compact Java-style JSON text of a node. @param {JsonNode} node @returns {string} */
export function writeNode(node) {
  switch (node.t) {
    case 'o': return '{' + node.m.map(([k, v]) => quote(k) + ':' + writeNode(v)).join(',') + '}';
    case 'a': return '[' + node.v.map(writeNode).join(',') + ']';
    case 's': return quote(node.v);
    case 'n': return javaNumber(node.v);
    case 'b': return node.v ? 'true' : 'false';
    default: return 'null';
  }
}

/** The plain JavaScript value of a node (integers beyond 2^53 lose precision). @param {JsonNode} node @returns {any} */
export function nodeValue(node) {
  switch (node.t) {
    case 'o': {
      /** @type {Record<string, any>} */
      const out = {};
      for (const [k, v] of node.m) out[k] = nodeValue(v);
      return out;
    }
    case 'a': return node.v.map(nodeValue);
    case 's': return node.v;
    case 'n': return Number(node.v);
    case 'b': return node.v;
    default: return null;
  }
}

/**
 * Normalizes JSON text to the engine's compact spelling.
 * @param {string} text @param {number} [maxDepth]
 */
export function normalize(text, maxDepth = MAX_DEPTH) {
  // Values from the server and from JSON.stringify are nearly always compact already: a scan that
  // proves it costs a fraction of a parse and a rewrite (a catch-up normalizes every value).
  if (typeof text === 'string' && compactEnd(text, 0, 0, maxDepth) === text.length) return text;
  return writeNode(parseNode(text, maxDepth));
}

/**
 * Where the value starting at `i` ends if it is spelled exactly as writeNode writes it, in the
 * simple cases (strings without escapes or surrogates, integers of at most 15 digits, literals,
 * objects with distinct member names, arrays, no whitespace); -1 otherwise, and then the full
 * parser decides (it also names the error).
 * @param {string} s @param {number} i @param {number} depth @param {number} maxDepth
 * @returns {number}
 */
function compactEnd(s, i, depth, maxDepth) {
  const c = s.charCodeAt(i);
  if (c === 0x22) return compactStringEnd(s, i);
  if (c === 0x7b || c === 0x5b) {
    if (depth + 1 > maxDepth) return -1;
    const object = c === 0x7b;
    const close = object ? 0x7d : 0x5d;
    i++;
    if (s.charCodeAt(i) === close) return i + 1;
    /** @type {Set<string>|null} */
    const names = object ? new Set() : null;
    for (;;) {
      if (names) {
        const end = compactStringEnd(s, i);
        if (end < 0 || s.charCodeAt(end) !== 0x3a) return -1;
        const name = s.slice(i + 1, end - 1);
        if (names.has(name)) return -1;
        names.add(name);
        i = end + 1;
      }
      i = compactEnd(s, i, depth + 1, maxDepth);
      if (i < 0) return -1;
      const d = s.charCodeAt(i);
      if (d === close) return i + 1;
      if (d !== 0x2c) return -1;
      i++;
    }
  }
  if (c === 0x74) return s.startsWith('true', i) ? i + 4 : -1;
  if (c === 0x66) return s.startsWith('false', i) ? i + 5 : -1;
  if (c === 0x6e) return s.startsWith('null', i) ? i + 4 : -1;
  // An integer as writeNode keeps it (javaNumber): no leading zero, not -0, at most 15 digits.
  let j = c === 0x2d ? i + 1 : i;
  const first = s.charCodeAt(j);
  if (first === 0x30) {
    if (j > i) return -1; // -0
    j++;
  } else if (first >= 0x31 && first <= 0x39) {
    const start = j;
    while (j < s.length && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x39) j++;
    if (j - start > 15) return -1;
  } else {
    return -1;
  }
  const next = s.charCodeAt(j);
  return next === 0x2e || next === 0x65 || next === 0x45 || (next >= 0x30 && next <= 0x39) ? -1 : j;
}

/** End of a string literal that needs no escapes and has no surrogates, or -1. @param {string} s @param {number} i */
function compactStringEnd(s, i) {
  if (s.charCodeAt(i) !== 0x22) return -1;
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c < 0x20 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return -1;
  }
  return -1;
}

/**
 * Compact JSON text of a JavaScript value, spelled as the engine spells it.
 * @param {unknown} value @param {number} [maxDepth]
 */
export function encodeValue(value, maxDepth = MAX_VALUE_DEPTH) {
  let text;
  try {
    // The number rule at write time: NaN and the infinities would become null and -0 would become 0.
    text = JSON.stringify(value, (_key, v) => {
      if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) {
        throw new RangeError(`value refused: it holds ${Object.is(v, -0) ? '-0' : String(v)}, which JSON cannot carry exactly`);
      }
      return v;
    });
  } catch (e) {
    if (e instanceof RangeError && e.message.startsWith('value refused')) throw e;
    throw new TypeError(`value is not JSON: ${/** @type {Error} */ (e).message}`);
  }
  if (text === undefined) throw new TypeError(`value is not JSON: ${typeof value}`);
  return normalize(text, maxDepth);
}

/** The JavaScript value of JSON text (null for null/undefined text). @param {string|null|undefined} text */
export function decodeValue(text) {
  return text == null ? undefined : JSON.parse(text);
}

/** @param {JsonNode|undefined} node @param {string} name */
export function member(node, name) {
  if (!node || node.t !== 'o') return undefined;
  for (const [k, v] of node.m) if (k === name) return v;
  return undefined;
}

// ------------------------------------------------------------------ names

const SECTION = /^[a-z][a-z0-9_-]{0,63}$/;

/** @param {unknown} section */
export function checkSection(section) {
  if (typeof section !== 'string' || !SECTION.test(section)) {
    throw new RangeError(`invalid section name '${section}': use 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter`);
  }
  return section;
}

/** @param {unknown} key @param {string} what */
export function checkKey(key, what) {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new RangeError(`invalid ${what} '${key}': must be 1-${MAX_KEY_LENGTH} characters`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(key)) {
    // eslint-disable-next-line no-control-regex
    throw new RangeError(`invalid ${what} '${key.replace(/[\u0000-\u001f]/g, '?')}': control characters are not allowed`);
  }
  if (!isWellFormed(key)) throw new RangeError(`invalid ${what}: lone UTF-16 surrogate`);
  return key;
}

// ------------------------------------------------------------------ changes

/**
 * One replicated operation, as in PROTOCOL.md 1.2. `value` is compact JSON text.
 * @typedef {{op:'set', section:string, key:string, value:string, stamp:string}
 *   | {op:'delete', section:string, key:string, stamp:string, value?: undefined}
 *   | {op:'append', section:string, stream:string, value:string, stamp:string}
 *   | {op:'clear', section:string, stream:string, stamp:string, value?: undefined}} Change
 * A clear with `stream` WHOLE_SECTION ('') clears a whole map section; on the wire it has no "stream".
 */

/** The stream of a whole-map-section clear (real streams are 1-512 characters), as Change.Clear.WHOLE_SECTION. */
export const WHOLE_SECTION = '';

/** The map key or log stream a change touches. @param {Change} c */
export function target(c) {
  return c.op === 'set' || c.op === 'delete' ? c.key : c.stream;
}

/** A string that identifies a change (same identity, same effect). @param {Change} c */
export function changeId(c) {
  return `${c.section}\u0000${target(c)}\u0000${c.stamp}\u0000${c.op}`;
}

/**
 * Builds and checks a change; value is compact JSON text. Throws MalformedChangeError.
 * `checked`: the caller already checked the section name and the stamp (a page decoder checks
 * each string of its table once).
 * @param {string} op @param {string} section @param {string} targetName @param {string|undefined} value @param {string} stamp
 * @param {boolean} [checked]
 * @returns {Change}
 */
export function makeChange(op, section, targetName, value, stamp, checked = false) {
  try {
    if (!checked) {
      checkSection(section);
      Stamp.parse(stamp);
    }
    if (op === 'set' || op === 'delete') checkKey(targetName, 'key');
    else if (op === 'append' || (op === 'clear' && targetName !== WHOLE_SECTION)) checkKey(targetName, 'stream');
    else if (op === 'clear') { /* a whole map section */ }
    else throw new MalformedChangeError(`unknown op '${op}': expected set, delete, append or clear`);
    if (value !== undefined) checkValueDepth(value);
  } catch (e) {
    if (e instanceof MalformedChangeError) throw e;
    throw new MalformedChangeError(`invalid '${op}' change: ${/** @type {Error} */ (e).message}`);
  }
  switch (op) {
    case 'set': return { op, section, key: targetName, value: /** @type {string} */ (value), stamp };
    case 'delete': return { op, section, key: targetName, stamp };
    case 'append': return { op, section, stream: targetName, value: /** @type {string} */ (value), stamp };
    default: return { op: 'clear', section, stream: targetName, stamp };
  }
}

/** Refuses JSON text nested deeper than MAX_VALUE_DEPTH (strings skipped). @param {string} json */
export function checkValueDepth(json) {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (++depth > MAX_VALUE_DEPTH) throw new RangeError(`value is nested deeper than ${MAX_VALUE_DEPTH} levels`);
    } else if (c === '}' || c === ']') depth--;
  }
  return json;
}

/** The change's JSON text, field order as ChangeJson writes it. @param {Change} c */
export function encodeChange(c) {
  let out = '{"op":' + quote(c.op) + ',"section":' + quote(c.section);
  if (c.op === 'set' || c.op === 'delete') out += ',"key":' + quote(c.key);
  else if (c.stream !== WHOLE_SECTION) out += ',"stream":' + quote(c.stream);
  if (c.op === 'set' || c.op === 'append') out += ',"value":' + c.value;
  return out + ',"stamp":' + quote(c.stamp) + '}';
}

/** Strictly decodes a change from JSON text. @param {string} json @returns {Change} */
export function decodeChange(json) {
  let node;
  try {
    node = parseNode(json);
  } catch (e) {
    throw new MalformedChangeError(`change is not valid JSON: ${/** @type {Error} */ (e).message}`);
  }
  return changeFromNode(node);
}

/** Strictly reads a change from a parsed node (the ChangeJson.read rules). @param {JsonNode} node @returns {Change} */
export function changeFromNode(node) {
  if (node.t !== 'o') throw new MalformedChangeError('a change must be a JSON object');
  /** @type {Record<string, string|undefined>} */
  const f = {};
  /** @type {string|undefined} */
  let value;
  for (const [name, v] of node.m) {
    switch (name) {
      case 'op': case 'section': case 'key': case 'stream': case 'stamp':
        if (v.t !== 's') throw new MalformedChangeError(`field '${name}' must be a string`);
        f[name] = v.v;
        break;
      case 'value':
        value = writeNode(v);
        break;
      default:
        throw new MalformedChangeError(`unknown field '${name}' in change`);
    }
  }
  const { op, section, key, stream, stamp } = f;
  if (op === undefined) throw new MalformedChangeError("change has no 'op'");
  if (stamp === undefined) throw new MalformedChangeError("change has no 'stamp'");
  const hasValue = value !== undefined;
  /** @param {boolean} ok @param {string} msg */
  const require = (ok, msg) => { if (!ok) throw new MalformedChangeError(msg); };
  switch (op) {
    case 'set':
      require(hasValue, "a 'set' change needs a 'value'");
      require(stream === undefined, "a 'set' change has a 'key', not a 'stream'");
      return makeChange(op, need(section, op, 'section'), need(key, op, 'key'), value, stamp);
    case 'delete':
      require(!hasValue, "a 'delete' change has no 'value'");
      require(stream === undefined, "a 'delete' change has a 'key', not a 'stream'");
      return makeChange(op, need(section, op, 'section'), need(key, op, 'key'), undefined, stamp);
    case 'append':
      require(hasValue, "an 'append' change needs a 'value'");
      require(key === undefined, "an 'append' change has a 'stream', not a 'key'");
      return makeChange(op, need(section, op, 'section'), need(stream, op, 'stream'), value, stamp);
    case 'clear':
      require(!hasValue, "a 'clear' change has no 'value'");
      require(key === undefined, "a 'clear' change has a 'stream' (a log stream) or nothing (a whole map section), not a 'key'");
      require(stream !== '', "a 'clear' change's 'stream' must not be empty; leave it out to clear a whole map section");
      return makeChange(op, need(section, op, 'section'), stream === undefined ? WHOLE_SECTION : stream, undefined, stamp);
    default:
      throw new MalformedChangeError(`unknown op '${op}': expected set, delete, append or clear`);
  }
}

/** @param {string|undefined} v @param {string} op @param {string} what @returns {string} */
function need(v, op, what) {
  if (v === undefined) throw new MalformedChangeError(`invalid '${op}' change: ${what} is missing`);
  return v;
}

// ------------------------------------------------------------------ canonical state and export

/**
 * The canonical encoding of the named sections of a state (CanonicalJson): sections, keys and
 * streams sorted by UTF-16 code units, tombstones and watermarks included.
 * @param {import('./crdt.js').ReplicaState} state
 * @param {Iterable<string>} [sections] default: every section that holds anything
 */
export function canonical(state, sections) {
  const names = [...new Set(sections ?? state.sections().keys())].sort();
  const parts = [];
  for (const name of names) {
    const kind = state.kind(name);
    if (!kind) continue;
    if (kind === 'map') {
      const entries = state.map(name).sorted().map(([key, e]) =>
        quote(key) + ':{"stamp":' + quote(e.stamp) + (e.value === null ? ',"deleted":true}' : ',"value":' + e.value + '}'));
      const mark = state.map(name).watermark;
      parts.push(quote(name) + ':{"kind":"map",' + (mark ? '"clearedUpTo":' + quote(mark) + ',' : '') + '"entries":{' + entries.join(',') + '}}');
    } else {
      const log = state.log(name);
      const streams = log.streams().map((stream) => {
        const mark = log.watermark(stream);
        const entries = log.entries(stream).map((e) => '{"stamp":' + quote(e.stamp) + ',"value":' + e.value + '}');
        return quote(stream) + ':{' + (mark ? '"clearedUpTo":' + quote(mark) + ',' : '') + '"entries":[' + entries.join(',') + ']}';
      });
      parts.push(quote(name) + ':{"kind":"log","streams":{' + streams.join(',') + '}}');
    }
  }
  return '{' + parts.join(',') + '}';
}

export const EXPORT_FORMAT = 'cairn-export';
export const EXPORT_VERSION = 1;

/** Java's Instant.toString for whole milliseconds: no ".000". @param {number} millis */
export function instantText(millis) {
  return new Date(millis).toISOString().replace('.000Z', 'Z');
}

/**
 * The export document (ExportDocument.write).
 * @param {string} replica @param {number} exportedAt millis @param {import('./crdt.js').ReplicaState} state @param {Iterable<string>} sections
 */
export function writeExport(replica, exportedAt, state, sections) {
  return '{"format":"cairn-export","version":1,"replica":' + quote(replica) + ',"exportedAt":' + quote(instantText(exportedAt))
    + ',"sections":' + canonical(state, sections) + '}';
}

/**
 * The changes of an export document; all-or-nothing, MalformedDocumentError for anything else.
 * @param {string} document @param {(section: string) => ('map'|'log'|undefined)} known
 * @returns {Change[]}
 */
export function readExport(document, known) {
  if (typeof document !== 'string' || document.trim() === '') throw new MalformedDocumentError('import file is empty');
  let root;
  try {
    root = parseNode(document);
  } catch (e) {
    throw new MalformedDocumentError(`import file is not valid JSON (truncated or corrupt?): ${/** @type {Error} */ (e).message}`);
  }
  if (root.t !== 'o') throw new MalformedDocumentError('import file is not a Cairn export: expected a JSON object');
  const format = member(root, 'format');
  if (!format || format.t !== 's' || format.v !== EXPORT_FORMAT) {
    throw new MalformedDocumentError(`import file is not a Cairn export (format is ${format && format.t === 's' ? `'${format.v}'` : 'missing'})`);
  }
  const version = member(root, 'version');
  if (!version || version.t !== 'n' || !/^-?\d+$/.test(version.v)) throw new MalformedDocumentError("import file has no valid 'version'");
  if (Number(version.v) !== EXPORT_VERSION) {
    throw new MalformedDocumentError(`export version ${version.v} is not supported; this client reads version ${EXPORT_VERSION}`);
  }
  return readSections(member(root, 'sections'), known);
}

/**
 * The changes of a canonical "sections" object, checked against the known sections.
 * @param {JsonNode|undefined} sections @param {(section: string) => ('map'|'log'|undefined)} known
 * @returns {Change[]}
 */
export function readSections(sections, known) {
  if (!sections || sections.t !== 'o') throw new MalformedDocumentError("import file has no 'sections' object");
  /** @type {Change[]} */
  const out = [];
  for (const [name, body] of sections.m) {
    const kind = known(name);
    if (!kind) throw new MalformedDocumentError(`import file has unknown section '${name}'; register it before importing`);
    const fileKind = member(body, 'kind');
    const fk = fileKind && fileKind.t === 's' ? fileKind.v : '';
    if (fk !== kind) throw new MalformedDocumentError(`section '${name}' is a ${kind} section but the file says '${fk}'`);
    try {
      if (kind === 'map') {
        const mark = member(body, 'clearedUpTo');
        if (mark !== undefined) {
          if (mark.t !== 's') throw new MalformedDocumentError(`entry of '${name}' has no 'stamp'`);
          out.push(makeChange('clear', name, WHOLE_SECTION, undefined, stampText(mark.v, name)));
        }
        for (const [key, entry] of object(body, 'entries', name).m) {
          const where = `${name}/${key}`;
          const stamp = stampOf(entry, where);
          const deleted = member(entry, 'deleted');
          const isDeleted = deleted !== undefined && deleted.t === 'b' && deleted.v;
          const value = member(entry, 'value');
          if (isDeleted === (value !== undefined)) {
            throw new MalformedDocumentError(`entry '${where}' needs exactly one of 'value' or "deleted":true`);
          }
          out.push(makeChange(isDeleted ? 'delete' : 'set', name, key, value && writeNode(value), stamp));
        }
      } else {
        for (const [stream, body2] of object(body, 'streams', name).m) {
          // checked here: the empty name would turn a log watermark into a whole-map-section clear
          checkKey(stream, 'stream name');
          const where = `${name}/${stream}`;
          const mark = member(body2, 'clearedUpTo');
          if (mark !== undefined) {
            if (mark.t !== 's') throw new MalformedDocumentError(`entry of '${where}' has no 'stamp'`);
            out.push(makeChange('clear', name, stream, undefined, stampText(mark.v, where)));
          }
          const entries = member(body2, 'entries');
          if (!entries || entries.t !== 'a') throw new MalformedDocumentError(`stream '${where}' has no 'entries' array`);
          for (const entry of entries.v) {
            const value = member(entry, 'value');
            if (value === undefined) throw new MalformedDocumentError(`an entry of stream '${where}' has no 'value'`);
            out.push(makeChange('append', name, stream, writeNode(value), stampOf(entry, where)));
          }
        }
      }
    } catch (e) {
      if (e instanceof MalformedDocumentError) throw e;
      throw new MalformedDocumentError(`section '${name}' is invalid: ${/** @type {Error} */ (e).message}`);
    }
  }
  return out;
}

/** @param {JsonNode} body @param {string} field @param {string} section */
function object(body, field, section) {
  const node = member(body, field);
  if (!node || node.t !== 'o') throw new MalformedDocumentError(`section '${section}' has no '${field}' object`);
  return node;
}

/** @param {JsonNode} entry @param {string} where */
function stampOf(entry, where) {
  if (!entry || entry.t !== 'o') throw new MalformedDocumentError(`entry of '${where}' is not an object`);
  const s = member(entry, 'stamp');
  if (!s || s.t !== 's') throw new MalformedDocumentError(`entry of '${where}' has no 'stamp'`);
  return stampText(s.v, where);
}

/** @param {string} text @param {string} where */
function stampText(text, where) {
  try {
    return Stamp.parse(text).toString();
  } catch (e) {
    throw new MalformedDocumentError(`entry of '${where}': ${/** @type {Error} */ (e).message}`);
  }
}
