/* authorizations: what happens between a session and an order (contract 2.5-2.7, 6.3, 7).
 *  - authorize_session(): the one decision path, used by Kasse's headless helper
 *    POST /kasse/v1/sessions/{id}/authorize (and by the shopper's widget): applies the shopper's
 *    data to the session with the update rules, asks core/decision, and on approval mints a
 *    60-minute authorization_token (superseding older ones) with the authorized snapshot.
 *  - POST /payments/v1/authorizations/{token}/order: matching rules, one order per session.
 *  - DELETE /payments/v1/authorizations/{token}.
 *  - POST /payments/v1/authorizations/{token}/customer-token (tokenizing intents only).
 * Every mutation is one store transaction through api_write (idempotency included). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "core/authorization.h"
#include "core/categories.h"
#include "core/decision.h"
#include "core/matching.h"
#include "api/orders.h"
#include "core/order_row.h"
#include "core/session.h"
#include "lib/ids.h"
#include "lib/jsonp.h"
#include "lib/jsonw.h"
#include "lib/limits.h"
#include "outbox/outbox.h"

static int invalid_token(struct kerr *err)
{
    return kerr_set(err, 404, "NOT_FOUND", "Invalid authorization token");
}

static int invalid_session(struct kerr *err)
{
    return kerr_set(err, 404, "NOT_FOUND", "Invalid session id");
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_t *parse_stored(const char *text)
{
    return jsonp_parse(text, strlen(text), LIMIT_JSON_DEPTH, NULL, 0);
}

/* Copies src[key] into dst when src has it: 0, or -1 when memory ran out. */
static int copy_key(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    return v ? json_object_set(dst, key, v) : 0;
}

/* What the authorization keeps for create-order matching (contract 10.5); NULL when memory
 * ran out. */
static json_t *snapshot_of(const json_t *session)
{
    static const char *const keys[] = {
        "purchase_country", "purchase_currency", "locale", "order_amount", "order_tax_amount",
        "order_lines", "billing_address", "shipping_address", "customer", "intent",
        "merchant_urls", "merchant_reference1", "merchant_reference2", "merchant_data"};
    json_t *snap = json_object();
    int bad = !snap;
    for (size_t i = 0; !bad && i < sizeof keys / sizeof keys[0]; i++)
        bad = copy_key(snap, session, keys[i]);
    /* Klarna copies the billing address when no shipping address was given (contract 2.2). */
    json_t *billing = json_object_get(session, "billing_address");
    if (!bad && billing && !json_object_get(session, "shipping_address"))
        bad = json_object_set(snap, "shipping_address", billing);
    if (bad) {
        json_decref(snap);
        return NULL;
    }
    return snap;
}

/* The e-mail the decision is made on: the shopper's billing e-mail, or the market's approved
 * playground identity (customer@email.<cc>) when the headless helper is given none. */
static void decision_email(const json_t *session, const char *identified, char *out,
                           size_t cap)
{
    const char *email = str(json_object_get(session, "billing_address"), "email");
    if (!email)
        email = identified;
    if (email) {
        snprintf(out, cap, "%s", email);
        return;
    }
    const char *country = str(session, "purchase_country");
    char cc[3] = {0};
    for (int i = 0; i < 2 && country && country[i]; i++)
        cc[i] = (char)(country[i] | 0x20);
    snprintf(out, cap, "customer@email.%s", strcmp(cc, "gb") == 0 ? "uk" : cc);
}

/* ---- the decision path ---- */

