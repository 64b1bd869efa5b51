#!/bin/sh
# The cost of GET /kasse/v1/orders as the store grows (issue 9 item 9). See bench/README.md.
#
# For each size in BENCH_ORDERS: a store with that many orders for merchant A (4 in 5
# AUTHORIZED, 1 in 5 CAPTURED, created over 19 days, several per second) and 300 for merchant
# B, seeded with the sqlite3 shell from orders made through the API (as tests/api/26 does);
# then, with the release build:
#   - latency: each query BENCH_REQS times in a row on one kept-alive connection (curl), the
#     median of each run, the median of BENCH_RUNS runs;
#   - isolation: wrk with BENCH_CONNS connections on merchant A's deepest query while curl times
#     merchant B's default page; B's median and p99 are printed next to B alone.
#
# Environment (all optional):
#   KASSE_BIN       (default build/kasse)      BENCH_ORDERS  (default "10 100000 1000000")
#   BENCH_RUNS      (default 5)                BENCH_REQS    (default 200)
#   BENCH_CONNS     (default 48)               BENCH_DURATION (seconds of wrk, default 5)
#   KASSE_THREADS   (default 32)
#   BENCH_PG        1: run on PostgreSQL instead, a throwaway cluster (bench/lib.sh start_pg);
#                   or a server URL (postgres://user@host:port/db) to use; a database per size
#                   (created and dropped here), seeded with psql
#   BENCH_ISOLATION (default 1; 0 skips the wrk part)
set -eu

BENCH_NAME=bench
BENCH_MERCHANTS="a:secret-a-0123456789,b:secret-b-0123456789"
KASSE_START_WAIT=60
# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
SIZES=${BENCH_ORDERS:-"10 100000 1000000"}
RUNS=${BENCH_RUNS:-5}
REQS=${BENCH_REQS:-200}
CONNS=${BENCH_CONNS:-48}
DURATION=${BENCH_DURATION:-5}
KASSE_THREADS=${KASSE_THREADS:-32}

BENCH_PG=${BENCH_PG:-}
ISOLATION=${BENCH_ISOLATION:-1}
if [ -n "$BENCH_PG" ]; then need_tools psql wrk curl node; else need_tools sqlite3 wrk curl node; fi
bench_init kasse-bench-orders
if [ "$BENCH_PG" = 1 ]; then
    start_pg
    BENCH_PG=$pg_url
fi
pg_db=""
# The server URL with another database name.
pg_url_for() { echo "$BENCH_PG" | sed "s|/[^/?]*\(?.*\)\{0,1\}\$|/$1\1|"; }
drop_pg_db() {
    [ -n "$pg_db" ] && psql "$BENCH_PG" -qAtX -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
    pg_db=""
}

port=$(free_port)
base="http://127.0.0.1:$port"
auth_a=$(basic_auth a:secret-a-0123456789)
auth_b=$(basic_auth b:secret-b-0123456789)

kasse_up() { start_kasse kasse "$port" "$1" --threads "$KASSE_THREADS"; } # db
kasse_down() { stop_kasse kasse; }

json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

place_order() { # auth → order id
    s=$(curl -s -H "Authorization: $1" -H 'Content-Type: application/json' \
        --data-binary "@$here/se_example.json" "$base/payments/v1/sessions" | json_field session_id)
    t=$(curl -s -X POST -H "Authorization: $1" -H 'Content-Type: application/json' -d '{}' \
        "$base/kasse/v1/sessions/$s/authorize" | json_field authorization_token)
    body=$(node -e 'const b=require(process.argv[1]);const o={};for(const k of ["purchase_country","purchase_currency","locale","order_amount","order_tax_amount","order_lines"])o[k]=b[k];console.log(JSON.stringify(o))' "$here/se_example.json")
    curl -s -H "Authorization: $1" -H 'Content-Type: application/json' -d "$body" \
        "$base/payments/v1/authorizations/$t/order" | json_field order_id
}

# ---- the templates: made through the API (once; on PostgreSQL in each size's database) ----
make_templates() {
    tmpl_a=$(place_order "$auth_a")
    tmpl_c=$(place_order "$auth_a")
    tmpl_b=$(place_order "$auth_b")
    [ -n "$tmpl_a" ] && [ -n "$tmpl_c" ] && [ -n "$tmpl_b" ] || die "could not place the template orders"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $auth_a" \
        -H 'Content-Type: application/json' -d '{"captured_amount":9500}' \
        "$base/ordermanagement/v1/orders/$tmpl_c/captures")
    [ "$code" = 201 ] || die "capture of the template returned $code"
}
if [ -z "$BENCH_PG" ]; then
    kasse_up "$tmp/template.db"
    make_templates
    kasse_down
