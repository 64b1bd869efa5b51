/* portal: the merchant portal's sign-in, its pages, the start page at "/" (docs/portal.md).
 * Everything the portal shows or does goes through the merchant API under PORTAL_PREFIX
 * (router.c); this file only signs merchants in and out and serves the pages. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "http/assets.h"
#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/version.h"
#include "store/store.h"

#define PORTAL_SESSION_MS (8LL * 3600 * 1000)   /* wall clock: the test clock never signs out */
#define SIGNIN_MAX_FAILS 5                      /* failed sign-ins per username ... */
#define SIGNIN_WINDOW_MS (5LL * 60 * 1000)      /* ... within this window, then 429 */
#define SIGNIN_SLOTS 1024
#define PORTAL_USERNAME_MAX 127
#define PORTAL_SECRET_MAX 256

/* ---- failed sign-ins: per username, in this node's memory ---- */

struct signin_slot {
    char username[PORTAL_USERNAME_MAX + 1];
    int fails;
    int64_t window_start;        /* monotonic ms of the first failure counted */
};

static struct signin_slot signin_slots[SIGNIN_SLOTS];
static pthread_mutex_t signin_lock = PTHREAD_MUTEX_INITIALIZER;

static struct signin_slot *signin_slot(const char *username)
{
    unsigned h = 2166136261u;    /* FNV-1a */
    for (const char *p = username; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return &signin_slots[h % SIGNIN_SLOTS];
}

/* Seconds until username may try again, 0 when it may now. A slot another username holds is
 * shared while its window lasts (a collision can only make the limit stricter). */
static int signin_wait_s(const char *username, int64_t now)
{
    pthread_mutex_lock(&signin_lock);
    struct signin_slot *s = signin_slot(username);
    int wait = 0;
    if (s->fails >= SIGNIN_MAX_FAILS && now - s->window_start < SIGNIN_WINDOW_MS)
        wait = (int)((SIGNIN_WINDOW_MS - (now - s->window_start) + 999) / 1000);
    pthread_mutex_unlock(&signin_lock);
    return wait;
}

static void signin_failed(const char *username, int64_t now)
{
    pthread_mutex_lock(&signin_lock);
    struct signin_slot *s = signin_slot(username);
    if (now - s->window_start >= SIGNIN_WINDOW_MS || s->fails == 0) {
        snprintf(s->username, sizeof s->username, "%s", username);
        s->fails = 0;
        s->window_start = now;
    }
    s->fails++;
    pthread_mutex_unlock(&signin_lock);
}

static void signin_succeeded(const char *username)
{
    pthread_mutex_lock(&signin_lock);
    struct signin_slot *s = signin_slot(username);
    if (strcmp(s->username, username) == 0)
        s->fails = 0;
    pthread_mutex_unlock(&signin_lock);
}

/* ---- sign-in sessions ---- */

static json_t *session_body(const struct req *r, const char *csrf, int64_t expires_ms)
{
    char at[32];
    time_format_iso8601(expires_ms, at);
    return json_pack("{s:{s:s, s:s}, s:s, s:s, s:b}", "merchant", "username",
                     r->merchant.username, "name", r->merchant.name, "csrf_token", csrf,
                     "expires_at", at, "test_clock", r->app->test_clock);
}

static void set_cookie(const struct req *r, struct reply *out, const char *value, int64_t max_age)
{
    char v[256];
    bool secure = strncmp(r->app->public_url, "https://", 8) == 0;
    snprintf(v, sizeof v, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
             PORTAL_COOKIE, value, (long long)max_age, secure ? "; Secure" : "");
    reply_header(out, "Set-Cookie", v);
    reply_header(out, "Cache-Control", "no-store");
}

struct signin_ctx {
    struct portal_session_row row;
};

static int signin_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct signin_ctx *c = arg;
    if (store_portal_session_prune(tx, c->row.created_at) != 0 ||
        store_portal_session_put(tx, &c->row) != 0)
        return kerr_internal(err, "portal: session put");
    return 0;
}

static int hex_random(char *out, size_t bytes)
{
    uint8_t b[32];
    if (bytes > sizeof b || crypto_random(b, bytes) != 0)
        return -1;
    crypto_hex(b, bytes, out);
    return 0;
}

/* POST /portal/api/session {"username", "secret"} */
int portal_sign_in(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    const char *fields[2] = {"username", "secret"};
    const char *v[2];
    for (int i = 0; i < 2; i++) {
        json_t *f = json_object_get(body, fields[i]);
        v[i] = json_string_value(f);
        size_t max = i == 0 ? PORTAL_USERNAME_MAX : PORTAL_SECRET_MAX;
        if (!v[i] || !v[i][0] || strlen(v[i]) > max || strlen(v[i]) != json_string_length(f)) {
            json_decref(body);
            return kerr_bad_value(err, fields[i]);
        }
    }
    int64_t now = clock_monotonic_ms();
    int wait = signin_wait_s(v[0], now);
    if (wait > 0) {
        json_decref(body);
        kerr_set(err, 429, "TOO_MANY_REQUESTS",
                 "Too many failed sign-ins for this username: try again in %d seconds", wait);
        err->retry_after = wait;
        return -1;
    }
    int rc = auth_credentials(r, v[0], v[1], &r->merchant, err);
    if (rc == 1)
        signin_failed(v[0], now);
    else if (rc == 0)
        signin_succeeded(v[0]);
    json_decref(body);
    if (rc < 0)
        return -1;
    if (rc != 0)
        return kerr_set(err, 401, "UNAUTHORIZED", "%s", "Wrong username or secret");

    uint8_t raw[32];
    char cookie[64];
    struct signin_ctx c = {.row = {.merchant_id = r->merchant.id}};
    if (crypto_random(raw, sizeof raw) != 0 ||
        crypto_b64url_encode(raw, sizeof raw, cookie, sizeof cookie) < 0 ||
        hex_random(c.row.csrf, 32) != 0)
        return kerr_internal(err, "portal: no randomness");
    auth_portal_cookie_hash(cookie, c.row.id_hash);
    c.row.created_at = clock_wall_ms();
    c.row.expires_at = c.row.created_at + PORTAL_SESSION_MS;
    if (store_write(r->app->store, signin_fn, &c, err) != 0)
        return -1;
    set_cookie(r, out, cookie, PORTAL_SESSION_MS / 1000);
    crypto_wipe(cookie, sizeof cookie);
    return reply_json(out, 200, session_body(r, c.row.csrf, c.row.expires_at), err);
}

