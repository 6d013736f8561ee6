// The demo page: every example of the original persistence system, on the Cairn browser client.
// The parts live in demo/: the session and the server link, the status banner, the notes editor,
// the dashboard, the example panels and the transfers with the server.
import { Cairn } from './cairn/cairn.js';
import { $, local, message, size } from './demo/dom.js';
import { ServerLink, forgetSession, rememberWindow, rememberedSession, removeDeviceData, signIn, windowUser } from './demo/session.js';
import { renderBanner } from './demo/status-banner.js';
import { NotesEditor, NOTES_MAX } from './demo/notes-editor.js';
import { lastSync, renderDashboard, renderServerUsage } from './demo/dashboard.js';
import { downloadFromServer, saveFile, uploadToServer } from './demo/transfers.js';
import * as panels from './demo/panels.js';
import { preview } from './demo/backup-preview.js';
import { Checklist, enableSpaces, wantsSpaces } from './demo/checklist.js';

/** The sections the demo encrypts end to end when the user gives a passphrase. */
const E2E_SECTIONS = ['chat', 'memory'];

/** @type {Cairn|null} */
let cairn = null;
/** @type {ServerLink|null} */
let link = null;
/** @type {NotesEditor|null} */
let notesEditor = null;
/** @type {Checklist|null} */
let checklist = null;
/** Timers and listeners of the signed-in page, stopped before the session is cleared on sign-out. @type {Array<() => void>} */
const stops = [];

// ------------------------------------------------------------------ per-user choices kept on this device

const e2eKey = (/** @type {string} */ user) => `cairn-demo:e2e:${user}`;
const offlineKey = (/** @type {string} */ user) => `cairn-demo:offline:${user}`;
/** Whether a user turned end-to-end encryption on (never the passphrase): sync then waits for it. @param {string} user */
const wantsE2e = (user) => local.get(e2eKey(user)) === '1';
/** Whether the user chose "Work offline" (kept across reloads). @param {string} user */
const wantsOffline = (user) => local.get(offlineKey(user)) === '1';

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
  local.set(e2eKey(c.user), '1');
  if (!c.sync) startSyncing(c);
  message(`Chat and memory are encrypted on this device (key ${c.keyId}).`);
  render();
}

/** Starts sync, honouring a "Work offline" chosen before the reload. @param {Cairn} c */
function startSyncing(c) {
  c.startSync();
  if (wantsOffline(c.user)) c.setOffline(true);
}

/** Opens the page for a signed-in user. @param {{user: string, token: string, expiresAt: number}} session */
async function start(session, passphrase = '') {
  const user = session.user;
  rememberWindow(user);
  if (passphrase) local.set(e2eKey(user), '1');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  link = new ServerLink(user, session, { refused: () => cairn?.lastError?.code === 'unauthorized', changed: () => scheduleRender() });
  const serverLink = link;
  // With encryption on, sync starts only once the key is derived (unlock).
  const e2e = wantsE2e(user);
  cairn = await Cairn.open({
    user,
    // Asked on every (re)connect: waits while the server does not answer (see ServerLink).
    server: { url: `${scheme}://${location.host}/sync`, token: () => serverLink.token() },
    startSync: false,
    // ?worker=none keeps sync and storage in this page (the in-page path, for comparison and tests);
    // ?worker=dedicated uses a worker of this tab's own, as where SharedWorker is missing
    worker: /** @type {'none'|'dedicated'|'shared'} */ ({ none: 'none', dedicated: 'dedicated' }[new URLSearchParams(location.search).get('worker') ?? ''] ?? 'shared'),
    // Shared checklists (spaces), when the user turned them on here: they sync through the same
    // worker (ARCHITECTURE.md "Spaces in the browser"); a space left stays as a read-only copy.
    spaces: wantsSpaces(user),
    onSpaceLeft: 'keep',
  });
  if (!e2e) startSyncing(cairn);
  performance.mark('cairn-open'); // readable: the state is loaded from this device
  notesEditor = new NotesEditor(cairn.state('notes', '', { saveDelay: 1500, debounce: true, validate: (v) => typeof v === 'string' && v.length <= NOTES_MAX }));
  checklist = new Checklist(cairn, () => scheduleRender());
  checklist.wire();
  $('signin-view').hidden = true;
  $('app-view').hidden = false;
  $('session-bar').hidden = false;
  $('current-user').textContent = user;
  $('greeting').textContent = `Welcome back, ${user}`;
  stops.push(cairn.subscribe(() => scheduleRender()));
  stops.push(cairn.on('error', (/** @type {Error} */ e) => message(e.message, true)));
  stops.push(cairn.on('storage', () => scheduleRender()));
  // For the browser console (and the browser tests): the page's Cairn and its server link.
  /** @type {any} */ (globalThis).cairn = cairn;
  /** @type {any} */ (globalThis).cairnLink = link;
  /** @type {any} */ (globalThis).checklist = checklist;
  // A saveDelay holds online too: save what the user typed last if the page goes away first.
  const save = () => { cairn?.save(); };
  addEventListener('pagehide', save);
  stops.push(() => removeEventListener('pagehide', save));
  const timer = setInterval(renderStatus, 1000);
  stops.push(() => clearInterval(timer));
  for (const type of ['online', 'offline']) {
    addEventListener(type, scheduleRender);
    stops.push(() => removeEventListener(type, scheduleRender));
  }
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
  const c = cairn;
  if (!c) return;
  panels.renderTheme(c);
  panels.renderCards(c);
  panels.renderComponents(c);
  panels.renderWaiver(c);
  panels.renderOnboarding(c);
  panels.renderAssessment(c);
  notesEditor?.render();
  panels.renderChat(c);
  panels.renderPreferences(c);
  panels.renderLayout(c);
  checklist?.render();
  renderStatus();
}

