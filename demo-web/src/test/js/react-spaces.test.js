// The space hooks of cairn/react/spaces.js (useSpace, useSpaceMembers, usePresence), as an app uses
// them: components rendered into jsdom by @testing-library/react under StrictMode, driven by the
// server's pages (applied as the sync client applies them) and by the app's own writes. Every test
// fails on any console.error React prints.
import './dom.js';
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import React from 'react';
import { render, act, screen, fireEvent, cleanup } from '@testing-library/react';
import { Cairn } from '../../main/web/cairn/cairn.js';
import { makeChange } from '../../main/web/cairn/codec.js';
import { PersistenceProvider, usePersistentState, useSpaces, useSpace, useSpaceMembers, usePresence } from '../../main/web/cairn/react.js';

const h = React.createElement;
let errors = [];
const realError = console.error;
console.error = (...args) => { errors.push(args.map(String).join(' ')); };
beforeEach(() => { errors = []; });
afterEach(() => {
  cleanup();
  assert.deepEqual(errors, [], 'React printed errors or warnings');
});
process.on('exit', () => { console.error = realError; });

const open = () => Cairn.open({ user: 'alice', storage: 'memory', channel: null, spaces: true });
const show = (cairn, ui) => render(h(PersistenceProvider, { cairn }, ui), { reactStrictMode: true });
let stamp = Date.now() + 5000; // later than the local writes of the tests: the server's values win
const server = (section, key, value) => makeChange(value === undefined ? 'delete' : 'set', section, key,
  value === undefined ? undefined : JSON.stringify(value), `${(stamp++).toString(16).padStart(12, '0')}0000@server`);

test('useSpace: the handle once open, name and role from the spaces section; the space as a nested provider for the data hooks', async () => {
  const cairn = await open();
  let renders = 0;
  function Title() {
    const { value, setValue } = usePersistentState('title', '');
    return h('div', null, h('span', { 'data-testid': 'title' }, value), h('button', { onClick: () => setValue('Alps') }, 'name'));
  }
  function Trip() {
    const { space, name, role, status } = useSpace('trip');
    renders++;
    return h('div', null,
      h('span', { 'data-testid': 'who' }, `${name ?? '-'}/${role ?? '-'}/${status}`),
      // a Space is a Cairn: under its own provider every data hook reads and writes the space
      space ? h(PersistenceProvider, { cairn: space }, h(Title)) : null);
  }
  show(cairn, h(Trip));
  assert.equal(screen.getByTestId('who').textContent, '-/-/opening', 'the hook opens the replica');
  await act(() => cairn.space('trip'));
  assert.equal(screen.getByTestId('who').textContent, '-/-/offline');
  act(() => { cairn.applyRemote([{ seq: 1, change: server('spaces', 'trip', { name: 'Trip', role: 'editor' }) }], 1); });
  assert.equal(screen.getByTestId('who').textContent, 'Trip/editor/offline');
  fireEvent.click(screen.getByText('name'));
  assert.equal(screen.getByTestId('title').textContent, 'Alps');
  const space = await cairn.space('trip');
  assert.equal(space.get('state', 'title'), 'Alps', 'written into the space, not the user');
  assert.equal(cairn.get('state', 'title'), undefined);
  const before = renders;
  act(() => { cairn.write('set', 'state', 'unrelated', 2); });
  assert.equal(renders, before, 'a write of the user\'s own state does not re-render the space');
  act(() => { space.applyRemote([{ seq: 1, change: server('state', 'title', 'Dolomites') }], 1); });
  assert.equal(screen.getByTestId('title').textContent, 'Dolomites', 'a server change of the space re-renders its readers');
  act(() => { space.stateBySync('live'); });
  assert.equal(screen.getByTestId('who').textContent, 'Trip/editor/live');
  act(() => { cairn.applyRemote([{ seq: 2, change: server('spaces', 'trip') }], 2); });
  assert.equal(screen.getByTestId('who').textContent, '-/-/live', 'no longer a member: no name nor role');
  await act(() => cairn.close());
});

