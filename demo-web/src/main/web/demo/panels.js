// The example panels of the demo page (the original persistence system's examples), each drawn
// from the Cairn state on every change.

import { $, el, message } from './dom.js';

/** @typedef {import('../cairn/cairn.js').Cairn} Cairn */

export const WAIVER = { id: 'service-waiver', version: 'v1', validFor: 365 * 24 * 3600 * 1000 };
const CARDS = [
  { id: 'intro', title: 'What is Cairn?', body: 'An offline-first state engine: every change lands on this device first, then merges with your other devices through the server — without conflicts.' },
  { id: 'sync', title: 'How does sync work?', body: 'Each change carries a hybrid-logical-clock stamp. The latest stamp wins per field, so toggling a card here and hiding it elsewhere both survive.' },
  { id: 'privacy', title: 'Your data, your choice', body: 'In the dashboard, switch off sync for any section: it then never leaves this device.' },
];
export const STEPS = [
  { id: 'welcome', title: 'Read the welcome note' },
  { id: 'profile', title: 'Set up your profile' },
  { id: 'waiver', title: 'Sign the service waiver' },
  { id: 'first-chat', title: 'Send your first message' },
];
export const QUESTIONS = [
  { id: 'sleep', text: 'How many hours do you usually sleep?', options: ['< 6', '6-8', '> 8'], best: '6-8' },
  { id: 'exercise', text: 'How often do you exercise?', options: ['Rarely', 'Weekly', 'Daily'], best: 'Daily' },
  { id: 'stress', text: 'How would you rate your stress?', options: ['Low', 'Medium', 'High'], best: 'Low' },
];
export const CONVERSATION = 'assistant';
/** Feature switches the page keeps in the `features` section (they sync like any setting). */
export const FEATURES = [
  { id: 'assistantReplies', label: 'The assistant answers my messages', default: true },
  { id: 'compactCards', label: 'Compact cards', default: false },
];

/** @param {Cairn} c */
export function renderTheme(c) {
  const theme = c.preferences.theme;
  const dark = theme === 'dark' || (theme === 'system' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  document.documentElement.dataset.font = String(c.preferences.get('fontSize', 'normal'));
  document.documentElement.dataset.motion = c.preferences.get('reducedMotion', false) ? 'reduced' : 'full';
}

/** @param {Cairn} c */
export function renderCards(c) {
  $('cards').classList.toggle('compact', !!c.features.get('compactCards', false));
  $('cards').replaceChildren(...CARDS.map(({ id, title, body }) => {
    const card = c.cards.card(id, id === 'intro');
    return el('div', { class: `card ${card.isExpanded ? 'open' : ''}`, id: `card-${id}` },
      el('button', { class: 'card-head', id: `card-${id}-toggle`, 'aria-expanded': card.isExpanded, onclick: () => card.toggle() },
        el('span', {}, title), el('span', { class: 'chevron', 'aria-hidden': 'true' }, '›')),
      card.isExpanded ? el('div', { class: 'card-body', id: `card-${id}-body` }, body) : '');
  }));
}

/** @param {Cairn} c */
export function renderComponents(c) {
  const tips = c.components.component('tips', true);
  $('component-tips').hidden = !tips.isVisible;
  $('component-tips-state').textContent = tips.isVisible ? 'Visible on all your devices.' : 'Hidden on all your devices.';
}

/** The waiver and its audit trail, oldest first, the newest marked "latest". @param {Cairn} c */
export function renderWaiver(c) {
  const w = c.consent.waiver(WAIVER.id, WAIVER.version);
  const status = $('waiver-status');
  status.dataset.valid = String(w.hasValidWaiver);
  status.textContent = w.hasValidWaiver ? `✓ Waiver signed and active${w.waiver?.expiresAt ? ` until ${new Date(w.waiver.expiresAt).toLocaleDateString()}` : ''}` : 'No active waiver';
  /** @type {HTMLButtonElement} */ ($('waiver-sign')).disabled = w.hasValidWaiver;
  /** @type {HTMLButtonElement} */ ($('waiver-revoke')).disabled = !w.hasValidWaiver;
  const recent = w.history().slice(-5);
  $('waiver-history').replaceChildren(...recent.map((e, i) =>
    el('li', { class: e.type }, `${e.type === 'signed' ? 'Signed' : 'Revoked'} ${e.version} · ${new Date(e.at).toLocaleString()}`,
      i === recent.length - 1 ? el('span', { class: 'latest' }, ' (latest)') : '')));
}

/** @param {Cairn} c */
export function renderOnboarding(c) {
  const p = c.progress;
  const done = new Set(p.onboarding.completedSteps);
  $('onboarding-bar').style.width = `${Math.round((100 * STEPS.filter((s) => done.has(s.id)).length) / STEPS.length)}%`;
  $('onboarding-steps').replaceChildren(...STEPS.map((s) => el('li', { class: done.has(s.id) ? 'done' : '', id: `step-${s.id}` },
    el('label', { class: 'check' },
      el('input', { type: 'checkbox', id: `step-${s.id}-check`, checked: done.has(s.id), onchange: (/** @type {Event} */ e) => {
        p.updateOnboarding(s.id, /** @type {HTMLInputElement} */ (e.target).checked);
        if (/** @type {HTMLInputElement} */ (e.target).checked) p.setCurrentStep(s.id);
      } }),
      el('span', {}, s.title)))));
}

/** @param {Cairn} c */
export function renderAssessment(c) {
  const a = c.progress.assessment;
  const form = $('assessment-form');
  if (!form.contains(document.activeElement)) {
    form.replaceChildren(...QUESTIONS.map((q) => el('fieldset', { id: `question-${q.id}` },
      el('legend', {}, q.text),
      ...q.options.map((o, i) => el('label', { class: 'radio' },
        el('input', { type: 'radio', name: q.id, value: o, id: `question-${q.id}-${i}`, checked: a.answers[q.id] === o, disabled: a.isComplete,
          onchange: () => c.progress.answer(q.id, o) }),
        el('span', {}, o))))));
  }
  /** @type {HTMLButtonElement} */ ($('assessment-complete')).disabled = a.isComplete || Object.keys(a.answers).length < QUESTIONS.length;
  $('assessment-result').textContent = a.isComplete
    ? `Completed ${new Date(String(a.completedAt)).toLocaleString()} · score ${Math.round(Number(a.score) * 100)}%`
    : `${Object.keys(a.answers).length} of ${QUESTIONS.length} answered`;
  // The chosen answers, in words, once complete (the disabled radios alone are easy to miss).
  $('assessment-answers').replaceChildren(...(a.isComplete ? QUESTIONS.map((q) => el('li', { id: `answer-${q.id}` },
    `${q.text} `, el('strong', {}, String(a.answers[q.id] ?? '—')))) : []));
}

/** @param {Cairn} c */
export function renderChat(c) {
  const history = c.chat.history(CONVERSATION);
  const box = $('chat-history');
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  box.replaceChildren(...(history.length ? history.map((m) => el('div', { class: `msg ${m.role}` },
    el('div', { class: 'bubble' }, m.text), el('div', { class: 'meta' }, new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }))))
    : [el('p', { class: 'muted small empty' }, 'No messages yet. Say hello!')]));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

