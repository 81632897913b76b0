#!/usr/bin/env bash
# Installs dependencies (if missing) and builds Coffer into ./build (or $COFFER_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
build_dir=${COFFER_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${COFFER_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
ninja -C "$build_dir" -j"${COFFER_JOBS:-2}"
