// The demo page: every example of the original persistence system, on the Cairn browser client.
import { Cairn } from './cairn/cairn.js';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const SESSION_KEY = 'cairn-demo:session';
const WAIVER = { id: 'service-waiver', version: 'v1', validFor: 365 * 24 * 3600 * 1000 };
const CARDS = [
  { id: 'intro', title: 'What is Cairn?', body: 'An offline-first state engine: every change lands on this device first, then merges with your other devices through the server — without conflicts.' },
  { id: 'sync', title: 'How does sync work?', body: 'Each change carries a hybrid-logical-clock stamp. The latest stamp wins per field, so toggling a card here and hiding it elsewhere both survive.' },
  { id: 'privacy', title: 'Your data, your choice', body: 'In the dashboard below, switch off sync for any section: it then never leaves this device.' },
];
const STEPS = [
  { id: 'welcome', title: 'Read the welcome note' },
  { id: 'profile', title: 'Set up your profile' },
  { id: 'waiver', title: 'Sign the service waiver' },
  { id: 'first-chat', title: 'Send your first message' },
];
const QUESTIONS = [
  { id: 'sleep', text: 'How many hours do you usually sleep?', options: ['< 6', '6-8', '> 8'], best: '6-8' },
  { id: 'exercise', text: 'How often do you exercise?', options: ['Rarely', 'Weekly', 'Daily'], best: 'Daily' },
  { id: 'stress', text: 'How would you rate your stress?', options: ['Low', 'Medium', 'High'], best: 'Low' },
];
const CONVERSATION = 'assistant';
/** The sections the demo encrypts end to end when the user gives a passphrase. */
const E2E_SECTIONS = ['chat', 'memory'];

/** @type {Cairn|null} */
let cairn = null;
/** The signed-in session (its token is refreshed on each reconnect); the server transfers use it. @type {{user: string, token: string}|null} */
let session = null;
/** @type {any} */
let notes = null;

// ------------------------------------------------------------------ sign-in

// The last user on this device and their token are remembered in localStorage, so the page can
// open signed in with the server unreachable: it shows the state saved on this device, takes
// edits (kept in the IndexedDB outbox) and syncs once the server answers again.

/** A dev token from the server (throws when the server is unreachable or refuses). @param {string} user */
async function fetchToken(user) {
  const res = await fetch('/api/dev/token', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }), signal: AbortSignal.timeout(5000),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `sign-in failed (${res.status})`);
  const session = { user, token: String(body.token), expiresAt: Date.now() + body.expiresIn * 1000 };
  try {
    localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch { /* storage full or disabled: this tab still has the token */ }
  return session;
}

/** The remembered session, expired or not (null if none). @returns {{user: string, token: string, expiresAt: number}|null} */
function rememberedSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    return s && typeof s.user === 'string' && s.user !== '' ? s : null;
  } catch {
    return null;
  }
}

/** Signs in through the server; the remembered user may go on offline when the server is unreachable. @param {string} user */
async function signIn(user) {
  try {
    return await fetchToken(user);
  } catch (e) {
    const known = rememberedSession();
    if (known && known.user === user && !(e instanceof Error && /sign-in failed/.test(e.message))) return known;
    throw e;
  }
}

// ------------------------------------------------------------------ end-to-end encryption

// Whether a user turned end-to-end encryption on is remembered on this device (never the
// passphrase): the page then syncs only after the passphrase is entered again, so it never pushes
// chat or memory in plain text.

/** @param {string} user */
function e2eKey(user) {
  return `cairn-demo:e2e:${user}`;
}

/** @param {string} user */
function wantsE2e(user) {
  try {
    return localStorage.getItem(e2eKey(user)) === '1';
  } catch {
    return false;
  }
}

/** @param {string} user */
function rememberE2e(user) {
  try {
    localStorage.setItem(e2eKey(user), '1');
  } catch { /* storage full or disabled: this page still encrypts */ }
}

