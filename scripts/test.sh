#!/usr/bin/env bash
# Installs, builds and runs every test: unit tests (ctest) and the integration tests that drive
# the real binary over HTTP (pytest, Debian's python3).
set -euo pipefail
cd "$(dirname "$0")/.."
export COFFER_WITH_TEST_TOOLS=1
./scripts/build.sh
build_dir=${COFFER_BUILD_DIR:-build}
echo "== throwaway PostgreSQL cluster on 127.0.0.1 (the PostgreSQL store's tests use it)"
pg_env=$(./scripts/pg-cluster.sh start)  # stops the run if no cluster starts: CI must run them
eval "$pg_env"
trap './scripts/pg-cluster.sh stop "$COFFER_PG_DIR"' EXIT
echo "== OpenAPI lint"
(cd tools/openapi && npm ci --no-audit --no-fund --loglevel=error && npm run --silent lint)
echo "== MCP SDK test client (tests/mcp, used by tests/integration/test_cli_mcp.py)"
(cd tests/mcp && npm ci --no-audit --no-fund --loglevel=error)
echo "== unit tests"
(cd "$build_dir" && ctest --output-on-failure -j2 --timeout 600)
echo "== integration tests (two passes: 2-wide, then the serial tests; scripts/integration-tests.sh)"
COFFER_BIN="$PWD/$build_dir/coffer" ./scripts/integration-tests.sh tests/integration
echo "== sanitizers: ctest and tests/integration under ASan+UBSan, then TSan (scripts/test-sanitizers.sh)"
./scripts/test-sanitizers.sh all
echo "== fuzzing: every fuzz/ target for 60 s, two at a time (scripts/fuzz.sh, ASan+UBSan build)"
./scripts/fuzz.sh 60 "${COFFER_SANITIZER_BUILD_PREFIX:-build}-asan"
