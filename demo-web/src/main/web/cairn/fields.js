// Field-wise storage and versions of a persistent value (spec/vectors/values/README.md), the rules
// the JVM's PersistentState follows too. Pure: entries in, a value or the changes to make out;
// StateHandle (handles.js) caches reads and makes the writes.
//
// A value under key K is a root entry K (a head {"$cairn":"fields","version":N}, a versioned whole
// value {"$cairn":"value","version":N,"value":X}, or a plain whole value) plus field entries
// K#a#b (member names escaped: '~' -> '~0', '#' -> '~1'), one per leaf of a non-empty object.

import { encodeValue, parseNode, MAX_KEY_LENGTH } from './codec.js';

/** Leaves lie at most this many member names below the root (the deepest key is K#a#b#c#d). */
export const MAX_FIELD_DEPTH = 4;

/** @typedef {'fields'|'whole'} MergeMode */
/** A live map entry: its key, its value as compact JSON text, its stamp. @typedef {{key: string, value: string, stamp: string}} StoredEntry */
/** One change of a write, before it is stamped. @typedef {{op: 'set', key: string, value: string} | {op: 'delete', key: string}} PlannedChange */
/**
 * What the root entry is.
 * @typedef {{kind: 'head', version: number} | {kind: 'versioned', version: number, value: unknown} | {kind: 'plain'}} RootForm
 */
/**
 * The stored value as read (README "Reading", steps 1-3): absent, or the value and its stored version
 * (`assembled`: built from field entries, so defaults merge into it).
 * @typedef {{absent: true} | {absent: false, value: unknown, version: number, assembled: boolean}} StoredRead
 */
/**
 * A read with versions and defaults (steps 1-5).
 * @typedef {{state: 'absent'}
 *   | {state: 'value', value: unknown, stored: unknown, version: number, migrated: boolean, newer: boolean}
 *   | {state: 'unreadable', error: UnreadableValueError}} ValueRead
 */
/**
 * @typedef {object} ReadOptions
 * @property {number} [version] the app's version A (default 0)
 * @property {(old: any, fromVersion: number) => unknown} [migrate]
 * @property {boolean} [hasDefault] merge `defaultValue` into an assembled object
 * @property {unknown} [defaultValue]
 */

/** The stored value cannot be read: assembly failed or `migrate` threw. Code 'unreadable-value'. */
export class UnreadableValueError extends Error {
  /** @param {string} key @param {string} why @param {unknown} [cause] */
  constructor(key, why, cause) {
    super(`the stored value of '${key}' cannot be read (${why}); the default is used and the stored entries are kept until the app writes`, cause === undefined ? undefined : { cause });
    this.name = 'UnreadableValueError';
    this.code = 'unreadable-value';
    this.key = key;
  }
}

/** The stored value was written by a newer app version. Code 'newer-version'. */
export class StoredByNewerVersionError extends Error {
  /** @param {string} key @param {number} stored @param {number} app */
  constructor(key, stored, app) {
    super(`the value of '${key}' was stored by version ${stored} of the app, newer than this one (${app}): it is read as is, fields this version does not know are kept, and its writes delete nothing`);
    this.name = 'StoredByNewerVersionError';
    this.code = 'newer-version';
    this.key = key;
    this.storedVersion = stored;
    this.appVersion = app;
  }
}

// ------------------------------------------------------------------ names and splitting

/** @param {string} name */
export function escapeName(name) {
  return name.replace(/~/g, '~0').replace(/#/g, '~1');
}

/** The member name of one field key segment; a '~' not followed by 0 or 1 is kept as it is (as the JVM reads it). @param {string} segment */
function unescapeSegment(segment) {
  return segment.includes('~') ? segment.replace(/~([01])/g, (_m, c) => (c === '0' ? '~' : '#')) : segment;
}

/** A plain JSON object (not an array, not null). @param {unknown} v @returns {v is Record<string, unknown>} */
export function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Whether `obj` may be split into entries under `at`: non-empty, member names without C0 characters, keys that fit. @param {string} at @param {Record<string, unknown>} obj */
function splittable(at, obj) {
  const names = Object.keys(obj);
  if (names.length === 0) return false;
  for (const n of names) {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f]/.test(n)) return false;
    if (at.length + 1 + escapeName(n).length > MAX_KEY_LENGTH) return false;
  }
  return true;
}

