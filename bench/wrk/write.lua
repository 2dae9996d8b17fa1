-- wrk script: write a new version of the secret (hush or OpenBao, per
-- BENCH_SERVER), with the same value (BENCH_VALUE) for both; see common.lua.
--   hush:    PUT  /v1/namespaces/default/secrets/x  {"type":"generic","value":"..."}
--   OpenBao: POST /v1/secret/data/x                 {"data":{"value":"..."}}
local dir = os.getenv("BENCH_LUA_DIR") or "bench/wrk"
local bench = dofile(dir .. "/common.lua")

local value = os.getenv("BENCH_VALUE") or error("BENCH_VALUE is not set")

wrk.path = bench.path
wrk.headers = bench.headers
wrk.headers["Content-Type"] = "application/json"
if bench.server == "hush" then
  wrk.method = "PUT"
  wrk.body = '{"type":"generic","value":' .. bench.json_string(value) .. '}'
else
  wrk.method = "POST"
  wrk.body = '{"data":{"value":' .. bench.json_string(value) .. '}}'
end

bench.install_hooks()
