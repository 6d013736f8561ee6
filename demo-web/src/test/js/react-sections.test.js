// The hooks of cairn/react/sections.js (chat, memory, preferences, ui, features, sync status), as
// an app uses them: components rendered into jsdom by @testing-library/react, driven by clicks,
// under StrictMode, and by writes from the instance and from another replica. Every test fails on
// any console.error React prints.
import './dom.js';
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import React from 'react';
import { render, act, screen, fireEvent } from '@testing-library/react';
import { Cairn } from '../../main/web/cairn/cairn.js';
import {
  PersistenceProvider, useChatHistory, useMemoryContext, useUserPreferences, useUIState, useFeatureAccess, useSyncStatus,
  useComponentVisibility, useVisibleComponent, useServiceWaiver, useWaiverPersistence, useUserProgress, useProgressPersistence,
} from '../../main/web/cairn/react.js';

const h = React.createElement;
let errors = [];
const realError = console.error;
console.error = (...args) => { errors.push(args.map(String).join(' ')); };
beforeEach(() => { errors = []; });
afterEach(() => { assert.deepEqual(errors, [], 'React printed errors or warnings'); });
process.on('exit', () => { console.error = realError; });

const open = (extra = {}) => Cairn.open({ user: 'alice', storage: 'memory', channel: null, ...extra });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Renders `ui` under a provider of `cairn`, in StrictMode (effects and renders run twice). */
const show = (cairn, ui) => render(h(PersistenceProvider, { cairn }, ui), { reactStrictMode: true });

/** Changes written by another replica that has seen `cairn`'s state, as the sync client hands them over. */
async function remoteChanges(cairn, write) {
  const other = await open();
  other.importData(cairn.exportData());
  const changes = [];
  other.subscribe((e) => changes.push(...e.changes));
  write(other);
  await other.close();
  return changes;
}

test('useChatHistory: messages of one conversation, append and clear, a remote message re-renders', async () => {
  const cairn = await open();
  let renders = 0;
  function Chat() {
    const { messages, append, clear, conversations } = useChatHistory('support');
    renders++;
    return h('div', null,
      h('ul', null, messages.map((m) => h('li', { key: m.stamp }, `${m.role}: ${m.text}`))),
      h('span', { 'data-testid': 'convs' }, conversations.join(',')),
      h('button', { onClick: () => append('user', 'hello', { via: 'test' }) }, 'send'),
      h('button', { onClick: clear }, 'clear'));
  }
  const r = show(cairn, h(Chat));
  assert.equal(screen.queryAllByRole('listitem').length, 0);
  fireEvent.click(screen.getByText('send'));
  assert.deepEqual(screen.getAllByRole('listitem').map((li) => li.textContent), ['user: hello']);
  assert.equal(cairn.chat.history('support')[0].metadata.via, 'test', 'stored in the chat log');
  const before = renders;
  act(() => { cairn.chat.append('other', 'user', 'elsewhere'); });
  assert.equal(screen.getByTestId('convs').textContent, 'other,support', 'conversations lists every stream');
  act(() => { cairn.preferences.setTheme('dark'); });
  assert.ok(renders - before <= 2, 'another section re-renders nothing (StrictMode renders twice)');
  const changes = await remoteChanges(cairn, (o) => o.chat.append('support', 'assistant', 'hi there'));
  act(() => { cairn.merge(changes, 'remote'); });
  assert.deepEqual(screen.getAllByRole('listitem').map((li) => li.textContent), ['user: hello', 'assistant: hi there']);
  fireEvent.click(screen.getByText('clear'));
  assert.equal(screen.queryAllByRole('listitem').length, 0);
  assert.equal(cairn.chat.history('other').length, 1, 'clear is per conversation');
  r.unmount();
  await cairn.close();
});

