// The persistence dashboard (a side panel on wide screens): sync state, storage on this device and
// on the server, the data by section with its sync switch, and end-to-end encryption.

import { $, el, meterFill, size, ago, message, local } from './dom.js';
import { STATUS_LABELS } from './status-banner.js';

/** @typedef {import('../cairn/cairn.js').Cairn} Cairn */

/** What each kind of section is, in plain words. */
const KIND_LABELS = { map: 'settings (newest wins)', log: 'history (kept in order)' };
/** Browsers give each origin about this much localStorage and sessionStorage. */
const WEB_STORAGE_BYTES = 5 * 1024 * 1024;
const TIER_LABELS = { memory: 'Memory (this tab)', sessionStorage: 'Session storage', localStorage: 'Local storage', indexedDB: 'IndexedDB' };

const lastSyncKey = (/** @type {string} */ user) => `cairn-demo:last-sync:${user}`;

/**
 * When this device last synced: the client's own time once it synced in this page, else the one
 * remembered from before the reload.
 * @param {string} user @param {number|null} now
 */
export function lastSync(user, now) {
  if (now) {
    if (local.get(lastSyncKey(user)) !== String(now)) local.set(lastSyncKey(user), String(now));
    return now;
  }
  const kept = Number(local.get(lastSyncKey(user)));
  return kept > 0 ? kept : null;
}

/**
 * @param {Cairn} cairn @param {ReturnType<Cairn['stats']>} s
 * @param {{e2eSections: string[], wantsE2e: boolean}} page
 */
export function renderDashboard(cairn, s, page) {
  const pill = $('sync-status');
  pill.textContent = s.status;
  pill.dataset.status = s.status;
  pill.title = STATUS_LABELS[/** @type {keyof STATUS_LABELS} */ (s.status)] ?? s.status;
  $('dash-status').textContent = s.status;
  $('dash-status-label').textContent = STATUS_LABELS[/** @type {keyof STATUS_LABELS} */ (s.status)] ?? '';
  const last = lastSync(cairn.user, s.lastSync);
  $('dash-last-sync').textContent = last ? ago(last) : 'never';
  $('dash-pending').textContent = String(s.pending + s.unsaved);
  $('dash-replica').textContent = s.replica;
  // Why sync is stuck, if it is (the status's lastError): e.g. a permanent failure or a change the server refused.
  const syncError = $('dash-sync-error');
  syncError.textContent = s.lastError ? `${s.lastError.code}: ${s.lastError.message}` : 'none';
  syncError.classList.toggle('error', !!s.lastError);
  renderServerUsage(cairn);
  renderStorage(cairn);
  /** @type {HTMLInputElement} */ ($('offline-toggle')).checked = !!cairn.sync?.offline;
  renderE2e(cairn, s, page);
  renderTiers(cairn, s);
  renderSections(cairn, s);
}

/** Each tier's bytes against what that tier can hold (not against the largest tier). @param {Cairn} cairn @param {ReturnType<Cairn['stats']>} s */
function renderTiers(cairn, s) {
  const device = cairn.storage.quotaBytes;
  $('dash-tiers').replaceChildren(...Object.entries(s.bytes).map(([tier, bytes]) => {
    const limit = tier === 'localStorage' || tier === 'sessionStorage' ? WEB_STORAGE_BYTES : device;
    const percent = limit ? Math.min(100, (100 * bytes) / limit) : 0;
    const meter = el('span', { class: 'meter', role: 'meter', 'aria-valuenow': Math.round(percent), 'aria-label': `${tier} used`,
      dataset: { percent: percent.toFixed(3) } }, meterFill(percent));
    return el('div', { class: 'tier', id: `tier-${tier}` },
      el('span', { class: 'label' }, TIER_LABELS[/** @type {keyof TIER_LABELS} */ (tier)] ?? tier),
      meter,
      el('span', { class: 'value' }, limit ? `${size(bytes)} of ${size(limit)}` : size(bytes)));
  }));
}

