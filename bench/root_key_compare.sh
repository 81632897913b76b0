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

source "$(dirname "$0")/compare_lib.sh"

start file "$bin"
start hsm "$bin" --root-key-uri "$uri"
printf '%-4s %-6s %14s %10s %14s %10s %8s\n' case conns "file req/s" "file p99" "token req/s" \
  "token p99" "tok/file"
for case in get put; do
  for c in 1 64; do
    : > "$work/a.rps"; : > "$work/b.rps"; : > "$work/a.p99"; : > "$work/b.p99"
    for _ in $(seq "$rounds"); do
      read -r r p < <(wrk_run file "$case" "$c"); echo "$r" >> "$work/a.rps"; echo "$p" >> "$work/a.p99"
      read -r r p < <(wrk_run hsm "$case" "$c"); echo "$r" >> "$work/b.rps"; echo "$p" >> "$work/b.p99"
    done
    ar=$(median < "$work/a.rps"); br=$(median < "$work/b.rps")
    ap=$(median < "$work/a.p99"); bp=$(median < "$work/b.p99")
    printf '%-4s %-6s %14.0f %10.2f %14.0f %10.2f %8.2f\n' "$case" "$c" "$ar" "$ap" "$br" "$bp" \
      "$(echo "$br / $ar" | bc -l)"
  done
done