int authorize_session(struct store_tx *tx, const struct authorize_in *in,
                      struct authorize_out *out, struct kerr *err)
{
    memset(out, 0, sizeof *out);
    json_t *session = NULL, *snap = NULL, *auth_body = NULL;
    int rc = -1;
    /* The shopper's data updates the session with the update rules (contract 6.4). */
    if (session_update_in_tx(tx, in->merchant->id, in->session_id, in->now_ms, in->data,
                             &session, err) != 0)
        return -1;
    /* The category must be one the session offers. */
    json_t *cats = categories_for(in->merchant->categories, str(session, "purchase_country"),
                                  "");
    if (!cats) {
        kerr_internal(err, "out of memory");
        goto done;
    }
    const char *category = in->payment_method_category;
    bool offered = false;
    size_t i;
    json_t *cat;
    json_array_foreach(cats, i, cat) {
        const char *id = str(cat, "identifier");
        if (!category && i == 0)
            category = id;
        if (category && id && strcmp(category, id) == 0)
            offered = true;
    }
    if (!offered) {
        json_decref(cats);
        kerr_bad_value(err, "payment_method_category");
        goto done;
    }
    snprintf(out->category, sizeof out->category, "%s", category);
    json_decref(cats);
    category = out->category;       /* cats (and the string it held) are gone */

    char email[128];
    decision_email(session, in->email, email, sizeof email);
    const char *phone = str(json_object_get(session, "billing_address"), "phone");
    struct decision_input din = {
        .email = email,
        .phone = phone ? phone : in->phone,
        .otp = in->otp,
        .signup_done = in->signup_done,
    };
    if (decision_make(&din, &out->decision, err) != 0)
        goto done;
    if (out->decision.outcome != DECISION_APPROVED) {
        rc = 0;
        goto done;
    }