fi

# n copies of a template (ids first..first+n-1 where the filter holds); as tests/api/26.
seed_sql() { # template first n filter
    cat <<EOF
WITH RECURSIVE s(i) AS (SELECT $2 UNION ALL SELECT i + 1 FROM s WHERE i < $2 + $3 - 1),
c AS (SELECT i, printf('%08x-0000-7000-8000-%012x', i, i) AS id,
             i * 97 % 86400000 + (i % 10) * 172800000 AS d FROM s WHERE $4)
INSERT INTO orders(id, merchant_id, session_id, status, fraud_status, order_amount,
                   captured_amount, refunded_amount, created_at, expires_at, body,
                   list_status, list_until, list_after)
SELECT c.id, t.merchant_id, t.session_id, t.status, t.fraud_status, t.order_amount,
       t.captured_amount, t.refunded_amount, t.created_at - c.d, t.expires_at - c.d,
       json_set(t.body, '\$.order_id', c.id, '\$.merchant_reference1', 'R' || c.i),
       t.list_status, t.list_until - c.d, t.list_after
FROM c, orders t WHERE t.id = '$1';
EOF
}

# The same copies in PostgreSQL's SQL (the body through jsonb, as tests/api/26).
seed_pg_sql() { # template first n filter
    cat <<EOF
INSERT INTO orders(id, merchant_id, session_id, status, fraud_status, order_amount,
                   captured_amount, refunded_amount, created_at, expires_at, body,
                   list_status, list_until, list_after)
SELECT c.id, t.merchant_id, t.session_id, t.status, t.fraud_status, t.order_amount,
       t.captured_amount, t.refunded_amount, t.created_at - c.d, t.expires_at - c.d,
       (t.body::jsonb || jsonb_build_object('order_id', c.id, 'merchant_reference1', 'R' || c.i))::text,
       t.list_status, t.list_until - c.d, t.list_after
FROM (SELECT i, lpad(to_hex(i), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(i), 12, '0') AS id,
             i::bigint * 97 % 86400000 + (i % 10) * 172800000::bigint AS d
      FROM generate_series($2, $2 + $3 - 1) AS i WHERE $4) c, orders t WHERE t.id = '$1';
EOF
}

p99() { sort -g | awk '{v[NR]=$1} END { i = int(NR * 0.99); if (i < 1) i = 1; print v[i] }'; }

# Times path REQS times on one connection; prints each time_total in ms.
times_ms() { # auth path
    : > "$tmp/urls"
    n=0
    while [ "$n" -lt "$REQS" ]; do
        printf 'url = "%s"\noutput = "/dev/null"\n' "$base$2" >> "$tmp/urls"
        n=$((n + 1))
    done
    curl -s -H "Authorization: $1" -K "$tmp/urls" -w '%{time_total}\n' |
        awk '{printf "%.3f\n", $1 * 1000}'
}

