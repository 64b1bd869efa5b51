/* store: Kasse's one persistence interface (a struct of function pointers), chosen once at
 * start. api/ and core/ only ever talk to this header, so a PostgreSQL backend can be added
 * beside store/sqlite.c without touching them.
 *
 * Transactions. A handler that writes passes one function to store_write(); the backend runs it
 * atomically (all of it or none of it) and returns only once the result is durable. A handler
 * that reads passes one function to store_read(). Inside those functions the resource calls
 * below take the `struct store_tx *` they were given. Every resource call is scoped by
 * merchant_id: another merchant's id is simply "not found".
 *
 * Concurrency (issue 10). No rule may rest on there being one writer: PostgreSQL runs many
 * write transactions at once, on several nodes. So, inside store_write():
 *  - a get of a row that a write may change (session, authorization, order, customer token,
 *    HPP session, idempotency record, meta) locks that row until the transaction ends
 *    (SELECT ... FOR UPDATE): a read-modify-write of it cannot interleave with another's.
 *    Merchants are read without a lock. Rows that do not exist yet are not locked; inserts
 *    that race are settled by unique keys (below).
 *  - a backend with concurrent writers may run fn more than once: after a serialization
 *    failure, a deadlock, or a unique key taken by a concurrent transaction (two nodes
 *    recording one idempotency key, adding one meta key, inserting one merchant), the
 *    transaction is rolled back whole and fn runs again, a bounded number of times; only
 *    then is the failure the caller's (503, never a 5xx of another kind). So fn keeps no
 *    state across attempts: whatever it fills in arg it first resets (or frees).
 * SQLite's single writer satisfies the same contract trivially (locks are implied, nothing is
 * retried); `KASSE_STORE_RERUN=1` makes it run every job twice (the first attempt rolled
 * back), so the test suites prove every fn safe to run again on the embedded backend too.
 *
 * Ownership: rows filled by a get call own their strings (malloc'ed); free them with the
 * matching *_row_free. Inputs are borrowed for the duration of the call. */
#ifndef KASSE_STORE_H
#define KASSE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/kerr.h"

struct store;
struct store_ops;

/* A transaction handle. Backends embed it as the first member of their own state. */
struct store_tx {
    const struct store_ops *ops;
};

/* Resource calls return 0, STORE_NOT_FOUND (get calls: no such row for this merchant) or -1
 * (a database failure, already logged by the backend; callers answer kerr_internal). */
#define STORE_NOT_FOUND 1
/* meta_add: the key is already there (added by someone else). */
#define STORE_EXISTS 2
/* idem_put: a concurrent transaction won the race; this one will be run again (store.h,
 * Concurrency). The caller fails its fn quietly: it is not an error. */
#define STORE_RETRY 3

typedef int (*store_tx_fn)(struct store_tx *tx, void *arg, struct kerr *err);

struct merchant_row {
    int64_t id;
    char *username;
    uint8_t secret_mac[32];
    char *name;
    char *categories;        /* "klarna" or "classic" */
    int64_t created_at;
};

struct session_row {
    char id[37];
    int64_t merchant_id;
    char status[16];         /* "incomplete", "complete" */
    int64_t created_at, updated_at, expires_at;   /* ms since epoch */
    char *client_token;
    char *body;              /* the stored Klarna session JSON */
};

struct auth_row {
    char token[37];
    int64_t merchant_id;
    char session_id[37];
    int64_t issued_at;       /* ms */
    char state[16];          /* "active", "consumed", "cancelled", "superseded" */
    char *body;              /* {payment_method_category, fraud..., snapshot} */
};

struct order_row {
    char id[37];
    int64_t merchant_id;
    char session_id[37];
    char status[24];
    char fraud_status[16];
    int64_t order_amount, captured_amount, refunded_amount;
    int64_t created_at, expires_at;
    char *body;              /* the order object (contract 5.2) */
    /* What the merchant's order list files the order under (order_page): the status it reads
     * as, and, while it can still change by itself, the instant it does (list_until; INT64_MAX:
     * never) and the status from then on (list_after; "" when none). The caller computes them
     * (core/order.h order_status_schedule) and every insert and update carries them; get
     * returns them, so a read-modify-write that does not touch the status keeps them. */
    char list_status[24];
    int64_t list_until;
    char list_after[24];
};

