/* hpp_page: the hosted payment page (contract 4, docs/hpp.md). Public routes: the page's id
 * (a UUIDv4 in redirect_url) is the shopper's only key, and it reaches one HPP session only.
 *   GET  /hpp/payments/{page_id}            the page (web/hpp/v1/index.html)
 *   GET  /hpp/payments/{page_id}/qr         a PNG QR code of redirect_url
 *   GET  /hpp/distributions/{page_id}       the distribution module's stand-alone page
 *   GET  /hpp/shopper/v1/{page_id}          what the page shows
 *   POST /hpp/shopper/v1/{page_id}/open|identify|authorize|back|cancel
 * Authorization goes through the one decision path (authorize_session), and the place-order
 * modes through the one order path (authorization_place_order), in the same transaction as the
 * HPP status change and its callback: the order exists whether or not the browser ever reaches
 * the success URL, and a second submit finds the session COMPLETED and gets the same outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/orders.h"
#include "core/categories.h"
#include "core/decision.h"
#include "core/hpp.h"
#include "http/assets.h"
#include "lib/buf.h"
#include "lib/jsonp.h"
#include "lib/limits.h"
#include "lib/qr.h"

#define QR_SCALE 8
#define QR_MARGIN 4
#define PAGE_CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
                 "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static const json_t *request_of(const struct hpp_state *s)
{
    return json_object_get(s->body, "request");
}

static const char *merchant_url(const struct hpp_state *s, const char *key)
{
    return str(json_object_get(request_of(s), "merchant_urls"), key);
}

/* The page's own URL: where the browser goes when the merchant gave no URL for an outcome. */
static void page_url(const struct req *r, const struct hpp_state *s, char *out, size_t cap)
{
    snprintf(out, cap, "%s/hpp/payments/%s", r->app->public_url, s->row.page_id);
}

/* Where the browser goes for an outcome: the first of keys the merchant gave, placeholders
 * filled, else the page itself. */
static json_t *target_url(const struct req *r, const struct hpp_state *s,
                          const char *const *keys, bool success)
{
    char out[LIMIT_MERCHANT_URL + 512];
    const json_t *outcome = json_object_get(s->body, "outcome");
    struct hpp_fill f = {.session_id = s->row.id};
    if (success) {
        f.authorization_token = str(outcome, "authorization_token");
        f.order_id = str(outcome, "order_id");
    }
    for (int i = 0; keys[i]; i++) {
        const char *url = merchant_url(s, keys[i]);
        if (url && hpp_url_fill(url, &f, out, sizeof out) == 0)
            return json_string(out);
    }
    page_url(r, s, out, sizeof out);
    return json_string(out);
}

static const char *const success_keys[] = {"success", NULL};
static const char *const failure_keys[] = {"failure", NULL};
static const char *const error_keys[] = {"error", "failure", NULL};
static const char *const back_keys[] = {"back", NULL};
static const char *const cancel_keys[] = {"cancel", NULL};

/* A session the shopper can no longer use: expired (410 SESSION_EXPIRED) or final (410). */
static int usable(const struct req *r, const struct hpp_state *s, struct kerr *err)
{
    if (hpp_expired(s->status, s->row.expires_at, r->received_ms))
        return kerr_set(err, 410, "SESSION_EXPIRED", "This payment page has expired");
    enum hpp_status to;
    return hpp_next(s->status, HPP_EV_OPEN, &to, err);
}

static int merchant_of(struct store_tx *tx, int64_t id, struct merchant *m, struct kerr *err)
{
    struct merchant_row row;
    int rc = store_merchant_by_id(tx, id, &row);
    if (rc != 0)
        return kerr_internal(err, "merchant of an HPP session");
    memset(m, 0, sizeof *m);
    m->id = row.id;
    snprintf(m->username, sizeof m->username, "%s", row.username);
    snprintf(m->name, sizeof m->name, "%s", row.name);
    snprintf(m->categories, sizeof m->categories, "%s", row.categories);
    merchant_row_free(&row);
    return 0;
}

static json_t *kp_session_body(struct store_tx *tx, const struct hpp_state *s, struct kerr *err)
{
    struct session_row kp;
    int rc = store_session_get(tx, s->row.merchant_id, s->row.kp_session_id, &kp);
    if (rc != 0) {
        kerr_internal(err, "KP session of an HPP session");
        return NULL;
    }
    json_t *body = jsonp_parse(kp.body, strlen(kp.body), LIMIT_JSON_DEPTH, NULL, 0);
    session_row_free(&kp);
    if (!body)
        kerr_internal(err, "stored session is not readable");
    return body;
}

