-- GET one URL, optionally with a Cookie header: the dashboard's unchanged poll and its baseline.
--   wrk -s bench/get.lua http://127.0.0.1:PORT/PATH?QUERY -- [COOKIE]

function init(args)
  if args[1] and args[1] ~= "" then
    wrk.headers["Cookie"] = args[1]
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,'
      .. '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
