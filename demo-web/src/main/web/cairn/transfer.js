// The state as a whole and the server's HTTP API: export and import files (all or nothing, with
// over-large changes refused before anything is written) and what the server keeps (usage,
// history). Cairn's methods of the same names delegate here.

import { writeExport, readExport, WHOLE_SECTION } from './codec.js';


/** The sections only the server writes (PROTOCOL.md 8): never imported, whatever the file holds. */
const SERVER_WRITTEN = new Set(['spaces', 'members', 'invitations']);
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
  // The server-written sections (spaces, members) are the server's record, not the user's data: not exported by default.
  return writeExport(cairn.replica, cairn.wall(), cairn.replicaState, sections ?? Object.keys(cairn.kinds).filter((s) => !cairn.readOnlySections.has(s)));
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
  // An import never writes a section only the server writes (membership comes from the server),
  // and reads past those of a file that this replica does not hold (a server export lists them all).
  const known = (/** @type {string} */ s) => cairn.kinds[s] ?? (SERVER_WRITTEN.has(s) ? 'map' : undefined);
  const changes = readExport(document, known).filter((c) => !SERVER_WRITTEN.has(c.section));
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

/**
 * Clears a section on every device, online or offline: a map section with one whole-section clear
 * (a watermark that purges its values and tombstones everywhere and keeps older writes of offline
 * devices out), a log section with a watermark per stream. Returns how many entries it hid.
 * @param {string} section
 */
export function clear(cairn, section) {
  let n = 0;
  if (cairn.kind(section) === 'map') {
    n = cairn.replicaState.map(section).liveSize();
    cairn.write('clear', section, WHOLE_SECTION);
  } else if (cairn.kind(section) === 'log') {
    for (const stream of cairn.replicaState.log(section).streams()) {
      n += cairn.replicaState.log(section).size(stream);
      cairn.write('clear', section, stream);
    }
  } else throw new RangeError(`unknown section '${section}'`);
  return n;
}

/** How often the memory tier's size is summed again (stats() is called on every render of a dashboard). */
const MEMORY_BYTES_EVERY_MILLIS = 2000;

/**
 * Bytes the state takes as text (UTF-16, keys, values and stamps): a sum over the entries, not the
 * canonical encoding (which sorts and builds the whole state as one string: seconds per call at
 * 100,000 entries). Summed at most every 2 s.
 * @param {Cairn} cairn
 */
function memoryBytes(cairn) {
  const now = performance.now();
  const cache = /** @type {{at: number, bytes: number}|undefined} */ (/** @type {any} */ (cairn).memoryBytesCache);
  if (cache && now - cache.at < MEMORY_BYTES_EVERY_MILLIS) return cache.bytes;
  let n = 0;
  for (const m of cairn.replicaState.maps.values()) for (const [k, e] of m.entries) n += k.length + e.stamp.length + (e.value?.length ?? 0);
  for (const l of cairn.replicaState.logs.values()) {
    for (const [stream, entries] of l.streamsMap) for (const [stamp, v] of entries) n += stream.length + stamp.length + v.length;
  }
  /** @type {any} */ (cairn).memoryBytesCache = { at: now, bytes: 2 * n };
  return 2 * n;
}

/** Storage use and sync state, for a dashboard. */
export function stats(cairn) {
  const sections = Object.keys(cairn.kinds).sort().map((name) => ({
    name, kind: cairn.kinds[name], live: cairn.replicaState.liveSize(name), syncing: cairn.isSyncing(name),
    encrypted: !!cairn.cipher?.covers(name), persistTo: cairn.policyFor(name).persistTo,
  }));
  return {
    user: cairn.user,
    replica: cairn.replica,
    status: cairn.status,
    lastSync: cairn.sync?.lastSync ?? null,
    lastSaved: cairn.lastSaved,
    cursor: cairn.sync?.cursor ?? 0,
    syncError: cairn.sync?.lastError?.message ?? null,
    lastError: cairn.sync?.lastError ?? null,
    keyId: cairn.keyId,
    unsaved: cairn.pendingSaves.size,
    pending: cairn.pendingCount(),
    outbox: cairn.outbox.size(),
    bytes: {
      memory: memoryBytes(cairn),
      sessionStorage: cairn.tiers.sessionStorage.bytes(),
      ...(cairn.store
        ? { indexedDB: cairn.store.bytes } // every durable tier, outbox and settings included (approximate)
        : {
          localStorage: cairn.tiers.localStorage.bytes() + cairn.kv.local.bytes(`cairn:${cairn.user}:`),
          indexedDB: cairn.kv.logs !== cairn.kv.local ? cairn.tiers.indexedDB.bytes() + cairn.outbox.bytes() : 0,
        }),
    },
    storage: cairn.storage,
    sections,
  };
}