/** Derives the key (slow on purpose: PBKDF2), then syncs with it. @param {string} passphrase */
async function unlock(passphrase) {
  const c = /** @type {Cairn} */ (cairn);
  message('Deriving the encryption key…');
  try {
    await c.enableEndToEnd({ passphrase, sections: E2E_SECTIONS });
  } catch (e) {
    message(/** @type {Error} */ (e).message, true);
    return;
  }
  rememberE2e(c.user);
  if (!c.sync) c.startSync();
  message(`Chat and memory are encrypted on this device (key ${c.keyId}).`);
  renderDashboard();
}

/** Keeps the current session for the dashboard's server transfers. @param {{user: string, token: string}} s */
function sessionRef(s) {
  session = s;
}

async function start(/** @type {{user: string, token: string}} */ session, passphrase = '') {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  let current = session;
  const remember = (/** @type {{user: string, token: string}} */ s) => {
    current = s;
    sessionRef(s);
  };
  sessionRef(session);
  if (passphrase) rememberE2e(session.user);
  // With encryption on, sync starts only once the key is derived (unlock).
  const e2e = wantsE2e(session.user);
  cairn = await Cairn.open({
    user: session.user,
    // Asked on every (re)connect: a fresh dev token when the server answers (a restarted dev server
    // signs with a new key), else the remembered one; failing here only delays the sync.
    server: {
      url: `${scheme}://${location.host}/sync`,
      token: async () => {
        try {
          remember(await fetchToken(session.user));
        } catch (e) {
          if (!current.token) throw e;
        }
        return current.token;
      },
    },
    startSync: !e2e,
    // ?worker=none keeps sync and storage in this page (the in-page path, for comparison and tests)
    worker: new URLSearchParams(location.search).get('worker') === 'none' ? 'none' : 'shared',
  });
  performance.mark('cairn-open'); // readable: the state is loaded from this device
  notes = cairn.state('notes', '', { saveDelay: 1500, debounce: true, validate: (v) => typeof v === 'string' && v.length <= 10_000 });
  $('signin-view').hidden = true;
  $('app-view').hidden = false;
  $('session-bar').hidden = false;
  $('current-user').textContent = session.user;
  $('greeting').textContent = `Welcome back, ${session.user}`;
  cairn.subscribe(() => scheduleRender());
  cairn.on('error', (/** @type {Error} */ e) => message(e.message, true));
  cairn.on('storage', () => renderStorage());
  // For the browser console (and the browser tests): the page's Cairn.
  /** @type {any} */ (globalThis).cairn = cairn;
  // A saveDelay holds online too now: save what the user typed last if the page goes away first.
  addEventListener('pagehide', () => { cairn?.save(); });
  setInterval(renderDashboard, 1000);
  render();
  if (e2e && passphrase) await unlock(passphrase);
}

// ------------------------------------------------------------------ rendering

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function render() {
  if (!cairn) return;
  renderTheme();
  renderCards();
  renderComponents();
  renderWaiver();
  renderOnboarding();
  renderAssessment();
  renderNotes();
  renderChat();
  renderPreferences();
  renderDashboard();
}

/** Creates an element. @param {string} tag @param {Record<string, any>} [props] @param {...(Node|string)} children */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    // ARIA states are tokens: screen readers need "true"/"false", not a present/absent attribute.
    else if (k.startsWith('aria-') && typeof v === 'boolean') node.setAttribute(k, String(v));
    else if (v === true) node.setAttribute(k, '');
    else if (v !== false && v != null) node.setAttribute(k, String(v));
  }
  node.append(...children);
  return node;
}

/** The filled part of a meter. Width set through the CSSOM: the server's CSP refuses style attributes. @param {number} percent */
function meterFill(percent) {
  const fill = el('span');
  fill.style.width = `${percent}%`;
  return fill;
}

