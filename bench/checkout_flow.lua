-- The full checkout, five requests per flow (as tests/api/fixtures.mjs placeOrder + capture + refund):
--   1. POST /payments/v1/sessions                       (one-line SE cart, 85.00 SEK)
--   2. POST /kasse/v1/sessions/{session_id}/authorize   {}
--   3. POST /payments/v1/authorizations/{token}/order   (the session's cart)
--   4. POST /ordermanagement/v1/orders/{order_id}/captures {"captured_amount": 8500} (all of it)
--   5. POST /ordermanagement/v1/orders/{order_id}/refunds  {"refunded_amount": 1000} (part of it)
--
-- wrk gives request() and response() no connection, so the state machine is per wrk thread, not
-- per socket: every reply says which step it answers (the body's authorization_token / order_id /
-- session_id, a 201's Location .../captures/... or .../refunds/...), so response() turns it into
-- the flow's next step and queues it; request() sends the oldest queued step, or starts a new flow
-- when none is queued (each connection's first request). Every reply queues exactly one step, so
-- there are always as many flows in flight as connections, and a step waits for nothing but a free
-- connection. A reply that is not the expected 2xx (or lacks its id) counts as a failed step and
-- queues a new flow in place of the broken one. A flow ends when its refund is answered 201.
--
-- done() prints common.lua's RESULT line plus flows=<completed flows> failed=<failed steps>.
--
-- With BENCH_ORDERS_OUT=<path> (bench/run.sh, before om_capture) a flow ends at its order: the
-- order id is appended to <path>.<thread> and the flow counts as completed.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local auth = os.getenv("BENCH_AUTH")
local amount = 8500
local cart = string.format('{"purchase_country":"SE","purchase_currency":"SEK","locale":"sv-SE",'
  .. '"order_amount":%d,"order_tax_amount":%d,"order_lines":[{"type":"physical","reference":"SKU-B",'
  .. '"name":"Widget","quantity":1,"unit_price":%d,"tax_rate":2500,"total_amount":%d,'
  .. '"total_discount_amount":0,"total_tax_amount":%d}]}', amount, amount / 5, amount, amount, amount / 5)
local capture_body = string.format('{"captured_amount":%d}', amount)
local refund_body = '{"refunded_amount":1000}'
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = auth }
local orders_out = os.getenv("BENCH_ORDERS_OUT")
local out_file = nil   -- this thread's file of order ids (orders_out mode)

-- ---- per thread (each wrk thread has its own Lua state) ----
flows = 0   -- completed flows (refund answered 201)
failed = 0  -- failed steps
local queue, head, tail = {}, 1, 0

local function push(step) tail = tail + 1; queue[tail] = step end

local function build(step)
  local kind, id = step[1], step[2]
  if kind == "authorize" then
    return wrk.format("POST", "/kasse/v1/sessions/" .. id .. "/authorize", headers, "{}")
  elseif kind == "order" then
    return wrk.format("POST", "/payments/v1/authorizations/" .. id .. "/order", headers, cart)
  elseif kind == "capture" then
    return wrk.format("POST", "/ordermanagement/v1/orders/" .. id .. "/captures", headers, capture_body)
  elseif kind == "refund" then
    return wrk.format("POST", "/ordermanagement/v1/orders/" .. id .. "/refunds", headers, refund_body)
  end
  return wrk.format("POST", "/payments/v1/sessions", headers, cart)
end

function request()
  if head <= tail then
    local step = queue[head]
    queue[head] = nil
    head = head + 1
    return build(step)
  end
  return build({ "session" })
end

local function header(h, name)
  for k, v in pairs(h) do
    if string.lower(k) == name then return v end
  end
  return nil
end

local function fail() failed = failed + 1; push({ "session" }) end

function response(status, h, body)
  if status == 200 then
    local tok = string.match(body, '"authorization_token":"([^"]+)"')
    if tok then
      if string.find(body, '"approved":true', 1, true) then return push({ "order", tok }) end
      return fail()
    end
    local order = string.match(body, '"order_id":"([^"]+)"')
    if order and orders_out then
      if not out_file then out_file = assert(io.open(orders_out .. "." .. tostring(id), "a")) end
      out_file:write(order, "\n")
      out_file:flush()
      flows = flows + 1
      return push({ "session" })
    end
    if order then return push({ "capture", order }) end
    local session = string.match(body, '"session_id":"([^"]+)"')
    if session then return push({ "authorize", session }) end
  elseif status == 201 then
    local loc = header(h, "location") or ""
    local order = string.match(loc, "/orders/([^/]+)/captures/")
    if order then return push({ "refund", order }) end
    if string.find(loc, "/refunds/", 1, true) then
      flows = flows + 1
      return push({ "session" })
    end
  end
  return fail()
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function done(summary, latency, requests)
  local f, bad = 0, 0
  for _, t in ipairs(threads) do
    f = f + t:get("flows")
    bad = bad + t:get("failed")
  end
  result_line(summary, latency, string.format(" flows=%d failed=%d", f, bad))
end
