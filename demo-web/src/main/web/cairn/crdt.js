// The CRDTs: the JavaScript twin of dev.cairn.engine.crdt.{LwwEntry,LwwMap,GrowOnlyLog,ReplicaState}.
// Pure: no I/O, no clock. Stamps are their text forms (string order is stamp order) and values are
// compact JSON text (see codec.js), so the merge rules below are the Java ones, tie-breaks included.

import { target, WHOLE_SECTION } from './codec.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {'map'|'log'} SectionKind */

/**
 * One register of an LwwMap: a value (compact JSON text) or a tombstone (value === null).
 * @typedef {{value: string|null, stamp: string}} LwwEntry
 */

/**
 * True if `a` wins over `b` (false when they are equal). The greater stamp wins; at equal stamps
 * (only a reused or forged stamp can do that) a value beats a tombstone and the greater value text
 * wins, so every replica picks the same entry.
 * @param {LwwEntry} a @param {LwwEntry} b
 */
export function beats(a, b) {
  if (a.stamp !== b.stamp) return a.stamp > b.stamp;
  if (a.value === b.value) return false;
  if (b.value === null) return true;
  return a.value !== null && textGreater(a.value, b.value);
}

/**
 * Tie-break order of value texts: Unicode code points (= UTF-8 bytes, PostgreSQL's COLLATE "C"),
 * as the engine's TextOrder. `>` on strings compares UTF-16 code units, which differs for
 * characters above U+FFFF against U+E000..U+FFFF.
 * @param {string} a @param {string} b
 */
export function textGreater(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) > fixup(y);
  }
  return a.length > b.length;
}

/** Surrogates above U+E000..U+FFFF, so comparing units compares code points. @param {number} c */
function fixup(c) {
  if (c < 0xd800) return c;
  return c >= 0xe000 ? c - 0x800 : c + 0x2000;
}

/**
 * Last-writer-wins map: key to LwwEntry; a delete is a tombstone, so it beats older writes that
 * arrive later. Merge rule per key: `beats`; plus a whole-map "cleared up to" watermark (a max
 * register) that hides and purges every entry stamped at or below it and drops such entries arriving
 * later. Commutative, associative, idempotent. A single delete's tombstone stays until a clear covers it.
 * Caveat: concurrent writes to one key within clock skew keep only one of them; that is why
 * records are stored field by field.
 */
export class LwwMap {
  constructor() {
    /** @type {Map<string, LwwEntry>} */
    this.entries = new Map();
    this.live = 0;
    /** @type {string|undefined} the clear watermark */
    this.watermark = undefined;
  }

  /** Merges one entry; true if it became the key's winner. @param {string} key @param {LwwEntry} entry */
  apply(key, entry) {
    if (this.watermark !== undefined && entry.stamp <= this.watermark) return false;
    const current = this.entries.get(key);
    if (current && !beats(entry, current)) return false;
    this.entries.set(key, { value: entry.value, stamp: entry.stamp });
    this.live += (entry.value === null ? 0 : 1) - (!current || current.value === null ? 0 : 1);
    return true;
  }

  /**
   * Merges many entries at once, as `apply` one by one (the device read at open): `values` null
   * for tombstones. One entry object per key kept, no change objects.
   * @param {string[]} keys @param {string[]} stamps @param {string[]|null} values
   */
  applyMany(keys, stamps, values) {
    const mark = this.watermark;
    for (let i = 0; i < keys.length; i++) {
      const stamp = stamps[i];
      if (mark !== undefined && stamp <= mark) continue;
      const entry = { value: values ? values[i] : null, stamp };
      const current = this.entries.get(keys[i]);
      if (current && !beats(entry, current)) continue;
      this.entries.set(keys[i], entry);
      this.live += (entry.value === null ? 0 : 1) - (!current || current.value === null ? 0 : 1);
    }
  }

  /**
   * Removes the key's entry if it is still the one with this stamp, leaving no tombstone, so an
   * older entry can win again: a refused change rolled back (space.js dropRefused), never a change
   * any server has. True if it was removed. @param {string} key @param {string} stamp
   */
  forget(key, stamp) {
    const current = this.entries.get(key);
    if (!current || current.stamp !== stamp) return false;
    this.entries.delete(key);
    if (current.value !== null) this.live--;
    return true;
  }

