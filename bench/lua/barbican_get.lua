-- Barbican's equivalent of GET latest: GET /v1/secrets/{id}/payload (the URL given to wrk), the
-- decrypted payload as text/plain.
dofile(os.getenv("COFFER_BENCH_LUA") .. "/barbican.lua")
wrk.headers["Accept"] = "text/plain"
