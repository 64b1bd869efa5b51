/* auth: HTTP Basic credentials → the merchant they belong to, or 401.
 * Secrets are never stored: the store keeps HMAC-SHA256(merchant_key, secret), and the
 * comparison is constant-time. An unknown username costs the same HMAC as a known one.
 *
 * The merchant cache keeps the stored row of merchants seen recently (username → id, secret
 * MAC, name, categories), so a request costs one HMAC and no store read. An entry is re-read
 * from the store after AUTH_CACHE_TTL_S (1 s), so a secret changed elsewhere (another node, the
 * command line) takes effect within that time. Unknown usernames are never cached. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/http.h"
#include "lib/crypto.h"
#include "lib/jwt.h"
#include "store/store.h"

#define AUTH_MAX_HEADER 1024
#define AUTH_CACHE_BUCKETS 256
#define AUTH_CACHE_MAX 4096          /* entries; past it the cache stops growing */
#define AUTH_CACHE_TTL_S 1          /* issue 10: a merchant removed on one node is refused by
                                      * every node within about a second */

struct cache_entry {
    struct merchant m;
    uint8_t secret_mac[32];
    int64_t loaded_s;                /* monotonic seconds */
    struct cache_entry *next;
};

struct auth_cache {
    pthread_rwlock_t lock;
    struct cache_entry *bucket[AUTH_CACHE_BUCKETS];
    size_t count;
};

static int64_t monotonic_s(void)
{
    return clock_monotonic_ms() / 1000;
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;        /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % AUTH_CACHE_BUCKETS;
}

struct auth_cache *auth_cache_new(void)
{
    struct auth_cache *c = calloc(1, sizeof *c);
    if (c)
        pthread_rwlock_init(&c->lock, NULL);
    return c;
}

