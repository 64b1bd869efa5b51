-- Shared by the bench scripts: one machine-readable line per wrk run.
-- RESULT rps=<requests per second> p99_us=<99th percentile latency, microseconds>
--        non2xx=<responses with status >= 400> errors=<connect+read+write+timeout errors> requests=<n>
-- (checkout_flow.lua appends flows=<completed flows> failed=<failed steps>).
function result_line(summary, latency, extra)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.2f p99_us=%d non2xx=%d errors=%d requests=%d duration_us=%d%s\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, summary.requests, summary.duration, extra or ""))
end

function done(summary, latency, requests)
  result_line(summary, latency)
end