    /* Approved: a new token supersedes the session's older ones. */
    struct auth_row auth = {0};
    if (ids_uuid4(auth.token) != 0) {
        kerr_internal(err, "random source");
        goto done;
    }
    auth.merchant_id = in->merchant->id;
    snprintf(auth.session_id, sizeof auth.session_id, "%s", in->session_id);
    auth.issued_at = in->now_ms;
    snprintf(auth.state, sizeof auth.state, "%s", auth_mark_name(AUTH_MARK_ACTIVE));
    snap = snapshot_of(session);
    const struct decision *d = &out->decision;
    enum order_fraud fraud =
        d->fraud_status == FRAUD_PENDING ? ORDER_FRAUD_PENDING : ORDER_FRAUD_ACCEPTED;
    auth_body = json_pack("{s:s, s:s, s:b, s:i, s:s, s:O, s:b}", "payment_method_category",
                          category, "fraud_status", order_fraud_name(fraud),
                          "pending_accept", d->pending_accept, "pending_minutes",
                          d->pending_minutes, "email", email, "snapshot", snap, "tokenized", 0);
    auth.body = auth_body ? jsonw_dumps(auth_body, NULL) : NULL;
    if (!auth.body) {
        kerr_internal(err, "out of memory");
        goto done;
    }
    if (store_auth_supersede(tx, auth.merchant_id, auth.session_id, NULL) != 0 ||
        store_auth_insert(tx, &auth) != 0) {
        free(auth.body);
        kerr_internal(err, "authorization insert");
        goto done;
    }
    free(auth.body);
    memcpy(out->token, auth.token, sizeof out->token);
    /* merchant_urls.authorization hears of it, written with the authorization (contract 6.5). */
    const char *callback = str(json_object_get(session, "merchant_urls"), "authorization");
    if (callback) {
        json_t *event = json_pack("{s:s, s:s}", "authorization_token", auth.token,
                                  "session_id", in->session_id);
        static const char *const refs[] = {"merchant_reference1", "merchant_reference2"};
        for (size_t k = 0; event && k < 2; k++) {
            if (copy_key(event, session, refs[k]) != 0) {
                json_decref(event);
                event = NULL;
            }
        }
        int bad = !event || outbox_event(tx, in->merchant->id, "authorization", in->session_id,
                                         "", callback, event, in->now_ms, in->now_ms, err) != 0;
        json_decref(event);
        if (bad) {
            if (!event)
                kerr_internal(err, "out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    json_decref(snap);
    json_decref(auth_body);
    json_decref(session);
    return rc;
}

/* The object the SDK's authorize() callback receives (contract 6.3). */
json_t *authorize_callback_object(const struct authorize_out *out)
{
    switch (out->decision.outcome) {
    case DECISION_APPROVED:
        return json_pack("{s:b, s:b, s:s}", "approved", 1, "show_form", 1,
                         "authorization_token", out->token);
    case DECISION_OTP_FAILED:
    case DECISION_SIGNUP_NEEDED:
        return json_pack("{s:b, s:b}", "approved", 0, "show_form", 1);
    case DECISION_DENIED:
    case DECISION_NO_FORM:
        break;
    }
    return json_pack("{s:b, s:b}", "approved", 0, "show_form", 0);
}

/* ---- one transaction and one reply for every way of authorizing ---- */

int authorize_tx(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct authorize_ctx *c = arg;
    return authorize_session(tx, &c->in, &c->out, err);
}

int authorize_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct authorize_ctx *c = arg;
    return reply_json(out, 200, authorize_callback_object(&c->out), err);
}

/* ---- POST /kasse/v1/sessions/{id}/authorize (headless) ---- */

int control_authorize_session(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    struct authorize_ctx h = {0};
    json_t *data = NULL;
    h.in.merchant = &r->merchant;
    h.in.session_id = r->params[0];
    h.in.now_ms = r->received_ms;
    h.in.signup_done = true;           /* the headless helper performs the sign-up step */
    json_t *category = json_object_get(body, "payment_method_category");
    json_t *otp = json_object_get(body, "otp");
    int rc = -1;
    if (category && !json_is_string(category)) {
        kerr_bad_value(err, "payment_method_category");
        goto done;
    }
    if (otp && !json_is_string(otp)) {
        kerr_bad_value(err, "otp");
        goto done;
    }
    h.in.payment_method_category = json_string_value(category);
    h.in.otp = json_string_value(otp);
    /* The shopper's data: addresses and customer, as the SDK's authorize(data) sends them. */
    data = json_object();
    static const char *const data_keys[] = {"billing_address", "shipping_address", "customer"};
    for (size_t i = 0; data && i < 3; i++) {
        if (copy_key(data, body, data_keys[i]) != 0) {
            json_decref(data);
            data = NULL;
        }
    }
    if (!data) {
        kerr_internal(err, "out of memory");
        goto done;
    }
    h.in.data = data;
    rc = api_write(r, authorize_tx, &h, authorize_reply, out, err);
done:
    json_decref(data);
    json_decref(body);
    return rc;
}

/* ---- tokens in a transaction ---- */

/* Loads an authorization and tells its state on Kasse's clock. */
static int load_auth(struct store_tx *tx, int64_t merchant, const char *token, int64_t now,
                     struct auth_row *row, json_t **body, enum auth_state *state,
                     struct kerr *err)
{
    if (!ids_is_uuid(token))
        return invalid_token(err);
    int rc = store_auth_get(tx, merchant, token, row);
    if (rc < 0)
        return kerr_internal(err, "authorization get");
    if (rc == STORE_NOT_FOUND)
        return invalid_token(err);
    *state = auth_state_of(row->state, row->issued_at, now);
    *body = parse_stored(row->body);
    if (!json_is_object(*body)) {
        json_decref(*body);
        auth_row_free(row);
        return kerr_internal(err, "stored authorization is not an object");
    }
    return 0;
}

json_t *authorization_snapshot(struct store_tx *tx, int64_t merchant_id, const char *token,
                               struct kerr *err)
{
    struct auth_row auth;
    json_t *body;
    enum auth_state state;
    if (load_auth(tx, merchant_id, token, 0, &auth, &body, &state, err))
        return NULL;
    json_t *snap = json_deep_copy(json_object_get(body, "snapshot"));
    json_decref(body);
    auth_row_free(&auth);
    if (!snap)
        kerr_internal(err, "authorization snapshot");
    return snap;
}

/* Marks the session complete (an order was placed or a token made for "tokenize"); its HPP
 * sessions but except_hpp (the one that completed it, or NULL) can no longer be paid. */
static int complete_session(struct store_tx *tx, int64_t merchant, const char *session_id,
                            const char *except_hpp, int64_t now, struct kerr *err)
{
    struct session_row row;
    int rc = store_session_get(tx, merchant, session_id, &row);
    if (rc < 0)
        return kerr_internal(err, "session get");
    if (rc == STORE_NOT_FOUND)
        return invalid_session(err);
    snprintf(row.status, sizeof row.status, "complete");
    row.updated_at = now;
    rc = store_session_update(tx, &row);
    session_row_free(&row);
    if (rc != 0)
        return kerr_internal(err, "session update");
    return hpp_kp_ended(tx, merchant, session_id, except_hpp, now, err);
}

/* ---- POST /payments/v1/authorizations/{token}/order ---- */

struct order_ctx {
    struct req *r;
    json_t *request;
    struct order_made made;
};

/* The reply facts of an order already placed with a token (a retried create-order). */
static int order_made_again(struct store_tx *tx, const struct place_order_in *in,
                            const char *order_id, struct order_made *made, struct kerr *err)
{
    struct order_row row;
    if (store_order_get(tx, in->merchant->id, order_id, &row) != 0)
        return kerr_internal(err, "order of a consumed authorization");
    struct order o;
    int rc = order_from_row(&o, &row, err);
    order_row_free(&row);
    if (rc != 0)
        return -1;
    const char *target = str(o.kasse, "redirect_target");
    memset(made, 0, sizeof *made);
    snprintf(made->order_id, sizeof made->order_id, "%s", o.id);
    snprintf(made->klarna_reference, sizeof made->klarna_reference, "%s",
             str(o.doc, "klarna_reference") ? str(o.doc, "klarna_reference") : "");
    /* As stored: the status the order was placed with until the outbox settles a review. */
    snprintf(made->fraud_status, sizeof made->fraud_status, "%s", order_fraud_name(o.st.fraud));
    snprintf(made->category, sizeof made->category, "%s",
             str(o.kasse, "payment_method_category") ? str(o.kasse, "payment_method_category")
                                                     : "");
    if (target && target[0])
        snprintf(made->redirect_url, sizeof made->redirect_url, "%s/kp/redirect/v1/%s",
                 in->public_url, o.id);
    order_free(&o);
    return 0;
}

int authorization_place_order(struct store_tx *tx, const struct place_order_in *in,
                              struct order_made *made, struct kerr *err)
{
    struct auth_row auth;
    json_t *body;
    enum auth_state state;
    if (load_auth(tx, in->merchant->id, in->token, in->now_ms, &auth, &body, &state, err))
        return -1;
    int rc = -1;
    /* A retry of the same create-order (same token, same body) gets the same order (Klarna
     * answers 200 with the same order_id); another body on a consumed token stays refused. */
    const char *made_id = str(body, "order_id");
    if (state == AUTH_CONSUMED && made_id &&
        json_equal(json_object_get(body, "order_request"), (json_t *)in->request)) {
        rc = order_made_again(tx, in, made_id, made, err);
        goto done;
    }
    if (auth_usable(state, err) != 0)
        goto done;
    json_t *snap = json_object_get(body, "snapshot");
    if (matching_check(snap, in->request, err) != 0)
        goto done;
    /* The decision's fraud review (authorize_session) becomes the order's (contract 5.6). */
    enum order_fraud fraud;
    bool pending = order_fraud_parse(str(body, "fraud_status"), &fraud) == 0 &&
                   fraud == ORDER_FRAUD_PENDING;
    json_int_t minutes = json_integer_value(json_object_get(body, "pending_minutes"));
    struct order_spec spec = {
        .merchant = in->merchant,
        .public_url = in->public_url,
        .session_id = auth.session_id,
        .request = in->request,
        .authorized = snap,
        .category = str(body, "payment_method_category"),
        .fraud = pending ? ORDER_FRAUD_PENDING : ORDER_FRAUD_ACCEPTED,
        .fraud_decides_at = pending ? in->now_ms + minutes * 60 * 1000 : 0,
        .fraud_result = json_is_true(json_object_get(body, "pending_accept"))
                            ? ORDER_FRAUD_ACCEPTED
                            : ORDER_FRAUD_REJECTED,
        .now_ms = in->now_ms,
    };
    if (order_create(tx, &spec, made, err) != 0)
        goto done;
    /* One order per session: the token is consumed (remembering its order and request, for
     * retries), the session complete. */
    char *auth_text = NULL;
    if (json_object_set_new(body, "order_id", json_string(made->order_id)) == 0 &&
        json_object_set(body, "order_request", (json_t *)in->request) == 0)
        auth_text = jsonw_dumps(body, NULL);
    int bad = !auth_text || store_auth_set_state(tx, in->merchant->id, auth.token,
                                                 auth_mark_name(AUTH_MARK_CONSUMED),
                                                 auth_text) != 0;
    free(auth_text);
    if (bad ||
        store_auth_supersede(tx, in->merchant->id, auth.session_id, auth.token) != 0) {
        kerr_internal(err, "authorization update");
        goto done;
    }
    rc = complete_session(tx, in->merchant->id, auth.session_id, in->hpp_session_id,
                          in->now_ms, err);
done:
    json_decref(body);
    auth_row_free(&auth);
    return rc;
}

static int order_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct order_ctx *c = arg;
    struct place_order_in in = {.merchant = &c->r->merchant,
                                .public_url = c->r->app->public_url,
                                .token = c->r->params[0],
                                .request = c->request,
                                .now_ms = c->r->received_ms};
    return authorization_place_order(tx, &in, &c->made, err);
}

static int order_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct order_ctx *c = arg;
    return reply_json(out, 200, order_reply_object(&c->made), err);
}

