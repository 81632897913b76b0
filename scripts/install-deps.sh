#!/usr/bin/env bash
# Installs every Debian package Coffer needs to build, run and test. Idempotent: installs only
# what is missing, and runs apt-get update only when something is.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git ca-certificates curl jq
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev sqlite3 libjwt-dev libcli11-dev libspdlog-dev libfmt-dev
  libtomlplusplus-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libpq-dev  # the PostgreSQL store's client library
  libhowardhinnant-date-dev tzdata  # policy time windows in IANA time zones (date/tz.h)
  libp11-kit-dev  # the PKCS#11 header (p11-kit/pkcs11.h) for a root key in an HSM
)
# What only the tests need (scripts/test.sh sets COFFER_WITH_TEST_TOOLS=1): the PostgreSQL server
# for a throwaway cluster, pytest, the sanitizers' compiler, the linters, and a browser.
if [[ "${COFFER_WITH_TEST_TOOLS:-0}" == 1 ]]; then
  packages+=(python3 python3-pytest python3-requests postgresql)
  packages+=(python3-jsonschema python3-yaml)  # tests/integration/spec_schema.py: the seeds' OpenAPI schemas
  packages+=(python3-pytest-xdist)  # scripts/integration-tests.sh runs the suite 2-wide
  # The PKCS#11 root key's tests: a software token (src/crypto/pkcs11_key_provider_test.cc,
  # tests/integration/test_pkcs11.py) and softhsm2-util to initialise it.
  packages+=(softhsm2 libsofthsm2)
  # scripts/test-sanitizers.sh: clang-16 and its sanitizer/libFuzzer runtimes (ASan+UBSan, TSan).
  packages+=(clang-16 libclang-rt-16-dev)
  # scripts/lint.sh: the formatter and clang-tidy of the same version.
  packages+=(clang-format-16 clang-tidy-16)
  # scripts/sqlmap.sh and tests/integration/test_sqlmap.py: SQL injection scan of the API.
  packages+=(sqlmap)
  # tests/ui (scripts/test.sh): Playwright drives Debian's Chromium headless against the dashboard.
  packages+=(chromium)
fi
# node/npm build the dashboard (scripts/build-web.sh, run by every build) and run the tests' JS
# clients; a node already installed, from any source, is used.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
if [[ "${COFFER_WITH_LOAD_TOOLS:-0}" == 1 ]]; then
  packages+=(wrk nginx-light)
fi
# bench/peer-barbican only (never CI): OpenStack Barbican's API served by uWSGI, on a throwaway
# MariaDB. The packages' own services are not used (the script runs everything in temp dirs).
if [[ "${COFFER_WITH_PEER_TOOLS:-0}" == 1 ]]; then
  packages+=(wrk barbican-api uwsgi-core uwsgi-plugin-python3 mariadb-server python3-pymysql)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "installing: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