test('useSpaceMembers: the read-only members section, sorted; a local write of it is refused', async () => {
  const cairn = await open();
  function Members() {
    const members = useSpaceMembers('trip');
    return h('ul', null, members.map((m) => h('li', { key: m.user }, `${m.user}:${m.role}`)));
  }
  show(cairn, h(Members));
  const space = await act(() => cairn.space('trip'));
  await act(async () => {
    space.applyRemote([{ seq: 1, change: server('members', 'bob', { role: 'editor' }) }, { seq: 2, change: server('members', 'alice', { role: 'owner' }) }], 2);
  });
  assert.deepEqual(screen.getAllByRole('listitem').map((li) => li.textContent), ['alice:owner', 'bob:editor']);
  assert.throws(() => space.write('set', 'members', 'eve', { role: 'owner' }), (e) => e.code === 'forbidden' && /server only/.test(e.message));
  assert.throws(() => cairn.write('delete', 'spaces', 'trip'), (e) => e.code === 'forbidden');
  act(() => { space.applyRemote([{ seq: 3, change: server('members', 'bob') }], 3); });
  assert.deepEqual(screen.getAllByRole('listitem').map((li) => li.textContent), ['alice:owner']);
  await act(() => cairn.close());
});

test('usePresence: peers as the sync client tells them, and the setter of this replica\'s presence', async () => {
  const cairn = await open();
  /** @type {any} */
  let setter = null;
  function Here() {
    const [peers, setMyPresence] = usePresence('trip');
    setter = setMyPresence;
    return h('ul', null, peers.map((p) => h('li', { key: `${p.user}/${p.replica}` }, `${p.user}@${p.replica}:${JSON.stringify(p.state)}`)));
  }
  show(cairn, h(Here));
  const space = await act(() => cairn.space('trip'));
  await act(async () => { space.peersBySync([{ user: 'bob', replica: 'r2', state: { at: 'item-3' } }]); });
  assert.deepEqual(screen.getAllByRole('listitem').map((li) => li.textContent), ['bob@r2:{"at":"item-3"}']);
  act(() => setter({ at: 'item-1' }));
  assert.deepEqual(space.myPresence, { at: 'item-1' });
  assert.throws(() => space.setPresence('x'.repeat(2000)), (e) => e.code === 'invalid-change' && /1024 bytes/.test(e.message));
  assert.deepEqual(space.myPresence, { at: 'item-1' }, 'a refused presence changes nothing');
  act(() => setter(null));
  assert.equal(space.myPresence, undefined);
  act(() => { space.peersBySync([]); });
  assert.equal(screen.queryAllByRole('listitem').length, 0);
  await act(() => cairn.close());
});

test('useSpaces: the user\'s spaces from the spaces section, joined and left', async () => {
  const cairn = await open();
  function Picker() {
    return h('ul', null, useSpaces().map((s) => h('li', { key: s.id }, `${s.id}:${s.name}:${s.role}`)));
  }
  show(cairn, h(Picker));
  assert.equal(screen.queryAllByRole('listitem').length, 0);
  act(() => {
    cairn.applyRemote([{ seq: 1, change: server('spaces', 'trip', { name: 'Trip', role: 'owner' }) }, { seq: 2, change: server('spaces', 'band', { name: 'Band', role: 'viewer' }) }], 2);
  });
  assert.deepEqual(screen.getAllByRole('listitem').map((li) => li.textContent), ['band:Band:viewer', 'trip:Trip:owner']);
  act(() => { cairn.applyRemote([{ seq: 3, change: server('spaces', 'band') }], 3); });
  assert.deepEqual(screen.getAllByRole('listitem').map((li) => li.textContent), ['trip:Trip:owner']);
  await act(() => cairn.close());
});

test('cairn.space needs spaces: true at open, and a valid id', async () => {
  const plain = await Cairn.open({ user: 'alice', storage: 'memory', channel: null });
  await assert.rejects(plain.space('trip'), (e) => e.code === 'spaces-off');
  assert.deepEqual(plain.spaces(), []);
  await plain.close();
  const cairn = await open();
  await assert.rejects(cairn.space('no/such'), RangeError);
  assert.equal(await cairn.space('a'), await cairn.space('a'), 'one replica per space');
  await act(() => cairn.close());
});
