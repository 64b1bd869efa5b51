/* dispatch: one complete request to its reply — route, authenticate (Basic, client_token or
 * the portal's sign-in), replay or run the handler — and its request-log row. http_call runs
 * an internal merchant call through the same path (the demo shop's server side). Knows nothing
 * of sockets (server.c) and nothing of Klarna's rules (api/); unit tests drive it directly (the
 * allocation-failure loop). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "lib/ids.h"
#include "lib/jsonw.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "store/store.h"

static char *truncated_copy(const char *s, size_t len)
{
    if (!s)
        return NULL;
    if (len > LIMIT_LOG_BODY_BYTES)
        len = LIMIT_LOG_BODY_BYTES;
    return strndup(s, len);
}

/* Writes the request-log row for an authenticated request (queued, never waits on disk). */
void http_log_request(const struct req *r, int status, const char *body, size_t body_len)
{
    if (!r->authed)
        return;
    /* Reads made with the portal's sign-in (its lists and pages, the demo's catalog, the
     * session with its CSRF token) would bury the merchant's traffic; what it changes is
     * logged like any other call (docs/portal.md). */
    if (r->route && req_auth_kind(r) == AUTH_PORTAL &&
        (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0))
        return;
    struct reqlog_row row = {0};
    snprintf(row.correlation_id, sizeof row.correlation_id, "%s", r->correlation_id);
    row.merchant_id = r->merchant.id;
    snprintf(row.method, sizeof row.method, "%s", r->method);
    row.path = strdup(r->path);
    row.status = status;
    row.at_ms = r->received_ms;
    row.duration_us = clock_monotonic_us() - r->started_us;
    /* Bodies are kept as text; an empty body is "" (GET requests, 204 replies). */
    row.request_body = truncated_copy(r->body.len ? r->body.data : "", r->body.len);
    row.response_body = truncated_copy(body_len ? body : "", body_len);
    if (!row.path || !row.request_body || !row.response_body) {
        reqlog_row_free(&row);
        return;
    }
    store_log_async(r->app->store, &row);
}

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
    /* A challenge names how to authenticate; the portal's sign-in has none (a browser would
     * pop up its Basic dialog). */
    enum auth_kind kind = r->route ? req_auth_kind(r) : AUTH_MERCHANT;
    if (err->status == 401 && (kind == AUTH_MERCHANT || kind == AUTH_SHOPPER))
        reply_header(out, "WWW-Authenticate",
                     kind == AUTH_SHOPPER ? "Bearer realm=\"Kasse\"" : "Basic realm=\"Kasse\"");
    if (allow && allow[0])
        reply_header(out, "Allow", allow);
    if (err->retry_after > 0) {       /* 503: the store cannot take writes now */
        char seconds[16];
        snprintf(seconds, sizeof seconds, "%d", err->retry_after);
        reply_header(out, "Retry-After", seconds);
    }
}

/* The rest of a dispatch once r is routed and authenticated. */
static void http_dispatch_authed(struct req *r, struct reply *out)
{
    struct kerr err = {0};
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

void http_dispatch(struct req *r, struct reply *out)
{
    struct kerr err = {0};
    char allow[128];
    if (router_match(r, allow, sizeof allow, &err) != 0) {
        http_error_reply(r, &err, allow, out);
        return;
    }
    enum auth_kind kind = req_auth_kind(r);
    if ((kind == AUTH_MERCHANT && auth_merchant(r, &err) != 0) ||
        (kind == AUTH_SHOPPER && auth_shopper(r, &err) != 0) ||
        (kind == AUTH_PORTAL && auth_portal(r, &err) != 0)) {
        http_error_reply(r, &err, NULL, out);
        return;
    }
    http_dispatch_authed(r, out);
}

int http_call(const struct req *r, const char *method, const char *path, const json_t *body,
              int *status, json_t **reply, struct kerr *err)
{
    *status = 0;
    *reply = NULL;
    static const struct http_field json_type = {"Content-Type", "application/json"};
    struct req c = {.app = r->app, .method = method, .path = path, .headers = &json_type,
                    .n_headers = 1};
    c.started_us = clock_monotonic_us();
    c.received_ms = clock_now_ms(&r->app->clock);
    if (ids_uuid7(c.received_ms, c.correlation_id) != 0)
        return kerr_internal(err, "call: no randomness");
    buf_init(&c.body, LIMIT_BODY_BYTES);
    size_t len = 0;
    char *text = body ? jsonw_dumps(body, &len) : NULL;
    int rc = 0;
    if (body && (!text || buf_append(&c.body, text, len) != 0))
        rc = kerr_internal(err, "call: out of memory");
    free(text);
    char allow[128];
    struct reply out = {0};
    if (rc == 0 && router_match(&c, allow, sizeof allow, err) != 0)
        rc = -1;
    /* Only the merchant API, as the merchant: what a merchant's server could call. */
    if (rc == 0 && c.route->auth != AUTH_MERCHANT)
        rc = kerr_internal(err, "call: not a merchant route");
    if (rc == 0) {
        c.merchant = r->merchant;
        c.authed = true;
        http_dispatch_authed(&c, &out);
        char *reply_text = out.json ? jsonw_dumps(out.json, &len) : NULL;
        http_log_request(&c, out.status, reply_text ? reply_text : "", reply_text ? len : 0);
        free(reply_text);
        *status = out.status;
        *reply = out.json;
        free(out.owned);
    }
    buf_free(&c.body);
    free(c.path_copy);
    return rc;
}
