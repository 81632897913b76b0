#!/usr/bin/env bash
# Runs sqlmap (Debian package) against a real Coffer server on a fresh data dir and fails if it
# finds any SQL injection: every path segment, query parameter and JSON body field of the secrets,
# versions, vaults, agents (incl. self-rotation), users, policies, auth/token and audit routes,
# plus the Bearer credential itself. The server binds port 0 and is stopped at exit.
#
#   scripts/sqlmap.sh            full run (level 3, risk 2, every target)
#   scripts/sqlmap.sh --quick    the CI run (level 2, risk 1, one target per route family)
#
# Env: COFFER_BIN (default build/coffer), SQLMAP_LEVEL / SQLMAP_RISK override the level and risk,
# SQLMAP_KEEP=1 keeps the work dir (request files hold the admin key: 0600, deleted otherwise).
# Exit: 0 nothing found, 1 an injection was found (or sqlmap did not finish a target), 2 setup.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${COFFER_BIN:-$repo/build/coffer}
quick=0
if [[ "${1:-}" == "--quick" ]]; then quick=1; fi
if ((quick)); then level=${SQLMAP_LEVEL:-2} risk=${SQLMAP_RISK:-1}; else
  level=${SQLMAP_LEVEL:-3} risk=${SQLMAP_RISK:-2}; fi

for tool in sqlmap curl jq; do
  command -v "$tool" >/dev/null || { echo "sqlmap.sh: $tool is not installed" >&2; exit 2; }
done
[[ -x "$bin" ]] || { echo "sqlmap.sh: no coffer binary at $bin (set COFFER_BIN)" >&2; exit 2; }

umask 077
work=$(mktemp -d /tmp/coffer-sqlmap.XXXXXX)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ "${SQLMAP_KEEP:-0}" != 1 ]]; then rm -rf "$work"; else echo "work dir kept: $work"; fi
}
trap cleanup EXIT

# --- A server on a fresh data dir -----------------------------------------------------------------
"$bin" init --data-dir "$work/data" >"$work/init.out" 2>&1 || { echo "init failed" >&2; exit 2; }
admin_key=$(grep -oE 'cfr_key_[A-Za-z0-9_]+' "$work/init.out" | head -1)
rm -f "$work/init.out"
[[ -n "$admin_key" ]] || { echo "init printed no admin key" >&2; exit 2; }
# Self-rotation is limited to 3 attempts per 15 minutes per client IP: with the loopback as a
# trusted proxy, sqlmap's xforwardedfor tamper script gives each request its own address.
"$bin" server --data-dir "$work/data" --listen 127.0.0.1:0 --trusted-proxies 127.0.0.1 \
  >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
