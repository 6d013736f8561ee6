// The hooks of the sections the original spec lists without naming a hook for them (chat history,
// memory context, user preferences, UI state, feature access) and of the sync status. Each reads
// one section through the Binding (binding.js), so a write elsewhere re-renders nothing here.
//
//   const { messages, append, clear } = useChatHistory('main');
//   const { facts, remember, recall, forget } = useMemoryContext();
//   const { preferences, theme, setTheme, setPreference } = useUserPreferences();
//   const [sidebarOpen, setSidebarOpen] = useUIState('sidebarOpen', true);
//   const { features, isEnabled, setFeature } = useFeatureAccess();
//   const { state, pending, error, lastError, lastSync, retryNow, setOffline } = useSyncStatus();

import * as React from 'react';
import { ANY, useBinding, useSnapshot } from './binding.js';

const { useCallback, useMemo, useRef } = React;

/** @typedef {import('./binding.js').Binding} Binding */
/** @typedef {{role: string, text: string, at: string, metadata?: Record<string, unknown>, stamp: string}} ChatMessage */

/**
 * One conversation of the `chat` log: `messages` oldest first ({role, text, at, metadata?, stamp}),
 * `append(role, text, metadata?)`, `clear()` (this conversation, on every device), and the ids of
 * every `conversations`.
 * @param {string} [conversation]
 * @returns {{messages: ChatMessage[], conversations: string[], append: (role: string, text: string, metadata?: Record<string, unknown>) => void, clear: () => void}}
 */
export function useChatHistory(conversation = 'main') {
  const b = useBinding('useChatHistory');
  const chat = b.cairn.chat;
  const snap = useSnapshot(b, `chat\u0000${conversation}`, ['s:chat'], () => ({
    messages: /** @type {ChatMessage[]} */ (chat.history(conversation)),
    conversations: [...chat.conversations()].sort(),
  }));
  return useMemo(() => ({
    messages: snap.messages,
    conversations: snap.conversations,
    /** @param {string} role @param {string} text @param {Record<string, unknown>} [metadata] */
    append: (role, text, metadata) => { chat.append(conversation, role, text, metadata); },
    clear: () => chat.clear(conversation),
  }), [snap, chat, conversation]);
}

/**
 * Every live entry of a key-value section as one object, cached per section.
 * @param {Binding} b @param {string} section @returns {Record<string, unknown>}
 */
function useSectionObject(b, section) {
  return useSnapshot(b, `section\u0000${section}`, [`s:${section}`], () => Object.fromEntries(b.cairn.entries(section)));
}

/**
 * The assistant's memory (the `memory` section): `facts` as one object, `remember(fact, value)`,
 * `recall(fact)` and `forget(fact)`.
 * @returns {{facts: Record<string, unknown>, remember: (fact: string, value: unknown) => void, recall: (fact: string) => unknown, forget: (fact: string) => void}}
 */
export function useMemoryContext() {
  const b = useBinding('useMemoryContext');
  const memory = b.cairn.memory;
  const facts = useSectionObject(b, 'memory');
  return useMemo(() => ({
    facts,
    /** @param {string} fact @param {unknown} value */
    remember: (fact, value) => memory.remember(fact, value),
    /** @param {string} fact */
    recall: (fact) => facts[fact],
    /** @param {string} fact */
    forget: (fact) => memory.forget(fact),
  }), [facts, memory]);
}

/**
 * User preferences (the `preferences` section: theme, accessibility, privacy...): `preferences`
 * as one object, `theme` ('system' until set), `setTheme`, `setPreference(key, value)` and
 * `removePreference(key)`.
 * @returns {{preferences: Record<string, unknown>, theme: string, setTheme: (theme: string) => void, setPreference: (key: string, value: unknown) => void, removePreference: (key: string) => void}}
 */
export function useUserPreferences() {
  const b = useBinding('useUserPreferences');
  const prefs = b.cairn.preferences;
  const preferences = useSectionObject(b, 'preferences');
  return useMemo(() => ({
    preferences,
    theme: /** @type {string} */ (preferences.theme ?? 'system'),
    /** @param {string} theme */
    setTheme: (theme) => prefs.setTheme(theme),
    /** @param {string} key @param {unknown} value */
    setPreference: (key, value) => prefs.set(key, value),
    /** @param {string} key */
    removePreference: (key) => prefs.remove(key),
  }), [preferences, prefs]);
}

