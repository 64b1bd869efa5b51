/* store/pg: the PostgreSQL backend of the store interface (store.h): opening (waiting for the
 * server, migrations), the connection pool, and the write and read transactions. The resource
 * calls are in pg_rows.c, the request-log thread in pg_log.c.
 *
 * Pool. A node holds at most `pool` connections (store_pg_open's argument), opened on first
 * need; a store_write/store_read call takes one for its whole duration (waiting when all are
 * busy) and gives it back. Each prepares its statements on first use.
 *
 * Writes. store_write runs fn inside BEGIN (READ COMMITTED) ... COMMIT. Gets of rows a write
 * may change lock them (FOR UPDATE: the *_LOCK statements), so read-modify-writes serialize on
 * the row. Several nodes and threads write at once, so a transaction can lose a race: a
 * serialization failure (40001), a deadlock (40P01), a unique key taken meanwhile (23505), or
 * an idempotency record a concurrent transaction made (idem_put asks for it). Then the
 * attempt is rolled back whole and fn runs again, after a short randomized pause, at most
 * PG_ATTEMPTS times; after that the caller answers 503 (store.h, Concurrency).
 *
 * Reads run in REPEATABLE READ READ ONLY transactions: one snapshot for every statement of fn
 * (an order page and its total agree), and no locks.
 *
 * A lost connection (the server restarted, the network cut) is never a crash and never a 500:
 * the call answers 503 "the database is unreachable" with Retry-After, and the connection is
 * dropped from the pool and opened again on a later call. A connection that turns out dead at
 * BEGIN (idle while the server restarted) is replaced once transparently. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "store/pg.h"
#include "schema_pg.h"

#define PG_ATTEMPTS 8                 /* runs of fn before a write gives up (503) */
#define PG_BACKOFF_MAX_MS 20
#define PG_RETRY_AFTER_S 5            /* Retry-After when the database is unreachable */
#define PG_STATEMENT_TIMEOUT_MS 30000
#define PG_PING_TIMEOUT_MS 2000
#define PG_MIGRATION_LOCK 323287495525LL   /* pg_advisory_xact_lock key: "Kasse" */
#define PG_WARN_EVERY_MS 10000        /* "cannot connect" lines while the database is away */

/* ---- parameters ---- */

void pg_p_text(struct pg_params *p, const char *s)
{
    if (p->n >= PG_MAX_PARAMS)
        return;
    p->v[p->n] = s;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

void pg_p_i64(struct pg_params *p, int64_t v)
{
    if (p->n >= PG_MAX_PARAMS)
        return;
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)v);
    pg_p_text(p, p->num[p->n]);
}

void pg_p_bytes(struct pg_params *p, const void *b, size_t n)
{
    if (p->n >= PG_MAX_PARAMS)
        return;
    p->v[p->n] = n ? b : "";
    p->len[p->n] = (int)n;
    p->fmt[p->n] = 1;            /* binary: bytea needs no escaping */
    p->n++;
}

/* ---- statements ---- */

/* libpq's messages span lines ("server closed the connection unexpectedly\n\tThis probably
 * means ..."): one line for the log. */
static void one_line(const char *m, char *out, size_t cap)
{
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    snprintf(out, cap, "%.*s", (int)n, m);
    for (char *q = out; *q; q++)
        if (*q == '\n' || *q == '\t')
            *q = ' ';
}

/* Server notices ("relation ... already exists, skipping") are not Kasse's to print. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A failure the transaction may be run again after (store.h, Concurrency). */
static bool retryable(const char *sqlstate)
{
    return strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0 ||
           strcmp(sqlstate, "23505") == 0;
}

/* Records a failed statement on c: the first failure's SQLSTATE, and whether the connection
 * itself is lost (no SQLSTATE: libpq's own error; class 08: connection exception; 57P0x: the
 * server is shutting down or restarting). */
static void record_failure(struct pg_conn *c, PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(c->db) == CONNECTION_BAD || !state || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P0", 4) == 0)
        c->broken = true;
    bool first = !c->failed;
    if (first) {
        c->failed = true;
        snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    }
    /* Races lost are expected (the transaction runs again); a statement after the first
     * failure fails only because of it (25P02). */
    if (first && !(state && retryable(state))) {
        const char *m = res ? PQresultErrorMessage(res) : "";
        char msg[512];
        one_line(*m ? m : PQerrorMessage(c->db), msg, sizeof msg);
        log_error("store: postgresql: %s (%.60s)%s%s", msg, what, state ? " SQLSTATE " : "",
                  state ? state : "");
    }
}

