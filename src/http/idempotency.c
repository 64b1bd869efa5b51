/* idempotency: Klarna-Idempotency-Key (contract 1.5), one mechanism for every API.
 *
 * Scope (issue 9): a key is the merchant's, on the merchant API only (HTTP Basic); shopper and
 * public routes ignore the header, so a shopper can neither read nor plant a merchant's record.
 * A key answers one request: the first successful (2xx) reply, status, handler headers
 * (Location, Capture-Id, ...) and body, is recorded in the same store transaction as the
 * operation, with the request's method, path and body hash, and replayed for 24 hours on Kasse's
 * clock to the same request. The same key with another method, path or body is refused with
 * 422 IDEMPOTENCY_KEY_MISMATCH (the IETF idempotency-key draft's status for a reused key),
 * never replayed: replaying another operation's reply would skip this one silently. Failed
 * requests are not recorded, so a client may retry them with the same key. The record is
 * looked up again inside the transaction, and (merchant, key) is unique in the store: of
 * duplicates that arrive together, on one node or several, one records its reply and the
 * others run again (STORE_RETRY, store.h Concurrency) and replay it, so they execute once. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "lib/crypto.h"
#include "lib/jsonp.h"
#include "lib/jsonw.h"
#include "lib/limits.h"
#include "lib/mem.h"
#include "store/store.h"


static int replay(const struct idem_row *row, struct reply *out, struct kerr *err);

static bool mutating(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 ||
           strcmp(method, "DELETE") == 0 || strcmp(method, "PUT") == 0;
}

/* Fills out from a recorded reply. */
static int replay(const struct idem_row *row, struct reply *out, struct kerr *err)
{
    out->status = row->status;
    json_decref(out->json);
    out->json = NULL;
    out->n_headers = 0;
    if (row->body[0]) {
        out->json = jsonp_parse(row->body, strlen(row->body), LIMIT_JSON_DEPTH, NULL, 0);
        if (!out->json)
            return kerr_internal(err, "idempotency: recorded body is not JSON");
    }
    json_t *headers = jsonp_parse(row->headers, strlen(row->headers), 4, NULL, 0);
    size_t i;
    json_t *pair;
    json_array_foreach(headers, i, pair) {
        const char *name = json_string_value(json_array_get(pair, 0));
        const char *value = json_string_value(json_array_get(pair, 1));
        if (name && value)
            reply_header(out, name, value);
    }
    json_decref(headers);
    return 0;
}

/* Hex SHA-256 of the request body (HMAC with an empty key: a plain digest is all it needs). */
static int request_hash(const struct req *r, char out[65])
{
    uint8_t mac[32];
    if (crypto_hmac_sha256("", 0, r->body.data ? r->body.data : "", r->body.len, mac) != 0)
        return -1;
    crypto_hex(mac, sizeof mac, out);
    return 0;
}

/* A record answers only the request it was made for. */
static int same_request(const struct idem_row *row, const struct req *r, struct kerr *err)
{
    char hash[65];
    if (request_hash(r, hash) != 0)
        return kerr_internal(err, "idempotency: hash");
    if (strcmp(row->method, r->method) != 0 || strcmp(row->path, r->path) != 0 ||
        (row->request_hash[0] && strcmp(row->request_hash, hash) != 0))
        return kerr_set(err, 422, "IDEMPOTENCY_KEY_MISMATCH",
                        "Klarna-Idempotency-Key was already used for another request within 24 "
                        "hours; use a new key for a new request");
    return 0;
}

struct lookup {
    struct req *r;
    struct idem_row row;
    int found;
};

static int lookup_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct lookup *l = arg;
    int rc = store_idem_get(tx, l->r->merchant.id, l->r->idem_key,
                            l->r->received_ms - IDEMPOTENCY_TTL_MS, &l->row);
    if (rc < 0)
        return kerr_internal(err, "idempotency: lookup");
    l->found = rc == 0;
    return 0;
}

/* A replay answers without running the handler, so a retry whose body would now fail (the
 * body is ignored, as at Klarna) still gets the first reply. */
