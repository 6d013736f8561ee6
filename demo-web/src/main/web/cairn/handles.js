// The typed handles of the façade (the engine's PersistentState, Cards, Components, Consent,
// Progress, Chat and the key-value sections), each a thin view over Cairn's reads and writes.

import { instantText } from './codec.js';
import { ValidationError, checkPolicy } from './persister.js';
import { readValue, resolveRoot, planWrite, plainJson, compareKeys, StoredByNewerVersionError } from './fields.js';

/** @typedef {import('./cairn.js').Cairn} Cairn */
/** @typedef {import('./persister.js').Policy} Policy */
/** @typedef {import('./fields.js').MergeMode} MergeMode */
/** @typedef {import('./fields.js').ValueRead} ValueRead */

/**
 * @template T
 * @typedef {Partial<Policy> & {validate?: (value: T) => boolean, defaultValue?: T, section?: string,
 *   merge?: MergeMode, version?: number, migrate?: (oldValue: any, fromVersion: number) => T}} StateOptions
 */

/**
 * One persistent value: the original hook's value, setValue, isDirty, isSaving, save(). A non-empty
 * object is stored field by field (`merge: 'fields'`, the default) so concurrent edits of different
 * fields both survive; `version` and `migrate` upgrade values stored by older versions of the app
 * (spec/vectors/values/README.md, the logic in fields.js).
 * @template T
 */
export class StateHandle {
  /**
   * @param {Cairn} cairn @param {string} key @param {T} defaultValue
   * @param {StateOptions<T>} options
   */
  constructor(cairn, key, defaultValue, options) {
    if (typeof key === 'string' && key.includes('#')) {
      throw new Error(`state key '${key}' may not contain '#': it separates the fields of a stored object (${key.replace(/#/g, '_')} would do)`);
    }
    const { validate, defaultValue: _d, section, merge = 'fields', version = 0, migrate, ...policy } = options;
    if (merge !== 'fields' && merge !== 'whole') throw new RangeError(`merge must be 'fields' or 'whole', not '${merge}'`);
    if (!Number.isSafeInteger(version) || version < 0) throw new RangeError(`version must be an integer >= 0, not ${version}`);
    if (migrate !== undefined && typeof migrate !== 'function') throw new TypeError('migrate must be a function (oldValue, fromVersion) => newValue');
    this.cairn = cairn;
    this.key = key;
    this.section = section ?? 'state';
    this.defaultValue = defaultValue !== undefined ? defaultValue : options.defaultValue;
    this.validate = validate;
    /** @type {MergeMode} */
    this.merge = merge;
    this.version = version;
    this.migrate = migrate;
    const parent = cairn.policyFor(this.section);
    this.policy = checkPolicy({ ...parent, ...policy, delayed: 'saveDelay' in policy || !!parent.delayed });
    cairn.keyPolicies.set(`${this.section}\u0000${key}`, this.policy);
    this.id = `${this.section}\u0000m\u0000${key}`;
    /** @type {{generation: string, root: unknown, read: ValueRead, value: T}|null} the last read, until an entry of the value changes */
    this.cache = null;
    /** @type {unknown} the value the app last read: the fields it knows when it writes */
    this.known = undefined;
    this.hasRead = false;
    this.newerReported = false;
    this.writeBackDue = false;
  }

  /** @returns {T} */
  get value() {
    const { value } = this.read();
    this.known = value;
    this.hasRead = true;
    return value;
  }

  /** The cached read, or a new one once an entry of this value changed. @private */
  read() {
    const index = this.cairn.fieldIndex;
    const generation = index.generation(this.section, this.key);
    const root = this.cairn.replicaState.map(this.section).entry(this.key);
    if (this.cache && this.cache.generation === generation && this.cache.root === root) return this.cache;
    const read = readValue(this.key, index.entries(this.section, this.key), {
      version: this.version, migrate: this.migrate, hasDefault: true, defaultValue: this.defaultValue,
    });
    const value = /** @type {T} */ (read.state === 'value' ? read.value : this.defaultValue);
    this.cache = { generation, root, read, value };
    if (read.state === 'unreadable') this.report(read.error);
    else if (read.state === 'value') {
      if (read.newer && !this.newerReported) {
        this.newerReported = true;
        this.report(new StoredByNewerVersionError(this.key, read.version, this.version));
      }
      if (read.migrated) this.writeBack();
    }
    return this.cache;
  }

