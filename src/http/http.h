/* http: what a handler sees of a request and gives back as a reply, the route table's shape,
 * and the server-wide context. server.c owns sockets and connections; parse.c the HTTP
 * framing; dispatch.c takes a parsed request to its reply; router.c matches routes; reply.c
 * renders replies and Klarna's error envelope. Nothing here knows Klarna's rules: handlers
 * live in api/. */
#ifndef KASSE_HTTP_H
#define KASSE_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/parse.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/kerr.h"
#include "store/store.h"

struct store;
struct auth_cache;

/* Server-wide context, built once at start and read-only afterwards (the clock's offset is the
 * one thing that moves, atomically). */
struct app {
    struct store *store;
    struct kclock clock;
    uint8_t merchant_key[32];     /* HMAC key for stored merchant secrets */
    uint8_t token_key[32];        /* HS256 key for client_token */
    char public_url[256];         /* "http://127.0.0.1:8080", no trailing slash */
    bool test_clock;
    bool callbacks_public_only;   /* outbox: refuse non-public callback addresses */
    struct auth_cache *auth_cache;/* merchants seen recently (auth.c) */
    int db_pool;                  /* PostgreSQL: connections this node may hold (0: 8) */
    int db_wait_s;                /* PostgreSQL: how long start waits for the database */
};

/* app.c: opens the store at db (a SQLite file, created with its folder if missing, or a
 * PostgreSQL URL or conninfo: store_is_pg), loads or creates the
 * server key, derives the purpose keys and makes the merchant cache; the caller sets the clock,
 * flags and public_url. 0, or -1 with err and nothing left open. */
int app_open(struct app *app, const char *db, const struct store_sqlite_limits *lim,
             struct kerr *err);
/* Frees what app_open made (the app itself is the caller's). */
void app_close(struct app *app);
/* The test clock lives in the store (meta "test_clock_offset_ms"), so every node of a shared
 * store reads one clock. sync raises this node's offset to the stored one (once at start;
 * before each request and each outbox look when the store is shared); advance moves the
 * stored clock forward by seconds in one write (the stored row locked) and takes it on. */
int app_clock_sync(struct app *app, struct kerr *err);
int app_clock_advance(struct app *app, int64_t seconds, struct kerr *err);

struct app_merchant {
    const char *username;
    const char *secret;           /* stored as its HMAC only */
    const char *name;             /* what shoppers see */
    const char *categories;       /* "klarna" or "classic" */
};
/* Creates the merchant, or sets the secret of an existing one with that username. With
 * only_if_empty, does nothing when the store has a merchant already. *created (may be NULL):
 * whether a merchant was inserted. */
int app_merchant_put(struct app *app, const struct app_merchant *m, bool only_if_empty,
                     bool *created, struct kerr *err);

/* The authenticated merchant of a request. */
struct merchant {
    int64_t id;
    char username[128];
    char name[256];
    char categories[16];          /* "klarna" or "classic" */
};

#define HTTP_MAX_PARAMS 4

struct req {
    struct app *app;
    const char *method;
    const char *path;
    const struct http_field *headers; /* as received, in order */
    int n_headers;
    const struct http_field *query;   /* decoded arguments, in order */
    int n_query;
    char correlation_id[37];
    int64_t started_us;           /* monotonic, for the request log */
    int64_t received_ms;          /* Kasse's clock */
    struct buf body;              /* bounded by LIMIT_BODY_BYTES */
    const struct route *route;
    char *params[HTTP_MAX_PARAMS];/* path parameters, in template order */
    char *path_copy;              /* storage behind params */
    bool authed;
    struct merchant merchant;
    const char *idem_key;         /* Klarna-Idempotency-Key of a mutating request, or NULL */
    char shopper_session[37];     /* AUTH_SHOPPER: the session the client_token names */
    bool via_portal;              /* a merchant route reached under PORTAL_PREFIX */
    char portal_id[65];           /* AUTH_PORTAL: the sign-in session's stored key */
    char portal_csrf[65];         /* ... its CSRF token */
    int64_t portal_expires_ms;    /* ... and when it ends (wall clock) */
};

#define REPLY_MAX_HEADERS 8

