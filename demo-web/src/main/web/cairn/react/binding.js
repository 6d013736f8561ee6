// The foundation of the React bindings: one Binding (snapshot cache) per Cairn instance, the
// provider, and useSnapshot, on which every hook of ../react.js and ./sections.js is built.
//
// Snapshots: every hook reads through one Binding per Cairn instance. A Binding listens to the
// instance's 'change', 'status' and 'error' events and keeps a version per section (bumped by
// changes in that section) and one for everything (bumped by every event: saves, sync status,
// privacy, errors). A snapshot is cached under an id and recomputed only when a version it depends
// on moved; a recomputed snapshot keeps the previous object (and any unchanged nested object or
// array) when it is structurally equal, so getSnapshot returns the same reference until something
// the component shows really changed (as useSyncExternalStore requires), and unrelated writes
// re-render nothing.

import * as React from 'react';
import { Cairn } from '../cairn.js';

const { createContext, createElement, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } = React;

/** @typedef {import('../cairn.js').OpenOptions} OpenOptions */
/** @typedef {import('../cairn.js').ChangeEvent} ChangeEvent */

/** The token every snapshot that reads more than one section (or sync status) depends on. */
export const ANY = '*';

/**
 * Returns `prev` when `next` is structurally equal to it, else `next` with every nested part
 * that is equal to its counterpart in `prev` replaced by that counterpart (structural sharing).
 * @param {any} prev @param {any} next @returns {any}
 */
export function share(prev, next) {
  if (Object.is(prev, next)) return prev;
  if (Array.isArray(prev) && Array.isArray(next)) {
    let same = prev.length === next.length;
    const out = next.map((v, i) => {
      const s = i < prev.length ? share(prev[i], v) : v;
      if (s !== prev[i]) same = false;
      return s;
    });
    return same ? prev : out;
  }
  if (isPlain(prev) && isPlain(next)) {
    const keys = Object.keys(next);
    let same = keys.length === Object.keys(prev).length;
    /** @type {Record<string, any>} */
    const out = {};
    for (const k of keys) {
      const s = Object.prototype.hasOwnProperty.call(prev, k) ? share(prev[k], next[k]) : next[k];
      if (s !== prev[k] || !Object.prototype.hasOwnProperty.call(prev, k)) same = false;
      out[k] = s;
    }
    return same ? prev : out;
  }
  return next;
}

