/* outbox: callbacks to merchants, durable and at least once (design.md). Handlers never make
 * outbound HTTP: they add an event in the same store transaction as the change that causes it
 * (outbox_event), and one background thread (outbox_start) delivers due events with libcurl,
 * records every attempt, and retries. */
#ifndef KASSE_OUTBOX_H
#define KASSE_OUTBOX_H

#include <jansson.h>
#include <stdint.h>

#include "lib/kerr.h"
#include "store/store.h"

#define OUTBOX_MAX_ATTEMPTS 3
#define OUTBOX_CONNECT_TIMEOUT_MS 2000
#define OUTBOX_READ_TIMEOUT_MS 2000

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

/* The delivery thread; outbox_stop finishes the attempt in progress and joins it. */
struct outbox *outbox_start(struct app *app);
void outbox_stop(struct outbox *o);

/* The retry schedule: the delay before attempt n+1 after n failed attempts (1 s, 2 s, ...). */
int64_t outbox_backoff_ms(int failed_attempts);

#endif