/* Images the page may show: Kasse's own or data: URLs (the page loads nothing from outside). */
static bool own_image(const struct req *r, const char *url)
{
    size_t n = strlen(r->app->public_url);
    return url && (strncmp(url, "data:image/", 11) == 0 ||
                   (strncmp(url, r->app->public_url, n) == 0 && url[n] == '/'));
}

/* ---- the page's state ---- */

static json_t *state_object(struct store_tx *tx, const struct req *r, const struct hpp_state *s,
                            struct kerr *err)
{
    struct merchant m;
    if (merchant_of(tx, s->row.merchant_id, &m, err) != 0)
        return NULL;
    json_t *session = kp_session_body(tx, s, err);
    if (!session)
        return NULL;
    const json_t *options = json_object_get(request_of(s), "options");
    const char *title = str(options, "page_title");
    const char *purchase = str(options, "purchase_type");
    const char *hide = str(options, "show_subtotal_detail");
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b}", "status",
                          hpp_status_name(s->status), "merchant_name", m.name, "page_title",
                          title ? title : "Complete your purchase", "purchase_type",
                          purchase ? purchase : "BUY", "pay_label",
                          hpp_pay_label(purchase, str(session, "locale")), "back_available",
                          merchant_url(s, "back") != NULL, "cancel_available",
                          merchant_url(s, "back") == NULL);
    static const char *const keys[] = {"locale", "purchase_country", "purchase_currency",
                                       "order_amount", "order_tax_amount"};
    for (size_t i = 0; o && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(session, keys[i]);
        if (v)
            json_object_set(o, keys[i], v);
    }
    if (o && hide)
        json_object_set_new(o, "show_subtotal_detail", json_string(hide));
    else if (o)
        json_object_set(o, "order_lines", json_object_get(session, "order_lines"));
    const char *logo = str(options, "logo_url");
    if (o && own_image(r, logo))
        json_object_set_new(o, "logo_url", json_string(logo));
    json_t *backgrounds = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(options, "background_images"), i, v) {
        if (own_image(r, str(v, "url")))
            json_array_append(backgrounds, v);
    }
    if (o && json_array_size(backgrounds))
        json_object_set(o, "background_images", backgrounds);
    json_decref(backgrounds);
    /* The categories this page offers, with their names and Kasse-served badges. */
    json_t *all = categories_for(m.categories, str(session, "purchase_country"),
                                 r->app->public_url);
    json_t *shown = json_array();
    const json_t *allowed = json_object_get(s->body, "allowed");
    size_t k;
    json_t *a;
    json_array_foreach(allowed, k, a) {
        json_array_foreach(all, i, v) {
            if (shown && str(v, "identifier") && json_string_value(a) &&
                strcmp(str(v, "identifier"), json_string_value(a)) == 0)
                json_array_append(shown, v);
        }
    }
    json_decref(all);
    if (o && shown)
        json_object_set_new(o, "categories", shown);
    else
        json_decref(shown);
    /* What the KP session already knows of the shopper fills the form in. */
    const json_t *billing = json_object_get(session, "billing_address");
    json_t *prefill = json_object();
    if (prefill && str(billing, "email"))
        json_object_set_new(prefill, "email", json_string(str(billing, "email")));
    if (prefill && str(billing, "phone"))
        json_object_set_new(prefill, "phone", json_string(str(billing, "phone")));
    if (o && prefill)
        json_object_set_new(o, "prefill", prefill);
    else
        json_decref(prefill);
    if (o && s->status == HPP_COMPLETED)
        json_object_set_new(o, "redirect_url", target_url(r, s, success_keys, true));
    else if (o && s->status == HPP_CANCELLED)
        json_object_set_new(o, "redirect_url", target_url(r, s, cancel_keys, false));
    else if (o && s->status == HPP_FAILED)
        json_object_set_new(o, "redirect_url", target_url(r, s, failure_keys, false));
    json_decref(session);
    if (!o || !json_object_get(o, "categories"))
        kerr_internal(err, "out of memory");
    return o;
}

struct state_ctx {
    struct req *r;
    enum hpp_event ev;            /* HPP_EV_OPEN for open; HPP_EV_DISABLE: read only */
    json_t *reply;
};

