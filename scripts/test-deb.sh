#!/usr/bin/env bash
# Builds the .deb with CPack, installs it on this machine with apt, checks the file layout, the
# maintainer scripts (user, config, initialized data dir, admin key file), the unit file
# (systemd-analyze verify when available), starts the packaged binary by hand as the coffer user,
# reads /v1/ready and uses the first admin key, then purges the package. Needs root. Not part of
# scripts/test.sh (it installs system-wide and builds a Release tree); run it by hand or in a
# packaging job. Exits non-zero on the first failed check.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "scripts/test-deb.sh installs a package: run it as root" >&2
  exit 2
fi
./scripts/install-deps.sh
if ! command -v dpkg-shlibdeps >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dpkg-dev
fi

build_dir=${COFFER_DEB_BUILD_DIR:-build-deb}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DCOFFER_BUILD_TESTS=OFF -DCOFFER_BUILD_BENCH=OFF >/dev/null
ninja -C "$build_dir" -j"${COFFER_JOBS:-2}"
rm -f "$build_dir"/coffer_*.deb
(cd "$build_dir" && cpack -G DEB >/dev/null)
deb=$(ls "$build_dir"/coffer_*.deb)
echo "== built $deb ($(du -h "$deb" | cut -f1))"

pass=0
fail=0
check() {  # check "what" command...
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then
    pass=$((pass + 1))
    echo "ok   $what"
  else
    fail=$((fail + 1))
    echo "FAIL $what"
  fi
}

server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if dpkg-query -W coffer >/dev/null 2>&1; then
    dpkg --purge coffer >/dev/null 2>&1 || true
  fi
  if [[ "${had_data:-1}" == 0 ]]; then
    rm -rf /var/lib/coffer
    if getent passwd coffer >/dev/null; then deluser --quiet --system coffer || true; fi
    if getent group coffer >/dev/null; then delgroup --quiet --system coffer || true; fi
  fi
}
trap cleanup EXIT

if dpkg-query -W coffer >/dev/null 2>&1 || [[ -e /var/lib/coffer ]]; then
  echo "coffer is already installed or /var/lib/coffer exists on this machine; refusing to touch it" >&2
  exit 2
fi
had_data=0

echo "== package metadata"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
check "depends on the shared libraries it links (shlibdeps)" \
  sh -c "dpkg-deb -f '$deb' Depends | grep -q libssl3"
check "maintainer scripts are in the package" \
  sh -c "dpkg-deb --ctrl-tarfile '$deb' | tar -t | grep -q postinst"

echo "== install"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "./$deb" | tail -5

check "binary at /usr/bin/coffer" test -x /usr/bin/coffer
check "coffer version runs" /usr/bin/coffer version
check "unit at /usr/lib/systemd/system/coffer.service" test -f /usr/lib/systemd/system/coffer.service
check "man page" test -f /usr/share/man/man1/coffer.1.gz
check "man page renders" sh -c "zcat /usr/share/man/man1/coffer.1.gz | groff -man -Tutf8 2>&1 >/dev/null | (! grep -q .)"
check "example config" test -f /usr/share/doc/coffer/examples/coffer.toml
check "operations guide and OpenAPI in docs" test -f /usr/share/doc/coffer/operations.md -a -f /usr/share/doc/coffer/openapi.yaml
check "system user coffer exists" getent passwd coffer
check "coffer has no login shell" sh -c "getent passwd coffer | grep -q nologin"
check "/etc/coffer/coffer.toml created root:coffer 0640" \
  sh -c "[ \"\$(stat -c '%U:%G %a' /etc/coffer/coffer.toml)\" = 'root:coffer 640' ]"
check "/var/lib/coffer is coffer:coffer 0700" \
  sh -c "[ \"\$(stat -c '%U:%G %a' /var/lib/coffer)\" = 'coffer:coffer 700' ]"
check "root.key is coffer 0600" \
  sh -c "[ \"\$(stat -c '%U %a' /var/lib/coffer/root.key)\" = 'coffer 600' ]"
