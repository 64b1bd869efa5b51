#!/bin/sh
# Kasse load benchmark against an nginx static-200 baseline, on SQLite and on PostgreSQL (one
# node, and two nodes on one database). See bench/README.md.
#
# Environment (all optional):
#   KASSE_BIN        server binary               (default build/kasse, the release build)
#   KASSE_THREADS    kasse serve --threads N     (default 32)
#   BENCH_DURATION   seconds per wrk run         (default 10)
#   BENCH_RUNS       runs per scenario           (default 5)
#   BENCH_CONNS      wrk connections             (default 64; split between the two nodes of pg×2)
#   BENCH_WRK_THREADS wrk threads                (default 2; split likewise)
#   BENCH_SERVER_CPU CPU list for nginx, kasse, PostgreSQL (default 0)
#   BENCH_CLIENT_CPU CPU list for wrk            (default 1)
#   BENCH_BACKENDS   which of "sqlite pg pg2" to run (default all three)
set -eu

BENCH_NAME=bench
# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
KASSE_THREADS=${KASSE_THREADS:-32}
DURATION=${BENCH_DURATION:-10}
RUNS=${BENCH_RUNS:-5}
CONNS=${BENCH_CONNS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
BACKENDS=${BENCH_BACKENDS:-sqlite pg pg2}
KASSE_PIN=$SERVER_CPU

has_backend() { case " $BACKENDS " in *" $1 "*) return 0 ;; esac; return 1; }

need_tools nginx wrk taskset curl node
if has_backend pg || has_backend pg2; then need_tools psql; fi
bench_init kasse-bench
started=$(date +%s)

auth=$(basic_auth "$BENCH_MERCHANTS")
export BENCH_DIR="$here" BENCH_AUTH="$auth"
keys=""   # the scenarios run, in order

# run_scenario KEY LABEL SCRIPT URL... → "rps p99_us flows_per_s" lines in $tmp/KEY.runs.
# With several URLs (one per node), one wrk per URL runs at the same time with its share of the
# connections and threads; a run's req/s and flows/s are their sums, its p99 the worse one.
run_scenario() {
    key=$1 label=$2 script=$3
    shift 3
    urls="$*"
    nurl=$#
    keys="$keys $key"
    echo "$label" > "$tmp/$key.label"
    : > "$tmp/$key.runs"
    conns=$((CONNS / nurl))
    threads=$((WRK_THREADS / nurl))
    [ "$threads" -ge 1 ] || threads=1
    n=1
    while [ "$n" -le "$RUNS" ]; do
        i=0
        bg_pids=""
        for url in $urls; do
            i=$((i + 1))
            BENCH_WRK_THREADS_N=$threads taskset -c "$CLIENT_CPU" wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency \
                -s "$here/$script" "$url" >"$tmp/wrk.$i" 2>&1 &
            bg_pids="$bg_pids $!"
        done
        i=0
        for p in $bg_pids; do
            i=$((i + 1))
            wait "$p" || { cat "$tmp/wrk.$i" >&2; die "wrk failed ($label)"; }
        done
        bg_pids=""
        : > "$tmp/results"
        i=0
        while [ "$i" -lt "$nurl" ]; do
            i=$((i + 1))
            grep '^RESULT ' "$tmp/wrk.$i" >> "$tmp/results" ||
                { cat "$tmp/wrk.$i" >&2; die "no RESULT line ($label)"; }
        done
        # → rps p99_us non2xx errors flows_per_s ("-" unless a flow) failed
        agg=$(awk '{
            split("", a)
            for (f = 2; f <= NF; f++) { split($f, kv, "="); a[kv[1]] = kv[2] }
            rps += a["rps"]; if (a["p99_us"] + 0 > p99) p99 = a["p99_us"] + 0
            bad += a["non2xx"]; err += a["errors"]
            if ("flows" in a) { flows = 1; fps += a["flows"] / (a["duration_us"] / 1e6); failed += a["failed"] }
        } END { printf "%.2f %d %d %d %s %d\n", rps, p99, bad, err, (flows ? sprintf("%.2f", fps) : "-"), failed }' \
            "$tmp/results")
        read -r rps p99 bad err fps failed <<EOF
$agg
EOF
        w=22   # printf pads bytes: one more for the two of ×
        case $label in *×*) w=23 ;; esac
        flows=""
        [ "$fps" = - ] || flows=$(printf ' (%5.0f flows/s)' "$fps")
        printf "  %-${w}s"' run %d/%d: %7.0f req/s%s  p99 %8.2f ms  non-2xx %s  failed steps %s  socket errors %s\n' \
            "$label" "$n" "$RUNS" "$rps" "$flows" "$(awk -v p="$p99" 'BEGIN {printf "%.2f", p / 1000}')" \
            "$bad" "$failed" "$err"
        [ "$bad" = 0 ] || die "$label: $bad responses with status >= 400; the numbers would be meaningless"
        [ "$failed" = 0 ] || die "$label: $failed checkout steps failed; the numbers would be meaningless"
        echo "$rps $p99 $fps" >> "$tmp/$key.runs"
        n=$((n + 1))
    done
}

