-- POST /payments/v1/sessions with Klarna's SE example body (bench/se_example.json).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local f = assert(io.open(os.getenv("BENCH_DIR") .. "/se_example.json", "rb"))
wrk.method = "POST"
wrk.path = "/payments/v1/sessions"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