int payments_create_order(struct req *r, struct reply *out, struct kerr *err)
{
    if (!ids_is_uuid(r->params[0]))
        return invalid_token(err);
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    /* create_order_request carries the same cart fields, validated with the same rules. */
    json_t *request = order_request_from(body, err);
    json_decref(body);
    if (!request)
        return -1;
    struct order_ctx c = {.r = r, .request = request};
    int rc = api_write(r, order_fn, &c, order_reply, out, err);
    json_decref(request);
    return rc;
}

/* ---- DELETE /payments/v1/authorizations/{token} ---- */

struct cancel_ctx {
    struct req *r;
};

static int cancel_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct cancel_ctx *c = arg;
    struct req *r = c->r;
    struct auth_row auth;
    json_t *body;
    enum auth_state state;
    if (load_auth(tx, r->merchant.id, r->params[0], r->received_ms, &auth, &body, &state, err))
        return -1;
    int rc;
    if (auth_cancellable(state, err) != 0)
        rc = -1;
    else if (store_auth_set_state(tx, r->merchant.id, auth.token,
                                  auth_mark_name(AUTH_MARK_CANCELLED), NULL) != 0)
        rc = kerr_internal(err, "authorization update");
    else
        rc = 0;
    json_decref(body);
    auth_row_free(&auth);
    return rc;
}

