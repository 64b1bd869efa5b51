/* authorization: lifetimes and states of authorization tokens (contract 2.5, 2.9). A token is
 * valid 60 minutes from issue on Kasse's clock, until consumed by an order, cancelled, or
 * superseded by a newer authorization of the same session. Pure. api/ names states and marks
 * by these enums only; the stored strings live in authorization.c. */
#ifndef KASSE_CORE_AUTHORIZATION_H
#define KASSE_CORE_AUTHORIZATION_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/kerr.h"

enum auth_state {
    AUTH_VALID,
    AUTH_EXPIRED,        /* → 404 NOT_FOUND "Invalid authorization token" */
    AUTH_CANCELLED,      /* → 404 NOT_FOUND "Invalid authorization token" */
    AUTH_SUPERSEDED,     /* → 404 NOT_FOUND "Invalid authorization token" */
    AUTH_CONSUMED,       /* → 403 INVALID_OPERATION "Authorization token already consumed" */
};

struct auth_facts {
    int64_t issued_at_ms;
    bool consumed, cancelled, superseded;
};

enum auth_state auth_state_at(const struct auth_facts *f, int64_t now_ms);
/* "valid", "expired", "cancelled", "superseded", "consumed" (as Kasse's own lists show it). */
const char *auth_state_name(enum auth_state s);
int64_t auth_expires_at(int64_t issued_at_ms);

/* What the store keeps of a token (auth_row.state): the mark it was given, set once; never its
 * state at an instant, which depends on the clock (auth_state_of). Stored as "active",
 * "consumed", "cancelled", "superseded" (the store's auth_supersede writes "superseded" of
 * "active" tokens itself, so these strings are part of the stored format). */
enum auth_mark {
    AUTH_MARK_ACTIVE,
    AUTH_MARK_CONSUMED,      /* an order (or a "tokenize" customer token) was made with it */
    AUTH_MARK_CANCELLED,     /* DELETE /payments/v1/authorizations/{token} */
    AUTH_MARK_SUPERSEDED,    /* a newer authorization of the session, or the session cancelled */
};
const char *auth_mark_name(enum auth_mark m);
/* The mark of a stored string; one Kasse never writes reads as AUTH_MARK_ACTIVE. */
enum auth_mark auth_mark_parse(const char *stored);
/* The state at now_ms of a token stored with this mark and issue time. */
enum auth_state auth_state_of(const char *stored_mark, int64_t issued_at_ms, int64_t now_ms);

/* For create-order on a token in state s: 0 when usable, else -1 with the Klarna error for
 * that state. */
int auth_usable(enum auth_state s, struct kerr *err);
/* For DELETE of a token in state s: 0 when it may be cancelled (only a valid one), else -1:
 * 404 "Authorization cannot be deleted" once consumed, 404 "Invalid authorization token"
 * otherwise. */
int auth_cancellable(enum auth_state s, struct kerr *err);
/* For a customer token made with a token in state s: 0 when valid or consumed (the same
 * token may place the order and make the customer token, buy_and_tokenize), else -1 with 404
 * "Invalid authorization token". */
int auth_tokenizable(enum auth_state s, struct kerr *err);
/* The mark a token keeps once it made a customer token: a "tokenize" session's token is
 * consumed by it (no order follows), any other keeps its mark. */
enum auth_mark auth_mark_after_tokenize(enum auth_mark m, bool tokenize_only);

#endif
