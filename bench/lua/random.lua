-- GET (or, with COFFER_RANDOM_METHOD=PUT, a new version of) fill/<n> for n uniform in
-- [0, COFFER_FILL_TO): every request hits a random one of the stored secrets.
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")
local count = tonumber(os.getenv("COFFER_FILL_TO"))
local base = os.getenv("COFFER_FILL_BASE")
local method = os.getenv("COFFER_RANDOM_METHOD") or "GET"
local body = nil
if method == "PUT" then
  body = '{"type":"api_key","value":"sk-bench-0123456789abcdef0123456789abcdef"}'
end
math.randomseed(os.time())
request = function()
  return wrk.format(method, base .. "/fill/" .. math.random(0, count - 1), nil, body)
end
