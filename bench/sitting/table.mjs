// The side-by-side table of one sitting: Cairn's RESULT lines (bench jar: workload, variant) and
// the peers' (workload, system), median [min–max] over the runs of each row.
//   node bench/sitting/table.mjs cairn.jsonl peers.jsonl
import { readFileSync } from 'node:fs';

const read = (file) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const [cairnFile, peersFile] = process.argv.slice(2);
const cairn = read(cairnFile);
const peers = read(peersFile);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const fmt = (x) => (Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : String(+x.toPrecision(3)));
/** median [min–max] of one metric over the rows; '–' when none has it. */
function cell(rows, key) {
  const xs = rows.map((r) => r[key]).filter((x) => typeof x === 'number');
  if (xs.length === 0) return '–';
  if (xs.length === 1) return fmt(xs[0]);
  return `${fmt(median(xs))} [${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}] (${xs.length})`;
}
/** The rows of one row label: Cairn's by workload and variant prefix, the peers' by workload and system. */
const cairnRows = (workload, variant) => cairn.filter((r) => r.workload === workload && r.variant.startsWith(variant));
const peerRows = (workload, system) => peers.filter((r) => r.workload === workload && r.system === system && !r.persist);

const systems = [
  ['Cairn PostgreSQL', (w, v) => cairnRows(w, `cairn pg${v}`)],
  ['Cairn embedded', (w, v) => cairnRows(w, `cairn embedded${v}`)],
  ['Yjs (memory only)', (w) => peerRows(w, 'yjs')],
  ['automerge-repo', (w) => peerRows(w, 'am')],
];
// [row label, Cairn workload, Cairn variant suffix, Cairn metric, peers' workload, peers' metric]
const metrics = [
  ['W1 fan-out p50 ms', 'W1 fan-out latency', '', 'p50 ms', 'W1', 'p50'],
  ['W1 fan-out p99 ms', 'W1 fan-out latency', '', 'p99 ms', 'W1', 'p99'],
  ['W2 ingest changes/s', 'W2 ingest', '', 'changes/s (acked)', 'W2', 'opsPerSec'],
  ['W3 catch-up readable ms', 'W3 catch-up', '', 'readable ms', 'W3', 'catchupMs'],
  ['W3 catch-up durable ms', 'W3 catch-up', '', 'durable ms', 'W3', null],
  ['W3 bytes to the client', 'W3 catch-up', '', 'bytes to client', 'W3', 'bytesIn'],
  ['W5 KiB per idle connection', 'W5 idle connections', ',', 'KiB per connection', 'IDLE', 'perClientKiB'],
];
console.log(`| workload | ${systems.map((s) => s[0]).join(' | ')} |`);
console.log(`|---|${systems.map(() => '---').join('|')}|`);
for (const [label, cw, cv, cm, pw, pm] of metrics) {
  const cells = systems.map(([name, rowsOf]) => {
    const rows = name.startsWith('Cairn') ? rowsOf(cw, cv) : rowsOf(pw);
    return cell(rows, name.startsWith('Cairn') ? cm : pm ?? '');
  });
  console.log(`| ${label} | ${cells.join(' | ')} |`);
}
// Cairn's ceilings and floors of the same sitting, for the ratios
const extra = cairn.filter((r) => !r.variant.startsWith('cairn '));
const groups = new Map();
for (const r of extra) {
  const k = `${r.workload} — ${r.variant}`;
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k).push(r);
}
if (groups.size) {
  console.log('\n| ceiling or floor (same sitting) | metric | median [min–max] (runs) |\n|---|---|---|');
  for (const [k, rows] of groups) {
    for (const m of ['changes/s (acked)', 'p50 ms', 'p99 ms', 'ceiling: raw protocol client caught-up ms', 'ceiling: raw bytes to client', 'KiB per connection']) {
      const c = cell(rows, m);
      if (c !== '–') console.log(`| ${k} | ${m} | ${c} |`);
    }
  }
}