int payments_cancel_authorization(struct req *r, struct reply *out, struct kerr *err)
{
    if (!ids_is_uuid(r->params[0]))
        return invalid_token(err);
    struct cancel_ctx c = {.r = r};
    return api_write(r, cancel_fn, &c, reply_no_content, out, err);
}

/* ---- POST /payments/v1/authorizations/{token}/customer-token ---- */

struct ctoken_ctx {
    struct req *r;
    json_t *request;
    char token_id[37];
    char reference[37];
    json_t *billing;                    /* borrowed from the stored token body */
    json_t *stored;
};

static const char *const tokenizing_intents[] = {"tokenize", "buy_and_tokenize",
                                                 "buy_and_default_tokenize", NULL};

static bool tokenizing(const char *intent)
{
    for (int i = 0; tokenizing_intents[i]; i++)
        if (intent && strcmp(intent, tokenizing_intents[i]) == 0)
            return true;
    return false;
}

/* Fills c from the customer token an authorization already made. */
static int ctoken_made_again(struct store_tx *tx, struct ctoken_ctx *c, const char *token_id,
                             struct kerr *err)
{
    struct ctoken_row row;
    if (store_ctoken_get(tx, c->r->merchant.id, token_id, &row) != 0)
        return kerr_internal(err, "customer token of an authorization");
    c->stored = jsonp_parse(row.body, strlen(row.body), LIMIT_JSON_DEPTH, NULL, 0);
    ctoken_row_free(&row);
    const char *ref = str(c->stored, "payment_method_reference");
    if (!c->stored)
        return kerr_internal(err, "stored customer token is not readable");
    snprintf(c->token_id, sizeof c->token_id, "%s", token_id);
    snprintf(c->reference, sizeof c->reference, "%s", ref ? ref : "");
    return 0;
}

