#!/usr/bin/env bash
# Installs, builds and starts a Coffer server on the embedded store. On first start it creates
# the data directory and prints the admin API key once.
#   COFFER_DATA_DIR (default ./coffer-data)  COFFER_LISTEN (default 127.0.0.1:8200)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
data_dir=${COFFER_DATA_DIR:-./coffer-data}
if [[ ! -f "$data_dir/root.key" || ! -f "$data_dir/coffer.db" ]]; then
  ./build/coffer init --data-dir "$data_dir"
fi
exec ./build/coffer server --data-dir "$data_dir" --listen "${COFFER_LISTEN:-127.0.0.1:8200}"