function renderTheme() {
  const c = /** @type {Cairn} */ (cairn);
  const theme = c.preferences.theme;
  const dark = theme === 'dark' || (theme === 'system' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  document.documentElement.dataset.font = String(c.preferences.get('fontSize', 'normal'));
  document.documentElement.dataset.motion = c.preferences.get('reducedMotion', false) ? 'reduced' : 'full';
}

function renderCards() {
  const c = /** @type {Cairn} */ (cairn);
  $('cards').replaceChildren(...CARDS.map(({ id, title, body }) => {
    const card = c.cards.card(id, id === 'intro');
    return el('div', { class: `card ${card.isExpanded ? 'open' : ''}`, id: `card-${id}` },
      el('button', { class: 'card-head', id: `card-${id}-toggle`, 'aria-expanded': card.isExpanded, onclick: () => card.toggle() },
        el('span', {}, title), el('span', { class: 'chevron', 'aria-hidden': 'true' }, '›')),
      card.isExpanded ? el('div', { class: 'card-body', id: `card-${id}-body` }, body) : '');
  }));
}

function renderComponents() {
  const tips = /** @type {Cairn} */ (cairn).components.component('tips', true);
  $('component-tips').hidden = !tips.isVisible;
  $('component-tips-state').textContent = tips.isVisible ? 'Visible on all your devices.' : 'Hidden on all your devices.';
}

function renderWaiver() {
  const w = /** @type {Cairn} */ (cairn).consent.waiver(WAIVER.id, WAIVER.version);
  const status = $('waiver-status');
  status.dataset.valid = String(w.hasValidWaiver);
  status.textContent = w.hasValidWaiver ? `✓ Waiver signed and active${w.waiver?.expiresAt ? ` until ${new Date(w.waiver.expiresAt).toLocaleDateString()}` : ''}` : 'No active waiver';
  /** @type {HTMLButtonElement} */ ($('waiver-sign')).disabled = w.hasValidWaiver;
  /** @type {HTMLButtonElement} */ ($('waiver-revoke')).disabled = !w.hasValidWaiver;
  $('waiver-history').replaceChildren(...w.history().slice(-5).reverse().map((e) =>
    el('li', { class: e.type }, `${e.type === 'signed' ? 'Signed' : 'Revoked'} ${e.version} · ${new Date(e.at).toLocaleString()}`)));
}

function renderOnboarding() {
  const p = /** @type {Cairn} */ (cairn).progress;
  const done = new Set(p.onboarding.completedSteps);
  const bar = $('onboarding-bar');
  bar.style.width = `${Math.round((100 * STEPS.filter((s) => done.has(s.id)).length) / STEPS.length)}%`;
  $('onboarding-steps').replaceChildren(...STEPS.map((s) => el('li', { class: done.has(s.id) ? 'done' : '', id: `step-${s.id}` },
    el('label', { class: 'check' },
      el('input', { type: 'checkbox', id: `step-${s.id}-check`, checked: done.has(s.id), onchange: (/** @type {Event} */ e) => {
        p.updateOnboarding(s.id, /** @type {HTMLInputElement} */ (e.target).checked);
        if (/** @type {HTMLInputElement} */ (e.target).checked) p.setCurrentStep(s.id);
      } }),
      el('span', {}, s.title)))));
}

function renderAssessment() {
  const a = /** @type {Cairn} */ (cairn).progress.assessment;
  const form = $('assessment-form');
  if (!form.contains(document.activeElement)) {
    form.replaceChildren(...QUESTIONS.map((q) => el('fieldset', { id: `question-${q.id}` },
      el('legend', {}, q.text),
      ...q.options.map((o, i) => el('label', { class: 'radio' },
        el('input', { type: 'radio', name: q.id, value: o, id: `question-${q.id}-${i}`, checked: a.answers[q.id] === o, disabled: a.isComplete,
          onchange: () => /** @type {Cairn} */ (cairn).progress.answer(q.id, o) }),
        el('span', {}, o))))));
  }
  /** @type {HTMLButtonElement} */ ($('assessment-complete')).disabled = a.isComplete || Object.keys(a.answers).length < QUESTIONS.length;
  $('assessment-result').textContent = a.isComplete
    ? `Completed ${new Date(String(a.completedAt)).toLocaleString()} · score ${Math.round(Number(a.score) * 100)}%`
    : `${Object.keys(a.answers).length} of ${QUESTIONS.length} answered`;
}

function renderNotes() {
  const input = /** @type {HTMLTextAreaElement} */ ($('notes-input'));
  if (document.activeElement !== input && input.value !== notes.value) input.value = notes.value;
  const badge = $('notes-state');
  badge.textContent = notes.isSaving ? 'saving…' : notes.isDirty ? 'unsaved changes' : 'saved';
  badge.dataset.state = notes.isDirty ? 'dirty' : 'clean';
}

function renderChat() {
  const history = /** @type {Cairn} */ (cairn).chat.history(CONVERSATION);
  const box = $('chat-history');
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  box.replaceChildren(...(history.length ? history.map((m) => el('div', { class: `msg ${m.role}` },
    el('div', { class: 'bubble' }, m.text), el('div', { class: 'meta' }, new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }))))
    : [el('p', { class: 'muted small empty' }, 'No messages yet. Say hello!')]));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function renderPreferences() {
  const c = /** @type {Cairn} */ (cairn);
  /** @type {HTMLSelectElement} */ ($('pref-theme')).value = c.preferences.theme;
  /** @type {HTMLSelectElement} */ ($('pref-font')).value = String(c.preferences.get('fontSize', 'normal'));
  /** @type {HTMLInputElement} */ ($('pref-reduced-motion')).checked = !!c.preferences.get('reducedMotion', false);
  const facts = c.memory.all();
  $('memory-facts').replaceChildren(...(facts.length ? facts.map(([k, v]) => el('li', {},
    el('span', {}, `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`),
    el('button', { class: 'btn ghost tiny', title: 'Forget', 'aria-label': `Forget ${k}`, onclick: () => c.memory.forget(k) }, '×')))
    : [el('li', { class: 'muted small' }, 'The assistant remembers facts you tell it.')]));
}

