// Before a backup file is imported here or uploaded to the server: what it holds, what would
// change, and what each of the two does with entries deleted or cleared since the backup.
// Import restores them (written again as new changes); Upload merges on the server, where a later
// delete or clear wins. Nothing is written until the user confirms.

import { $ } from './dom.js';

/** @typedef {import('../cairn/cairn.js').Cairn} Cairn */

/**
 * What the file would change against this device's state; throws when the file cannot be
 * imported at all (the same all-or-nothing check as the import).
 * @param {Cairn} c @param {string} text
 */
export function compare(c, text) {
  const changes = /** @type {any} */ (c).readImport(text);
  let same = 0;
  let differ = 0;
  let missing = 0;
  /** @type {Map<string, number>} */
  const perSection = new Map();
  for (const ch of changes) {
    if (ch.op !== 'set' && ch.op !== 'append') continue;
    perSection.set(ch.section, (perSection.get(ch.section) ?? 0) + 1);
    if (ch.op === 'set') {
      const here = c.replicaState.map(ch.section).value(ch.key);
      if (here === null) missing++;
      else if (here === ch.value) same++;
      else differ++;
    } else if (c.replicaState.log(ch.section).entries(ch.stream).some((e) => e.stamp === ch.stamp)) same++;
    else missing++;
  }
  return { entries: same + differ + missing, same, differ, missing, perSection };
}

/**
 * Shows the preview of `file` for `action`; resolves true when the user confirms, false when they
 * cancel. Throws when the file cannot be read as an import.
 * @param {Cairn} c @param {string} text @param {'import'|'upload'} action
 */
export function preview(c, text, action) {
  const r = compare(c, text);
  const sections = [...r.perSection].map(([s, n]) => `${s} ${n}`).join(', ') || 'none';
  $('file-preview-summary').textContent = `This file holds ${r.entries} entries (${sections}). Against this device: `
    + `${r.same} are here already, ${r.differ} differ, ${r.missing} are not here (deleted or cleared since, or never here).`;
  $('file-preview-import').textContent = `Import to this device: the ${r.missing} not here come back on every device; `
    + `of the ${r.differ} that differ, the newer value stays.`;
  $('file-preview-upload').textContent = `Upload to server: merged into the server's copy; of the ${r.missing} not here, `
    + 'those deleted or cleared after this backup stay deleted (the newer change wins). To undo a clear, use Import.';
  $('file-preview-import').classList.toggle('chosen', action === 'import');
  $('file-preview-upload').classList.toggle('chosen', action === 'upload');
  const box = $('file-preview');
  const confirm = /** @type {HTMLButtonElement} */ ($('file-preview-confirm'));
  const cancel = /** @type {HTMLButtonElement} */ ($('file-preview-cancel'));
  confirm.textContent = action === 'import' ? 'Import to this device' : 'Upload to server';
  box.dataset.missing = String(r.missing);
  box.dataset.differ = String(r.differ);
  box.hidden = false;
  return new Promise((resolve) => {
    const done = (/** @type {boolean} */ ok) => {
      box.hidden = true;
      confirm.onclick = cancel.onclick = null;
      resolve(ok);
    };
    confirm.onclick = () => done(true);
    cancel.onclick = () => done(false);
  });
}
