/* test_authorization: authorization token states (core/authorization): the 60-minute lifetime
 * at its boundaries, the precedence between consumed / cancelled / superseded / expired, and
 * the Klarna error each state answers with. Table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "core/authorization.h"
#include "lib/limits.h"

#define MIN_MS (60 * 1000LL)
#define T0     1700000000000LL /* an arbitrary issue time, ms */

static void rule_lifetime_is_60_minutes(void **state)
{
    (void)state;
    assert_int_equal(LIFETIME_AUTH_TOKEN_S, 3600);
    assert_int_equal(auth_expires_at(T0), T0 + 60 * MIN_MS);
    assert_int_equal(auth_expires_at(0), 60 * MIN_MS);
    /* saturates instead of overflowing */
    assert_int_equal(auth_expires_at(INT64_MAX), INT64_MAX);
    assert_int_equal(auth_expires_at(INT64_MAX - 1000), INT64_MAX);
}

struct scase {
    int64_t offset_ms; /* now - issued */
    bool consumed, cancelled, superseded;
    enum auth_state want;
};

static void run_states(const struct scase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct auth_facts f = { .issued_at_ms = T0, .consumed = c[i].consumed,
                                .cancelled = c[i].cancelled, .superseded = c[i].superseded };
        enum auth_state s = auth_state_at(&f, T0 + c[i].offset_ms);
        if (s != c[i].want)
            fail_msg("case %zu (offset %lld ms): state %d, expected %d", i,
                     (long long)c[i].offset_ms, (int)s, (int)c[i].want);
    }
}

/* Valid until 59:59.999; expired from 60:00.000 on (exclusive end). */
static void rule_expiry_boundary(void **state)
{
    (void)state;
    static const struct scase c[] = {
        { 0, false, false, false, AUTH_VALID },
        { 1, false, false, false, AUTH_VALID },
        { 30 * MIN_MS, false, false, false, AUTH_VALID },
        { 60 * MIN_MS - 1, false, false, false, AUTH_VALID },   /* 59:59.999 */
        { 60 * MIN_MS, false, false, false, AUTH_EXPIRED },     /* 60:00.000 */
        { 60 * MIN_MS + 1, false, false, false, AUTH_EXPIRED },
        { 48 * 60 * MIN_MS, false, false, false, AUTH_EXPIRED },
        { -5000, false, false, false, AUTH_VALID },              /* clock stepped back */
    };
    run_states(c, sizeof c / sizeof c[0]);
}

/* Consumed first, then cancelled, superseded, expired. */
static void rule_state_precedence(void **state)
{
    (void)state;
    static const struct scase c[] = {
        { 0, true, false, false, AUTH_CONSUMED },
        { 0, false, true, false, AUTH_CANCELLED },
        { 0, false, false, true, AUTH_SUPERSEDED },
        { 60 * MIN_MS, true, false, false, AUTH_CONSUMED },   /* consumed even when expired */
        { 0, true, true, true, AUTH_CONSUMED },
        { 60 * MIN_MS, true, true, true, AUTH_CONSUMED },
        { 0, false, true, true, AUTH_CANCELLED },
        { 60 * MIN_MS, false, true, false, AUTH_CANCELLED },
        { 60 * MIN_MS, false, true, true, AUTH_CANCELLED },
        { 60 * MIN_MS, false, false, true, AUTH_SUPERSEDED },
        { 60 * MIN_MS - 1, false, false, true, AUTH_SUPERSEDED },
    };
    run_states(c, sizeof c / sizeof c[0]);
}