  /** Tells 'error' listeners after the read (a read may happen while React renders). @private @param {Error} error */
  report(error) {
    queueMicrotask(() => this.cairn.emit('error', error));
  }

  /** Writes a migrated value back once, after the read that migrated it. @private */
  writeBack() {
    if (this.writeBackDue) return;
    this.writeBackDue = true;
    queueMicrotask(() => {
      this.writeBackDue = false;
      const { read } = this.read();
      if (read.state !== 'value' || !read.migrated) return;
      try {
        this.store(read.stored, true);
      } catch (e) {
        this.cairn.emit('error', e);
      }
    });
  }

  /** Sets the value (or applies an updater to the current one); a rejected value throws ValidationError. @param {T | ((prev: T) => T)} next */
  setValue(next) {
    const value = typeof next === 'function' ? /** @type {(prev: T) => T} */ (next)(this.value) : next;
    if (value === null || value === undefined) throw new TypeError(`setValue(${value}) on '${this.key}': a stored value cannot be ${value}; use reset() to delete it (back to the default)`);
    if (this.validate && !this.validate(value)) throw new ValidationError(`value for '${this.key}' was rejected by its validator; the old value stays`);
    if (!this.hasRead) void this.value;
    this.store(value, false);
  }

  /**
   * Writes the minimal changes for `value` in one local write. While the stored version is below
   * the app's (a migration's write-back, or a write before it), every stored field is known.
   * @private @param {unknown} value @param {boolean} writeBack
   */
  store(value, writeBack) {
    const entries = this.cairn.fieldIndex.entries(this.section, this.key);
    const everythingKnown = writeBack || resolveRoot(this.key, entries).version < this.version;
    const changes = planWrite(this.key, entries, this.known, plainJson(value), { version: this.version, merge: this.merge, everythingKnown });
    this.cairn.writeBatch(this.section, changes, this.policy);
    this.known = value;
  }

  /** @param {string} id */
  owns(id) {
    return id === this.id || id.startsWith(`${this.id}#`);
  }

  /** True while a write has not yet been saved to its tiers. */
  get isDirty() {
    for (const id of this.cairn.pendingSaves.keys()) if (this.owns(id)) return true;
    return false;
  }

  get isSaving() {
    for (const id of this.cairn.saving) if (this.owns(id)) return true;
    return false;
  }

  /** Saves this value now. */
  save() {
    return this.cairn.flush(true, (id) => this.owns(id));
  }

  /** Deletes the value (back to the default): its root entry (always, as before) and every live field entry. */
  reset() {
    const fields = this.cairn.fieldIndex.entries(this.section, this.key).filter((e) => e.key !== this.key).sort((a, b) => compareKeys(a.key, b.key));
    this.cairn.writeBatch(this.section, [{ op: 'delete', key: this.key }, ...fields.map((e) => ({ op: /** @type {const} */ ('delete'), key: e.key }))], this.policy);
  }

  /** Called when this value changes, from anywhere. @param {(value: T) => void} fn */
  subscribe(fn) {
    const prefix = `${this.key}#`;
    return this.cairn.subscribe((e) => {
      if (e.changes.length === 0 || e.changes.some((c) => c.section === this.section && ('key' in c ? c.key === this.key || c.key.startsWith(prefix) : c.op === 'clear'))) fn(this.value);
    });
  }
}

/** Expandable cards (useExpandableCard), stored field by field under `card-<id>/`. */
export class Cards {
  /** @param {Cairn} cairn */
  constructor(cairn) {
    this.cairn = cairn;
  }

  /** @param {string} id @param {boolean} [defaultExpanded] */
  card(id, defaultExpanded = false) {
    const c = this.cairn;
    const p = `card-${id}/`;
    const touch = () => c.write('set', 'cards', p + 'lastInteraction', instantText(c.wall()));
    return {
      id,
      get isExpanded() { return /** @type {boolean} */ (c.get('cards', p + 'isExpanded', defaultExpanded)); },
      get isVisible() { return /** @type {boolean} */ (c.get('cards', p + 'isVisible', true)); },
      get lastInteraction() { return /** @type {string|undefined} */ (c.get('cards', p + 'lastInteraction')); },
      /** @param {boolean} v */ setExpanded(v) { c.write('set', 'cards', p + 'isExpanded', v); touch(); },
      expand() { this.setExpanded(true); },
      collapse() { this.setExpanded(false); },
      toggle() { const next = !this.isExpanded; this.setExpanded(next); return next; },
      /** @param {boolean} v */ setVisible(v) { c.write('set', 'cards', p + 'isVisible', v); touch(); },
      /** @param {string} name */ customData(name) { return c.get('cards', p + 'customData/' + name); },
      /** @param {string} name @param {unknown} value */ putCustomData(name, value) { c.write('set', 'cards', p + 'customData/' + name, value); touch(); },
    };
  }

