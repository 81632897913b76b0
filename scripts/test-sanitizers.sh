#!/usr/bin/env bash
# Builds Coffer under sanitizers and runs the whole suite (ctest + tests/integration) against it:
#   scripts/test-sanitizers.sh [asan|tsan|all]   (default all)
#   scripts/test-sanitizers.sh build asan|tsan     (only the build; scripts/test.sh runs it in the
#                                                   background beside the gcc tests)
#   scripts/test-sanitizers.sh configure asan|tsan (only cmake: the compile commands the lint
#                                                   reads)
#   scripts/test-sanitizers.sh repeat asan|tsan N  (the integration suite N times in a row on an
#                                                   existing build; counts the failed runs, goes on)
# asan = AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer in build-asan (clang-16; fuzz/
# reuses this dir), tsan = ThreadSanitizer in build-tsan (clang-16). Any report fails the run.
# With all, the TSan build runs at nice 19 in the background while the ASan tests run (they leave
# most of the CPU idle, waiting on servers), so it costs little wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-all}
case "$mode" in
  asan | tsan | all) ;;
  build | configure) [[ ${2:-} == asan || ${2:-} == tsan ]] || mode=usage ;;
  repeat) [[ (${2:-} == asan || ${2:-} == tsan) && ${3:-} =~ ^[1-9][0-9]*$ ]] || mode=usage ;;
  *) mode=usage ;;
esac
if [[ $mode == usage ]]; then
  echo "usage: $0 [asan|tsan|all] | build|configure asan|tsan | repeat asan|tsan N" >&2
  exit 2
fi

COFFER_WITH_TEST_TOOLS=1 ./scripts/install-deps.sh
jobs=${COFFER_JOBS:-2}
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

configure_one() {  # configure_one <asan|tsan>: configures build-<name>
  local name=$1 sanitize build_dir
  if [[ $name == asan ]]; then sanitize=address,undefined; else sanitize=thread; fi
  build_dir=${COFFER_SANITIZER_BUILD_PREFIX:-build}-$name
  local extra=()
  if [[ $name == asan && -f fuzz/CMakeLists.txt ]]; then
    # The same dir serves scripts/fuzz.sh (libFuzzer), so CI compiles the layers once.
    extra=(-DCOFFER_FUZZ=ON)
  fi
  # A unity build: each batch of up to 8 files of a target is compiled as one translation unit,
  # so the headers they share are parsed, and the templates they share instantiated, once (in a
  # clean .ci/run on 2 cores, the wait for the ASan build fell from 706 to 420 s, for TSan from
  # 381 to 221 s). scripts/build.sh's build compiles every file on its own, which keeps each file
  # including what it uses.
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 -DCOFFER_BUILD_BENCH=OFF \
    -DCOFFER_SANITIZE="$sanitize" -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 \
    "${launcher[@]}" "${extra[@]}" >/dev/null
}

build_one() {  # build_one <asan|tsan>: configures and builds build-<name>
  local build_dir=${COFFER_SANITIZER_BUILD_PREFIX:-build}-$1
  echo "== $1: build ($build_dir, clang-16)"
  configure_one "$1"
  ninja -C "$build_dir" -j"$jobs"
}

if [[ $mode == configure ]]; then
  configure_one "$2"
  exit 0
fi
if [[ $mode == build ]]; then
  t0=$SECONDS
  build_one "$2"
  echo "== $2: build $((SECONDS - t0)) s"
  exit 0
fi

# Run standalone, the suite still needs what scripts/test.sh sets up: a PostgreSQL cluster and the
# MCP SDK client.
pg_dir=""   # the cluster this script started, if any
tsan_pid=""  # the background TSan build (mode all), a process group of its own
cleanup() {
  if [[ -n $tsan_pid ]]; then kill -- -"$tsan_pid" 2>/dev/null || true; fi
  if [[ -n $pg_dir ]]; then ./scripts/pg-cluster.sh stop "$pg_dir"; fi
}
trap cleanup EXIT
if [[ -z "${COFFER_TEST_PG_URL:-}" ]]; then
  pg_env=$(./scripts/pg-cluster.sh start)
  eval "$pg_env"
  pg_dir=$COFFER_PG_DIR
fi
if [[ ! -d tests/mcp/node_modules ]]; then
  (cd tests/mcp && npm ci --no-audit --no-fund --loglevel=error)
fi
if [[ ! -d tests/gateway/node_modules ]]; then
  (cd tests/gateway && npm ci --no-audit --no-fund --loglevel=error)
fi
if [[ ! -d tests/jose/node_modules ]]; then
  (cd tests/jose && npm ci --no-audit --no-fund --loglevel=error)
fi

supp=$root/tests/sanitizers
# Every report is fatal (halt_on_error) and exits 66, which no Coffer exit code uses.
common_opts="halt_on_error=1:exitcode=66"
asan_opts="$common_opts:detect_leaks=1:abort_on_error=0:check_initialization_order=1"
asan_opts+=":strict_init_order=1:detect_stack_use_after_return=0"
ubsan_opts="$common_opts:print_stacktrace=1"
lsan_opts="suppressions=$supp/lsan.supp:print_suppressions=0"
tsan_opts="$common_opts:second_deadlock_stack=1:suppressions=$supp/tsan.supp"

