// The React bindings under react-dom/server: getServerSnapshot, and the provider-required error.
// A file (so a process) of its own: after react-dom/server has rendered a context provider, a client
// renderer rendering the same provider in the same process makes React warn about "multiple
// renderers" (React 18 warns in either order), which react.test.js treats as a failure.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import React from 'react';
import { renderToString } from 'react-dom/server';
import { Cairn } from '../../main/web/cairn/cairn.js';
import {
  PersistenceProvider, usePersistentState, useExpandableCard, useVisibleComponent, useWaiverPersistence,
  useProgressPersistence, usePersistence, useCairn, useChatHistory, useMemoryContext, useUserPreferences, useUIState,
  useFeatureAccess, useSyncStatus,
} from '../../main/web/cairn/react.js';

const h = React.createElement;
let errors = [];
const realError = console.error;
console.error = (...args) => { errors.push(args.map(String).join(' ')); };
beforeEach(() => { errors = []; });
afterEach(() => { assert.deepEqual(errors, [], 'React printed errors or warnings'); });
process.on('exit', () => { console.error = realError; });

const open = (extra = {}) => Cairn.open({ user: 'alice', storage: 'memory', channel: null, ...extra });

test('the hooks need a provider: a clear error without one', () => {
  const hooks = {
    usePersistentState: () => usePersistentState('k', 1), useExpandableCard: () => useExpandableCard('c'),
    useVisibleComponent: () => useVisibleComponent('v'), useWaiverPersistence: () => useWaiverPersistence(),
    useProgressPersistence: () => useProgressPersistence(), usePersistence: () => usePersistence(), useCairn: () => useCairn(),
  };
  for (const [name, use] of Object.entries(hooks)) {
    function Orphan() { use(); return null; }
    assert.throws(() => renderToString(h(Orphan)), new RegExp(`^Error: ${name} must be used inside <PersistenceProvider>`));
  }
  assert.throws(() => renderToString(h(PersistenceProvider, null)), /needs a Cairn instance .* or open options/);
});

test('server rendering uses the instance state (getServerSnapshot)', async () => {
  const cairn = await open();
  cairn.cards.card('intro').expand();
  cairn.state('name', '').setValue('Ada');
  function Page() {
    const { isExpanded } = useExpandableCard('intro');
    const { value } = usePersistentState('name', '');
    return h('p', null, `${value}:${isExpanded}`);
  }
  assert.equal(renderToString(h(PersistenceProvider, { cairn }, h(Page))), '<p>Ada:true</p>');
  await cairn.close();
});

test('server rendering: the section hooks and the sync status read the instance too', async () => {
  const cairn = await open();
  cairn.chat.append('main', 'user', 'hi');
  cairn.memory.remember('name', 'Ada');
  cairn.preferences.setTheme('dark');
  cairn.ui.set('tab', 'settings');
  cairn.features.set('beta', true);
  function Page() {
    const { messages } = useChatHistory('main');
    const { facts } = useMemoryContext();
    const { theme } = useUserPreferences();
    const [tab] = useUIState('tab', 'home');
    const { isEnabled } = useFeatureAccess();
    const { state } = useSyncStatus();
    return h('p', null, [messages[0].text, facts.name, theme, tab, isEnabled('beta'), state].join(' '));
  }
  assert.equal(renderToString(h(PersistenceProvider, { cairn }, h(Page))), '<p>hi Ada dark settings true offline</p>');
  await cairn.close();
});

test('server rendering with open options shows the fallback (the instance is opened on the client)', () => {
  function Page() { return h('p', null, usePersistentState('x', 'y').value); }
  const html = renderToString(h(PersistenceProvider, { options: { user: 'alice', storage: 'memory', channel: null }, fallback: h('i', null, 'loading') }, h(Page)));
  assert.equal(html, '<i>loading</i>');
});
