#!/usr/bin/env bash
# GET and PUT throughput with the root key in a PKCS#11 token (SoftHSM2) beside the same with a
# key file, one binary, one run (same machine, same moment): each server is initialized on a fresh
# data dir on 127.0.0.1 — A with a key file, B with `--root-key-uri pkcs11:…` on a SoftHSM2 token
# made in a temp dir — given one secret, and loaded with wrk for DURATION seconds per case and
# connection count, alternating A and B for ROUNDS rounds. Prints the median requests/s and p99 of
# each and the ratio B/A: near 1 when the token is off the per-request path (data keys are
# unwrapped once and kept in locked memory).
#   bench/root_key_compare.sh [COFFER_BIN=build/coffer] [ROUNDS=3] [DURATION=5]
set -euo pipefail
bin=$(realpath "${1:-build/coffer}"); rounds=${2:-3}; duration=${3:-5}
module=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
for tool in wrk softhsm2-util curl bc; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (scripts/install-deps.sh)" >&2; exit 2; }
done
[[ -r $module ]] || { echo "$module is needed: apt-get install softhsm2" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# The token: its own directory and config, a PIN file (never on a command line of coffer's).
mkdir -p "$work/hsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$work/hsm/tokens" > "$work/hsm/softhsm2.conf"
export SOFTHSM2_CONF=$work/hsm/softhsm2.conf
pin=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; echo "$pin" > "$work/hsm/pin")
softhsm2-util --init-token --free --label coffer-bench --pin "$pin" --so-pin "$pin$pin" >/dev/null
uri="pkcs11:token=coffer-bench;object=coffer-root?module-path=$module&pin-source=file:$work/hsm/pin"

start() {  # start NAME [ROOT KEY ARGS...]
  local name=$1 dir=$work/$1; shift
  "$bin" init --data-dir "$dir" "$@" > "$work/$name.init" 2>&1
  local key; key=$(grep -o 'cfr_key_[A-Za-z0-9_]*' "$work/$name.init")
  "$bin" server --data-dir "$dir" "$@" --listen 127.0.0.1:0 --log-level warn \
    > "$work/$name.out" 2>"$work/$name.err" &
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

cat > "$work/put.lua" <<'LUA'
wrk.method = "PUT"
wrk.body = '{"type":"api_key","value":"sk-bench-0123456789abcdef0123456789abcdef"}'
wrk.headers["Content-Type"] = "application/json"
LUA

measure() {  # measure NAME CASE CONNECTIONS -> "rps p99ms"
  local threads=2; [[ $3 -lt 2 ]] && threads=1
  local script=(); [[ $2 == PUT ]] && script=(-s "$work/put.lua")
  local out; out=$(wrk -t"$threads" -c"$3" -d"${duration}s" --latency "${script[@]}" \
    -H "Authorization: Bearer $(cat "$work/$1.key")" "$(cat "$work/$1.target")")
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "non-2xx answers from $1 ($2)" >&2; exit 1; fi
  echo "$rps $p99"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

start file
start hsm --root-key-uri "$uri"
printf '%-4s %-6s %14s %10s %14s %10s %8s\n' case conns "file req/s" "file p99" "token req/s" \
  "token p99" "tok/file"
for case in GET PUT; do
  for c in 1 64; do
    : > "$work/a.rps"; : > "$work/b.rps"; : > "$work/a.p99"; : > "$work/b.p99"
    for _ in $(seq "$rounds"); do
      read -r r p < <(measure file "$case" "$c"); echo "$r" >> "$work/a.rps"; echo "$p" >> "$work/a.p99"
      read -r r p < <(measure hsm "$case" "$c"); echo "$r" >> "$work/b.rps"; echo "$p" >> "$work/b.p99"
    done
    ar=$(median < "$work/a.rps"); br=$(median < "$work/b.rps")
    ap=$(median < "$work/a.p99"); bp=$(median < "$work/b.p99")
    printf '%-4s %-6s %14.0f %10.2f %14.0f %10.2f %8.2f\n' "$case" "$c" "$ar" "$ap" "$br" "$bp" \
      "$(echo "$br / $ar" | bc -l)"
  done
done
