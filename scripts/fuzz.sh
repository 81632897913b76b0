#!/usr/bin/env bash
# Runs every libFuzzer target in fuzz/ for SECONDS seconds each (default 60) from its committed
# corpus, two at a time, and fails if any target crashes, leaks, times out or violates one of its
# checks. Builds the targets first (configuring BUILD_DIR with clang-16, ASan+UBSan and
# COFFER_FUZZ=ON when it is not configured yet). New inputs go to a temp dir, so the committed
# corpus only grows with FUZZ_MERGE=1 (which minimizes them into fuzz/corpus/<target>/).
#   usage: scripts/fuzz.sh [SECONDS=60] [BUILD_DIR=build-asan] [TARGET...]
#   env:   FUZZ_JOBS (2) targets at once; FUZZ_MERGE=1; FUZZ_LOG_DIR (a temp dir) keeps the logs;
#          FUZZ_CRASH_DIR (/tmp/coffer-fuzz-crashes) receives the reproducers of failed targets.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build_dir=${2:-build-asan}
shift $(($# > 2 ? 2 : $#))
jobs=${FUZZ_JOBS:-2}

all_targets=()
for source in fuzz/*_fuzz.cc; do
  all_targets+=("$(basename "$source" .cc)")
done
if (($# > 0)); then
  targets=("$@")
else
  targets=("${all_targets[@]}")
fi

if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  # The same options as scripts/test-sanitizers.sh gives build-asan, so neither rebuilds the other.
  launcher=()
  if command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 -DCOFFER_BUILD_BENCH=OFF \
    -DCOFFER_SANITIZE=address,undefined "${launcher[@]}" -DCOFFER_FUZZ=ON
elif ! grep -q '^COFFER_FUZZ:BOOL=ON' "$build_dir/CMakeCache.txt"; then
  cmake -S . -B "$build_dir" -DCOFFER_FUZZ=ON
fi
ninja -C "$build_dir" -j2 "${targets[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-fuzz.XXXXXX")
log_dir=${FUZZ_LOG_DIR:-$work/logs}
crash_dir=${FUZZ_CRASH_DIR:-/tmp/coffer-fuzz-crashes}
mkdir -p "$log_dir"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# Leaks are failures; UBSan findings abort (the build uses -fno-sanitize-recover=undefined).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Runs one target; its exit status is the target's.
run_one() {
  local target=$1
  local corpus=fuzz/corpus/$target
  local fresh=$work/new/$target
  local artifacts=$work/artifacts/$target/
  mkdir -p "$fresh" "$artifacts" "$corpus"
  local args=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1
              -artifact_prefix="$artifacts")
  case $target in
    http_fuzz) args+=(-dict=fuzz/dict/http.dict) ;;
    api_body_fuzz) args+=(-dict=fuzz/dict/json.dict) ;;
    glob_fuzz | path_fuzz) args+=(-dict=fuzz/dict/glob.dict) ;;
  esac
  # The first corpus dir receives new inputs; the committed one is only read.
  if "$build_dir/fuzz/$target" "${args[@]}" "$fresh" "$corpus" >"$log_dir/$target.log" 2>&1; then
    if [[ ${FUZZ_MERGE:-0} == 1 ]]; then
      "$build_dir/fuzz/$target" -merge=1 "$corpus" "$fresh" >>"$log_dir/$target.log" 2>&1
    fi
    return 0
  fi
  mkdir -p "$crash_dir"
  cp "$artifacts"* "$crash_dir"/ 2>/dev/null || true
  return 1
}

# The figures of one finished run: executions, rate, coverage.
summary() {
  local log=$1
  local runs rate cov ft
  runs=$(grep -oE 'stat::number_of_executed_units: +[0-9]+' "$log" | grep -o '[0-9]*$' || true)
  rate=$(grep -oE 'stat::average_exec_per_sec: +[0-9]+' "$log" | grep -o '[0-9]*$' || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  echo "execs=${runs:-?} exec/s=${rate:-?} cov=${cov:-?} ft=${ft:-?}"
}

echo "== fuzzing ${targets[*]} for ${seconds}s each, $jobs at a time (logs: $log_dir)"
failed=()
pids=()
names=()
wait_first() {
  local pid=${pids[0]} name=${names[0]}
  pids=("${pids[@]:1}")
  names=("${names[@]:1}")
  if wait "$pid"; then
    printf '%-16s ok      %s\n' "$name" "$(summary "$log_dir/$name.log")"
  else
    printf '%-16s FAILED  %s\n' "$name" "$(summary "$log_dir/$name.log")"
    local why='ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|property violated|ALARM'
    grep -m1 -E "$why" "$log_dir/$name.log" || tail -5 "$log_dir/$name.log"
    failed+=("$name")
  fi
}
for target in "${targets[@]}"; do
  if ((${#pids[@]} >= jobs)); then
    wait_first
  fi
  run_one "$target" &
  pids+=($!)
  names+=("$target")
done
while ((${#pids[@]} > 0)); do
  wait_first
done

if ((${#failed[@]} > 0)); then
  echo "fuzz: FAILED: ${failed[*]} (reproducers in $crash_dir)" >&2
  if [[ -z ${FUZZ_LOG_DIR:-} ]]; then
    mkdir -p /tmp/coffer-fuzz-logs
    cp "$log_dir"/*.log /tmp/coffer-fuzz-logs/
    echo "fuzz: logs copied to /tmp/coffer-fuzz-logs/" >&2
  fi
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s clean"
