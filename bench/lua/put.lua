-- PUT of a new version of the URL's secret on every request.
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")
wrk.method = "PUT"
wrk.body = '{"type":"api_key","value":"sk-bench-0123456789abcdef0123456789abcdef"}'
