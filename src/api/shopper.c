/* shopper: the API the shopper's widget calls (web/kp/widget/v1), authenticated by the
 * session's client_token (Bearer). The SDK in the merchant's page never calls it: it talks to
 * the widget with postMessage, and the widget, served by Kasse, calls this same-origin.
 * Authorization goes through the one decision path in authorizations.c. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/categories.h"
#include "core/decision.h"
#include "core/session.h"
#include "lib/jsonp.h"
#include "lib/jsonw.h"
#include "lib/limits.h"

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The shopper's session (merchant scoped by the token's session), 404 when gone. */
struct view_ctx {
    struct req *r;
    struct session_row row;
    json_t *session;
};

static int view_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct view_ctx *v = arg;
    int rc = store_session_get(tx, v->r->merchant.id, v->r->shopper_session, &v->row);
    if (rc < 0)
        return kerr_internal(err, "session get");
    if (rc == STORE_NOT_FOUND || v->r->received_ms >= v->row.expires_at) {
        if (rc == 0)
            session_row_free(&v->row);
        return kerr_set(err, 404, "NOT_FOUND", "Invalid session id");
    }
    v->session = jsonp_parse(v->row.body, strlen(v->row.body), LIMIT_JSON_DEPTH, NULL, 0);
    if (!json_is_object(v->session)) {
        json_decref(v->session);
        session_row_free(&v->row);
        return kerr_internal(err, "stored session is not an object");
    }
    return 0;
}

static int load_view(struct req *r, struct view_ctx *v, struct kerr *err)
{
    memset(v, 0, sizeof *v);
    v->r = r;
    return store_read(r->app->store, view_fn, v, err);
}

static void view_free(struct view_ctx *v)
{
    json_decref(v->session);
    session_row_free(&v->row);
}

int shopper_read_session(struct req *r, struct reply *out, struct kerr *err)
{
    struct view_ctx v;
    if (load_view(r, &v, err) != 0)
        return -1;
    json_t *reply = json_pack("{s:s, s:s, s:s}", "session_id", r->shopper_session,
                              "merchant_name", r->merchant.name, "status", v.row.status);
    static const char *const keys[] = {"purchase_country", "purchase_currency", "locale",
                                       "order_amount", "order_tax_amount", "order_lines",
                                       "billing_address", "intent"};
    for (size_t i = 0; reply && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *x = json_object_get(v.session, keys[i]);
        if (x)
            json_object_set(reply, keys[i], x);
    }
    json_t *cats = categories_for(r->merchant.categories, str(v.session, "purchase_country"),
                                  r->app->public_url);
    view_free(&v);
    if (!reply || !cats || json_object_set_new(reply, "payment_method_categories", cats)) {
        json_decref(reply);
        return kerr_internal(err, "out of memory");
    }
    return reply_json(out, 200, reply, err);
}

static bool offered(const struct req *r, const json_t *session, const char *category)
{
    json_t *cats = categories_for(r->merchant.categories, str(session, "purchase_country"), "");
    bool found = false;
    size_t i;
    json_t *c;
    json_array_foreach(cats, i, c) {
        if (category && strcmp(category, str(c, "identifier") ? str(c, "identifier") : "") == 0)
            found = true;
    }
    json_decref(cats);
    return found;
}

/* A fixable data problem is not an HTTP error for the SDK: it is error.invalid_fields. */
static json_t *invalid_fields(const struct kerr *err, bool approved_key)
{
    json_t *o = approved_key ? json_pack("{s:b, s:b}", "approved", 0, "show_form", 1)
                             : json_pack("{s:b}", "show_form", 1);
    json_t *e = json_pack("{s:[s]}", "invalid_fields", err->path);
    if (o && e)
        json_object_set_new(o, "error", e);
    else
        json_decref(e);
    return o;
}

/* ---- POST /kp/shopper/v1/load {payment_method_category, data?} ---- */

struct load_ctx {
    struct req *r;
    const json_t *data;
    bool show_form;
};

static int load_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct load_ctx *c = arg;
    json_t *session;
    if (session_update_in_tx(tx, c->r->merchant.id, c->r->shopper_session, c->r->received_ms,
                             c->data, &session, err) != 0)
        return -1;
    c->show_form = decision_shows_form(str(json_object_get(session, "billing_address"), "email"));
    json_decref(session);
    return 0;
}

static int load_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct load_ctx *c = arg;
    json_t *o = json_pack("{s:b}", "show_form", c->show_form);
    return reply_json(out, 200, o, err);
}

int shopper_load(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    int rc = -1;
    const char *category = str(body, "payment_method_category");
    json_t *data = json_object_get(body, "data");
    struct view_ctx v;
    if (load_view(r, &v, err) != 0)
        goto done;
    bool ok = offered(r, v.session, category);
    bool show = decision_shows_form(str(json_object_get(v.session, "billing_address"), "email"));
    view_free(&v);
    if (!ok) {
        rc = kerr_bad_value(err, "payment_method_category");
        goto done;
    }
    if (data && !json_is_object(data)) {
        rc = kerr_bad_value(err, "data");
        goto done;
    }
    if (!data || json_object_size(data) == 0) {
        json_t *o = json_pack("{s:b}", "show_form", show);
        rc = reply_json(out, 200, o, err);
        goto done;
    }
    struct load_ctx c = {.r = r, .data = data};
    rc = api_write(r, load_fn, &c, load_reply, out, err);
    if (rc != 0 && err->status == 400 && err->path[0]) {
        json_t *fields = invalid_fields(err, false);
        kerr_clear(err);
        rc = reply_json(out, 200, fields, err);
    }
done:
    json_decref(body);
    return rc;
}

/* ---- POST /kp/shopper/v1/identify {email, phone} ---- */

int shopper_identify(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    struct decision_input in = {.email = str(body, "email"), .phone = str(body, "phone")};
    struct decision d;
    int rc = decision_make(&in, &d, err);
    json_decref(body);
    if (rc != 0)
        return -1;
    /* Like the playground, no code is really sent: any six digits but 999999 pass. */
    json_t *o = json_pack("{s:b, s:b}", "code_sent", 1, "signup_required",
                          d.outcome == DECISION_SIGNUP_NEEDED);
    return reply_json(out, 200, o, err);
}

/* ---- POST /kp/shopper/v1/authorize ---- */

int shopper_authorize(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    json_t *data = json_object_get(body, "data");
    json_t *otp = json_object_get(body, "otp");
    int rc = -1;
    if (data && !json_is_object(data)) {
        rc = kerr_bad_value(err, "data");
        goto done;
    }
    if (!json_is_string(otp)) {          /* the widget always asks for the code */
        rc = kerr_bad_value(err, "otp");
        goto done;
    }
    struct authorize_ctx c = {0};
    c.in.merchant = &r->merchant;
    c.in.session_id = r->shopper_session;
    c.in.now_ms = r->received_ms;
    c.in.payment_method_category = str(body, "payment_method_category");
    c.in.otp = json_string_value(otp);
    c.in.email = str(body, "email");
    c.in.phone = str(body, "phone");
    c.in.signup_done = json_is_true(json_object_get(body, "signup_done"));
    c.in.data = data;
    rc = api_write(r, authorize_tx, &c, authorize_reply, out, err);
    if (rc != 0 && err->status == 400 && err->path[0] &&
        strcmp(err->path, "payment_method_category") != 0 && strcmp(err->path, "otp") != 0) {
        json_t *fields = invalid_fields(err, true);
        kerr_clear(err);
        rc = reply_json(out, 200, fields, err);
    }
done:
    json_decref(body);
    return rc;
}
