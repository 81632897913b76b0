-- Fills the store: PUT of new secrets fill/<n> for n counting up from COFFER_FILL_FROM; from
-- COFFER_FILL_TO on, cheap GET /v1/health until wrk's duration ends. One wrk thread (-t1), so one
-- counter covers every connection; done() prints "FILLED <next n>" besides the BENCH line.
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")
next_n = tonumber(os.getenv("COFFER_FILL_FROM"))
local last = tonumber(os.getenv("COFFER_FILL_TO"))
local base = os.getenv("COFFER_FILL_BASE")
local body = '{"type":"api_key","value":"sk-bench-0123456789abcdef0123456789abcdef"}'
request = function()
  if next_n >= last then
    return wrk.format("GET", "/v1/health")
  end
  local n = next_n
  next_n = next_n + 1
  return wrk.format("PUT", base .. "/fill/" .. n, nil, body)
end

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
local report_done = done
done = function(summary, latency, requests)
  report_done(summary, latency, requests)
  io.write(string.format("FILLED %d\n", threads[1]:get("next_n")))
end
