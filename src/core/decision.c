/* decision: the playground decision engine (contract 6.3, 7.1). Owns the checks of the
 * shopper input the decision needs (e-mail, phone, one-time code) and the mapping from the
 * e-mail's tags and the code to an outcome. Pure: no clock, no I/O, no allocation.
 *
 * Tags are the '+'-separated parts of the e-mail's local part after its first '+'
 * ("customer+denied+red@email.se" has "denied" and "red"), compared case-insensitively.
 * Empty and unknown tags are ignored ("customer++denied" is denied; "+auth_id_scan" is ignored).
 *
 * Decisions where the contract is silent (all [INF]):
 *  - Order of checks: e-mail, phone, code format (each a 400 naming its field), then the code
 *    value, then the tags. Klarna asks for the code before it decides, so 999999 fails the
 *    step whatever the tags say (customer+denied with 999999 is OTP_FAILED, not DENIED).
 *  - Between tags: denied / reject_reason_<x> (DENIED) win over red (NO_FORM), which wins over
 *    require_signup (SIGNUP_NEEDED), which wins over pend-* (approved, PENDING). A hard decline
 *    needs no form and pre-screening happens before sign-up; a pending review follows approval.
 *  - reject_reason_<x>: the first such tag with a non-empty reason of at most 63 bytes sets
 *    reject_reason (lowercased); "reject_reason_" alone or a longer reason is ignored. With
 *    "denied" as well, the outcome is DENIED and the reason is kept.
 *  - pend-accept-NN / pend-reject-NN: exactly two digits; otherwise the tag is ignored
 *    ("pend-accept-5", "pend-accept-005"). The first valid one counts. Pending fields are
 *    only reported on an approval (fraud_status ACCEPTED, minutes 0 on any other outcome).
 *  - E-mail: 1..99 code points (LIMIT_ADDRESS_FIELD), exactly one '@', non-empty local part
 *    and domain, no ASCII whitespace or control characters (bytes < 0x21 and 0x7f). Non-ASCII
 *    is allowed (internationalised addresses). The error path is "billing_address.email",
 *    where Klarna's data carries the e-mail.
 *  - Phone: 5..99 bytes of digits, ' ', '+', '-', '(', ')' with at least one digit
 *    ("+++++" is not a number).
 *  - decision_shows_form() never fails: it looks for the red tag only, so a malformed e-mail
 *    shows the form and authorize reports the bad value. */
#include "core/decision.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/limits.h"

#define OTP_FAIL_CODE "999999"
#define TAG_REJECT_REASON "reject_reason_"
#define PHONE_MIN 5