  /** Raises the clear watermark and purges what it hides; true if it moved. @param {string} upTo */
  clear(upTo) {
    if (this.watermark !== undefined && upTo <= this.watermark) return false;
    this.watermark = upTo;
    for (const [k, e] of [...this.entries]) {
      if (e.stamp <= upTo) {
        this.entries.delete(k);
        if (e.value !== null) this.live--;
      }
    }
    return true;
  }

  /** The winning entry (tombstones included), or undefined. @param {string} key */
  entry(key) {
    return this.entries.get(key);
  }

  /** The live value text, or null if absent or deleted. @param {string} key */
  value(key) {
    const e = this.entries.get(key);
    return e ? e.value : null;
  }

  liveSize() {
    return this.live;
  }

  size() {
    return this.entries.size;
  }

  /** Entries sorted by key (UTF-16 code units, like Java's TreeMap). @returns {Array<[string, LwwEntry]>} */
  sorted() {
    return [...this.entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /** @param {LwwMap} other */
  mergeFrom(other) {
    if (other.watermark !== undefined) this.clear(other.watermark);
    for (const [k, e] of other.entries) this.apply(k, e);
  }
}

/**
 * @typedef {{stream: string, stamp: string, value: string}} LogEntry
 */

/**
 * Grow-only log of immutable entries in named streams, each ordered by stamp, with a per-stream
 * "cleared up to" watermark. Entries are a set union keyed by stamp (at an equal stamp the greater
 * value text wins); the watermark is a max register; entries at or below it are hidden and purged.
 * Caveat: a clear hides concurrent appends with lower stamps, as if written before the clear.
 */
export class GrowOnlyLog {
  constructor() {
    /** @type {Map<string, Map<string, string>>} stream -> stamp -> value */
    this.streamsMap = new Map();
    /** @type {Map<string, string>} */
    this.marks = new Map();
    this.count = 0;
  }

  /** Adds an entry; true if it is new and visible (or replaced a smaller value at the same stamp). */
  append(/** @type {string} */ stream, /** @type {string} */ stamp, /** @type {string} */ value) {
    const mark = this.marks.get(stream);
    if (mark !== undefined && stamp <= mark) return false;
    let entries = this.streamsMap.get(stream);
    if (!entries) {
      entries = new Map();
      this.streamsMap.set(stream, entries);
    }
    const existing = entries.get(stamp);
    if (existing === undefined) {
      entries.set(stamp, value);
      this.count++;
      return true;
    }
    if (textGreater(value, existing)) {
      entries.set(stamp, value);
      return true;
    }
    return false;
  }

  /** Removes the entry with this stamp (a refused append rolled back, as LwwMap.forget); true if there was one. @param {string} stream @param {string} stamp */
  forget(stream, stamp) {
    const entries = this.streamsMap.get(stream);
    if (!entries || !entries.delete(stamp)) return false;
    this.count--;
    if (entries.size === 0) this.streamsMap.delete(stream);
    return true;
  }

  /** Raises the watermark and purges what it hides; true if it moved. @param {string} stream @param {string} upTo */
  clear(stream, upTo) {
    const mark = this.marks.get(stream);
    if (mark !== undefined && upTo <= mark) return false;
    this.marks.set(stream, upTo);
    const entries = this.streamsMap.get(stream);
    if (entries) {
      for (const stamp of [...entries.keys()]) {
        if (stamp <= upTo) {
          entries.delete(stamp);
          this.count--;
        }
      }
      if (entries.size === 0) this.streamsMap.delete(stream);
    }
    return true;
  }

  /** @param {string} stream @returns {string|undefined} */
  watermark(stream) {
    return this.marks.get(stream);
  }

  /** Streams with visible entries or a watermark, sorted. */
  streams() {
    return [...new Set([...this.streamsMap.keys(), ...this.marks.keys()])].sort();
  }

  /** Visible entries of a stream, oldest first. @param {string} stream @returns {LogEntry[]} */
  entries(stream) {
    const entries = this.streamsMap.get(stream);
    if (!entries) return [];
    return [...entries.keys()].sort().map((stamp) => ({ stream, stamp, value: /** @type {string} */ (entries.get(stamp)) }));
  }

  /** @param {string} [stream] */
  size(stream) {
    if (stream === undefined) return this.count;
    return this.streamsMap.get(stream)?.size ?? 0;
  }

  /** @param {GrowOnlyLog} other */
  mergeFrom(other) {
    for (const [s, m] of other.marks) this.clear(s, m);
    for (const [s, entries] of other.streamsMap) for (const [stamp, v] of entries) this.append(s, stamp, v);
  }
}

export class UnknownSectionError extends RangeError {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'UnknownSectionError';
  }
}

/**
 * All sections of one replica's state. Applying the same set of changes in any order, with any
 * duplicates, yields byte-identical canonical encodings.
 */
export class ReplicaState {
  /** @param {(section: string) => (SectionKind|undefined)} kinds */
  constructor(kinds) {
    this.kinds = kinds;
    /** @type {Map<string, LwwMap>} */
    this.maps = new Map();
    /** @type {Map<string, GrowOnlyLog>} */
    this.logs = new Map();
  }