static bool result_ok(PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

PGresult *pg_run(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p)
{
    char name[16];
    snprintf(name, sizeof name, "k%d", (int)id);
    const char *what = pg_stmt_sql[id];
    if (c->broken)
        return NULL;
    if (!c->prepared[id]) {
        PGresult *res = PQprepare(c->db, name, pg_stmt_sql[id], 0, NULL);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
            record_failure(c, res, what);
            PQclear(res);
            return NULL;
        }
        PQclear(res);
        c->prepared[id] = true;
    }
    PGresult *res = PQexecPrepared(c->db, name, p ? p->n : 0, p ? p->v : NULL,
                                   p ? p->len : NULL, p ? p->fmt : NULL, 0);
    if (!res || !result_ok(res)) {
        record_failure(c, res, what);
        PQclear(res);
        return NULL;
    }
    return res;
}

int pg_exec(struct pg_conn *c, const char *sql)
{
    if (c->broken)
        return -1;
    PGresult *res = PQexec(c->db, sql);
    if (!res || !result_ok(res)) {
        record_failure(c, res, sql);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* ---- connections and the pool ---- */

int pg_unreachable(struct kerr *err)
{
    return kerr_unavailable(err, PG_RETRY_AFTER_S, "the database is unreachable");
}

/* Opens a connection; NULL with *msg (libpq's words, never the password) on failure. Ours
 * come first in the list, so what the operator's conninfo says wins. */
static PGconn *connect_db(const char *conninfo, char *msg, size_t cap)
{
    static const char *const keys[] = {"application_name", "connect_timeout", "client_encoding",
                                       "keepalives", "keepalives_idle", "keepalives_interval",
                                       "keepalives_count", "dbname", NULL};
    const char *vals[] = {"kasse", "5", "UTF8", "1", "30", "10", "3", conninfo, NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    if (db && PQstatus(db) == CONNECTION_OK)
        return db;
    one_line(db ? PQerrorMessage(db) : "out of memory", msg, cap);
    PQfinish(db);
    return NULL;
}

static struct pg_conn *conn_new(struct pg_store *s, PGconn *db)
{
    struct pg_conn *c = calloc(1, sizeof *c);
    if (!c) {
        PQfinish(db);
        return NULL;
    }
    c->tx.ops = &pg_ops;
    c->s = s;
    c->db = db;
    PQsetNoticeProcessor(db, ignore_notice, NULL);
    char sql[160];
    snprintf(sql, sizeof sql, "SET synchronous_commit = on; SET statement_timeout = %d",
             PG_STATEMENT_TIMEOUT_MS);
    if (pg_exec(c, sql) != 0) {
        PQfinish(db);
        free(c);
        return NULL;
    }
    return c;
}

static void conn_free(struct pg_conn *c)
{
    if (!c)
        return;
    PQfinish(c->db);
    free(c);
}

/* A connection attempt failed: a line at most every PG_WARN_EVERY_MS, not one per request. */
static void say_unreachable(struct pg_store *s, const char *msg)
{
    int64_t now = clock_monotonic_ms();
    pthread_mutex_lock(&s->mu);
    bool say = !s->warned_ms || now - s->warned_ms >= PG_WARN_EVERY_MS;
    uint64_t more = s->failed_connects;
    if (say) {
        s->warned_ms = now;
        s->failed_connects = 0;
    } else {
        s->failed_connects++;
    }
    pthread_mutex_unlock(&s->mu);
    __atomic_store_n(&s->down, true, __ATOMIC_RELAXED);
    if (say)
        log_error("store: cannot connect to PostgreSQL at %s: %s (%llu more failed attempts "
                  "since the last line)", s->where, msg, (unsigned long long)more);
}

struct pg_conn *pg_acquire(struct pg_store *s, int64_t wait_ms, struct kerr *err)
{
    struct timespec until;
    if (wait_ms >= 0)
        clock_deadline_in(&until, wait_ms);
    pthread_mutex_lock(&s->mu);
    while (!s->idle && s->pool_open >= s->pool_max) {
        int rc = wait_ms >= 0 ? pthread_cond_timedwait(&s->freed, &s->mu, &until)
                              : pthread_cond_wait(&s->freed, &s->mu);
        if (rc == ETIMEDOUT && !s->idle && s->pool_open >= s->pool_max) {
            pthread_mutex_unlock(&s->mu);
            kerr_unavailable(err, PG_RETRY_AFTER_S, "every database connection is busy");
            return NULL;
        }
    }
    struct pg_conn *c = s->idle;
    if (c) {
        s->idle = c->next;
        pthread_mutex_unlock(&s->mu);
        c->next = NULL;
        if (PQstatus(c->db) != CONNECTION_OK) {
            /* Lost while idle: open a new one in its place (its slot stays counted). */
            conn_free(c);
            c = NULL;
        } else {
            return c;
        }
    } else {
        s->pool_open++;          /* the slot is ours while we connect */
        pthread_mutex_unlock(&s->mu);
    }
    char msg[512];
    PGconn *db = connect_db(s->conninfo, msg, sizeof msg);
    if (db)
        c = conn_new(s, db);
    else
        say_unreachable(s, msg);
    if (c && __atomic_exchange_n(&s->down, false, __ATOMIC_RELAXED))
        log_info("store: PostgreSQL at %s answers again", s->where);
    if (!c) {
        pthread_mutex_lock(&s->mu);
        s->pool_open--;
        pthread_cond_signal(&s->freed);
        pthread_mutex_unlock(&s->mu);
        pg_unreachable(err);
        return NULL;
    }
    return c;
}

void pg_release(struct pg_store *s, struct pg_conn *c)
{
    if (!c)
        return;
    bool drop = c->broken || PQstatus(c->db) != CONNECTION_OK ||
                PQtransactionStatus(c->db) != PQTRANS_IDLE;
    c->in_write = c->failed = c->retry = false;
    c->sqlstate[0] = '\0';
    if (drop) {
        conn_free(c);
        c = NULL;
    }
    pthread_mutex_lock(&s->mu);
    if (c) {
        c->next = s->idle;
        s->idle = c;
    } else {
        s->pool_open--;
    }
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->mu);
}

/* A connection with a transaction begun by `begin`; one dead at BEGIN (lost while idle) is
 * replaced once. NULL with err set (503). */
static struct pg_conn *begin(struct pg_store *s, const char *sql, bool write, struct kerr *err)
{
    for (int tries = 0; tries < 2; tries++) {
        struct pg_conn *c = pg_acquire(s, -1, err);
        if (!c)
            return NULL;
        c->in_write = write;
        if (pg_exec(c, sql) == 0)
            return c;
        bool broken = c->broken;
        pg_release(s, c);
        if (!broken)
            return kerr_internal(err, "store: cannot begin a transaction"), NULL;
    }
    pg_unreachable(err);
    return NULL;
}

/* A pause before the next attempt: random in [1, min(2^attempt, 20)] ms. */
static void backoff(int attempt)
{
    static _Thread_local uint64_t x;
    if (!x)
        x = (uint64_t)clock_monotonic_us() ^ (uint64_t)(uintptr_t)&x ^ 0x9e3779b97f4a7c15ULL;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int64_t cap = attempt < 5 ? (int64_t)1 << attempt : PG_BACKOFF_MAX_MS;
    if (cap > PG_BACKOFF_MAX_MS)
        cap = PG_BACKOFF_MAX_MS;
    int64_t ms = 1 + (int64_t)(x % (uint64_t)cap);
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(ms * 1000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int pg_write(struct store *base, store_tx_fn fn, void *arg, struct kerr *err)
{
    struct pg_store *s = (struct pg_store *)base;
    bool reran = false;
    for (int attempt = 0; attempt < PG_ATTEMPTS + (s->rerun ? 1 : 0); attempt++) {
        if (attempt > 0) {
            if (err)
                kerr_clear(err);
            backoff(attempt);
        }
        struct pg_conn *c = begin(s, "BEGIN ISOLATION LEVEL READ COMMITTED", true, err);
        if (!c)
            return -1;
        int rc = fn(&c->tx, arg, err);
        if (s->rerun && !reran && !c->failed && !c->broken) {
            /* KASSE_STORE_RERUN=1: what a lost race does, once per call (store.h). */
            c->retry = true;
            reran = true;
        }
        if (!c->failed && !c->retry && !c->broken) {
            if (rc != 0) {       /* fn's own failure (a 4xx, ...): nothing of it stays */
                pg_exec(c, "ROLLBACK");
                pg_release(s, c);
                return rc;
            }
            if (pg_exec(c, "COMMIT") == 0) {
                pg_release(s, c);
                return 0;
            }
        }
        /* A statement failed (or COMMIT did), or an op asked to run again. */
        if (c->broken) {
            pg_release(s, c);
            if (err)
                kerr_clear(err);
            return pg_unreachable(err);
        }
        bool again = c->retry || retryable(c->sqlstate);
        pg_exec(c, "ROLLBACK");
        pg_release(s, c);
        if (!again)
            return rc != 0 ? rc : kerr_internal(err, "store: a statement failed");
    }
    if (err)
        kerr_clear(err);
    log_error("store: a write transaction lost %d races in a row; answered 503", PG_ATTEMPTS);
    return kerr_unavailable(err, 1, "the database is busy: the request was not applied; "
                                    "retry later");
}

int pg_read(struct store *base, store_tx_fn fn, void *arg, struct kerr *err)
{
    struct pg_store *s = (struct pg_store *)base;
    struct pg_conn *c = begin(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", false, err);
    if (!c)
        return -1;
    int rc = fn(&c->tx, arg, err);
    if (!c->broken && pg_exec(c, c->failed ? "ROLLBACK" : "COMMIT") != 0 && !c->broken)
        pg_exec(c, "ROLLBACK");
    if (c->broken) {
        pg_release(s, c);
        if (err)
            kerr_clear(err);
        return pg_unreachable(err);
    }
    pg_release(s, c);
    return rc;
}

/* SELECT 1 within PG_PING_TIMEOUT_MS, waiting on the socket: a server that stopped answering
 * (not only one that refuses connections) is reported, and its connection dropped. */
int pg_ping(struct store *base, struct kerr *err)
{
    struct pg_store *s = (struct pg_store *)base;
    int64_t deadline = clock_monotonic_ms() + PG_PING_TIMEOUT_MS;
    struct pg_conn *c = pg_acquire(s, PG_PING_TIMEOUT_MS, err);
    if (!c)
        return -1;
    bool ok = PQsendQuery(c->db, "SELECT 1") == 1;
    bool got = false;
    while (ok) {
        if (PQconsumeInput(c->db) != 1) {
            ok = false;
            break;
        }
        if (!PQisBusy(c->db)) {
            PGresult *res = PQgetResult(c->db);
            if (!res)
                break;           /* every result read */
            if (PQresultStatus(res) == PGRES_TUPLES_OK)
                got = true;
            else
                ok = false;
            PQclear(res);
            continue;
        }
        int64_t left = deadline - clock_monotonic_ms();
        struct pollfd pfd = {.fd = PQsocket(c->db), .events = POLLIN};
        if (left <= 0 || pfd.fd < 0 || poll(&pfd, 1, (int)left) <= 0) {
            ok = false;          /* the server did not answer in time */
            break;
        }
    }
    if (!ok || !got) {
        c->broken = true;        /* a query may be in flight: the connection cannot be reused */
        pg_release(s, c);
        return kerr_unavailable(err, PG_RETRY_AFTER_S, "the database does not answer");
    }
    pg_release(s, c);
    return 0;
}

/* ---- migrations ---- */

/* Applies every "-- migration N" block of schema_pg.sql newer than kasse_schema's version, in
 * one transaction holding an advisory lock: nodes that start together wait for each other, and
 * the second finds the work done. */
static int migrate(struct pg_conn *c)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)", PG_MIGRATION_LOCK);
    if (pg_exec(c, "BEGIN") != 0 || pg_exec(c, sql) != 0 ||
        pg_exec(c, "CREATE TABLE IF NOT EXISTS kasse_schema (version INTEGER NOT NULL)") != 0)
        goto fail;
    PGresult *res = PQexec(c->db, "SELECT coalesce(max(version), 0) FROM kasse_schema");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        record_failure(c, res, "schema version");
        PQclear(res);
        goto fail;
    }
    int version = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10), applied = version;
    PQclear(res);

    const char *marker = "-- migration ";
    const char *p = strstr(schema_pg_sql, marker);
    while (p) {
        int n = 0;
        const char *q = p + strlen(marker);
        while (*q >= '0' && *q <= '9')
            n = n * 10 + (*q++ - '0');
        const char *next = strstr(q, marker);
        if (n > applied) {
            size_t len = next ? (size_t)(next - q) : strlen(q);
            char *block = mem_strndup(q, len);
            int rc = block ? pg_exec(c, block) : -1;
            free(block);
            if (rc != 0)
                goto fail;
            log_info("store: applied PostgreSQL migration %d", n);
            applied = n;
        }
        p = next;
    }
    if (applied != version) {
        snprintf(sql, sizeof sql, "DELETE FROM kasse_schema; INSERT INTO kasse_schema VALUES (%d)",
                 applied);
        if (pg_exec(c, sql) != 0)
            goto fail;
    }
    if (pg_exec(c, "COMMIT") != 0)
        goto fail;
    return 0;
fail:
    if (!c->broken)
        pg_exec(c, "ROLLBACK");
    return -1;
}

/* ---- opening and closing ---- */

bool store_is_pg(const char *db)
{
    if (!db)
        return false;
    return strncmp(db, "postgres://", 11) == 0 || strncmp(db, "postgresql://", 13) == 0 ||
           strchr(db, '=') != NULL;
}

/* host:port/dbname from the conninfo, for log lines: never the password. */
static void describe(const char *conninfo, char *out, size_t cap)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    const char *host = NULL, *port = NULL, *dbname = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (strcmp(o->keyword, "host") == 0 || (strcmp(o->keyword, "hostaddr") == 0 && !host))
            host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            dbname = o->val;
    }
    snprintf(out, cap, "%s:%s%s%s", host ? host : "localhost", port ? port : "5432",
             dbname ? "/" : "", dbname ? dbname : "");
    PQconninfoFree(opts);
}

