-- GET /payments/v1/sessions/{id} of a session created before the run (BENCH_SESSION_ID).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/payments/v1/sessions/" .. os.getenv("BENCH_SESSION_ID")
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
