#!/bin/sh
# A throwaway PostgreSQL cluster for tests: `tools/pg-test.sh start DIR PORT` runs initdb in DIR
# (as the unprivileged `postgres` user when run as root: PostgreSQL refuses to run as root),
# starts the server on 127.0.0.1:PORT with trust authentication and prints the URL a test gives
# `kasse serve --db` (a database per Kasse instance is made from it by the harness);
# `tools/pg-test.sh stop DIR` stops it and removes DIR. Debian's postgresql package (15).
set -e
cmd=$1 dir=$2 port=${3:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "pg-test: PostgreSQL server binaries not found (apt install postgresql)" >&2; exit 1; }
as=""
if [ "$(id -u)" = 0 ]; then as="runuser -u postgres --"; fi
case "$cmd" in
start)
    mkdir -p "$dir"
    [ -n "$as" ] && chown postgres "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
        $as "$bin/initdb" -D "$dir" -U kasse --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    # Sized for the tests: up to ~40 Kasse instances alive at once (4 connections each, and two
    # nodes with their full pools); fsync stays on (durability is what is tested).
    $as "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=400 -c shared_buffers=128MB" start >/dev/null
    echo "postgres://kasse@127.0.0.1:$port/postgres"
    ;;
stop)
    [ -f "$dir/PG_VERSION" ] && $as "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
    rm -rf "$dir"
    ;;
*) echo "usage: pg-test.sh start DIR [PORT] | stop DIR" >&2; exit 2 ;;
esac
