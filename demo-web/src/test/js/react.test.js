// The React bindings (cairn/react.js) with React from npm (demo-web/package.json), rendered into
// jsdom by @testing-library/react (dom.js installs the DOM first); server rendering is in
// react-server.test.js (a process of its own: React warns when two renderers use one context).
// Every test fails on any console.error React prints (act warnings, "getSnapshot should be
// cached", key warnings...). The hooks of react/sections.js are in react-sections.test.js.
import './dom.js';
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import React from 'react';
import { render, act, screen } from '@testing-library/react';
import { Cairn, ValidationError } from '../../main/web/cairn/cairn.js';
import {
  PersistenceProvider, usePersistentState, useExpandableCard, useVisibleComponent, useWaiverPersistence,
  useProgressPersistence, usePersistence, useCairn, share,
} from '../../main/web/cairn/react.js';

const h = React.createElement;

/** console.error lines of the current test (React reports its warnings there). */
let errors = [];
const realError = console.error;
console.error = (...args) => {
  errors.push(args.map(String).join(' '));
};
beforeEach(() => { errors = []; });
afterEach(() => { assert.deepEqual(errors, [], 'React printed errors or warnings'); });
process.on('exit', () => { console.error = realError; });

const open = (extra = {}) => Cairn.open({ user: 'alice', storage: 'memory', channel: null, ...extra });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Mounts `use` (a hook call) in a component under a provider; every render's result is kept.
 * @returns {{renders: any[], last: () => any, renderer: import('@testing-library/react').RenderResult, rerender: () => void}}
 */
function mount(cairn, use, { strict = false } = {}) {
  const renders = [];
  let bump;
  function Probe() {
    const [, setTick] = React.useState(0);
    bump = () => setTick((t) => t + 1);
    renders.push(use());
    return null;
  }
  const renderer = render(h(PersistenceProvider, { cairn }, h(Probe)), { reactStrictMode: strict });
  return { renders, last: () => renders[renders.length - 1], renderer, rerender: () => act(() => bump()) };
}

/**
 * Changes made by another replica of the same user that has seen `cairn`'s state (so its writes
 * come after, not concurrently), as the sync client would hand them over.
 */
async function remoteChanges(cairn, write) {
  const other = await open();
  other.importData(cairn.exportData());
  const changes = [];
  other.subscribe((e) => changes.push(...e.changes));
  write(other);
  await other.close();
  return changes;
}

test('usePersistentState: default, setValue (value and updater) re-renders, isDirty/isSaving/save', async () => {
  const cairn = await open();
  const m = mount(cairn, () => usePersistentState('form', { count: 0, name: '' }, { saveDelay: 60_000 }));
  assert.deepEqual(m.last().value, { count: 0, name: '' });
  assert.equal(m.last().isDirty, false);
  assert.equal(m.last().isSaving, false);
  const { setValue, save } = m.last();
  act(() => m.last().setValue((prev) => ({ ...prev, count: prev.count + 1 })));
  act(() => m.last().setValue((prev) => ({ ...prev, name: 'Ada' })));
  assert.deepEqual(m.last().value, { count: 1, name: 'Ada' });
  assert.equal(m.last().isDirty, true);
  assert.equal(m.last().hasChanges, true);
  assert.equal(m.last().setValue, setValue, 'setValue is stable');
  assert.equal(m.last().save, save, 'save is stable');
  let saved;
  act(() => { saved = m.last().save(); }); // renders what the synchronous part of save() did
  assert.equal(m.last().isSaving, true, 'isSaving while the save runs');
  assert.equal(m.last().isDirty, false, 'no longer dirty once handed to the tiers');
  await act(() => saved);
  assert.equal(m.last().isDirty, false);
  assert.equal(m.last().isSaving, false);
  assert.deepEqual(cairn.state('form', null).value, { count: 1, name: 'Ada' }, 'the instance has the value');
  act(() => m.last().reset());
  assert.deepEqual(m.last().value, { count: 0, name: '' }, 'reset goes back to the default');
  act(() => m.renderer.unmount());
  await cairn.close();
});