function renderDashboard() {
  if (!cairn) return;
  const s = cairn.stats();
  const pill = $('sync-status');
  pill.textContent = s.status;
  pill.dataset.status = s.status;
  $('dash-status').textContent = s.status;
  $('dash-last-sync').textContent = s.lastSync ? ago(s.lastSync) : 'never';
  $('dash-pending').textContent = String(s.pending + s.unsaved);
  $('dash-replica').textContent = s.replica;
  // Why sync is stuck, if it is (the status's lastError): e.g. a permanent failure or a change the server refused.
  const syncError = $('dash-sync-error');
  syncError.textContent = s.lastError ? `${s.lastError.code}: ${s.lastError.message}` : 'none';
  syncError.classList.toggle('error', !!s.lastError);
  renderServerUsage();
  renderStorage();
  /** @type {HTMLInputElement} */ ($('offline-toggle')).checked = !!cairn.sync?.offline;
  renderE2e(s);
  const max = Math.max(1, ...Object.values(s.bytes));
  $('dash-tiers').replaceChildren(...Object.entries(s.bytes).map(([tier, bytes]) => el('div', { class: 'tier', id: `tier-${tier}` },
    el('span', { class: 'label' }, { memory: 'Memory', sessionStorage: 'Session storage', localStorage: 'Local storage', indexedDB: 'IndexedDB' }[tier] ?? tier),
    el('span', { class: 'meter' }, meterFill((100 * bytes) / max)),
    el('span', { class: 'value' }, size(bytes)))));
  const body = $('dash-sections');
  // Redraw unless a sync switch has focus (replacing it mid-click would drop the click); a
  // focused Clear button must not keep the table stale.
  const active = document.activeElement;
  if (!(active instanceof HTMLInputElement && body.contains(active))) {
    body.replaceChildren(...s.sections.map((sec) => el('tr', { id: `section-${sec.name}` },
      el('td', {}, sec.name), el('td', { class: 'muted' }, sec.kind), el('td', {}, String(sec.live)),
      el('td', {}, el('label', { class: 'switch small' },
        el('input', { type: 'checkbox', id: `sync-${sec.name}`, checked: sec.syncing, 'aria-label': `Sync ${sec.name}`,
          onchange: (/** @type {Event} */ e) => {
            const on = /** @type {HTMLInputElement} */ (e.target).checked;
            // The user's choice for the server's copy when a section stops syncing: keep it, or delete it there (and on the other devices).
            const copy = !on && confirm(`Stop syncing ${sec.name} on this device.\n\nOK: also delete the server's copy (your other devices lose it too; this device keeps its own).\nCancel: the server keeps its copy.`) ? 'delete' : 'keep';
            /** @type {Cairn} */ (cairn).setSectionSync(sec.name, on, copy);
          } }),
        el('span', { class: 'track' }))),
      el('td', {}, el('button', { class: 'btn ghost tiny', id: `clear-${sec.name}`, disabled: sec.live === 0,
        onclick: () => {
          if (confirm(`Clear all ${sec.name} data on every device?`)) message(`Cleared ${/** @type {Cairn} */ (cairn).clear(sec.name)} ${sec.name} entries.`);
        } }, 'Clear')))));
  }
}