/**
 * The field entries of a JSON value under `key` (sorted by key), or null when it is not a non-empty
 * splittable object (then it is stored whole).
 * @param {string} key @param {unknown} value a JSON value (as JSON.parse gives) @returns {Array<[string, string]>|null}
 */
export function leavesOf(key, value) {
  if (!isObject(value) || !splittable(key, value)) return null;
  /** @type {Array<[string, string]>} */
  const out = [];
  collect(key, value, 0, out);
  return out.sort((a, b) => compareKeys(a[0], b[0]));
}

/** @param {string} at @param {Record<string, unknown>} obj @param {number} depth path length of obj @param {Array<[string, string]>} out */
function collect(at, obj, depth, out) {
  for (const name of Object.keys(obj)) {
    const k = `${at}#${escapeName(name)}`;
    const v = obj[name];
    if (isObject(v) && depth + 1 < MAX_FIELD_DEPTH && splittable(k, v)) collect(k, v, depth + 1, out);
    else out.push([k, encodeValue(v)]);
  }
}

/** Map key order (UTF-16 code units, like the engine's TreeMap). @param {string} a @param {string} b */
export function compareKeys(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A value as JSON sees it (undefined members dropped, toJSON applied, numbers checked). @param {unknown} value */
export function plainJson(value) {
  return JSON.parse(encodeValue(value));
}

// ------------------------------------------------------------------ reading

/** The largest version a head or versioned whole value may carry (a Java int, as the engine reads it). */
export const MAX_VERSION = 2147483647;

/**
 * What a root entry's text is: a head (exactly `$cairn: "fields"`, `version`, in this order), a
 * versioned whole value (exactly `$cairn: "value"`, `version` at least 1, `value`, in this order),
 * or a plain whole value. `version` is a JSON integer (digits only) up to MAX_VERSION.
 * @param {string} text @returns {RootForm}
 */
export function rootForm(text) {
  if (!text.startsWith('{"$cairn":')) return { kind: 'plain' };
  const node = parseNode(text);
  if (node.t !== 'o' || node.m.length < 2 || node.m[0][0] !== '$cairn' || node.m[1][0] !== 'version') return { kind: 'plain' };
  const tag = node.m[0][1];
  const version = node.m[1][1];
  if (tag.t !== 's' || version.t !== 'n' || !/^(0|[1-9][0-9]{0,9})$/.test(version.v) || Number(version.v) > MAX_VERSION) return { kind: 'plain' };
  const n = Number(version.v);
  if (tag.v === 'fields' && node.m.length === 2) return { kind: 'head', version: n };
  if (tag.v === 'value' && node.m.length === 3 && node.m[2][0] === 'value' && n >= 1) return { kind: 'versioned', version: n, value: JSON.parse(text).value };
  return { kind: 'plain' };
}

/**
 * The live entries of `key` sorted: its root (or null) and its field entries; and whether the root
 * is a whole value that wins over every field entry (README "Reading", step 2 at the root).
 * @param {string} key @param {Iterable<StoredEntry>} entries
 */
export function resolveRoot(key, entries) {
  const prefix = `${key}#`;
  /** @type {StoredEntry|null} */
  let root = null;
  /** @type {StoredEntry[]} */
  const fields = [];
  let latest = '';
  for (const e of entries) {
    if (e.value === null) continue;
    if (e.key === key) root = e;
    else if (e.key.startsWith(prefix)) {
      fields.push(e);
      if (e.stamp > latest) latest = e.stamp;
    }
  }
  fields.sort((a, b) => compareKeys(a.key, b.key));
  const form = root ? rootForm(root.value) : null;
  // At equal stamps (only a reused stamp) the subtree wins, here and below.
  const wholeWins = !!root && form?.kind !== 'head' && (fields.length === 0 || root.stamp > latest);
  const version = form?.kind === 'head' || (wholeWins && form?.kind === 'versioned') ? /** @type {{version: number}} */ (form).version : 0;
  return { root, form, fields, wholeWins, version };
}

/**
 * The stored value (README "Reading", steps 1-3). Throws UnreadableValueError when a field key
 * is malformed.
 * @param {string} key @param {Iterable<StoredEntry>} entries @returns {StoredRead}
 */
export function readStored(key, entries) {
  const r = resolveRoot(key, entries);
  if (!r.root && r.fields.length === 0) return { absent: true };
  if (r.wholeWins) {
    const root = /** @type {StoredEntry} */ (r.root);
    const value = r.form?.kind === 'versioned' ? r.form.value : JSON.parse(root.value);
    return { absent: false, value, version: r.version, assembled: false };
  }
  return { absent: false, value: assemble(key, r.fields), version: r.version, assembled: true };
}

/** @typedef {{name: string, leaf: StoredEntry|null, children: Map<string, TrieNode>, latest: string}} TrieNode */

/**
 * The object of the field entries (sorted by key): at each path, a leaf or the subtree under it,
 * whichever holds the greatest stamp. Members come in the map's key order (first appearance).
 * @param {string} key @param {StoredEntry[]} fields
 */
function assemble(key, fields) {
  /** @type {TrieNode} */
  const top = { name: '', leaf: null, children: new Map(), latest: '' };
  for (const e of fields) {
    let node = top;
    for (const seg of e.key.slice(key.length + 1).split('#')) {
      let child = node.children.get(seg);
      if (!child) {
        child = { name: unescapeSegment(seg), leaf: null, children: new Map(), latest: '' };
        node.children.set(seg, child);
      }
      if (e.stamp > child.latest) child.latest = e.stamp;
      node = child;
    }
    node.leaf = e;
  }
  return objectOf(top);
}

/** @param {TrieNode} node */
function valueOf(node) {
  if (node.leaf) {
    let below = '';
    for (const c of node.children.values()) if (c.latest > below) below = c.latest;
    if (node.children.size === 0 || node.leaf.stamp > below) return JSON.parse(node.leaf.value);
  }
  return objectOf(node);
}

/** @param {TrieNode} node */
function objectOf(node) {
  /** @type {Record<string, unknown>} */
  const obj = {};
  for (const c of node.children.values()) define(obj, c.name, valueOf(c));
  return obj;
}

/** Sets an own member, '__proto__' included. @param {Record<string, unknown>} obj @param {string} name @param {unknown} value */
function define(obj, name, value) {
  Object.defineProperty(obj, name, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The default deep-merged with a stored object: stored members win, objects merge member by
 * member, arrays and scalars replace.
 * @param {unknown} defaults @param {unknown} stored @returns {unknown}
 */
export function withDefaults(defaults, stored) {
  if (!isObject(defaults) || !isObject(stored)) return stored;
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [k, v] of Object.entries(defaults)) define(out, k, v);
  for (const [k, v] of Object.entries(stored)) define(out, k, Object.hasOwn(defaults, k) ? withDefaults(defaults[k], v) : v);
  return out;
}

/**
 * Reads a value with versions and defaults (README "Reading", steps 1-5), without writing: the
 * caller writes a migrated value back (`migrated`) and reports a newer version (`newer`).
 * @param {string} key @param {Iterable<StoredEntry>} entries @param {ReadOptions} [options] @returns {ValueRead}
 */
export function readValue(key, entries, options = {}) {
  const app = options.version ?? 0;
  /** @type {StoredRead} */
  let stored;
  try {
    stored = readStored(key, entries);
  } catch (e) {
    if (e instanceof UnreadableValueError) return { state: 'unreadable', error: e };
    return { state: 'unreadable', error: new UnreadableValueError(key, String(/** @type {Error} */ (e)?.message ?? e), e) };
  }
  if (stored.absent) return { state: 'absent' };
  let value = stored.value;
  const migrated = stored.version < app;
  if (migrated && options.migrate) {
    try {
      value = options.migrate(value, stored.version);
    } catch (e) {
      return { state: 'unreadable', error: new UnreadableValueError(key, `migrate from version ${stored.version} threw: ${/** @type {Error} */ (e)?.message ?? e}`, e) };
    }
    if (value === undefined || value === null) {
      return { state: 'unreadable', error: new UnreadableValueError(key, `migrate from version ${stored.version} returned ${value}`) };
    }
  }
  const merged = stored.assembled && options.hasDefault ? withDefaults(options.defaultValue, value) : value;
  return { state: 'value', value: merged, stored: value, version: stored.version, migrated, newer: stored.version > app };
}

// ------------------------------------------------------------------ writing

/**
 * @typedef {object} WriteOptions
 * @property {number} [version] the app's version A (default 0)
 * @property {MergeMode} [merge] default 'fields'
 * @property {boolean} [everythingKnown] every live stored entry is known (a migration's write-back, or any write before it)
 */

/**
 * The changes that store `next` (README "Writing"), sorted by key; empty when the stored entries
 * already hold it. `known` is the value the app last read (its leaves are the fields it knows);
 * `everythingKnown`: every live stored entry is (a write while the stored version is below the app's).
 * @param {string} key @param {Iterable<StoredEntry>} entries live entries of the key (others are ignored)
 * @param {unknown} known @param {unknown} next a JSON value, not null @param {WriteOptions} [options]
 * @returns {PlannedChange[]}
 */
export function planWrite(key, entries, known, next, options = {}) {
  const app = options.version ?? 0;
  const r = resolveRoot(key, entries);
  const newer = r.version > app;
  /** @type {Map<string, string>} */
  const live = new Map(r.fields.map((e) => [e.key, e.value]));
  /** @type {Set<string>} */
  const knownKeys = options.everythingKnown ? new Set(live.keys()) : new Set((leavesOf(key, known) ?? []).map(([k]) => k));
  const leaves = (options.merge ?? 'fields') === 'fields' ? leavesOf(key, next) : null;
  /** @type {PlannedChange[]} */
  const out = [];
  if (leaves) {
    const fresh = new Map(leaves);
    /** Keys strictly above a new leaf (a stored leaf there would be replaced by a subtree). */
    const above = new Set();
    for (const [k] of leaves) for (let i = k.lastIndexOf('#'); i > key.length; i = k.lastIndexOf('#', i - 1)) above.add(k.slice(0, i));
    for (const [k, text] of leaves) {
      const stored = live.get(k);
      if (stored === undefined || !sameText(stored, text)) out.push({ op: 'set', key: k, value: text });
    }
    if (!newer) {
      for (const k of live.keys()) {
        if (!fresh.has(k) && (within(k, key, knownKeys) || above.has(k))) out.push({ op: 'delete', key: k });
      }
    }
    const head = encodeValue({ $cairn: 'fields', version: app });
    if (r.root?.value !== head && !(newer && r.form?.kind === 'head')) out.push({ op: 'set', key, value: head });
  } else {
    out.push({ op: 'set', key, value: app === 0 ? encodeValue(next) : encodeValue({ $cairn: 'value', version: app, value: next }) });
    if (!newer) for (const k of live.keys()) if (within(k, key, knownKeys)) out.push({ op: 'delete', key: k });
  }
  return out.sort((a, b) => compareKeys(a.key, b.key));
}

/** Whether field key `k` equals, or lies under, one of `keys`. @param {string} k @param {string} key @param {{has: (k: string) => boolean}} keys */
function within(k, key, keys) {
  if (keys.has(k)) return true;
  for (let i = k.lastIndexOf('#'); i > key.length; i = k.lastIndexOf('#', i - 1)) if (keys.has(k.slice(0, i))) return true;
  return false;
}

/**
 * Whether stored text already holds a leaf: the same text, or the same JSON once read here
 * (JavaScript lists integer-like member names first, so a stored order it cannot keep is no change).
 * @param {string} stored @param {string} text
 */
function sameText(stored, text) {
  if (stored === text) return true;
  try {
    return encodeValue(JSON.parse(stored)) === text;
  } catch {
    return false;
  }
}
