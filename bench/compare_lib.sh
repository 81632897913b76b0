# Shared by the same-run comparison benches (compare_get.sh, store_compare.sh,
# root_key_compare.sh): start a coffer server on a fresh data dir with one secret, load it with
# wrk, take medians. Sourced; the caller sets `work` (a temp dir), `duration` (seconds per wrk
# run) and `pids` (an array; the caller's EXIT trap kills what is in it).

start() {  # start NAME BIN [COFFER ARGS...] -> url, key, vault in $work/NAME.*
  local name=$1 bin=$2 dir=$work/$1; shift 2
  "$bin" init --data-dir "$dir" "$@" > "$work/$name.init" 2>&1
  local key; key=$(grep -o 'cfr_key_[A-Za-z0-9_]*' "$work/$name.init")
  "$bin" server --data-dir "$dir" "$@" --listen 127.0.0.1:0 --log-level warn \
    > "$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$work/$name.out" 2>/dev/null && break; sleep 0.05; done
  local url; url=$(grep -o 'http://[0-9.:]*' "$work/$name.out")
  local vault; vault=$(curl -sf -X POST "$url/v1/vaults" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"name":"bench"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
  curl -sf -X PUT "$url/v1/vaults/$vault/secrets/api-keys/openai" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"type":"api_key","value":"sk-bench-0123456789abcdef"}' >/dev/null
  echo "$url" > "$work/$name.url"; echo "$key" > "$work/$name.key"; echo "$vault" > "$work/$name.vault"
}

# PUTs spread over 1000 paths, so the figure is the store's write path, not one row's lock.
cat > "$work/put.lua" <<'LUA'
local n = 0
wrk.headers["Content-Type"] = "application/json"  -- beside -H Authorization
request = function()
  n = n + 1
  return wrk.format("PUT", wrk.path .. (n % 1000), nil,
                    '{"type":"password","value":"bench-value-' .. n .. '"}')
end
LUA

wrk_run() {  # wrk_run NAME get|put CONNECTIONS -> "rps p99ms"
  local name=$1 op=$2 c=$3 threads=2
  [[ $c -lt 2 ]] && threads=1
  local url; url=$(cat "$work/$name.url"); local vault; vault=$(cat "$work/$name.vault")
  local args=(-t"$threads" -c"$c" -d"${duration}s" --latency -H "Authorization: Bearer $(cat "$work/$name.key")")
  local out
  if [[ $op == get ]]; then
    out=$(wrk "${args[@]}" "$url/v1/vaults/$vault/secrets/api-keys/openai")
  else
    out=$(wrk "${args[@]}" -s "$work/put.lua" "$url/v1/vaults/$vault/secrets/bench/p")
  fi
  if grep -q "Non-2xx" <<<"$out"; then echo "non-2xx answers from $name $op" >&2; echo "$out" >&2; exit 1; fi
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
  echo "$rps $p99"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
