-- nginx baseline: GET / answered with a static 200.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.method = "GET"
