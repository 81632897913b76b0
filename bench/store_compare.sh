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

start() {  # start NAME [STORE_URL] -> url, key, vault in $work/NAME.*
  local name=$1 store=${2:-} dir=$work/$1
  local args=(--data-dir "$dir")
  [[ -n "$store" ]] && args+=(--store "$store")
  "$bin" init "${args[@]}" > "$work/$name.init" 2>&1
  local key; key=$(grep -o 'cfr_key_[A-Za-z0-9_]*' "$work/$name.init")
  "$bin" server "${args[@]}" --listen 127.0.0.1:0 --log-level warn > "$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$work/$name.out" 2>/dev/null && break; sleep 0.05; done
  local url; url=$(grep -o 'http://[0-9.:]*' "$work/$name.out")
  local vault; vault=$(curl -sf -X POST "$url/v1/vaults" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"name":"bench"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
  curl -sf -X PUT "$url/v1/vaults/$vault/secrets/api-keys/openai" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"type":"api_key","value":"sk-bench-0123456789abcdef"}' >/dev/null
  echo "$url" > "$work/$name.url"; echo "$key" > "$work/$name.key"; echo "$vault" > "$work/$name.vault"
}

# PUTs spread over 1000 paths, so the figure is the store's write path, not one row's lock.
cat > "$work/put.lua" <<'LUA'
local n = 0
wrk.headers["Content-Type"] = "application/json"  -- beside -H Authorization
request = function()
  n = n + 1
  return wrk.format("PUT", wrk.path .. (n % 1000), nil,
                    '{"type":"password","value":"bench-value-' .. n .. '"}')
end
LUA

wrk_run() {  # wrk_run NAME get|put CONNECTIONS -> "rps p99ms"
  local name=$1 op=$2 c=$3 threads=2
  [[ $c -lt 2 ]] && threads=1
  local url; url=$(cat "$work/$name.url"); local vault; vault=$(cat "$work/$name.vault")
  local args=(-t"$threads" -c"$c" -d"${duration}s" --latency -H "Authorization: Bearer $(cat "$work/$name.key")")
  local out
  if [[ $op == get ]]; then
    out=$(wrk "${args[@]}" "$url/v1/vaults/$vault/secrets/api-keys/openai")
  else
    out=$(wrk "${args[@]}" -s "$work/put.lua" "$url/v1/vaults/$vault/secrets/bench/p")
  fi
  if grep -q "Non-2xx" <<<"$out"; then echo "non-2xx answers from $name $op" >&2; echo "$out" >&2; exit 1; fi
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
  echo "$rps $p99"
}

pgbench_run() {  # pgbench_run select-only|simple-update CLIENTS -> tps
  local threads=2; [[ $2 -lt 2 ]] && threads=1
  pgbench -n -b "$1" -c "$2" -j "$threads" -T "$duration" "$base_url/pgbench" 2>/dev/null \
    | awk '/^tps/ {print $3; exit}'
}

start sqlite
start pg "$base_url/coffer_bench"
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