static int state_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct state_ctx *c = arg;
    struct hpp_state s;
    if (hpp_load_page(tx, c->r->params[0], &s, err) != 0)
        return -1;
    int rc = -1;
    if (hpp_expired(s.status, s.row.expires_at, c->r->received_ms)) {
        kerr_set(err, 410, "SESSION_EXPIRED", "This payment page has expired");
        goto done;
    }
    /* Opening a completed page (a second tab, the back button) shows its outcome. */
    if (c->ev == HPP_EV_OPEN && s.status != HPP_COMPLETED &&
        hpp_change(tx, &s, HPP_EV_OPEN, c->r->received_ms, NULL, err))
        goto done;
    c->reply = state_object(tx, c->r, &s, err);
    rc = c->reply ? 0 : -1;
done:
    hpp_state_free(&s);
    return rc;
}

static int state_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct state_ctx *c = arg;
    json_t *o = c->reply;
    c->reply = NULL;
    return reply_json(out, 200, o, err);
}

static void no_store(struct reply *out)
{
    reply_header(out, "Cache-Control", "no-store");
}

int hpp_shopper_state(struct req *r, struct reply *out, struct kerr *err)
{
    struct state_ctx c = {.r = r, .ev = HPP_EV_DISABLE};
    int rc = store_read(r->app->store, state_fn, &c, err);
    if (rc == 0)
        rc = state_reply(&c, out, err);
    no_store(out);
    return rc;
}

int hpp_shopper_open(struct req *r, struct reply *out, struct kerr *err)
{
    struct state_ctx c = {.r = r, .ev = HPP_EV_OPEN};
    int rc = api_write(r, state_fn, &c, state_reply, out, err);
    json_decref(c.reply);
    no_store(out);
    return rc;
}

/* ---- identify: like the widget's, on a session the shopper may still pay ---- */

static int usable_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct req *r = arg;
    struct hpp_state s;
    if (hpp_load_page(tx, r->params[0], &s, err) != 0)
        return -1;
    int rc = usable(r, &s, err);
    hpp_state_free(&s);
    return rc;
}

int hpp_shopper_identify(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    int rc = -1;
    struct decision d;
    struct decision_input in = {.email = str(body, "email"), .phone = str(body, "phone")};
    if (store_read(r->app->store, usable_fn, r, err) == 0 && decision_make(&in, &d, err) == 0) {
        /* Like the playground, no code is really sent: any six digits but 999999 pass. */
        rc = reply_json(out, 200,
                        json_pack("{s:b, s:b}", "code_sent", 1, "signup_required",
                                  d.outcome == DECISION_SIGNUP_NEEDED),
                        err);
    }
    json_decref(body);
    no_store(out);
    return rc;
}

/* ---- authorize: the decision, then the outcome per place_order_mode ---- */

struct pay_ctx {
    struct req *r;
    const char *category, *email, *phone, *otp;
    bool signup_done;
    const json_t *declined;       /* categories already declined on this page */
    json_t *reply;
};

static json_t *outcome_reply(const char *result, enum hpp_status status, json_t *redirect)
{
    json_t *o = json_pack("{s:s, s:s}", "result", result, "status", hpp_status_name(status));
    if (o && redirect)
        json_object_set_new(o, "redirect_url", redirect);
    else
        json_decref(redirect);
    return o;
}