check "coffer.db is coffer 0600" \
  sh -c "[ \"\$(stat -c '%U %a' /var/lib/coffer/coffer.db)\" = 'coffer 600' ]"
check "initial admin key file is root 0600" \
  sh -c "[ \"\$(stat -c '%U %a' /var/lib/coffer/initial-admin-key.txt)\" = 'root 600' ]"
check "service enabled (wants symlink)" \
  test -L /etc/systemd/system/multi-user.target.wants/coffer.service
for directive in "User=coffer" "ProtectSystem=strict" "NoNewPrivileges=yes" \
  "MemoryDenyWriteExecute=yes" "LimitCORE=0" "StateDirectory=coffer" \
  "ExecStart=/usr/bin/coffer server --config /etc/coffer/coffer.toml"; do
  check "unit has $directive" grep -qx "$directive" /usr/lib/systemd/system/coffer.service
done
if command -v systemd-analyze >/dev/null; then
  # Without a running systemd, verify still parses the unit and checks the binary exists.
  out=$(systemd-analyze verify /usr/lib/systemd/system/coffer.service 2>&1 || true)
  echo "$out" | sed 's/^/     systemd-analyze: /'
  check "systemd-analyze verify reports nothing about coffer.service" \
    sh -c "! printf '%s' \"\$1\" | grep -q 'coffer.service'" _ "$out"
fi

echo "== start the packaged binary as the coffer user"
admin_key=$(grep -o 'cfr_key_[A-Za-z0-9_]*' /var/lib/coffer/initial-admin-key.txt)
log=$(mktemp)
port_file=$(mktemp)
runuser -u coffer -- /usr/bin/coffer server --config /etc/coffer/coffer.toml \
  --listen 127.0.0.1:0 >"$port_file" 2>"$log" &
server_pid=$!
for _ in $(seq 50); do
  grep -q "listening on" "$port_file" && break
  sleep 0.1
done
url=$(grep -o 'http://[^ ]*' "$port_file" || true)
check "server started from the packaged config" test -n "$url"
if [[ -n "$url" ]]; then
  check "GET /v1/ready is 200" sh -c "curl -sf '$url/v1/ready' | grep -q ready"
  check "the first admin key works" \
    sh -c "curl -sf -H 'Authorization: Bearer $admin_key' '$url/v1/me' | grep -q '\"is_admin\":true'"
  check "a vault can be created" \
    sh -c "curl -sf -X POST -H 'Authorization: Bearer $admin_key' -H 'Content-Type: application/json' \
      -d '{\"name\":\"deb-test\"}' '$url/v1/vaults' | grep -q deb-test"
  check "GET /metrics answers" sh -c "curl -sf '$url/metrics' | grep -q coffer_http_requests_total"
fi
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=""
check "the server logged JSON lines" sh -c "head -1 '$log' | grep -q '^{\"time\"'"
check "the server log holds no API key" sh -c "! grep -q cfr_key_ '$log'"
check "the server refuses plain HTTP on a public address" \
  sh -c "! runuser -u coffer -- /usr/bin/coffer server --config /etc/coffer/coffer.toml --listen 0.0.0.0:0"
rm -f "$log" "$port_file"

echo "== reinstall keeps the data and the admin key"
before=$(sha256sum /var/lib/coffer/root.key)
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall "./$deb" >/dev/null
check "root key unchanged by a reinstall" sh -c "[ \"\$(sha256sum /var/lib/coffer/root.key)\" = '$before' ]"

echo "== purge"
dpkg --purge coffer | tail -2
check "binary removed" test ! -e /usr/bin/coffer
check "unit removed" test ! -e /usr/lib/systemd/system/coffer.service
check "/etc/coffer removed" test ! -e /etc/coffer
check "service no longer enabled" test ! -e /etc/systemd/system/multi-user.target.wants/coffer.service
check "data kept on purge (root key and secrets)" test -f /var/lib/coffer/root.key

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
