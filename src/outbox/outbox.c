/* outbox: durable callback delivery (see outbox.h).
 *
 * A dispatcher thread wakes every OUTBOX_POLL_MS (and whenever a worker finishes), reads the
 * events due on Kasse's clock and hands them to a pool of OUTBOX_WORKERS delivery threads, by
 * the rule of outbox_pick: at most OUTBOX_PER_ENDPOINT deliveries in flight per endpoint
 * (scheme://host:port), an endpoint with fewer in flight first, oldest first among equals. A
 * merchant whose endpoint hangs holds at most that many workers; the others keep delivering.
 * An event is claimed twice: in memory (the worker holding it) from the moment it is handed out
 * until its attempt is recorded, so no two workers of this node deliver it at once; and in its
 * row (store_outbox_claim: a lease of OUTBOX_LEASE_MS on the wall clock, given up by the
 * record), taken by the worker before anything else, so no two nodes on one database deliver
 * it at once, and a node that dies mid-delivery only delays it until the lease ends (then any
 * node delivers it: at least once). A worker, for its event:
 *  - a fraud notification first applies the review's result to the order (PENDING → ACCEPTED
 *    or REJECTED), in its own transaction, so the order changes even when no URL was given;
 *  - then POSTs the body (Content-Type: application/json) with the kind's policy
 *    (outbox_policy_for: timeouts, attempts); any 2xx is delivered; otherwise it retries after
 *    1 s, then 2 s, ..., recording every attempt.
 * A crash between a delivery and its record means the event is delivered again: at least
 * once, as Klarna promises (contract 6.5). Two events of one session are never delivered side
 * by side, so a session's first attempts keep their order (as with one thread, a retry may
 * still arrive after a younger event). */
#include "outbox/outbox.h"

#include <arpa/inet.h>
#include <unistd.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/order_row.h"
#include "http/http.h"
#include "lib/clock.h"
#include "lib/jsonp.h"
#include "lib/jsonw.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/utf8.h"

#define OUTBOX_POLL_MS 100
#define OUTBOX_ATTEMPT_MAX_MS 10000
/* A claim outlives the longest attempt (fraud decision, delivery, record) with room to spare;
 * a worker still retrying its record (a full disk) renews it. */
#define OUTBOX_LEASE_MS (2 * OUTBOX_ATTEMPT_MAX_MS)
#define PRUNE_EVERY_MS (10LL * 60 * 1000)           /* housekeeping on the dispatcher */
/* Due events read per look: at most OUTBOX_SCAN_PER_ENDPOINT of any one endpoint, so events
 * of other endpoints are in every look however long one endpoint's backlog is. Twice the
 * in-flight limit: an endpoint's in-flight events are still pending in the store. */
#define OUTBOX_SCAN 64
#define OUTBOX_SCAN_PER_ENDPOINT (2 * OUTBOX_PER_ENDPOINT)

struct due_ctx {
    int64_t now;
    struct outbox_row rows[OUTBOX_SCAN];
    size_t n;
};

struct outbox;

struct worker {
    struct outbox *o;
    pthread_t thread;
    bool started;
    bool busy;                   /* row is this worker's claim (under o->mu) */
    struct outbox_row row;       /* owned while busy */
};

struct outbox {
    struct app *app;
    pthread_t dispatcher;
    bool dispatcher_started;
    pthread_mutex_t mu;
    pthread_cond_t wake;         /* dispatcher: a worker finished, or stopping */
    pthread_cond_t work;         /* workers: an event was handed out, or stopping */
    bool stopping;
    bool released;               /* a worker gave up its claim since the dispatcher looked */
    size_t n_workers;
    struct worker workers[OUTBOX_WORKERS_MAX];
    struct due_ctx *scan;        /* the dispatcher's look at the due events */
};

const struct outbox_policy *outbox_policy_for(const char *kind)
{
    static const struct outbox_policy standard = {OUTBOX_CONNECT_TIMEOUT_MS,
                                                  OUTBOX_READ_TIMEOUT_MS, OUTBOX_ATTEMPT_MAX_MS,
                                                  OUTBOX_MAX_ATTEMPTS};
    static const struct outbox_policy hpp_status = {3000, 3000, 3000, 4};
    return kind && strcmp(kind, "hpp_status") == 0 ? &hpp_status : &standard;
}