url=""
for _ in $(seq 200); do
  url=$(grep -oE 'coffer listening on https?://[^ ]+' "$work/server.out" | awk '{print $4}' || true)
  [[ -n "$url" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "server exited" >&2; tail -5 "$work/server.log" >&2; exit 2; }
  sleep 0.1
done
[[ -n "$url" ]] || { echo "server did not start" >&2; exit 2; }
hostport=${url#http://}

# Calls the API as the admin; the key goes through a header file, never argv.
printf 'Authorization: Bearer %s\n' "$admin_key" >"$work/auth.hdr"
api() {
  local method=$1 path=$2 body=${3:-}
  curl -sS -f -X "$method" -H @"$work/auth.hdr" -H 'Content-Type: application/json' \
    ${body:+--data "$body"} "$url$path"
}
vault=$(api POST /v1/vaults '{"name":"sqlmap","description":"target"}' | jq -r .id)
api PUT "/v1/vaults/$vault/secrets/app/db" '{"type":"password","value":"s3cret-db"}' >/dev/null
api PUT "/v1/vaults/$vault/secrets/app/api" '{"type":"api_key","value":"s3cret-api"}' >/dev/null
api POST "/v1/vaults/$vault/secret-rotate/app/gen" '{"length":32}' >/dev/null
api POST "/v1/agents" '{"name":"sqlmap-agent","description":"d"}' >"$work/agent.json"
agent=$(jq -r .id "$work/agent.json")
agent_key=$(jq -r .api_key "$work/agent.json")
# A well-formed rotation secret of this agent's shape that is not its own: every self-rotation
# request then fails (401) after the API key checked out, so sqlmap's requests never rotate the
# key out from under the run, while the whole body path (parse, lookup, compare) is exercised.
rotation_secret=$(jq -r .rotation_secret "$work/agent.json" | python3 -c '
import secrets, sys, zlib
b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
kind, public = sys.stdin.read().split("_")[1:3]
head = f"cfr_{kind}_{public}_" + "".join(secrets.choice(b62) for _ in range(43))
crc, out = zlib.crc32(head.encode()), ""
for _ in range(6):
    out, crc = b62[crc % 62] + out, crc // 62
print(head + "_" + out)')
rm -f "$work/agent.json"
policy=$(api POST "/v1/vaults/$vault/policies" "{\"principal_type\":\"agent\",\"principal_id\":\"$agent\",\"secret_path_pattern\":\"app/**\",\"permissions\":[\"read\",\"list\"]}" | jq -r .id)
user=$(api POST /v1/users '{"name":"sqlmap-user"}' | jq -r .id)
api POST "/v1/users/$user/api-keys" '{"name":"k"}' >/dev/null

# --- Targets: raw HTTP requests; '*' marks a path injection point, and sqlmap tests every query
# parameter and JSON body value on its own. ----------------------------------------------------
n=0
target() {  # target NAME AUTH(admin|agent|none) METHOD PATH [BODY]
  local name=$1 auth=$2 method=$3 path=$4 body=${5:-}
  n=$((n + 1))
  local f="$work/req-$(printf %02d $n)-$name.txt"
  {
    printf '%s %s HTTP/1.1\r\nHost: %s\r\n' "$method" "$path" "$hostport"
    case $auth in
      admin) printf 'Authorization: Bearer %s\r\n' "$admin_key" ;;
      agent) printf 'Authorization: Bearer %s\r\n' "$agent_key" ;;
      custom) printf 'Authorization: Bearer %s*\r\n' "${admin_key:0:20}" ;;
    esac
    if [[ -n "$body" ]]; then
      printf 'Content-Type: application/json\r\nContent-Length: %s\r\n' "${#body}"
    fi
    printf '\r\n%s' "$body"
  } >"$f"
}
v=$vault
if ((quick)); then
  target secrets-list admin GET "/v1/vaults/$v/secrets?prefix=app&after=app%2Fa&limit=10"
  target secret-get-path admin GET "/v1/vaults/$v*/secrets/app/db*"
  target secret-put admin PUT "/v1/vaults/$v/secrets/app/new" \
    '{"type":"note","value":"x","metadata":{"team":"ml"},"expires_at":"2999-01-01T00:00:00Z","max_access_count":5}'
  target vault-create admin POST /v1/vaults '{"name":"vq","description":"d"}'
  target policy-create admin POST "/v1/vaults/$v/policies" \
    "{\"principal_type\":\"agent\",\"principal_id\":\"$agent\",\"secret_path_pattern\":\"app/*\",\"permissions\":[\"read\"]}"
  target audit-query admin GET "/v1/audit?vault_id=$v&actor_id=$agent&action=secret.read&limit=10"
  target auth-token none POST /v1/auth/token "{\"api_key\":\"$admin_key\"}"
  target self-rotate agent POST /v1/agents/self/rotate-key "{\"rotationSecret\":\"$rotation_secret\"}"
