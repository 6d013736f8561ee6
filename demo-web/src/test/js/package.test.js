// The npm package @cairn/client (demo-web/package.json) as an app gets it: `npm pack` (whose
// prepack generates the TypeScript declarations from the JSDoc; in the build, the pom's npm-pack),
// the tarball's file list, then the
// tarball unpacked into an app's node_modules: both entry points import through `exports`, and a
// TypeScript app type-checks against the shipped .d.ts files. npm is the one on the PATH, or
// CAIRN_NPM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROTOCOL_V2 } from '../../main/web/cairn/protocol.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const clientDir = join(root, 'src', 'main', 'web', 'cairn');
const npm = process.env.CAIRN_NPM || 'npm';
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/**
 * The packed tarball: the one the build packed (CAIRN_PACKED_DIR, demo-web's pom: npm-pack), else
 * one packed now into `work`.
 */
function packed(work) {
  const dir = process.env.CAIRN_PACKED_DIR;
  if (dir) {
    const found = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
    assert.equal(found.length, 1, `one tarball in ${dir}: ${found}`);
    return join(dir, found[0]);
  }
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return join(work, JSON.parse(out.slice(out.indexOf('[')))[0].filename);
}

/** Every .js file of the client, relative to its folder ('react/sections.js'...). */
function clientFiles(dir = clientDir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory()
    ? clientFiles(join(dir, e.name))
    : e.name.endsWith('.js') ? [relative(clientDir, join(dir, e.name)).split('\\').join('/')] : []));
}

test('package.json: name, exports of the client and ./react with their types, engines, a version whose major is the protocol', () => {
  assert.equal(pkg.name, '@cairn/client');
  assert.equal(pkg.type, 'module');
  assert.deepEqual(pkg.exports['.'], { types: './types/cairn.d.ts', default: './src/main/web/cairn/cairn.js' });
  assert.deepEqual(pkg.exports['./react'], { types: './types/react.d.ts', default: './src/main/web/cairn/react.js' });
  assert.equal(pkg.types, './types/cairn.d.ts');
  assert.equal(pkg.engines.node, '>=20');
  assert.equal(Number(pkg.version.split('.')[0]), PROTOCOL_V2, 'major version = the highest sync protocol version the client speaks');
  assert.equal(pkg.dependencies, undefined, 'no runtime dependencies: React is an optional peer');
});

test('npm pack: the tarball holds every client module and its declarations, and nothing else; an app imports and type-checks it', () => {
  const work = mkdtempSync(join(tmpdir(), 'cairn-pack-'));
  try {
    const tarball = packed(work);
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter((f) => f && !f.endsWith('/'))
      .map((f) => f.replace(/^package\//, '')).sort();
    const modules = clientFiles();
    assert.ok(modules.includes('react/sections.js'));
    for (const m of modules) {
      assert.ok(files.includes(`src/main/web/cairn/${m}`), `${m} is in the tarball`);
      assert.ok(files.includes(`types/${m.replace(/\.js$/, '.d.ts')}`), `${m}'s declarations are in the tarball`);
    }
    const other = files.filter((f) => !f.startsWith('src/main/web/cairn/') && !f.startsWith('types/'));
    assert.deepEqual(other, ['package.json'], 'no tests, no pom, no demo page');

    // An app with the tarball unpacked in node_modules (as `npm install ./cairn-client-x.tgz` leaves it) and React.
    const app = join(work, 'app');
    const modulesDir = join(app, 'node_modules');
    mkdirSync(join(modulesDir, '@cairn', 'client'), { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', join(modulesDir, '@cairn', 'client'), '--strip-components=1']);
    for (const dep of ['react', '@types/react']) {
      mkdirSync(dirname(join(modulesDir, dep)), { recursive: true });
      symlinkSync(join(root, 'node_modules', dep), join(modulesDir, dep), 'dir');
    }
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module', private: true }));
    writeFileSync(join(app, 'check.mjs'), `
      const client = await import('@cairn/client');
      const react = await import('@cairn/client/react');
      console.log(JSON.stringify({ open: typeof client.Cairn.open, hooks: Object.keys(react).filter((k) => k.startsWith('use')).sort() }));
    `);
    const seen = JSON.parse(execFileSync(process.execPath, ['check.mjs'], { cwd: app, encoding: 'utf8' }));
    assert.equal(seen.open, 'function');
    for (const hook of ['usePersistentState', 'useExpandableCard', 'useVisibleComponent', 'useComponentVisibility', 'useWaiverPersistence',
      'useServiceWaiver', 'useProgressPersistence', 'useUserProgress', 'useChatHistory', 'useMemoryContext', 'useUserPreferences',
      'useUIState', 'useFeatureAccess', 'useSyncStatus', 'usePersistence', 'useCairn', 'useSpaces', 'useSpace', 'useSpaceMembers', 'usePresence']) {
      assert.ok(seen.hooks.includes(hook), `@cairn/client/react exports ${hook}`);
    }

    // A TypeScript app: the declarations resolve through `exports` and type its calls; a wrong call fails.
    writeFileSync(join(app, 'app.ts'), `
      import { Cairn } from '@cairn/client';
      import { usePersistentState, useUIState, useSyncStatus, useSpaces, useSpace, useSpaceMembers, usePresence } from '@cairn/client/react';
      export async function start(): Promise<string> {
        const cairn: Cairn = await Cairn.open({ user: 'alice', server: { url: 'wss://sync.example/sync', token: async () => 'jwt' } });
        return cairn.status;
      }
      export async function shared(cairn: Cairn): Promise<string> {
        const trip = await cairn.space('trip');
        trip.setPresence({ at: 'item-3' });
        return trip.members().map((m) => m.user + m.role).join() + trip.presence().map((p) => p.user + p.replica).join() + trip.id;
      }
      export function useTrip(): [string | null, string, number, number, string] {
        const { role, status } = useSpace('trip');
        const members = useSpaceMembers('trip');
        const [peers, setMine] = usePresence('trip');
        setMine(null);
        return [role, status, members.length, peers.length, useSpaces()[0]?.id ?? ''];
      }
      export function useThings(): [number, boolean, string | null] {
        const { value } = usePersistentState('count', 0);
        const [open] = useUIState('sidebarOpen', true);
        const { error } = useSyncStatus();
        return [value, open, error];
      }
    `);
    writeFileSync(join(app, 'wrong.ts'), `
      import { useUIState } from '@cairn/client/react';
      export function useWrong(): string { const [open] = useUIState('sidebarOpen', true); return open; }
    `);
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', '--types', 'react'];
    execFileSync(process.execPath, [tsc, ...flags, 'app.ts'], { cwd: app, encoding: 'utf8' });
    assert.throws(
      () => execFileSync(process.execPath, [tsc, ...flags, 'wrong.ts'], { cwd: app, encoding: 'utf8' }),
      (e) => /Type 'boolean' is not assignable to type 'string'/.test(String(e.stdout)),
      'the hooks are typed, not any',
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
