// Moving a whole account: the server's streamed export into a file, a backup file up to the server.

import { $, el, size } from './dom.js';

/**
 * Shows a transfer's progress: a bar (its width set through the CSSOM, as meterFill does: the CSP
 * refuses style attributes) and a line of text. Counts updates in data attributes for the tests.
 * @param {string} label @param {number} done @param {number} total 0 if unknown @param {string} text
 */
function showTransfer(label, done, total, text) {
  const box = $('transfer');
  box.hidden = false;
  $('transfer-label').textContent = label;
  const percent = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  $('transfer-fill').style.width = `${percent}%`;
  $('transfer-bar').setAttribute('aria-valuenow', String(Math.round(percent)));
  $('transfer-value').textContent = text;
  box.dataset.updates = String(Number(box.dataset.updates ?? 0) + 1);
  if (percent > 0 && percent < 100) box.dataset.partial = String(Number(box.dataset.partial ?? 0) + 1);
}

/** The message of an API error answer. @param {number} status @param {string} body */
function apiError(status, body) {
  try {
    const e = JSON.parse(body);
    if (e && typeof e.message === 'string') return e.message;
  } catch { /* not JSON */ }
  return `the server answered ${status}`;
}

/** Saves bytes as a download. @param {BlobPart[]} parts @param {string} name */
export function saveFile(parts, name) {
  const blob = new Blob(parts, { type: 'application/json' });
  const a = el('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(/** @type {HTMLAnchorElement} */ (a).href), 1000);
}

const ENTRY_MARK = '{"stamp":"';

/**
 * Streams GET /api/export into a file, showing bytes and entries as they arrive. The server sends
 * an upper bound of the entries (x-cairn-export-entries); entries are counted by their
 * `{"stamp":"` opening in the text (a value holding that very text counts too: progress only).
 * @param {{user: string, token: string}} session
 */
export async function downloadFromServer(session) {
  const box = $('transfer');
  delete box.dataset.updates;
  delete box.dataset.partial;
  showTransfer('Preparing export…', 0, 0, '');
  const res = await fetch('/api/export', { headers: { authorization: `Bearer ${session.token}` }, cache: 'no-store' });
  if (!res.ok || !res.body) throw new Error(apiError(res.status, await res.text()));
  const total = Number(res.headers.get('x-cairn-export-entries')) || 0;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  /** @type {Uint8Array[]} */
  const parts = [];
  let bytes = 0;
  let entries = 0;
  let tail = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    bytes += value.length;
    // The last few characters of the previous chunk are kept so a mark split across chunks is
    // found once; they are too short to hold a whole mark, so none is counted twice.
    const text = tail + decoder.decode(value, { stream: true });
    for (let at = text.indexOf(ENTRY_MARK); at >= 0; at = text.indexOf(ENTRY_MARK, at + ENTRY_MARK.length)) entries++;
    tail = text.slice(-(ENTRY_MARK.length - 1));
    showTransfer('Downloading from the server', Math.min(entries, total), total,
      `${Math.min(entries, total || entries).toLocaleString()}${total ? ` of ${total.toLocaleString()}` : ''} entries · ${size(bytes)}`);
  }
  showTransfer('Downloaded from the server', 1, 1, `${entries.toLocaleString()} entries · ${size(bytes)}`);
  saveFile(parts, `cairn-${session.user}-server-${new Date().toISOString().slice(0, 10)}.json`);
  return { entries, bytes };
}

/**
 * Uploads a backup file to POST /api/import with XHR (fetch cannot report upload progress). The
 * server checks the whole file before it writes anything; the changes then reach this device
 * through sync like any other.
 * @param {File} file @param {{token: string}} session @returns {Promise<{changesRead: number, changesApplied: number}>}
 */
export function uploadToServer(file, session) {
  const box = $('transfer');
  delete box.dataset.updates;
  delete box.dataset.partial;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/import');
    xhr.setRequestHeader('authorization', `Bearer ${session.token}`);
    xhr.setRequestHeader('content-type', 'application/json');
    xhr.upload.onprogress = (e) => {
      const total = e.lengthComputable ? e.total : file.size;
      showTransfer('Uploading to the server', e.loaded, total, `${size(e.loaded)} of ${size(total)}`);
    };
    xhr.upload.onload = () => showTransfer('Checking and saving on the server…', 1, 1, size(file.size));
    xhr.onload = () => {
      if (xhr.status === 200) {
        showTransfer('Uploaded to the server', 1, 1, size(file.size));
        resolve(JSON.parse(xhr.responseText));
      } else {
        showTransfer('Refused by the server', 0, 1, `HTTP ${xhr.status}`);
        reject(new Error(apiError(xhr.status, xhr.responseText)));
      }
    };
    xhr.onerror = () => {
      showTransfer('Upload failed', 0, 1, '');
      reject(new Error('the connection broke off during the upload'));
    };
    xhr.send(file);
  });
}
