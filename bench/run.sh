#!/bin/sh
# Kasse load benchmark against an nginx static-200 baseline. See bench/README.md.
#
# Environment (all optional):
#   KASSE_BIN        server binary               (default build/kasse, the release build)
#   KASSE_THREADS    kasse serve --threads N     (default 32)
#   BENCH_DURATION   seconds per wrk run         (default 10)
#   BENCH_RUNS       runs per scenario           (default 5)
#   BENCH_CONNS      wrk connections             (default 64)
#   BENCH_WRK_THREADS wrk threads                (default 2)
#   BENCH_SERVER_CPU CPU list for nginx + kasse  (default 0)
#   BENCH_CLIENT_CPU CPU list for wrk            (default 1)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
KASSE_BIN=${KASSE_BIN:-$root/build/kasse}
KASSE_THREADS=${KASSE_THREADS:-32}
DURATION=${BENCH_DURATION:-10}
RUNS=${BENCH_RUNS:-5}
CONNS=${BENCH_CONNS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}

die() { echo "bench: $*" >&2; exit 1; }
for tool in nginx wrk taskset curl node; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install nginx-light wrk util-linux curl)"
done
[ -x "$KASSE_BIN" ] || die "$KASSE_BIN not built (make build/kasse)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kasse-bench.XXXXXX")
nginx_pid=""
kasse_pid=""
cleanup() {
    # Only the processes this script started, by pid.
    if [ -n "$kasse_pid" ] && kill -0 "$kasse_pid" 2>/dev/null; then
        kill -TERM "$kasse_pid" 2>/dev/null || true
        wait "$kasse_pid" 2>/dev/null || true
    fi
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_for() { # url, seconds
    i=0
    while ! curl -s -o /dev/null "$1"; do
        i=$((i + 1))
        [ "$i" -gt $(($2 * 10)) ] && die "timed out waiting for $1"
        sleep 0.1
    done
}

# ---- nginx: static 200, one worker, pinned like kasse ----
nginx_port=$(free_port)
mkdir -p "$tmp/nginx"
cat > "$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { default_type text/plain; return 200 "ok\n"; }
    }
}
EOF
taskset -c "$SERVER_CPU" nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2>"$tmp/nginx/stderr" &
nginx_pid=$!
wait_for "http://127.0.0.1:$nginx_port/" 10

# ---- kasse: release build, temp db, one seeded merchant ----
kasse_port=$(free_port)
user=bench
secret=bench-secret-0123456789
KASSE_MERCHANTS="$user:$secret" taskset -c "$SERVER_CPU" "$KASSE_BIN" serve \
    --listen "127.0.0.1:$kasse_port" --db "$tmp/kasse.db" \
    --public-url "http://127.0.0.1:$kasse_port" --threads "$KASSE_THREADS" \
    >"$tmp/kasse.out" 2>"$tmp/kasse.err" &
kasse_pid=$!
i=0
until grep -q "kasse: listening on" "$tmp/kasse.out" 2>/dev/null; do
    kill -0 "$kasse_pid" 2>/dev/null || { cat "$tmp/kasse.err" >&2; die "kasse exited during startup"; }
    i=$((i + 1)); [ "$i" -gt 200 ] && die "kasse did not start"
    sleep 0.1
done

auth="Basic $(printf '%s:%s' "$user" "$secret" | base64 | tr -d '\n')"
session_id=$(curl -s -H "Authorization: $auth" -H 'Content-Type: application/json' \
    --data-binary "@$here/se_example.json" "http://127.0.0.1:$kasse_port/payments/v1/sessions" |
    sed -n 's/.*"session_id":"\([^"]*\)".*/\1/p')
[ -n "$session_id" ] || die "could not create the session for the read benchmark"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $auth" \
    "http://127.0.0.1:$kasse_port/payments/v1/sessions/$session_id")
[ "$code" = 200 ] || die "GET session returned $code"

export BENCH_DIR="$here" BENCH_AUTH="$auth" BENCH_SESSION_ID="$session_id"

echo "bench: $("$KASSE_BIN" version 2>/dev/null || echo '?'), --threads $KASSE_THREADS, server cpu $SERVER_CPU, wrk cpu $CLIENT_CPU"
echo "bench: wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, $RUNS runs per scenario, median of runs"

# run_scenario name script url → appends "rps p99_us" lines to $tmp/<name>.runs
run_scenario() {
    name=$1 script=$2 url=$3
    : > "$tmp/$name.runs"
    n=1
    while [ "$n" -le "$RUNS" ]; do
        out=$(taskset -c "$CLIENT_CPU" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
            -s "$here/$script" "$url" 2>&1) || { echo "$out" >&2; die "wrk failed ($name)"; }
        line=$(echo "$out" | grep '^RESULT ') || { echo "$out" >&2; die "no RESULT line ($name)"; }
        rps=$(echo "$line" | sed 's/.*rps=\([0-9.]*\).*/\1/')
        p99=$(echo "$line" | sed 's/.*p99_us=\([0-9]*\).*/\1/')
        bad=$(echo "$line" | sed 's/.*non2xx=\([0-9]*\).*/\1/')
        err=$(echo "$line" | sed 's/.* errors=\([0-9]*\).*/\1/')
        printf '  %-14s run %d/%d: %10.0f req/s  p99 %8.2f ms  non-2xx %s  socket errors %s\n' \
            "$name" "$n" "$RUNS" "$rps" "$(echo "$p99" | awk '{printf "%.2f", $1/1000}')" "$bad" "$err"
        [ "$bad" = 0 ] || die "$name: $bad responses with status >= 400; the numbers would be meaningless"
        echo "$rps $p99" >> "$tmp/$name.runs"
        n=$((n + 1))
    done
}

median() { # file column
    sort -g -k"$2","$2" "$1" | awk -v c="$2" '{v[NR]=$c} END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

run_scenario nginx_static static.lua "http://127.0.0.1:$nginx_port/"
run_scenario create_session create_session.lua "http://127.0.0.1:$kasse_port"
run_scenario read_session read_session.lua "http://127.0.0.1:$kasse_port"

kill -0 "$kasse_pid" 2>/dev/null || { cat "$tmp/kasse.err" >&2; die "kasse died during the benchmark"; }

base_rps=$(median "$tmp/nginx_static.runs" 1)
base_p99=$(median "$tmp/nginx_static.runs" 2)
echo
printf '%-16s %14s %14s %16s %16s\n' scenario 'median req/s' 'median p99 ms' 'req/s vs nginx' 'p99 vs nginx'
for name in nginx_static create_session read_session; do
    rps=$(median "$tmp/$name.runs" 1)
    p99=$(median "$tmp/$name.runs" 2)
    awk -v n="$name" -v r="$rps" -v p="$p99" -v br="$base_rps" -v bp="$base_p99" 'BEGIN {
        printf "%-16s %14.0f %14.2f %15.3fx %15.2fx\n", n, r, p / 1000, r / br, (bp > 0 ? p / bp : 0) }'
done

# Clean shutdown is part of the contract: SIGTERM must give exit code 0.
kill -TERM "$kasse_pid"
status=0
wait "$kasse_pid" || status=$?
kasse_pid=""
[ "$status" = 0 ] || { cat "$tmp/kasse.err" >&2; die "kasse exited with $status after SIGTERM"; }
