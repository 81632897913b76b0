-- The refused-credential flood of bench/auth_flood: every request presents `Bearer x`; done()
-- prints one line with the count of each status seen:
--   FLOOD requests duration_us <status>=<count> ...
wrk.headers["Authorization"] = "Bearer x"
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

init = function()
  statuses = {}
end

response = function(status)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, status .. "=" .. n) end
  table.sort(parts)
  io.write(string.format("FLOOD %d %d %s\n", summary.requests, summary.duration,
    table.concat(parts, " ")))
end