int64_t outbox_backoff_ms(int failed_attempts)
{
    if (failed_attempts < 1)
        return 0;
    if (failed_attempts > 20)
        failed_attempts = 20;
    return 1000LL << (failed_attempts - 1);
}

int outbox_event(struct store_tx *tx, int64_t merchant_id, const char *kind,
                 const char *session_id, const char *order_id, const char *url,
                 const json_t *body, int64_t now_ms, int64_t due_ms, struct kerr *err)
{
    struct outbox_row row = {.merchant_id = merchant_id, .created_at = now_ms, .due_at = due_ms};
    snprintf(row.kind, sizeof row.kind, "%s", kind);
    snprintf(row.session_id, sizeof row.session_id, "%s", session_id ? session_id : "");
    snprintf(row.order_id, sizeof row.order_id, "%s", order_id ? order_id : "");
    row.url = (char *)(url ? url : "");
    outbox_endpoint(row.url, row.endpoint, sizeof row.endpoint);
    row.body = jsonw_dumps(body, NULL);
    if (!row.body)
        return kerr_internal(err, "outbox: out of memory");
    int rc = store_outbox_add(tx, &row);
    free(row.body);
    return rc == 0 ? 0 : kerr_internal(err, "outbox: add");
}

/* ---- one delivery ---- */

/* The answer's body: its first bytes are kept for the attempt's record (the portal shows
 * them), the rest is read and dropped. */
struct excerpt {
    char bytes[sizeof ((struct outbox_attempt *)0)->response];
    size_t len;
};

static size_t keep_excerpt(char *p, size_t size, size_t n, void *arg)
{
    struct excerpt *x = arg;
    size_t len = size * n, room = sizeof x->bytes - 1 - x->len;
    size_t take = len < room ? len : room;
    memcpy(x->bytes + x->len, p, take);
    x->len += take;
    return len;
}

/* The excerpt as valid UTF-8 (invalid bytes and NULs as U+FFFD), cut at a character boundary
 * to fit out; a sequence cut short at the excerpt's end is dropped, not repaired. */
static void excerpt_text(const struct excerpt *x, char *out, size_t cap)
{
    size_t n = x->len, end = n;
    /* drop an incomplete last sequence: it was cut by the excerpt, not sent broken */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)x->bytes[n - back];
        if ((c & 0xC0) != 0x80) {
            if (c >= 0xC0 && utf8_sequence((const unsigned char *)x->bytes + n - back, back) == 0)
                end = n - back;
            break;
        }
    }
    char *text = utf8_repair(x->bytes, end);
    out[0] = '\0';
    if (!text)
        return;
    size_t len = strlen(text);
    if (len >= cap) {
        len = cap - 1;
        while (len && ((unsigned char)text[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(out, text, len);
    out[len] = '\0';
    free(text);
}


/* libcurl calls this at least once a second during a transfer; it aborts the attempt when,
 * after the connection is up, nothing has moved for OUTBOX_READ_TIMEOUT_MS. */
struct read_watch {
    CURL *curl;
    int read_ms;
    int64_t start_ms, last_ms;
    curl_off_t last_down, last_up;
};

static int read_watch_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    struct read_watch *w = arg;
    int64_t now = clock_monotonic_ms();
    if (dlnow != w->last_down || ulnow != w->last_up) {
        w->last_down = dlnow;
        w->last_up = ulnow;
        w->last_ms = now;
    }
    curl_off_t connect_us = 0;
    if (curl_easy_getinfo(w->curl, CURLINFO_CONNECT_TIME_T, &connect_us) != CURLE_OK ||
        connect_us == 0)
        return 0;                /* still connecting: the connect timeout applies */
    int64_t connected_ms = w->start_ms + (int64_t)(connect_us / 1000);
    int64_t idle_since = w->last_ms > connected_ms ? w->last_ms : connected_ms;
    return now - idle_since >= w->read_ms;
}

/* Whether an address is one a shared platform must not call: loopback, private (RFC 1918,
 * unique-local), link-local, unspecified, CGNAT, multicast and IPv4 inside IPv6. */
static bool address_public(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        uint32_t a = ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr);
        uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
        return !(b0 == 0 || b0 == 10 || b0 == 127 || (b0 == 169 && b1 == 254) ||
                 (b0 == 172 && (b1 & 0xf0) == 16) || (b0 == 192 && b1 == 168) ||
                 (b0 == 100 && (b1 & 0xc0) == 64) || b0 >= 224);
    }
    if (sa->sa_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        static const uint8_t zero[10] = {0};
        bool v4_inside = memcmp(b, zero, 10) == 0 &&
                         ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0));
        return !(v4_inside ||                          /* ::, ::1, ::ffff:a.b.c.d, ::a.b.c.d */
                 (b[0] & 0xfe) == 0xfc ||              /* fc00::/7 unique local */
                 (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10 link-local */
                 b[0] == 0xff);                        /* multicast */
    }
    return false;
}

