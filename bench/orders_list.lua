-- GET BENCH_PATH (an order-list query) as the merchant of BENCH_AUTH.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH")
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