# make_orders BASE FILE: orders for om_capture.lua, made by checkout_flow.lua's first three steps
# (BENCH_ORDERS_OUT) for 2 x BENCH_DURATION seconds per run (orders come at about a third of the
# write rate, three writes each, and om_capture uses each for four captures: twice its runs'
# time leaves a margin), their ids in FILE. Not a measured run.
make_orders() {
    _base=$1 _file=$2
    rm -f "$_file" "$_file".*
    BENCH_ORDERS_OUT="$_file" taskset -c "$CLIENT_CPU" wrk -t"$WRK_THREADS" -c"$CONNS" \
        -d"$((DURATION * RUNS * 2))s" -s "$here/checkout_flow.lua" "$_base" >"$tmp/make_orders.out" 2>&1 ||
        { cat "$tmp/make_orders.out" >&2; die "could not make orders for om_capture"; }
    cat "$_file".* > "$_file"
    echo "bench: $(wc -l < "$_file") orders made for om_capture"
}

echo "bench: $("$KASSE_BIN" version 2>/dev/null || echo '?'), --threads $KASSE_THREADS, server cpu $SERVER_CPU, wrk cpu $CLIENT_CPU"
echo "bench: wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, $RUNS runs per scenario, median of runs; backends: $BACKENDS"
echo "bench: load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running skews the numbers)"

# ---- nginx: static 200, one worker, pinned like kasse ----
start_nginx
run_scenario nginx_static nginx_static static.lua "http://127.0.0.1:$nginx_port/"

rss=""          # "name=NMB" per Kasse, its peak RSS before it stops
prism_pid=""
# ---- Prism: the stateless mock people use instead (`prism mock` over Klarna's payments.json,
# answering the spec's example), pinned like kasse; only create_session, for its ratio ----
PRISM_JS="$here/../node_modules/@stoplight/prism-cli/dist/index.js"
SPEC="$here/../../shared/spec/openapi/payments.json"
if [ -f "$PRISM_JS" ] && [ -f "$SPEC" ]; then
    prism_port=$(free_port)
    taskset -c "$SERVER_CPU" node "$PRISM_JS" mock "$SPEC" -h 127.0.0.1 -p "$prism_port" \
        >"$tmp/prism.out" 2>&1 &
    prism_pid=$!
    _i=0
    until grep -q "Prism is listening" "$tmp/prism.out" 2>/dev/null; do
        kill -0 "$prism_pid" 2>/dev/null || { cat "$tmp/prism.out" >&2; die "prism exited during startup"; }
        _i=$((_i + 1))
        [ "$_i" -gt 600 ] && die "prism did not start"
        sleep 0.1
    done
    run_scenario prism_create_session "prism create_session" create_session.lua \
        "http://127.0.0.1:$prism_port"
    kill -TERM "$prism_pid" 2>/dev/null
    wait "$prism_pid" 2>/dev/null || true
    prism_pid=""
else
    echo "bench: no Prism (npm install first) or no ../shared/spec: the Prism row is skipped"
fi

# ---- SQLite: temp db, one node ----
if has_backend sqlite; then
    port=$(free_port)
    start_kasse sqlite "$port" "$tmp/kasse.db" --threads "$KASSE_THREADS"
    base="http://127.0.0.1:$port"
    session_id=$(curl -s -H "Authorization: $auth" -H 'Content-Type: application/json' \
        --data-binary "@$here/se_example.json" "$base/payments/v1/sessions" |
        sed -n 's/.*"session_id":"\([^"]*\)".*/\1/p')
    [ -n "$session_id" ] || die "could not create the session for the read benchmark"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $auth" \
        "$base/payments/v1/sessions/$session_id")
    [ "$code" = 200 ] || die "GET session returned $code"
    export BENCH_SESSION_ID="$session_id"
    run_scenario sqlite_create_session "sqlite create_session" create_session.lua "$base"
    run_scenario sqlite_read_session "sqlite read_session" read_session.lua "$base"
    run_scenario sqlite_checkout_flow "sqlite checkout_flow" checkout_flow.lua "$base"
    make_orders "$base" "$tmp/orders.sqlite"
    export BENCH_ORDERS_FILE="$tmp/orders.sqlite"
    run_scenario sqlite_om_capture "sqlite om_capture" om_capture.lua "$base"
    kasse_errors sqlite
    rss="$rss sqlite=$(kasse_rss_mb sqlite)MB"
    stop_kasse sqlite check
