// The sync worker's reading of the tabs' policies (worker/policies.js) gives the tab's answer
// (Cairn.policyFor): own key, then the value a field entry belongs to, then section, then default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { persistToLookup } from '../../main/web/cairn/worker/policies.js';
import { DEFAULT_POLICY } from '../../main/web/cairn/persister.js';

test('no policies told yet: every key has the default', () => {
  const persistTo = persistToLookup(null);
  assert.equal(persistTo('state', 'k'), DEFAULT_POLICY.persistTo);
  assert.equal(persistTo('chat'), DEFAULT_POLICY.persistTo);
});

test('a key of its own, a field entry of that key, its section, then the default', () => {
  const persistTo = persistToLookup({
    sections: { state: 'sessionStorage' },
    keys: { 'state\u0000draft': 'context', 'ui\u0000panel': 'all' },
  });
  assert.equal(persistTo('state', 'draft'), 'context');
  assert.equal(persistTo('state', 'draft#title'), 'context', 'a field entry K#a is kept as K is');
  assert.equal(persistTo('state', 'other'), 'sessionStorage');
  assert.equal(persistTo('ui', 'panel#x#y'), 'all');
  assert.equal(persistTo('ui', 'elsewhere'), DEFAULT_POLICY.persistTo);
  assert.equal(persistTo('state', '#draft'), 'sessionStorage', 'a key starting with # is not a field entry');
});

test('names that are properties of plain objects are only names', () => {
  const persistTo = persistToLookup({ sections: {}, keys: {} });
  assert.equal(persistTo('__proto__', 'constructor'), DEFAULT_POLICY.persistTo);
  assert.equal(persistTo('toString'), DEFAULT_POLICY.persistTo);
});