static int ctoken_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct ctoken_ctx *c = arg;
    struct req *r = c->r;
    json_decref(c->stored);              /* a rerun starts afresh (store.h, Concurrency) */
    c->stored = NULL;
    struct auth_row auth;
    json_t *body;
    enum auth_state state;
    if (load_auth(tx, r->merchant.id, r->params[0], r->received_ms, &auth, &body, &state, err))
        return -1;
    int rc = -1;
    /* The same token may make an order and a customer token (buy_and_tokenize). */
    if (auth_tokenizable(state, err) != 0)
        goto done;
    json_t *snap = json_object_get(body, "snapshot");
    const char *intent = str(snap, "intent");
    if (!tokenizing(intent)) {
        kerr_set(err, 403, "INVALID_OPERATION",
                 "Not allowed to create customer tokens for intent %s.", intent ? intent : "buy");
        goto done;
    }
    /* A retry gets the token made the first time (Klarna answers 200 with the same token_id). */
    const char *made_token = str(body, "customer_token_id");
    if (json_is_true(json_object_get(body, "tokenized")) && made_token) {
        rc = ctoken_made_again(tx, c, made_token, err);
        goto done;
    }
    if (json_is_true(json_object_get(body, "tokenized"))) {
        kerr_set(err, 403, "INVALID_OPERATION",
                 "A customer token was already created with this authorization token");
        goto done;
    }
    if (strcasecmp(str(c->request, "purchase_country"), str(snap, "purchase_country")) != 0) {
        kerr_bad_value(err, "purchase_country");
        goto done;
    }
    if (strcasecmp(str(c->request, "purchase_currency"), str(snap, "purchase_currency")) != 0) {
        kerr_bad_value(err, "purchase_currency");
        goto done;
    }
    /* The request's billing_address is not matched: once the consumer has given details,
     * Klarna ignores updates to it without an error (payments.json) and the token carries the
     * authorized consumer's details (recorded traffic). Without authorized details, the
     * request's are taken. */
    json_t *billing = json_object_get(snap, "billing_address");
    if (!billing)
        billing = json_object_get(c->request, "billing_address");
    if (ids_uuid4(c->token_id) != 0 || ids_uuid4(c->reference) != 0) {
        kerr_internal(err, "random source");
        goto done;
    }
    char created[32];
    time_format_iso8601(r->received_ms, created);
    json_t *customer = json_object_get(snap, "customer");
    if (!customer)
        customer = json_object_get(c->request, "customer");
    c->stored = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "token_id", c->token_id, "status",
        "ACTIVE", "payment_method_type", order_om_payment_type(str(body, "payment_method_category")),
        "payment_method_category", str(body, "payment_method_category"), "description",
        str(c->request, "description"), "intended_use", "SUBSCRIPTION", "purchase_country",
        str(c->request, "purchase_country"), "purchase_currency",
        str(c->request, "purchase_currency"), "created_at", created, "payment_method_reference",
        c->reference);
    if (!c->stored) {
        kerr_internal(err, "out of memory");
        goto done;
    }
    if (billing)
        json_object_set(c->stored, "billing_address", billing);
    /* Where the consumer goes after tokenizing: the session's confirmation URL, as Klarna's
     * reply carries a redirect_url (recorded); none without one. */
    const char *confirmation =
        str(json_object_get(snap, "merchant_urls"), "confirmation");
    if (confirmation) {
        char target[LIMIT_MERCHANT_URL + 256];
        order_url_fill(confirmation, auth.session_id, "", target, sizeof target);
        json_object_set_new(c->stored, "redirect_url", json_string(target));
    }
    if (customer)
        json_object_set(c->stored, "customer", customer);
    json_t *email = json_object_get(body, "email");
    if (email)
        json_object_set(c->stored, "email", email);
    struct ctoken_row row = {.merchant_id = r->merchant.id, .created_at = r->received_ms};
    memcpy(row.id, c->token_id, sizeof row.id);
    snprintf(row.status, sizeof row.status, "ACTIVE");
    row.body = jsonw_dumps(c->stored, NULL);
    json_object_set_new(body, "tokenized", json_true());
    json_object_set_new(body, "customer_token_id", json_string(c->token_id));
    char *auth_text = jsonw_dumps(body, NULL);
    bool only_token = intent && strcmp(intent, "tokenize") == 0;
    enum auth_mark mark = auth_mark_after_tokenize(auth_mark_parse(auth.state), only_token);
    int bad = !row.body || !auth_text || store_ctoken_insert(tx, &row) != 0 ||
              store_auth_set_state(tx, r->merchant.id, auth.token, auth_mark_name(mark),
                                   auth_text) != 0;
    free(row.body);
    free(auth_text);
    if (bad) {
        kerr_internal(err, "customer token insert");
        goto done;
    }
    /* A "tokenize" session ends with its token: no order follows. */
    rc = only_token
             ? complete_session(tx, r->merchant.id, auth.session_id, NULL, r->received_ms, err)
             : 0;
