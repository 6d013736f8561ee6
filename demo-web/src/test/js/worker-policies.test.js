// The sync worker's reading of the tabs' policies (worker/policies.js) gives the tab's answer
// (Cairn.policyFor): own key, then the value a field entry belongs to, then section, then default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { persistToLookup } from '../../main/web/cairn/worker/policies.js';
import { DEFAULT_POLICY } from '../../main/web/cairn/persister.js';
import { sharePolicies } from '../../main/web/cairn/sync-port.js';

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
  const persistTo = persistToLookup({ sections: {}, keys: { 'state\u0000x': 'context' } });
  assert.equal(persistTo('__proto__', 'constructor'), DEFAULT_POLICY.persistTo);
  assert.equal(persistTo('state', '__proto__'), DEFAULT_POLICY.persistTo);
  assert.equal(persistTo('toString'), DEFAULT_POLICY.persistTo);
});

test('a tab tells the worker its policies again when one changed, not only when one was added', () => {
  const written = [];
  const tab = {
    sectionPolicies: new Map([['state', { persistTo: 'localStorage' }]]),
    keyPolicies: new Map(),
    kinds: { state: 'map' },
    writeSetting: (name, value) => written.push([name, JSON.parse(JSON.stringify(value))]),
  };
  sharePolicies(/** @type {any} */ (tab));
  sharePolicies(/** @type {any} */ (tab));
  assert.equal(written.filter(([n]) => n === 'policies').length, 1, 'unchanged: not written again');
  tab.sectionPolicies.set('state', { persistTo: 'context' });
  sharePolicies(/** @type {any} */ (tab));
  const last = written.filter(([n]) => n === 'policies').at(-1)[1];
  assert.deepEqual(last, { sections: { state: 'context' }, keys: {} });
  assert.equal(persistToLookup(last)('state', 'k'), 'context', 'the worker then keeps the section in memory only, as the tab does');
});
