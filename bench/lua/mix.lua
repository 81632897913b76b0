-- 90 % GET latest / 10 % PUT new version of the same secret.
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")
local body = '{"type":"api_key","value":"sk-bench-0123456789abcdef0123456789abcdef"}'
local counter = 0
request = function()
  counter = counter + 1
  if counter % 10 == 0 then
    return wrk.format("PUT", nil, nil, body)
  end
  return wrk.format("GET", nil, nil, nil)
end
