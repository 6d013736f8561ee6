// React bindings for Cairn, with the hook names of the original persistence system:
//
//   <PersistenceProvider cairn={cairn}>                 (or options={{ user, server }}: opened for you)
//     const { value, setValue, isDirty, isSaving, save } = usePersistentState('draft', { name: '' }, { saveDelay: 500 });
//     const { isExpanded, toggle, expand, collapse } = useExpandableCard('intro', false);
//     const { isVisible, toggle, show, hide } = useVisibleComponent('tips', true);
//     const { waiver, setWaiver, hasValidWaiver } = useWaiverPersistence();
//     const { onboarding, updateOnboarding, assessment, answer } = useProgressPersistence();
//     const { state, isSyncing, syncWithBackend, exportData } = usePersistence();
//     const { messages, append } = useChatHistory('main');         (react/sections.js: chat, memory,
//     const { facts, remember, forget } = useMemoryContext();        preferences, ui, features and
//     const { theme, setTheme, setPreference } = useUserPreferences(); the sync status)
//     const [sidebarOpen, setSidebarOpen] = useUIState('sidebarOpen', true);
//     const { isEnabled, setFeature } = useFeatureAccess();
//     const { state, pending, error, retryNow } = useSyncStatus();
//
// useVisibleComponent, useWaiverPersistence and useProgressPersistence are the spec's names; they
// are also exported as useComponentVisibility, useServiceWaiver and useUserProgress (the names of
// the sections they cover).
//
// React is a peer dependency (18 or 19: the hooks are built on useSyncExternalStore) and is
// imported by its bare name, `import * as React from 'react'`. There is no bundler here, so a page
// that uses this file in a browser maps the name with an import map, to an ES module build of the
// same React the app renders with (the npm package itself is CommonJS), e.g.
//
//   <script type="importmap">
//     { "imports": { "react": "https://esm.sh/react@19.3.1", "react-dom/client": "https://esm.sh/react-dom@19.3.1/client" } }
//   </script>
//   <script type="module"> import { PersistenceProvider } from './cairn/react.js'; ... </script>
//
// (or a vendored copy: "react": "/vendor/react.mjs"). A bundler resolves 'react' by itself.
// Node resolves it from node_modules (the tests: demo-web/package.json, src/test/js/react.test.js).
//
// Snapshots and the provider are in react/binding.js; the hooks of the sections the original
// spec names no hook for (chat, memory, preferences, ui, features) and the sync status hook are in
// react/sections.js. Everything is exported from here: `import { ... } from '@cairn/client/react'`.

import * as React from 'react';
import { ANY, useBinding, useSnapshot } from './react/binding.js';

export { share, Binding, bindingOf, PersistenceProvider, useCairn } from './react/binding.js';
export {
  useChatHistory, useMemoryContext, useUserPreferences, useUIState, useFeatureAccess, useSyncStatus,
} from './react/sections.js';
export { useSpaces, useSpace, useSpaceMembers, usePresence } from './react/spaces.js';

const { useCallback, useEffect, useMemo, useRef } = React;

/** @typedef {import('./cairn.js').Cairn} Cairn */

/**
 * A persistent value: the original hook. `setValue` takes a value or an updater (applied to the
 * current stored value), throws ValidationError when `options.validate` rejects the value, and
 * is stable across renders; `save()` resolves when the value is in its tiers. The default is the
 * one given on the first render for this key (like useState); a stored value wins over it.
 * Options are the state handle's: persistTo, autoSave, saveDelay, debounce, sync, validate,
 * defaultValue, section, merge ('fields', the default: an object is stored field by field, so
 * concurrent edits of different fields merge; or 'whole'), version and migrate (see StateHandle).
 * @template T
 * @param {string} key @param {T} defaultValue
 * @param {import('./handles.js').StateOptions<T>} [options]
 * @returns {{value: T, setValue: (next: T | ((prev: T) => T)) => void, isDirty: boolean, hasChanges: boolean, isSaving: boolean, save: () => Promise<void>, reset: () => void}}
 */
