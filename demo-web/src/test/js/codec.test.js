import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  normalize, parseNode, writeNode, javaDouble, quote, encodeChange, decodeChange, MalformedChangeError, encodeValue,
  writeExport, readExport, MalformedDocumentError, canonical, instantText,
} from '../../main/web/cairn/codec.js';
import { ReplicaState } from '../../main/web/cairn/crdt.js';
import { Stamp, compareStamps, HybridClock } from '../../main/web/cairn/stamp.js';
import { encodeFrame, decodeFrame, ProtocolError } from '../../main/web/cairn/protocol.js';

const S = '0190a1b2c3d40001@phone-1';

test('values are normalized as Jackson writes them (checked against the engine with jshell)', () => {
  const cases = {
    '1.5': '1.5', '1.50': '1.5', '100.0': '100.0', '1e2': '100.0', '1E21': '1.0E21', '0.1': '0.1', '1e-7': '1.0E-7',
    '0.001': '0.001', '1234567.0': '1234567.0', '12345678.9': '1.23456789E7',
    '12345678901234567000': '12345678901234567000',
    '"\\u001f\\u0001\\b\\u007f\\u2028\\/"': '"\\u001F\\u0001\\b\u007f\u2028/"',
    '{ "b" : 1, "a":2, "1":3 }': '{"b":1,"a":2,"1":3}',
    ' [ true , false , null , {} , [] ] ': '[true,false,null,{},[]]',
  };
  for (const [input, expected] of Object.entries(cases)) assert.equal(normalize(input), expected, input);
});

test('the number rule: values that would not come back exactly are refused (spec/vectors/numbers.json has the rest)', () => {
  for (const bad of ['-0', '-0.0', '1e400', '-1e400', '1e-400', '12345678901234567890', '1180591620717411303424']) {
    assert.throws(() => normalize(bad), SyntaxError, bad);
  }
  for (const bad of [NaN, Infinity, -Infinity, -0, { a: [1, NaN] }, [Infinity]]) {
    assert.throws(() => encodeValue(bad), /value refused/, String(bad));
  }
  assert.equal(encodeValue(0), '0');
  assert.equal(encodeValue(2 ** 62), '4611686018427388000', 'a JS number is a double: its shortest decimal is exact');
  assert.equal(encodeValue(1e21), '1.0E21');
  assert.equal(encodeValue(5e-324), '5.0E-324');
});

test('javaDouble spells like Double.toString', () => {
  assert.equal(javaDouble(1e7), '1.0E7');
  assert.equal(javaDouble(9999999.5), '9999999.5');
  assert.equal(javaDouble(0.00099), '9.9E-4');
  assert.equal(javaDouble(-2.5e-3), '-0.0025');
  assert.equal(javaDouble(123.456), '123.456');
});

test('malformed JSON is refused: duplicates, depth, trailing content, lone surrogates', () => {
  for (const bad of ['{"a":1,"a":2}', '[1,]', '01', '1.', '"\\x"', '{"a":1} x', '"\\ud800"', 'NaN', '[' .repeat(65) + ']'.repeat(65)]) {
    assert.throws(() => normalize(bad), SyntaxError, bad);
  }
  assert.throws(() => encodeValue(JSON.parse('[' .repeat(33) + ']'.repeat(33))), /deeper/);
  assert.equal(encodeValue(JSON.parse('[' .repeat(32) + ']'.repeat(32))).length, 64);
});

test('text already compact is kept as is, and agrees with the full parse and rewrite', () => {
  const texts = [
    '"value-1"', '""', '"caf\u00e9"', '"h\u00e9 \ud83d\ude00"', '"a\\"b"', '"tab\tin"', '"\u2028"', '0', '-1', '123456789012345',
    '1234567890123456', '-0', '1.5', '1e3', '1E3', '10', 'true', 'false', 'null', '[]', '{}', '[1,"a",{"b":[null,true]}]',
    '{"role":"user","text":"hello there"}', '{"a":1,"a":2}', '{"a":1,"b":{"a":2}}', '[1, 2]', ' 1', '{"a" :1}', '[' .repeat(64) + ']'.repeat(64),
    '[' .repeat(65) + ']'.repeat(65), '"\ud800"', '[1,]', '{"a":1,}', '01', '-', '"unterminated', 'nul', '[1]x',
  ];
  for (const t of texts) {
    let full;
    try { full = writeNode(parseNode(t)); } catch (e) { full = e instanceof SyntaxError ? 'refused' : String(e); }
    let fast;
    try { fast = normalize(t); } catch (e) { fast = e instanceof SyntaxError ? 'refused' : String(e); }
    assert.equal(fast, full, t);
  }
  assert.equal(normalize('{"role":"user","text":"hello"}'), '{"role":"user","text":"hello"}');
});

