-- wrk script: POST /api/v1/capsules/search with a bearer token (env FORGE_TOKEN), queries drawn
-- in turn from FORGE_QUERIES (one per line), mode from SEARCH_MODE (semantic|keyword|hybrid),
-- limit from SEARCH_LIMIT (10).
local token = os.getenv("FORGE_TOKEN")
local mode = os.getenv("SEARCH_MODE") or "semantic"
local limit = tonumber(os.getenv("SEARCH_LIMIT") or "10")
local queries = {}
for line in io.lines(os.getenv("FORGE_QUERIES")) do
  queries[#queries + 1] = line
end
local i = 0
local threads = {}
tid = 0
non200 = 0
empty = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  i = tid * 7919
end

function request()
  i = i + 1
  local q = queries[(i % #queries) + 1]
  local body = string.format('{"query":"%s","mode":"%s","limit":%d}', q, mode, limit)
  return wrk.format("POST", "/api/v1/capsules/search",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  elseif string.find(body, '"data":[]', 1, true) then
    empty = empty + 1
  end
end

function done(summary, latency, requests)
  local n200, nempty = 0, 0
  for _, t in ipairs(threads) do
    n200 = n200 + t:get("non200")
    nempty = nempty + t:get("empty")
  end
  io.write(string.format("%s: %d requests, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, " ..
    "non-200 %d, empty results %d\n", mode, summary.requests, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, n200, nempty))
end
