// The membership calls of PROTOCOL.md 8.5 over fetch, with the sync token. Membership is
// server-authoritative: a call changes nothing on this device; the server's commit reaches it as
// the user's `spaces` section and the space's `members` section, like any other change. An error
// answer rejects with an Error carrying its `code` (forbidden, not-a-member, invalid-invitation,
// bad-request, ...) and the HTTP `status`.

import { isSpaceId } from '../protocol.js';

/** @typedef {import('../cairn.js').Cairn} Cairn */
/** @typedef {{id: string, name: string, role: string}} SpaceEntry */

const ROLES = new Set(['editor', 'viewer']);

/**
 * One call of the server's HTTP API with the sync token.
 * @param {Cairn} cairn @param {'GET'|'POST'|'DELETE'} method @param {string} path @param {unknown} [body]
 */
export async function request(cairn, method, path, body) {
  const server = cairn.options.server;
  if (!server) throw Object.assign(new Error('no sync server configured: spaces are managed on the server'), { code: 'offline' });
  const url = new URL(server.url, globalThis.location?.href);
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  url.pathname = path;
  url.search = '';
  const fetchFn = cairn.options.fetch ?? globalThis.fetch;
  /** @type {Record<string, string>} */
  const headers = { Authorization: `Bearer ${await server.token()}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetchFn(url.toString(), {
    method, headers, cache: 'no-store', ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw Object.assign(new Error(`${answer.error ?? response.status}: ${answer.message ?? response.statusText}`), { code: answer.error, status: response.status });
  }
  return answer;
}

/** @param {string} id */
function spacePath(id) {
  if (!isSpaceId(id)) throw new RangeError(`not a space id: ${JSON.stringify(id)} (1-64 of A-Z a-z 0-9 - _)`);
  return `/api/spaces/${id}`;
}

/** @param {unknown} role */
function checkRole(role) {
  if (typeof role !== 'string' || !ROLES.has(role)) throw new RangeError(`a role is 'editor' or 'viewer' (the owner changes only by transferOwnership), not ${JSON.stringify(role)}`);
  return role;
}

/** @param {unknown} user */
function checkUser(user) {
  if (typeof user !== 'string' || user === '') throw new TypeError('a user id is a non-empty string');
  return user;
}

/** Creates a space; the caller is its owner. @param {Cairn} cairn @param {string} name @returns {Promise<SpaceEntry>} */
export function createSpace(cairn, name) {
  if (typeof name !== 'string' || name.length < 1 || name.length > 200) throw new RangeError('a space name is 1-200 characters');
  return request(cairn, 'POST', '/api/spaces', { name });
}

/** The user's spaces as the server has them now: [{id, name, role}]. @param {Cairn} cairn @returns {Promise<SpaceEntry[]>} */
export async function listSpaces(cairn) {
  const answer = await request(cairn, 'GET', '/api/spaces');
  return Array.isArray(answer.spaces) ? answer.spaces : [];
}

/** Joins with an invitation code. @param {Cairn} cairn @param {string} code @returns {Promise<SpaceEntry>} */
export function joinSpace(cairn, code) {
  if (typeof code !== 'string' || code === '') throw new TypeError('an invitation code is a non-empty string');
  return request(cairn, 'POST', '/api/spaces/join', { code });
}

/** @param {Cairn} cairn @param {string} id */
export function info(cairn, id) {
  return request(cairn, 'GET', spacePath(id));
}

/** @param {Cairn} cairn @param {string} id @param {'editor'|'viewer'} role @param {number} [expiresInSeconds] */
export function invite(cairn, id, role, expiresInSeconds) {
  const body = { role: checkRole(role), ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}) };
  return request(cairn, 'POST', `${spacePath(id)}/invitations`, body);
}

/** @param {Cairn} cairn @param {string} id @param {string} user @param {'editor'|'viewer'} role */
export function addMember(cairn, id, user, role) {
  return request(cairn, 'POST', `${spacePath(id)}/members`, { user: checkUser(user), role: checkRole(role) });
}

/** @param {Cairn} cairn @param {string} id @param {string} user */
export function removeMember(cairn, id, user) {
  return request(cairn, 'DELETE', `${spacePath(id)}/members/${encodeURIComponent(checkUser(user))}`);
}

/** @param {Cairn} cairn @param {string} id @param {string} user */
export function transferOwnership(cairn, id, user) {
  return request(cairn, 'POST', `${spacePath(id)}/owner`, { user: checkUser(user) });
}

/** @param {Cairn} cairn @param {string} id */
export function deleteSpace(cairn, id) {
  return request(cairn, 'DELETE', spacePath(id));
}