echo "bench: $KASSE_BIN, ${BENCH_PG:+PostgreSQL, }--threads $KASSE_THREADS; $RUNS runs x $REQS requests per query, median of run medians (ms)"
printf '%-9s %-44s %9s %6s %10s\n' orders query total items 'median ms'
for size in $SIZES; do
    n=$((size - 2))
    [ "$n" -ge 0 ] || n=0
    if [ -n "$BENCH_PG" ]; then
        pg_db="kasse_bench_$$_$size"
        psql "$BENCH_PG" -qAtX -c "CREATE DATABASE $pg_db" >/dev/null
        db=$(pg_url_for "$pg_db")
        kasse_up "$db"
        make_templates
        started=$(date +%s)
        { echo 'BEGIN;'
          seed_pg_sql "$tmpl_a" 1 "$n" 'i % 5 <> 0'
          seed_pg_sql "$tmpl_c" 1 "$n" 'i % 5 = 0'
          seed_pg_sql "$tmpl_b" 100000000 300 true
          echo 'COMMIT;'
          echo 'VACUUM ANALYZE;'; } | psql "$db" -qAtX -v ON_ERROR_STOP=1 >/dev/null
        seeded=$(($(date +%s) - started))
    else
        db="$tmp/kasse-$size.db"
        cp "$tmp/template.db" "$db"
        started=$(date +%s)
        { echo 'BEGIN;'
          seed_sql "$tmpl_a" 1 "$n" 'i % 5 <> 0'
          seed_sql "$tmpl_c" 1 "$n" 'i % 5 = 0'
          seed_sql "$tmpl_b" 100000000 300 1
          echo 'COMMIT;'; } | sqlite3 -bail "$db" >/dev/null
        seeded=$(($(date +%s) - started))
        kasse_up "$db"
    fi
    total=$(curl -s -H "Authorization: $auth_a" "$base/kasse/v1/orders?limit=1" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
    [ "$total" = "$size" ] || die "store of $size has total $total"
    captured=$(curl -s -H "Authorization: $auth_a" "$base/kasse/v1/orders?limit=1&status=CAPTURED" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
    newest=$(curl -s -H "Authorization: $auth_a" "$base/kasse/v1/orders?limit=1" | sed -n 's/.*"created_at":"\([^"]*\)".*/\1/p')
    day_ago=$(node -e 'console.log(new Date(Date.parse(process.argv[1]) - 5 * 86400000).toISOString())' "$newest")
    day_end=$(node -e 'console.log(new Date(Date.parse(process.argv[1]) - 4 * 86400000).toISOString())' "$newest")
    echo "         (seeded in ${seeded} s)"
    half=$((size / 2))
    for q in "/kasse/v1/orders?limit=10" \
             "/kasse/v1/orders?reference=R$((size / 2))" \
             "/kasse/v1/orders?reference=R$((size / 2))&status=AUTHORIZED&limit=20" \
             "/kasse/v1/orders?limit=1&offset=$half" \
             "/kasse/v1/orders?status=AUTHORIZED&limit=1" \
             "/kasse/v1/orders?status=CAPTURED&limit=1&offset=$((captured / 2))" \
             "/kasse/v1/orders?created_after=$day_ago&created_before=$day_end&limit=1" \
             "/kasse/v1/orders?status=AUTHORIZED&created_after=$day_ago&limit=1&offset=$((size / 20))" \
             "/kasse/v1/orders" \
             "/kasse/v1/orders?limit=100&offset=$half" \
             "/kasse/v1/orders?status=CAPTURED&limit=100&offset=$((captured / 2))"; do
        reply=$(curl -s -H "Authorization: $auth_a" "$base$q")
        t=$(echo "$reply" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
        items=$(echo "$reply" | grep -o '"order_id"' | wc -l)
        times_ms "$auth_a" "$q" > /dev/null             # warm the caches
        r=1
        : > "$tmp/medians"
        while [ "$r" -le "$RUNS" ]; do
            times_ms "$auth_a" "$q" | median >> "$tmp/medians"
            r=$((r + 1))
        done
        printf '%-9s %-44s %9s %6s %10s\n' "$size" "$(echo "$q" | sed 's|/kasse/v1/orders||; s|created_after=[^&]*|after=d-5|; s|created_before=[^&]*|before=d-4|')" \
            "$t" "$items" "$(median < "$tmp/medians")"
    done
    if [ "$ISOLATION" = 0 ]; then
        kasse_down
        drop_pg_db
        rm -f "$db" "$db-wal" "$db-shm" "$tmp/kasse-$size-log.db"*
        continue
    fi
    # Isolation: merchant A's heaviest query from CONNS connections; merchant B's page meanwhile.
    heavy="/kasse/v1/orders?status=CAPTURED&limit=100&offset=$((captured / 2))"
    times_ms "$auth_b" "/kasse/v1/orders" > "$tmp/b_alone"
    BENCH_DIR="$here" BENCH_AUTH="$auth_a" BENCH_PATH="$heavy" \
        wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$here/orders_list.lua" "$base" \
        > "$tmp/wrk.out" 2>&1 &
    wrk_pid=$!
    bg_pids=$wrk_pid
    sleep 1
    times_ms "$auth_b" "/kasse/v1/orders" > "$tmp/b_loaded"
    wait "$wrk_pid" || { cat "$tmp/wrk.out" >&2; die "wrk failed"; }
    bg_pids=""
    line=$(grep '^RESULT ' "$tmp/wrk.out")
    echo "$line" | grep -q 'non2xx=0 ' || die "wrk saw errors: $line"
    printf '%-9s A: %s connections on the deep CAPTURED page: %s req/s, p99 %s ms; B alone: median %s p99 %s ms; B meanwhile: median %s p99 %s ms\n' \
        "$size" "$CONNS" "$(echo "$line" | sed 's/.*rps=\([0-9]*\).*/\1/')" \
        "$(echo "$line" | sed 's/.*p99_us=\([0-9]*\).*/\1/' | awk '{printf "%.2f", $1/1000}')" \
        "$(median < "$tmp/b_alone")" "$(p99 < "$tmp/b_alone")" \
        "$(median < "$tmp/b_loaded")" "$(p99 < "$tmp/b_loaded")"
    kasse_down
    drop_pg_db
    rm -f "$db" "$db-wal" "$db-shm" "$tmp/kasse-$size-log.db"*
done
