#!/usr/bin/env bash
# Builds the dashboard's assets (web/ -> web/dist) when web/dist is missing or older than any
# file of web/ (sources, package.json, package-lock.json, build config): `npm ci` (only when
# node_modules is missing or older than the lock file), then `npm run build`. A no-op when fresh,
# so every build may call it (CMake does, before embedding web/dist in the binary). Builds that
# run at once (scripts/test.sh's gcc and ASan builds) take turns on a lock, so npm runs once.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f web/package.json ]]; then
  echo "build-web.sh: web/package.json is missing: the dashboard's sources are not in this tree" \
    "(to embed assets built elsewhere, configure with -DCOFFER_UI_DIST=<dir with index.html>)" >&2
  exit 1
fi
exec 9<web/package.json
flock 9
stale() {
  [[ ! -f web/dist/index.html ]] && return 0
  [[ -n $(find web -path web/dist -prune -o -path web/node_modules -prune -o -type f \
    -newer web/dist/index.html -print -quit) ]]
}
if ! stale; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "build-web.sh: npm is not installed, and web/dist is missing or older than web/:" \
    "run scripts/install-deps.sh (Debian's nodejs and npm), or configure with" \
    "-DCOFFER_UI_DIST=<dir with index.html> to embed assets built elsewhere" >&2
  exit 1
fi
echo "build-web.sh: building the dashboard (web/dist)"
if [[ ! -f web/node_modules/.package-lock.json || web/package-lock.json -nt \
  web/node_modules/.package-lock.json ]]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd web && npm run --silent build)
if [[ ! -f web/dist/index.html ]]; then
  echo "build-web.sh: npm run build wrote no web/dist/index.html" >&2
  exit 1
fi
touch web/dist/index.html  # fresh from now on, even if the build left it unchanged