test('usePersistentState: validate rejects with ValidationError and keeps the value; options reach the policy', async () => {
  const cairn = await open();
  const m = mount(cairn, () => usePersistentState('age', 30, { validate: (v) => v >= 0, persistTo: 'context', saveDelay: 0 }));
  assert.throws(() => m.last().setValue(-1), ValidationError);
  assert.equal(m.last().value, 30);
  act(() => m.last().setValue(31));
  assert.equal(m.last().value, 31);
  assert.equal(cairn.policyFor('state', 'age').persistTo, 'context');
  await act(() => cairn.save());
  assert.equal(cairn.tiers.localStorage.load().filter((c) => c.key === 'age').length, 0, 'context stays in memory');
  act(() => m.renderer.unmount());
  await cairn.close();
});

test('usePersistentState: a change on the instance, another hook, or a remote replica re-renders', async () => {
  const cairn = await open();
  const a = mount(cairn, () => usePersistentState('shared', 'x'));
  const b = mount(cairn, () => usePersistentState('shared', 'x'));
  act(() => cairn.state('shared', 'x').setValue('direct'));
  assert.equal(a.last().value, 'direct');
  assert.equal(b.last().value, 'direct');
  act(() => a.last().setValue('from a'));
  assert.equal(b.last().value, 'from a');
  const changes = await remoteChanges(cairn, (o) => o.state('shared', 'x').setValue('remote'));
  act(() => { cairn.merge(changes, 'remote'); });
  assert.equal(a.last().value, 'remote');
  assert.equal(b.last().value, 'remote');
  act(() => { a.renderer.unmount(); b.renderer.unmount(); });
  await cairn.close();
});

test('usePersistentState: fields merge with a remote edit of another field; version and migrate; null refused', async () => {
  const cairn = await open();
  cairn.state('prefs', {}, { version: 1 }).setValue({ colour: 'red', size: 1 });
  const calls = [];
  const migrate = (old, from) => { calls.push(from); const { colour, ...rest } = old; return { ...rest, color: colour }; };
  const m = mount(cairn, () => usePersistentState('prefs', { color: 'blue', size: 0, zoom: 1 }, { version: 2, migrate }));
  assert.deepEqual(m.last().value, { color: 'red', size: 1, zoom: 1 }, 'migrated on read, default filled in');
  await act(() => new Promise((r) => setTimeout(r, 0))); // the write-back
  assert.deepEqual(Object.fromEntries(cairn.entries('state')), { prefs: { $cairn: 'fields', version: 2 }, 'prefs#color': 'red', 'prefs#size': 1 });
  assert.deepEqual(calls, [1]);
  const changes = await remoteChanges(cairn, (o) => o.state('prefs', {}, { version: 2 }).setValue((p) => ({ ...p, size: 5 })));
  act(() => m.last().setValue((p) => ({ ...p, color: 'green' })));
  act(() => { cairn.merge(changes, 'remote'); });
  assert.deepEqual(m.last().value, { color: 'green', size: 5, zoom: 1 }, 'both edits kept');
  assert.throws(() => m.last().setValue(null), /use reset\(\)/);
  assert.deepEqual(calls, [1]);
  act(() => m.renderer.unmount());
  await cairn.close();
});

