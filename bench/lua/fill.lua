-- Fills the store: PUT of new secrets fill/<n> for n in [COFFER_FILL_FROM, COFFER_FILL_TO), then
-- stops by itself. One wrk thread (-t1), so one counter covers every connection.
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")
local next_n = tonumber(os.getenv("COFFER_FILL_FROM"))
local last = tonumber(os.getenv("COFFER_FILL_TO"))
local done_n = next_n
local base = os.getenv("COFFER_FILL_BASE")
local body = '{"type":"api_key","value":"sk-bench-0123456789abcdef0123456789abcdef"}'
request = function()
  local n = next_n
  if n >= last then
    n = last - 1  -- the last few in-flight requests rewrite the last secret (a new version)
  end
  next_n = next_n + 1
  return wrk.format("PUT", base .. "/fill/" .. n, nil, body)
end
response = function(status, headers, body)
  done_n = done_n + 1
  if done_n >= last then
    wrk.thread:stop()
  end
end