/* GET /portal/api/session: who is signed in, and the CSRF token a reloaded page needs. */
int portal_session(struct req *r, struct reply *out, struct kerr *err)
{
    reply_header(out, "Cache-Control", "no-store");
    return reply_json(out, 200, session_body(r, r->portal_csrf, r->portal_expires_ms), err);
}

static int signout_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    if (store_portal_session_delete(tx, arg) != 0)
        return kerr_internal(err, "portal: session delete");
    return 0;
}

/* DELETE /portal/api/session */
int portal_sign_out(struct req *r, struct reply *out, struct kerr *err)
{
    if (store_write(r->app->store, signout_fn, r->portal_id, err) != 0)
        return -1;
    set_cookie(r, out, "", 0);
    return reply_empty(out, 204);
}

/* ---- the start page ---- */

/* Whether the client asked for JSON rather than a page: an Accept naming application/json (or
 * a +json type) and not text/html. */
static bool wants_json(const struct req *r)
{
    const char *a = req_header(r, "Accept");
    return a && (strstr(a, "application/json") || strstr(a, "+json")) && !strstr(a, "text/html");
}

/* Appends s with &, <, >, " and ' escaped. */
static int html_escaped(struct buf *b, const char *s)
{
    int rc = 0;
    for (; *s && rc == 0; s++) {
        switch (*s) {
        case '&': rc = buf_append(b, "&amp;", 5); break;
        case '<': rc = buf_append(b, "&lt;", 4); break;
        case '>': rc = buf_append(b, "&gt;", 4); break;
        case '"': rc = buf_append(b, "&quot;", 6); break;
        case '\'': rc = buf_append(b, "&#39;", 5); break;
        default: rc = buf_append(b, s, 1);
        }
    }
    return rc;
}

/* GET /: what Kasse is and where to point an integration (a page, or JSON when asked). */
int portal_start(struct req *r, struct reply *out, struct kerr *err)
{
    const char *pub = r->app->public_url;
    reply_header(out, "Vary", "Accept");
    if (wants_json(r)) {
        char u[6][320];
        const char *paths[6] = {"/payments/v1", "/ordermanagement/v1", "/hpp/v1",
                                "/customer-token/v1", "/kp/lib/v1/api.js", "/portal/"};
        for (int i = 0; i < 6; i++)
            snprintf(u[i], sizeof u[i], "%s%s", pub, paths[i]);
        char demo[320], health[320];
        snprintf(demo, sizeof demo, "%s/demo/", pub);
        snprintf(health, sizeof health, "%s/kasse/v1/health", pub);
        json_t *body = json_pack(
            "{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:s}", "name", "Kasse",
            "version", KASSE_VERSION, "description",
            "A self-hosted payments server that speaks Klarna's API", "base_url", pub, "apis",
            "payments", u[0], "ordermanagement", u[1], "hpp", u[2], "customer_token", u[3],
            "sdk", u[4], "portal", u[5], "demo", demo, "health", health);
        return reply_json(out, 200, body, err);
    }
    const struct asset *a = assets_find("/kasse/start/index.html");
    if (!a)
        return kerr_set(err, 404, "NOT_FOUND", "No such resource: %s", r->path);
    struct buf b;
    buf_init(&b, (size_t)4 * 1024 * 1024);
    const char *p = (const char *)a->data, *end = p + a->len;
    int rc = 0;
    while (p < end && rc == 0) {
        const char *open = memmem(p, (size_t)(end - p), "{{", 2);
        if (!open) {
            rc = buf_append(&b, p, (size_t)(end - p));
            break;
        }
        rc = buf_append(&b, p, (size_t)(open - p));
        if (rc == 0 && (size_t)(end - open) >= 11 && memcmp(open, "{{version}}", 11) == 0) {
            rc = html_escaped(&b, KASSE_VERSION);
            p = open + 11;
        } else if (rc == 0 && (size_t)(end - open) >= 14 &&
                   memcmp(open, "{{public_url}}", 14) == 0) {
            rc = html_escaped(&b, pub);
            p = open + 14;
        } else if (rc == 0) {
            rc = buf_append(&b, open, 2);
            p = open + 2;
        }
    }
    if (rc != 0) {
        buf_free(&b);
        return kerr_internal(err, "start page: out of memory");
    }
    out->status = 200;
    out->owned = b.data;
    out->raw_len = b.len;
    out->content_type = "text/html; charset=utf-8";
    reply_header(out, "Cache-Control", "no-cache");
    reply_header(out, "Content-Security-Policy",
                 "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
                 "form-action 'none'; frame-ancestors 'none'");
    return 0;
}

/* GET /portal, /demo: the folder's page. */
int portal_folder_redirect(struct req *r, struct reply *out, struct kerr *err)
{
    char to[64];
    snprintf(to, sizeof to, "%s/", r->path);
    reply_header(out, "Location", to);
    (void)err;
    return reply_empty(out, 301);
}
