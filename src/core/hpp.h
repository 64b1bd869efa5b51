/* hpp: the Hosted Payment Page rules (contract 4, docs/hpp.md). Pure: no I/O, no clock reads.
 * Owns the HPP status machine, the create and distribution request rules, the placeholders of
 * merchant_urls, and the page's and messages' texts. */
#ifndef KASSE_CORE_HPP_H
#define KASSE_CORE_HPP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/kerr.h"

enum hpp_status {
    HPP_WAITING,       /* created; the page was not opened yet */
    HPP_IN_PROGRESS,   /* the shopper opened the page */
    HPP_BACK,          /* the shopper went back to the merchant (may return) */
    HPP_FAILED,        /* declined (may retry) */
    HPP_ERROR,         /* a technical error (may retry) */
    HPP_COMPLETED,     /* final: authorized, and the order placed per place_order_mode */
    HPP_CANCELLED,     /* final: the shopper cancelled */
    HPP_DISABLED,      /* final: the merchant disabled it, or its KP session was paid elsewhere */
    HPP_STATUS_COUNT
};

enum hpp_event {
    HPP_EV_OPEN,       /* the shopper opens (or reopens) the page */
    HPP_EV_BACK,
    HPP_EV_CANCEL,
    HPP_EV_DECLINE,
    HPP_EV_ERROR,
    HPP_EV_COMPLETE,
    HPP_EV_DISABLE,    /* DELETE by the merchant, or its KP session completed elsewhere */
};

const char *hpp_status_name(enum hpp_status s);
/* 0 with *out, or -1 for a name that is not a status. */
int hpp_status_parse(const char *name, enum hpp_status *out);
bool hpp_status_final(enum hpp_status s);
/* The status after ev. 0 with *to (equal to from when nothing changes: no callback then), or -1
 * with err: shopper events on a final status → 410 SESSION_COMPLETED / SESSION_CANCELLED /
 * SESSION_DISABLED; DISABLE of a COMPLETED session → 400 BAD_VALUE "HPP session has already been
 * successfully completed". */
int hpp_next(enum hpp_status from, enum hpp_event ev, enum hpp_status *to, struct kerr *err);
/* A session that is not final reads as expired from expires_at on. */
bool hpp_expired(enum hpp_status s, int64_t expires_at_ms, int64_t now_ms);

/* place_order_mode */
enum hpp_mode { HPP_MODE_NONE, HPP_MODE_PLACE_ORDER, HPP_MODE_CAPTURE_ORDER };
enum hpp_mode hpp_mode_of(const json_t *request);

/* The create request (SessionCreationRequestV1) checked and normalized: 400 BAD_VALUE with the
 * path of the first bad field, or a new object {payment_session_url, kp_session_id,
 * merchant_urls?, options {place_order_mode, purchase_type, payment_fallback, and the rest as
 * given, enums uppercase, categories as KP identifiers}, profile_id?}. */
json_t *hpp_create_request(const json_t *body, struct kerr *err);
/* The KP session id in a payment_session_url (any scheme and host; the path must end in
 * /payments/v1/sessions/{uuid}); out holds 37 bytes, lowercase. -1 when it is not one. */
int hpp_kp_session_id(const char *url, char out[37]);
/* The categories the page offers: the request's (in its order) when it names any, else all the
 * session offers (offered: array of identifier strings). A requested category the session does
 * not offer is 400 on its path (options.payment_method_category or
 * options.payment_method_categories[i]). New array, or NULL with err. */
json_t *hpp_allowed_categories(const json_t *request, const json_t *offered, struct kerr *err);

/* merchant_urls placeholders: {{session_id}}, {{authorization_token}}, {{order_id}} are
 * replaced by their values, URL-encoded; a NULL value leaves its placeholder as written.
 * -1 when the result does not fit in cap. */
struct hpp_fill {
    const char *session_id;
    const char *authorization_token;
    const char *order_id;
};
int hpp_url_fill(const char *tmpl, const struct hpp_fill *f, char *out, size_t cap);

/* Distribution (DistributionRequestV1): 400 BAD_VALUE on the first bad field. */
enum hpp_method { HPP_SEND_SMS, HPP_SEND_EMAIL, HPP_SEND_TOKEN };
struct hpp_distribution {
    enum hpp_method method;
    const char *to;            /* e-mail, phone or access_id (borrowed from the body) */
    const char *phone_country; /* sms: uppercase copy in country */
    char country[3];
    bool has_template;
};
int hpp_distribution_check(const json_t *body, struct hpp_distribution *out, struct kerr *err);
const char *hpp_method_name(enum hpp_method m);

/* Texts in the session's language (en, sv, de, da, nb, fi; English otherwise). */
/* The pay button's label for purchase_type (BUY, RENT, ..., PAY). */
const char *hpp_pay_label(const char *purchase_type, const char *locale);
/* The distribution message: subject (e-mail) and text with the link. -1 if it does not fit. */
int hpp_message_text(const char *locale, const char *merchant, const char *link, char *subject,
                     size_t subject_cap, char *text, size_t text_cap);

#endif