/** The dashboard and the banner: also every second, for "last sync 8 s ago" and the retry countdown. */
function renderStatus() {
  const c = cairn;
  if (!c) return;
  const s = c.stats();
  const page = { e2eSections: E2E_SECTIONS, wantsE2e: wantsE2e(c.user) };
  renderDashboard(c, s, page);
  renderBanner({ status: s.status, pending: s.pending + s.unsaved, lastSync: lastSync(c.user, s.lastSync), lastError: s.lastError }, {
    offlineChosen: !!c.sync?.offline,
    waitingForPassphrase: page.wantsE2e && !c.keyId && s.status !== 'locked',
    link,
  });
}

// ------------------------------------------------------------------ sign-out

/** Stops everything of this session first (timers, reconnects), then forgets it: a sign-out always sticks. @param {boolean} removeData */
async function signOut(removeData) {
  const c = cairn;
  if (!c) return;
  while (stops.length) /** @type {() => void} */ (stops.pop())();
  checklist?.stopWatching();
  link?.stop();
  forgetSession(c.user);
  cairn = null;
  let closed = true;
  // Saves what is pending; bounded, so a hung store never keeps the user signed in.
  await Promise.race([c.close(), new Promise((resolve) => setTimeout(resolve, 3000))]).catch(() => { closed = false; });
  if (removeData) closed = (await removeDeviceData(c.user, c)) && closed;
  forgetSession(c.user); // again: nothing of the closing session may have written it back
  // Without ?user=: the address must not sign the user in again.
  location.replace(`${location.pathname}${removeData && !closed ? '?removed=blocked' : ''}`);
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
  const dialog = /** @type {HTMLDialogElement} */ ($('signout-dialog'));
  $('signout').addEventListener('click', () => {
    const pending = cairn ? cairn.stats().pending + cairn.stats().unsaved : 0;
    $('signout-pending').textContent = pending > 0
      ? `${pending} change${pending === 1 ? ' has' : 's have'} not reached the server yet: removing your data loses ${pending === 1 ? 'it' : 'them'}.` : '';
    /** @type {HTMLInputElement} */ ($('signout-remove')).checked = false;
    dialog.showModal();
  });
  $('signout-cancel').addEventListener('click', () => dialog.close());
  $('signout-confirm').addEventListener('click', () => {
    const remove = /** @type {HTMLInputElement} */ ($('signout-remove')).checked;
    dialog.close();
    signOut(remove);
  });
  const c = () => /** @type {Cairn} */ (cairn);
  const tips = () => c().components.component('tips', true);
  $('component-tips-show').addEventListener('click', () => tips().show());
  $('component-tips-hide').addEventListener('click', () => tips().hide());
  $('component-tips-toggle').addEventListener('click', () => tips().toggle());
  const { WAIVER, QUESTIONS, CONVERSATION } = panels;
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
  $('notes-save').addEventListener('click', () => notesEditor?.notes.save());
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($('chat-input'));
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    c().chat.append(CONVERSATION, 'user', text);
    c().progress.updateOnboarding('first-chat', true);
    if (c().features.get('assistantReplies', true) !== false) setTimeout(() => cairn && c().chat.append(CONVERSATION, 'assistant', panels.reply(c(), text)), 350);
  });
  $('chat-clear').addEventListener('click', () => c().chat.clear(CONVERSATION));
  $('theme-history-show').addEventListener('click', () => panels.showThemeHistory(c()));
  $('pref-theme').addEventListener('change', (e) => c().preferences.setTheme(/** @type {HTMLSelectElement} */ (e.target).value));
  $('pref-font').addEventListener('change', (e) => c().preferences.set('fontSize', /** @type {HTMLSelectElement} */ (e.target).value));
  $('pref-reduced-motion').addEventListener('change', (e) => c().preferences.set('reducedMotion', /** @type {HTMLInputElement} */ (e.target).checked));
  for (const f of panels.FEATURES) {
    $(`feature-${f.id}`).addEventListener('change', (e) => c().features.set(f.id, /** @type {HTMLInputElement} */ (e.target).checked));
  }
  $('dashboard-details').addEventListener('toggle', () => {
    const open = /** @type {HTMLDetailsElement} */ ($('dashboard-details')).open;
    if (cairn && (c().ui.get('dashboardOpen', true) !== false) !== open) c().ui.set('dashboardOpen', open);
  });
  const setOffline = (/** @type {boolean} */ offline) => {
    if (offline) local.set(offlineKey(c().user), '1');
    else local.remove(offlineKey(c().user));
    c().setOffline(offline);
    render();
  };
  $('offline-toggle').addEventListener('change', (e) => setOffline(/** @type {HTMLInputElement} */ (e.target).checked));
  $('status-online').addEventListener('click', () => setOffline(false));
  $('status-retry').addEventListener('click', () => {
    link?.wake();
    c().syncNow().catch(() => { /* the banner says how it goes */ });
    render();
  });
  $('status-passphrase').addEventListener('click', () => {
    /** @type {HTMLDetailsElement} */ ($('dashboard-details')).open = true;
    $('e2e-passphrase').focus();
  });
  $('sync-now').addEventListener('click', async () => {
    message('Syncing…');
    link?.wake();
    try {
      await c().syncNow();
      message('Everything is on the server.');
    } catch (ex) {
      const quota = /** @type {any} */ (ex).code === 'quota-exceeded';
      message(`${/** @type {Error} */ (ex).message} — changes are kept on this device and sent ${quota
        ? 'once space is free on the server (delete or clear data)' : 'when you are back online'}.`, true);
    }
    if (cairn) renderServerUsage(c(), true);
  });
  $('export').addEventListener('click', () => {
    saveFile([c().exportData()], `cairn-${c().user}-${new Date().toISOString().slice(0, 10)}.json`);
    message('Exported your data to a file.');
  });
  $('import-file').addEventListener('change', async (e) => {
    const input = /** @type {HTMLInputElement} */ (e.target);
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    try {
      const text = await file.text();
      if (!(await preview(c(), text, 'import'))) return;
      const r = c().restoreData(text);
      message(`Imported ${r.changesRead} entries (${r.changesApplied} changed this device, ${r.restored} restored).`);
    } catch (ex) {
      message(`Import failed: ${/** @type {Error} */ (ex).message}`, true);
    }
  });
  $('server-export').addEventListener('click', async () => {
    const button = /** @type {HTMLButtonElement} */ ($('server-export'));
    button.disabled = true;
    try {
      const { entries, bytes } = await downloadFromServer(/** @type {ServerLink} */ (link).session);
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
      // A file this device cannot read goes up all the same: the server checks it and says why it refuses.
      const readable = await file.text().then((text) => preview(c(), text, 'upload'), () => true).catch(() => true);
      if (!readable) return;
      const r = await uploadToServer(file, /** @type {ServerLink} */ (link).session);
      message(`Uploaded ${r.changesRead} entries to the server (${r.changesApplied} changed it).`);
    } catch (ex) {
      message(`Upload refused: ${/** @type {Error} */ (ex).message}`, true);
    }
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => cairn && panels.renderTheme(cairn));
}

