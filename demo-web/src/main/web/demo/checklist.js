// The "Shared checklist" panel: a space (PROTOCOL.md 8) shared with other users. The owner creates
// it and invites by code; members join by code; the items are the space's `state` keys `item/<id>`
// (values {text, done}), edited live and offline by every editor; the owner changes roles and
// removes members; avatars are the members present now (presence); a viewer's controls are
// disabled, a write the server refused is shown as refused, and space-left ends the view.

import { $, el, local, message } from './dom.js';

/** @typedef {import('../cairn/cairn.js').Cairn} Cairn */
/** @typedef {import('../cairn/space/space.js').Space} Space */

const ITEM = 'item/';
/** Why a space was left, as the member reads it. */
const LEFT = {
  removed: 'You were removed from this space: nothing more of it reaches this device. This copy is read-only.',
  deleted: 'The owner deleted this space. This copy is read-only.',
  left: 'You left this space. This copy is read-only.',
};

const spacesKey = (/** @type {string} */ user) => `cairn-demo:spaces:${user}`;
const currentKey = (/** @type {string} */ user) => `cairn-demo:checklist:${user}`;

/** Whether this user turned shared checklists on on this device (the page then syncs in the tab). @param {string} user */
export const wantsSpaces = (user) => local.get(spacesKey(user)) === '1';
/** Turns shared checklists on for this user on this device (read when the page opens). @param {string} user */
export const enableSpaces = (user) => local.set(spacesKey(user), '1');