struct socket_guard {
    bool public_only;
    bool refused;
};

/* libcurl asks here for each connection's socket, with the address it resolved: a refused
 * address gets no socket, so nothing is sent to it (checked per connection, not per name). */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct socket_guard *g = arg;
    if (purpose == CURLSOCKTYPE_IPCXN && g->public_only && !address_public(&addr->addr)) {
        g->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

static void deliver(const struct outbox_row *e, const struct outbox_policy *p, bool public_only,
                    struct outbox_attempt *a)
{
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(a->error, sizeof a->error, "cannot start an HTTP client");
        return;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, "User-Agent: Kasse-Callbacks/1");
    curl_easy_setopt(curl, CURLOPT_URL, e->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, e->body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)p->connect_ms);
    /* The read timeout: once connected, 2 s without a byte moving ends the attempt (libcurl
     * has no read timeout of its own; see read_watch). A trickling receiver is cut at 10 s. */
    struct read_watch watch = {.curl = curl, .read_ms = p->read_ms, .start_ms = clock_monotonic_ms()};
    watch.last_ms = watch.start_ms;
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, read_watch_cb);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &watch);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)p->attempt_max_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    struct excerpt body = {0};
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_excerpt);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    struct socket_guard guard = {.public_only = public_only};
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &guard);
    int64_t start = clock_monotonic_ms();
    CURLcode rc = curl_easy_perform(curl);
    a->duration_ms = clock_monotonic_ms() - start;
    excerpt_text(&body, a->response, sizeof a->response);
    if (guard.refused) {
        snprintf(a->error, sizeof a->error,
                 "refused: the address is not public (--callbacks-public-only)");
    } else if (rc == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(a->error, sizeof a->error, "no answer within %d ms (read timeout)",
                 p->read_ms);
    } else if (rc == CURLE_OPERATION_TIMEDOUT && a->duration_ms >= p->attempt_max_ms) {
        snprintf(a->error, sizeof a->error, "no answer within %d ms", p->attempt_max_ms);
    } else if (rc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        a->http_status = (int)status;
        if (status < 200 || status >= 300)
            snprintf(a->error, sizeof a->error, "HTTP %ld", status);
    } else {
        snprintf(a->error, sizeof a->error, "%s", curl_easy_strerror(rc));
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
}

/* A store failure seen by the outbox threads. An outage (503) is logged by the store itself,
 * once per outage, not here every poll. */
static void store_trouble(const char *what, long long id, const struct kerr *err)
{
    if (err->status == 503)
        return;
    if (id)
        log_error("outbox: %s %lld: %s", what, id, err->msg);
    else
        log_error("store: %s: %s", what, err->msg);
}

/* ---- applying fraud decisions ---- */

struct fraud_ctx {
    const struct outbox_row *e;
};

/* The review's decision is due (the event's due_at is the order's fraud_decided_at): applied
 * to the stored order by core/order's one rule (order_fraud_settle), the row rewritten from
 * the order's state (core/order_row). */
static int fraud_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct fraud_ctx *c = arg;
    struct order_row row;
    int rc = store_order_get(tx, c->e->merchant_id, c->e->order_id, &row);
    if (rc != 0)
        return rc < 0 ? kerr_internal(err, "outbox: order get") : 0;
    struct order o;
    rc = order_from_row(&o, &row, err);
    order_row_free(&row);
    if (rc != 0)
        return -1;
    if (order_fraud_settle(&o.st, c->e->due_at)) {
        rc = order_to_row(&o, c->e->due_at, &row, err);
        if (rc == 0) {
            if (store_order_update(tx, &row) != 0)
                rc = kerr_internal(err, "outbox: order update");
            order_row_free(&row);
        }
    }
    order_free(&o);
    return rc;
}