test('snapshots are stable: inline defaults, parent re-renders and unrelated writes give the same objects', async () => {
  const cairn = await open();
  // Inline object default and inline options on every render: an unstable getSnapshot would loop
  // ("Maximum update depth") or make React warn "The result of getSnapshot should be cached".
  const m = mount(cairn, () => ({
    state: usePersistentState('obj', { list: [1, 2], nested: { a: 1 } }, { saveDelay: 1000, validate: () => true }),
    card: useExpandableCard('c1'),
    comp: useVisibleComponent('v1'),
    progress: useProgressPersistence(),
    waiver: useWaiverPersistence(),
    all: usePersistence(),
  }), { strict: true });
  const first = m.last();
  m.rerender();
  const second = m.last();
  for (const k of Object.keys(first)) assert.equal(second[k], first[k], `${k}: same result object on a re-render without changes`);
  assert.equal(second.state.value, first.state.value);

  const before = m.renders.length;
  act(() => cairn.cards.card('other').expand()); // another card
  act(() => cairn.state('unrelated', 0).setValue(5)); // another key of the same section
  assert.equal(m.last().card, first.card, 'another card leaves this card alone');
  assert.equal(m.last().comp, first.comp);
  assert.equal(m.last().progress, first.progress);
  assert.equal(m.last().waiver, first.waiver);
  assert.equal(m.last().state.value, first.state.value, 'another key leaves the value object');
  assert.notEqual(m.last().all.state, first.all.state, 'usePersistence shows the whole state');
  assert.equal(m.last().all.state.preferences, first.all.state.preferences, 'untouched sections keep their objects');

  act(() => m.last().state.setValue((p) => ({ ...p, nested: { a: 2 } })));
  const stored = m.last().state.value;
  assert.deepEqual(stored, { list: [1, 2], nested: { a: 2 } });
  act(() => m.last().state.setValue((p) => ({ ...p, nested: { a: 3 } })));
  assert.equal(m.last().state.value.list, stored.list, 'unchanged nested parts are shared between values');
  assert.ok(m.renders.length - before < 20, `a handful of renders, not a loop (${m.renders.length - before})`);
  act(() => m.renderer.unmount());
  await cairn.close();
});

test('a component re-renders only for what it reads', async () => {
  const cairn = await open();
  let cardRenders = 0;
  function Card() {
    const c = useExpandableCard('intro');
    cardRenders++;
    return h('span', null, c.isExpanded ? 'open' : 'closed');
  }
  const r = render(h(PersistenceProvider, { cairn }, h(Card)));
  assert.equal(cardRenders, 1);
  act(() => { cairn.preferences.setTheme('dark'); cairn.chat.append('main', 'user', 'hi'); cairn.cards.card('zzz').toggle(); });
  assert.equal(cardRenders, 1, 'other sections and other cards do not re-render the card');
  act(() => cairn.cards.card('intro').toggle());
  assert.equal(cardRenders, 2);
  assert.equal(screen.getByText(/open|closed/).textContent, 'open');
  act(() => r.unmount());
  await cairn.close();
});

test('useExpandableCard: default, toggle/expand/collapse, direct and remote changes', async () => {
  const cairn = await open();
  const m = mount(cairn, () => useExpandableCard('intro', false));
  assert.equal(m.last().isExpanded, false);
  const { toggle } = m.last();
  act(() => m.last().toggle());
  assert.equal(m.last().isExpanded, true);
  assert.equal(m.last().toggle, toggle, 'actions are stable across changes');
  assert.equal(typeof m.last().lastInteraction, 'string');
  act(() => m.last().collapse());
  assert.equal(m.last().isExpanded, false);
  act(() => m.last().expand());
  assert.equal(m.last().isExpanded, true);
  act(() => cairn.cards.card('intro').collapse());
  assert.equal(m.last().isExpanded, false, 'a change on the instance re-renders');
  const changes = await remoteChanges(cairn, (o) => o.cards.card('intro').expand());
  act(() => { cairn.merge(changes, 'remote'); });
  assert.equal(m.last().isExpanded, true, 'a remote change re-renders');
  const open2 = mount(cairn, () => useExpandableCard('fresh', true));
  assert.equal(open2.last().isExpanded, true, 'defaultExpanded');
  act(() => { m.renderer.unmount(); open2.renderer.unmount(); });
  await cairn.close();
});

test('useVisibleComponent: default, toggle/show/hide, direct and tab changes', async () => {
  const cairn = await open();
  const m = mount(cairn, () => useVisibleComponent('tips', true));
  assert.equal(m.last().isVisible, true);
  act(() => m.last().toggle());
  assert.equal(m.last().isVisible, false);
  act(() => m.last().show());
  assert.equal(m.last().isVisible, true);
  act(() => m.last().hide());
  assert.equal(m.last().isVisible, false);
  act(() => cairn.components.component('tips').show());
  assert.equal(m.last().isVisible, true);
  const changes = await remoteChanges(cairn, (o) => o.components.component('tips').hide());
  act(() => { cairn.merge(changes, 'tab'); });
  assert.equal(m.last().isVisible, false, 'a change from another tab re-renders');
  const hidden = mount(cairn, () => useVisibleComponent('drawer', false));
  assert.equal(hidden.last().isVisible, false, 'defaultVisible');
  act(() => { m.renderer.unmount(); hidden.renderer.unmount(); });
  await cairn.close();
});