export function usePersistentState(key, defaultValue, options = {}) {
  const b = useBinding('usePersistentState');
  const { validate, defaultValue: optDefault, section = 'state', persistTo, autoSave, saveDelay, debounce, sync, merge, version, migrate } = options;
  const validateRef = useRef(validate);
  validateRef.current = validate;
  const migrateRef = useRef(migrate);
  migrateRef.current = migrate;
  const hasMigrate = migrate !== undefined;
  const defaults = useRef(/** @type {{key: string, section: string, value: T}|null} */ (null));
  if (!defaults.current || defaults.current.key !== key || defaults.current.section !== section) {
    defaults.current = { key, section, value: /** @type {T} */ (defaultValue !== undefined ? defaultValue : optDefault) };
  }
  const fallback = defaults.current.value;
  const handle = useMemo(() => {
    /** @type {Record<string, unknown>} */
    const policy = { section, validate: (/** @type {T} */ v) => !validateRef.current || validateRef.current(v) };
    if (persistTo !== undefined) policy.persistTo = persistTo;
    if (autoSave !== undefined) policy.autoSave = autoSave;
    if (saveDelay !== undefined) policy.saveDelay = saveDelay;
    if (debounce !== undefined) policy.debounce = debounce;
    if (sync !== undefined) policy.sync = sync;
    if (merge !== undefined) policy.merge = merge;
    if (version !== undefined) policy.version = version;
    if (hasMigrate) policy.migrate = (/** @type {unknown} */ old, /** @type {number} */ from) => /** @type {Function} */ (migrateRef.current)(old, from);
    return b.cairn.state(key, fallback, policy);
  }, [b, key, section, persistTo, autoSave, saveDelay, debounce, sync, merge, version, hasMigrate, fallback]);
  // The handle caches its value until an entry of it changes; its field entries are in the same section.
  const snap = useSnapshot(b, `state\u0000${section}\u0000${key}`, [`s:${section}`, ANY], () => ({
    value: handle.value,
    isDirty: handle.isDirty,
    isSaving: handle.isSaving,
  }));
  const setValue = useCallback((/** @type {T | ((prev: T) => T)} */ next) => handle.setValue(next), [handle]);
  const save = useCallback(() => handle.save(), [handle]);
  const reset = useCallback(() => handle.reset(), [handle]);
  const value = snap.value;
  return useMemo(
    () => ({ value, setValue, isDirty: snap.isDirty, hasChanges: snap.isDirty, isSaving: snap.isSaving, save, reset }),
    [value, setValue, snap, save, reset],
  );
}

/**
 * An expandable card (the `cards` section, `card-<id>/…`).
 * @param {string} cardId @param {boolean} [defaultExpanded]
 */
export function useExpandableCard(cardId, defaultExpanded = false) {
  const b = useBinding('useExpandableCard');
  const card = useMemo(() => b.cairn.cards.card(cardId, defaultExpanded), [b, cardId, defaultExpanded]);
  const snap = useSnapshot(b, `card\u0000${cardId}\u0000${defaultExpanded}`, ['s:cards'], () => ({
    isExpanded: card.isExpanded, isVisible: card.isVisible, lastInteraction: card.lastInteraction ?? null,
  }));
  const actions = useMemo(() => ({
    toggle: () => { card.toggle(); },
    expand: () => card.expand(),
    collapse: () => card.collapse(),
    setExpanded: (/** @type {boolean} */ v) => card.setExpanded(v),
    setVisible: (/** @type {boolean} */ v) => card.setVisible(v),
  }), [card]);
  return useMemo(() => ({ ...snap, ...actions }), [snap, actions]);
}

/**
 * A component that can be shown and hidden (the `components` section, `component-<id>/…`).
 * @param {string} componentId @param {boolean} [defaultVisible]
 */
export function useVisibleComponent(componentId, defaultVisible = true) {
  const b = useBinding('useVisibleComponent');
  const comp = useMemo(() => b.cairn.components.component(componentId, defaultVisible), [b, componentId, defaultVisible]);
  const snap = useSnapshot(b, `component\u0000${componentId}\u0000${defaultVisible}`, ['s:components'], () => ({
    isVisible: comp.isVisible, isEnabled: comp.isEnabled, lastState: comp.lastState ?? null,
  }));
  const actions = useMemo(() => ({
    toggle: () => { comp.toggle(); },
    show: () => comp.show(),
    hide: () => comp.hide(),
    setVisible: (/** @type {boolean} */ v) => comp.setVisible(v),
    setEnabled: (/** @type {boolean} */ v) => comp.setEnabled(v),
    setLastState: (/** @type {string} */ s) => comp.setLastState(s),
  }), [comp]);
  return useMemo(() => ({ ...snap, ...actions }), [snap, actions]);
}

/** The longest setTimeout delay (about 24.8 days); later expiries are re-armed. */
const MAX_TIMEOUT = 2 ** 31 - 1;

/**
 * The service waiver: one waiver id and version in the append-only `consent` log.
 * `waiver` is its latest event for this version ({type: 'signed'|'revoked', version, at,
 * expiresAt?, data?, stamp}) or null; `setWaiver(data)` signs (valid for `validForMillis`, default
 * without expiry) and `setWaiver(null)` revokes. `hasValidWaiver` turns false by itself when the
 * signature expires.
 * @param {{waiverId?: string, version?: string, validForMillis?: number|null}} [options]
 */
