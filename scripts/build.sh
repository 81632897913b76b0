#!/usr/bin/env bash
# Installs dependencies (if missing) and builds Coffer into ./build (or $COFFER_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
build_dir=${COFFER_BUILD_DIR:-build}
# COFFER_DEBUG_INFO=-g1 (scripts/test.sh) keeps line tables and function names, all a stack trace
# needs, and compiles a fifth faster than the default full debug info (-g).
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${COFFER_BUILD_TYPE:-RelWithDebInfo}" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 ${COFFER_DEBUG_INFO:--g} -DNDEBUG" >/dev/null
ninja -C "$build_dir" -j"${COFFER_JOBS:-2}"
