#!/usr/bin/env bash
# One sitting of issue 13's comparison: Cairn's W1, W2, W3 and W5 (both stores, with ceilings) and
# the peers' W1, W2, W3 and idle connections (Yjs, automerge-repo), RUNS rounds, the systems
# interleaved round by round so that a drift of the machine falls on all of them alike. Prints
# the side-by-side table (medians [min–max]) and keeps every RESULT line in $OUT.
#
#   mvn -q -B -DskipTests package && bench/sitting/run.sh            # from the repository root
#
# Env: RUNS (3), PEERS (../shared/peers, the peers' harness), OUT (bench/sitting/results),
# W5_IDLE (10000, Cairn's idle sockets; the peers' idle.js opens 1,000).
set -uo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
PEERS=${PEERS:-../shared/peers}
OUT=${OUT:-bench/sitting/results}
W5_IDLE=${W5_IDLE:-10000}
JAR=bench/target/cairn-bench.jar
[ -f "$JAR" ] || { echo "no $JAR: run mvn -q -B -DskipTests package first" >&2; exit 1; }
if [ ! -d "$PEERS/node_modules" ]; then
  if [ ! -w "$PEERS" ]; then   # a read-only checkout of the peers: install into a copy
    copy=${TMPDIR:-/tmp}/cairn-sitting-peers
    rm -rf "$copy" && cp -r "$PEERS" "$copy" && chmod -R u+w "$copy" && PEERS=$copy
  fi
  # npm ci refuses a lock file an older npm wrote without every platform's optional packages; install then
  (cd "$PEERS" && { npm ci --no-audit --no-fund >&2 || npm install --no-audit --no-fund >&2; })
fi
mkdir -p "$OUT"
: > "$OUT/cairn.jsonl"
: > "$OUT/peers.jsonl"
{ date -u +%FT%TZ; nproc; uptime; git rev-parse --short HEAD; } > "$OUT/machine.txt"

cairn() {
  echo ">> cairn $* ($(date +%T), load $(cut -d' ' -f1 /proc/loadavg))" >&2
  java -jar "$JAR" "$@" --runs 1 2>>"$OUT/stderr.log" | sed -n 's/^RESULT //p' | tee -a "$OUT/cairn.jsonl" >&2
}
peer() {
  echo ">> node $* ($(date +%T), load $(cut -d' ' -f1 /proc/loadavg))" >&2
  (cd "$PEERS" && node "$@") 2>>"$OUT/stderr.log" | sed -n 's/^RESULT //p' | tee -a "$OUT/peers.jsonl" >&2
}
for r in $(seq "$RUNS"); do
  echo "=== round $r/$RUNS ===" >&2
  cairn w1
  cairn w2
  cairn w3
  cairn w5 --w5-idle "$W5_IDLE"
  for s in yjs am; do
    peer w1.js $s
    peer w2.js $s
    peer w3.js $s
    peer idle.js $s
  done
done
uptime >> "$OUT/machine.txt"
node bench/sitting/table.mjs "$OUT/cairn.jsonl" "$OUT/peers.jsonl" | tee "$OUT/table.md"