static bool in_array(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (s && json_string_value(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* CustomerV1 from what the authorization knows of the shopper. */
static json_t *customer_of(const json_t *snap)
{
    const json_t *billing = json_object_get(snap, "billing_address");
    const json_t *customer = json_object_get(snap, "customer");
    json_t *c = json_object();
    static const char *const from_billing[] = {"given_name", "family_name", "title"};
    static const char *const from_customer[] = {"date_of_birth",
                                                "national_identification_number"};
    for (size_t i = 0; c && i < 3; i++)
        if (str(billing, from_billing[i]))
            json_object_set(c, from_billing[i], json_object_get(billing, from_billing[i]));
    for (size_t i = 0; c && i < 2; i++)
        if (str(customer, from_customer[i]))
            json_object_set(c, from_customer[i], json_object_get(customer, from_customer[i]));
    return c;
}

/* Approved: the outcome per place_order_mode, kept in the HPP session, which completes. */
static int complete(struct store_tx *tx, struct pay_ctx *c, struct hpp_state *s,
                    const struct merchant *m, const char *token, struct kerr *err)
{
    json_t *snap = authorization_snapshot(tx, m->id, token, err);
    if (!snap)
        return -1;
    json_t *outcome = NULL;
    int rc = -1;
    enum hpp_mode mode = hpp_mode_of(request_of(s));
    if (mode == HPP_MODE_NONE) {
        outcome = json_pack("{s:s}", "authorization_token", token);
    } else {
        /* The order of the authorized cart, captured in full for CAPTURE_ORDER. */
        if (mode == HPP_MODE_CAPTURE_ORDER)
            json_object_set_new(snap, "auto_capture", json_true());
        struct order_made made;
        struct place_order_in in = {.merchant = m,
                                    .public_url = c->r->app->public_url,
                                    .token = token,
                                    .request = snap,
                                    .now_ms = c->r->received_ms,
                                    .hpp_session_id = s->row.id};
        if (authorization_place_order(tx, &in, &made, err) != 0)
            goto done;
        outcome = json_pack("{s:s, s:s}", "order_id", made.order_id, "klarna_reference",
                            made.klarna_reference);
    }
    json_t *customer = customer_of(snap);
    if (!outcome || !customer || json_object_set_new(s->body, "outcome", outcome) != 0 ||
        json_object_set_new(s->body, "customer", customer) != 0) {
        kerr_internal(err, "out of memory");
        goto done;
    }
    s->body_dirty = true;
    if (hpp_change(tx, s, HPP_EV_COMPLETE, c->r->received_ms, NULL, err) != 0)
        goto done;
    c->reply = outcome_reply("approved", s->status, target_url(c->r, s, success_keys, true));
    rc = c->reply ? 0 : kerr_internal(err, "out of memory");
done:
    json_decref(snap);
    return rc;
}

/* Declined: with payment_fallback the categories not tried yet are offered first; otherwise
 * the session FAILS and the browser goes to the failure URL. */
static int decline(struct store_tx *tx, struct pay_ctx *c, struct hpp_state *s,
                   struct kerr *err)
{
    const json_t *options = json_object_get(request_of(s), "options");
    if (json_is_true(json_object_get(options, "payment_fallback"))) {
        json_t *left = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(s->body, "allowed"), i, v) {
            const char *id = json_string_value(v);
            if (left && strcmp(id ? id : "", c->category) != 0 && !in_array(c->declined, id))
                json_array_append(left, v);
        }
        if (json_array_size(left) > 0) {
            c->reply = outcome_reply("declined", s->status, NULL);
            if (!c->reply || json_object_set_new(c->reply, "fallback_categories", left) != 0)
                return kerr_internal(err, "out of memory");
            return 0;
        }
        json_decref(left);
    }
    if (hpp_change(tx, s, HPP_EV_DECLINE, c->r->received_ms, NULL, err) != 0)
        return -1;
    c->reply = outcome_reply("declined", s->status, target_url(c->r, s, failure_keys, false));
    return c->reply ? 0 : kerr_internal(err, "out of memory");
}

static int pay_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct pay_ctx *c = arg;
    struct hpp_state s;
    if (hpp_load_page(tx, c->r->params[0], &s, err) != 0)
        return -1;
    int rc = -1;
    /* A second submit, another tab, a replay: the first outcome again, never a second order. */
    if (s.status == HPP_COMPLETED) {
        c->reply = outcome_reply("approved", s.status, target_url(c->r, &s, success_keys, true));
        rc = c->reply ? 0 : kerr_internal(err, "out of memory");
        goto done;
    }
    if (usable(c->r, &s, err) != 0)
        goto done;
    if (!in_array(json_object_get(s.body, "allowed"), c->category)) {
        kerr_bad_value(err, "payment_method_category");
        goto done;
    }
    struct merchant m;
    if (merchant_of(tx, s.row.merchant_id, &m, err) != 0)
        goto done;
    struct authorize_in in = {.merchant = &m,
                              .session_id = s.row.kp_session_id,
                              .now_ms = c->r->received_ms,
                              .payment_method_category = c->category,
                              .otp = c->otp,
                              .email = c->email,
                              .phone = c->phone,
                              .signup_done = c->signup_done};
    struct authorize_out out;
    if (authorize_session(tx, &in, &out, err) != 0)
        goto done;
    switch (out.decision.outcome) {
    case DECISION_APPROVED:
        rc = complete(tx, c, &s, &m, out.token, err);
        break;
    case DECISION_OTP_FAILED:
        c->reply = outcome_reply("otp_failed", s.status, NULL);
        rc = c->reply ? 0 : kerr_internal(err, "out of memory");
        break;
    case DECISION_SIGNUP_NEEDED:
        c->reply = outcome_reply("signup_required", s.status, NULL);
        rc = c->reply ? 0 : kerr_internal(err, "out of memory");
        break;
    case DECISION_DENIED:
    case DECISION_NO_FORM:
        rc = decline(tx, c, &s, err);
        break;
    }
done:
    hpp_state_free(&s);
    return rc;
}

static int pay_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct pay_ctx *c = arg;
    json_t *o = c->reply;
    c->reply = NULL;
    return reply_json(out, 200, o, err);
}

