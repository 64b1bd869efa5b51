-- POST /ordermanagement/v1/orders/{order_id}/captures {"captured_amount": 2125}: a durable Order
-- Management write (the order's row locked, the amount checked against what is left, the capture
-- stored and the order updated, in one transaction). Each order (85.00 SEK, made before the runs
-- by checkout_flow.lua with BENCH_ORDERS_OUT, listed in BENCH_ORDERS_FILE) is captured in four
-- parts, as partial shipments are: orders with a handful of captures, as merchants have them, not
-- one order with thousands. Each wrk thread takes every n-th order (n = BENCH_WRK_THREADS_N);
-- a run starts after the orders the previous runs used (BENCH_ORDERS_FILE.next, written by
-- done()). Running out of orders sends a fifth capture, which is a 403 and stops the bench.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local file = os.getenv("BENCH_ORDERS_FILE")
local all = {}
for line in io.lines(file) do all[#all + 1] = line end
assert(#all > 0, "no orders in BENCH_ORDERS_FILE")
local offset = 0
local nf = io.open(file .. ".next", "r")
if nf then offset = tonumber(nf:read("*l")) or 0; nf:close() end
local count = tonumber(os.getenv("BENCH_WRK_THREADS_N") or "1")
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = os.getenv("BENCH_AUTH") }
local body = '{"captured_amount":2125}'

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

n = 0
function request()
  n = n + 1
  local i = offset + id + count * math.floor((n - 1) / 4)
  if i > #all then i = #all end
  return wrk.format("POST", "/ordermanagement/v1/orders/" .. all[i] .. "/captures", headers, body)
end

function done(summary, latency, requests)
  local most = 0
  for _, t in ipairs(threads) do most = math.max(most, t:get("n")) end
  local used = count * (math.floor(most / 4) + 1)
  local f = assert(io.open(file .. ".next", "w"))
  f:write(tostring(offset + used), "\n")
  f:close()
  if offset + used > #all then
    io.stderr:write(string.format("om_capture: ran out of orders (%d made)\n", #all))
  end
  result_line(summary, latency)
end
