/* test_decision: the playground decision engine (core/decision): e-mail tags and their
 * precedence, case-insensitive tags, pending reviews, reject reasons, the one-time code, the
 * input checks with their exact error paths, and decision_shows_form. Table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/decision.h"

struct dcase {
    const char *email;
    const char *otp;
    bool signup_done;
    enum decision_outcome outcome;
    enum fraud_status fraud;
    bool pending_accept;
    int minutes;
    const char *reason;
};

static void run_cases(const struct dcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct decision_input in = { .email = c[i].email, .otp = c[i].otp,
                                     .signup_done = c[i].signup_done };
        struct decision d;
        struct kerr err;
        kerr_clear(&err);
        if (decision_make(&in, &d, &err) != 0)
            fail_msg("case %zu (%s): unexpected error \"%s\"", i, c[i].email, err.msg);
        if (d.outcome != c[i].outcome)
            fail_msg("case %zu (%s otp %s): outcome %d, expected %d", i, c[i].email,
                     c[i].otp ? c[i].otp : "-", (int)d.outcome, (int)c[i].outcome);
        if (d.fraud_status != c[i].fraud || d.pending_accept != c[i].pending_accept ||
            d.pending_minutes != c[i].minutes)
            fail_msg("case %zu (%s): fraud %d accept %d minutes %d", i, c[i].email,
                     (int)d.fraud_status, (int)d.pending_accept, d.pending_minutes);
        if (strcmp(d.reject_reason, c[i].reason ? c[i].reason : "") != 0)
            fail_msg("case %zu (%s): reason \"%s\"", i, c[i].email, d.reject_reason);
    }
}

#define APPROVED  DECISION_APPROVED, FRAUD_ACCEPTED, false, 0, NULL
#define DENIED    DECISION_DENIED, FRAUD_ACCEPTED, false, 0, NULL
#define NO_FORM   DECISION_NO_FORM, FRAUD_ACCEPTED, false, 0, NULL
#define SIGNUP    DECISION_SIGNUP_NEEDED, FRAUD_ACCEPTED, false, 0, NULL
#define OTP_FAIL  DECISION_OTP_FAILED, FRAUD_ACCEPTED, false, 0, NULL

static void rule_plain_email_approved(void **state)
{
    (void)state;
    static const struct dcase c[] = {
        { "customer@email.se", NULL, false, APPROVED },
        { "customer@email.se", "123456", false, APPROVED },
        { "customer@email.se", "000000", false, APPROVED },
        { "customer+@email.se", NULL, false, APPROVED },          /* empty tag */
        { "customer+unknown@email.se", NULL, false, APPROVED },   /* unknown tag ignored */
        { "customer+new_user@email.se", NULL, false, APPROVED },
        { "customer+auth_id_scan@email.se", NULL, false, APPROVED },
        { "den+ied@email.se", NULL, false, APPROVED },            /* split tag is not denied */
        { "denied@email.se", NULL, false, APPROVED },             /* no '+': no tags */
        { "customer@denied.se", NULL, false, APPROVED },          /* domain is not a tag */
        { "customer+deniedx@email.se", NULL, false, APPROVED },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void rule_denied_tag(void **state)
{
    (void)state;
    static const struct dcase c[] = {
        { "customer+denied@email.se", NULL, false, DENIED },
        { "customer+DENIED@email.de", NULL, false, DENIED },
        { "customer+Denied@email.uk", "123456", false, DENIED },
        { "customer++denied@email.se", NULL, false, DENIED },
        { "customer+x+denied+y@email.se", NULL, false, DENIED },
        { "customer+denied+auth_id_scan@email.se", NULL, false, DENIED },
        { "customer+denied+auth_bank_login@email.fi", NULL, false, DENIED },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void rule_red_no_form(void **state)
{
    (void)state;
    static const struct dcase c[] = {
        { "customer+red@email.us", NULL, false, NO_FORM },
        { "customer+RED@email.us", NULL, false, NO_FORM },
        { "customer+red+pend-accept-05@email.us", NULL, false, NO_FORM },
        { "customer+require_signup+red@email.us", NULL, false, NO_FORM },
        { "customer+reddish@email.us", NULL, false, APPROVED },
    };
    run_cases(c, sizeof c / sizeof c[0]);
    assert_false(decision_shows_form("customer+red@email.us"));
    assert_false(decision_shows_form("customer+Red@email.us"));
    assert_false(decision_shows_form("customer+denied+red@email.us"));
    assert_true(decision_shows_form("customer@email.us"));
    assert_true(decision_shows_form("customer+denied@email.us"));
    assert_true(decision_shows_form("red@email.us"));
    assert_true(decision_shows_form(NULL));
    /* Never fails: malformed e-mails show the form, authorize reports them. */
    assert_true(decision_shows_form("not an email"));
    assert_false(decision_shows_form("no-at+red"));
    assert_true(decision_shows_form(""));
}

static void rule_require_signup(void **state)
{
    (void)state;
    static const struct dcase c[] = {
        { "customer+require_signup@email.us", NULL, false, SIGNUP },
        { "email+REQUIRE_SIGNUP@example.com", NULL, false, SIGNUP },
        { "customer+require_signup@email.us", NULL, true, APPROVED },
        { "customer+require_signup@email.us", "999999", false, OTP_FAIL },
        { "customer+require_signup+pend-reject-10@email.us", NULL, false, SIGNUP },
        { "customer+require_signup+pend-reject-10@email.us", NULL, true,
          DECISION_APPROVED, FRAUD_PENDING, false, 10, NULL },
        { "customer@email.us", NULL, true, APPROVED }, /* signup_done alone changes nothing */
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void rule_pending(void **state)
{
    (void)state;
    static const struct dcase c[] = {
        { "customer+pend-accept-05@email.us", NULL, false,
          DECISION_APPROVED, FRAUD_PENDING, true, 5, NULL },
        { "customer+pend-reject-99@email.us", NULL, false,
          DECISION_APPROVED, FRAUD_PENDING, false, 99, NULL },
        { "customer+pend-accept-00@email.uk", "123456", false,
          DECISION_APPROVED, FRAUD_PENDING, true, 0, NULL },
        { "customer+PEND-Accept-42@email.us", NULL, false,
          DECISION_APPROVED, FRAUD_PENDING, true, 42, NULL },
        /* the first valid one counts */
        { "customer+pend-reject-07+pend-accept-08@email.us", NULL, false,
          DECISION_APPROVED, FRAUD_PENDING, false, 7, NULL },
        { "customer+pend-accept-5+pend-reject-06@email.us", NULL, false,
          DECISION_APPROVED, FRAUD_PENDING, false, 6, NULL },
        /* bad NN: the tag is ignored */
        { "customer+pend-accept-5@email.us", NULL, false, APPROVED },
        { "customer+pend-accept-005@email.us", NULL, false, APPROVED },
        { "customer+pend-accept-@email.us", NULL, false, APPROVED },
        { "customer+pend-accept-a5@email.us", NULL, false, APPROVED },
        { "customer+pend-accept-5a@email.us", NULL, false, APPROVED },
        { "customer+pend-maybe-05@email.us", NULL, false, APPROVED },
        { "customer+pend-accept05@email.us", NULL, false, APPROVED },
        /* pending only reported on approval */
        { "customer+pend-accept-05+denied@email.us", NULL, false, DENIED },
        { "customer+pend-accept-05@email.us", "999999", false, OTP_FAIL },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void rule_reject_reason(void **state)
{
    (void)state;
    static const struct dcase c[] = {
        { "customer+reject_reason_high_risk@email.us", NULL, false,
          DECISION_DENIED, FRAUD_ACCEPTED, false, 0, "high_risk" },
        { "email+reject_reason_UNDER_AGE@email.com", NULL, false,
          DECISION_DENIED, FRAUD_ACCEPTED, false, 0, "under_age" },
        { "customer+REJECT_REASON_Denied@email.us", NULL, false,
          DECISION_DENIED, FRAUD_ACCEPTED, false, 0, "denied" },
        { "cust+reject_reason_customer_not_fulfilling_previous_engagements@email.us", NULL,
          false, DECISION_DENIED, FRAUD_ACCEPTED, false, 0,
          "customer_not_fulfilling_previous_engagements" },
        { "customer+denied+reject_reason_other@email.us", NULL, false,
          DECISION_DENIED, FRAUD_ACCEPTED, false, 0, "other" },
        { "customer+red+reject_reason_other@email.us", NULL, false,
          DECISION_DENIED, FRAUD_ACCEPTED, false, 0, "other" },
        { "customer+reject_reason_a+reject_reason_b@email.us", NULL, false,
          DECISION_DENIED, FRAUD_ACCEPTED, false, 0, "a" },
        { "customer+reject_reason_@email.us", NULL, false, APPROVED }, /* empty: ignored */
        { "customer+reject_reason@email.us", NULL, false, APPROVED },
        /* 63 characters fit, 64 do not (ignored) */
        { "c+reject_reason_"
          "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk@e.us",
          NULL, false, DECISION_DENIED, FRAUD_ACCEPTED, false, 0,
          "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk" },
        { "c+reject_reason_"
          "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl@e.us",
          NULL, false, APPROVED },
        { "customer+reject_reason_x@email.us", "999999", false, OTP_FAIL },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

/* Several tags: denied / reject_reason > red > require_signup > pend. */
static void rule_tag_precedence(void **state)
{
    (void)state;
    static const struct dcase c[] = {
        { "customer+red+denied@email.se", NULL, false, DENIED },
        { "customer+denied+red@email.se", NULL, false, DENIED },
        { "customer+require_signup+denied@email.us", NULL, false, DENIED },
        { "customer+require_signup+denied@email.us", NULL, true, DENIED },
        { "customer+red+require_signup@email.us", NULL, true, NO_FORM },
        { "customer+pend-accept-05+require_signup@email.us", NULL, false, SIGNUP },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

/* The code is asked before the decision: 999999 fails whatever the e-mail says. */
static void rule_otp_first(void **state)
{
    (void)state;
    static const struct dcase c[] = {
        { "customer@email.se", "999999", false, OTP_FAIL },
        { "customer+denied@email.se", "999999", false, OTP_FAIL },
        { "customer+red@email.se", "999999", false, OTP_FAIL },
        { "customer+denied@email.se", "999998", false, DENIED },
        { "customer@email.se", "099999", false, APPROVED },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

struct bad {
    const char *email, *phone, *otp;
    const char *path; /* NULL: valid */
};

static void run_bad(const struct bad *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct decision_input in = { .email = c[i].email, .phone = c[i].phone,
                                     .otp = c[i].otp };
        struct decision d;
        struct kerr err;
        kerr_clear(&err);
        int rc = decision_make(&in, &d, &err);
        if (!c[i].path) {
            if (rc != 0)
                fail_msg("case %zu: unexpected error \"%s\"", i, err.msg);
            continue;
        }
        if (rc != -1)
            fail_msg("case %zu (%s/%s/%s): expected bad value %s", i, c[i].email,
                     c[i].phone ? c[i].phone : "-", c[i].otp ? c[i].otp : "-", c[i].path);
        char msg[300];
        snprintf(msg, sizeof msg, "Bad value: %s", c[i].path);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.code, "BAD_VALUE");
        assert_string_equal(err.path, c[i].path);
        assert_string_equal(err.msg, msg);
    }
}

static void rule_otp_format(void **state)
{
    (void)state;
    static const struct bad c[] = {
        { "customer@email.se", NULL, NULL, NULL },      /* headless: no code step */
        { "customer@email.se", NULL, "123456", NULL },
        { "customer@email.se", NULL, "", "otp" },
        { "customer@email.se", NULL, "12345", "otp" },
        { "customer@email.se", NULL, "1234567", "otp" },
        { "customer@email.se", NULL, "12345a", "otp" },
        { "customer@email.se", NULL, " 123456", "otp" },
        { "customer@email.se", NULL, "123456 ", "otp" },
        { "customer@email.se", NULL, "12 456", "otp" },
        { "customer@email.se", NULL, "-12345", "otp" },
        { "customer@email.se", NULL, "\xd9\xa1\xd9\xa2\xd9\xa3", "otp" }, /* Arabic digits */
        { "customer@email.se", NULL, "99999", "otp" },
        { "customer@email.se", NULL, "9999999", "otp" },
        /* a bad code never gets as far as the tags */
        { "customer+denied@email.se", NULL, "abc", "otp" },
    };
    run_bad(c, sizeof c / sizeof c[0]);
}

static void rule_email_format(void **state)
{
    (void)state;
    /* 99 characters is the limit: 90 + "@email.se" = 99 */
    char at99[128], at100[128], utf99[256];
    memset(at99, 'a', 90);
    snprintf(at99 + 90, sizeof at99 - 90, "@email.se");
    memset(at100, 'a', 91);
    snprintf(at100 + 91, sizeof at100 - 91, "@email.se");
    /* 90 two-byte characters + 9 = 99 code points, 189 bytes: valid */
    size_t k = 0;
    for (int i = 0; i < 90; i++) {
        utf99[k++] = (char)0xc3;
        utf99[k++] = (char)0xa5; /* å */
    }
    snprintf(utf99 + k, sizeof utf99 - k, "@email.se");
    const struct bad c[] = {
        { "customer@email.se", NULL, NULL, NULL },
        { "a@b", NULL, NULL, NULL },
        { at99, NULL, NULL, NULL },
        { utf99, NULL, NULL, NULL },
        { "kund.\xc3\xa5@email.se", NULL, NULL, NULL },
        { at100, NULL, NULL, "billing_address.email" },
        { NULL, NULL, NULL, "billing_address.email" },
        { "", NULL, NULL, "billing_address.email" },
        { "customer", NULL, NULL, "billing_address.email" },
        { "@email.se", NULL, NULL, "billing_address.email" },
        { "customer@", NULL, NULL, "billing_address.email" },
        { "@", NULL, NULL, "billing_address.email" },
        { "a@b@c", NULL, NULL, "billing_address.email" },
        { "cust omer@email.se", NULL, NULL, "billing_address.email" },
        { " customer@email.se", NULL, NULL, "billing_address.email" },
        { "customer@email.se\n", NULL, NULL, "billing_address.email" },
        { "cust\tomer@email.se", NULL, NULL, "billing_address.email" },
        { "cust\x7fomer@email.se", NULL, NULL, "billing_address.email" },
        { "cust\x01omer@email.se", NULL, NULL, "billing_address.email" },
        /* the e-mail is checked before the code and the phone */
        { "bad", "x", "x", "billing_address.email" },
    };
    run_bad(c, sizeof c / sizeof c[0]);
}

static void rule_phone_format(void **state)
{
    (void)state;
    char p99[128], p100[128];
    memset(p99, '1', 99);
    p99[99] = '\0';
    memset(p100, '1', 100);
    p100[100] = '\0';
    const struct bad c[] = {
        { "customer@email.se", "+46 (0)70-123 45 67", NULL, NULL },
        { "customer@email.se", "12345", NULL, NULL },
        { "customer@email.se", "+4612", NULL, NULL },
        { "customer@email.se", p99, NULL, NULL },
        { "customer@email.se", p100, NULL, "billing_address.phone" },
        { "customer@email.se", "1234", NULL, "billing_address.phone" },
        { "customer@email.se", "", NULL, "billing_address.phone" },
        { "customer@email.se", "+++++", NULL, "billing_address.phone" },
        { "customer@email.se", "(- -)", NULL, "billing_address.phone" },
        { "customer@email.se", "0701234567x", NULL, "billing_address.phone" },
        { "customer@email.se", "070.123.45", NULL, "billing_address.phone" },
        { "customer@email.se", "070\t12345", NULL, "billing_address.phone" },
        /* phone before code */
        { "customer@email.se", "1", "1", "billing_address.phone" },
    };
    run_bad(c, sizeof c / sizeof c[0]);
}

/* Output is fully reset on every call, also after an error. */
static void rule_output_reset(void **state)
{
    (void)state;
    struct decision d;
    memset(&d, 0x5a, sizeof d);
    struct decision_input in = { .email = "customer@email.se" };
    assert_int_equal(decision_make(&in, &d, NULL), 0);
    assert_int_equal(d.outcome, DECISION_APPROVED);
    assert_int_equal(d.fraud_status, FRAUD_ACCEPTED);
    assert_false(d.pending_accept);
    assert_int_equal(d.pending_minutes, 0);
    assert_string_equal(d.reject_reason, "");
    in.email = "bad";
    assert_int_equal(decision_make(&in, &d, NULL), -1); /* NULL err is allowed */
    struct kerr err;
    assert_int_equal(decision_make(NULL, &d, &err), -1);
    assert_int_equal(err.status, 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_plain_email_approved),
        cmocka_unit_test(rule_denied_tag),
        cmocka_unit_test(rule_red_no_form),
        cmocka_unit_test(rule_require_signup),
        cmocka_unit_test(rule_pending),
        cmocka_unit_test(rule_reject_reason),
        cmocka_unit_test(rule_tag_precedence),
        cmocka_unit_test(rule_otp_first),
        cmocka_unit_test(rule_otp_format),
        cmocka_unit_test(rule_email_format),
        cmocka_unit_test(rule_phone_format),
        cmocka_unit_test(rule_output_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
