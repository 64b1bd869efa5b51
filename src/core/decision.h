/* decision: Kasse's decision engine, driven by Klarna's playground test data (contract 7.1).
 * Market independent: the outcome comes from tags in the e-mail's local part
 * ("customer+denied@email.se" has the tag "denied") and from the one-time code. Pure. */
#ifndef KASSE_CORE_DECISION_H
#define KASSE_CORE_DECISION_H

#include <stdbool.h>

#include "lib/kerr.h"

enum decision_outcome {
    DECISION_APPROVED,       /* authorize: {approved:true, show_form:true, authorization_token} */
    DECISION_DENIED,         /* hard decline: {approved:false, show_form:false} */
    DECISION_NO_FORM,        /* +red: load and authorize answer show_form:false */
    DECISION_OTP_FAILED,     /* code 999999: {approved:false, show_form:true} (shopper may retry) */
    DECISION_SIGNUP_NEEDED,  /* +require_signup and the sign-up step not done yet */
};

enum fraud_status { FRAUD_ACCEPTED, FRAUD_PENDING };

struct decision_input {
    const char *email;        /* required */
    const char *phone;        /* optional */
    const char *otp;          /* six digits; NULL when the flow has no code step (headless) */
    bool signup_done;         /* the shopper completed the sign-up step */
};

struct decision {
    enum decision_outcome outcome;
    enum fraud_status fraud_status;   /* PENDING for +pend-accept-NN / +pend-reject-NN */
    bool pending_accept;              /* the pending review ends ACCEPTED (else REJECTED) */
    int pending_minutes;              /* NN, 0..99 */
    char reject_reason[64];           /* +reject_reason_<x> (lowercase), "" otherwise */
};

/* Decides; -1 with err (400 BAD_VALUE, path "billing_address.email", "billing_address.phone"
 * or "otp") when the input is not usable (no e-mail, malformed e-mail or phone, code not six
 * digits). Checks in this order: e-mail, phone, code format, code 999999, tags (see
 * decision.c for the precedence between tags). */
int decision_make(const struct decision_input *in, struct decision *out, struct kerr *err);

/* load(): whether the widget shows a form for this e-mail (false for +red). NULL e-mail: true. */
bool decision_shows_form(const char *email);

#endif