/* One page of the merchant's order list. Matches: created_at in [from, to) and, when status is
 * not NULL, the status the order reads as at now (list_status, or list_after once list_until
 * <= now). Newest first: created_at, then id, descending. */
struct order_page_query {
    int64_t merchant_id;
    const char *status;      /* NULL: any */
    int64_t from, to;        /* ms */
    int64_t now;             /* ms, Kasse's clock */
    int64_t offset;          /* matches skipped */
    size_t limit;            /* ids wanted (the caller's array holds this many) */
};

struct ctoken_row {
    char id[37];
    int64_t merchant_id;
    char status[16];         /* "ACTIVE", "CANCELLED" */
    int64_t created_at;
    char *body;
};

struct outbox_row {
    int64_t id;
    int64_t merchant_id;
    char kind[24];           /* "authorization", "fraud_notification" */
    char session_id[37];     /* "" when none */
    char order_id[37];       /* "" when none */
    char *url;               /* "" when there is nothing to call */
    char *body;              /* JSON text POSTed to url */
    int64_t created_at, due_at;   /* ms, Kasse's clock */
    int attempts;
    char status[16];         /* "pending", "delivered", "failed", "no_url" */
    char endpoint[280];      /* "https://host:443" (outbox_endpoint); "" when url is "" */
    /* The claim of the node delivering it (outbox_claim): until this instant (wall-clock
     * ms, not Kasse's test clock, so advancing the test clock does not break claims), no
     * other node takes the event. 0: not claimed. */
    int64_t lease_until;
};

struct hpp_row {
    char id[37];             /* the HPP session id (UUIDv7) */
    char page_id[37];        /* the hosted page's key (UUIDv4) */
    int64_t merchant_id;
    char kp_session_id[37];
    char status[16];         /* WAITING, IN_PROGRESS, ... (core/hpp.h) */
    int64_t created_at, updated_at, expires_at;   /* ms, Kasse's clock */
    char *body;              /* {request, outcome?, customer?} */
};

struct message_row {
    int64_t id;
    int64_t merchant_id;
    char hpp_session_id[37];
    char *body;              /* the message as GET /kasse/v1/messages shows it */
    int64_t created_at;
};

struct outbox_attempt {
    int64_t at;
    int http_status;         /* 0: no HTTP answer */
    char error[256];
    int64_t duration_ms;
    char response[256];      /* the start of the answer's body, valid UTF-8 ("" when none) */
};

struct idem_row {
    int64_t merchant_id;
    char *key;
    int64_t created_at;      /* ms, Kasse's clock */
    char method[16];
    char *path;
    int status;
    char *headers;           /* JSON array of [name, value] */
    char *body;              /* reply body text, "" when empty */
    char request_hash[65];   /* hex SHA-256 of the request body ("" in records made before) */
};

struct reqlog_row {
    char correlation_id[37];
    int64_t merchant_id;     /* 0: not authenticated (not readable by anyone) */
    char method[16];
    char *path;
    int status;
    int64_t at_ms;
    int64_t duration_us;
    char *request_body;      /* may be NULL */
    char *response_body;     /* may be NULL */
};

/* A signed-in merchant-portal browser (portal_session_*). The cookie itself is never stored:
 * id_hash is the hex SHA-256 of it, so a read of the database signs no one in. */
struct portal_session_row {
    char id_hash[65];        /* hex SHA-256 of the cookie */
    int64_t merchant_id;
    char csrf[65];           /* the token the portal's forms echo */
    int64_t created_at, expires_at;   /* wall-clock ms */
};

struct store_ops {
    const char *name;
    /* Several processes (nodes) may write this store at once (PostgreSQL): what another node
     * wrote appears without this process knowing (the test clock, request logs). */
    bool shared;
    int (*write)(struct store *s, store_tx_fn fn, void *arg, struct kerr *err);
    int (*read)(struct store *s, store_tx_fn fn, void *arg, struct kerr *err);
    /* Queues a request-log row; never blocks on the disk. Takes ownership of row's strings.
     * Log rows are diagnostics: written soon, in batches, off the commit path of writes. */
    void (*log_async)(struct store *s, struct reqlog_row *row);
    /* Waits until every log row queued before the call is readable (used by log reads). */
    int (*flush)(struct store *s, struct kerr *err);
    /* Whether the database answers now (GET /kasse/v1/health): 0, or -1 with err set. */
    int (*ping)(struct store *s, struct kerr *err);
    void (*close)(struct store *s);

