#!/usr/bin/env bash
# Mechanical style, checked (scripts/test.sh runs it in CI): clang-format (.clang-format) over
# every C++ file in the repository, and clang-tidy (.clang-tidy: braces, dropped results) over
# every source file a build compiles and the project headers they include. Fails on any finding.
#   usage: scripts/lint.sh [BUILD_DIR=build]   a configured build dir (its compile_commands.json;
#                                              nothing needs to be built)
#          scripts/lint.sh --fix [BUILD_DIR]   rewrites the files instead (clang-format -i, and
#                                              clang-tidy's fixes)
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0
if [[ ${1:-} == --fix ]]; then
  fix=1
  shift
fi
build_dir=${1:-build}
jobs=${COFFER_JOBS:-2}
if [[ ! -f $build_dir/compile_commands.json ]]; then
  echo "lint: $build_dir/compile_commands.json is missing: configure $build_dir first" >&2
  exit 2
fi
# The same major version as the clang-16 sanitizer builds; older ones format a few constructs
# differently, so the check names its version.
for tool in clang-format-16 clang-tidy-16 run-clang-tidy-16; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "lint: $tool is missing (scripts/install-deps.sh with COFFER_WITH_TEST_TOOLS=1)" >&2
    exit 2
  fi
done

mapfile -t files < <(git ls-files '*.cc' '*.h')
echo "== lint: clang-format-16 over ${#files[@]} files"
if ((fix)); then
  clang-format-16 -i "${files[@]}"
else
  clang-format-16 --dry-run --Werror "${files[@]}"
fi

# Every compiled source of the repository (not the generated ones in the build dir). The build may
# be gcc's: clang 16 spells the standard c++2b, and libstdc++ 12's <expected> needs the
# __cpp_concepts value that cmake/Sanitizers.cmake explains.
root=$(pwd -P)
echo "== lint: clang-tidy-16 over the sources of $build_dir"
# gcc's precompiled header for the tests (CMakeLists.txt) is not clang's format: the commands
# clang-tidy replays leave it out (each test file includes what it uses).
db_dir=$(mktemp -d /tmp/coffer-lint-db-XXXXXX)
trap 'rm -rf "$db_dir"' EXIT
python3 - "$build_dir/compile_commands.json" "$db_dir/compile_commands.json" <<'PY'
import json, re, sys
entries = json.load(open(sys.argv[1]))
for e in entries:
    e["command"] = re.sub(r" -include \S+cmake_pch\.hxx| -Winvalid-pch", "", e["command"])
json.dump(entries, open(sys.argv[2], "w"))
PY
args=(-p "$db_dir" -quiet -j "$jobs" -header-filter="^$root/(src|fuzz|bench|tests)/|/layers/"
      -extra-arg=-std=c++2b -extra-arg=-U__cpp_concepts -extra-arg=-D__cpp_concepts=202002L)
if ((fix)); then
  args+=(-fix)
fi
log=$(mktemp /tmp/coffer-lint-XXXXXX)
status=0
run-clang-tidy-16 "${args[@]}" "^$root/(src|fuzz|bench|tests)/" >"$log" 2>&1 || status=$?
# run-clang-tidy prints every command and clang's "N warnings generated" noise; keep the findings.
grep -E -A3 '(warning|error):' "$log" | grep -v '^Suppressed\|warnings generated' || true
rm -f "$log"
if ((status != 0)); then
  echo "lint: clang-tidy found the problems above" >&2
  exit 1
fi
echo "lint: clean ($SECONDS s)"
