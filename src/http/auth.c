/* auth: HTTP Basic credentials → the merchant they belong to, or 401.
 * Secrets are never stored: the store keeps HMAC-SHA256(merchant_key, secret), and the
 * comparison is constant-time. An unknown username costs the same HMAC as a known one. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "lib/crypto.h"
#include "store/store.h"

#define AUTH_MAX_HEADER 1024

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

    uint8_t mac[32];
    if (auth_secret_mac(r->app, secret, mac) != 0)
        return kerr_internal(err, "auth: hmac");
    struct lookup l = {.username = decoded};
    if (store_read(r->app->store, lookup_fn, &l, err) != 0)
        return -1;
    int ok = l.found && crypto_equal(mac, l.row.secret_mac, sizeof mac);
    if (ok) {
        r->merchant.id = l.row.id;
        snprintf(r->merchant.username, sizeof r->merchant.username, "%s", l.row.username);
        snprintf(r->merchant.name, sizeof r->merchant.name, "%s", l.row.name);
        snprintf(r->merchant.categories, sizeof r->merchant.categories, "%s", l.row.categories);
        r->authed = true;
    }
    if (l.found)
        merchant_row_free(&l.row);
    crypto_wipe(decoded, sizeof decoded);
    return ok ? 0 : unauthorized(err);
}
