-- wrk script: POST /api/v1/capsules with a bearer token (env FORGE_TOKEN); every body differs.
local token = os.getenv("FORGE_TOKEN")
local size = tonumber(os.getenv("CONTENT_BYTES") or "500")
local pad = string.rep("x", math.max(0, size - 80))
local n = 0
local threads = {}
tid = 0 -- set per thread by setup()

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function request()
  n = n + 1
  local body = string.format(
    '{"content":"bench capsule %d-%d: the quick brown fox jumps over the lazy dog %s",' ..
    '"type":"knowledge","metadata":{"bench":true,"n":%d}}', tid, n, pad, n)
  return wrk.format("POST", "/api/v1/capsules",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  io.write(string.format("create: %d requests, %d errors, p50 %.2f ms, p99 %.2f ms\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
