// Who this window is signed in as, and the dev tokens.
//
// Several users may share one browser profile: each window keeps its own user in sessionStorage
// (it survives that window's reloads), so `?user=bob` in a second window never turns the first
// into bob. localStorage keeps the last user (a new window opens as them) and one token per user,
// so the page can open signed in with the server unreachable.

import { local } from './dom.js';
import { Cairn } from '../cairn/cairn.js';

const WINDOW_USER = 'cairn-demo:window-user';
const LAST_USER = 'cairn-demo:last-user';
/** Before per-user tokens: one shared session for the whole profile. */
const LEGACY_SESSION = 'cairn-demo:session';
const tokenKey = (/** @type {string} */ user) => `cairn-demo:token:${user}`;

/** @typedef {{user: string, token: string, expiresAt: number}} Session */

/** The user this window shows: its own, else the profile's last one (null: nobody). */
export function windowUser() {
  let mine = null;
  try { mine = sessionStorage.getItem(WINDOW_USER); } catch { /* no session storage: the profile's user */ }
  if (mine !== null) return mine || null; // '': this window signed out, and stays so until a sign-in
  const legacy = parse(local.get(LEGACY_SESSION));
  if (legacy) {
    local.set(tokenKey(legacy.user), JSON.stringify(legacy));
    local.set(LAST_USER, legacy.user);
    local.remove(LEGACY_SESSION);
  }
  return local.get(LAST_USER) || null;
}

/** This window now shows `user`; new windows open as them too. @param {string} user */
export function rememberWindow(user) {
  try { sessionStorage.setItem(WINDOW_USER, user); } catch { /* reloads fall back to the last user */ }
  local.set(LAST_USER, user);
}

/** The remembered session of a user, expired or not (null if none). @param {string} user @returns {Session|null} */
export function rememberedSession(user) {
  const s = parse(local.get(tokenKey(user)));
  return s && s.user === user ? s : null;
}

/** @param {string|null} text @returns {Session|null} */
function parse(text) {
  try {
    const s = JSON.parse(text || 'null');
    return s && typeof s.user === 'string' && s.user !== '' && typeof s.token === 'string' ? s : null;
  } catch {
    return null;
  }
}

/** A dev token from the server (throws when the server is unreachable or refuses). @param {string} user @returns {Promise<Session>} */
export async function fetchToken(user) {
  const res = await fetch('/api/dev/token', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }), signal: AbortSignal.timeout(5000),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `sign-in failed (${res.status})`);
  const session = { user, token: String(body.token), expiresAt: Date.now() + body.expiresIn * 1000 };
  local.set(tokenKey(user), JSON.stringify(session));
  return session;
}

/** Signs in through the server; a remembered user may go on offline when the server is unreachable. @param {string} user */
export async function signIn(user) {
  try {
    return await fetchToken(user);
  } catch (e) {
    const known = rememberedSession(user);
    if (known && !(e instanceof Error && /sign-in failed/.test(e.message))) return known;
    throw e;
  }
}

/** Forgets who is signed in, in this window and the profile (the token too). @param {string} user */
export function forgetSession(user) {
  try { sessionStorage.setItem(WINDOW_USER, ''); } catch { /* nothing kept */ }
  if (local.get(LAST_USER) === user) local.remove(LAST_USER);
  local.remove(tokenKey(user));
}

/**
 * Removes everything this device keeps for `user`: the IndexedDB databases (the user's and each
 * space's) and the web-storage rows of the client and of this page. Resolves to false when another
 * tab of the user still holds a database open (the browser deletes it once that tab closes).
 * @param {string} user @param {import('../cairn/cairn.js').Cairn} cairn a closed Cairn of that user
 */
export async function removeDeviceData(user, cairn) {
  const spaces = [...(cairn.openSpaces?.values() ?? [])];
  for (const c of [cairn, ...spaces]) {
    try { c.store?.close(); } catch { /* already closed */ }
  }
  const mine = (/** @type {string} */ k) => k.startsWith(`cairn:${user}:`) || k.startsWith(`cairn:${user}\u0000`)
    || k.startsWith(`cairn-clock:${user}:`) || (k.startsWith('cairn-demo:') && k.endsWith(`:${user}`))
    || k.startsWith(`cairn:${user}/space/`) || k.startsWith(`cairn-clock:${user}/space/`);
  for (const area of [localStorage, sessionStorage]) {
    try {
      for (const k of Object.keys(area)) if (mine(k)) area.removeItem(k);
    } catch { /* storage disabled: nothing kept there */ }
  }
  return Cairn.removeDeviceDatabases(user, { spaces: [...new Set([...spaces.map((s) => s.id), ...cairn.spaces().map((s) => s.id)])] });
}

/**
 * The sync connection's token provider, and whether the server answers.
 *
 * Each attempt first asks /health (no token): while it does not answer, no socket is opened (each
 * failed one is a console error in Chromium; the token rides in a subprotocol, not in the URL it
 * prints, since the client stopped putting it there) and the attempt waits
 * here on a schedule the page shows ("retrying in 12 s", "retry now"). The remembered dev token is
 * reused until it is about to expire or the server refused it, not fetched on every attempt.
 */
export class ServerLink {
  /**
   * @param {string} user @param {Session} session
   * @param {{refused: () => boolean, changed: () => void}} hooks refused: the server refused the last token
   */
  constructor(user, session, hooks) {
    this.user = user;
    this.session = session;
    this.hooks = hooks;
    /** @type {'unknown'|'reachable'|'unreachable'} */
    this.state = 'unknown';
    /** @type {number|null} when the next attempt starts, while unreachable */
    this.nextAttemptAt = null;
    /** @type {number|null} */
    this.unreachableSince = null;
    this.failures = 0;
    /** How many dev tokens this page asked for (the tests read it). */
    this.tokensFetched = 0;
    this.stopped = false;
    /** @type {Promise<string>|null} */
    this.inFlight = null;
    /** @type {(() => void)|null} */
    this.wakeUp = null;
  }

  /** The token for the next connect: waits until the server answers. */
  token() {
    if (!this.inFlight) this.inFlight = this.nextToken().finally(() => { this.inFlight = null; });
    return this.inFlight;
  }

  /** @private */
  async nextToken() {
    for (;;) {
      if (this.stopped) throw new Error('signed out');
      if (await probe()) break;
      this.failures++;
      if (this.state !== 'unreachable') this.unreachableSince = Date.now();
      this.state = 'unreachable';
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(5, this.failures - 1));
      this.nextAttemptAt = Date.now() + delay;
      this.hooks.changed();
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeUp = () => { clearTimeout(timer); resolve(undefined); };
      });
      this.wakeUp = null;
    }
    this.state = 'reachable';
    this.failures = 0;
    this.nextAttemptAt = this.unreachableSince = null;
    this.hooks.changed();
    const s = this.session;
    if (!s.token || s.expiresAt - Date.now() < 60_000 || this.hooks.refused()) {
      try {
        this.tokensFetched++;
        this.session = await fetchToken(this.user);
      } catch (e) {
        if (!s.token) throw e;
      }
    }
    return this.session.token;
  }

  /** "Retry now": the waiting attempt starts at once. */
  wake() {
    this.wakeUp?.();
  }

  /** Signed out: no attempt goes on. */
  stop() {
    this.stopped = true;
    this.wake();
  }
}

/** Whether the server answers at all (a token-free request). */
async function probe() {
  try {
    // Any answer will do: an unhealthy server still tells the socket why it refuses.
    await fetch('/health', { cache: 'no-store', signal: AbortSignal.timeout(3000) });
    return true;
  } catch {
    return false;
  }
}
