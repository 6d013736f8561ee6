#!/bin/bash
# PostgreSQL backend CPU per W1 commit (BENCHMARKS.md, issue 13, "The commit's last statement"):
#   bench/sql/commit-cpu/commit-cpu.sh <before cairn-server.jar> <after cairn-server.jar> [rounds] [commits]
# Interleaved rounds of bare, before and after: pgbench -M prepared, one commit's statements in one
# \startpipeline, on a scratch database (migrations of this checkout, synchronous_commit = off);
# CPU = perf stat task-clock of the pgbench backend / commits. Needs pgbench, psql, perf, java, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db_dir=$here/../../../server/src/main/resources/db
before=$1; after=$2; rounds=${3:-8}; t=${4:-2000}
work=$(mktemp -d); db=cairn_commit_cpu_$$
PSQL="psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -q"
$PSQL -c "CREATE DATABASE $db" && $PSQL -c "ALTER DATABASE $db SET synchronous_commit = off"
trap '$PSQL -c "DROP DATABASE IF EXISTS $db" >/dev/null; rm -rf "$work"' EXIT
for f in $(ls "$db_dir"/V*.sql | sort -V); do $PSQL -d $db -f "$f" >/dev/null; done
for v in before after; do
  jar=$([ $v = before ] && echo "$before" || echo "$after")
  java -cp "$jar" "$here/Dump.java" RESERVE PUTS SETTLE RELEASE_UNUSED FINISH > "$work/$v.sql"
  python3 "$here/gen.py" "$work/$v.sql" full > "$work/$v.pgb"
done
python3 "$here/gen.py" "$work/before.sql" bare > "$work/bare.pgb"
run() {   # $1 = script: prints ms of backend CPU per commit
  pgbench -h 127.0.0.1 -U postgres -n -M prepared -t $((t + 1)) -D i=0 -D u=u1 -D n=1 -D sec='{prefs}' -D val='{12345}' \
    -D hlc='{1}' -D rep='{phone}' -D off='{1}' -D now=1700000000000 -D hist=true -D quota=52428800 -f "$1" $db > "$work/out" 2>&1 &
  local pg=$! pid=""
  for _ in $(seq 1 100); do
    pid=$(psql -h 127.0.0.1 -U postgres -d $db -tAc "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND datname = '$db'" | head -1)
    [ -n "$pid" ] && break; sleep 0.02
  done
  perf stat -x, -e task-clock -p "$pid" 2> "$work/perf" || true
  wait $pg
  python3 -c "import sys; print(f'{float(sys.argv[1]) / $t:.4f}')" "$(grep task-clock "$work/perf" | cut -d, -f1)" || echo "-"
}
for r in $(seq 1 "$rounds"); do
  for v in bare before after; do
    echo "$(date -u +%H:%M:%S) round $r $v cpu_ms_per_commit=$(run "$work/$v.pgb") load=$(cut -d' ' -f1 /proc/loadavg)"
  done
done