else
  target secrets-list admin GET "/v1/vaults/$v/secrets?prefix=app&after=app%2Fa&limit=10"
  target secret-get-path admin GET "/v1/vaults/$v*/secrets/app/db*"
  target secret-put admin PUT "/v1/vaults/$v/secrets/app/new" \
    '{"type":"note","value":"x","metadata":{"team":"ml"},"expires_at":"2999-01-01T00:00:00Z","rotation_policy":{"days":30},"max_access_count":5}'
  target secret-delete-path admin DELETE "/v1/vaults/$v/secrets/app/nothing*"
  target secret-rotate admin POST "/v1/vaults/$v/secret-rotate/app/gen*" \
    '{"length":24,"charset":"hex","type":"password"}'
  target versions-path admin GET "/v1/vaults/$v/secret-versions/app/db*"
  target version-path admin GET "/v1/vaults/$v/secret-version/app/db*/1*"
  target version-disable-path admin POST "/v1/vaults/$v/secret-version/app/gen/9*/disable"
  target vault-get-path admin GET "/v1/vaults/$v*"
  target vault-create admin POST /v1/vaults '{"name":"vq","description":"d"}'
  target user-create admin POST /v1/users '{"name":"uq"}'
  target user-path admin GET "/v1/users/$user*/api-keys"
  target apikey-create admin POST "/v1/users/$user*/api-keys" '{"name":"kq"}'
  target agent-create admin POST /v1/agents '{"name":"aq","description":"d"}'
  target agent-path admin GET "/v1/agents/$agent*"
  target policy-create admin POST "/v1/vaults/$v/policies" \
    "{\"principal_type\":\"agent\",\"principal_id\":\"$agent\",\"secret_path_pattern\":\"app/*\",\"permissions\":[\"read\"],\"expires_at\":\"2999-01-01T00:00:00Z\"}"
  target policy-path admin GET "/v1/vaults/$v/policies/$policy*"
  target audit-query admin GET \
    "/v1/audit?vault_id=$v&actor_id=$agent&action=secret.read&since=2020-01-01T00:00:00Z&until=2999-01-01T00:00:00Z&after=0&limit=10"
  target auth-token none POST /v1/auth/token "{\"api_key\":\"$admin_key\"}"
  target bearer-credential custom GET /v1/me
  target self-rotate agent POST /v1/agents/self/rotate-key "{\"rotationSecret\":\"$rotation_secret\"}"
fi

# --- Run sqlmap on each ----------------------------------------------------------------------
echo "sqlmap $(dpkg-query -W -f='${Version}' sqlmap 2>/dev/null || echo ?) against $url: level $level, risk $risk, $n targets"
found=0
unfinished=0
start_all=$(date +%s)
for f in "$work"/req-*.txt; do
  name=$(basename "$f" .txt)
  name=${name#req-??-}
  t0=$(date +%s)
  set +e
  # Forced SQLite (the embedded store). A 401 (a mangled credential), 404 (a mangled id or
  # path), 410 or 429 is an answer to compare like any other, not a reason for sqlmap to stop. No time-based technique: each such payload waits and they add nothing for a store
  # whose queries are all prepared statements (boolean, error, UNION and stacked are tried).
  sqlmap -r "$f" --batch --level "$level" --risk "$risk" --dbms SQLite --technique BEUS \
    --tamper xforwardedfor --ignore-stdin --flush-session --disable-coloring --output-dir "$work/out" \
    --ignore-code 401,404,410,429 --timeout 10 --retries 1 --answers "follow=N,keep testing=Y" >"$work/sqlmap-$name.log" 2>&1
  rc=$?
  set -e
  took=$(($(date +%s) - t0))
  # sqlmap prints "identified the following injection point(s)" only for a confirmed one; a
  # candidate it then dismisses ("false positive or unexploitable") is counted, not failed.
  dismissed=$(grep -c "false positive or unexploitable injection point" "$work/sqlmap-$name.log" \
    || true)
  if grep -qE "identified the following injection point|following injection point\(s\) from stored" \
      "$work/sqlmap-$name.log"; then
    echo "FOUND  $name (${took}s): sqlmap reports an injection"
    { grep -E "Parameter:|Type:|Title:|Payload:" "$work/sqlmap-$name.log" | grep -v Bearer \
      | head -20; } || true
    found=$((found + 1))
  elif grep -qE "all tested parameters do not appear to be injectable|do not appear to be injectable" \
      "$work/sqlmap-$name.log"; then
    tested=$(grep -cE "testing '" "$work/sqlmap-$name.log" || true)
    echo "clean  $name (${took}s, $tested tests, $dismissed candidates dismissed as false positives)"
  else
    echo "ERROR  $name (${took}s, sqlmap exit $rc): no verdict; last lines:"
    { grep -v Bearer "$work/sqlmap-$name.log" | tail -5; } || true
    unfinished=$((unfinished + 1))
  fi
done
echo "sqlmap: $n targets in $(($(date +%s) - start_all)) s: $found with an injection, $unfinished without a verdict"
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "the server died during the run" >&2
  exit 1
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -H @"$work/auth.hdr" "$url/v1/audit/verify")
if [[ "$code" != 200 ]]; then echo "audit chain check answered $code" >&2; exit 1; fi
((found == 0 && unfinished == 0))
