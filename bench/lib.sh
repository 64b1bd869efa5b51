# Shared by bench/run.sh, bench/disk.sh and bench/orders_list.sh (sourced, POSIX sh):
# a temp dir and cleanup, starting and stopping nginx, Kasse and a throwaway PostgreSQL cluster,
# free ports, waiting, medians. Only processes started here are signalled, by pid, also on
# Ctrl-C or failure.
#
# The caller sets BENCH_NAME (the prefix of messages) and then calls bench_init.
# Knobs read here: KASSE_BIN (default build/kasse), BENCH_MERCHANTS (the KASSE_MERCHANTS seed,
# default bench:bench-secret-0123456789), KASSE_PIN (a CPU list: run Kasse and PostgreSQL under
# taskset -c; empty = unpinned), KASSE_START_WAIT (seconds a start may take, default 20).

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
KASSE_BIN=${KASSE_BIN:-$root/build/kasse}
BENCH_MERCHANTS=${BENCH_MERCHANTS:-bench:bench-secret-0123456789}
KASSE_PIN=${KASSE_PIN:-}
KASSE_START_WAIT=${KASSE_START_WAIT:-20}

tmp=""
nginx_pid=""
kasse_names=""   # started Kasse instances (pid in kasse_pid_NAME)
bg_pids=""       # other background processes (wrk), killed on failure
pg_dir=""

die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }

need_tools() { # tool...
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found (KASSE_DEPS_BENCH=1 make deps)"
    done
}

bench_init() { # temp dir name prefix
    [ -x "$KASSE_BIN" ] || die "$KASSE_BIN not built (make build/kasse)"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

bench_cleanup() {
    for p in $bg_pids; do kill "$p" 2>/dev/null || true; done
    for n in $kasse_names; do
        eval "p=\$kasse_pid_$n"
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    if [ -n "${prism_pid:-}" ] && kill -0 "$prism_pid" 2>/dev/null; then
        kill -TERM "$prism_pid" 2>/dev/null || true
        wait "$prism_pid" 2>/dev/null || true
    fi
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    [ -n "$pg_dir" ] && sh "$root/tools/pg-test.sh" stop "$pg_dir" 2>/dev/null
    [ -n "$tmp" ] && rm -rf "$tmp"
    return 0
}

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_for() { # url seconds
    i=0
    while ! curl -s -o /dev/null "$1"; do
        i=$((i + 1))
        [ "$i" -gt $(($2 * 10)) ] && die "timed out waiting for $1"
        sleep 0.1
    done
}

# "taskset -c $KASSE_PIN" when KASSE_PIN is set: used unquoted in front of a simple command, so
# that `$(pin) cmd &` leaves $! the server's own pid (taskset execs it; a shell function would not).
pin() { [ -z "$KASSE_PIN" ] || echo "taskset -c $KASSE_PIN"; }

# nginx answering GET / with a static 200, one worker, pinned like Kasse; sets nginx_port.
start_nginx() {
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
    $(pin) nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2>"$tmp/nginx/stderr" &
    nginx_pid=$!
    wait_for "http://127.0.0.1:$nginx_port/" 10
}

stop_nginx() {
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    nginx_pid=""
}

# start_kasse NAME PORT DB [serve options...]: `kasse serve` seeded with BENCH_MERCHANTS, output
# in $tmp/NAME.out and $tmp/NAME.err, pid in kasse_pid_NAME; returns once it listens.
start_kasse() {
    _n=$1 _port=$2 _db=$3
    shift 3
    : > "$tmp/$_n.out"   # before the start: a restarted instance must not find its last "listening"
    KASSE_MERCHANTS="$BENCH_MERCHANTS" $(pin) "$KASSE_BIN" serve --listen "127.0.0.1:$_port" \
        --db "$_db" --public-url "http://127.0.0.1:$_port" "$@" >"$tmp/$_n.out" 2>"$tmp/$_n.err" &
    eval "kasse_pid_$_n=$!"
    case " $kasse_names " in *" $_n "*) ;; *) kasse_names="$kasse_names $_n" ;; esac
    _i=0
    until grep -q "kasse: listening on" "$tmp/$_n.out" 2>/dev/null; do
        kasse_alive "$_n" || { cat "$tmp/$_n.err" >&2; die "kasse ($_n) exited during startup"; }
        _i=$((_i + 1))
        [ "$_i" -gt $((KASSE_START_WAIT * 10)) ] && die "kasse ($_n) did not start"
        sleep 0.1
    done
}