test('every change op round-trips through its JSON form', () => {
  const changes = [
    '{"op":"set","section":"cards","key":"card-intro/isExpanded","value":true,"stamp":"' + S + '"}',
    '{"op":"delete","section":"cards","key":"card-intro/isExpanded","stamp":"' + S + '"}',
    '{"op":"append","section":"chat","stream":"conv-1","value":{"role":"user","text":"hi","at":"2026-11-25T10:00:00Z"},"stamp":"' + S + '"}',
    '{"op":"clear","section":"chat","stream":"conv-1","stamp":"' + S + '"}',
  ];
  for (const json of changes) assert.equal(encodeChange(decodeChange(json)), json);
  assert.equal(encodeChange(decodeChange('{ "stamp":"' + S + '", "value" : [1, 2.50], "key":"k","section":"s","op":"set"}')),
    '{"op":"set","section":"s","key":"k","value":[1,2.5],"stamp":"' + S + '"}');
});

test('malformed changes are refused with a message naming the problem', () => {
  const bad = {
    '[]': /must be a JSON object/,
    '{"section":"s","key":"k","value":1,"stamp":"S"}': /no 'op'/,
    '{"op":"set","section":"s","key":"k","value":1}': /no 'stamp'/,
    '{"op":"set","section":"s","key":"k","stamp":"S"}': /needs a 'value'/,
    '{"op":"delete","section":"s","key":"k","value":1,"stamp":"S"}': /has no 'value'/,
    '{"op":"append","section":"s","key":"k","value":1,"stamp":"S"}': /not a 'key'/,
    '{"op":"set","section":"s","stream":"k","value":1,"stamp":"S"}': /not a 'stream'/,
    '{"op":"clear","section":"s","stream":"k","value":1,"stamp":"S"}': /has no 'value'/,
    '{"op":"merge","section":"s","key":"k","stamp":"S"}': /unknown op/,
    '{"op":"set","section":"s","key":"k","value":1,"stamp":"S","extra":1}': /unknown field 'extra'/,
    '{"op":"set","op":"set","section":"s","key":"k","value":1,"stamp":"S"}': /duplicate field/,
    '{"op":1,"section":"s","key":"k","value":1,"stamp":"S"}': /'op' must be a string/,
    '{"op":"set","section":"Cards","key":"k","value":1,"stamp":"S"}': /invalid section name/,
    '{"op":"set","section":"s","key":"","value":1,"stamp":"S"}': /invalid key/,
    '{"op":"set","section":"s","key":"a\\u0001b","value":1,"stamp":"S"}': /control characters/,
    '{"op":"set","section":"s","key":"k","value":1,"stamp":"0190A1B2C3D40001@x"}': /malformed stamp/,
    '{"op":"set","section":"s","key":"k","value":1,"stamp":"0190a1b2c3d40001@bad id"}': /invalid replica id/,
    '{"op":"set","section":"s","key":"k","value":1,"stamp":"0190a1b2c3d40001@"}': /malformed stamp/,
    ['{"op":"set","section":"s","key":"k","value":' + '['.repeat(33) + ']'.repeat(33) + ',"stamp":"S"}']: /deeper than 32/,
    '{"op":"set","section":"s","key":"k","value":1,"stamp":"S"} x': /not valid JSON/,
  };
  for (const [json, message] of Object.entries(bad)) {
    assert.throws(() => decodeChange(json.replaceAll('"S"', '"' + S + '"')), (e) => e instanceof MalformedChangeError && message.test(e.message), json);
  }
});

test('stamps: text form, order by string comparison, parse errors', () => {
  const a = new Stamp(Stamp.pack(1720000000000, 1), 'a');
  assert.equal(a.toString(), '019077fd30000001@a');
  assert.equal(Stamp.parse(a.toString()).millis, 1720000000000);
  assert.equal(Stamp.parse(a.toString()).counter, 1);
  assert.ok(compareStamps('0000000000000001@b', '0000000000000002@a') < 0);
  assert.ok(compareStamps('0000000000000001@phone-9', '0000000000000001@phone-10') > 0);
  assert.throws(() => Stamp.parse('019077fd3000001@a'), RangeError);
  assert.throws(() => Stamp.pack(2 ** 47, 0), RangeError);
  assert.throws(() => new HybridClock(() => 0, 'a b', 0), RangeError);
});

