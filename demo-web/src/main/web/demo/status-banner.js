// The one status banner at the top of the page: what sync is doing, in plain words, and what the
// user can do about it (retry now, go online, enter the passphrase). Computed from the state on
// every render, so a message never outlives what it describes.

import { $, ago } from './dom.js';

/** Plain-language names of the client's sync states. */
export const STATUS_LABELS = {
  offline: 'Not connected',
  connecting: 'Connecting to the server',
  'catching-up': 'Receiving changes from the server',
  live: 'Up to date, changes sync live',
  locked: 'Stopped: wrong passphrase',
};

/** Problems the banner already says in its own words (an outage, a token being renewed). */
const SAID_OTHERWISE = new Set(['connection-lost', 'unauthorized', 'silent-socket', 'offline']);

/**
 * @param {{status: string, pending: number, lastSync: number|null, lastError: {code: string, message: string}|null}} s
 * @param {{offlineChosen: boolean, waitingForPassphrase: boolean,
 *   link: {state: string, nextAttemptAt: number|null, unreachableSince: number|null}|null}} page
 */
export function renderBanner(s, page) {
  const banner = $('status-banner');
  const waiting = s.pending === 0 ? 'nothing waits to be sent'
    : `${s.pending} change${s.pending === 1 ? '' : 's'} wait${s.pending === 1 ? 's' : ''} on this device`;
  const last = s.lastSync ? `last sync ${ago(s.lastSync)}` : 'never synced on this device';
  /** @type {[string, string]} */
  let [state, text] = ['live', ''];
  /** @type {'retry'|'online'|'passphrase'|null} */
  let action = null;
  if (s.status === 'locked') {
    [state, text] = ['locked', `Sync stopped: this passphrase does not open your data on the server. Nothing from the server was applied; ${waiting}.`];
    action = 'passphrase';
  } else if (page.waitingForPassphrase) {
    [state, text] = ['passphrase', `Waiting for your passphrase: chat and memory are encrypted, so sync starts once you enter it. ${cap(waiting)}.`];
    action = 'passphrase';
  } else if (page.offlineChosen) {
    [state, text] = ['offline', `Working offline (your choice): ${waiting}; ${last}.`];
    action = 'online';
  } else if (typeof navigator !== 'undefined' && navigator.onLine === false) {
    [state, text] = ['no-network', `No network on this device: ${waiting}; they are sent when it is back.`];
  } else if (page.link?.state === 'unreachable') {
    const next = page.link.nextAttemptAt;
    const secs = next === null ? 0 : Math.max(0, Math.ceil((next - Date.now()) / 1000));
    const when = next === null ? 'soon' : secs <= 0 ? 'now' : `in ${secs} s (at ${new Date(next).toLocaleTimeString()})`;
    [state, text] = ['unreachable', `The server does not answer${page.link.unreachableSince ? ` since ${new Date(page.link.unreachableSince).toLocaleTimeString()}` : ''}. Trying again ${when}. ${cap(waiting)}; ${last}.`];
    action = 'retry';
  } else if (s.status === 'connecting' || s.status === 'offline') {
    [state, text] = ['connecting', `Connecting to the server… ${cap(waiting)}.`];
  } else if (s.status === 'catching-up') {
    [state, text] = ['catching-up', 'Receiving changes from your other devices…'];
  } else if (s.pending > 0) {
    [state, text] = ['sending', `Sending ${s.pending} change${s.pending === 1 ? '' : 's'} to the server…`];
  } else {
    [state, text] = ['live', `Up to date: your changes sync live (${last}).`];
  }
  if (s.lastError && !SAID_OTHERWISE.has(s.lastError.code) && state !== 'locked') text += ` Problem: ${s.lastError.message}`;
  banner.dataset.state = state;
  $('status-text').textContent = text;
  $('status-retry').hidden = action !== 'retry';
  $('status-online').hidden = action !== 'online';
  $('status-passphrase').hidden = action !== 'passphrase';
}

/** @param {string} text */
function cap(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
