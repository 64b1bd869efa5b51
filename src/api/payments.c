/* payments: the Klarna Payments API v1 session operations (contract 2.2-2.4).
 * Each handler reads the body through req_json_body, applies core/session's rules, runs one
 * store transaction scoped to the authenticated merchant, and builds Klarna's reply. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/authorization.h"
#include "core/categories.h"
#include "core/market.h"
#include "core/session.h"
#include "lib/ids.h"
#include "lib/jsonp.h"
#include "lib/jsonw.h"
#include "lib/jwt.h"
#include "lib/limits.h"
#include "store/store.h"

static int invalid_session(struct kerr *err)
{
    return kerr_set(err, 404, "NOT_FOUND", "Invalid session id");
}

static const char *str_field(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The client_token: an HS256 JWT with the claims Klarna's tokens carry (contract 6.6, 12). */
static char *client_token_for(const struct req *r, const char *session_id, const json_t *session,
                              int64_t now_ms)
{
    char country[3] = {0}, language[3] = {0};
    const char *pc = str_field(session, "purchase_country");
    const char *locale = str_field(session, "locale");
    for (int i = 0; i < 2 && pc[i]; i++)
        country[i] = (char)toupper((unsigned char)pc[i]);
    for (int i = 0; i < 2 && locale[i]; i++)
        language[i] = (char)tolower((unsigned char)locale[i]);
    /* Built field by field: json_pack re-parses its format string on every call. */
    json_t *claims = json_object();
    if (claims &&
        (json_object_set_new_nocheck(claims, "session_id", json_string(session_id)) ||
         json_object_set_new_nocheck(claims, "base_url", json_string(r->app->public_url)) ||
         json_object_set_new_nocheck(claims, "design", json_string("klarna")) ||
         json_object_set_new_nocheck(claims, "language", json_string(language)) ||
         json_object_set_new_nocheck(claims, "locale", json_string(locale)) ||
         json_object_set_new_nocheck(claims, "purchase_country", json_string(country)) ||
         json_object_set_new_nocheck(claims, "environment", json_string("playground")) ||
         json_object_set_new_nocheck(claims, "merchant_name", json_string(r->merchant.name)) ||
         json_object_set_new_nocheck(claims, "session_type", json_string("PAYMENTS")) ||
         json_object_set_new_nocheck(claims, "region", json_string(market_region(country))) ||
         json_object_set_new_nocheck(
             claims, "order_amount",
             json_integer(json_integer_value(json_object_get(session, "order_amount")))) ||
         json_object_set_new_nocheck(claims, "iat", json_integer(now_ms / 1000)))) {
        json_decref(claims);
        return NULL;
    }
    if (!claims)
        return NULL;
    char *token = jwt_sign_hs256(claims, r->app->token_key, sizeof r->app->token_key);
    json_decref(claims);
    return token;
}

/* ---- create ---- */

struct create_ctx {
    struct session_row *row;
    json_t *categories;
};

static int insert_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct create_ctx *c = arg;
    if (store_session_insert(tx, c->row) != 0)
        return kerr_internal(err, "session insert");
    return 0;
}

static int create_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct create_ctx *c = arg;
    json_t *reply = json_object();
    if (!reply || json_object_set_new_nocheck(reply, "session_id", json_string(c->row->id)) ||
        json_object_set_new_nocheck(reply, "client_token", json_string(c->row->client_token)) ||
        json_object_set_nocheck(reply, "payment_method_categories", c->categories)) {
        json_decref(reply);
        return kerr_internal(err, "out of memory");
    }
    return reply_json(out, 200, reply, err);
}

int payments_create_session(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    json_t *session = session_from_create(body, err);
    json_decref(body);
    if (!session)
        return -1;

    struct session_row row = {0};
    row.merchant_id = r->merchant.id;
    snprintf(row.status, sizeof row.status, "incomplete");
    row.created_at = row.updated_at = r->received_ms;
    row.expires_at = r->received_ms + (int64_t)LIFETIME_SESSION_S * 1000;
    int rc = -1;
    json_t *categories = NULL;
    if (ids_uuid7(r->received_ms, row.id) != 0) {
        kerr_internal(err, "random source");
        goto done;
    }
    row.client_token = client_token_for(r, row.id, session, r->received_ms);
    row.body = jsonw_dumps(session, NULL);
    categories = categories_for(r->merchant.categories, str_field(session, "purchase_country"),
                                r->app->public_url);
    if (!row.client_token || !row.body || !categories) {
        kerr_internal(err, "out of memory");
        goto done;
    }
    struct create_ctx c = {.row = &row, .categories = categories};
    rc = api_write(r, insert_fn, &c, create_reply, out, err);
done:
    json_decref(categories);
    json_decref(session);
    session_row_free(&row);
    return rc;
}

