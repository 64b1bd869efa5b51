/* authorization: lifetimes and states of authorization tokens (contract 2.5, 2.9). A token is
 * valid 60 minutes from issue on Kasse's clock, until consumed by an order, cancelled, or
 * superseded by a newer authorization of the same session. Pure. */
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
int64_t auth_expires_at(int64_t issued_at_ms);
/* For create-order / customer-token on a token in state s: 0 when usable, else -1 with the
 * Klarna error for that state. */
int auth_usable(enum auth_state s, struct kerr *err);

#endif
