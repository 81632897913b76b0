-- Barbican's equivalent of PUT new version (it has no versions): POST /v1/secrets with a payload
-- of the same 41 bytes as Coffer's bench value, creating a new secret on every request.
dofile(os.getenv("COFFER_BENCH_LUA") .. "/barbican.lua")
wrk.method = "POST"
wrk.headers["Accept"] = "application/json"
wrk.body = '{"name":"bench","secret_type":"opaque","payload_content_type":"text/plain",' ..
  '"payload":"sk-bench-0123456789abcdef0123456789abcdef"}'