    /* meta: small named blobs (server key). */
    int (*meta_get)(struct store_tx *tx, const char *key, uint8_t *out, size_t cap, size_t *len);
    int (*meta_put)(struct store_tx *tx, const char *key, const uint8_t *v, size_t len);
    /* Adds the key only if it is absent: 0 added, STORE_EXISTS when another transaction (this
     * one, or a concurrent one that committed first) has it. Two nodes starting at once make
     * one server key, not two. */
    int (*meta_add)(struct store_tx *tx, const char *key, const uint8_t *v, size_t len);

    int (*merchant_by_username)(struct store_tx *tx, const char *username,
                                struct merchant_row *out);
    int (*merchant_by_id)(struct store_tx *tx, int64_t id, struct merchant_row *out);
    int (*merchant_insert)(struct store_tx *tx, struct merchant_row *m);   /* sets m->id */
    int (*merchant_set_secret)(struct store_tx *tx, int64_t id, const uint8_t mac[32]);
    int (*merchant_count)(struct store_tx *tx, int64_t *count);

    /* merchant_id 0: any merchant (the shopper's client_token names the session). */
    int (*session_get)(struct store_tx *tx, int64_t merchant_id, const char *id,
                       struct session_row *out);
    int (*session_insert)(struct store_tx *tx, const struct session_row *row);
    int (*session_update)(struct store_tx *tx, const struct session_row *row);

    int (*reqlog_get)(struct store_tx *tx, int64_t merchant_id, const char *correlation_id,
                      struct reqlog_row *out);

    /* Idempotency records: get returns STORE_NOT_FOUND for rows created before not_before. */
    int (*idem_get)(struct store_tx *tx, int64_t merchant_id, const char *key,
                    int64_t not_before, struct idem_row *out);
    /* Records a reply: inserts, or replaces a record created before not_before (expired).
     * A live record for the key that a concurrent transaction made meanwhile makes this
     * transaction run again (see Concurrency), so its fn finds that record and replays it:
     * one key executes once however many nodes receive it. Returns STORE_RETRY then. */
    int (*idem_put)(struct store_tx *tx, const struct idem_row *row, int64_t not_before);
    int (*idem_prune)(struct store_tx *tx, int64_t before);   /* records created before */

    int (*auth_insert)(struct store_tx *tx, const struct auth_row *row);
    int (*auth_get)(struct store_tx *tx, int64_t merchant_id, const char *token,
                    struct auth_row *out);
    /* The session's most recent authorization, whatever its state. */
    int (*auth_latest)(struct store_tx *tx, int64_t merchant_id, const char *session_id,
                       struct auth_row *out);
    int (*auth_set_state)(struct store_tx *tx, int64_t merchant_id, const char *token,
                          const char *state, const char *body);   /* body NULL: unchanged */
    /* Every active authorization of the session but keep_token becomes "superseded". */
    int (*auth_supersede)(struct store_tx *tx, int64_t merchant_id, const char *session_id,
                          const char *keep_token);

    int (*order_insert)(struct store_tx *tx, const struct order_row *row);
    /* merchant_id 0: any merchant (public redirect by unguessable id). */
    int (*order_get)(struct store_tx *tx, int64_t merchant_id, const char *id,
                     struct order_row *out);
    int (*order_update)(struct store_tx *tx, const struct order_row *row);
    /* The merchant's order list: the ids of one page (*n of them) and the number of every
     * match (*total). Filtered, counted and paged with indexes and per-merchant counters: the
     * cost does not grow with the number of orders (store/sqlite_rows.c says how). */
    int (*order_page)(struct store_tx *tx, const struct order_page_query *q, char (*ids)[37],
                      size_t *n, int64_t *total);
    /* Files up to max orders whose list_until has passed under their list_after (*n: how
     * many). Lists are exact without it; it keeps the orders still to be moved few, and the
     * reads that correct for them cheap. */
    int (*order_list_sweep)(struct store_tx *tx, int64_t now, size_t max, size_t *n);