/* ---- read ---- */

struct get_ctx {
    int64_t merchant_id;
    const char *id;
    struct session_row row;
    int found;
    struct auth_row auth;        /* the latest authorization, if any */
    int authorized;
};

static int get_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct get_ctx *g = arg;
    int rc = store_session_get(tx, g->merchant_id, g->id, &g->row);
    if (rc < 0)
        return kerr_internal(err, "session get");
    g->found = rc == 0;
    if (!g->found)
        return 0;
    rc = store_auth_latest(tx, g->merchant_id, g->id, &g->auth);
    if (rc < 0) {
        session_row_free(&g->row);
        g->found = 0;
        return kerr_internal(err, "authorization get");
    }
    g->authorized = rc == 0;
    return 0;
}

int payments_read_session(struct req *r, struct reply *out, struct kerr *err)
{
    const char *id = r->params[0];
    if (!ids_is_uuid(id))
        return invalid_session(err);
    struct get_ctx g = {.merchant_id = r->merchant.id, .id = id};
    if (store_read(r->app->store, get_fn, &g, err) != 0)
        return -1;
    if (!g.found)
        return invalid_session(err);
    int rc = -1;
    json_t *session = NULL;
    if (r->received_ms >= g.row.expires_at) {
        invalid_session(err);
        goto done;
    }
    session = jsonp_parse(g.row.body, strlen(g.row.body), LIMIT_JSON_DEPTH, NULL, 0);
    if (!json_is_object(session)) {
        kerr_internal(err, "stored session is not an object");
        goto done;
    }
    /* Customer details are returned only once the session is authorized (contract 2.3), and
     * the current token is the fallback when both callbacks were lost (contract 6.5). */
    if (!g.authorized) {
        json_object_del(session, "customer");
    } else {
        if (auth_state_of(g.auth.state, g.auth.issued_at, r->received_ms) == AUTH_VALID &&
            json_object_set_new(session, "authorization_token", json_string(g.auth.token))) {
            kerr_internal(err, "out of memory");
            goto done;
        }
        json_t *customer = json_object_get(session, "customer");
        if (customer) {   /* customer_read omits identity numbers (contract 2.3) */
            json_object_del(customer, "national_identification_number");
            json_object_del(customer, "last_four_ssn");
            json_object_del(customer, "customer_token");
        }
    }
    char expires[32];
    time_format_iso8601(g.row.expires_at, expires);
    json_t *categories = categories_for(r->merchant.categories,
                                        str_field(session, "purchase_country"),
                                        r->app->public_url);
    if (!categories || json_object_set_new(session, "payment_method_categories", categories) ||
        json_object_set_new(session, "client_token", json_string(g.row.client_token)) ||
        json_object_set_new(session, "expires_at", json_string(expires)) ||
        json_object_set_new(session, "status", json_string(g.row.status))) {
        kerr_internal(err, "out of memory");
        goto done;
    }
    rc = reply_json(out, 200, session, err);
    session = NULL;
done:
    json_decref(session);
    session_row_free(&g.row);
    if (g.authorized)
        auth_row_free(&g.auth);
    return rc;
}

/* ---- update ---- */

struct update_ctx {
    int64_t merchant_id;
    const char *id;
    int64_t now_ms;
    const json_t *update;
};

