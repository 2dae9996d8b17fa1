-- wrk script: log in with a workload's JWT (hush only):
--   POST /v1/auth/jwt/login  {"role": BENCH_ROLE, "jwt": BENCH_JWT}
-- Every request presents the same JWT; each earns a new token. See common.lua.
local dir = os.getenv("BENCH_LUA_DIR") or "bench/wrk"
local bench = dofile(dir .. "/common.lua")

local role = os.getenv("BENCH_ROLE") or error("BENCH_ROLE is not set")
local jwt = os.getenv("BENCH_JWT") or error("BENCH_JWT is not set")

wrk.method = "POST"
wrk.path = "/v1/auth/jwt/login"
wrk.headers = { ["Content-Type"] = "application/json" }
wrk.body = '{"role":' .. bench.json_string(role) .. ',"jwt":' .. bench.json_string(jwt) .. '}'

bench.install_hooks()