    int (*ctoken_insert)(struct store_tx *tx, const struct ctoken_row *row);
    int (*ctoken_get)(struct store_tx *tx, int64_t merchant_id, const char *id,
                      struct ctoken_row *out);
    int (*ctoken_set_status)(struct store_tx *tx, int64_t merchant_id, const char *id,
                             const char *status);

    /* Hosted Payment Page sessions. get: merchant_id 0 = any merchant. by_page: the public
     * page's key (any merchant). for_kp: the merchant's HPP sessions on one KP session. */
    int (*hpp_insert)(struct store_tx *tx, const struct hpp_row *row);
    int (*hpp_get)(struct store_tx *tx, int64_t merchant_id, const char *id, struct hpp_row *out);
    int (*hpp_by_page)(struct store_tx *tx, const char *page_id, struct hpp_row *out);
    /* Sets status, updated_at and body, only while the stored status is still expected (a
     * compare-and-set, so two writers on any backend cannot both move one session):
     * STORE_NOT_FOUND when it changed meanwhile. */
    int (*hpp_update)(struct store_tx *tx, const struct hpp_row *row, const char *expected);
    int (*hpp_for_kp)(struct store_tx *tx, int64_t merchant_id, const char *kp_session_id,
                      struct hpp_row *rows, size_t cap, size_t *n);
    /* Distribution messages: add sets row->id; list is the merchant's, for one HPP session ("" =
     * any), oldest first. */
    int (*message_add)(struct store_tx *tx, struct message_row *row);
    int (*message_list)(struct store_tx *tx, int64_t merchant_id, const char *hpp_session_id,
                        struct message_row *rows, size_t cap, size_t *n);

    /* The outbox (outbox/outbox.c). add sets row->id. due: up to cap pending events with
     * due_at <= now and no live claim (lease_until <= wall_now), oldest first, and at most
     * per_endpoint of them for any one endpoint (the oldest of each), so a long backlog for one
     * endpoint cannot hide another endpoint's events (*n filled; free each with
     * outbox_row_free). claim (in a write): takes a due event for this node until lease_until
     * (wall-clock ms) — 0, or STORE_NOT_FOUND when it is no longer pending or another node
     * holds a live claim (PostgreSQL: FOR UPDATE SKIP LOCKED, so two nodes never wait on
     * each other for it). record: the attempt, the new status and due time, and the claim
     * given up. list: the merchant's events for a session and/or order ("" = any), oldest
     * first. */
    int (*outbox_add)(struct store_tx *tx, struct outbox_row *row);
    int (*outbox_due)(struct store_tx *tx, int64_t now, int64_t wall_now, size_t per_endpoint,
                      struct outbox_row *rows, size_t cap, size_t *n);
    int (*outbox_claim)(struct store_tx *tx, int64_t id, int64_t wall_now, int64_t lease_until);
    int (*outbox_record)(struct store_tx *tx, int64_t id, const struct outbox_attempt *a,
                         const char *status, int64_t next_due_at);
    int (*outbox_list)(struct store_tx *tx, int64_t merchant_id, const char *session_id,
                       const char *order_id, struct outbox_row *rows, size_t cap, size_t *n);
    int (*outbox_attempts)(struct store_tx *tx, int64_t event_id, struct outbox_attempt *out,
                           size_t cap, size_t *n);

    /* ---- the merchant portal ----
     * Lists are newest first and paged by keyset: a page's cursor is its last row's key, the
     * next page is the rows strictly after it. Each page is one index range, so its cost does
     * not grow with the merchant's (or anyone's) number of rows. A list fills at most limit
     * rows (the caller's array holds that many) and sets *n; free each row with its *_row_free
     * (on failure none is left to free). */