integration_one() {  # integration_one <asan|tsan>: the pytest suites once; fails on any report
  local name=$1 build_dir=${COFFER_SANITIZER_BUILD_PREFIX:-build}-$1
  # Reports of every process the tests start (servers, CLI runs) go to files in a fresh dir,
  # which conftest.py checks after each test: a report fails the test that caused it.
  local report_dir status=0
  report_dir=$(mktemp -d /tmp/coffer-san-XXXXXX)
  (
    export COFFER_SANITIZER_REPORT_DIR=$report_dir
    export ASAN_OPTIONS=$asan_opts:log_path=$report_dir/asan
    export UBSAN_OPTIONS=$ubsan_opts:log_path=$report_dir/ubsan
    export LSAN_OPTIONS=$lsan_opts
    export TSAN_OPTIONS=$tsan_opts:log_path=$report_dir/tsan
    export COFFER_SANITIZER=$name
    # The HTTP contract on SQLite only here: the gcc pass of scripts/test.sh runs it on both
    # stores, and the PostgreSQL store's code runs under both sanitizers in ctest (the store
    # conformance suite) and in the PostgreSQL-only integration tests. Both stores here would add
    # about four minutes to CI (the gcc pass grew from 173 to 255 s with them). COFFER_TEST_STORES=sqlite,postgres asks for them.
    export COFFER_TEST_STORES=${COFFER_TEST_STORES:-sqlite}
    # Two passes, the first two files at a time (scripts/integration-tests.sh); each pytest-xdist
    # worker's reports go to a subdir of $report_dir (conftest.py).
    COFFER_BIN="$root/$build_dir/coffer" ./scripts/integration-tests.sh tests/integration \
      tests/sanitizers
  ) || status=$?
  # A report the per-test check could not see (e.g. from a module-scoped server) still fails.
  if [[ -n $(find "$report_dir" -type f -print -quit) ]]; then
    echo "sanitizer reports in $report_dir:" >&2
    find "$report_dir" -type f -exec tail -n 60 {} + >&2
    return 1
  fi
  rm -rf "$report_dir"
  return "$status"
}

test_one() {  # test_one <asan|tsan> <seconds its build took>: runs ctest and the pytest suites
  local name=$1 build_seconds=$2 build_dir=${COFFER_SANITIZER_BUILD_PREFIX:-build}-$1
  local t1=$SECONDS
  echo "== $name: unit tests"
  (
    export ASAN_OPTIONS=$asan_opts UBSAN_OPTIONS=$ubsan_opts LSAN_OPTIONS=$lsan_opts
    export TSAN_OPTIONS=$tsan_opts
    cd "$build_dir" && ctest --output-on-failure -j"$jobs" --timeout 900
  )
  local t2=$SECONDS
  echo "== $name: integration tests"
  integration_one "$name"
  local t3=$SECONDS
  echo "== $name: build $build_seconds s, unit tests $((t2 - t1)) s, integration tests $((t3 - t2)) s"
}

run_one() {  # run_one <asan|tsan>: builds (a no-op when already built), then runs the tests
  local t0=$SECONDS
  build_one "$1"
  test_one "$1" $((SECONDS - t0))
}

if [[ $mode == repeat ]]; then
  # A flaky test is a defect: this shows one by running the suite again and again. Every run
  # goes on to the end; the failed ones are counted and the script fails if any did.
  failed=0
  for ((i = 1; i <= $3; i++)); do
    t0=$SECONDS
    run_status=0
    integration_one "$2" || run_status=$?
    if ((run_status != 0)); then failed=$((failed + 1)); fi
    echo "== $2: integration run $i of $3: exit $run_status in $((SECONDS - t0)) s"
  done
  echo "== $2: $(($3 - failed)) of $3 integration runs passed"
  ((failed == 0))
  exit
fi

if [[ $mode == all ]]; then
  t0=$SECONDS
  build_one asan
  asan_build_seconds=$((SECONDS - t0))
  # The TSan build in the background, in its own process group (set -m) so that a failing ASan
  # stage stops it; its output is shown once it is waited for.
  tsan_log=$(mktemp /tmp/coffer-tsan-build-XXXXXX)
  echo "== tsan: build starts in the background at nice 19 (output below when it is done)"
  set -m
  nice -n 19 "$root/scripts/test-sanitizers.sh" build tsan >"$tsan_log" 2>&1 &
  tsan_pid=$!
  set +m
  test_one asan "$asan_build_seconds"
  t0=$SECONDS
  tsan_status=0
  wait "$tsan_pid" || tsan_status=$?
  tsan_pid=""
  cat "$tsan_log"
  rm -f "$tsan_log"
  echo "== tsan: waited $((SECONDS - t0)) s for the background build"
  if ((tsan_status != 0)); then
    echo "tsan: the build failed (exit $tsan_status)" >&2
    exit 1
  fi
  run_one tsan
else
  run_one "$mode"
fi