/** @param {unknown} v */
function isPlain(v) {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The snapshot cache of one Cairn instance, shared by every provider and hook that uses it. */
export class Binding {
  /** @param {Cairn} cairn */
  constructor(cairn) {
    this.cairn = cairn;
    /** @type {Map<string, number>} */
    this.versions = new Map();
    /** @type {Map<string, {stamp: number, value: any}>} */
    this.cache = new Map();
    /** @type {Set<() => void>} */
    this.listeners = new Set();
    /** syncWithBackend() calls in flight */
    this.syncing = 0;
    this.settlePending = false;
    this.subscribe = this.subscribe.bind(this);
    // Listening for the lifetime of the instance (not only while something is subscribed) keeps
    // the cache right for a component that mounts after changes nobody was watching.
    cairn.subscribe((/** @type {ChangeEvent} */ e) => this.changed(e));
    cairn.on('status', () => this.invalidate([]));
    // An error may change what a status hook shows (lastError), even without a status change.
    cairn.on('error', () => this.invalidate([]));
  }

  /** @private @param {ChangeEvent} e */
  changed(e) {
    const sections = new Set(e.changes.map((c) => c.section));
    this.invalidate(sections);
    // The sync client reports an ack (an event without changes) before it sets lastSync; look again
    // once the current task is done so a dashboard does not keep the old time.
    if (e.changes.length === 0 && e.origin === 'remote' && !this.settlePending) {
      this.settlePending = true;
      queueMicrotask(() => {
        this.settlePending = false;
        this.invalidate([]);
      });
    }
  }

  /** Marks sections (and everything derived from all state) as changed and tells subscribers. @param {Iterable<string>} sections */
  invalidate(sections) {
    for (const s of sections) this.bump(`s:${s}`);
    this.bump(ANY);
    for (const fn of [...this.listeners]) fn();
  }

  /** @private @param {string} token */
  bump(token) {
    this.versions.set(token, (this.versions.get(token) ?? 0) + 1);
  }

  /** @param {() => void} fn */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  /**
   * The cached snapshot `id`, recomputed (and structurally shared with the old one) when one of
   * the tokens moved. Versions only grow, so their sum changes exactly when one of them does.
   * @template T @param {string} id @param {string[]} tokens @param {() => T} compute @returns {T}
   */
  read(id, tokens, compute) {
    let stamp = 0;
    for (const t of tokens) stamp += this.versions.get(t) ?? 0;
    const hit = this.cache.get(id);
    if (hit && hit.stamp === stamp) return hit.value;
    const value = share(hit?.value, compute());
    this.cache.set(id, { stamp, value });
    return value;
  }
}

/** @type {WeakMap<Cairn, Binding>} */
const bindings = new WeakMap();

/** The Binding of an instance (one per instance). @param {Cairn} cairn */
export function bindingOf(cairn) {
  let b = bindings.get(cairn);
  if (!b) bindings.set(cairn, (b = new Binding(cairn)));
  return b;
}

const PersistenceContext = createContext(/** @type {Binding|null} */ (null));
PersistenceContext.displayName = 'PersistenceContext';

/**
 * Makes a Cairn instance available to the hooks below it. Either give an open instance
 * (`cairn`), which the app owns and closes, or `options` for Cairn.open, in which case the
 * provider opens one on mount, renders `fallback` until it is ready, and closes it on unmount.
 * `options` is read when the provider mounts and when `options.user` changes; give the provider
 * a new `key` to reopen with other options. An open failure goes to `onError` (default: console).
 * @param {{cairn?: Cairn, options?: OpenOptions, fallback?: any, onError?: (e: unknown) => void, children?: any}} props
 */
export function PersistenceProvider({ cairn, options, fallback = null, onError, children }) {
  if (cairn && options) throw new TypeError('PersistenceProvider takes either a Cairn instance (cairn) or open options (options), not both');
  if (!cairn && !options) throw new TypeError('PersistenceProvider needs a Cairn instance (cairn={...}) or open options (options={{ user, server }})');
  // Duck-typed: a page may load cairn.js under two URLs, and then instanceof fails.
  if (cairn && !(typeof cairn.subscribe === 'function' && cairn.replicaState && cairn.cards)) throw new TypeError('PersistenceProvider: cairn must be a Cairn instance (from Cairn.open)');
  const [opened, setOpened] = useState(/** @type {Cairn|null} */ (null));
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const onErrorRef = useRef(onError);
  onErrorRef.current = onError;
  const user = options?.user;
  useEffect(() => {
    if (cairn) return undefined;
    let cancelled = false;
    /** @type {Cairn|null} */
    let mine = null;
    Cairn.open(/** @type {OpenOptions} */ (optionsRef.current)).then(
      (c) => {
        mine = c;
        if (cancelled) c.close().catch(() => {});
        else setOpened(c);
      },
      (e) => {
        if (cancelled) return;
        if (onErrorRef.current) onErrorRef.current(e);
        else console.error('PersistenceProvider: Cairn.open failed', e);
      },
    );
    return () => {
      cancelled = true;
      setOpened(null);
      if (mine) mine.close().catch(() => {});
    };
  }, [cairn, user]);
  const instance = cairn ?? opened;
  const binding = instance ? bindingOf(instance) : null;
  if (!binding) return fallback;
  return createElement(PersistenceContext.Provider, { value: binding }, children);
}

/** @param {string} hook @returns {Binding} */
export function useBinding(hook) {
  const binding = useContext(PersistenceContext);
  if (!binding) {
    throw new Error(`${hook} must be used inside <PersistenceProvider> (wrap the app in <PersistenceProvider cairn={cairn}> or <PersistenceProvider options={{ user }}>)`);
  }
  return binding;
}

/**
 * useSyncExternalStore over one cached snapshot of the binding. The same function serves as the
 * server snapshot, so server rendering works with an instance made for the request.
 * @template T @param {Binding} b @param {string} id @param {string[]} tokens @param {() => T} compute @returns {T}
 */
export function useSnapshot(b, id, tokens, compute) {
  const computeRef = useRef(compute);
  computeRef.current = compute;
  const tokenKey = tokens.join('\u0000');
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const get = useCallback(() => b.read(id, tokens, () => computeRef.current()), [b, id, tokenKey]);
  return useSyncExternalStore(b.subscribe, get, get);
}

/** The Cairn instance of the nearest provider (for what the hooks do not cover). */
export function useCairn() {
  return useBinding('useCairn').cairn;
}