  /** Checks that a change fits the known sections, without applying it. @param {Change} change */
  check(change) {
    const kind = this.kinds(change.section);
    if (!kind) throw new UnknownSectionError(`unknown section '${change.section}'`);
    const needed = change.op === 'set' || change.op === 'delete' || (change.op === 'clear' && change.stream === WHOLE_SECTION) ? 'map' : 'log';
    if (kind !== needed) {
      throw new UnknownSectionError(`section '${change.section}' is a ${kind} section; a ${needed} change cannot apply to it`);
    }
  }

  /** Merges one change; true if the visible state changed. @param {Change} change */
  apply(change) {
    this.check(change);
    switch (change.op) {
      case 'set': return this.map(change.section).apply(change.key, { value: change.value, stamp: change.stamp });
      case 'delete': return this.map(change.section).apply(change.key, { value: null, stamp: change.stamp });
      case 'append': return this.log(change.section).append(change.stream, change.stamp, change.value);
      default:
        if (change.stream === WHOLE_SECTION) return this.map(change.section).clear(change.stamp);
        return this.log(change.section).clear(change.stream, change.stamp);
    }
  }

  /** @param {string} section */
  kind(section) {
    return this.kinds(section);
  }

  /** @param {string} section */
  map(section) {
    let m = this.maps.get(section);
    if (!m) {
      m = new LwwMap();
      this.maps.set(section, m);
    }
    return m;
  }

  /** @param {string} section */
  log(section) {
    let l = this.logs.get(section);
    if (!l) {
      l = new GrowOnlyLog();
      this.logs.set(section, l);
    }
    return l;
  }

  /** Sections that hold anything, sorted, with their kinds. @returns {Map<string, SectionKind>} */
  sections() {
    /** @type {Array<[string, SectionKind]>} */
    const out = [];
    for (const [name, m] of this.maps) if (m.size() > 0 || m.watermark !== undefined) out.push([name, 'map']);
    for (const [name, l] of this.logs) if (l.size() > 0 || l.marks.size > 0) out.push([name, 'log']);
    return new Map(out.sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  }

  /** Live map keys or visible log entries of a section. @param {string} section */
  liveSize(section) {
    if (this.kinds(section) === 'map') return this.maps.get(section)?.liveSize() ?? 0;
    return this.logs.get(section)?.size() ?? 0;
  }

  /**
   * Every change that rebuilds a section (the state as changes: entries, tombstones, watermarks).
   * @param {string} section @returns {Change[]}
   */
  changesOf(section) {
    /** @type {Change[]} */
    const out = [];
    if (this.kinds(section) === 'map') {
      const mark = this.map(section).watermark;
      if (mark !== undefined) out.push({ op: 'clear', section, stream: WHOLE_SECTION, stamp: mark });
      for (const [key, e] of this.map(section).entries) {
        out.push(e.value === null ? { op: 'delete', section, key, stamp: e.stamp } : { op: 'set', section, key, value: e.value, stamp: e.stamp });
      }
    } else {
      const log = this.log(section);
      for (const stream of log.streams()) {
        const mark = log.watermark(stream);
        if (mark) out.push({ op: 'clear', section, stream, stamp: mark });
        for (const e of log.entries(stream)) out.push({ op: 'append', section, stream, value: e.value, stamp: e.stamp });
      }
    }
    return out;
  }
}

export { target };
