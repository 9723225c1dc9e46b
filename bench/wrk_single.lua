-- wrk script for the single-POST phase of `make bench` (bench/ingest_rate.py):
-- every request POSTs one valid report with an event id no other request uses, and
-- `done` prints one JSON line with the 202 count, the other answers and the latency quantiles.
--   wrk -t1 -c32 -d12s -s bench/wrk_single.lua http://127.0.0.1:PORT -- API_KEY
local threads = {}
local counter = 0
accepted, other = 0, 0  -- globals: done() reads them with thread:get
local prefix, key

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  key = args[1]
  math.randomseed(os.time() * 1000 + tid)
  prefix = string.format("%08x", math.random(0, 0x7fffffff))
end

function request()
  counter = counter + 1
  local id = string.format("%s-%04x-4000-8000-%012x", prefix, tid, counter)
  local body = string.format(
    '{"event_id":"%s","type":"station.opened","schema_version":1,' ..
    '"occurred_at":"2021-01-10T03:00:00+00:00","source":"wrk","station_id":"PS-%d",' ..
    '"place":{"region":"Region-1","city":"City-1-1"},' ..
    '"payload":{"commission_members_present":7}}', id, counter % 10000)
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer " .. key}, body)
end

function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    o = o + t:get("other")
  end
  io.write(string.format(
    '{"accepted":%d,"other":%d,"requests":%d,"duration_us":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    a, o, summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
