-- wrk script: GET /api/v1/capsules/{id} for ids read from env FORGE_IDS (a file, one per line).
local token = os.getenv("FORGE_TOKEN")
local ids = {}

function init(args)
  for line in io.lines(os.getenv("FORGE_IDS")) do
    if #line > 0 then table.insert(ids, line) end
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/api/v1/capsules/" .. id, {["Authorization"] = "Bearer " .. token})
end

function done(summary, latency, requests)
  io.write(string.format("get: %d requests, %d errors, p50 %.2f ms, p99 %.2f ms\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
