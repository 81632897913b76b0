-- Shared by the Barbican peer's wrk scripts (bench/peer-barbican): no-auth pipeline, so the
-- project comes in X-Project-Id (from the environment); every non-2xx answer counts as an error
-- (wrk itself only counts >= 400), and done() prints report.lua's BENCH line with that count.
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")
wrk.headers["X-Project-Id"] = os.getenv("BARBICAN_PROJECT_ID") or "coffer-bench"

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

non2xx = 0
response = function(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

local report_done = done
done = function(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do
    n = n + (t:get("non2xx") or 0)
  end
  summary.errors.status = n
  report_done(summary, latency, requests)
end