  /** Ids of every card with stored state. */
  ids() {
    const ids = new Set();
    for (const [k] of this.cairn.entries('cards', 'card-')) {
      const slash = k.indexOf('/');
      if (slash > 5) ids.add(k.slice(5, slash));
    }
    return [...ids].sort();
  }
}

/** Show/hide components (useVisibleComponent), under `component-<id>/`. */
export class Components {
  /** @param {Cairn} cairn */
  constructor(cairn) {
    this.cairn = cairn;
  }

  /** @param {string} id @param {boolean} [defaultVisible] */
  component(id, defaultVisible = true) {
    const c = this.cairn;
    const p = `component-${id}/`;
    return {
      id,
      get isVisible() { return /** @type {boolean} */ (c.get('components', p + 'isVisible', defaultVisible)); },
      get isEnabled() { return /** @type {boolean} */ (c.get('components', p + 'isEnabled', true)); },
      get lastState() { return /** @type {string|undefined} */ (c.get('components', p + 'lastState')); },
      /** @param {boolean} v */ setVisible(v) { c.write('set', 'components', p + 'isVisible', v); },
      show() { this.setVisible(true); },
      hide() { this.setVisible(false); },
      toggle() { const next = !this.isVisible; this.setVisible(next); return next; },
      /** @param {boolean} v */ setEnabled(v) { c.write('set', 'components', p + 'isEnabled', v); },
      /** @param {string} s */ setLastState(s) { c.write('set', 'components', p + 'lastState', s); },
    };
  }
}

/**
 * Waivers and consent (useWaiverPersistence): an append-only audit trail per waiver in the
 * `consent` log. Validity is derived: the latest event for the version is a signature, not expired.
 */
export class Consent {
  /** @param {Cairn} cairn */
  constructor(cairn) {
    this.cairn = cairn;
  }

  /** @param {string} waiverId @param {string} version @param {number|null} [validForMillis] @param {Record<string, unknown>|null} [data] */
  sign(waiverId, version, validForMillis = null, data = null) {
    const now = this.cairn.wall();
    /** @type {Record<string, unknown>} */
    const body = { type: 'signed', version, at: instantText(now) };
    if (validForMillis != null) body.expiresAt = instantText(now + validForMillis);
    if (data != null) body.data = data;
    this.cairn.write('append', 'consent', waiverId, body);
  }

  /** @param {string} waiverId @param {string} version */
  revoke(waiverId, version) {
    this.cairn.write('append', 'consent', waiverId, { type: 'revoked', version, at: instantText(this.cairn.wall()) });
  }

  /** Every event of a waiver, oldest first. @param {string} waiverId */
  history(waiverId) {
    return this.cairn.replicaState.log('consent').entries(waiverId).map((e) => ({ ...JSON.parse(e.value), stamp: e.stamp }));
  }

  /** @param {string} waiverId @param {string} version */
  latest(waiverId, version) {
    return this.history(waiverId).filter((e) => e.version === version).pop();
  }

  /** @param {string} waiverId @param {string} version */
  hasValidWaiver(waiverId, version) {
    const e = this.latest(waiverId, version);
    return !!e && e.type === 'signed' && (!e.expiresAt || Date.parse(e.expiresAt) > this.cairn.wall());
  }

  /** A handle for one waiver version: { hasValidWaiver, waiver, sign, revoke, history }. @param {string} waiverId @param {string} version */
  waiver(waiverId, version) {
    const self = this;
    return {
      get hasValidWaiver() { return self.hasValidWaiver(waiverId, version); },
      get waiver() { return self.latest(waiverId, version) ?? null; },
      /** @param {number|null} [validForMillis] @param {Record<string, unknown>|null} [data] */
      sign(validForMillis, data) { self.sign(waiverId, version, validForMillis, data); },
      revoke() { self.revoke(waiverId, version); },
      history() { return self.history(waiverId); },
    };
  }
}