/* What the tags of one e-mail say, before precedence is applied. */
struct tags {
    bool denied, red, signup;
    bool pending, pending_accept;
    int pending_minutes;
    char reject_reason[64];
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool tag_is(const char *tag, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(tag, word, n) == 0;
}

/* "pend-accept-NN" / "pend-reject-NN", exactly two digits. */
static void parse_pend(const char *tag, size_t n, struct tags *t)
{
    static const char accept[] = "pend-accept-", reject[] = "pend-reject-";
    size_t plen = sizeof accept - 1; /* same length as reject */
    if (t->pending || n != plen + 2 || !is_digit(tag[plen]) || !is_digit(tag[plen + 1]))
        return;
    bool acc = strncasecmp(tag, accept, plen) == 0;
    if (!acc && strncasecmp(tag, reject, plen) != 0)
        return;
    t->pending = true;
    t->pending_accept = acc;
    t->pending_minutes = (tag[plen] - '0') * 10 + (tag[plen + 1] - '0');
}

static void parse_reject_reason(const char *tag, size_t n, struct tags *t)
{
    size_t plen = strlen(TAG_REJECT_REASON);
    if (t->reject_reason[0] || n <= plen || n - plen >= sizeof t->reject_reason ||
        strncasecmp(tag, TAG_REJECT_REASON, plen) != 0)
        return;
    size_t k;
    for (k = 0; k < n - plen; k++)
        t->reject_reason[k] = lower(tag[plen + k]);
    t->reject_reason[k] = '\0';
}

static void parse_tag(const char *tag, size_t n, struct tags *t)
{
    if (tag_is(tag, n, "denied"))
        t->denied = true;
    else if (tag_is(tag, n, "red"))
        t->red = true;
    else if (tag_is(tag, n, "require_signup"))
        t->signup = true;
    else {
        parse_pend(tag, n, t);
        parse_reject_reason(tag, n, t);
    }
}

/* Reads the tags of the local part of email (which need not be valid). */
static void parse_tags(const char *email, struct tags *t)
{
    memset(t, 0, sizeof *t);
    if (!email)
        return;
    const char *at = strchr(email, '@');
    const char *end = at ? at : email + strlen(email);
    const char *p = memchr(email, '+', (size_t)(end - email));
    while (p && p < end) {
        const char *tag = p + 1;
        const char *next = memchr(tag, '+', (size_t)(end - tag));
        const char *tend = next ? next : end;
        if (tend > tag)
            parse_tag(tag, (size_t)(tend - tag), t);
        p = next;
    }
}

static int check_email(const char *email, struct kerr *err)
{
    if (!email)
        return kerr_bad_value(err, "billing_address.email");
    size_t points = 0, ats = 0, at_pos = 0, i;
    for (i = 0; email[i]; i++) {
        unsigned char c = (unsigned char)email[i];
        if (c < 0x21 || c == 0x7f)
            return kerr_bad_value(err, "billing_address.email");
        if ((c & 0xC0) != 0x80)
            points++;
        if (c == '@') {
            ats++;
            at_pos = i;
        }
    }
    if (points == 0 || points > LIMIT_ADDRESS_FIELD || ats != 1 || at_pos == 0 ||
        at_pos + 1 == i)
        return kerr_bad_value(err, "billing_address.email");
    return 0;
}

static int check_phone(const char *phone, struct kerr *err)
{
    if (!phone)
        return 0;
    size_t n = strlen(phone), digits = 0;
    if (n < PHONE_MIN || n > LIMIT_ADDRESS_FIELD)
        return kerr_bad_value(err, "billing_address.phone");
    for (size_t i = 0; i < n; i++) {
        char c = phone[i];
        if (is_digit(c))
            digits++;
        else if (!strchr(" +-()", c))
            return kerr_bad_value(err, "billing_address.phone");
    }
    return digits ? 0 : kerr_bad_value(err, "billing_address.phone");
}

static int check_otp(const char *otp, struct kerr *err)
{
    if (!otp)
        return 0;
    size_t i;
    for (i = 0; otp[i]; i++)
        if (i >= 6 || !is_digit(otp[i]))
            return kerr_bad_value(err, "otp");
    return i == 6 ? 0 : kerr_bad_value(err, "otp");
}

int decision_make(const struct decision_input *in, struct decision *out, struct kerr *err)
{
    if (!in || !out)
        return kerr_internal(err, "decision_make: NULL argument");
    memset(out, 0, sizeof *out);
    out->outcome = DECISION_APPROVED;
    out->fraud_status = FRAUD_ACCEPTED;
    if (check_email(in->email, err) || check_phone(in->phone, err) || check_otp(in->otp, err))
        return -1;
    if (in->otp && strcmp(in->otp, OTP_FAIL_CODE) == 0) {
        out->outcome = DECISION_OTP_FAILED;
        return 0;
    }
    struct tags t;
    parse_tags(in->email, &t);
    snprintf(out->reject_reason, sizeof out->reject_reason, "%s", t.reject_reason);
    if (t.denied || t.reject_reason[0])
        out->outcome = DECISION_DENIED;
    else if (t.red)
        out->outcome = DECISION_NO_FORM;
    else if (t.signup && !in->signup_done)
        out->outcome = DECISION_SIGNUP_NEEDED;
    else if (t.pending) {
        out->fraud_status = FRAUD_PENDING;
        out->pending_accept = t.pending_accept;
        out->pending_minutes = t.pending_minutes;
    }
    return 0;
}

bool decision_shows_form(const char *email)
{
    struct tags t;
    parse_tags(email, &t);
    return !t.red;
}
