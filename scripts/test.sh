#!/usr/bin/env bash
# Installs, builds and runs every test: unit tests (ctest) and the integration tests that drive
# the real binary over HTTP (pytest, Debian's python3).
set -euo pipefail
cd "$(dirname "$0")/.."
export COFFER_WITH_TEST_TOOLS=1
export COFFER_DEBUG_INFO=${COFFER_DEBUG_INFO:--g1}  # scripts/build.sh: line tables, not full -g
./scripts/install-deps.sh  # first: the background build below must not race apt for its lock
# The dashboard's assets (web/ -> web/dist) once, here: the gcc and ASan builds below both embed
# web/dist, and would otherwise both find it stale and take turns running npm.
./scripts/build-web.sh
# The ASan+UBSan build runs in the background at nice 19 from here on, on the CPU that the gcc build
# and tests leave idle (the integration tests mostly wait on servers); it is waited for before the
# sanitizer stage. It has its own process group (set -m), which the EXIT trap stops on a failure.
asan_dir=${COFFER_SANITIZER_BUILD_PREFIX:-build}-asan
./scripts/test-sanitizers.sh configure asan  # now: the lint below reads its compile commands
asan_log=$(mktemp /tmp/coffer-asan-build-XXXXXX)
echo "== asan: build starts in the background at nice 19 (output below when it is done)"
set -m
nice -n 19 ./scripts/test-sanitizers.sh build asan >"$asan_log" 2>&1 &
asan_pid=$!
set +m
trap 'kill -- -"$asan_pid" 2>/dev/null || true' EXIT
t0=$SECONDS
./scripts/build.sh
build_dir=${COFFER_BUILD_DIR:-build}
t1=$SECONDS
# clang-format and clang-tidy (scripts/lint.sh) need only configured build dirs: the ASan build's
# unity batches, then what only the gcc build compiles (bench/). They run in the background on the
# CPU that everything else leaves idle (SCHED_IDLE, below even the nice 19 builds), and are waited
# for at the end.
lint_log=$(mktemp /tmp/coffer-lint-XXXXXX)
echo "== lint: starts in the background (output below when it is done)"
set -m
chrt --idle 0 nice -n 19 ./scripts/lint.sh "$asan_dir" "$build_dir" >"$lint_log" 2>&1 &
lint_pid=$!
set +m
stop_background() { kill -- -"$asan_pid" 2>/dev/null || true; kill -- -"$lint_pid" 2>/dev/null || true; }
trap stop_background EXIT
echo "== throwaway PostgreSQL cluster on 127.0.0.1 (the PostgreSQL store's tests use it)"
pg_env=$(./scripts/pg-cluster.sh start)  # stops the run if no cluster starts: CI must run them
eval "$pg_env"
trap 'stop_background; ./scripts/pg-cluster.sh stop "$COFFER_PG_DIR"' EXIT
echo "== OpenAPI lint"
(cd tools/openapi && npm ci --no-audit --no-fund --loglevel=error && npm run --silent lint)
echo "== MCP SDK test client (tests/mcp, used by tests/integration/test_cli_mcp.py)"
(cd tests/mcp && npm ci --no-audit --no-fund --loglevel=error)
echo "== OpenAI and Anthropic SDK clients (tests/gateway, used by tests/integration/test_gateway_sdk.py)"
(cd tests/gateway && npm ci --no-audit --no-fund --loglevel=error)
echo "== jose token verifier (tests/jose, used by tests/integration/test_token_keys.py)"
(cd tests/jose && npm ci --no-audit --no-fund --loglevel=error)
echo "== unit tests"
t2=$SECONDS
(cd "$build_dir" && ctest --output-on-failure -j2 --timeout 600)
t3=$SECONDS
echo "== integration tests (two passes: 2-wide, then the serial tests; scripts/integration-tests.sh)"
COFFER_BIN="$PWD/$build_dir/coffer" ./scripts/integration-tests.sh tests/integration
echo "== dashboard end-to-end tests (Playwright, Debian's Chromium; tests/ui/run.sh)"
COFFER_BIN="$PWD/$build_dir/coffer" ./tests/ui/run.sh
echo "== gcc: build $((t1 - t0)) s, unit tests $((t3 - t2)) s, integration tests $((SECONDS - t3)) s"
t0=$SECONDS
asan_status=0
wait "$asan_pid" || asan_status=$?
cat "$asan_log"
rm -f "$asan_log"
echo "== asan: waited $((SECONDS - t0)) s for the background build"
if ((asan_status != 0)); then
  echo "asan: the build failed (exit $asan_status)" >&2
  exit 1
fi
echo "== sanitizers: ctest and tests/integration under ASan+UBSan, then TSan (scripts/test-sanitizers.sh)"
./scripts/test-sanitizers.sh all
echo "== fuzzing: every fuzz/ target for 30 s, two at a time (scripts/fuzz.sh, ASan+UBSan build)"
./scripts/fuzz.sh 30 "$asan_dir"
t0=$SECONDS
lint_status=0
wait "$lint_pid" || lint_status=$?
cat "$lint_log"
rm -f "$lint_log"
echo "== lint: waited $((SECONDS - t0)) s for it"
if ((lint_status != 0)); then
  echo "lint: clang-format or clang-tidy found problems (scripts/lint.sh; --fix rewrites)" >&2
  exit 1
fi
