-- wrk script: GET the secret (hush or OpenBao, per BENCH_SERVER); see common.lua.
local dir = os.getenv("BENCH_LUA_DIR") or "bench/wrk"
local bench = dofile(dir .. "/common.lua")

wrk.method = "GET"
wrk.path = bench.path
wrk.headers = bench.headers

bench.install_hooks()
