/* api: the handlers, one file per API family; routes.c puts them in the route table. */
#ifndef KASSE_API_H
#define KASSE_API_H

#include "core/decision.h"
#include "core/hpp.h"
#include "http/http.h"

/* payments.c: Klarna Payments sessions (/payments/v1/sessions) */
int payments_create_session(struct req *r, struct reply *out, struct kerr *err);
int payments_read_session(struct req *r, struct reply *out, struct kerr *err);
int payments_update_session(struct req *r, struct reply *out, struct kerr *err);
int payments_cancel_session(struct req *r, struct reply *out, struct kerr *err);
/* Inside a transaction: loads the merchant's live session (404 NOT_FOUND "Invalid session id"
 * when unknown or expired, 404 SESSION_COMPLETED when complete), applies update with the update
 * rules (nothing when NULL or empty) and saves it. *session is the result (new reference).
 * The one way sessions change: the update API, the SDK's load/authorize data, the headless
 * helper. */
int session_update_in_tx(struct store_tx *tx, int64_t merchant_id, const char *id,
                         int64_t now_ms, const json_t *update, json_t **session,
                         struct kerr *err);

/* authorizations.c: the decision path shared by the headless helper and the shopper's widget */
struct authorize_in {
    const struct merchant *merchant;
    const char *session_id;
    int64_t now_ms;
    const char *payment_method_category;  /* NULL: the session's first category */
    const char *otp;                      /* NULL: no code step (headless) */
    const char *email, *phone;            /* the shopper's identification (widget), or NULL */
    bool signup_done;
    const json_t *data;                   /* shopper data (addresses, customer), may be NULL */
};

struct authorize_out {
    struct decision decision;
    char token[37];                       /* when approved */
    char category[32];
};

int authorize_session(struct store_tx *tx, const struct authorize_in *in,
                      struct authorize_out *out, struct kerr *err);
struct authorize_ctx {
    struct authorize_in in;
    struct authorize_out out;
};
/* api_write's operation and reply for an authorize_ctx: the decision path, then the callback
 * object with status 200. */
int authorize_tx(struct store_tx *tx, void *arg, struct kerr *err);
int authorize_reply(void *arg, struct reply *out, struct kerr *err);
/* {approved, show_form, authorization_token?} as the SDK's authorize() callback gets it. */
json_t *authorize_callback_object(const struct authorize_out *out);
int control_authorize_session(struct req *r, struct reply *out, struct kerr *err);
/* The session snapshot an authorization kept for create-order matching (its cart, addresses,
 * customer, merchant_urls and references), as a new object. */
json_t *authorization_snapshot(struct store_tx *tx, int64_t merchant_id, const char *token,
                               struct kerr *err);
/* Places the order of a valid authorization token (create-order and the hosted page's
 * place-order modes): matching against the authorized snapshot, the order (api/orders.c), the
 * token consumed, the session complete and its other HPP sessions disabled. */
struct order_made;
struct place_order_in {
    const struct merchant *merchant;
    const char *public_url;
    const char *token;
    const json_t *request;                /* the validated order request */
    int64_t now_ms;
    const char *hpp_session_id;           /* the HPP session placing it, or NULL */
};
int authorization_place_order(struct store_tx *tx, const struct place_order_in *in,
                              struct order_made *made, struct kerr *err);
int payments_create_order(struct req *r, struct reply *out, struct kerr *err);
int payments_cancel_authorization(struct req *r, struct reply *out, struct kerr *err);
int payments_create_customer_token(struct req *r, struct reply *out, struct kerr *err);
/* The browser's stop between create-order and the merchant's confirmation page. */
int payments_order_redirect(struct req *r, struct reply *out, struct kerr *err);

/* customer_token.c: /customer-token/v1/tokens */
int ctoken_read(struct req *r, struct reply *out, struct kerr *err);
int ctoken_create_order(struct req *r, struct reply *out, struct kerr *err);
int ctoken_update_status(struct req *r, struct reply *out, struct kerr *err);

/* shopper.c: what the SDK's widget calls (Bearer client_token) */
int shopper_read_session(struct req *r, struct reply *out, struct kerr *err);
int shopper_load(struct req *r, struct reply *out, struct kerr *err);
int shopper_identify(struct req *r, struct reply *out, struct kerr *err);
int shopper_authorize(struct req *r, struct reply *out, struct kerr *err);

/* ordermanagement.c: /ordermanagement/v1/orders/{order_id}/... (contract 5.1) */
int om_get_order(struct req *r, struct reply *out, struct kerr *err);
int om_acknowledge(struct req *r, struct reply *out, struct kerr *err);
int om_update_authorization(struct req *r, struct reply *out, struct kerr *err);
int om_cancel(struct req *r, struct reply *out, struct kerr *err);
int om_extend_authorization(struct req *r, struct reply *out, struct kerr *err);
int om_release(struct req *r, struct reply *out, struct kerr *err);
int om_customer_details(struct req *r, struct reply *out, struct kerr *err);
int om_capture_customer_details(struct req *r, struct reply *out, struct kerr *err);
int om_merchant_references(struct req *r, struct reply *out, struct kerr *err);
int om_shipping_info(struct req *r, struct reply *out, struct kerr *err);
int om_capture(struct req *r, struct reply *out, struct kerr *err);
int om_list_captures(struct req *r, struct reply *out, struct kerr *err);
int om_get_capture(struct req *r, struct reply *out, struct kerr *err);
int om_capture_shipping_info(struct req *r, struct reply *out, struct kerr *err);
int om_trigger_send_out(struct req *r, struct reply *out, struct kerr *err);
int om_due_date_options(struct req *r, struct reply *out, struct kerr *err);
int om_extend_due_date(struct req *r, struct reply *out, struct kerr *err);
int om_refund(struct req *r, struct reply *out, struct kerr *err);
int om_get_refund(struct req *r, struct reply *out, struct kerr *err);