    /* Portal sign-in sessions. put: inserts (a hash already there is a failure, -1). get: the
     * session while expires_at > now, else STORE_NOT_FOUND. delete: 0 whether or not it was
     * there. prune: deletes the sessions with expires_at < before. */
    int (*portal_session_put)(struct store_tx *tx, const struct portal_session_row *row);
    int (*portal_session_get)(struct store_tx *tx, const char *id_hash, int64_t now,
                              struct portal_session_row *out);
    int (*portal_session_delete)(struct store_tx *tx, const char *id_hash);
    int (*portal_session_prune)(struct store_tx *tx, int64_t before);
    /* The merchant's payment sessions (rows as session_get fills them) and HPP sessions (as
     * hpp_get), by id descending (UUIDv7: newest first; compared byte by byte), only ids <
     * before_id ("" = from the newest). */
    int (*session_page)(struct store_tx *tx, int64_t merchant_id, const char *before_id,
                        size_t limit, struct session_row *rows, size_t *n);
    int (*hpp_page)(struct store_tx *tx, int64_t merchant_id, const char *before_id,
                    size_t limit, struct hpp_row *rows, size_t *n);
    /* The merchant's callback events by id descending, only ids < before_id (0 = from the
     * newest); get: one of them (another merchant's id is STORE_NOT_FOUND). */
    int (*outbox_page)(struct store_tx *tx, int64_t merchant_id, int64_t before_id, size_t limit,
                       struct outbox_row *rows, size_t *n);
    int (*outbox_get)(struct store_tx *tx, int64_t merchant_id, int64_t id,
                      struct outbox_row *out);
    /* The merchant's request log, latest first: (at_ms, correlation_id) descending, only rows
     * strictly before (before_at, before_id) in that order (INT64_MAX and "" for the first
     * page). Rows carry correlation_id, merchant_id, method, path, status, at_ms and
     * duration_us; request_body and response_body are NULL (not read). Rows are readable
     * once written (store_flush). */
    int (*reqlog_page)(struct store_tx *tx, int64_t merchant_id, int64_t before_at,
                       const char *before_id, size_t limit, struct reqlog_row *rows, size_t *n);
    /* Ids of the merchant's orders whose body's merchant_reference1 or merchant_reference2
     * equals reference exactly, newest first (created_at, then id, descending), at most cap
     * (*n of them). Indexed on each reference: reads at most 2 * cap index entries. */
    int (*order_by_reference)(struct store_tx *tx, int64_t merchant_id, const char *reference,
                              char (*ids)[37], size_t cap, size_t *n);
};

struct store {
    const struct store_ops *ops;
};

/* Backends */
struct store *store_sqlite_open(const char *path, struct kerr *err);
/* PostgreSQL (store/pg*.c): conninfo is a postgres:// or postgresql:// URL or a libpq
 * key=value string. pool: connections this node may hold (sized from --threads). Waits for
 * the database up to wait_s seconds (a line per try), then runs the migrations under an
 * advisory lock, so nodes starting together migrate once. */
struct store *store_pg_open(const char *conninfo, int pool, int wait_s, struct kerr *err);
/* Whether a --db value names PostgreSQL rather than a SQLite file. */
bool store_is_pg(const char *db);
/* host:port/dbname of a PostgreSQL conninfo, for log lines (never the password). */
void store_pg_describe(const char *conninfo, char *out, size_t cap);

/* The "-- migration N" blocks of a backend's schema text, in order: *pos starts at the text;
 * each call gives the next block's number and SQL (up to the next marker) and returns true,
 * false after the last. Both backends apply the blocks newer than their recorded version. */
bool store_schema_next(const char **pos, int *n, const char **sql, size_t *len);

/* The SQLite backend's disk bounds (store/sqlite_writer.c, sqlite_log.c explain them); 0 takes
 * the default. */
#define STORE_LOG_MAX_MB_DEFAULT 64
struct store_sqlite_limits {
    int64_t wal_max_bytes;   /* a WAL past this is checkpointed with RESTART and cut back to it
                              * (default 16 MiB) */
    int64_t log_max_bytes;   /* the request log's content; oldest rows dropped past it
                              * (default STORE_LOG_MAX_MB_DEFAULT MiB) */
};
struct store *store_sqlite_open_with(const char *path, const struct store_sqlite_limits *lim,
                                     struct kerr *err);