/** Initials for an avatar: "alice" -> "AL", "bob.smith" -> "BS". @param {string} user */
export function initials(user) {
  const parts = user.split(/[._@\-\s]+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : user.slice(0, 2);
  return letters.toUpperCase();
}

/** A stable colour class per user, so an avatar reads the same on every device. @param {string} user */
function colour(user) {
  let h = 0;
  for (const ch of user) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `avatar-c${h % 6}`;
}

export class Checklist {
  /** @param {Cairn} cairn @param {() => void} changed called when the panel needs drawing again */
  constructor(cairn, changed) {
    this.cairn = cairn;
    this.changed = changed;
    /** @type {string|null} the space shown (kept per user on this device) */
    this.current = local.get(currentKey(cairn.user));
    /** @type {Map<string, {name: string, role: string}>} what create/join answered, until the `spaces` section syncs it */
    this.answered = new Map();
    /** @type {Space|null} the space whose events the panel follows */
    this.watched = null;
    /** @type {Array<() => void>} */
    this.unwatch = [];
    /** @type {string} the last invitation code, with its role */
    this.invitation = '';
  }

  // ------------------------------------------------------------------ what the panel shows

  /** The user's spaces for the picker: synced ones, plus the one shown even once left. */
  choices() {
    const list = this.cairn.spaces().map((s) => ({ id: s.id, name: s.name }));
    for (const [id, a] of this.answered) if (!list.some((s) => s.id === id)) list.push({ id, name: a.name });
    if (this.current && !list.some((s) => s.id === this.current)) list.push({ id: this.current, name: this.current });
    return list;
  }

  /** The user's role in the space shown: the synced `spaces` entry, else what create/join answered. @param {Space} space */
  role(space) {
    if (space.leftReason) return null;
    return space.membership?.role ?? this.answered.get(space.id)?.role ?? null;
  }

  render() {
    const c = this.cairn;
    if (!c.options.spaces) {
      $('checklist-off').hidden = false;
      $('checklist-on').hidden = true;
      return;
    }
    $('checklist-off').hidden = true;
    $('checklist-on').hidden = false;
    // Once the `spaces` section has a space, it is the truth (a role changed, a removal): forget the answer.
    for (const id of [...this.answered.keys()]) if (c.spaces().some((s) => s.id === id)) this.answered.delete(id);
    const choices = this.choices();
    if (!this.current && choices.length) this.show(choices[0].id);
    const picker = /** @type {HTMLSelectElement} */ ($('checklist-select'));
    picker.replaceChildren(...choices.map((s) => el('option', { value: s.id, selected: s.id === this.current }, s.name)));
    picker.hidden = choices.length < 2;
    const space = this.current ? c.openedSpace(this.current) : null;
    if (this.current && !space) {
      c.space(this.current).then(() => this.changed(), (e) => message(e.message, true));
    }
    $('checklist-current').hidden = !space;
    if (!space) return;
    this.watch(space);
    this.renderSpace(space);
  }

  /** @param {Space} space */
  renderSpace(space) {
    const me = this.cairn.user;
    const role = this.role(space);
    const editable = role === 'owner' || role === 'editor';
    $('checklist-name').textContent = space.membership?.name ?? this.answered.get(space.id)?.name ?? space.id;
    $('checklist-role').textContent = role ?? 'not a member';
    $('checklist-role').dataset.role = role ?? 'none';
    $('checklist-status').textContent = space.status;
    const left = $('checklist-left');
    left.hidden = !space.leftReason;
    left.textContent = space.leftReason ? (LEFT[/** @type {keyof LEFT} */ (space.leftReason)] ?? `You are no longer a member of this space (${space.leftReason}).`) : '';
    $('checklist-viewer').hidden = role !== 'viewer';

    // Presence: me first, then every other user present (a user on two devices once).
    const present = [...new Set(space.presence().map((p) => p.user))].filter((u) => u !== me);
    $('checklist-avatars').replaceChildren(...(space.leftReason ? [] : [me, ...present]).map((u) =>
      el('span', { class: `avatar ${colour(u)}${u === me ? ' me' : ''}`, id: `checklist-avatar-${u}`, title: u === me ? `${u} (you)` : `${u} is here` }, initials(u))));

    // Items, oldest first; those of a write the server refused marked.
    const refused = new Map(space.refused.filter((r) => r.change.section === 'state' && r.change.key?.startsWith(ITEM))
      .map((r) => [/** @type {string} */ (r.change.key).slice(ITEM.length), r]));
    const items = space.entries('state', ITEM).map(([key, v]) => ({ id: key.slice(ITEM.length), text: String(v?.text ?? ''), done: !!v?.done, at: Number(v?.at ?? 0) }))
      .sort((a, b) => a.at - b.at || a.id.localeCompare(b.id));
    $('checklist-items').replaceChildren(...items.map((item) => {
      const r = refused.get(item.id);
      return el('li', { class: `item${item.done ? ' done' : ''}${r ? ' refused' : ''}`, id: `checklist-item-${item.id}`, dataset: { text: item.text } },
        el('label', { class: 'check' },
          el('input', { type: 'checkbox', id: `checklist-item-${item.id}-done`, checked: item.done, disabled: !editable,
            onchange: (/** @type {Event} */ e) => this.setItem(space, item.id, { ...item, done: /** @type {HTMLInputElement} */ (e.target).checked }) }),
          el('span', { class: 'item-text' }, item.text)),
        r ? el('span', { class: 'badge', dataset: { state: 'invalid' }, title: r.message }, `refused: ${r.code}`) : '',
        el('button', { class: 'btn ghost small', id: `checklist-item-${item.id}-remove`, disabled: !editable, title: 'Remove', 'aria-label': `Remove ${item.text}`,
          onclick: () => this.removeItem(space, item.id) }, '✕'));
    }));
    $('checklist-empty').hidden = items.length > 0;
    for (const id of ['checklist-new', 'checklist-add']) /** @type {HTMLInputElement} */ ($(id)).disabled = !editable;

    const refusedBox = $('checklist-refused');
    refusedBox.hidden = space.refused.length === 0;
    $('checklist-refused-text').textContent = space.refused.length
      ? `${space.refused.length} change${space.refused.length === 1 ? ' was' : 's were'} refused by the server (${space.refused[space.refused.length - 1].code}): it stays on this device only.` : '';

    // Members and roles; the owner changes roles, removes members and invites.
    const owner = role === 'owner';
    $('checklist-owner').hidden = !owner;
    $('checklist-members-part').hidden = !!space.leftReason;
    $('checklist-invite-code').textContent = owner ? this.invitation : '';
    $('checklist-members').replaceChildren(...(space.leftReason ? [] : space.members()).map((m) => el('li', { id: `checklist-member-${m.user}`, dataset: { role: m.role } },
      el('span', { class: `avatar small ${colour(m.user)}` }, initials(m.user)),
      el('span', { class: 'member-name' }, m.user === me ? `${m.user} (you)` : m.user),
      owner && m.role !== 'owner'
        ? el('select', { id: `checklist-member-${m.user}-role`, 'aria-label': `Role of ${m.user}`, onchange: (/** @type {Event} */ e) => this.call(space.setRole(m.user, /** @type {any} */ (/** @type {HTMLSelectElement} */ (e.target).value)), `${m.user} is now ${/** @type {HTMLSelectElement} */ (e.target).value === 'viewer' ? 'a viewer' : 'an editor'}.`) },
          ...['editor', 'viewer'].map((r) => el('option', { value: r, selected: r === m.role }, r)))
        : el('span', { class: 'muted small member-role' }, m.role),
      owner && m.role !== 'owner'
        ? el('button', { class: 'btn danger small', id: `checklist-member-${m.user}-remove`, onclick: () => this.call(space.removeMember(m.user), `${m.user} was removed.`) }, 'Remove')
        : '')));
  }

  /** Follows the space shown: its changes redraw the panel; presence says "here, on the checklist". @param {Space} space */
  watch(space) {
    if (this.watched === space) return;
    this.stopWatching();
    this.watched = space;
    this.unwatch.push(space.subscribe(() => this.changed()));
    this.unwatch.push(space.on('presence', () => this.changed()));
    this.unwatch.push(space.on('status', () => this.changed()));
    if (!space.leftReason) space.setPresence({ looking: 'checklist' });
  }

  stopWatching() {
    while (this.unwatch.length) /** @type {() => void} */ (this.unwatch.pop())();
    const was = this.watched;
    this.watched = null;
    if (was && !was.leftReason) was.setPresence(null);
  }

  /** @param {string|null} id */
  show(id) {
    if (id === this.current) return;
    this.stopWatching();
    this.current = id;
    this.invitation = '';
    if (id) local.set(currentKey(this.cairn.user), id);
    else local.remove(currentKey(this.cairn.user));
    this.changed();
  }

  // ------------------------------------------------------------------ actions

  /** Writes an item; a refused one (a viewer's, a removed member's) comes back as refused. @param {Space} space @param {string} id @param {{text: string, done: boolean, at: number}} item */
  setItem(space, id, item) {
    try {
      space.write('set', 'state', ITEM + id, { text: item.text, done: item.done, at: item.at });
    } catch (e) {
      message(/** @type {Error} */ (e).message, true);
    }
  }

  /** @param {Space} space @param {string} id */
  removeItem(space, id) {
    try {
      space.write('delete', 'state', ITEM + id);
    } catch (e) {
      message(/** @type {Error} */ (e).message, true);
    }
  }

  /** A membership call (HTTP): its answer in the message line; the change itself arrives by sync. @param {Promise<unknown>} p @param {string} done */
  async call(p, done) {
    try {
      await p;
      message(done);
    } catch (e) {
      message(/** @type {Error} */ (e).message, true);
    }
    this.changed();
  }

  wire() {
    $('checklist-enable').addEventListener('click', () => {
      enableSpaces(this.cairn.user);
      location.reload(); // the page opens again with spaces on (they sync in the tab)
    });
    $('checklist-select').addEventListener('change', (e) => this.show(/** @type {HTMLSelectElement} */ (e.target).value));
    $('checklist-create-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const input = /** @type {HTMLInputElement} */ ($('checklist-create-name'));
      const name = input.value.trim();
      if (!name) return message('Give the checklist a name.', true);
      try {
        const entry = await this.cairn.createSpace(name);
        input.value = '';
        this.answered.set(entry.id, entry);
        this.show(entry.id);
        message(`Created "${entry.name}": invite someone with a code.`);
      } catch (ex) {
        message(/** @type {Error} */ (ex).message, true);
      }
    });
    $('checklist-join-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const input = /** @type {HTMLInputElement} */ ($('checklist-join-code'));
      const code = input.value.trim();
      if (!code) return message('Paste an invitation code.', true);
      try {
        const entry = await this.cairn.joinSpace(code);
        input.value = '';
        this.answered.set(entry.id, entry);
        this.show(entry.id);
        message(`Joined "${entry.name}" as ${entry.role}.`);
      } catch (ex) {
        message(/** @type {any} */ (ex).code === 'invalid-invitation' ? 'That code is unknown, used or expired.' : /** @type {Error} */ (ex).message, true);
      }
    });
    $('checklist-invite').addEventListener('click', async () => {
      const space = this.watched;
      if (!space) return;
      const role = /** @type {'editor'|'viewer'} */ (/** @type {HTMLSelectElement} */ ($('checklist-invite-role')).value);
      try {
        const { code } = /** @type {{code: string}} */ (await space.invite(role));
        this.invitation = code;
        message(`Invitation code for a ${role}: single use, valid 7 days.`);
      } catch (ex) {
        message(/** @type {Error} */ (ex).message, true);
      }
      this.changed();
    });
    $('checklist-add-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const space = this.watched;
      const input = /** @type {HTMLInputElement} */ ($('checklist-new'));
      const text = input.value.trim();
      if (!space || !text) return;
      input.value = '';
      const id = `${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
      this.setItem(space, id, { text, done: false, at: Date.now() });
    });
    $('checklist-refused-dismiss').addEventListener('click', () => this.watched?.dropRefused());
  }
}