done:
    json_decref(body);
    auth_row_free(&auth);
    return rc;
}

static int ctoken_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct ctoken_ctx *c = arg;
    json_t *reply = json_pack("{s:s, s:s}", "token_id", c->token_id,
                              "payment_method_reference", c->reference);
    if (!reply)
        return kerr_internal(err, "out of memory");
    json_t *billing = json_object_get(c->stored, "billing_address");
    if (billing)
        json_object_set(reply, "billing_address", billing);
    json_t *redirect = json_object_get(c->stored, "redirect_url");
    if (redirect)
        json_object_set(reply, "redirect_url", redirect);
    json_t *customer = json_object_get(c->stored, "customer");
    json_t *read = json_object();
    if (read && customer) {
        json_t *v = json_object_get(customer, "date_of_birth");
        if (v)
            json_object_set(read, "date_of_birth", v);
        v = json_object_get(customer, "gender");
        if (v)
            json_object_set(read, "gender", v);
    }
    json_object_set_new(reply, "customer", read);
    return reply_json(out, 200, reply, err);
}

/* Validates customer_token_creation_request (contract 2.7). */
static int check_ctoken_request(const json_t *b, struct kerr *err)
{
    static const char *const required[] = {"purchase_country", "purchase_currency", "locale",
                                           "description", "intended_use"};
    for (size_t i = 0; i < 5; i++) {
        const char *v = str(b, required[i]);
        if (!v || !v[0] || strlen(v) > LIMIT_STRING_DEFAULT)
            return kerr_bad_value(err, required[i]);
    }
    if (strcasecmp(str(b, "intended_use"), "SUBSCRIPTION") != 0)
        return kerr_bad_value(err, "intended_use");
    json_t *billing = json_object_get(b, "billing_address");
    if (billing && !json_is_object(billing))
        return kerr_bad_value(err, "billing_address");
    json_t *customer = json_object_get(b, "customer");
    if (customer && !json_is_object(customer))
        return kerr_bad_value(err, "customer");
    return 0;
}

int payments_create_customer_token(struct req *r, struct reply *out, struct kerr *err)
{
    if (!ids_is_uuid(r->params[0]))
        return invalid_token(err);
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    int rc = -1;
    struct ctoken_ctx c = {.r = r, .request = body};
    if (check_ctoken_request(body, err) == 0)
        rc = api_write(r, ctoken_fn, &c, ctoken_reply, out, err);
    json_decref(c.stored);
    json_decref(body);
    return rc;
}