/* What the bounds did so far (tests, the line logged at close). */
struct store_sqlite_stats {
    uint64_t checkpoints;      /* main WAL checkpoints run by the writer */
    uint64_t restarts;         /* ... of which RESTART, done */
    uint64_t restarts_busy;    /* RESTARTs put off because a reader held an old snapshot */
    uint64_t reads_held_max_ms;   /* the longest a RESTART held store reads back */
    uint64_t disk_refused;     /* write requests answered 503: the disk took no commit */
    uint64_t log_pruned_size;  /* request-log rows deleted to stay within the size bound */
    uint64_t log_pruned_age;   /* ... older than the retention */
    uint64_t log_dropped;      /* request-log rows never written (queue full, disk full) */
};
void store_sqlite_stats(struct store *s, struct store_sqlite_stats *out);

/* SQLite memory bounds (store/sqlite.c, issue 9): a read connection's page cache for the main
 * database and for the attached request log, and the soft limit on all SQLite heap memory of
 * the process (past it, page caches reuse pages instead of growing). */
#define STORE_READER_CACHE_KIB 512
#define STORE_READER_LOG_CACHE_KIB 128
#define STORE_SQLITE_HEAP_SOFT_LIMIT (32LL * 1024 * 1024)

/* What the SQLite backend holds in memory: its read connections (one per thread that read),
 * their page caches (sum and largest), prepared statements and schemas, and SQLite's whole
 * heap (now and its high-water mark). Reads other threads' connections unlocked: call it when
 * no request runs (tests, shutdown). -1 if s is not the SQLite backend. */
struct store_sqlite_mem {
    int readers;
    int64_t reader_cache_bytes, reader_cache_max_bytes;
    int64_t stmt_bytes, schema_bytes;
    int64_t heap_bytes, heap_highwater_bytes;
};
int store_sqlite_mem(struct store *s, struct store_sqlite_mem *out);

/* Convenience wrappers, so callers read like prose: store_write(s, fn, arg, err). */
static inline int store_write(struct store *s, store_tx_fn fn, void *arg, struct kerr *err)
{
    return s->ops->write(s, fn, arg, err);
}
static inline int store_read(struct store *s, store_tx_fn fn, void *arg, struct kerr *err)
{
    return s->ops->read(s, fn, arg, err);
}
static inline void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