export function useWaiverPersistence({ waiverId = 'service-waiver', version = 'v1', validForMillis = null } = {}) {
  const b = useBinding('useWaiverPersistence');
  const w = useMemo(() => b.cairn.consent.waiver(waiverId, version), [b, waiverId, version]);
  const snap = useSnapshot(b, `waiver\u0000${waiverId}\u0000${version}`, ['s:consent'], () => ({
    waiver: w.waiver, hasValidWaiver: w.hasValidWaiver, history: w.history(),
  }));
  const expiresAt = snap.hasValidWaiver && snap.waiver?.expiresAt ? Date.parse(snap.waiver.expiresAt) : NaN;
  useEffect(() => {
    if (!Number.isFinite(expiresAt)) return undefined;
    /** @type {ReturnType<typeof setTimeout>} */
    let timer;
    const arm = () => {
      const left = expiresAt - b.cairn.wall();
      timer = setTimeout(() => (left > MAX_TIMEOUT ? arm() : b.invalidate(['consent'])), Math.min(Math.max(0, left + 1), MAX_TIMEOUT));
    };
    arm();
    return () => clearTimeout(timer);
  }, [b, expiresAt]);
  const validFor = useRef(validForMillis);
  validFor.current = validForMillis;
  return useMemo(() => ({
    waiver: snap.waiver,
    hasValidWaiver: snap.hasValidWaiver,
    history: snap.history,
    /** @param {Record<string, unknown>|null} data */
    setWaiver: (data) => (data == null ? w.revoke() : w.sign(validFor.current, data)),
    /** @param {number|null} [ms] @param {Record<string, unknown>|null} [data] */
    sign: (ms, data) => w.sign(ms === undefined ? validFor.current : ms, data),
    revoke: () => w.revoke(),
  }), [snap, w]);
}

/** Onboarding and assessment progress (the `progress` section). */
export function useProgressPersistence() {
  const b = useBinding('useProgressPersistence');
  const p = b.cairn.progress;
  const snap = useSnapshot(b, 'progress', ['s:progress'], () => ({ onboarding: p.onboarding, assessment: p.assessment }));
  return useMemo(() => ({
    onboarding: snap.onboarding,
    assessment: snap.assessment,
    /** @param {string} stepId @param {boolean} completed */
    updateOnboarding: (stepId, completed) => p.updateOnboarding(stepId, completed),
    /** @param {string} stepId */
    setCurrentStep: (stepId) => p.setCurrentStep(stepId),
    /** @param {string} questionId @param {unknown} value */
    answer: (questionId, value) => p.answer(questionId, value),
    /** @param {number|null} [score] */
    completeAssessment: (score) => p.completeAssessment(score),
    resetAssessment: () => p.resetAssessment(),
  }), [snap, p]);
}

/** Every section as plain data: map sections as objects, log sections as {stream: entries}. @param {Cairn} cairn */
function wholeState(cairn) {
  /** @type {Record<string, any>} */
  const state = {};
  for (const name of Object.keys(cairn.kinds).sort()) {
    if (cairn.kind(name) === 'map') {
      state[name] = Object.fromEntries(cairn.entries(name));
    } else {
      const log = cairn.replicaState.log(name);
      /** @type {Record<string, any[]>} */
      const streams = {};
      for (const s of log.streams()) streams[s] = log.entries(s).map((e) => ({ ...JSON.parse(e.value), stamp: e.stamp }));
      state[name] = streams;
    }
  }
  return state;
}

/**
 * The whole state and sync: `state` (every section as plain data), `status` (offline | connecting |
 * catching-up | live), `isSyncing` (a syncWithBackend() in flight, or catching up), `lastSync`,
 * `lastSaved`, `pending` (changes not yet acknowledged by the server), `unsaved`;
 * `syncWithBackend()` saves and resolves when the server has everything (rejects without a server
 * or while offline), `exportData(sections?)` returns the export document (a string), and
 * `importData`, `clearSection`, `setSectionSync`, `setOffline`.
 */
export function usePersistence() {
  const b = useBinding('usePersistence');
  const c = b.cairn;
  const state = useSnapshot(b, 'state', Object.keys(c.kinds).map((s) => `s:${s}`), () => wholeState(c));
  const sync = useSnapshot(b, 'sync', [ANY], () => ({
    status: c.status,
    isSyncing: b.syncing > 0 || c.status === 'catching-up',
    lastSync: c.sync?.lastSync ?? null,
    lastSaved: c.lastSaved,
    pending: c.pendingCount(),
    unsaved: c.pendingSaves.size,
    privacy: { ...c.privacy },
  }));
  const syncWithBackend = useCallback(async () => {
    b.syncing++;
    b.invalidate([]);
    try {
      await c.syncNow();
    } finally {
      b.syncing--;
      b.invalidate([]);
    }
  }, [b, c]);
  return useMemo(() => ({
    state,
    ...sync,
    syncWithBackend,
    /** @param {string[]} [sections] */
    exportData: (sections) => c.exportData(sections),
    /** @param {string} document */
    importData: (document) => c.importData(document),
    /** @param {string} section */
    clearSection: (section) => c.clear(section),
    /** @param {string} section @param {boolean} on */
    setSectionSync: (section, on) => c.setSectionSync(section, on),
    /** @param {boolean} offline */
    setOffline: (offline) => c.setOffline(offline),
    save: () => c.save(),
    cairn: c,
  }), [state, sync, syncWithBackend, c]);
}

/** The spec's useVisibleComponent, named after its section (component visibility). */
export const useComponentVisibility = useVisibleComponent;
/** The spec's useWaiverPersistence, named after its section (service waivers). */
export const useServiceWaiver = useWaiverPersistence;
/** The spec's useProgressPersistence, named after its section (user progress). */
export const useUserProgress = useProgressPersistence;
