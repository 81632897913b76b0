-- GETs through the gateway (/v1/proxy/{binding}/bench.json) as the bench agent, spreading the
-- requests over COFFER_BENCH_BINDINGS bindings named b0, b1, ... (each binding's own rate limit
-- tops out at 100 000 a minute). The agent key comes from the environment, never argv.
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("COFFER_BENCH_AGENT_KEY")
wrk.headers["Content-Type"] = nil
local bindings = tonumber(os.getenv("COFFER_BENCH_BINDINGS") or "1")
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/proxy/b" .. (n % bindings) .. "/bench.json")
end
