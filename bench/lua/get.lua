-- GET of the URL given to wrk (a secret's latest version, or nginx's static file).
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")