test('useWaiverPersistence: sign, revoke, history, remote signature, expiry without any write', async () => {
  const cairn = await open();
  const m = mount(cairn, () => useWaiverPersistence({ waiverId: 'service-waiver', version: 'v1' }));
  assert.equal(m.last().waiver, null);
  assert.equal(m.last().hasValidWaiver, false);
  act(() => m.last().setWaiver({ signedFrom: 'desktop' }));
  assert.equal(m.last().hasValidWaiver, true);
  assert.equal(m.last().waiver.type, 'signed');
  assert.deepEqual(m.last().waiver.data, { signedFrom: 'desktop' });
  act(() => m.last().setWaiver(null));
  assert.equal(m.last().hasValidWaiver, false);
  assert.equal(m.last().waiver.type, 'revoked');
  assert.deepEqual(m.last().history.map((e) => e.type), ['signed', 'revoked']);
  const changes = await remoteChanges(cairn, (o) => o.consent.sign('service-waiver', 'v1'));
  act(() => { cairn.merge(changes, 'remote'); });
  assert.equal(m.last().hasValidWaiver, true, 'signed on another device');

  const short = mount(cairn, () => useWaiverPersistence({ waiverId: 'short', version: 'v1', validForMillis: 40 }));
  act(() => short.last().setWaiver({}));
  assert.equal(short.last().hasValidWaiver, true);
  assert.ok(short.last().waiver.expiresAt);
  await act(() => sleep(120));
  assert.equal(short.last().hasValidWaiver, false, 'expires by itself');
  act(() => { m.renderer.unmount(); short.renderer.unmount(); });
  await cairn.close();
});

test('useProgressPersistence: onboarding steps, assessment, direct changes', async () => {
  const cairn = await open();
  const m = mount(cairn, () => useProgressPersistence());
  assert.deepEqual(m.last().onboarding, { completedSteps: [], currentStep: null });
  assert.equal(m.last().assessment.isComplete, false);
  act(() => m.last().updateOnboarding('welcome', true));
  act(() => m.last().setCurrentStep('profile'));
  assert.deepEqual(m.last().onboarding, { completedSteps: ['welcome'], currentStep: 'profile' });
  const assessmentBefore = m.last().assessment;
  act(() => cairn.progress.updateOnboarding('profile', true));
  assert.deepEqual(m.last().onboarding.completedSteps, ['profile', 'welcome']);
  assert.equal(m.last().assessment, assessmentBefore, 'assessment object kept while only onboarding changed');
  act(() => m.last().updateOnboarding('welcome', false));
  assert.deepEqual(m.last().onboarding.completedSteps, ['profile']);
  act(() => { m.last().answer('q1', 'yes'); m.last().completeAssessment(7); });
  assert.deepEqual(m.last().assessment.answers, { q1: 'yes' });
  assert.equal(m.last().assessment.isComplete, true);
  assert.equal(m.last().assessment.score, 7);
  act(() => m.last().resetAssessment());
  assert.equal(m.last().assessment.isComplete, false);
  act(() => m.renderer.unmount());
  await cairn.close();
});

