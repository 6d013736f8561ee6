// Runs every case of spec/vectors/values/*.json (the layout of persistent values: fields, versions),
// which the JVM engine runs too (FieldVectorsTest). Read cases go through readValue, write cases
// through planWrite: the pure rules of fields.js that StateHandle caches and writes with.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeValue } from '../../main/web/cairn/codec.js';
import { readValue, readStored, planWrite, plainJson } from '../../main/web/cairn/fields.js';

/** Walks up from this file to the repository's spec/vectors/values. */
function valuesDir() {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'spec', 'vectors', 'values');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error('no spec/vectors/values directory above ' + fileURLToPath(import.meta.url));
  }
}

const dir = valuesDir();
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('the value vector files exist', () => {
  assert.ok(files.includes('versions.json'), `versions.json in ${dir}`);
});

for (const file of files) {
  const root = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  describe(`values/${file}`, () => {
    assert.ok(Array.isArray(root.cases) && root.cases.length > 0, `${file}: needs cases`);
    assert.equal(new Set(root.cases.map((/** @type {any} */ c) => c.name)).size, root.cases.length, `${file}: case names are unique`);
    for (const c of root.cases) {
      if (c.read !== undefined) test(c.name, () => readCase(c));
      else if (c.write !== undefined) test(c.name, () => writeCase(c));
      else test(c.name, () => assert.fail(`${file}: case '${c.name}' has neither 'read' nor 'write'`));
    }
  });
}

/** The stored entries of a case, values as compact JSON text. @param {any} c */
function entriesOf(c) {
  return (c.stored ?? []).map((/** @type {any} */ e) => ({ key: e.key, value: encodeValue(e.value), stamp: e.stamp }));
}

/** @param {any} c */
function readCase(c) {
  const options = c.options ?? {};
  /** @type {number[]} */
  const calls = [];
  const r = readValue(c.key, entriesOf(c), {
    version: options.version ?? 0,
    // returns the old value unchanged (or throws, with options.migrate "throw") and records the version it was called with
    migrate: (/** @type {unknown} */ old, /** @type {number} */ from) => {
      calls.push(from);
      if (options.migrate === 'throw') throw new Error("the vector's migration throws");
      return old;
    },
    hasDefault: 'default' in options,
    defaultValue: options.default,
  });
  const want = c.read;
  if (want.absent) {
    assert.equal(r.state, 'absent');
  } else if (want.error === 'newer-version') {
    // read as is, and the app is told
    assert.equal(r.state, 'value');
    assert.ok(/** @type {any} */ (r).newer, 'stored by a newer version');
    if (want.value !== undefined) assert.deepEqual(/** @type {any} */ (r).value, want.value);
  } else if (want.error !== undefined) {
    assert.equal(r.state, 'unreadable', `expected ${want.error}, read ${JSON.stringify(r)}`);
    assert.equal(/** @type {any} */ (r).error.code, want.error);
  } else {
    assert.equal(r.state, 'value', `expected a value, got ${r.state}: ${/** @type {any} */ (r).error?.message ?? ''}`);
    const v = /** @type {{value: unknown, version: number}} */ (r);
    assert.deepEqual(v.value, want.value);
    if (want.version !== undefined) assert.equal(v.version, want.version, 'stored version');
  }
  if (want.migrateFrom !== undefined) assert.deepEqual(calls, [want.migrateFrom], 'migrate called once, with the stored version');
  else if (options.migrate !== 'throw') assert.deepEqual(calls, [], 'no migration');
}

/** @param {any} c */
function writeCase(c) {
  const options = c.options ?? {};
  const entries = entriesOf(c);
  // Without 'known' the app knows the stored value as read.
  const known = 'known' in c ? c.known : (() => { const s = readStored(c.key, entries); return s.absent ? undefined : s.value; })();
  const changes = planWrite(c.key, entries, known, plainJson(c.write), { version: options.version ?? 0, merge: options.merge ?? 'fields' });
  const want = c.changes.map((/** @type {any} */ ch) => (ch.op === 'set' ? { op: 'set', key: ch.key, value: encodeValue(ch.value) } : { op: ch.op, key: ch.key }));
  assert.deepEqual(changes, want);
}