test('the export document round-trips and reading is strict', () => {
  const kinds = { cards: 'map', chat: 'log' };
  const state = new ReplicaState((s) => kinds[s]);
  const changes = [
    '{"op":"set","section":"cards","key":"card-a/isExpanded","value":true,"stamp":"0190a1b2c3d40001@a"}',
    '{"op":"delete","section":"cards","key":"card-b/isVisible","stamp":"0190a1b2c3d40002@a"}',
    '{"op":"clear","section":"chat","stream":"conv-1","stamp":"0190a1b2c3d40003@a"}',
    '{"op":"append","section":"chat","stream":"conv-1","value":{"role":"user","text":"hé"},"stamp":"0190a1b2c3d40004@a"}',
  ].map(decodeChange);
  changes.forEach((c) => state.apply(c));
  const doc = writeExport('a', Date.UTC(2026, 10, 25, 10), state, ['cards', 'chat']);
  assert.match(doc, /^\{"format":"cairn-export","version":1,"replica":"a","exportedAt":"2026-11-25T10:00:00Z","sections":/);
  const copy = new ReplicaState((s) => kinds[s]);
  readExport(doc, (s) => kinds[s]).forEach((c) => copy.apply(c));
  assert.equal(canonical(copy), canonical(state));
  for (const [bad, message] of [['', /empty/], ['{"format":"x"}', /not a Cairn export/], ['{"format":"cairn-export","version":2,"sections":{}}', /version 2/],
    ['{"format":"cairn-export","version":1,"sections":{"nope":{"kind":"map","entries":{}}}}', /unknown section 'nope'/],
    ['{"format":"cairn-export","version":1,"sections":{"cards":{"kind":"log","streams":{}}}}', /is a map section/],
    ['{"format":"cairn-export","version":1,"sections":{"cards":{"kind":"map","entries":{"k":{"stamp":"0190a1b2c3d40001@a"}}}}}', /exactly one of/],
    // an empty stream name with a watermark would otherwise be read as a whole-map-section clear of a log
    ['{"format":"cairn-export","version":1,"sections":{"chat":{"kind":"log","streams":{"":{"clearedUpTo":"0190a1b2c3d40001@a","entries":[]}}}}}', /stream name/],
    ['{"format":"cairn-export","version":1', /not valid JSON/]]) {
    assert.throws(() => readExport(bad, (s) => kinds[s]), (e) => e instanceof MalformedDocumentError && message.test(e.message), bad);
  }
  assert.equal(instantText(Date.UTC(2026, 0, 1, 0, 0, 0, 5)), '2026-01-01T00:00:00.005Z');
});

test('every frame type round-trips; malformed frames are refused', () => {
  const frames = [
    '{"type":"hello","protocol":1,"replica":"phone-1","cursor":1200}',
    '{"type":"welcome","protocol":1,"user":"alice","head":1350,"maxBatch":1000,"maxAheadMillis":60000}',
    '{"type":"changes","changes":[{"seq":1201,"change":{"op":"set","section":"cards","key":"k","value":1,"stamp":"' + S + '"}}],"cursor":1300}',
    '{"type":"caught-up","cursor":1350}',
    '{"type":"push","batch":17,"changes":[{"op":"clear","section":"chat","stream":"c","stamp":"' + S + '"}]}',
    '{"type":"ack","batch":17}',
    '{"type":"ping"}',
    '{"type":"pong"}',
    '{"type":"error","code":"invalid-change","message":"change 3: unknown section \'x\'","batch":17}',
  ];
  for (const text of frames) assert.deepEqual(JSON.parse(encodeFrame(decodeFrame(text))), JSON.parse(text), text);
  for (const bad of ['[]', '{"type":"nope"}', '{"type":"ack"}', '{"type":"ack","batch":"1"}', '{"type":"caught-up","cursor":1.5}',
    '{"type":"changes","changes":[{"seq":1,"change":{"op":"set"}}],"cursor":1}', 'not json']) {
    assert.throws(() => decodeFrame(bad), ProtocolError, bad);
  }
  assert.equal(quote('a"b\\c\n'), '"a\\"b\\\\c\\n"');
});

test('welcome: the optional sections member is decoded, and members a server frame does not define are ignored', () => {
  const base = '{"type":"welcome","protocol":1,"user":"alice","head":5,"maxBatch":1000,"maxAheadMillis":60000,"maxFrameBytes":1048576';
  const old = decodeFrame(base + '}');
  assert.equal(old.sections, undefined);
  const frame = decodeFrame(base + ',"sections":{"cards":"map","chat":"log"},"futureMember":{"x":[1]}}');
  assert.deepEqual(frame.sections, { cards: 'map', chat: 'log' });
  assert.equal(frame.head, 5);
  assert.throws(() => decodeFrame(base + ',"sections":["cards"]}'), ProtocolError);
});