// ------------------------------------------------------------------ boot

wire();
if ('serviceWorker' in navigator) {
  // Caches the app shell so the page opens with the server unreachable (sw.js).
  navigator.serviceWorker.register('sw.js').catch((e) => console.info('offline start unavailable:', e.message));
}
// `?user=name` signs in at once (handy for links to a second window and for browser tests);
// `&e2e=1` turns end-to-end encryption on for that user: the page asks for the passphrase before it syncs.
const params = new URLSearchParams(location.search);
const requested = params.get('user');
if (requested && params.get('e2e') === '1') local.set(e2eKey(requested), '1');
// `&spaces=1` turns the shared checklist (spaces) on for that user on this device, like its button.
if (requested && params.get('spaces') === '1') enableSpaces(requested);
const showError = (/** @type {Error} */ e) => {
  $('signin-error').textContent = e.message;
  $('signin-error').hidden = false;
};
const mine = windowUser();
const user = requested || mine;
const known = user ? rememberedSession(user) : null;
if (params.get('removed') === 'blocked') {
  showError(new Error('Signed out. Another tab of this user still has the data open: it is removed from this device once that tab closes.'));
}
if (user && known && (!requested || mine === requested)) {
  // The user opens at once from this device's storage; the token is renewed when the server
  // answers (ServerLink), so an unreachable server does not block the page.
  start(known).catch(showError);
} else if (requested) {
  signIn(requested).then((s) => start(s)).catch(showError);
} else {
  /** @type {HTMLInputElement} */ ($('signin-user')).focus();
}