/* A technical failure of the payment (its transaction rolled back): the session goes to ERROR
 * in a transaction of its own, and the browser to the error URL (else failure). */
static int error_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct pay_ctx *c = arg;
    struct hpp_state s;
    if (hpp_load_page(tx, c->r->params[0], &s, err) != 0)
        return -1;
    int rc = hpp_change(tx, &s, HPP_EV_ERROR, c->r->received_ms, NULL, err);
    if (rc == 0) {
        c->reply = outcome_reply("error", s.status, target_url(c->r, &s, error_keys, false));
        rc = c->reply ? 0 : kerr_internal(err, "out of memory");
    }
    hpp_state_free(&s);
    return rc;
}

int hpp_shopper_authorize(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    struct pay_ctx c = {.r = r,
                        .category = str(body, "payment_method_category"),
                        .email = str(body, "email"),
                        .phone = str(body, "phone"),
                        .otp = str(body, "otp"),
                        .signup_done = json_is_true(json_object_get(body, "signup_done")),
                        .declined = json_object_get(body, "declined_categories")};
    int rc = -1;
    json_t *otp = json_object_get(body, "otp");
    json_t *declined = json_object_get(body, "declined_categories");
    if (!c.category)
        kerr_bad_value(err, "payment_method_category");
    else if (!json_is_string(otp))
        kerr_bad_value(err, "otp");
    else if (declined && !json_is_array(declined))
        kerr_bad_value(err, "declined_categories");
    else
        rc = api_write(r, pay_fn, &c, pay_reply, out, err);
    if (rc != 0 && (err->status >= 500 || err->status == 409)) {
        /* The payment could not be made for a reason that is not the shopper's. */
        struct kerr first = *err;
        kerr_clear(err);
        json_decref(c.reply);
        c.reply = NULL;
        rc = api_write(r, error_fn, &c, pay_reply, out, err);
        if (rc != 0)
            *err = first;
    }
    json_decref(c.reply);
    json_decref(body);
    no_store(out);
    return rc;
}

/* ---- back and cancel ---- */

struct leave_ctx {
    struct req *r;
    enum hpp_event ev;
    json_t *reply;
};

static int leave_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct leave_ctx *c = arg;
    struct hpp_state s;
    if (hpp_load_page(tx, c->r->params[0], &s, err) != 0)
        return -1;
    int rc = -1;
    if (usable(c->r, &s, err) != 0)
        goto done;
    if (c->ev == HPP_EV_BACK && !merchant_url(&s, "back")) {
        kerr_set(err, 400, "BAD_VALUE", "This payment page has no back URL");
        goto done;
    }
    if (hpp_change(tx, &s, c->ev, c->r->received_ms, NULL, err) != 0)
        goto done;
    c->reply = outcome_reply(c->ev == HPP_EV_BACK ? "back" : "cancelled", s.status,
                             target_url(c->r, &s, c->ev == HPP_EV_BACK ? back_keys : cancel_keys,
                                        false));
    rc = c->reply ? 0 : kerr_internal(err, "out of memory");
done:
    hpp_state_free(&s);
    return rc;
}

static int leave_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct leave_ctx *c = arg;
    json_t *o = c->reply;
    c->reply = NULL;
    return reply_json(out, 200, o, err);
}

static int leave(struct req *r, enum hpp_event ev, struct reply *out, struct kerr *err)
{
    struct leave_ctx c = {.r = r, .ev = ev};
    int rc = api_write(r, leave_fn, &c, leave_reply, out, err);
    json_decref(c.reply);
    no_store(out);
    return rc;
}

int hpp_shopper_back(struct req *r, struct reply *out, struct kerr *err)
{
    return leave(r, HPP_EV_BACK, out, err);
}