test('useMemoryContext: remember, recall, forget; a write on the instance re-renders', async () => {
  const cairn = await open();
  let view;
  function Memory() {
    view = useMemoryContext();
    return h('p', null, Object.entries(view.facts).map(([k, v]) => `${k}=${v}`).join(';'));
  }
  const r = show(cairn, h(Memory));
  act(() => view.remember('name', 'Ada'));
  act(() => view.remember('city', 'London'));
  assert.equal(r.container.textContent, 'city=London;name=Ada');
  assert.equal(view.recall('name'), 'Ada');
  act(() => view.forget('city'));
  assert.equal(r.container.textContent, 'name=Ada');
  act(() => cairn.memory.remember('pet', 'cat'));
  assert.equal(r.container.textContent, 'name=Ada;pet=cat');
  assert.equal(cairn.memory.recall('name'), 'Ada');
  r.unmount();
  await cairn.close();
});

test('useUserPreferences: theme defaults to system, setTheme and setPreference persist and re-render', async () => {
  const cairn = await open();
  function Prefs() {
    const { theme, setTheme, preferences, setPreference, removePreference } = useUserPreferences();
    return h('div', null,
      h('span', { 'data-testid': 'theme' }, theme),
      h('span', { 'data-testid': 'font' }, String(preferences.fontSize ?? '-')),
      h('button', { onClick: () => setTheme(theme === 'dark' ? 'light' : 'dark') }, 'theme'),
      h('button', { onClick: () => setPreference('fontSize', 18) }, 'bigger'),
      h('button', { onClick: () => removePreference('fontSize') }, 'default size'));
  }
  const r = show(cairn, h(Prefs));
  assert.equal(screen.getByTestId('theme').textContent, 'system');
  fireEvent.click(screen.getByText('theme'));
  assert.equal(screen.getByTestId('theme').textContent, 'dark');
  assert.equal(cairn.preferences.theme, 'dark');
  fireEvent.click(screen.getByText('bigger'));
  assert.equal(screen.getByTestId('font').textContent, '18');
  fireEvent.click(screen.getByText('default size'));
  assert.equal(screen.getByTestId('font').textContent, '-');
  const changes = await remoteChanges(cairn, (o) => o.preferences.setTheme('light'));
  act(() => { cairn.merge(changes, 'remote'); });
  assert.equal(screen.getByTestId('theme').textContent, 'light', 'a remote change re-renders');
  r.unmount();
  await cairn.close();
});

test('useUIState: like useState, persisted per key; an updater, undefined deletes back to the default', async () => {
  const cairn = await open();
  let setter;
  function Sidebar() {
    const [open, setOpen] = useUIState('sidebarOpen', true);
    const [tab] = useUIState('tab', 'home');
    setter = setOpen;
    return h('div', null,
      h('span', { 'data-testid': 'open' }, open ? 'open' : 'closed'),
      h('span', { 'data-testid': 'tab' }, tab),
      h('button', { onClick: () => setOpen((o) => !o) }, 'toggle'));
  }
  const r = show(cairn, h(Sidebar));
  assert.equal(screen.getByTestId('open').textContent, 'open');
  const first = setter;
  fireEvent.click(screen.getByText('toggle'));
  assert.equal(screen.getByTestId('open').textContent, 'closed');
  assert.equal(cairn.ui.get('sidebarOpen'), false, 'stored in the ui section');
  assert.equal(setter, first, 'the setter is stable');
  act(() => cairn.ui.set('tab', 'settings'));
  assert.equal(screen.getByTestId('tab').textContent, 'settings');
  act(() => setter(undefined));
  assert.equal(screen.getByTestId('open').textContent, 'open', 'back to the default');
  assert.equal(cairn.ui.get('sidebarOpen'), undefined);
  r.unmount();
  await cairn.close();
});

