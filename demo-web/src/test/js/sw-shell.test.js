// The service worker's app shell (sw.js SHELL) must list every module the page and the sync worker
// import: a module missing from it fails the page's load with the server down (the offline reload
// of DeviceStorageIT found chunk.js missing once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = resolve(dirname(fileURLToPath(import.meta.url)), '../../main/web');

/** Every module reachable by static imports from `entry`, as paths relative to web/. @param {string} entry */
function graph(entry, seen = new Set()) {
  const file = resolve(web, entry);
  const rel = relative(web, file);
  if (seen.has(rel)) return seen;
  seen.add(rel);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]/gms)) graph(relative(web, join(dirname(file), m[1])), seen);
  for (const m of text.matchAll(/new URL\(['"](\.[^'"]+\.js)['"],\s*import\.meta\.url\)/g)) graph(relative(web, join(dirname(file), m[1])), seen);
  return seen;
}

test('the service worker caches every module the page and its sync worker import', () => {
  const sw = readFileSync(join(web, 'sw.js'), 'utf8');
  const shell = new Set([...sw.slice(sw.indexOf('const SHELL'), sw.indexOf('];', sw.indexOf('const SHELL'))).matchAll(/'([^']+)'/g)].map((m) => m[1]));
  const needed = graph('app.js');
  assert.ok(needed.has('cairn/worker/sync-worker.js') && needed.has('cairn/chunk.js'), 'the walk follows imports and the worker URL');
  const missing = [...needed].filter((f) => !shell.has(f));
  assert.deepEqual(missing, [], 'modules not in sw.js SHELL');
});

test('the shell lists each file once: cache.addAll refuses duplicate requests, and the whole install with them', () => {
  const sw = readFileSync(join(web, 'sw.js'), 'utf8');
  const listed = [...sw.slice(sw.indexOf('const SHELL'), sw.indexOf('];', sw.indexOf('const SHELL'))).matchAll(/'([^']+)'/g)].map((m) => m[1]);
  assert.deepEqual(listed.filter((f, i) => listed.indexOf(f) !== i), [], 'listed twice in sw.js SHELL');
});