/* ---- the dispatcher and the workers ---- */

static int due_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct due_ctx *d = arg;
    if (store_outbox_due(tx, d->now, clock_wall_ms(), OUTBOX_SCAN_PER_ENDPOINT, d->rows,
                         OUTBOX_SCAN, &d->n) != 0)
        return kerr_internal(err, "outbox: due");
    return 0;
}

struct record_ctx {
    const struct outbox_row *e;
    const struct outbox_attempt *a;
    const char *status;
    int64_t next_due;
};

struct claim_ctx {
    int64_t id;
    bool claimed;
};

static int claim_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct claim_ctx *c = arg;
    int64_t now = clock_wall_ms();
    int rc = store_outbox_claim(tx, c->id, now, now + OUTBOX_LEASE_MS);
    if (rc < 0)
        return kerr_internal(err, "outbox: claim");
    c->claimed = rc == 0;
    return 0;
}

/* Extends a held claim (a worker whose record keeps failing). */
static int renew_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct claim_ctx *c = arg;
    int64_t now = clock_wall_ms();
    if (store_outbox_claim(tx, c->id, INT64_MAX, now + OUTBOX_LEASE_MS) < 0)
        return kerr_internal(err, "outbox: renew");
    return 0;
}

static int record_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct record_ctx *r = arg;
    if (store_outbox_record(tx, r->e->id, r->a, r->status, r->next_due) != 0)
        return kerr_internal(err, "outbox: record");
    return 0;
}

/* Delivers one event and records the attempt (on a worker). */
static void process(struct outbox *o, const struct outbox_row *e)
{
    struct store *store = o->app->store;
    struct kerr err = {0};
    /* The row's claim first: another node may have taken (or finished) it since it was read. */
    struct claim_ctx claim = {.id = e->id};
    if (store_write(store, claim_fn, &claim, &err) != 0) {
        store_trouble("event", (long long)e->id, &err);
        return;
    }
    if (!claim.claimed)
        return;
    if (strcmp(e->kind, "fraud_notification") == 0 && e->attempts == 0) {
        struct fraud_ctx fc = {.e = e};
        if (store_write(store, fraud_fn, &fc, &err) != 0) {
            store_trouble("event", (long long)e->id, &err);
            return;
        }
    }
    struct record_ctx rec = {.e = e};
    struct outbox_attempt a = {0};
    if (!e->url[0]) {
        rec.status = "no_url";
        rec.next_due = e->due_at;
    } else {
        const struct outbox_policy *policy = outbox_policy_for(e->kind);
        a.at = clock_now_ms(&o->app->clock);
        deliver(e, policy, o->app->callbacks_public_only, &a);
        rec.a = &a;
        int attempts = e->attempts + 1;
        if (a.http_status >= 200 && a.http_status < 300) {
            rec.status = "delivered";
            rec.next_due = e->due_at;
        } else if (attempts >= policy->max_attempts) {
            rec.status = "failed";
            rec.next_due = e->due_at;
        } else {
            rec.status = "pending";
            rec.next_due = clock_now_ms(&o->app->clock) + outbox_backoff_ms(attempts);
        }
    }
    /* The attempt must be recorded before the claim is given up: an event delivered but not
     * recorded (a full disk) would otherwise be picked again at once and sent every poll. So
     * the worker keeps it and retries the record, backing off to 5 s, until it is stored or
     * Kasse stops (then it is sent again after the restart: at least once). */
    for (int64_t wait_ms = 250; store_write(store, record_fn, &rec, &err) != 0;) {
        if (wait_ms == 250)
            log_error("outbox: event %lld not recorded: %s (retrying)", (long long)e->id,
                      err.msg);
        kerr_clear(&err);
        store_write(store, renew_fn, &claim, &err);   /* keep the row's claim meanwhile */
        for (int64_t slept = 0; slept < wait_ms; slept += 50) {
            pthread_mutex_lock(&o->mu);
            bool stopping = o->stopping;
            pthread_mutex_unlock(&o->mu);
            if (stopping)
                return;
            usleep(50 * 1000);
        }
        wait_ms = wait_ms * 2 > 5000 ? 5000 : wait_ms * 2;
        kerr_clear(&err);
    }
}