/**
 * One value of the `ui` section (layout, navigation state), used like useState:
 * `const [open, setOpen] = useUIState('sidebarOpen', true)`. The setter takes a value or an
 * updater; `setOpen(undefined)` deletes the key (back to the default). The default is the one of
 * the first render for this key.
 * @template T
 * @param {string} key @param {T} defaultValue
 * @returns {[T, (next: T | undefined | ((prev: T) => T | undefined)) => void]}
 */
export function useUIState(key, defaultValue) {
  const b = useBinding('useUIState');
  const ui = b.cairn.ui;
  const fallback = useRef(/** @type {{key: string, value: T}|null} */ (null));
  if (!fallback.current || fallback.current.key !== key) fallback.current = { key, value: defaultValue };
  const initial = fallback.current.value;
  const value = useSnapshot(b, `ui\u0000${key}`, ['s:ui'], () => /** @type {T} */ (ui.get(key, initial)));
  const set = useCallback((/** @type {T | undefined | ((prev: T) => T | undefined)} */ next) => {
    const prev = /** @type {T} */ (ui.get(key, initial));
    const v = typeof next === 'function' ? /** @type {(prev: T) => T | undefined} */ (next)(prev) : next;
    if (v === undefined) {
      if (ui.get(key) !== undefined) ui.remove(key);
    } else ui.set(key, v);
  }, [ui, key, initial]);
  return useMemo(() => /** @type {[T, typeof set]} */ ([value, set]), [value, set]);
}

/**
 * Feature access (the `features` section): `features` as one object, `isEnabled(name)` (a
 * feature is on when its value is `true`) and `setFeature(name, on)`.
 * @returns {{features: Record<string, unknown>, isEnabled: (name: string) => boolean, setFeature: (name: string, on: boolean) => void}}
 */
export function useFeatureAccess() {
  const b = useBinding('useFeatureAccess');
  const store = b.cairn.features;
  const features = useSectionObject(b, 'features');
  return useMemo(() => ({
    features,
    /** @param {string} name */
    isEnabled: (name) => features[name] === true,
    /** @param {string} name @param {boolean} on */
    setFeature: (name, on) => store.set(name, on),
  }), [features, store]);
}

/**
 * @typedef {object} SyncStatusView
 * @property {'offline'|'connecting'|'catching-up'|'live'|'locked'} state offline also when no server is configured (`configured` false)
 * @property {boolean} configured a sync server was given to Cairn.open
 * @property {number} pending local changes the server has not acknowledged yet
 * @property {string|null} error the code of the sync client's last problem (e.g. 'forbidden-origin', 'unauthorized', 'connection-lost'), null when none
 * @property {{code: string, message: string}|null} lastError that problem in full
 * @property {number|null} lastSync millis of the last exchange with the server
 * @property {() => void} retryNow connect now (after a permanent failure too, or to skip a backoff) and push; a failure shows in `error`
 * @property {(offline: boolean) => void} setOffline the offline switch
 * @property {() => Promise<void>} syncNow saves and resolves when the server has everything
 */

/**
 * The sync status, for a banner: `state`, `pending`, `error`/`lastError`, `lastSync`, and
 * `retryNow()`, `setOffline(on)`, `syncNow()`. Re-renders on status changes, errors and writes.
 * @returns {SyncStatusView}
 */
export function useSyncStatus() {
  const b = useBinding('useSyncStatus');
  const c = b.cairn;
  const snap = useSnapshot(b, 'sync-status', [ANY], () => {
    const s = c.syncStatus;
    const lastError = s.lastError ? { code: s.lastError.code, message: s.lastError.message } : null;
    return { state: s.state, configured: !!c.options.server, pending: s.pending, error: s.error, lastError, lastSync: c.sync?.lastSync ?? null };
  });
  return useMemo(() => ({
    ...snap,
    // syncNow() retries the connection at once; how that goes shows in the status itself.
    retryNow: () => { c.syncNow().catch(() => {}); },
    /** @param {boolean} offline */
    setOffline: (offline) => c.setOffline(offline),
    syncNow: () => c.syncNow(),
  }), [snap, c]);
}