/* VALID is usable; CONSUMED → 403 INVALID_OPERATION; the others → 404 NOT_FOUND. */
static void rule_errors_per_state(void **state)
{
    (void)state;
    static const struct {
        enum auth_state s;
        int status;
        const char *code, *msg;
    } c[] = {
        { AUTH_VALID, 0, "", "" },
        { AUTH_CONSUMED, 403, "INVALID_OPERATION", "Authorization token already consumed" },
        { AUTH_EXPIRED, 404, "NOT_FOUND", "Invalid authorization token" },
        { AUTH_CANCELLED, 404, "NOT_FOUND", "Invalid authorization token" },
        { AUTH_SUPERSEDED, 404, "NOT_FOUND", "Invalid authorization token" },
        { (enum auth_state)99, 404, "NOT_FOUND", "Invalid authorization token" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct kerr err;
        kerr_clear(&err);
        int rc = auth_usable(c[i].s, &err);
        assert_int_equal(rc, c[i].status ? -1 : 0);
        assert_int_equal(err.status, c[i].status);
        assert_string_equal(err.code, c[i].code);
        assert_string_equal(err.msg, c[i].msg);
        assert_string_equal(err.path, "");
        assert_int_equal(auth_usable(c[i].s, NULL), rc); /* NULL err is allowed */
    }
}

/* End to end: a token issued at T0, checked over its life. */
static void rule_state_then_error(void **state)
{
    (void)state;
    struct auth_facts f = { .issued_at_ms = T0 };
    struct kerr err;
    assert_int_equal(auth_usable(auth_state_at(&f, auth_expires_at(T0) - 1), &err), 0);
    assert_int_equal(auth_usable(auth_state_at(&f, auth_expires_at(T0)), &err), -1);
    assert_int_equal(err.status, 404);
    f.consumed = true;
    assert_int_equal(auth_usable(auth_state_at(&f, auth_expires_at(T0)), &err), -1);
    assert_int_equal(err.status, 403);
}

/* The stored marks keep their strings (existing databases, the store's auth_supersede). */
static void rule_marks_are_stored_as_before(void **state)
{
    (void)state;
    static const struct {
        enum auth_mark m;
        const char *name;
    } c[] = {
        { AUTH_MARK_ACTIVE, "active" },
        { AUTH_MARK_CONSUMED, "consumed" },
        { AUTH_MARK_CANCELLED, "cancelled" },
        { AUTH_MARK_SUPERSEDED, "superseded" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        assert_string_equal(auth_mark_name(c[i].m), c[i].name);
        assert_int_equal(auth_mark_parse(c[i].name), c[i].m);
    }
    assert_int_equal(auth_mark_parse("whatever"), AUTH_MARK_ACTIVE);
    assert_int_equal(auth_mark_parse(NULL), AUTH_MARK_ACTIVE);
    assert_string_equal(auth_mark_name((enum auth_mark)99), "active");
}

/* A stored mark and issue time read as the facts would. */
static void rule_state_of_stored(void **state)
{
    (void)state;
    assert_int_equal(auth_state_of("active", T0, T0), AUTH_VALID);
    assert_int_equal(auth_state_of("active", T0, auth_expires_at(T0)), AUTH_EXPIRED);
    assert_int_equal(auth_state_of("consumed", T0, auth_expires_at(T0)), AUTH_CONSUMED);
    assert_int_equal(auth_state_of("cancelled", T0, T0), AUTH_CANCELLED);
    assert_int_equal(auth_state_of("superseded", T0, T0), AUTH_SUPERSEDED);
}

/* Cancel: only a valid token; customer token: valid or consumed; tokenize consumes. */
static void rule_cancel_and_tokenize(void **state)
{
    (void)state;
    struct kerr err;
    assert_int_equal(auth_cancellable(AUTH_VALID, &err), 0);
    kerr_clear(&err);
    assert_int_equal(auth_cancellable(AUTH_CONSUMED, &err), -1);
    assert_int_equal(err.status, 404);
    assert_string_equal(err.msg, "Authorization cannot be deleted");
    for (enum auth_state s = AUTH_EXPIRED; s <= AUTH_SUPERSEDED; s++) {
        kerr_clear(&err);
        assert_int_equal(auth_cancellable(s, &err), -1);
        assert_string_equal(err.msg, "Invalid authorization token");
    }
    assert_int_equal(auth_tokenizable(AUTH_VALID, NULL), 0);
    assert_int_equal(auth_tokenizable(AUTH_CONSUMED, NULL), 0);
    for (enum auth_state s = AUTH_EXPIRED; s <= AUTH_SUPERSEDED; s++) {
        kerr_clear(&err);
        assert_int_equal(auth_tokenizable(s, &err), -1);
        assert_int_equal(err.status, 404);
        assert_string_equal(err.msg, "Invalid authorization token");
    }
    assert_int_equal(auth_mark_after_tokenize(AUTH_MARK_ACTIVE, true), AUTH_MARK_CONSUMED);
    assert_int_equal(auth_mark_after_tokenize(AUTH_MARK_ACTIVE, false), AUTH_MARK_ACTIVE);
    assert_int_equal(auth_mark_after_tokenize(AUTH_MARK_CONSUMED, false), AUTH_MARK_CONSUMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_lifetime_is_60_minutes),
        cmocka_unit_test(rule_expiry_boundary),
        cmocka_unit_test(rule_state_precedence),
        cmocka_unit_test(rule_errors_per_state),
        cmocka_unit_test(rule_state_then_error),
        cmocka_unit_test(rule_marks_are_stored_as_before),
        cmocka_unit_test(rule_state_of_stored),
        cmocka_unit_test(rule_cancel_and_tokenize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