/* A worker waits for an event handed to it, delivers it, and only then (the attempt recorded)
 * gives up its claim and tells the dispatcher. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct outbox *o = w->o;
    pthread_mutex_lock(&o->mu);
    for (;;) {
        while (!w->busy && !o->stopping)
            pthread_cond_wait(&o->work, &o->mu);
        if (!w->busy)
            break;                               /* stopping, nothing in hand */
        if (o->stopping) {                       /* not started: it stays pending */
            outbox_row_free(&w->row);
            w->busy = false;
            break;
        }
        pthread_mutex_unlock(&o->mu);
        process(o, &w->row);
        outbox_row_free(&w->row);
        pthread_mutex_lock(&o->mu);
        w->busy = false;
        o->released = true;
        pthread_cond_signal(&o->wake);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

static int prune_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    int64_t before = *(int64_t *)arg;
    return store_idem_prune(tx, before) == 0 ? 0 : kerr_internal(err, "idempotency prune");
}

/* Orders whose status changed by itself (expired; cancelled 4 h after a fraud rejection) are
 * filed under their new status for the order list (store.h order_list_sweep), a batch per job
 * so other writes interleave. Lists are exact without it; it keeps their corrections few. Only
 * orders due a minute ago are filed: a request received just before the instant (and read just
 * after the sweep) still finds the order under the status it shows. */
#define LIST_SWEEP_BATCH 256
#define LIST_SWEEP_MAX_BATCHES 16        /* per poll; a backlog (a clock jump) takes a few */
#define LIST_SWEEP_LAG_MS 60000

struct sweep_ctx {
    int64_t now;
    size_t n;
};

static int sweep_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct sweep_ctx *w = arg;
    return store_order_list_sweep(tx, w->now, LIST_SWEEP_BATCH, &w->n) == 0
               ? 0
               : kerr_internal(err, "order list sweep");
}

static void list_sweep(struct outbox *o, int64_t now)
{
    struct sweep_ctx w = {.now = now};
    struct kerr err = {0};
    for (int i = 0; i < LIST_SWEEP_MAX_BATCHES; i++) {
        if (store_write(o->app->store, sweep_fn, &w, &err) != 0) {
            store_trouble("order list sweep", 0, &err);
            return;
        }
        if (w.n < LIST_SWEEP_BATCH)
            return;
    }
}

/* Waits until a worker finishes, OUTBOX_POLL_MS pass, or stopping; true when stopping. Under
 * o->mu. */
static bool dispatcher_wait(struct outbox *o)
{
    if (!o->stopping && !o->released) {
        struct timespec until;
        clock_deadline_in(&until, OUTBOX_POLL_MS);
        pthread_cond_timedwait(&o->wake, &o->mu, &until);
    }
    o->released = false;
    return o->stopping;
}

/* Hands due events to idle workers by outbox_pick, under o->mu. claimed: the events that were
 * being delivered when d was read; one of them may have been recorded and released since,
 * and d may not show that yet, so none of them is handed out this time. Rows handed out
 * move to their worker (d->rows[i].url = NULL marks them). */
static void hand_out(struct outbox *o, struct due_ctx *d, const int64_t *claimed,
                     size_t n_claimed)
{
    struct outbox_slot due[OUTBOX_SCAN], busy[OUTBOX_WORKERS_MAX];
    size_t index[OUTBOX_SCAN], n_due = 0, n_busy = 0;
    for (size_t i = 0; i < d->n; i++) {
        bool skip = false;
        for (size_t j = 0; j < n_claimed && !skip; j++)
            skip = claimed[j] == d->rows[i].id;
        if (!skip) {
            index[n_due] = i;
            due[n_due++] = (struct outbox_slot){d->rows[i].id, d->rows[i].endpoint,
                                                d->rows[i].session_id};
        }
    }
    for (size_t i = 0; i < o->n_workers; i++)
        if (o->workers[i].busy)
            busy[n_busy++] = (struct outbox_slot){o->workers[i].row.id,
                                                  o->workers[i].row.endpoint,
                                                  o->workers[i].row.session_id};
    size_t next_idle = 0;
    while (n_busy < o->n_workers) {
        int k = outbox_pick(due, n_due, busy, n_busy, OUTBOX_PER_ENDPOINT);
        if (k < 0)
            break;
        while (o->workers[next_idle].busy)
            next_idle++;
        struct worker *w = &o->workers[next_idle];
        struct outbox_row *row = &d->rows[index[k]];
        w->row = *row;                           /* the worker owns url and body now */
        row->url = row->body = NULL;
        w->busy = true;
        busy[n_busy++] = (struct outbox_slot){w->row.id, w->row.endpoint, w->row.session_id};
    }
    pthread_cond_broadcast(&o->work);
}

