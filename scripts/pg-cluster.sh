#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a temp dir, listening only on
# 127.0.0.1 at a random free port, stopped and deleted by `stop`. Runs the server as an
# unprivileged user (`postgres` when invoked as root, since PostgreSQL refuses to run as root).
#   eval "$(scripts/pg-cluster.sh start)"   # sets COFFER_PG_DIR and COFFER_TEST_PG_URL
#   scripts/pg-cluster.sh stop "$COFFER_PG_DIR"
set -euo pipefail

pg_bin=${COFFER_PG_BIN:-/usr/lib/postgresql/15/bin}

as_owner() {  # runs a command as the cluster's owner
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  [[ -x "$pg_bin/initdb" ]] || { echo "PostgreSQL 15 is missing: run COFFER_WITH_TEST_TOOLS=1 scripts/install-deps.sh" >&2; exit 2; }
  local dir; dir=$(mktemp -d /tmp/coffer-pg-XXXXXX)
  chmod 0700 "$dir"
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; fi
  # trust on 127.0.0.1 only: a throwaway cluster that nothing else can reach.
  as_owner "$pg_bin/initdb" -D "$dir/data" -U coffer --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  local port
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
         -c max_connections=300 -c shared_buffers=128MB -c fsync=on -c synchronous_commit=on \
         -c log_min_messages=warning" >/dev/null 2>&1; then
      as_owner "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U coffer coffer_test
      echo "export COFFER_PG_DIR=$dir"
      echo "export COFFER_TEST_PG_URL=postgres://coffer@127.0.0.1:$port/coffer_test"
      return 0
    fi
  done
  cat "$dir/server.log" >&2 || true
  rm -rf "$dir"
  echo "cannot start a PostgreSQL cluster" >&2
  exit 1
}

stop() {
  local dir=${1:?usage: pg-cluster.sh stop DIR}
  [[ "$dir" == /tmp/coffer-pg-* ]] || { echo "not a coffer test cluster: $dir" >&2; exit 2; }
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
