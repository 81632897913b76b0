#!/usr/bin/env bash
# Runs the dashboard's end-to-end tests: Playwright (tests/ui/package-lock.json) driving Debian's
# Chromium headless against the real server. COFFER_BIN names the binary (default build/coffer);
# CHROMIUM_BIN the browser (default /usr/bin/chromium). Screenshots go to tests/ui/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
export COFFER_BIN=${COFFER_BIN:-$PWD/../../build/coffer}
export CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}
if [[ ! -x "$COFFER_BIN" ]]; then
  echo "tests/ui: no coffer binary at $COFFER_BIN (set COFFER_BIN)" >&2
  exit 1
fi
if [[ ! -x "$CHROMIUM_BIN" ]]; then
  echo "tests/ui: no Chromium at $CHROMIUM_BIN (scripts/install-deps.sh installs Debian's chromium)" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
rm -rf artifacts
mkdir -p artifacts
# Playwright must never download a browser of its own: Debian's is the one under test.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
exec npx --no-install playwright test "$@"