int session_update_in_tx(struct store_tx *tx, int64_t merchant_id, const char *id,
                         int64_t now_ms, const json_t *update, json_t **session,
                         struct kerr *err)
{
    *session = NULL;
    struct session_row row;
    int rc = store_session_get(tx, merchant_id, id, &row);
    if (rc < 0)
        return kerr_internal(err, "session get");
    if (rc == STORE_NOT_FOUND)
        return invalid_session(err);
    rc = -1;
    json_t *stored = NULL;
    char *text = NULL;
    if (now_ms >= row.expires_at) {
        invalid_session(err);
        goto done;
    }
    if (strcmp(row.status, "incomplete") != 0) {
        kerr_set(err, 404, "SESSION_COMPLETED", "Session has already been completed");
        goto done;
    }
    stored = jsonp_parse(row.body, strlen(row.body), LIMIT_JSON_DEPTH, NULL, 0);
    if (!json_is_object(stored)) {
        kerr_internal(err, "stored session is not an object");
        goto done;
    }
    if (!update || json_object_size(update) == 0) {   /* nothing to change */
        *session = stored;
        stored = NULL;
        rc = 0;
        goto done;
    }
    json_t *merged = session_apply_update(stored, update, err);
    if (!merged)
        goto done;
    text = jsonw_dumps(merged, NULL);
    if (!text) {
        json_decref(merged);
        kerr_internal(err, "out of memory");
        goto done;
    }
    free(row.body);
    row.body = text;
    text = NULL;
    row.updated_at = now_ms;
    rc = store_session_update(tx, &row);
    if (rc != 0) {
        json_decref(merged);
        rc = rc == STORE_NOT_FOUND ? invalid_session(err) : kerr_internal(err, "session update");
        goto done;
    }
    *session = merged;
done:
    free(text);
    json_decref(stored);
    session_row_free(&row);
    return rc;
}

static int update_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct update_ctx *u = arg;
    json_t *session;
    int rc = session_update_in_tx(tx, u->merchant_id, u->id, u->now_ms, u->update, &session, err);
    json_decref(session);
    return rc;
}

int payments_update_session(struct req *r, struct reply *out, struct kerr *err)
{
    const char *id = r->params[0];
    if (!ids_is_uuid(id))
        return invalid_session(err);
    json_t *update = req_json_body(r, err);
    if (!update)
        return -1;
    struct update_ctx u = {.merchant_id = r->merchant.id, .id = id, .now_ms = r->received_ms,
                           .update = update};
    int rc = api_write(r, update_fn, &u, reply_no_content, out, err);
    json_decref(update);
    return rc;
}

/* ---- DELETE /payments/v1/sessions/{id}: cancel (Klarna's "send a separate request to cancel
 * the session"). The session ends now: it reads and updates like an expired one (404), its
 * active authorization tokens can no longer place orders, and its HPP sessions that are not
 * final become DISABLED with their callbacks. A second DELETE answers 204 again; a completed
 * session cannot be cancelled (404 SESSION_COMPLETED, as for updates). ---- */

struct cancel_session_ctx {
    struct req *r;
};

static int cancel_session_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct cancel_session_ctx *c = arg;
    struct req *r = c->r;
    struct session_row row;
    int rc = store_session_get(tx, r->merchant.id, r->params[0], &row);
    if (rc < 0)
        return kerr_internal(err, "session get");
    if (rc == STORE_NOT_FOUND)
        return invalid_session(err);
    if (strcmp(row.status, "cancelled") == 0)
        rc = 0;                               /* already cancelled: nothing more to do */
    else if (r->received_ms >= row.expires_at)
        rc = invalid_session(err);
    else if (strcmp(row.status, "incomplete") != 0)
        rc = kerr_set(err, 404, "SESSION_COMPLETED", "Session has already been completed");
    else {
        snprintf(row.status, sizeof row.status, "cancelled");
        row.updated_at = r->received_ms;
        row.expires_at = r->received_ms;
        rc = store_session_update(tx, &row) != 0 ||
                     store_auth_supersede(tx, r->merchant.id, row.id, NULL) != 0
                 ? kerr_internal(err, "session cancel")
                 : hpp_kp_ended(tx, r->merchant.id, row.id, NULL, r->received_ms, err);
    }
    session_row_free(&row);
    return rc;
}

int payments_cancel_session(struct req *r, struct reply *out, struct kerr *err)
{
    if (!ids_is_uuid(r->params[0]))
        return invalid_session(err);
    struct cancel_session_ctx c = {.r = r};
    return api_write(r, cancel_session_fn, &c, reply_no_content, out, err);
}
