#!/usr/bin/env bash
# Compares GET-latest throughput of two coffer binaries in one run (same machine, same moment):
# each is started on a fresh data dir on 127.0.0.1, given one secret, and loaded with wrk for
# DURATION seconds at each connection count, alternating A and B for ROUNDS rounds. Prints the
# median requests/s and p99 of each and the ratio B/A.
#   bench/compare_get.sh OLD_BIN NEW_BIN [ROUNDS] [DURATION]
set -euo pipefail
a_bin=$(realpath "$1"); b_bin=$(realpath "$2"); rounds=${3:-3}; duration=${4:-5}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

source "$(dirname "$0")/compare_lib.sh"

start A "$a_bin"
start B "$b_bin"
printf '%-6s %12s %10s %12s %10s %8s\n' conns "A req/s" "A p99 ms" "B req/s" "B p99 ms" "B/A"
for c in 1 64; do
  : > "$work/a.rps"; : > "$work/b.rps"; : > "$work/a.p99"; : > "$work/b.p99"
  for _ in $(seq "$rounds"); do
    read -r r p < <(wrk_run A get "$c"); echo "$r" >> "$work/a.rps"; echo "$p" >> "$work/a.p99"
    read -r r p < <(wrk_run B get "$c"); echo "$r" >> "$work/b.rps"; echo "$p" >> "$work/b.p99"
  done
  ar=$(median < "$work/a.rps"); br=$(median < "$work/b.rps")
  ap=$(median < "$work/a.p99"); bp=$(median < "$work/b.p99")
  printf '%-6s %12.0f %10.2f %12.0f %10.2f %8.2f\n' "$c" "$ar" "$ap" "$br" "$bp" "$(echo "$br / $ar" | bc -l)"
done
