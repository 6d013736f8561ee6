// Runs every case of the shared golden vectors in spec/vectors/ (the Java engine runs the same files):
// state vectors in every delivery order, compared with `expected` as a JSON tree and byte for byte
// (compact, members in the order written, as Java's Json.MAPPER writes it); clock vectors step by step.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReplicaState } from '../../main/web/cairn/crdt.js';
import { canonical, decodeChange, encodeChange, encodeValue, normalize, parseNode, member, writeNode } from '../../main/web/cairn/codec.js';
import { HybridClock, ClockSkewError, Stamp } from '../../main/web/cairn/stamp.js';
import { decodeFrame, encodeFrame, ProtocolError } from '../../main/web/cairn/protocol.js';
import { encode as encodePage, encodePlain, decode as decodePage, PageTooLargeError } from '../../main/web/cairn/page.js';

/** Walks up from this file to the repository's spec/vectors. */
function vectorsDir() {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'spec', 'vectors');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error('no spec/vectors directory above ' + fileURLToPath(import.meta.url));
  }
}

const dir = vectorsDir();
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('the required vector files exist', () => {
  for (const name of ['lww-map.json', 'grow-only-log.json', 'hlc.json', 'numbers.json', 'v2-pages.json']) assert.ok(files.includes(name), `${name} in ${dir}`);
});

for (const file of files) {
  const text = readFileSync(resolve(dir, file), 'utf8');
  const root = JSON.parse(text);
  const tree = parseNode(text); // keeps member order and number spelling, for the byte-for-byte comparison
  describe(file, () => {
    assert.ok(Array.isArray(root.cases) && root.cases.length > 0, `${file}: needs cases`);
    const names = new Set(root.cases.map((c) => c.name));
    assert.equal(names.size, root.cases.length, `${file}: case names are unique`);
    const caseNodes = member(tree, 'cases');
    root.cases.forEach((c, index) => {
      const caseNode = caseNodes.v[index];
      if (root.kind === 'numbers') numberCase(c);
      else if (root.kind === 'v2-pages') v2PageCase(c, caseNode, root.maxFrameBytes);
      else if (root.sections) stateCase(file, root.sections, c, caseNode);
      else clockCase(c);
    });
  });
}

const hex = (/** @type {string} */ h) => Uint8Array.from(Buffer.from(h, 'hex'));
const toHex = (/** @type {Uint8Array} */ b) => Buffer.from(b).toString('hex');

/** spec/vectors/v2-pages.json (PROTOCOL.md 7): exact page bytes, and pages a decoder must refuse. */
function v2PageCase(c, caseNode, maxFrameBytes) {
  if (c.refused !== undefined) {
    test(`${c.name} refused (${c.code})`, async () => {
      await assert.rejects(decodePage(hex(c.refused), maxFrameBytes), (e) => {
        if (c.code === 'too-large') assert.ok(e instanceof PageTooLargeError, `too large, got ${e}`);
        else {
          assert.ok(e instanceof ProtocolError, `a ProtocolError, got ${e}`);
          assert.equal(e.code, c.code, e.message);
          assert.equal(e.batch, c.batch, 'the batch the error names');
        }
        assert.ok(e.message.length > 0);
        return true;
      });
    });
    return;
  }
  test(c.name, async () => {
    const frameText = writeNode(member(caseNode, 'frame')); // the file's own spelling (1.0E21 stays 1.0E21)
    const frame = decodeFrame(frameText);
    assert.equal(toHex(encodePlain(frame)), c.plain, 'the uncompressed page, byte for byte');
    assert.deepEqual(await decodePage(hex(c.plain), maxFrameBytes), frame, 'the uncompressed page decodes to the frame');
    assert.deepEqual(await decodePage(hex(c.page), maxFrameBytes), frame, 'the page as sent decodes to the frame');
    assert.equal(encodeFrame(await decodePage(hex(c.page), maxFrameBytes)), frameText, 'values come back exactly as written');
    // This runtime's deflate may lay out other bytes than zlib's; it must decode to the same frame and be no larger than plain.
    const sent = await encodePage(frame);
    assert.ok(sent.length <= c.plain.length / 2, 'never larger than the uncompressed page');
    assert.deepEqual(await decodePage(sent, maxFrameBytes), frame, 'this client\'s page decodes to the frame');
    assert.equal(sent[1] === 1, c.page.slice(2, 4) === '01', 'compressed exactly when the vector is');
  });
}

