// The notes field: a persistent value edited in a textarea, which a remote change never overwrites
// while the user edits it, and which never overwrites a remote change it has not shown.
//
// `base` is the value the text in the field was last in step with. A keystroke writes only while
// the stored value is still `base`; once another device (or tab) changed it, the field shows
// "changed on another device" with their text, and the user takes theirs, keeps theirs or merges.
// A value the validator refuses is never saved: its error shows next to the field, never "saved".

import { $ } from './dom.js';

export const NOTES_MAX = 10_000;

/** @typedef {{value: string, isDirty: boolean, isSaving: boolean, setValue(v: string): void, save(): Promise<void>}} Notes */

export class NotesEditor {
  /** @param {Notes} notes */
  constructor(notes) {
    this.notes = notes;
    this.input = /** @type {HTMLTextAreaElement} */ ($('notes-input'));
    this.base = notes.value;
    this.conflict = false;
    /** @type {string|null} why the text in the field is not saved */
    this.invalid = null;
    this.input.value = notes.value;
    this.input.addEventListener('input', () => this.typed());
    $('notes-take-theirs').addEventListener('click', () => this.takeTheirs());
    $('notes-keep-mine').addEventListener('click', () => this.keepMine());
    $('notes-merge').addEventListener('click', () => this.merge());
  }

  /** @private */
  typed() {
    if (this.conflict || this.notes.value !== this.base) {
      this.conflict = true; // their change came first: this keystroke must not erase it
      this.render();
      return;
    }
    this.write(this.input.value);
  }

  /** Writes the field's text, unless the validator refuses it. @private @param {string} text */
  write(text) {
    if (text.length > NOTES_MAX) {
      this.invalid = `Too long: ${text.length.toLocaleString()} characters, at most ${NOTES_MAX.toLocaleString()}. Not saved; shorten it to save.`;
      this.render();
      return false;
    }
    try {
      this.notes.setValue(text);
    } catch (e) {
      this.invalid = `Not saved: ${/** @type {Error} */ (e).message}`;
      this.render();
      return false;
    }
    this.invalid = null;
    this.base = text;
    this.conflict = false;
    this.render();
    return true;
  }

  takeTheirs() {
    this.input.value = this.notes.value;
    this.base = this.notes.value;
    this.conflict = false;
    this.invalid = null;
    this.render();
  }

  keepMine() {
    this.conflict = false;
    this.base = this.notes.value; // mine now replaces what I have seen of theirs
    this.write(this.input.value);
  }

  merge() {
    const merged = merge3(this.base, this.input.value, this.notes.value);
    this.input.value = merged;
    this.base = this.notes.value;
    this.conflict = false;
    this.write(merged);
  }

  /** On every change of the state. */
  render() {
    const notes = this.notes;
    const theirs = notes.value;
    const editing = document.activeElement === this.input || notes.isDirty || this.invalid !== null;
    if (theirs !== this.base && !this.conflict) {
      if (this.input.value === theirs) this.base = theirs;
      else if (!editing && this.input.value === this.base) {
        this.input.value = theirs; // not being edited: just show the new value
        this.base = theirs;
      } else this.conflict = true;
    }
    if (this.conflict && this.input.value === theirs) {
      this.conflict = false; // the two sides agree again
      this.base = theirs;
    }
    $('notes-conflict').hidden = !this.conflict;
    $('notes-theirs').textContent = theirs || '(empty)';
    const error = $('notes-error');
    error.hidden = this.invalid === null;
    error.textContent = this.invalid ?? '';
    this.input.setAttribute('aria-invalid', String(this.invalid !== null));
    $('notes-count').textContent = `${this.input.value.length.toLocaleString()} / ${NOTES_MAX.toLocaleString()}`;
    const badge = $('notes-state');
    const state = this.invalid !== null ? 'invalid' : this.conflict ? 'conflict'
      : notes.isSaving ? 'saving' : notes.isDirty ? 'dirty' : 'clean';
    badge.dataset.state = state;
    badge.textContent = { invalid: 'not saved', conflict: 'changed on another device', saving: 'saving…', dirty: 'unsaved changes', clean: 'saved' }[state];
  }
}

/**
 * Merges two edits of one text: each side's edit is the span between the common prefix and suffix
 * it shares with `base`; edits that do not overlap are both applied, else mine comes first and
 * their inserted text follows on a new line (nothing of either is lost).
 * @param {string} base @param {string} mine @param {string} theirs
 */
export function merge3(base, mine, theirs) {
  const m = edit(base, mine);
  const t = edit(base, theirs);
  if (m.end <= t.start) return base.slice(0, m.start) + m.text + base.slice(m.end, t.start) + t.text + base.slice(t.end);
  if (t.end <= m.start) return base.slice(0, t.start) + t.text + base.slice(t.end, m.start) + m.text + base.slice(m.end);
  return t.text && !mine.includes(t.text) ? `${mine}\n${t.text}` : mine;
}

/** @param {string} base @param {string} other */
function edit(base, other) {
  let p = 0;
  while (p < base.length && p < other.length && base[p] === other[p]) p++;
  let s = 0;
  while (s < base.length - p && s < other.length - p && base[base.length - 1 - s] === other[other.length - 1 - s]) s++;
  return { start: p, end: base.length - s, text: other.slice(p, other.length - s) };
}