/* hpp.c: the Hosted Payment Page API (/hpp/v1/sessions), and what the hosted page shares */
int hpp_create_session(struct req *r, struct reply *out, struct kerr *err);
int hpp_read_session(struct req *r, struct reply *out, struct kerr *err);
int hpp_disable_session(struct req *r, struct reply *out, struct kerr *err);
int hpp_distribute_session(struct req *r, struct reply *out, struct kerr *err);
int control_list_messages(struct req *r, struct reply *out, struct kerr *err);
/* An HPP session loaded in a transaction: the row, its parsed body {request, allowed, outcome?,
 * customer?, distribution_token} and its status. */
struct hpp_state {
    struct hpp_row row;
    json_t *body;
    enum hpp_status status;
    bool body_dirty;              /* body changed: hpp_change saves it even without a move */
};
/* By id, scoped to the merchant (404 "HPP session not found"), or by the page's key, any
 * merchant (404 "Payment page not found"). */
int hpp_load(struct store_tx *tx, int64_t merchant_id, const char *id, struct hpp_state *s,
             struct kerr *err);
int hpp_load_page(struct store_tx *tx, const char *page_id, struct hpp_state *s,
                  struct kerr *err);
void hpp_state_free(struct hpp_state *s);
/* Applies ev (core/hpp.c's machine), saves the row, and on a move writes the status callback in
 * the same transaction. *changed (may be NULL): whether the status moved. */
int hpp_change(struct store_tx *tx, struct hpp_state *s, enum hpp_event ev, int64_t now,
               bool *changed, struct kerr *err);
/* SessionResponseV1, as GET answers and status callbacks carry it. */
json_t *hpp_session_object(const struct hpp_state *s);
/* A KP session ended (an order placed, a token made, or the session cancelled): its other HPP
 * sessions that are not final become DISABLED, each with its callback. except_id: the one that
 * completed it, or NULL. */
int hpp_kp_ended(struct store_tx *tx, int64_t merchant_id, const char *kp_session_id,
                     const char *except_id, int64_t now, struct kerr *err);

/* hpp_page.c: the hosted page (public; the page id is the shopper's only key) */
int hpp_page_get(struct req *r, struct reply *out, struct kerr *err);
int hpp_page_qr(struct req *r, struct reply *out, struct kerr *err);
int hpp_page_distribution(struct req *r, struct reply *out, struct kerr *err);
int hpp_shopper_state(struct req *r, struct reply *out, struct kerr *err);
int hpp_shopper_open(struct req *r, struct reply *out, struct kerr *err);
int hpp_shopper_identify(struct req *r, struct reply *out, struct kerr *err);
int hpp_shopper_authorize(struct req *r, struct reply *out, struct kerr *err);
int hpp_shopper_back(struct req *r, struct reply *out, struct kerr *err);
int hpp_shopper_cancel(struct req *r, struct reply *out, struct kerr *err);

/* control.c: Kasse's own endpoints (/kasse/v1) */
int control_read_log(struct req *r, struct reply *out, struct kerr *err);
int control_health(struct req *r, struct reply *out, struct kerr *err);
int control_read_clock(struct req *r, struct reply *out, struct kerr *err);
int control_advance_clock(struct req *r, struct reply *out, struct kerr *err);
int control_list_callbacks(struct req *r, struct reply *out, struct kerr *err);
int control_list_orders(struct req *r, struct reply *out, struct kerr *err);
/* GET /kasse/v1/orders/{order_id}/timeline: the order's life, as the portal draws it */
int control_order_timeline(struct req *r, struct reply *out, struct kerr *err);
int control_resend_callback(struct req *r, struct reply *out, struct kerr *err);
int control_list_logs(struct req *r, struct reply *out, struct kerr *err);
int control_list_sessions(struct req *r, struct reply *out, struct kerr *err);
int control_read_session(struct req *r, struct reply *out, struct kerr *err);
int control_list_hpp_sessions(struct req *r, struct reply *out, struct kerr *err);

/* portal.c: the merchant portal's sign-in and the start page (docs/portal.md) */
int portal_sign_in(struct req *r, struct reply *out, struct kerr *err);
int portal_session(struct req *r, struct reply *out, struct kerr *err);
int portal_sign_out(struct req *r, struct reply *out, struct kerr *err);
int portal_start(struct req *r, struct reply *out, struct kerr *err);
int portal_folder_redirect(struct req *r, struct reply *out, struct kerr *err);

/* demo.c: the demo shop's server side, the signed-in merchant's backend (docs/portal.md) */
int demo_catalog(struct req *r, struct reply *out, struct kerr *err);
int demo_checkout(struct req *r, struct reply *out, struct kerr *err);
int demo_order(struct req *r, struct reply *out, struct kerr *err);
int demo_hpp(struct req *r, struct reply *out, struct kerr *err);

/* static.c: files embedded from web/ */
int static_get(struct req *r, struct reply *out, struct kerr *err);

#endif
