-- POST secret-rotate: the server generates and stores the next version.
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")
wrk.method = "POST"
wrk.body = '{"length":32,"charset":"alphanumeric"}'