fi

# ---- PostgreSQL: a throwaway cluster pinned to the server CPU, a database per Kasse run ----
if has_backend pg || has_backend pg2; then
    start_pg
    echo "bench: PostgreSQL $(pg_version) on port $pg_port (fsync on), pinned to cpu $SERVER_CPU"
fi
if has_backend pg; then
    db=$(create_pg_db bench_one_node)
    port=$(free_port)
    start_kasse pg "$port" "$db" --threads "$KASSE_THREADS"
    run_scenario pg_create_session "pg create_session" create_session.lua "http://127.0.0.1:$port"
    run_scenario pg_checkout_flow "pg checkout_flow" checkout_flow.lua "http://127.0.0.1:$port"
    make_orders "http://127.0.0.1:$port" "$tmp/orders.pg"
    export BENCH_ORDERS_FILE="$tmp/orders.pg"
    run_scenario pg_om_capture "pg om_capture" om_capture.lua "http://127.0.0.1:$port"
    kasse_errors pg
    rss="$rss pg=$(kasse_rss_mb pg)MB"
    stop_kasse pg check
fi
if has_backend pg2; then
    # Two nodes on one database, both on the server CPU; one wrk per node, half the connections each.
    db=$(create_pg_db bench_two_nodes)
    port_a=$(free_port)
    start_kasse pg2a "$port_a" "$db" --threads "$KASSE_THREADS"
    port_b=$(free_port)
    start_kasse pg2b "$port_b" "$db" --threads "$KASSE_THREADS"
    run_scenario pg2_create_session "pg×2 create_session" create_session.lua \
        "http://127.0.0.1:$port_a" "http://127.0.0.1:$port_b"
    run_scenario pg2_checkout_flow "pg×2 checkout_flow" checkout_flow.lua \
        "http://127.0.0.1:$port_a" "http://127.0.0.1:$port_b"
    kasse_errors pg2a
    rss="$rss pg2a=$(kasse_rss_mb pg2a)MB"
    stop_kasse pg2a check
    kasse_errors pg2b
    rss="$rss pg2b=$(kasse_rss_mb pg2b)MB"
    stop_kasse pg2b check
fi
stop_pg
stop_nginx

# ---- one table: medians, ratios to nginx (and of PostgreSQL to SQLite) of this run ----
base_rps=$(median "$tmp/nginx_static.runs" 1)
base_p99=$(median "$tmp/nginx_static.runs" 2)
echo
printf '%-22s %12s %8s %9s %15s %13s %16s\n' scenario 'median req/s' 'flows/s' 'p99 ms' \
    'req/s vs nginx' 'p99 vs nginx' 'req/s vs sqlite'
for key in $keys; do
    rps=$(median "$tmp/$key.runs" 1)
    p99=$(median "$tmp/$key.runs" 2)
    fps=-
    grep -q ' -$' "$tmp/$key.runs" || fps=$(median "$tmp/$key.runs" 3)
    sql=""
    case $key in pg_* | pg2_*)
        s="$tmp/sqlite_${key#*_}.runs"
        [ -f "$s" ] && sql=$(median "$s" 1) ;;
    esac
    awk -v n="$(cat "$tmp/$key.label")" -v r="$rps" -v p="$p99" -v f="$fps" -v s="$sql" \
        -v br="$base_rps" -v bp="$base_p99" 'BEGIN {
        w = 22 + (index(n, "×") ? length("×") - 1 : 0)   # printf pads bytes, not characters
        printf "%-" w "s %12.0f %8s %9.2f %14.3fx %12.2fx %16s\n", n, r,
            (f == "-" ? "-" : sprintf("%.0f", f)), p / 1000, r / br, (bp > 0 ? p / bp : 0),
            (s != "" ? sprintf("%.2fx", r / s) : "") }'
done
prism=$( [ -f "$tmp/prism_create_session.runs" ] && median "$tmp/prism_create_session.runs" 1)
sqlite=$( [ -f "$tmp/sqlite_create_session.runs" ] && median "$tmp/sqlite_create_session.runs" 1)
if [ -n "$prism" ] && [ -n "$sqlite" ]; then
    awk -v k="$sqlite" -v p="$prism" 'BEGIN { printf "\nKasse (SQLite, durable) create_session vs the Prism mock (stateless example): %.1fx\n", k / p }'
fi
echo "bench: peak RSS of each Kasse (VmHWM, at its end):$rss"
echo
echo "bench: done in $(($(date +%s) - started)) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