int idempotency_begin(struct req *r, struct reply *out, struct kerr *err)
{
    if (!r->authed || !mutating(r->method) || !r->route || r->route->auth != AUTH_MERCHANT)
        return 0;
    const char *key = req_header(r, "Klarna-Idempotency-Key");
    if (!key)
        return 0;
    size_t n = strlen(key);
    bool ok = n > 0 && n <= LIMIT_IDEMPOTENCY_KEY_BYTES;
    for (size_t i = 0; ok && i < n; i++)
        ok = key[i] > 0x20 && key[i] < 0x7F;
    if (!ok)
        return kerr_set(err, 400, "BAD_REQUEST",
                        "Invalid Klarna-Idempotency-Key header: 1 to %d printable characters",
                        LIMIT_IDEMPOTENCY_KEY_BYTES);
    r->idem_key = key;
    struct lookup l = {.r = r};
    if (store_read(r->app->store, lookup_fn, &l, err) != 0)
        return -1;
    if (!l.found)
        return 0;
    int rc = same_request(&l.row, r, err);
    if (rc == 0)
        rc = replay(&l.row, out, err);
    idem_row_free(&l.row);
    return rc == 0 ? 1 : -1;
}

struct idem_job {
    struct req *r;
    store_tx_fn fn;
    void *arg;
    reply_fn build;
    struct reply *out;
    int base_headers;            /* out's headers before the transaction (kept on a rerun) */
};

/* The reply's headers as a JSON array of [name, value]; NULL when memory ran out (a record
 * missing a header would replay a different reply). */
static char *headers_json(const struct reply *out)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < out->n_headers; i++) {
        json_t *pair = json_pack("[s,s]", out->headers[i].name, out->headers[i].value);
        if (!pair || json_array_append_new(arr, pair) != 0) {   /* steals pair even then */
            json_decref(arr);
            arr = NULL;
        }
    }
    char *text = arr ? jsonw_dumps(arr, NULL) : NULL;
    json_decref(arr);
    return text;
}

static int idem_tx(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct idem_job *j = arg;
    struct req *r = j->r;
    /* The store may run this again (store.h, Concurrency): a rerun starts from the reply as
     * it was before the first attempt. */
    json_decref(j->out->json);
    j->out->json = NULL;
    j->out->n_headers = j->base_headers;
    if (r->idem_key) {
        struct idem_row row;
        int rc = store_idem_get(tx, r->merchant.id, r->idem_key,
                                r->received_ms - IDEMPOTENCY_TTL_MS, &row);
        if (rc < 0)
            return kerr_internal(err, "idempotency: lookup");
        if (rc == 0) {
            rc = same_request(&row, r, err);
            if (rc == 0)
                rc = replay(&row, j->out, err);
            idem_row_free(&row);
            return rc;
        }
    }
    if (j->fn(tx, j->arg, err) != 0 || j->build(j->arg, j->out, err) != 0)
        return -1;
    if (!r->idem_key || j->out->status < 200 || j->out->status >= 300)
        return 0;
    struct idem_row row = {.merchant_id = r->merchant.id, .key = (char *)r->idem_key,
                           .created_at = r->received_ms, .path = (char *)r->path,
                           .status = j->out->status};
    snprintf(row.method, sizeof row.method, "%s", r->method);
    if (request_hash(r, row.request_hash) != 0)
        return kerr_internal(err, "idempotency: hash");
    row.headers = headers_json(j->out);
    row.body = j->out->json ? jsonw_dumps(j->out->json, NULL) : mem_strdup("");
    int rc = 0;
    if (!row.headers || !row.body)
        rc = kerr_internal(err, "idempotency: out of memory");
    else if ((rc = store_idem_put(tx, &row, r->received_ms - IDEMPOTENCY_TTL_MS)) == STORE_RETRY)
        rc = kerr_unavailable(err, 1, "idempotency: a concurrent request recorded the key");
    else if (rc != 0)
        rc = kerr_internal(err, "idempotency: record");
    free(row.headers);
    free(row.body);
    return rc;
}

int api_write(struct req *r, store_tx_fn fn, void *arg, reply_fn build, struct reply *out,
              struct kerr *err)
{
    struct idem_job j = {.r = r, .fn = fn, .arg = arg, .build = build, .out = out,
                         .base_headers = out->n_headers};
    return store_write(r->app->store, idem_tx, &j, err);
}
