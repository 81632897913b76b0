-- Shared by the load benchmark's wrk scripts: the Authorization header comes from the
-- environment (never argv), and done() prints one machine-readable line:
--   BENCH requests duration_us p50_us p99_us p999_us status_errors socket_errors
local key = os.getenv("COFFER_BENCH_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), e.status,
    e.connect + e.read + e.write + e.timeout))
end