function stateCase(file, sections, c, caseNode) {
  describe(c.name, () => {
    const changeNodes = member(caseNode, 'changes').v;
    test('changes are in canonical change form', () => {
      for (const node of changeNodes) {
        const change = decodeChange(writeNode(node));
        assert.deepEqual(JSON.parse(encodeChange(change)), nodeToJs(node));
      }
    });
    const expectedText = writeNode(member(caseNode, 'expected'));
    for (const order of c.orders) {
      test(`order ${JSON.stringify(order)}`, () => {
        const changes = changeNodes.map((n) => decodeChange(writeNode(n)));
        assert.equal(new Set(order).size, changes.length, 'the order delivers every change');
        const state = new ReplicaState((s) => sections[s]);
        for (const i of order) state.apply(changes[i]);
        const actual = canonical(state);
        assert.deepEqual(JSON.parse(actual), c.expected, `${file} / ${c.name}: canonical state as a JSON tree`);
        assert.equal(actual, expectedText, `${file} / ${c.name}: canonical state byte for byte`);
        assert.equal(actual, JSON.stringify(c.expected), 'vectors avoid spellings where JS and Java differ');
      });
    }
  });
}

// The number rule (PROTOCOL.md 1.2): the same texts the engine's VectorsTest runs.
function numberCase(c) {
  const set = `{"op":"set","section":"cards","key":"k","value":${c.text},"stamp":"0190a1b2c3d40000@a"}`;
  const append = `{"op":"append","section":"chat","stream":"s","value":[${c.text}],"stamp":"0190a1b2c3d40000@a"}`;
  if ('canonical' in c) {
    test(`${c.name}: ${c.text} -> ${c.canonical}`, () => {
      assert.equal(normalize(c.text), c.canonical, 'the number rule');
      assert.equal(normalize(c.canonical), c.canonical, 'the canonical text is its own canonical text');
      assert.equal(normalize(`{"n":[${c.text}]}`), `{"n":[${c.canonical}]}`, 'inside a value');
      assert.equal(decodeChange(set).value, c.canonical, 'a set from the server or an import');
      assert.equal(decodeChange(append).value, `[${c.canonical}]`, 'an append');
      assert.equal(normalize(encodeValue(Number(c.text))), encodeValue(Number(c.text)), 'a JS number written at write time is canonical');
    });
  } else {
    test(`${c.name}: ${c.text} refused (${c.refused})`, () => {
      assert.throws(() => normalize(c.text), SyntaxError, 'the number rule');
      assert.throws(() => normalize(`{"n":[${c.text}]}`), SyntaxError, 'inside a value');
      assert.throws(() => decodeChange(set), 'a set from the server or an import');
      assert.throws(() => decodeChange(append), 'an append');
    });
  }
}

function nodeToJs(node) {
  return JSON.parse(normalize(writeNode(node)));
}

function clockCase(c) {
  test(c.name, () => {
    let wall = 0;
    const clock = new HybridClock(() => wall, c.replica, c.maxAheadMillis);
    c.steps.forEach((step, i) => {
      const where = `${c.name}, step ${i} ${JSON.stringify(step)}`;
      wall = step.wall;
      if ('tick' in step) {
        assert.equal(clock.tick(), step.tick, where);
      } else if ('observe' in step) {
        if (step.error) {
          assert.equal(step.error, 'skew');
          const before = clock.last();
          assert.throws(() => clock.observe(step.observe), ClockSkewError, where);
          assert.equal(clock.last(), before, where + ': a refused stamp leaves the clock unchanged');
        } else {
          clock.observe(Stamp.parse(step.observe));
        }
      } else if ('restore' in step) {
        clock.restore(step.restore);
      } else {
        assert.fail(where + ': a step needs tick, observe or restore');
      }
    });
  });
}

