-- wrk script: write a new version of a secret (hush or OpenBao, per
-- BENCH_SERVER), with the same value (BENCH_VALUE) for both; see common.lua.
--   hush:    PUT  /v1/namespaces/default/secrets/NAME  {"type":"generic","value":"..."}
--   OpenBao: POST /v1/secret/data/NAME                 {"data":{"value":"..."}}
--
-- BENCH_SPREAD unset or 0: every request writes the one secret BENCH_SECRET
-- (x), so all connections contend for it. BENCH_SPREAD=N: each wrk thread
-- cycles through its own N names (w<thread>-0 … w<thread>-<N-1>), so
-- requests in flight never write the same secret.
local dir = os.getenv("BENCH_LUA_DIR") or "bench/wrk"
local bench = dofile(dir .. "/common.lua")

local value = os.getenv("BENCH_VALUE") or error("BENCH_VALUE is not set")
local spread = tonumber(os.getenv("BENCH_SPREAD") or "0")

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

if spread > 0 then
  local base = bench.path:sub(1, #bench.path - #bench.secret)
  local next_id = 0
  local setup_counting = setup
  function setup(thread)
    next_id = next_id + 1
    thread:set("thread_id", next_id)
    setup_counting(thread)
  end

  local counter = 0
  function request()
    counter = counter + 1
    local name = string.format("w%d-%d", thread_id, counter % spread)
    return wrk.format(nil, base .. name)
  end
end