/** @param {Cairn} c */
export function renderPreferences(c) {
  /** @type {HTMLSelectElement} */ ($('pref-theme')).value = c.preferences.theme;
  /** @type {HTMLSelectElement} */ ($('pref-font')).value = String(c.preferences.get('fontSize', 'normal'));
  /** @type {HTMLInputElement} */ ($('pref-reduced-motion')).checked = !!c.preferences.get('reducedMotion', false);
  const facts = c.memory.all();
  $('memory-facts').replaceChildren(...(facts.length ? facts.map(([k, v]) => el('li', {},
    el('span', {}, `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`),
    el('button', { class: 'btn ghost tiny', title: 'Forget', 'aria-label': `Forget ${k}`, onclick: () => c.memory.forget(k) }, '×')))
    : [el('li', { class: 'muted small' }, 'The assistant remembers facts you tell it.')]));
}

/** The `features` switches and what the page keeps in `ui` (layout state), both synced. @param {Cairn} c */
export function renderLayout(c) {
  for (const f of FEATURES) {
    const box = /** @type {HTMLInputElement} */ ($(`feature-${f.id}`));
    if (box && document.activeElement !== box) box.checked = !!c.features.get(f.id, f.default);
  }
  const dashboardOpen = c.ui.get('dashboardOpen', true) !== false;
  /** @type {HTMLDetailsElement} */ ($('dashboard-details')).open = dashboardOpen;
  const rows = [...c.ui.all().map(([k, v]) => ['ui', k, v]), ...c.features.all().map(([k, v]) => ['features', k, v])];
  $('layout-entries').replaceChildren(...(rows.length ? rows.map(([section, k, v]) => el('li', {}, `${section} · ${k}: `, el('code', {}, JSON.stringify(v))))
    : [el('li', { class: 'muted small' }, 'Nothing stored yet: fold the dashboard or flip a switch.')]));
}

/** A tiny canned assistant that remembers facts. @param {Cairn} c @param {string} text */
export function reply(c, text) {
  const m = /remember (?:that )?(?:my )?(.+?) (?:is|are) (.+)/i.exec(text);
  if (m) {
    c.memory.remember(m[1].trim().toLowerCase(), m[2].trim());
    return `Got it — I'll remember your ${m[1].trim()} is ${m[2].trim()}, on every device.`;
  }
  const facts = c.memory.all();
  if (facts.length && /what|remember/i.test(text)) return `Here is what I remember: ${facts.map(([k, v]) => `${k}: ${v}`).join('; ')}.`;
  return `You said “${text}”. This conversation is saved on this device and synced to your others.`;
}

/** Earlier values of the theme the server keeps, each with a Restore button (a new write that syncs). @param {Cairn} c */
export async function showThemeHistory(c) {
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
