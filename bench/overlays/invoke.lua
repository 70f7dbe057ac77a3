-- wrk script: POST /api/v1/overlays/{FORGE_OVERLAY}/invoke of the trivial overlay.
local token = os.getenv("FORGE_TOKEN")
local path = "/api/v1/overlays/" .. os.getenv("FORGE_OVERLAY") .. "/invoke"
function request()
  return wrk.format("POST", path,
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
    '{"function":"process","input":1}')
end
function response(status, headers, body)
  if status ~= 200 or not body:find('"success":true', 1, true) then
    io.stderr:write("bad invoke response: " .. status .. " " .. body:sub(1, 200) .. "\n")
  end
end
function done(summary, latency, requests)
  io.write(string.format("invoke: %d requests, %.0f req/s, %d errors, p50 %.2f ms, p99 %.2f ms\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