struct reply {
    int status;
    json_t *json;                 /* owned; NULL for an empty body */
    const void *raw;              /* static bytes (assets); used when json is NULL */
    void *owned;                  /* or malloc'ed bytes the reply owns (QR images), raw_len long */
    size_t raw_len;
    const char *content_type;     /* for raw bodies */
    struct {
        char name[48];
        char value[512];
    } headers[REPLY_MAX_HEADERS];
    int n_headers;
};

/* A handler fills out and returns 0, or fills err and returns -1. */
typedef int (*handler_fn)(struct req *r, struct reply *out, struct kerr *err);

enum auth_kind {
    AUTH_PUBLIC,                  /* assets, SDK */
    AUTH_MERCHANT,                /* HTTP Basic, a merchant's credentials */
    AUTH_SHOPPER,                 /* Bearer client_token: the shopper of one session */
    AUTH_PORTAL,                  /* the portal's sign-in cookie (+ CSRF header on changes);
                                   * every AUTH_MERCHANT route is also served this way under
                                   * PORTAL_PREFIX (router.c, docs/portal.md) */
};

#define PORTAL_PREFIX "/portal/api"
#define PORTAL_COOKIE "kasse_portal"
#define PORTAL_CSRF_HEADER "X-Kasse-CSRF"
/* How the request authenticates: its route's kind, or AUTH_PORTAL for a merchant route
 * reached under PORTAL_PREFIX. */
enum auth_kind req_auth_kind(const struct req *r);

#define ROUTE_TEST_CLOCK 1u       /* the route exists only with --test-clock */

struct route {
    const char *method;
    const char *template;         /* "/payments/v1/sessions/{session_id}" */
    handler_fn handler;
    enum auth_kind auth;
    unsigned flags;
};

/* The route table (api/routes.c), ending with a NULL method. */
extern const struct route routes_table[];

/* router.c: finds the route for method and path. On a match fills r->route and r->params and
 * returns 0. Otherwise -1 with err: 404 NOT_FOUND, or 405 METHOD_NOT_ALLOWED with the
 * allowed methods written into allow (comma separated). */
int router_match(struct req *r, char *allow, size_t allow_cap, struct kerr *err);

/* reply.c */
void reply_header(struct reply *out, const char *name, const char *value);
/* Whether the handler set the header (case-insensitive name). */
bool reply_has_header(const struct reply *out, const char *name);
/* Steals body; a NULL body (its building failed) is a 500 in err and -1. */
int reply_json(struct reply *out, int status, json_t *body, struct kerr *err);
int reply_empty(struct reply *out, int status);
/* The request header value, or NULL. */
const char *req_header(const struct req *r, const char *name);
/* A query-string argument, or NULL. */
const char *req_query(const struct req *r, const char *name);
/* An optional integer query argument within [min, max] into *out (unchanged when absent): 0,
 * or -1 with 400 BAD_VALUE naming it when it is not a decimal integer in range. */
int req_query_int(const struct req *r, const char *name, long long min, long long max,
                  long long *out, struct kerr *err);
/* Parses the request body as one JSON object: an empty body is {}; malformed JSON, duplicate
 * keys, nesting deeper than LIMIT_JSON_DEPTH or a non-object → 400 BAD_REQUEST. */
json_t *req_json_body(const struct req *r, struct kerr *err);
/* Serialises the envelope {correlation_id, error_code, error_messages}; NULL when memory ran
 * out. */
json_t *reply_error_body(const char *correlation_id, const struct kerr *err);
/* When memory ran out even for that: a 500's envelope written into out without allocating
 * (correlation id, INTERNAL_SERVER_ERROR, "Internal error"). Returns its length. */
#define REPLY_FALLBACK_BYTES 160
int reply_fallback_body(const char *correlation_id, char out[REPLY_FALLBACK_BYTES]);

/* idempotency.c: Klarna-Idempotency-Key on every POST/PATCH/DELETE, one mechanism for every
 * API (contract 1.5). A handler that writes builds its reply inside its store transaction: */
typedef int (*reply_fn)(void *arg, struct reply *out, struct kerr *err);
/* How long a Klarna-Idempotency-Key record answers (idempotency.c), on Kasse's clock; older
 * records are pruned by the outbox's housekeeping. */