test('useFeatureAccess: isEnabled and setFeature', async () => {
  const cairn = await open();
  function Beta() {
    const { isEnabled, setFeature } = useFeatureAccess();
    return h('button', { onClick: () => setFeature('beta', !isEnabled('beta')) }, isEnabled('beta') ? 'beta on' : 'beta off');
  }
  const r = show(cairn, h(Beta));
  fireEvent.click(screen.getByText('beta off'));
  assert.ok(screen.getByText('beta on'));
  assert.equal(cairn.features.get('beta'), true);
  act(() => cairn.features.set('beta', false));
  assert.ok(screen.getByText('beta off'));
  r.unmount();
  await cairn.close();
});

test('the section names are aliases of the spec names', () => {
  assert.equal(useComponentVisibility, useVisibleComponent);
  assert.equal(useServiceWaiver, useWaiverPersistence);
  assert.equal(useUserProgress, useProgressPersistence);
});

test('useSyncStatus without a server: offline, not configured, pending counts local writes', async () => {
  const cairn = await open();
  let view;
  function Status() {
    view = useSyncStatus();
    return h('span', null, `${view.state} ${view.pending}`);
  }
  const r = show(cairn, h(Status));
  assert.equal(view.state, 'offline');
  assert.equal(view.configured, false);
  assert.equal(view.error, null);
  act(() => cairn.preferences.setTheme('dark'));
  await act(() => cairn.save());
  assert.equal(view.pending, 1, 'a syncing write waits in the outbox for a server');
  assert.equal(r.container.textContent, 'offline 1');
  const first = view;
  act(() => cairn.emit('status', 'offline'));
  assert.equal(view, first, 'an unchanged status keeps its object');
  r.unmount();
  await cairn.close();
});

test('useSyncStatus: a page of an origin the server does not allow sees forbidden-origin, not "connecting" forever', async () => {
  // A page of http://app.example and a server elsewhere: the upgrade is refused, and so is the CORS
  // probe (a browser's fetch rejects); a no-cors request is answered (opaque).
  const realLocation = globalThis.location;
  globalThis.location = /** @type {any} */ ({ origin: 'http://app.example', href: 'http://app.example/' });
  class Refused {
    constructor() { this.readyState = 0; setTimeout(() => { this.readyState = 3; this.onclose?.({ code: 1006 }); }, 1); }
    send() {}
    close() {}
  }
  let sockets = 0;
  const asked = [];
  const fetch = async (url, init) => {
    asked.push(init.mode ?? 'cors');
    if (init.mode === 'no-cors') return { type: 'opaque', status: 0 };
    throw new TypeError('Failed to fetch');
  };
  class Counting extends Refused { constructor() { super(); sockets++; } }
  const cairn = await open({
    replica: 'a', server: { url: 'ws://sync.example:8080/sync', token: () => 'tok' }, WebSocket: Counting, fetch,
    sync: { backoffMinMillis: 5, backoffMaxMillis: 10 },
  });
  const events = [];
  cairn.on('error', (e) => events.push(e.code));
  let view;
  function Banner() {
    view = useSyncStatus();
    return h('p', { role: 'status' }, view.error ? `${view.state}: ${view.lastError.message}` : view.state);
  }
  const r = show(cairn, h(Banner));
  try {
    for (let i = 0; i < 200 && view.error === null; i++) await act(() => sleep(5));
    assert.equal(view.state, 'offline');
    assert.equal(view.error, 'forbidden-origin');
    assert.match(screen.getByRole('status').textContent, /not to pages of http:\/\/app\.example: add http:\/\/app\.example to the server's CAIRN_ALLOWED_ORIGINS/);
    assert.deepEqual(events, ['forbidden-origin'], "the app's error listener hears it once");
    assert.deepEqual(asked, ['cors', 'no-cors']);
    await act(() => sleep(60));
    assert.equal(sockets, 1, 'permanent: no reconnect loop');
    await act(async () => { view.retryNow(); await sleep(30); });
    assert.equal(sockets, 2, 'retryNow tries once more');
    assert.equal(view.error, 'forbidden-origin');
  } finally {
    r.unmount();
    await cairn.close();
    globalThis.location = realLocation;
  }
});