/* Resource calls, inside a transaction function. */
static inline int store_meta_get(struct store_tx *tx, const char *key, uint8_t *out, size_t cap,
                                 size_t *len)
{
    return tx->ops->meta_get(tx, key, out, cap, len);
}
static inline int store_meta_put(struct store_tx *tx, const char *key, const uint8_t *v, size_t len)
{
    return tx->ops->meta_put(tx, key, v, len);
}
static inline int store_meta_add(struct store_tx *tx, const char *key, const uint8_t *v, size_t len)
{
    return tx->ops->meta_add(tx, key, v, len);
}
static inline int store_ping(struct store *s, struct kerr *err)
{
    return s->ops->ping(s, err);
}
static inline int store_merchant_by_username(struct store_tx *tx, const char *username,
                                             struct merchant_row *out)
{
    return tx->ops->merchant_by_username(tx, username, out);
}
static inline int store_merchant_by_id(struct store_tx *tx, int64_t id,
                                       struct merchant_row *out)
{
    return tx->ops->merchant_by_id(tx, id, out);
}
static inline int store_merchant_insert(struct store_tx *tx, struct merchant_row *m)
{
    return tx->ops->merchant_insert(tx, m);
}
static inline int store_merchant_set_secret(struct store_tx *tx, int64_t id, const uint8_t mac[32])
{
    return tx->ops->merchant_set_secret(tx, id, mac);
}
static inline int store_merchant_count(struct store_tx *tx, int64_t *count)
{
    return tx->ops->merchant_count(tx, count);
}
static inline int store_session_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                                    struct session_row *out)
{
    return tx->ops->session_get(tx, merchant_id, id, out);
}
static inline int store_session_insert(struct store_tx *tx, const struct session_row *row)
{
    return tx->ops->session_insert(tx, row);
}
static inline int store_session_update(struct store_tx *tx, const struct session_row *row)
{
    return tx->ops->session_update(tx, row);
}
static inline int store_reqlog_get(struct store_tx *tx, int64_t merchant_id,
                                   const char *correlation_id, struct reqlog_row *out)
{
    return tx->ops->reqlog_get(tx, merchant_id, correlation_id, out);
}
static inline int store_idem_get(struct store_tx *tx, int64_t merchant_id, const char *key,
                                 int64_t not_before, struct idem_row *out)
{
    return tx->ops->idem_get(tx, merchant_id, key, not_before, out);
}
static inline int store_idem_prune(struct store_tx *tx, int64_t before)
{
    return tx->ops->idem_prune(tx, before);
}
static inline int store_idem_put(struct store_tx *tx, const struct idem_row *row,
                                 int64_t not_before)
{
    return tx->ops->idem_put(tx, row, not_before);
}
static inline int store_auth_insert(struct store_tx *tx, const struct auth_row *row)
{
    return tx->ops->auth_insert(tx, row);
}
static inline int store_auth_get(struct store_tx *tx, int64_t m, const char *token,
                                 struct auth_row *out)
{
    return tx->ops->auth_get(tx, m, token, out);
}
static inline int store_auth_latest(struct store_tx *tx, int64_t m, const char *session_id,
                                    struct auth_row *out)
{
    return tx->ops->auth_latest(tx, m, session_id, out);
}
static inline int store_auth_set_state(struct store_tx *tx, int64_t m, const char *token,
                                       const char *state, const char *body)
{
    return tx->ops->auth_set_state(tx, m, token, state, body);
}
static inline int store_auth_supersede(struct store_tx *tx, int64_t m, const char *session_id,
                                       const char *keep_token)
{
    return tx->ops->auth_supersede(tx, m, session_id, keep_token);
}
static inline int store_order_insert(struct store_tx *tx, const struct order_row *row)
{
    return tx->ops->order_insert(tx, row);
}
static inline int store_order_get(struct store_tx *tx, int64_t m, const char *id,
                                  struct order_row *out)
{
    return tx->ops->order_get(tx, m, id, out);
}
static inline int store_order_update(struct store_tx *tx, const struct order_row *row)
{
    return tx->ops->order_update(tx, row);
}
static inline int store_order_page(struct store_tx *tx, const struct order_page_query *q,
                                   char (*ids)[37], size_t *n, int64_t *total)
{
    return tx->ops->order_page(tx, q, ids, n, total);
}
static inline int store_order_list_sweep(struct store_tx *tx, int64_t now, size_t max, size_t *n)
{
    return tx->ops->order_list_sweep(tx, now, max, n);
}
static inline int store_ctoken_insert(struct store_tx *tx, const struct ctoken_row *row)
{
    return tx->ops->ctoken_insert(tx, row);
}
static inline int store_ctoken_get(struct store_tx *tx, int64_t m, const char *id,
                                   struct ctoken_row *out)
{
    return tx->ops->ctoken_get(tx, m, id, out);
}
static inline int store_ctoken_set_status(struct store_tx *tx, int64_t m, const char *id,
                                          const char *status)
{
    return tx->ops->ctoken_set_status(tx, m, id, status);
}
static inline int store_outbox_add(struct store_tx *tx, struct outbox_row *row)
{
    return tx->ops->outbox_add(tx, row);
}
static inline int store_outbox_due(struct store_tx *tx, int64_t now, int64_t wall_now,
                                   size_t per_endpoint, struct outbox_row *rows, size_t cap,
                                   size_t *n)
{
    return tx->ops->outbox_due(tx, now, wall_now, per_endpoint, rows, cap, n);
}
static inline int store_outbox_claim(struct store_tx *tx, int64_t id, int64_t wall_now,
                                     int64_t lease_until)
{
    return tx->ops->outbox_claim(tx, id, wall_now, lease_until);
}
static inline int store_outbox_record(struct store_tx *tx, int64_t id,
                                      const struct outbox_attempt *a, const char *status,
                                      int64_t next_due_at)
{
    return tx->ops->outbox_record(tx, id, a, status, next_due_at);
}
static inline int store_outbox_list(struct store_tx *tx, int64_t merchant_id,
                                    const char *session_id, const char *order_id,
                                    struct outbox_row *rows, size_t cap, size_t *n)
{
    return tx->ops->outbox_list(tx, merchant_id, session_id, order_id, rows, cap, n);
}
static inline int store_outbox_attempts(struct store_tx *tx, int64_t event_id,
                                        struct outbox_attempt *out, size_t cap, size_t *n)
{
    return tx->ops->outbox_attempts(tx, event_id, out, cap, n);
}
static inline int store_hpp_insert(struct store_tx *tx, const struct hpp_row *row)
{
    return tx->ops->hpp_insert(tx, row);
}
static inline int store_hpp_get(struct store_tx *tx, int64_t m, const char *id,
                                struct hpp_row *out)
{
    return tx->ops->hpp_get(tx, m, id, out);
}
static inline int store_hpp_by_page(struct store_tx *tx, const char *page_id, struct hpp_row *out)
{
    return tx->ops->hpp_by_page(tx, page_id, out);
}
static inline int store_hpp_update(struct store_tx *tx, const struct hpp_row *row,
                                   const char *expected)
{
    return tx->ops->hpp_update(tx, row, expected);
}
static inline int store_hpp_for_kp(struct store_tx *tx, int64_t m, const char *kp_session_id,
                                   struct hpp_row *rows, size_t cap, size_t *n)
{
    return tx->ops->hpp_for_kp(tx, m, kp_session_id, rows, cap, n);
}
static inline int store_message_add(struct store_tx *tx, struct message_row *row)
{
    return tx->ops->message_add(tx, row);
}
static inline int store_message_list(struct store_tx *tx, int64_t m, const char *hpp_session_id,
                                     struct message_row *rows, size_t cap, size_t *n)
{
    return tx->ops->message_list(tx, m, hpp_session_id, rows, cap, n);
}
static inline int store_portal_session_put(struct store_tx *tx,
                                           const struct portal_session_row *row)
{
    return tx->ops->portal_session_put(tx, row);
}
static inline int store_portal_session_get(struct store_tx *tx, const char *id_hash, int64_t now,
                                           struct portal_session_row *out)
{
    return tx->ops->portal_session_get(tx, id_hash, now, out);
}
static inline int store_portal_session_delete(struct store_tx *tx, const char *id_hash)
{
    return tx->ops->portal_session_delete(tx, id_hash);
}
static inline int store_portal_session_prune(struct store_tx *tx, int64_t before)
{
    return tx->ops->portal_session_prune(tx, before);
}
static inline int store_session_page(struct store_tx *tx, int64_t m, const char *before_id,
                                     size_t limit, struct session_row *rows, size_t *n)
{
    return tx->ops->session_page(tx, m, before_id, limit, rows, n);
}
static inline int store_hpp_page(struct store_tx *tx, int64_t m, const char *before_id,
                                 size_t limit, struct hpp_row *rows, size_t *n)
{
    return tx->ops->hpp_page(tx, m, before_id, limit, rows, n);
}
static inline int store_outbox_page(struct store_tx *tx, int64_t m, int64_t before_id,
                                    size_t limit, struct outbox_row *rows, size_t *n)
{
    return tx->ops->outbox_page(tx, m, before_id, limit, rows, n);
}
static inline int store_outbox_get(struct store_tx *tx, int64_t m, int64_t id,
                                   struct outbox_row *out)
{
    return tx->ops->outbox_get(tx, m, id, out);
}
static inline int store_reqlog_page(struct store_tx *tx, int64_t m, int64_t before_at,
                                    const char *before_id, size_t limit, struct reqlog_row *rows,
                                    size_t *n)
{
    return tx->ops->reqlog_page(tx, m, before_at, before_id, limit, rows, n);
}
static inline int store_order_by_reference(struct store_tx *tx, int64_t m, const char *reference,
                                           char (*ids)[37], size_t cap, size_t *n)
{
    return tx->ops->order_by_reference(tx, m, reference, ids, cap, n);
}
static inline void store_log_async(struct store *s, struct reqlog_row *row)
{
    s->ops->log_async(s, row);
}
static inline int store_flush(struct store *s, struct kerr *err)
{
    return s->ops->flush(s, err);
}

void merchant_row_free(struct merchant_row *m);
void session_row_free(struct session_row *r);
void reqlog_row_free(struct reqlog_row *r);
void idem_row_free(struct idem_row *r);
void auth_row_free(struct auth_row *r);
void order_row_free(struct order_row *r);
void ctoken_row_free(struct ctoken_row *r);
void outbox_row_free(struct outbox_row *r);
void hpp_row_free(struct hpp_row *r);
void message_row_free(struct message_row *r);

#endif
