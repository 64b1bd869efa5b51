#!/bin/sh
# Runs a command with KASSE_TEST_PG pointing at a PostgreSQL server: the one already named by
# KASSE_TEST_PG, or else a throwaway cluster started here (tools/pg-test.sh, a temporary
# directory, a free loopback port) and removed when the command ends, whatever its outcome.
# Usage: tools/with-pg.sh COMMAND [ARGS...]   (make api-pg, make contract-pg)
set -e
if [ -n "$KASSE_TEST_PG" ]; then exec "$@"; fi
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/kasse-pg.XXXXXX)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
trap 'sh "$here/pg-test.sh" stop "$dir"' EXIT INT TERM
KASSE_TEST_PG=$(sh "$here/pg-test.sh" start "$dir" "$port")
export KASSE_TEST_PG
echo "with-pg: PostgreSQL at $KASSE_TEST_PG (data in $dir)"
"$@"