void auth_cache_free(struct auth_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < AUTH_CACHE_BUCKETS; i++)
        for (struct cache_entry *e = c->bucket[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

/* Copies a fresh entry for username into out; false when absent or stale. */
static bool cache_get(struct auth_cache *c, const char *username, struct cache_entry *out)
{
    bool hit = false;
    int64_t now = monotonic_s();
    pthread_rwlock_rdlock(&c->lock);
    for (struct cache_entry *e = c->bucket[hash(username)]; e; e = e->next) {
        if (strcmp(e->m.username, username) == 0) {
            if (now - e->loaded_s < AUTH_CACHE_TTL_S) {
                *out = *e;
                hit = true;
            }
            break;
        }
    }
    pthread_rwlock_unlock(&c->lock);
    return hit;
}

static void cache_put(struct auth_cache *c, const struct cache_entry *fresh)
{
    unsigned h = hash(fresh->m.username);
    pthread_rwlock_wrlock(&c->lock);
    struct cache_entry *e = c->bucket[h];
    while (e && strcmp(e->m.username, fresh->m.username) != 0)
        e = e->next;
    if (e) {
        struct cache_entry *next = e->next;
        *e = *fresh;
        e->next = next;
    } else if (c->count < AUTH_CACHE_MAX && (e = malloc(sizeof *e))) {
        *e = *fresh;
        e->next = c->bucket[h];
        c->bucket[h] = e;
        c->count++;
    }
    pthread_rwlock_unlock(&c->lock);
}

int auth_secret_mac(const struct app *app, const char *secret, uint8_t out[32])
{
    return crypto_hmac_sha256(app->merchant_key, sizeof app->merchant_key, secret,
                              strlen(secret), out);
}

static int unauthorized(struct kerr *err)
{
    return kerr_set(err, 401, "UNAUTHORIZED", "%s", "");
}

struct lookup {
    const char *username;
    struct merchant_row row;
    int found;
};

static int lookup_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct lookup *l = arg;
    int rc = store_merchant_by_username(tx, l->username, &l->row);
    if (rc < 0)
        return kerr_internal(err, "auth: merchant lookup");
    l->found = rc == 0;
    return 0;
}

/* The merchant called username, from the cache or the store; 0 found, 1 unknown, -1 error. */
static int find_merchant(struct req *r, const char *username, struct cache_entry *out,
                         struct kerr *err)
{
    struct auth_cache *c = r->app->auth_cache;
    if (c && cache_get(c, username, out))
        return 0;
    struct lookup l = {.username = username};
    if (store_read(r->app->store, lookup_fn, &l, err) != 0)
        return -1;
    if (!l.found)
        return 1;
    memset(out, 0, sizeof *out);
    out->m.id = l.row.id;
    snprintf(out->m.username, sizeof out->m.username, "%s", l.row.username);
    snprintf(out->m.name, sizeof out->m.name, "%s", l.row.name);
    snprintf(out->m.categories, sizeof out->m.categories, "%s", l.row.categories);
    memcpy(out->secret_mac, l.row.secret_mac, sizeof out->secret_mac);
    out->loaded_s = monotonic_s();
    merchant_row_free(&l.row);
    if (c && strlen(username) < sizeof out->m.username)
        cache_put(c, out);
    return 0;
}

int auth_merchant(struct req *r, struct kerr *err)
{
    const char *h = req_header(r, "Authorization");
    if (!h || strncasecmp(h, "Basic ", 6) != 0)
        return unauthorized(err);
    const char *b64 = h + 6;
    while (*b64 == ' ')
        b64++;
    size_t n = strlen(b64);
    while (n && b64[n - 1] == ' ')
        n--;
    if (n == 0 || n > AUTH_MAX_HEADER)
        return unauthorized(err);
    char decoded[AUTH_MAX_HEADER];
    long len = crypto_b64_decode(b64, n, decoded, sizeof decoded - 1);
    if (len <= 0)
        return unauthorized(err);
    decoded[len] = '\0';
    if (strlen(decoded) != (size_t)len)       /* embedded NUL */
        return unauthorized(err);
    char *colon = strchr(decoded, ':');
    if (!colon || colon == decoded)
        return unauthorized(err);
    *colon = '\0';
    const char *secret = colon + 1;

    int rc = auth_credentials(r, decoded, secret, &r->merchant, err);
    crypto_wipe(decoded, (size_t)len);
    if (rc < 0)
        return -1;
    if (rc != 0)
        return unauthorized(err);
    r->authed = true;
    return 0;
}

int auth_credentials(struct req *r, const char *username, const char *secret,
                     struct merchant *out, struct kerr *err)
{
    uint8_t mac[32];
    if (auth_secret_mac(r->app, secret, mac) != 0)
        return kerr_internal(err, "auth: hmac");
    struct cache_entry e;
    int rc = find_merchant(r, username, &e, err);
    if (rc < 0)
        return -1;
    if (rc != 0 || !crypto_equal(mac, e.secret_mac, sizeof mac))
        return 1;
    *out = e.m;
    return 0;
}

/* ---- the portal: a sign-in cookie (docs/portal.md) ---- */

void auth_portal_cookie_hash(const char *cookie, char out[65])
{
    uint8_t mac[32];
    /* Keyed with a constant purpose label: the stored value of a cookie is useless to whoever
     * reads the database, and cannot be turned back into the cookie. */
    if (crypto_hmac_sha256("kasse portal cookie", 19, cookie, strlen(cookie), mac) != 0)
        memset(mac, 0, sizeof mac);
    crypto_hex(mac, sizeof mac, out);
}

/* The value of cookie name in the Cookie header(s), copied into out; false when absent or
 * longer than cap - 1. */
static bool cookie_value(const struct req *r, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (int i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, "Cookie") != 0)
            continue;
        const char *p = r->headers[i].value;
        while (*p) {
            while (*p == ' ' || *p == ';')
                p++;
            const char *end = strchr(p, ';');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
                size_t vlen = len - nlen - 1;
                while (vlen && p[nlen + 1 + vlen - 1] == ' ')
                    vlen--;
                if (vlen == 0 || vlen >= cap)
                    return false;
                memcpy(out, p + nlen + 1, vlen);
                out[vlen] = '\0';
                return true;
            }
            p += len;
        }
    }
    return false;
}

struct portal_lookup {
    char id_hash[65];
    int64_t now;
    struct portal_session_row session;
    struct merchant_row merchant;
    int found;
};