test('usePersistence: state, status, isSyncing, syncWithBackend, exportData/importData, clearSection', async () => {
  const cairn = await open();
  const m = mount(cairn, () => usePersistence());
  assert.equal(m.last().status, 'offline');
  assert.equal(m.last().isSyncing, false);
  assert.deepEqual(m.last().state.cards, {});
  act(() => { cairn.cards.card('intro').expand(); cairn.chat.append('main', 'user', 'hello'); cairn.preferences.setTheme('dark'); });
  assert.equal(m.last().state.cards['card-intro/isExpanded'], true);
  assert.equal(m.last().state.preferences.theme, 'dark');
  assert.equal(m.last().state.chat.main[0].text, 'hello');
  assert.equal(m.last().unsaved > 0, true);
  await act(() => m.last().save());
  assert.equal(m.last().unsaved, 0);
  assert.equal(typeof m.last().lastSaved, 'number');

  // No server configured: syncWithBackend saves, shows isSyncing meanwhile, and rejects.
  let err;
  let syncing;
  act(() => { syncing = m.last().syncWithBackend().catch((e) => { err = e; }); });
  assert.equal(m.last().isSyncing, true, 'isSyncing while syncWithBackend runs');
  await act(() => syncing);
  assert.match(String(err), /no sync server configured/);
  assert.equal(m.last().isSyncing, false);

  const doc = m.last().exportData();
  assert.equal(typeof doc, 'string');
  const fresh = await open();
  const n = mount(fresh, () => usePersistence());
  act(() => { n.last().importData(doc); });
  assert.deepEqual(n.last().state, m.last().state, 'an import shows the exported state');
  act(() => { n.last().clearSection('chat'); });
  assert.deepEqual(n.last().state.chat, { main: [] }, 'a cleared stream is listed, empty');
  act(() => { m.renderer.unmount(); n.renderer.unmount(); });
  await cairn.close();
  await fresh.close();
});

test('the hooks need a provider: the client renderer reports the same error', () => {
  function Orphan() { useExpandableCard('c'); return null; }
  class Boundary extends React.Component {
    constructor(props) { super(props); this.state = { error: null }; }
    static getDerivedStateFromError(error) { return { error }; }
    render() { return this.state.error ? h('p', null, this.state.error.message) : this.props.children; }
  }
  const r = render(h(Boundary, null, h(Orphan)));
  assert.match(r.container.textContent, /useExpandableCard must be used inside <PersistenceProvider>/);
  act(() => r.unmount());
  errors = errors.filter((e) => !e.includes('must be used inside <PersistenceProvider>') && !e.includes('error boundary'));
});

test('PersistenceProvider with options opens an instance, shows the fallback meanwhile, closes it on unmount', async () => {
  let seen;
  function Page() {
    seen = useCairn();
    const { value } = usePersistentState('greeting', 'hi');
    return h('p', null, value);
  }
  const r = render(h(PersistenceProvider, { options: { user: 'bob', storage: 'memory', channel: null }, fallback: 'loading' }, h(Page)));
  assert.equal(r.container.innerHTML, 'loading');
  await act(() => sleep(20));
  assert.equal(r.container.innerHTML, '<p>hi</p>');
  assert.equal(seen.user, 'bob');
  act(() => seen.state('greeting', 'hi').setValue('hello'));
  assert.equal(r.container.innerHTML, '<p>hello</p>');
  let closed = false;
  const close = seen.close.bind(seen);
  seen.close = () => { closed = true; return close(); };
  act(() => r.unmount());
  assert.equal(closed, true, 'the provider closes what it opened');

  let failure;
  await act(async () => {
    render(h(PersistenceProvider, { options: { user: '' }, onError: (e) => { failure = e; } }, h(Page)));
    await sleep(10);
  });
  assert.match(String(failure), /needs a user/);
});

test('share keeps equal parts of the previous snapshot', () => {
  const prev = { a: [1, { b: 2 }], c: { d: 'x' }, e: 1 };
  assert.equal(share(prev, JSON.parse(JSON.stringify(prev))), prev);
  const next = share(prev, { a: [1, { b: 2 }], c: { d: 'y' }, e: 1 });
  assert.notEqual(next, prev);
  assert.equal(next.a, prev.a);
  assert.deepEqual(next.c, { d: 'y' });
  assert.notEqual(share({ a: 1 }, { a: 1, b: undefined }), undefined);
  assert.deepEqual(Object.keys(share({ a: 1 }, { b: 1 })), ['b']);
  assert.deepEqual(share([1, 2], [1]), [1]);
});
