#!/usr/bin/env bash
# Runs the pytest integration suites against $COFFER_BIN in two passes: first every test not marked
# `serial`, COFFER_TEST_WORKERS (2) files at a time with pytest-xdist, then the `serial` ones (they
# measure time or load the machine on purpose: tests/integration/conftest.py SERIAL_MODULES) alone.
#   usage: COFFER_BIN=build/coffer scripts/integration-tests.sh [PYTEST PATHS...]  (tests/integration)
# Fails if either pass fails; both always run, so one run shows every failure.
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# == 0)); then
  set -- tests/integration
fi
workers=${COFFER_TEST_WORKERS:-2}
pytest=(/usr/bin/python3 -m pytest -q -p no:cacheprovider)

status=0
# --dist loadfile keeps a file's tests on one worker, in file order, sharing its module fixtures.
"${pytest[@]}" -m "not serial" -n "$workers" --dist loadfile "$@" || status=$?
# Exit status 5 is "no test selected" (paths without serial tests), not a failure.
serial_status=0
"${pytest[@]}" -m serial "$@" || serial_status=$?
if ((serial_status != 0 && serial_status != 5)); then
  status=$serial_status
fi
exit "$status"
