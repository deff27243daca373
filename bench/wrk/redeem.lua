-- wrk script for bench/gateway.py --wrk: POST /api/redeem with a distinct code and a distinct
-- Idempotency-Key per request. Environment: API_KEY, PRODUCT_CODE, CODES_FILE (one code a
-- line). Thread t of n sends codes t, t+n, t+2n, ...; once they run out it sends unknown
-- codes (still decided end to end: NOT_FOUND), so a run never repeats a request.
local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  codes = {}
  for line in io.lines(os.getenv("CODES_FILE")) do
    codes[#codes + 1] = line
  end
  step = tonumber(os.getenv("WRK_THREADS") or "1")
  index = tid
  sent = 0
  statuses = {}
  headers = {
    ["x-api-key"] = os.getenv("API_KEY"),
    ["x-product-code"] = os.getenv("PRODUCT_CODE"),
    ["content-type"] = "application/json",
  }
end

function request()
  local code = codes[index]
  if code == nil then
    code = string.format("UNKNOWN%d%d", tid, sent)
  end
  index = index + step
  sent = sent + 1
  headers["Idempotency-Key"] = string.format("wrk-%d-%d-%d", tid, sent, os.time())
  local body = string.format('{"code":"%s","userId":"w%d-%d"}', code, tid, sent)
  return wrk.format("POST", "/api/redeem", headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses")
    for status, n in pairs(seen) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  io.write(string.format(
    'WRK_JSON {"requests": %d, "seconds": %.3f, "p50_ms": %.1f, "p90_ms": %.1f, ' ..
    '"p99_ms": %.1f, "max_ms": %.1f, "errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout, table.concat(parts, ", ")))
end