void pg_close(struct store *base)
{
    struct pg_store *s = (struct pg_store *)base;
    if (!s)
        return;
    pg_log_stop(s);              /* writes what is queued first */
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    struct pg_conn *c = s->idle;
    s->idle = NULL;
    int open = s->pool_open;
    pthread_mutex_unlock(&s->mu);
    int closed = 0;
    for (struct pg_conn *next; c; c = next) {
        next = c->next;
        conn_free(c);
        closed++;
    }
    if (closed != open)
        log_error("store: %d PostgreSQL connections still in use at close", open - closed);
    pthread_cond_destroy(&s->freed);
    pthread_mutex_destroy(&s->mu);
    free(s->conninfo);
    free(s);
}

struct store *store_pg_open(const char *conninfo, int pool, int wait_s, struct kerr *err)
{
    struct pg_store *s = calloc(1, sizeof *s);
    if (!s) {
        kerr_internal(err, "store: out of memory");
        return NULL;
    }
    s->base.ops = &pg_ops;
    s->pool_max = pool > 0 ? pool : 1;
    const char *rerun = getenv("KASSE_STORE_RERUN");
    s->rerun = rerun && strcmp(rerun, "1") == 0;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->freed, NULL);
    s->conninfo = strdup(conninfo);
    if (!s->conninfo) {
        pg_close(&s->base);
        kerr_internal(err, "store: out of memory");
        return NULL;
    }
    describe(conninfo, s->where, sizeof s->where);

    /* Wait for the server: a try a second, up to wait_s seconds (a try at 0 s, ..., wait_s s). */
    int tries = (wait_s > 0 ? wait_s : 0) + 1;
    PGconn *db = NULL;
    char msg[512] = "";
    for (int i = 1; i <= tries; i++) {
        int64_t started = clock_monotonic_ms();
        db = connect_db(conninfo, msg, sizeof msg);
        if (db)
            break;
        log_info("store: waiting for PostgreSQL at %s (attempt %d/%d): %s", s->where, i, tries,
                 msg);
        int64_t left = 1000 - (clock_monotonic_ms() - started);
        if (i < tries && left > 0)
            usleep((useconds_t)left * 1000);
    }
    struct pg_conn *c = db ? conn_new(s, db) : NULL;
    if (!c) {
        kerr_set(err, 503, "SERVICE_UNAVAILABLE", "cannot connect to PostgreSQL at %s: %s",
                 s->where, db ? "setting up the connection failed" : msg);
        pg_close(&s->base);
        return NULL;
    }
    s->pool_open = 1;
    if (migrate(c) != 0) {
        conn_free(c);
        s->pool_open = 0;
        kerr_set(err, 500, "INTERNAL_SERVER_ERROR", "cannot migrate the PostgreSQL database at %s",
                 s->where);
        pg_close(&s->base);
        return NULL;
    }
    pg_release(s, c);
    if (pg_log_start(s) != 0) {
        kerr_set(err, 500, "INTERNAL_SERVER_ERROR", "cannot start the request log");
        pg_close(&s->base);
        return NULL;
    }
    log_info("store: PostgreSQL at %s, up to %d connections", s->where, s->pool_max);
    return &s->base;
}
