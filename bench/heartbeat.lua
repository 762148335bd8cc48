-- Heartbeats round-robin over seeded agents, each with its real agent token.
--   wrk -s bench/heartbeat.lua http://127.0.0.1:PORT -- AGENTS_FILE PATH
-- AGENTS_FILE has one "name token" per line; PATH is the heartbeat URL path (or a baseline's).
-- Requests are formatted once in init(), so the load generator does almost no work per request.

local requests = {}
local counter = 0
local thread_count = 0

function setup(thread)
  thread:set("offset", thread_count)
  thread_count = thread_count + 1
end

local function body(name)
  return '{"name":"' .. name .. '","component":"worker","version":"1.3.2",'
    .. '"queues":["default"],"slots":{"used":0,"total":20},'
    .. '"hostname":"' .. name .. '.agents.svc","python_version":"3.12.8"}'
end

function init(args)
  local path = args[2]
  for line in io.lines(args[1]) do
    local name, token = line:match("^(%S+)%s+(%S+)$")
    if name then
      local headers = {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
      }
      requests[#requests + 1] = wrk.format("POST", path, headers, body(name))
    end
  end
  -- Threads start far apart in the list, so they do not beat for the same agents in step.
  counter = (offset or 0) * math.floor(#requests / 2)
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,'
      .. '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