#define IDEMPOTENCY_TTL_MS (24LL * 3600 * 1000)
/* Runs fn in one store write transaction, then build (still inside it) to make the reply. With a
 * key: a reply recorded for it within 24 hours is replayed instead (fn not run; concurrent
 * duplicates therefore execute once), and a new 2xx reply is recorded in the same transaction
 * as the operation. Returns 0 with out filled, or -1 with err. */
int api_write(struct req *r, store_tx_fn fn, void *arg, reply_fn build, struct reply *out,
              struct kerr *err);
/* Ready-made reply builders for api_write: 204 No Content and 202 Accepted, empty bodies. */
int reply_no_content(void *arg, struct reply *out, struct kerr *err);
int reply_accepted(void *arg, struct reply *out, struct kerr *err);
/* dispatch, before the handler: reads the key (400 if malformed) and replays a recorded reply.
 * 1: out filled from the record; 0: go on; -1: err. */
int idempotency_begin(struct req *r, struct reply *out, struct kerr *err);

/* dispatch.c: routes, authenticates and handles a request whose head and body are complete,
 * and always fills out (a refusal is Klarna's envelope, with Allow or WWW-Authenticate where
 * they belong). Runs with the request's arena current; the caller renders and frees out. */
void http_dispatch(struct req *r, struct reply *out);
/* Queues the request-log row of an authenticated request (never waits on the disk): status and
 * the reply body as sent. */
void http_log_request(const struct req *r, int status, const char *body, size_t body_len);
/* Runs a merchant API call as the request's merchant would make it over HTTP, from inside
 * Kasse (the demo shop's server side): the same router, handler, idempotency and request log;
 * no credentials needed (the merchant is r's). body may be NULL. *reply (owned, may be NULL)
 * is the reply's JSON: a 2xx result or Klarna's envelope; *status its status. 0, or -1 with
 * err when the call could not be made at all. */
int http_call(const struct req *r, const char *method, const char *path, const json_t *body,
              int *status, json_t **reply, struct kerr *err);
/* out becomes err as Klarna's envelope (status, correlation id, headers). When memory ran out
 * even for the envelope, out is a 500 with no body and no headers, which the renderer answers
 * with reply_fallback_body: every request gets an answer. */
void http_error_reply(const struct req *r, const struct kerr *err, const char *allow,
                      struct reply *out);

/* auth.c: fills r->merchant from the Authorization header or returns -1 with a 401. */
int auth_merchant(struct req *r, struct kerr *err);
/* The merchant whose username and secret these are (the check HTTP Basic makes): 0 with *out
 * filled, 1 when they are wrong, -1 with err. */
int auth_credentials(struct req *r, const char *username, const char *secret,
                     struct merchant *out, struct kerr *err);
/* AUTH_PORTAL: fills r->merchant and r->portal_* from the sign-in cookie (401 without a live
 * one) and, for a method other than GET and HEAD, checks the CSRF header (403). */
int auth_portal(struct req *r, struct kerr *err);
/* The stored key of a portal cookie value: hex SHA-256. */
void auth_portal_cookie_hash(const char *cookie, char out[65]);
/* Fills r->merchant and r->shopper_session from "Authorization: Bearer <client_token>", or
 * returns -1 with a 401. */
int auth_shopper(struct req *r, struct kerr *err);
/* The stored form of a merchant secret. */
int auth_secret_mac(const struct app *app, const char *secret, uint8_t out[32]);
/* The merchant cache: credentials checked against the store at most every
 * AUTH_CACHE_TTL_S seconds per merchant, instead of on every request. */
struct auth_cache *auth_cache_new(void);
void auth_cache_free(struct auth_cache *c);

/* server.c */
struct http_server;
struct http_options {
    unsigned threads;             /* worker threads running handlers */
    int max_connections;          /* 0: LIMIT_CONNECTIONS; always within the descriptor limit */
    int per_address;              /* connections one client address may hold; 0:
                                   * LIMIT_CONNECTIONS_PER_ADDRESS, -1: no cap (behind a proxy) */
};
struct http_server *http_start(struct app *app, const char *host, int port,
                               const struct http_options *opt, struct kerr *err);
/* The port actually bound (useful with port 0). */
int http_port(const struct http_server *s);
/* Stops accepting, waits (bounded) for requests in flight, closes every connection. */
void http_stop(struct http_server *s);

#endif
