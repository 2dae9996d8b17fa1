-- Shared by read.lua and write.lua (loaded with dofile; BENCH_LUA_DIR says where).
--
-- Settings come from the environment, set by bench/run:
--   BENCH_SERVER  hush | openbao
--   BENCH_TOKEN   the bearer token (hush) or X-Vault-Token (OpenBao)
--   BENCH_SECRET  the secret's name (default x)
--   BENCH_VALUE   the value written by write.lua
--   BENCH_API     vault: hush is read through its Vault KV v2 API (kv-read);
--                 health: hush's GET /v1/health, with the same header (bench/read-budget)
--
-- Every response is checked: statuses outside 2xx are counted per thread and
-- reported by done() as "BENCH non2xx=N statuses=CODE:COUNT,...", next to the
-- throughput and latency percentiles that bench/run reads back.

local M = {}

M.server = os.getenv("BENCH_SERVER") or error("BENCH_SERVER is not set")
M.token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN is not set")
M.secret = os.getenv("BENCH_SECRET") or "x"

if M.server == "hush" and os.getenv("BENCH_API") == "vault" then
  -- hush's Vault KV v2 API: the same secret, as Vault clients read it.
  M.path = "/v1/secret/data/" .. M.secret
  M.headers = { ["X-Vault-Token"] = M.token, ["X-Vault-Namespace"] = "default" }
elseif M.server == "hush" and os.getenv("BENCH_API") == "health" then
  M.path = "/v1/health"
  M.headers = { ["Authorization"] = "Bearer " .. M.token }
elseif M.server == "hush" then
  M.path = "/v1/namespaces/default/secrets/" .. M.secret
  M.headers = { ["Authorization"] = "Bearer " .. M.token }
elseif M.server == "openbao" then
  M.path = "/v1/secret/data/" .. M.secret
  M.headers = { ["X-Vault-Token"] = M.token }
else
  error("BENCH_SERVER must be hush or openbao, not " .. M.server)
end

-- A JSON string literal (the values bench/run makes need no escaping, but be safe).
function M.json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- Installs wrk's global hooks: count non-2xx statuses, print a summary line.
function M.install_hooks()
  local threads = {}

  function setup(thread)
    table.insert(threads, thread)
  end

  function init(args)
    non2xx = 0
    by_status = {}
  end

  function response(status, headers, body)
    if status < 200 or status > 299 then
      non2xx = non2xx + 1
      by_status[status] = (by_status[status] or 0) + 1
    end
  end

  function done(summary, latency, requests)
    local total, counts = 0, {}
    for _, t in ipairs(threads) do
      total = total + (t:get("non2xx") or 0)
      local statuses = t:get("by_status") or {}
      for code, n in pairs(statuses) do
        counts[code] = (counts[code] or 0) + n
      end
    end
    local parts = {}
    for code, n in pairs(counts) do
      table.insert(parts, string.format("%d:%d", code, n))
    end
    table.sort(parts)
    local e = summary.errors
    local socket_errors = e.connect + e.read + e.write + e.timeout
    local seconds = summary.duration / 1e6
    io.write(string.format(
      "BENCH requests=%d seconds=%.6f rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d timeouts=%d statuses=%s\n",
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      total, socket_errors, e.timeout, (#parts > 0) and table.concat(parts, ",") or "-"))
  end
end

return M