/** Onboarding and assessment progress (useProgressPersistence), field by field in `progress`. */
export class Progress {
  /** @param {Cairn} cairn */
  constructor(cairn) {
    this.cairn = cairn;
  }

  /** @param {string} stepId @param {boolean} completed */
  updateOnboarding(stepId, completed) {
    if (completed) this.cairn.write('set', 'progress', `onboarding/steps/${stepId}`, true);
    else if (this.cairn.get('progress', `onboarding/steps/${stepId}`) !== undefined) this.cairn.write('delete', 'progress', `onboarding/steps/${stepId}`);
  }

  /** @param {string} stepId */
  setCurrentStep(stepId) {
    this.cairn.write('set', 'progress', 'onboarding/currentStep', stepId);
  }

  /** @returns {{completedSteps: string[], currentStep: string|null}} */
  get onboarding() {
    const steps = this.cairn.entries('progress', 'onboarding/steps/').filter(([, v]) => v === true).map(([k]) => k.slice(17));
    return { completedSteps: steps, currentStep: this.cairn.get('progress', 'onboarding/currentStep', null) };
  }

  /** @param {string} questionId @param {unknown} value */
  answer(questionId, value) {
    this.cairn.write('set', 'progress', `assessment/answers/${questionId}`, value);
  }

  /** @param {number|null} [score] */
  completeAssessment(score = null) {
    this.cairn.write('set', 'progress', 'assessment/completedAt', instantText(this.cairn.wall()));
    if (score != null) this.cairn.write('set', 'progress', 'assessment/score', score);
  }

  /** Deletes every assessment key (start over). */
  resetAssessment() {
    for (const [k] of this.cairn.entries('progress', 'assessment/')) this.cairn.write('delete', 'progress', k);
  }

  get assessment() {
    /** @type {Record<string, unknown>} */
    const answers = {};
    for (const [k, v] of this.cairn.entries('progress', 'assessment/answers/')) answers[k.slice(19)] = v;
    const completedAt = this.cairn.get('progress', 'assessment/completedAt', null);
    return { answers, isComplete: completedAt !== null, completedAt, score: this.cairn.get('progress', 'assessment/score', null) };
  }
}

/** Chat history: one `chat` log stream per conversation. */
export class Chat {
  /** @param {Cairn} cairn */
  constructor(cairn) {
    this.cairn = cairn;
  }

  /** @param {string} conversation @param {string} role @param {string} text @param {Record<string, unknown>} [metadata] */
  append(conversation, role, text, metadata) {
    /** @type {Record<string, unknown>} */
    const body = { role, text, at: instantText(this.cairn.wall()) };
    if (metadata && Object.keys(metadata).length) body.metadata = metadata;
    return this.cairn.write('append', 'chat', conversation, body);
  }

  /** @param {string} conversation */
  history(conversation) {
    return this.cairn.replicaState.log('chat').entries(conversation).map((e) => ({ ...JSON.parse(e.value), stamp: e.stamp }));
  }

  /** @param {string} conversation */
  clear(conversation) {
    this.cairn.write('clear', 'chat', conversation);
  }

  conversations() {
    return this.cairn.replicaState.log('chat').streams();
  }
}

/** A plain key-value map section (memory facts, ui state, features). */
export class KeyValues {
  /** @param {Cairn} cairn @param {string} section */
  constructor(cairn, section) {
    this.cairn = cairn;
    this.section = section;
  }

  /** @param {string} key @param {unknown} [fallback] */
  get(key, fallback) { return this.cairn.get(this.section, key, fallback); }
  /** @param {string} key @param {unknown} value */
  set(key, value) { this.cairn.write('set', this.section, key, value); }
  /** @param {string} key */
  remove(key) { this.cairn.write('delete', this.section, key); }
  /** @param {string} fact @param {unknown} value */
  remember(fact, value) { this.set(fact, value); }
  /** @param {string} fact */
  recall(fact) { return this.get(fact); }
  /** @param {string} fact */
  forget(fact) { this.remove(fact); }
  /** Every live entry, sorted by key. */
  all() { return this.cairn.entries(this.section); }
}

/** User preferences (theme, accessibility, privacy). */
export class Preferences extends KeyValues {
  /** @param {Cairn} cairn */
  constructor(cairn) {
    super(cairn, 'preferences');
  }

  get theme() {
    return /** @type {string} */ (this.get('theme', 'system'));
  }

  /** @param {string} theme */
  setTheme(theme) {
    this.set('theme', theme);
  }
}
