#!/bin/sh
# Disk use under write load (issue 9, item 11): creates sessions and reads one session at the
# same time (readers are what starve WAL checkpoints) and samples the sizes of the store, its
# WAL, the request log and the log's WAL every SAMPLE seconds.
#
# Environment (all optional):
#   KASSE_BIN        server binary                (default build/kasse, the release build)
#   KASSE_ARGS       more `kasse serve` arguments (e.g. "--log-max-mb 16")
#   BENCH_DURATION   seconds of load              (default 60)
#   BENCH_CONNS      wrk connections per scenario (default 32)
#   SAMPLE           seconds between samples      (default 5)
set -eu

BENCH_NAME=disk
# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
KASSE_ARGS=${KASSE_ARGS:-}
DURATION=${BENCH_DURATION:-60}
CONNS=${BENCH_CONNS:-32}
SAMPLE=${SAMPLE:-5}

need_tools wrk curl node
bench_init kasse-disk

port=$(free_port)
# shellcheck disable=SC2086
start_kasse kasse "$port" "$tmp/kasse.db" $KASSE_ARGS
kasse_pid=$(kasse_pid kasse)

auth=$(basic_auth "$BENCH_MERCHANTS")
session_id=$(curl -s -H "Authorization: $auth" -H 'Content-Type: application/json' \
    --data-binary "@$here/se_example.json" "http://127.0.0.1:$port/payments/v1/sessions" |
    sed -n 's/.*"session_id":"\([^"]*\)".*/\1/p')
[ -n "$session_id" ] || die "could not create a session"
export BENCH_DIR="$here" BENCH_AUTH="$auth" BENCH_SESSION_ID="$session_id"

size() { stat -c %s "$1" 2>/dev/null || echo 0; }
mb() { awk -v b="$1" 'BEGIN { printf "%8.1f", b / 1048576 }'; }

wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$here/create_session.lua" "http://127.0.0.1:$port" \
    >"$tmp/create.out" 2>&1 &
bg_pids="$!"
wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$here/read_session.lua" "http://127.0.0.1:$port" \
    >"$tmp/read.out" 2>&1 &
bg_pids="$bg_pids $!"

echo "disk: $KASSE_BIN $KASSE_ARGS, ${DURATION}s, $CONNS creating + $CONNS reading connections"
printf '%6s %10s %10s %10s %10s  (MB)\n' t kasse.db wal log.db log-wal
max_wal=0 max_log=0 max_logwal=0 t=0
while [ "$t" -lt "$DURATION" ]; do
    sleep "$SAMPLE"
    t=$((t + SAMPLE))
    db=$(size "$tmp/kasse.db") wal=$(size "$tmp/kasse.db-wal")
    # the log: its SQLite file and its segments' body files (issue 12)
    log=$(( $(size "$tmp/kasse-log.db") + $(size "$tmp/kasse-log.db-body0") + $(size "$tmp/kasse-log.db-body1") \
        + $(size "$tmp/kasse-log.db-body2") + $(size "$tmp/kasse-log.db-body3") ))
    logwal=$(size "$tmp/kasse-log.db-wal")
    [ "$wal" -gt "$max_wal" ] && max_wal=$wal
    [ "$log" -gt "$max_log" ] && max_log=$log
    [ "$logwal" -gt "$max_logwal" ] && max_logwal=$logwal
    printf '%6s %10s %10s %10s %10s\n' "$t" "$(mb "$db")" "$(mb "$wal")" "$(mb "$log")" "$(mb "$logwal")"
done
for p in $bg_pids; do wait "$p" || true; done
bg_pids=""
grep -h '^RESULT' "$tmp/create.out" "$tmp/read.out" | sed 's/^/disk: create, read: /'
# CPU the server used per 1000 requests answered: steadier than req/s on a shared machine.
ticks=$(awk '{print $14 + $15}' "/proc/$kasse_pid/stat")
reqs=$(grep -h '^RESULT' "$tmp/create.out" "$tmp/read.out" | sed 's/.*requests=\([0-9]*\).*/\1/' |
    awk '{n += $1} END {print n}')
awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$reqs" \
    'BEGIN { printf "disk: server CPU %.1f s, %.1f ms per 1000 requests\n", t / hz, t / hz * 1e6 / n }'
echo "disk: max wal $(mb "$max_wal") MB, max log.db $(mb "$max_log") MB, max log wal $(mb "$max_logwal") MB"
stop_kasse kasse check
grep -c 'error' "$tmp/kasse.err" | sed 's/^/disk: error lines on stderr: /' || true
