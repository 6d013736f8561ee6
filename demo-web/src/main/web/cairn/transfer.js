// The state as a whole and the server's HTTP API: export and import files (all or nothing, with
// over-large changes refused before anything is written) and what the server keeps (usage,
// history). Cairn's methods of the same names delegate here.

import { writeExport, readExport } from './codec.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {import('./cairn.js').Cairn} Cairn */

/** GET on the sync server's HTTP API with the sync token. @param {string} path */
export async function serverGet(cairn, path) {
  const server = cairn.options.server;
  if (!server) throw new Error('no sync server configured');
  const url = new URL(server.url, globalThis.location?.href);
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  url.pathname = path;
  url.search = '';
  const fetchFn = cairn.options.fetch ?? globalThis.fetch;
  const response = await fetchFn(url.toString(), {
    headers: { Authorization: `Bearer ${await server.token()}`, Accept: 'application/json' },
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw Object.assign(new Error(`${body.error ?? response.status}: ${body.message ?? response.statusText}`), { code: body.error, status: response.status });
  }
  return body;
}

/** Bytes this user holds on the server against the quota: {usedBytes, quotaBytes (0: no limit), unlimited, overQuota, historyMillis}. */
export function usage(cairn) {
  return cairn.serverGet('/api/usage');
}

/**
 * Earlier values of a map key the server keeps, newest first:
 * [{value, deleted, stamp, replacedAt, replacedAtMillis}].
 * @param {string} section @param {string} key
 */
export async function history(cairn, section, key) {
  const body = await cairn.serverGet(`/api/history/${encodeURIComponent(section)}/${encodeURIComponent(key)}`);
  return body.entries;
}

/**
 * Makes an earlier value current again: a new local write (fresh stamp) that syncs like any
 * other; a deleted version deletes the key.
 * @param {string} section @param {string} key @param {{value: unknown, deleted: boolean}} version
 */
export function restore(cairn, section, key, version) {
  if (cairn.kind(section) !== 'map') throw new Error(`section '${section}' is not a map section`);
  return version.deleted ? cairn.write('delete', section, key) : cairn.write('set', section, key, version.value);
}

/**
 * The export document of the chosen sections (default: every known section).
 * Built as one string, synchronously, from the state this tab holds in memory: the page is blocked
 * while the whole state is encoded, and the text takes its size in memory besides the state. A large account is better exported by the server, which streams it
 * (GET /api/export; the dashboard's "Download from server").
 * @param {string[]} [sections]
 */
export function exportData(cairn, sections) {
  return writeExport(cairn.replica, cairn.wall(), cairn.replicaState, sections ?? Object.keys(cairn.kinds));
}

/** Imports an export document: all-or-nothing check, then a merge that syncs. @param {string} document */
export function importData(cairn, document) {
  const changes = cairn.readImport(document);
  return { changesRead: changes.length, changesApplied: cairn.merge(changes, 'import') };
}

/**
 * Reads and checks a whole file before anything of it is written (all or nothing): a stamp too far
 * ahead, or a change too large for any push frame (ChangeTooLargeError), refuses the whole file.
 * @param {string} document
 */
export function readImport(cairn, document) {
  const changes = readExport(document, (s) => cairn.kinds[s]);
  for (const c of changes) {
    cairn.clock.check(c.stamp);
    if (cairn.isSyncing(c.section)) cairn.checkFits(c);
  }
  return changes;
}

/**
 * Restores a backup file (the dashboard's import). Everything merges as in importData; then
 * every entry of the file that is still missing here because it was deleted or cleared later
 * is written again as a new change, so the restore wins over that clear on every device.
 * All or nothing: the whole file is checked before anything is written.
 * @param {string} document
 */
export function restoreData(cairn, document) {
  const changes = cairn.readImport(document);
  const merged = cairn.merge(changes, 'import');
  let restored = 0;
  for (const c of changes) {
    if (c.op === 'set' && cairn.replicaState.map(c.section).value(c.key) === null) {
      cairn.writeText('set', c.section, c.key, c.value);
      restored++;
    } else if (c.op === 'append' && !cairn.replicaState.log(c.section).entries(c.stream).some((e) => e.stamp === c.stamp || e.value === c.value)) {
      // An entry with the same text is the same entry restored before (entries carry their own
      // time); file order is stamp order, so the history keeps its order.
      cairn.writeText('append', c.section, c.stream, c.value);
      restored++;
    }
  }
  return { changesRead: changes.length, changesApplied: merged + restored, restored };
}
