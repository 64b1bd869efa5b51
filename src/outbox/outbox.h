/* outbox: callbacks to merchants, durable and at least once (design.md). Handlers never make
 * outbound HTTP: they add an event in the same store transaction as the change that causes it
 * (outbox_event); a dispatcher thread hands due events to a bounded pool of delivery threads
 * (outbox_start), fairly per endpoint (outbox_pick); a worker delivers one event with libcurl,
 * records the attempt, and schedules the retry. */
#ifndef KASSE_OUTBOX_H
#define KASSE_OUTBOX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/kerr.h"
#include "store/store.h"

#define OUTBOX_MAX_ATTEMPTS 3
#define OUTBOX_CONNECT_TIMEOUT_MS 2000
#define OUTBOX_READ_TIMEOUT_MS 2000
#define OUTBOX_WORKERS 8           /* delivery threads (kasse serve --callback-workers) */
#define OUTBOX_WORKERS_MAX 64
#define OUTBOX_PER_ENDPOINT 2      /* deliveries in flight to one endpoint at most */

/* How one kind of event is delivered. Authorization callbacks and fraud notifications: 2 s to
 * connect, 2 s without a byte once connected, 3 attempts (contract 6.5). HPP status callbacks
 * ("hpp_status"): an answer within 3 s, up to 3 retries, so 4 attempts (contract 4.7). */
struct outbox_policy {
    int connect_ms;
    int read_ms;               /* once connected, this long without a byte ends the attempt */
    int attempt_max_ms;        /* one attempt never takes longer */
    int max_attempts;
};
const struct outbox_policy *outbox_policy_for(const char *kind);

struct app;
struct outbox;

/* Adds an event inside the caller's transaction. url may be "" (nothing to call: for fraud
 * decisions the order still changes when the event is due). body is copied. */
int outbox_event(struct store_tx *tx, int64_t merchant_id, const char *kind,
                 const char *session_id, const char *order_id, const char *url,
                 const json_t *body, int64_t now_ms, int64_t due_ms, struct kerr *err);

/* The dispatcher and `workers` delivery threads (1..OUTBOX_WORKERS_MAX; 0 = OUTBOX_WORKERS).
 * outbox_stop lets each worker finish the attempt in progress, records it, and joins them all. */
struct outbox *outbox_start(struct app *app, int workers);
void outbox_stop(struct outbox *o);

/* The retry schedule: the delay before attempt n+1 after n failed attempts (1 s, 2 s, ...). */
int64_t outbox_backoff_ms(int failed_attempts);

/* The endpoint a URL is delivered to, the unit of fairness: "scheme://host:port", scheme and
 * host in lower case, the scheme's default port filled in ("HTTP://Shop.example/cb" →
 * "http://shop.example:80"). "" for "". A URL that does not parse is its own endpoint (the text
 * itself, cut to fit). Always NUL-terminates out (cap > 0). */
void outbox_endpoint(const char *url, char *out, size_t cap);

/* One event as the scheduler sees it. */
struct outbox_slot {
    int64_t id;
    const char *endpoint;        /* outbox_endpoint of its URL */
    const char *session_id;      /* "" when none */
};

/* The scheduling rule. due: events that are due, oldest first; busy: events being delivered.
 * Picks the oldest due event that
 *  - is not being delivered (an event is delivered by one worker at a time),
 *  - has no other event of its session being delivered (a session's callbacks are never sent
 *    side by side, so its first attempts go out in the order they were made), and
 *  - goes to the endpoint with the fewest deliveries in flight, fewer than per_endpoint;
 * so an endpoint with nothing in flight goes before one already being called, and a hanging
 * endpoint holds at most per_endpoint workers. Returns its index in due, or -1 when nothing
 * may start. */
int outbox_pick(const struct outbox_slot *due, size_t n_due, const struct outbox_slot *busy,
                size_t n_busy, int per_endpoint);

#endif