static int portal_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct portal_lookup *l = arg;
    l->found = 0;
    int rc = store_portal_session_get(tx, l->id_hash, l->now, &l->session);
    if (rc < 0)
        return kerr_internal(err, "auth: portal session lookup");
    if (rc == STORE_NOT_FOUND)
        return 0;
    rc = store_merchant_by_id(tx, l->session.merchant_id, &l->merchant);
    if (rc < 0)
        return kerr_internal(err, "auth: merchant lookup");
    l->found = rc == 0;
    return 0;
}

int auth_portal(struct req *r, struct kerr *err)
{
    char cookie[128];
    if (!cookie_value(r, PORTAL_COOKIE, cookie, sizeof cookie))
        return kerr_set(err, 401, "UNAUTHORIZED", "%s", "Sign in to the portal first");
    struct portal_lookup l = {.now = clock_wall_ms()};
    auth_portal_cookie_hash(cookie, l.id_hash);
    crypto_wipe(cookie, sizeof cookie);
    if (store_read(r->app->store, portal_fn, &l, err) != 0)
        return -1;
    if (!l.found)
        return kerr_set(err, 401, "UNAUTHORIZED", "%s",
                        "Your portal session has ended: sign in again");
    r->merchant.id = l.merchant.id;
    snprintf(r->merchant.username, sizeof r->merchant.username, "%s", l.merchant.username);
    snprintf(r->merchant.name, sizeof r->merchant.name, "%s", l.merchant.name);
    snprintf(r->merchant.categories, sizeof r->merchant.categories, "%s", l.merchant.categories);
    merchant_row_free(&l.merchant);
    memcpy(r->portal_id, l.id_hash, sizeof r->portal_id);
    snprintf(r->portal_csrf, sizeof r->portal_csrf, "%s", l.session.csrf);
    r->portal_expires_ms = l.session.expires_at;
    /* Changes need the session's CSRF token, which only the portal's own pages hold (a page
     * on another site can make the browser send the cookie only where SameSite fails). */
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        const char *t = req_header(r, PORTAL_CSRF_HEADER);
        size_t n = strlen(r->portal_csrf);
        if (!t || n == 0 || strlen(t) != n || !crypto_equal(t, r->portal_csrf, n))
            return kerr_set(err, 403, "FORBIDDEN", "%s", "Missing or wrong CSRF token");
    }
    r->authed = true;
    return 0;
}

/* ---- shoppers: the client_token names one session ---- */

struct shopper_lookup {
    const char *session_id;
    struct merchant_row merchant;
    int found;
};

static int shopper_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct shopper_lookup *l = arg;
    struct session_row row;
    int rc = store_session_get(tx, 0, l->session_id, &row);
    if (rc < 0)
        return kerr_internal(err, "auth: session lookup");
    if (rc == STORE_NOT_FOUND)
        return 0;
    int64_t merchant_id = row.merchant_id;
    session_row_free(&row);
    rc = store_merchant_by_id(tx, merchant_id, &l->merchant);
    if (rc < 0)
        return kerr_internal(err, "auth: merchant lookup");
    l->found = rc == 0;
    return 0;
}

int auth_shopper(struct req *r, struct kerr *err)
{
    const char *h = req_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return unauthorized(err);
    json_t *claims = jwt_verify_hs256(h + 7, r->app->token_key, sizeof r->app->token_key);
    const char *sid = json_string_value(json_object_get(claims, "session_id"));
    if (!sid || strlen(sid) >= sizeof r->shopper_session) {
        json_decref(claims);
        return unauthorized(err);
    }
    snprintf(r->shopper_session, sizeof r->shopper_session, "%s", sid);
    json_decref(claims);
    struct shopper_lookup l = {.session_id = r->shopper_session};
    if (store_read(r->app->store, shopper_fn, &l, err) != 0)
        return -1;
    if (!l.found)
        return unauthorized(err);
    r->merchant.id = l.merchant.id;
    snprintf(r->merchant.username, sizeof r->merchant.username, "%s", l.merchant.username);
    snprintf(r->merchant.name, sizeof r->merchant.name, "%s", l.merchant.name);
    snprintf(r->merchant.categories, sizeof r->merchant.categories, "%s", l.merchant.categories);
    merchant_row_free(&l.merchant);
    r->authed = true;
    return 0;
}