/** @param {Cairn} cairn @param {ReturnType<Cairn['stats']>} s */
function renderSections(cairn, s) {
  const body = $('dash-sections');
  // Redraw unless a sync switch has focus (replacing it mid-click would drop the click); a
  // focused Clear button must not keep the table stale.
  const active = document.activeElement;
  if (active instanceof HTMLInputElement && body.contains(active)) return;
  body.replaceChildren(...s.sections.map((sec) => el('tr', { id: `section-${sec.name}` },
    el('td', {}, sec.name), el('td', { class: 'muted' }, KIND_LABELS[/** @type {keyof KIND_LABELS} */ (sec.kind)] ?? sec.kind), el('td', {}, String(sec.live)),
    el('td', {}, el('label', { class: 'switch small' },
      el('input', { type: 'checkbox', id: `sync-${sec.name}`, checked: sec.syncing, 'aria-label': `Sync ${sec.name}`,
        onchange: (/** @type {Event} */ e) => {
          const on = /** @type {HTMLInputElement} */ (e.target).checked;
          // The user's choice for the server's copy when a section stops syncing: keep it, or delete it there (and on the other devices).
          const copy = !on && confirm(`Stop syncing ${sec.name} on this device.\n\nOK: also delete the server's copy (your other devices lose it too; this device keeps its own).\nCancel: the server keeps its copy.`) ? 'delete' : 'keep';
          cairn.setSectionSync(sec.name, on, copy);
        } }),
      el('span', { class: 'track' }))),
    el('td', {}, el('button', { class: 'btn ghost tiny', id: `clear-${sec.name}`, disabled: sec.live === 0 || cairn.readOnlySections.has(sec.name), // `spaces` is the server's to write
      onclick: () => {
        if (confirm(`Clear all ${sec.name} data on every device?`)) message(`Cleared ${cairn.clear(sec.name)} ${sec.name} entries.`);
      } }, 'Clear')))));
}

/** This device's storage: a banner when it is full, failing or unavailable; usage and persistence on the dashboard. @param {Cairn} cairn */
export function renderStorage(cairn) {
  const s = cairn.storage;
  const banner = $('storage-banner');
  const text = {
    ok: '',
    full: 'This device\'s storage is full: new changes are kept in memory and still sync, but are not saved on this device until space is freed.',
    failing: `Saving on this device failed (${s.error?.message ?? 'unknown error'}): new changes are kept in memory and still sync.`,
    unavailable: `Nothing is saved on this device (${s.error?.message ?? 'storage unavailable'}): closing this page loses what has not reached the server.`,
  }[s.state];
  banner.hidden = !text;
  banner.textContent = text;
  banner.dataset.state = s.state;
  const used = s.usageBytes === null ? 'usage unknown' : s.quotaBytes === null ? size(s.usageBytes) : `${size(s.usageBytes)} of ${size(s.quotaBytes)}`;
  const kept = s.persisted === true ? 'persistent' : s.persisted === false ? 'not persistent (the browser may clear it when space runs low)' : 'persistence unknown';
  const line = $('dash-device-storage');
  line.textContent = `${s.backend}: ${used}, ${kept}`;
  line.dataset.state = s.state;
  line.dataset.persisted = String(s.persisted);
}

/** The encryption status line and the passphrase form. @param {Cairn} c @param {ReturnType<Cairn['stats']>} s @param {{e2eSections: string[], wantsE2e: boolean}} page */
function renderE2e(c, s, page) {
  const status = $('e2e-status');
  const names = page.e2eSections.join(' and ');
  let state;
  if (s.status === 'locked') {
    state = 'locked';
    status.textContent = 'Wrong passphrase: sync stopped and nothing from the server was applied. Enter the passphrase you use on your other devices.';
  } else if (c.keyId) {
    state = 'on';
    status.textContent = `On: ${c.encryptedSections.join(' and ')} are encrypted on this device (key ${c.keyId}); the server stores only ciphertext.`;
  } else if (page.wantsE2e) {
    state = 'waiting';
    status.textContent = `On for ${names}: enter your passphrase to sync. Your changes stay on this device until then.`;
  } else {
    state = 'off';
    status.textContent = `Off: ${names} reach the server as you type them. Give a passphrase to encrypt them on this device.`;
  }
  status.dataset.state = state;
  $('e2e-form').hidden = state === 'on';
  $('e2e-unlock').textContent = state === 'off' ? 'Turn on' : 'Unlock';
}

// Use against quota, from the server (GET /api/usage): at most every 5 s, and after "Sync now".
let usageFetchedAt = 0;
/** @param {Cairn} c @param {boolean} [force] */
export async function renderServerUsage(c, force = false) {
  if (!c.options.server || (!force && Date.now() - usageFetchedAt < 5000)) return;
  usageFetchedAt = Date.now();
  try {
    const u = await c.usage();
    const percent = u.unlimited ? 0 : Math.min(100, (100 * u.usedBytes) / u.quotaBytes);
    const meter = $('server-meter');
    meter.replaceChildren(meterFill(percent));
    meter.classList.toggle('over', !!u.overQuota);
    meter.setAttribute('role', 'meter');
    meter.setAttribute('aria-valuenow', String(Math.round(percent)));
    meter.setAttribute('aria-label', 'Server storage used of quota');
    $('server-usage').textContent = u.unlimited ? `${size(u.usedBytes)}, no limit` : `${size(u.usedBytes)} of ${size(u.quotaBytes)}`;
    $('server-usage').dataset.used = String(u.usedBytes);
    $('server-usage').dataset.quota = String(u.quotaBytes);
  } catch {
    $('server-usage').textContent = 'unknown (offline)';
  }
}
