#!/usr/bin/env bash
# Mechanical style, checked (scripts/test.sh runs it in CI): clang-format (.clang-format) over
# every C++ file in the repository, and clang-tidy (.clang-tidy: braces, dropped results) over
# every source file the given builds compile and the project headers they include. Fails on any
# finding.
#   usage: scripts/lint.sh [--fix] [BUILD_DIR...]
#     BUILD_DIR: configured build dirs (their compile_commands.json; nothing needs to be built),
#     default build. A file is checked once, in the first dir that compiles it; a unity build's
#     batch (CMAKE_UNITY_BUILD, as CI's sanitizer builds) as one translation unit, so the headers
#     its files share, most of clang-tidy's time, are parsed once (scripts/lint_compile_db.py).
#     --fix rewrites the files instead (clang-format -i, and clang-tidy's fixes).
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0
if [[ ${1:-} == --fix ]]; then
  fix=1
  shift
fi
build_dirs=("$@")
if ((${#build_dirs[@]} == 0)); then
  build_dirs=(build)
fi
jobs=${COFFER_JOBS:-2}
dbs=()
for dir in "${build_dirs[@]}"; do
  if [[ ! -f $dir/compile_commands.json ]]; then
    echo "lint: $dir/compile_commands.json is missing: configure $dir first" >&2
    exit 2
  fi
  dbs+=("$dir/compile_commands.json")
done
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

# Every compiled source of the repository (not the generated ones in the build dirs). A build may
# be gcc's: clang 16 spells the standard c++2b, and libstdc++ 12's <expected> needs the
# __cpp_concepts value that cmake/Sanitizers.cmake explains.
root=$(pwd -P)
echo "== lint: clang-tidy-16 over the sources of ${build_dirs[*]}"
db_dir=$(mktemp -d /tmp/coffer-lint-db-XXXXXX)
trap 'rm -rf "$db_dir"' EXIT
python3 scripts/lint_compile_db.py "$db_dir/compile_commands.json" "${dbs[@]}"
# The config named, not looked up beside each file: a unity batch lives in the build dir, which
# may be outside the repository.
args=(-p "$db_dir" -quiet -j "$jobs" -config-file="$root/.clang-tidy"
      -header-filter="^$root/(src|fuzz|bench|tests)/|/layers/"
      -extra-arg=-std=c++2b -extra-arg=-U__cpp_concepts -extra-arg=-D__cpp_concepts=202002L)
if ((fix)); then
  args+=(-fix)
fi
log=$(mktemp /tmp/coffer-lint-XXXXXX)
status=0
run-clang-tidy-16 "${args[@]}" "^$root/(src|fuzz|bench|tests)/|/Unity/unity_" >"$log" 2>&1 ||
  status=$?
# run-clang-tidy prints every command and clang's "N warnings generated" noise; keep the findings.
grep -E -A3 '(warning|error):' "$log" | grep -v '^Suppressed\|warnings generated' || true
rm -f "$log"
if ((status != 0)); then
  echo "lint: clang-tidy found the problems above" >&2
  exit 1
fi
echo "lint: clean ($SECONDS s)"
