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

start() {  # start NAME BIN -> sets url/key/vault for it in files
  local name=$1 bin=$2 dir=$work/$1
  "$bin" init --data-dir "$dir" > "$work/$name.init" 2>&1
  local key; key=$(grep -o 'cfr_key_[A-Za-z0-9_]*' "$work/$name.init")
  "$bin" server --data-dir "$dir" --listen 127.0.0.1:0 --log-level warn > "$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$work/$name.out" 2>/dev/null && break; sleep 0.05; done
  local url; url=$(grep -o 'http://[0-9.:]*' "$work/$name.out")
  local vault; vault=$(curl -sf -X POST "$url/v1/vaults" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"name":"bench"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
  curl -sf -X PUT "$url/v1/vaults/$vault/secrets/api-keys/openai" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"type":"api_key","value":"sk-bench-0123456789abcdef"}' >/dev/null
  echo "$url/v1/vaults/$vault/secrets/api-keys/openai" > "$work/$name.target"
  echo "$key" > "$work/$name.key"
}

measure() {  # measure NAME CONNECTIONS -> "rps p99ms"
  local threads=2; [[ $2 -lt 2 ]] && threads=1
  local out; out=$(wrk -t"$threads" -c"$2" -d"${duration}s" --latency \
    -H "Authorization: Bearer $(cat "$work/$1.key")" "$(cat "$work/$1.target")")
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "non-2xx answers from $1" >&2; exit 1; fi
  echo "$rps $p99"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

start A "$a_bin"
start B "$b_bin"
printf '%-6s %12s %10s %12s %10s %8s\n' conns "A req/s" "A p99 ms" "B req/s" "B p99 ms" "B/A"
for c in 1 64; do
  : > "$work/a.rps"; : > "$work/b.rps"; : > "$work/a.p99"; : > "$work/b.p99"
  for _ in $(seq "$rounds"); do
    read -r r p < <(measure A "$c"); echo "$r" >> "$work/a.rps"; echo "$p" >> "$work/a.p99"
    read -r r p < <(measure B "$c"); echo "$r" >> "$work/b.rps"; echo "$p" >> "$work/b.p99"
  done
  ar=$(median < "$work/a.rps"); br=$(median < "$work/b.rps")
  ap=$(median < "$work/a.p99"); bp=$(median < "$work/b.p99")
  printf '%-6s %12.0f %10.2f %12.0f %10.2f %8.2f\n' "$c" "$ar" "$ap" "$br" "$bp" "$(echo "$br / $ar" | bc -l)"
done