kasse_pid() { eval "echo \"\$kasse_pid_$1\""; } # NAME

kasse_alive() { # NAME
    eval "_p=\$kasse_pid_$1"
    [ -n "$_p" ] && kill -0 "$_p" 2>/dev/null
}

# stop_kasse NAME [check]: SIGTERM and wait; with "check", fails unless it exits 0 (a clean
# shutdown is part of the contract) or if it had died before.
# The process's peak resident memory so far (VmHWM), in MB; "?" when it is gone.
kasse_rss_mb() { # NAME
    eval "_p=\$kasse_pid_$1"
    awk '/^VmHWM:/ { printf "%.0f", $2 / 1024; found = 1 } END { if (!found) printf "?" }' \
        "/proc/$_p/status" 2>/dev/null || echo "?"
}

stop_kasse() {
    eval "_p=\$kasse_pid_$1"
    [ -n "$_p" ] || return 0
    if ! kill -0 "$_p" 2>/dev/null; then
        eval "kasse_pid_$1="
        [ "${2:-}" = check ] && { tail -20 "$tmp/$1.err" >&2; die "kasse ($1) died during the benchmark"; }
        return 0
    fi
    kill -TERM "$_p"
    _s=0
    wait "$_p" || _s=$?
    eval "kasse_pid_$1="
    if [ "${2:-}" = check ] && [ "$_s" != 0 ]; then
        tail -20 "$tmp/$1.err" >&2
        die "kasse ($1) exited with $_s after SIGTERM"
    fi
    return 0
}

# kasse_errors NAME: says how many "error" lines the instance logged (and the first three).
kasse_errors() {
    _c=$(grep -c ' kasse error ' "$tmp/$1.err" || true)
    [ "$_c" = 0 ] && return 0
    echo "${BENCH_NAME:-bench}: kasse ($1) logged $_c error lines, the first:"
    grep ' kasse error ' "$tmp/$1.err" | head -3 | sed 's/^/    /'
}

# A throwaway PostgreSQL cluster (tools/pg-test.sh) on a free port, pinned like Kasse (the
# affinity is inherited by pg_ctl, the postmaster and every backend it forks); sets pg_port,
# pg_url (of the postgres database). Its own directory: pg-test.sh hands it to the postgres user
# when run as root, so it cannot live inside $tmp (mode 700).
start_pg() {
    pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/kasse-bench-pg.XXXXXX")
    pg_port=$(free_port)
    pg_url=$($(pin) sh "$root/tools/pg-test.sh" start "$pg_dir" "$pg_port") ||
        die "could not start PostgreSQL (tools/pg-test.sh start $pg_dir $pg_port)"
    if [ -n "$KASSE_PIN" ]; then
        _pm=$(head -1 "$pg_dir/postmaster.pid")
        taskset -a -cp "$KASSE_PIN" "$_pm" >/dev/null
        for _c in $(pgrep -P "$_pm"); do taskset -a -cp "$KASSE_PIN" "$_c" >/dev/null 2>&1 || true; done
    fi
}

pg_version() { psql -X -At "$pg_url" -c 'SHOW server_version' 2>/dev/null | cut -d' ' -f1; }

# create_pg_db NAME → prints the URL for kasse serve --db
create_pg_db() {
    psql -X -q -v ON_ERROR_STOP=1 "$pg_url" -c "CREATE DATABASE $1" >/dev/null ||
        die "could not create database $1"
    echo "postgres://kasse@127.0.0.1:$pg_port/$1"
}

stop_pg() {
    [ -n "$pg_dir" ] && sh "$root/tools/pg-test.sh" stop "$pg_dir"
    pg_dir=""
}

median() { # [file column] (default: stdin, column 1)
    _f=${1:--} _c=${2:-1}
    sort -g -k"$_c","$_c" "$_f" | awk -v c="$_c" '{v[NR]=$c} END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

basic_auth() { # user:secret
    echo "Basic $(printf '%s' "$1" | base64 | tr -d '\n')"
}
