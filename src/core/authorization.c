/* authorization: the state of an authorization token at a given instant, and the Klarna error
 * each state answers with (contract 2.5, 2.9). Pure: the caller passes the clock reading.
 *
 * Decisions [INF]:
 *  - Precedence when several facts hold: CONSUMED, then CANCELLED, SUPERSEDED, EXPIRED. A
 *    token that became an order answers 403 "already consumed" forever, even after 60 minutes,
 *    so a merchant retrying a create-order learns the order exists instead of a bare 404.
 *  - Expiry is exclusive: valid while now < issued + 60 min; at exactly issued + 60 min the
 *    token is expired. A clock reading before issue (clock stepped back) is still valid.
 *  - The expiry saturates at INT64_MAX instead of overflowing. */
#include "core/authorization.h"

#include <string.h>

#include "lib/limits.h"

#define MS_PER_S 1000

int64_t auth_expires_at(int64_t issued_at_ms)
{
    int64_t out;
    if (__builtin_add_overflow(issued_at_ms, (int64_t)LIFETIME_AUTH_TOKEN_S * MS_PER_S, &out))
        return INT64_MAX;
    return out;
}

enum auth_state auth_state_at(const struct auth_facts *f, int64_t now_ms)
{
    if (f->consumed)
        return AUTH_CONSUMED;
    if (f->cancelled)
        return AUTH_CANCELLED;
    if (f->superseded)
        return AUTH_SUPERSEDED;
    if (now_ms >= auth_expires_at(f->issued_at_ms))
        return AUTH_EXPIRED;
    return AUTH_VALID;
}

static const char *const mark_names[] = {
    [AUTH_MARK_ACTIVE] = "active",
    [AUTH_MARK_CONSUMED] = "consumed",
    [AUTH_MARK_CANCELLED] = "cancelled",
    [AUTH_MARK_SUPERSEDED] = "superseded",
};

const char *auth_mark_name(enum auth_mark m)
{
    if ((unsigned)m >= sizeof mark_names / sizeof mark_names[0])
        return mark_names[AUTH_MARK_ACTIVE];
    return mark_names[m];
}

enum auth_mark auth_mark_parse(const char *stored)
{
    for (size_t i = 0; stored && i < sizeof mark_names / sizeof mark_names[0]; i++)
        if (strcmp(stored, mark_names[i]) == 0)
            return (enum auth_mark)i;
    return AUTH_MARK_ACTIVE;
}

enum auth_state auth_state_of(const char *stored_mark, int64_t issued_at_ms, int64_t now_ms)
{
    enum auth_mark m = auth_mark_parse(stored_mark);
    struct auth_facts f = {.issued_at_ms = issued_at_ms,
                           .consumed = m == AUTH_MARK_CONSUMED,
                           .cancelled = m == AUTH_MARK_CANCELLED,
                           .superseded = m == AUTH_MARK_SUPERSEDED};
    return auth_state_at(&f, now_ms);
}

int auth_usable(enum auth_state s, struct kerr *err)
{
    switch (s) {
    case AUTH_VALID:
        return 0;
    case AUTH_CONSUMED:
        return kerr_set(err, 403, "INVALID_OPERATION", "Authorization token already consumed");
    case AUTH_EXPIRED:
    case AUTH_CANCELLED:
    case AUTH_SUPERSEDED:
    default:
        return kerr_set(err, 404, "NOT_FOUND", "Invalid authorization token");
    }
}

int auth_cancellable(enum auth_state s, struct kerr *err)
{
    if (s == AUTH_VALID)
        return 0;
    if (s == AUTH_CONSUMED)
        return kerr_set(err, 404, "NOT_FOUND", "Authorization cannot be deleted");
    return kerr_set(err, 404, "NOT_FOUND", "Invalid authorization token");
}

int auth_tokenizable(enum auth_state s, struct kerr *err)
{
    if (s == AUTH_VALID || s == AUTH_CONSUMED)
        return 0;
    return kerr_set(err, 404, "NOT_FOUND", "Invalid authorization token");
}

enum auth_mark auth_mark_after_tokenize(enum auth_mark m, bool tokenize_only)
{
    return tokenize_only ? AUTH_MARK_CONSUMED : m;
}

const char *auth_state_name(enum auth_state s)
{
    switch (s) {
    case AUTH_VALID: return "valid";
    case AUTH_EXPIRED: return "expired";
    case AUTH_CANCELLED: return "cancelled";
    case AUTH_SUPERSEDED: return "superseded";
    case AUTH_CONSUMED: return "consumed";
    }
    return "valid";
}
