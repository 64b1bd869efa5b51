#!/bin/sh
# Installs the Debian packages Kasse needs to build, test and benchmark, if any are missing.
# Runs apt-get only when something is missing (as root, or through sudo).
set -e
# Profiles: "run" (build and serve), "test" (the default: also what make test needs: cmocka,
# clang for the fuzzers, Node for the black-box tests, the sqlite3 shell to seed the order-list
# test at scale, chromium for the browser tests, the PostgreSQL server for the PostgreSQL
# backend's tests: tools/pg-test.sh), and
# KASSE_DEPS_BENCH=1 adds the benchmark's tools (wrk, nginx, taskset, curl, node; the sqlite3 shell
# for bench/orders_list.sh; the PostgreSQL server and psql for its pg rows), KASSE_DEPS_SOAK=1 the
# soak's (node, sqlite3).
need="gcc make pkg-config libjansson-dev libsqlite3-dev libssl-dev
libcurl4-openssl-dev libqrencode-dev libpq-dev"
[ "${KASSE_DEPS_PROFILE:-test}" = test ] &&
    need="$need libcmocka-dev clang chromium fonts-liberation zbar-tools sqlite3 nodejs npm
    postgresql"
[ "${KASSE_DEPS_BENCH:-0}" = 1 ] &&
    need="$need wrk nginx-light util-linux nodejs npm curl sqlite3 postgresql"
[ "${KASSE_DEPS_SOAK:-0}" = 1 ] && need="$need nodejs sqlite3"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# node and npm may come from elsewhere than Debian (as on the project's machines): accept them.
case "$missing" in *nodejs*) command -v node >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ nodejs//g');; esac
case "$missing" in *npm*) command -v npm >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ npm//g');; esac
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