static void *dispatcher_main(void *arg)
{
    struct outbox *o = arg;
    int64_t next_prune = 0;
    struct due_ctx *d = o->scan;
    int64_t claimed[OUTBOX_WORKERS_MAX];
    for (;;) {
        pthread_mutex_lock(&o->mu);
        bool stop = dispatcher_wait(o);
        size_t n_claimed = 0;
        for (size_t i = 0; i < o->n_workers; i++)
            if (o->workers[i].busy)
                claimed[n_claimed++] = o->workers[i].row.id;
        pthread_mutex_unlock(&o->mu);
        if (stop)
            break;
        struct kerr err = {0};
        /* Another node may have advanced the shared test clock. */
        if (o->app->test_clock && o->app->store->ops->shared &&
            app_clock_sync(o->app, &err) != 0)
            kerr_clear(&err);
        d->now = clock_now_ms(&o->app->clock);
        d->n = 0;
        /* Idempotency records live 24 hours on Kasse's clock; older ones are removed here. */
        if (d->now >= next_prune) {
            int64_t before = d->now - IDEMPOTENCY_TTL_MS;
            if (store_write(o->app->store, prune_fn, &before, &err) != 0)
                store_trouble("idempotency prune", 0, &err);
            next_prune = d->now + PRUNE_EVERY_MS;
        }
        list_sweep(o, d->now - LIST_SWEEP_LAG_MS);
        if (n_claimed == o->n_workers)
            continue;                            /* no worker free: nothing to read for */
        if (store_read(o->app->store, due_fn, d, &err) != 0)
            continue;
        pthread_mutex_lock(&o->mu);
        if (!o->stopping)
            hand_out(o, d, claimed, n_claimed);
        pthread_mutex_unlock(&o->mu);
        for (size_t i = 0; i < d->n; i++)
            outbox_row_free(&d->rows[i]);
    }
    return NULL;
}

struct outbox *outbox_start(struct app *app, int workers)
{
    if (workers <= 0)
        workers = OUTBOX_WORKERS;
    if (workers > OUTBOX_WORKERS_MAX)
        workers = OUTBOX_WORKERS_MAX;
    struct outbox *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->scan = calloc(1, sizeof *o->scan);
    if (!o->scan) {
        free(o);
        return NULL;
    }
    o->app = app;
    o->n_workers = (size_t)workers;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->wake, NULL);
    pthread_cond_init(&o->work, NULL);
    for (size_t i = 0; i < o->n_workers; i++) {
        o->workers[i].o = o;
        if (pthread_create(&o->workers[i].thread, NULL, worker_main, &o->workers[i]) != 0) {
            outbox_stop(o);
            return NULL;
        }
        o->workers[i].started = true;
    }
    if (pthread_create(&o->dispatcher, NULL, dispatcher_main, o) != 0) {
        outbox_stop(o);
        return NULL;
    }
    o->dispatcher_started = true;
    return o;
}

void outbox_stop(struct outbox *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    o->stopping = true;
    pthread_cond_broadcast(&o->wake);
    pthread_cond_broadcast(&o->work);
    pthread_mutex_unlock(&o->mu);
    if (o->dispatcher_started)
        pthread_join(o->dispatcher, NULL);
    /* The dispatcher hands out nothing more; each worker finishes (and records) its attempt. */
    for (size_t i = 0; i < o->n_workers; i++)
        if (o->workers[i].started)
            pthread_join(o->workers[i].thread, NULL);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->wake);
    pthread_cond_destroy(&o->work);
    free(o->scan);
    free(o);
}
