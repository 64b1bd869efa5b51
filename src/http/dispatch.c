/* dispatch: one complete request to its reply — route, authenticate, replay or run the handler.
 * Knows nothing of sockets (server.c) and nothing of Klarna's rules (api/); unit tests drive
 * it directly (the allocation-failure loop). */
#include <stdio.h>
#include <stdlib.h>

#include "http/http.h"
#include "lib/log.h"

void http_error_reply(const struct req *r, const struct kerr *err, const char *allow,
                      struct reply *out)
{
    *out = (struct reply){0};
    out->status = err->status ? err->status : 500;
    out->json = reply_error_body(r->correlation_id, err);
    if (!out->json) {                 /* out of memory: render() sends the fixed 500 envelope */
        out->status = 500;
        return;
    }
    if (err->status == 401)
        reply_header(out, "WWW-Authenticate",
                     r->route && r->route->auth == AUTH_SHOPPER ? "Bearer realm=\"Kasse\""
                                                                : "Basic realm=\"Kasse\"");
    if (allow && allow[0])
        reply_header(out, "Allow", allow);
    if (err->retry_after > 0) {       /* 503: the store cannot take writes now */
        char seconds[16];
        snprintf(seconds, sizeof seconds, "%d", err->retry_after);
        reply_header(out, "Retry-After", seconds);
    }
}

void http_dispatch(struct req *r, struct reply *out)
{
    struct kerr err = {0};
    char allow[128];
    if (router_match(r, allow, sizeof allow, &err) != 0) {
        http_error_reply(r, &err, allow, out);
        return;
    }
    if ((r->route->auth == AUTH_MERCHANT && auth_merchant(r, &err) != 0) ||
        (r->route->auth == AUTH_SHOPPER && auth_shopper(r, &err) != 0)) {
        http_error_reply(r, &err, NULL, out);
        return;
    }
    /* With a shared store, another node may have advanced the test clock. */
    if (r->app->test_clock && r->app->store->ops->shared) {
        if (app_clock_sync(r->app, &err) != 0) {
            http_error_reply(r, &err, NULL, out);
            return;
        }
        r->received_ms = clock_now_ms(&r->app->clock);
    }
    *out = (struct reply){0};
    int replayed = idempotency_begin(r, out, &err);
    if (replayed < 0 || (replayed == 0 && r->route->handler(r, out, &err) != 0)) {
        json_decref(out->json);
        free(out->owned);
        /* (a full disk's 503s are logged by the store, once per outage) */
        if (err.status >= 500 && err.status != 503)
            log_error("%s %s → %d %s (%s)", r->method, r->path, err.status, err.code,
                      r->correlation_id);
        http_error_reply(r, &err, NULL, out);
    }
}