/** This device's storage: a banner when it is full, failing or unavailable; usage and persistence on the dashboard. */
function renderStorage() {
  if (!cairn) return;
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

/** The encryption status line and the passphrase form. @param {ReturnType<Cairn['stats']>} s */
function renderE2e(s) {
  const c = /** @type {Cairn} */ (cairn);
  const status = $('e2e-status');
  const names = E2E_SECTIONS.join(' and ');
  let state;
  if (s.status === 'locked') {
    state = 'locked';
    status.textContent = `Wrong passphrase: sync stopped and nothing from the server was applied. Enter the passphrase you use on your other devices.`;
  } else if (c.keyId) {
    state = 'on';
    status.textContent = `On: ${c.encryptedSections.join(' and ')} are encrypted on this device (key ${c.keyId}); the server stores only ciphertext.`;
  } else if (wantsE2e(c.user)) {
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
async function renderServerUsage(force = false) {
  const c = cairn;
  if (!c || !c.options.server || (!force && Date.now() - usageFetchedAt < 5000)) return;
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

/** Earlier values of the theme the server keeps, each with a Restore button (a new write that syncs). */
async function showThemeHistory() {
  const c = /** @type {Cairn} */ (cairn);
  const list = $('theme-history');
  list.hidden = false;
  try {
    const versions = await c.history('preferences', 'theme');
    list.replaceChildren(...(versions.length ? versions.map((v, i) => el('li', { id: `theme-version-${i}` },
      el('span', {}, `${v.deleted ? '(not set)' : String(v.value)} · until ${new Date(v.replacedAtMillis).toLocaleString()}`),
      el('button', { class: 'btn ghost tiny', id: `theme-restore-${i}`, 'aria-label': `Restore theme ${v.deleted ? '(not set)' : String(v.value)}`,
        onclick: () => {
          c.restore('preferences', 'theme', v);
          message(`Restored the theme ${v.deleted ? '(not set)' : String(v.value)}; it syncs to your other devices.`);
        } }, 'Restore')))
      : [el('li', { class: 'muted small' }, 'No earlier themes on the server yet.')]));
  } catch (e) {
    list.replaceChildren(el('li', { class: 'error small' }, `History unavailable: ${/** @type {Error} */ (e).message}`));
  }
}

/** @param {number} t */
function ago(t) {
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return s < 5 ? 'just now' : s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : new Date(t).toLocaleString();
}

/** @param {number} n */
function size(n) {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(2)} MB`;
}

/** @param {string} text @param {boolean} [error] */
function message(text, error = false) {
  const m = $('dash-message');
  m.textContent = text;
  m.classList.toggle('error', error);
}

// ------------------------------------------------------------------ transfers with the server

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
function saveFile(parts, name) {
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
 */
async function downloadFromServer() {
  const box = $('transfer');
  delete box.dataset.updates;
  delete box.dataset.partial;
  showTransfer('Preparing export…', 0, 0, '');
  const res = await fetch('/api/export', { headers: { authorization: `Bearer ${session?.token ?? ''}` }, cache: 'no-store' });
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
  saveFile(parts, `cairn-${session?.user}-server-${new Date().toISOString().slice(0, 10)}.json`);
  return { entries, bytes };
}

/**
 * Uploads a backup file to POST /api/import with XHR (fetch cannot report upload progress). The
 * server checks the whole file before it writes anything; the changes then reach this device
 * through sync like any other.
 * @param {File} file @returns {Promise<{changesRead: number, changesApplied: number}>}
 */
function uploadToServer(file) {
  const box = $('transfer');
  delete box.dataset.updates;
  delete box.dataset.partial;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/import');
    xhr.setRequestHeader('authorization', `Bearer ${session?.token ?? ''}`);
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

// ------------------------------------------------------------------ actions

function wire() {
  $('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const user = /** @type {HTMLInputElement} */ ($('signin-user')).value.trim();
    const passphrase = /** @type {HTMLInputElement} */ ($('signin-passphrase')).value;
    /** @type {HTMLInputElement} */ ($('signin-passphrase')).value = '';
    const err = $('signin-error');
    err.hidden = true;
    try {
      await start(await signIn(user), passphrase);
    } catch (ex) {
      err.textContent = /** @type {Error} */ (ex).message;
      err.hidden = false;
    }
  });
  $('e2e-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($('e2e-passphrase'));
    const passphrase = input.value;
    if (!passphrase) {
      message('Enter a passphrase.', true);
      return;
    }
    input.value = '';
    await unlock(passphrase);
  });
  $('signout').addEventListener('click', async () => {
    await cairn?.close();
    localStorage.removeItem(SESSION_KEY);
    location.reload();
  });
  const c = () => /** @type {Cairn} */ (cairn);
  const tips = () => c().components.component('tips', true);
  $('component-tips-show').addEventListener('click', () => tips().show());
  $('component-tips-hide').addEventListener('click', () => tips().hide());
  $('component-tips-toggle').addEventListener('click', () => tips().toggle());
  $('waiver-sign').addEventListener('click', () => {
    c().consent.waiver(WAIVER.id, WAIVER.version).sign(WAIVER.validFor, { signedFrom: navigator.userAgent.includes('Mobile') ? 'mobile' : 'desktop' });
    c().progress.updateOnboarding('waiver', true);
  });
  $('waiver-revoke').addEventListener('click', () => c().consent.waiver(WAIVER.id, WAIVER.version).revoke());
  $('assessment-complete').addEventListener('click', () => {
    const { answers } = c().progress.assessment;
    const score = QUESTIONS.filter((q) => answers[q.id] === q.best).length / QUESTIONS.length;
    c().progress.completeAssessment(Math.round(score * 100) / 100);
  });
  $('assessment-reset').addEventListener('click', () => c().progress.resetAssessment());
  $('notes-input').addEventListener('input', (e) => {
    try {
      notes.setValue(/** @type {HTMLTextAreaElement} */ (e.target).value);
    } catch (ex) {
      message(/** @type {Error} */ (ex).message, true);
    }
  });
  $('notes-save').addEventListener('click', () => notes.save());
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($('chat-input'));
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    c().chat.append(CONVERSATION, 'user', text);
    c().progress.updateOnboarding('first-chat', true);
    setTimeout(() => c().chat.append(CONVERSATION, 'assistant', reply(text)), 350);
  });
  $('chat-clear').addEventListener('click', () => c().chat.clear(CONVERSATION));
  $('theme-history-show').addEventListener('click', () => showThemeHistory());
  $('pref-theme').addEventListener('change', (e) => c().preferences.setTheme(/** @type {HTMLSelectElement} */ (e.target).value));
  $('pref-font').addEventListener('change', (e) => c().preferences.set('fontSize', /** @type {HTMLSelectElement} */ (e.target).value));
  $('pref-reduced-motion').addEventListener('change', (e) => c().preferences.set('reducedMotion', /** @type {HTMLInputElement} */ (e.target).checked));
  $('offline-toggle').addEventListener('change', (e) => {
    c().setOffline(/** @type {HTMLInputElement} */ (e.target).checked);
    renderDashboard();
  });
  $('sync-now').addEventListener('click', async () => {
    message('Syncing…');
    try {
      await c().syncNow();
      message('Everything is on the server.');
    } catch (ex) {
      const quota = /** @type {any} */ (ex).code === 'quota-exceeded';
      message(`${/** @type {Error} */ (ex).message} — changes are kept on this device and sent ${quota
        ? 'once space is free on the server (delete or clear data)' : 'when you are back online'}.`, true);
    }
    renderServerUsage(true);
  });
  $('export').addEventListener('click', () => {
    const blob = new Blob([c().exportData()], { type: 'application/json' });
    const a = el('a', { href: URL.createObjectURL(blob), download: `cairn-${c().user}-${new Date().toISOString().slice(0, 10)}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(/** @type {HTMLAnchorElement} */ (a).href), 1000);
    message('Exported your data to a file.');
  });
  $('import-file').addEventListener('change', async (e) => {
    const input = /** @type {HTMLInputElement} */ (e.target);
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    try {
      const r = c().restoreData(await file.text());
      message(`Imported ${r.changesRead} entries (${r.changesApplied} changed this device, ${r.restored} restored).`);
    } catch (ex) {
      message(`Import failed: ${/** @type {Error} */ (ex).message}`, true);
    }
  });
  $('server-export').addEventListener('click', async () => {
    const button = /** @type {HTMLButtonElement} */ ($('server-export'));
    button.disabled = true;
    try {
      const { entries, bytes } = await downloadFromServer();
      message(`Downloaded ${entries} entries (${size(bytes)}) from the server.`);
    } catch (ex) {
      message(`Download failed: ${/** @type {Error} */ (ex).message}`, true);
    } finally {
      button.disabled = false;
    }
  });
  $('server-import-file').addEventListener('change', async (e) => {
    const input = /** @type {HTMLInputElement} */ (e.target);
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    try {
      const r = await uploadToServer(file);
      message(`Uploaded ${r.changesRead} entries to the server (${r.changesApplied} changed it).`);
    } catch (ex) {
      message(`Upload refused: ${/** @type {Error} */ (ex).message}`, true);
    }
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => cairn && renderTheme());
}

/** A tiny canned assistant that remembers facts. @param {string} text */
function reply(text) {
  const m = /remember (?:that )?(?:my )?(.+?) (?:is|are) (.+)/i.exec(text);
  if (m) {
    /** @type {Cairn} */ (cairn).memory.remember(m[1].trim().toLowerCase(), m[2].trim());
    return `Got it — I'll remember your ${m[1].trim()} is ${m[2].trim()}, on every device.`;
  }
  const facts = /** @type {Cairn} */ (cairn).memory.all();
  if (facts.length && /what|remember/i.test(text)) return `Here is what I remember: ${facts.map(([k, v]) => `${k}: ${v}`).join('; ')}.`;
  return `You said “${text}”. This conversation is saved on this device and synced to your others.`;
}

wire();
if ('serviceWorker' in navigator) {
  // Caches the app shell so the page opens with the server unreachable (sw.js).
  navigator.serviceWorker.register('sw.js').catch((e) => console.info('offline start unavailable:', e.message));
}
// `?user=name` signs in at once (handy for links to a second window and for browser tests);
// `&e2e=1` turns end-to-end encryption on for that user: the page asks for the passphrase before it syncs.
const params = new URLSearchParams(location.search);
const requested = params.get('user');
if (requested && params.get('e2e') === '1') rememberE2e(requested);
const existing = rememberedSession();
const showError = (/** @type {Error} */ e) => {
  $('signin-error').textContent = e.message;
  $('signin-error').hidden = false;
};
if (requested && (!existing || existing.user !== requested)) {
  signIn(requested).then(start).catch(showError);
} else if (existing) {
  // The remembered user opens at once from this device's storage; the token is refreshed when the
  // server answers (see start), so an unreachable server does not block the page.
  start(existing).catch(showError);
} else {
  /** @type {HTMLInputElement} */ ($('signin-user')).focus();
}