int hpp_shopper_cancel(struct req *r, struct reply *out, struct kerr *err)
{
    return leave(r, HPP_EV_CANCEL, out, err);
}

/* ---- the page, its QR code, the distribution page ---- */

struct exists_ctx {
    const char *page_id;
    struct hpp_state s;
    bool found;
};

static int exists_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct exists_ctx *c = arg;
    struct kerr ignored = {0};
    int rc = hpp_load_page(tx, c->page_id, &c->s, &ignored);
    c->found = rc == 0;
    if (rc != 0 && ignored.status >= 500)
        *err = ignored;
    return rc != 0 && ignored.status >= 500 ? -1 : 0;
}

static void page_headers(struct reply *out)
{
    reply_header(out, "Cache-Control", "no-store");
    reply_header(out, "Content-Security-Policy", PAGE_CSP);
    reply_header(out, "Referrer-Policy", "no-referrer");
    reply_header(out, "X-Frame-Options", "DENY");
}

int hpp_page_get(struct req *r, struct reply *out, struct kerr *err)
{
    const struct asset *a = assets_find("/hpp/v1/index.html");
    struct exists_ctx c = {.page_id = r->params[0]};
    if (!a)
        return kerr_internal(err, "hosted page asset missing");
    if (store_read(r->app->store, exists_fn, &c, err) != 0)
        return -1;
    hpp_state_free(&c.s);
    /* An unknown id gets the same page, which tells the shopper the link is not valid. */
    out->status = c.found ? 200 : 404;
    out->raw = a->data;
    out->raw_len = a->len;
    out->content_type = a->content_type;
    page_headers(out);
    return 0;
}

/* The redirect_url of the page named in the path, or 404. */
static int page_link(struct req *r, char *url, size_t cap, struct kerr *err)
{
    struct exists_ctx c = {.page_id = r->params[0]};
    if (store_read(r->app->store, exists_fn, &c, err) != 0)
        return -1;
    if (!c.found)
        return kerr_set(err, 404, "NOT_FOUND", "Payment page not found");
    page_url(r, &c.s, url, cap);
    hpp_state_free(&c.s);
    return 0;
}

int hpp_page_qr(struct req *r, struct reply *out, struct kerr *err)
{
    char url[512];
    if (page_link(r, url, sizeof url, err) != 0)
        return -1;
    unsigned char *png;
    size_t len;
    if (qr_png(url, QR_SCALE, QR_MARGIN, &png, &len) != 0)
        return kerr_internal(err, "QR code");
    out->status = 200;
    out->owned = png;
    out->raw_len = len;
    out->content_type = "image/png";
    reply_header(out, "Cache-Control", "private, max-age=300");
    return 0;
}

int hpp_page_distribution(struct req *r, struct reply *out, struct kerr *err)
{
    char url[512];
    if (page_link(r, url, sizeof url, err) != 0)
        return -1;
    /* url is the public URL (configuration) and a UUID: escaped all the same. */
    struct buf b;
    buf_init(&b, 16384);
    int bad = buf_printf(&b, "%s",
                         "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                         "<title>Pay with Klarna</title><link rel=\"icon\" href=\"data:,\">"
                         "<link rel=\"stylesheet\" href=\"/kasse/assets/ui/kasse-ui.css\">"
                         "<link rel=\"stylesheet\" href=\"/hpp/v1/page.css\"></head><body><main class=\"dist\">"
                         "<h1>Scan to pay</h1><img width=\"296\" height=\"296\" src=\"");
    for (int pass = 0; pass < 3 && !bad; pass++) {
        for (const char *p = url; *p && !bad; p++) {
            const char *e = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '"' ? "&quot;"
                                                             : NULL;
            bad = e ? buf_printf(&b, "%s", e) : buf_append(&b, p, 1);
        }
        if (bad)
            break;
        if (pass == 0)
            bad = buf_printf(&b, "%s", "/qr\" alt=\"QR code of the payment link\">"
                                       "<p>Or open the link: <a href=\"");
        else if (pass == 1)
            bad = buf_printf(&b, "%s", "\">");
        else
            bad = buf_printf(&b, "%s", "</a></p></main></body></html>");
    }
    if (bad) {
        buf_free(&b);
        return kerr_internal(err, "distribution page");
    }
    out->status = 200;
    out->owned = b.data;
    out->raw_len = b.len;
    out->content_type = "text/html; charset=utf-8";
    page_headers(out);
    return 0;
}
