#!/usr/bin/env bash
# Compares the SQLite and PostgreSQL stores behind the real server: GET (a read, audited) and
# PUT (a new secret version, audited) at 1 and 64 connections with wrk, against one coffer server
# on the embedded SQLite file and one on a throwaway PostgreSQL cluster (scripts/pg-cluster.sh,
# 127.0.0.1, fsync on). pgbench runs on the same cluster in the same run as the reference for
# what the database alone does (select-only for GET, simple-update for PUT). Prints requests/s,
# p99 and the ratios PostgreSQL/SQLite and coffer-on-PostgreSQL/pgbench.
#   bench/store_compare.sh [COFFER_BIN] [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-build/coffer}"); duration=${2:-5}
for tool in wrk pgbench psql; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install wrk postgresql)" >&2; exit 2; }
done
work=$(mktemp -d)
pids=()
pg_dir=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ -n "$pg_dir" ]] && ./scripts/pg-cluster.sh stop "$pg_dir"
  rm -rf "$work"
}
trap cleanup EXIT

eval "$(./scripts/pg-cluster.sh start)"
pg_dir=$COFFER_PG_DIR
admin_url=$COFFER_TEST_PG_URL
base_url=${admin_url%/*}
psql -X -q "$admin_url" -c "CREATE DATABASE coffer_bench" -c "CREATE DATABASE pgbench"

source bench/compare_lib.sh

pgbench_run() {  # pgbench_run select-only|simple-update CLIENTS -> tps
  local threads=2; [[ $2 -lt 2 ]] && threads=1
  pgbench -n -b "$1" -c "$2" -j "$threads" -T "$duration" "$base_url/pgbench" 2>/dev/null \
    | awk '/^tps/ {print $3; exit}'
}

start sqlite "$bin"
start pg "$bin" --store "$base_url/coffer_bench"
pgbench -q -i -s 10 "$base_url/pgbench" >/dev/null 2>&1

printf '%-4s %5s | %10s %8s | %10s %8s | %7s | %10s %8s\n' op conns "SQLite r/s" "p99 ms" "PG r/s" \
  "p99 ms" "PG/SQL" "pgbench" "PG/pgb"
for op in get put; do
  for c in 1 64; do
    read -r s_rps s_p99 < <(wrk_run sqlite "$op" "$c")
    read -r p_rps p_p99 < <(wrk_run pg "$op" "$c")
    builtin=select-only; [[ $op == put ]] && builtin=simple-update
    ref=$(pgbench_run "$builtin" "$c")
    printf '%-4s %5s | %10.0f %8.2f | %10.0f %8.2f | %7.2f | %10.0f %8.3f\n' "$op" "$c" "$s_rps" \
      "$s_p99" "$p_rps" "$p_p99" "$(echo "$p_rps / $s_rps" | bc -l)" "$ref" \
      "$(echo "$p_rps / $ref" | bc -l)"
  done
done
echo "(pgbench reference: -b select-only for get, -b simple-update for put, scale 10, same cluster)"