// The decoder builds short ASCII strings from their bytes (others through the TextDecoder) and
// checks each table string once as a section or replica: pages mixing ASCII and other text, long
// strings, and a bad replica decode as before.
test('a page mixing ASCII and non-ASCII keys, values and streams decodes exactly; a bad replica is still refused', async () => {
  const changes = [
    { seq: 1, change: { op: 'set', section: 'state', key: 'k1', value: '"value-1"', stamp: '0190a1b2c3d40000@laptop' } },
    { seq: 2, change: { op: 'set', section: 'state', key: 'clé/€', value: '{"text":"héllo 😀","n":-12}', stamp: '0190a1b2c3d40001@laptop' } },
    { seq: 3, change: { op: 'append', section: 'chat', stream: 'conv-ü', value: '"日本"', stamp: '0190a1b2c3d40002@phone_2' } },
    { seq: 4, change: { op: 'delete', section: 'state', key: 'k2', stamp: '0190a1b2c3d40003@phone_2' } },
    { seq: 5, change: { op: 'set', section: 'state', key: 'k3', value: '[1, 2.50]', stamp: '0190a1b2c3d40004@laptop' } },
    { seq: 6, change: { op: 'set', section: 'state', key: 'long', value: `"${'x'.repeat(300)}"`, stamp: '0190a1b2c3d40005@laptop' } },
  ];
  const frame = { type: 'changes', changes, cursor: 6 };
  const expected = structuredClone(frame);
  expected.changes[4].change.value = '[1,2.5]'; // normalized as ever
  assert.deepEqual(await decodePage(encodePlain(frame), 1 << 20), expected);
  assert.deepEqual(await decodePage(await encodePage(frame), 1 << 20), expected);
  const bad = { type: 'changes', cursor: 1, changes: [{ seq: 1, change: { ...changes[0].change, stamp: '0190a1b2c3d40000@bad.replica' } }] };
  await assert.rejects(decodePage(encodePlain(bad), 1 << 20), (e) => e instanceof ProtocolError && e.code === 'invalid-change');
});

// The decoder writes a stamp's hex digits itself and builds short ASCII strings through a reused
// array: stamps at the edges of millis and counter, and strings at the edges of the short path
// (a non-ASCII character at the start or the end, 256 and 257 bytes), come back exactly.
test('stamps at the edges of millis and counter, and strings at the edges of the short ASCII path, decode exactly', async () => {
  const hex = (/** @type {number} */ millis, /** @type {number} */ counter) => millis.toString(16).padStart(12, '0') + counter.toString(16).padStart(4, '0');
  const edges = [[0, 0], [1, 1], [0xffffff, 0xfff], [0x1000000, 0x1000], [2 ** 40 + 0xabcdef, 0xfffe], [2 ** 47 - 1, 0xffff]];
  const values = ['"a"', `"${'a'.repeat(254)}"`, `"${'b'.repeat(255)}"`, '"é"', `"${'c'.repeat(200)}é"`, `"é${'d'.repeat(200)}"`];
  /** @type {any[]} */
  const changes = [];
  let seq = 0;
  for (const [millis, counter] of edges) {
    for (const value of values) {
      seq++;
      changes.push({ seq, change: { op: 'set', section: 'state', key: `k${seq}`, value, stamp: `${hex(millis, counter)}@laptop` } });
    }
  }
  const frame = { type: 'changes', changes, cursor: seq };
  assert.deepEqual(await decodePage(encodePlain(frame), 1 << 20), frame);
});
