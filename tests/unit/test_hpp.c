/* test_hpp: the Hosted Payment Page rules (core/hpp, docs/hpp.md, contract 4). The status
 * machine over every (status, event) pair, expiry at its instant, the create request with every
 * bad field at its exact path and the normalized object it returns, the KP session id in a
 * payment_session_url, the categories the page offers, the merchant_urls placeholders (encoding
 * and the output capacity at its exact boundary), the distribution request, and the texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hpp.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define KP_ID  "0b1d9815-165e-42e2-8867-35bc03789e00"
#define KP_UP  "0B1D9815-165E-42E2-8867-35BC03789E00"
#define PSU    "https://api.playground.klarna.com/payments/v1/sessions/" KP_ID
/* A create body with a valid payment_session_url and `extra` (",\"key\":..." or ""). */
#define BODY(extra) "{\"payment_session_url\":\"" PSU "\"" extra "}"
/* A create body whose options are `opts` (the object's inside). */
#define OPTS(opts)  BODY(",\"options\":{" opts "}")

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (!v)
        fail_msg("bad test JSON: %s (%s)", e.text, text);
    return v;
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Exactly "Bad value: <path>", 400 BAD_VALUE, err->path = path. */
static void assert_bad(const struct kerr *err, const char *path, const char *rule)
{
    char msg[600];
    snprintf(msg, sizeof msg, "Bad value: %s", path);
    if (err->status != 400 || strcmp(err->code, "BAD_VALUE") != 0 ||
        strcmp(err->path, path) != 0 || strcmp(err->msg, msg) != 0)
        fail_msg("%s: got %d %s path \"%s\" \"%s\", expected 400 BAD_VALUE path \"%s\" \"%s\"",
                 rule, err->status, err->code, err->path, err->msg, path, msg);
}

/* The object key's string value, "" when absent or not a string (so string compares work). */
static const char *str_at(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* Creates from body text; the normalized request (caller frees) or a failed test. */
static json_t *create_ok(const char *text, const char *rule)
{
    json_t *body = load(text);
    json_t *copy = json_deep_copy(body);
    struct kerr err;
    kerr_clear(&err);
    json_t *req = hpp_create_request(body, &err);
    bool same = json_equal(body, copy);
    json_decref(body);
    json_decref(copy);
    if (!req)
        fail_msg("%s: refused %d %s \"%s\"", rule, err.status, err.code, err.msg);
    if (!same) {
        json_decref(req);
        fail_msg("%s: the request body was modified", rule);
    }
    return req;
}

/* Creates from body (consumed); expects the refusal at path. */
static void create_bad_json(json_t *body, const char *path, const char *rule)
{
    struct kerr err;
    kerr_clear(&err);
    json_t *req = hpp_create_request(body, &err);
    json_decref(body);
    if (req) {
        char *dump = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        fail_msg("%s: accepted (%s), expected a bad value at %s", rule, dump ? dump : "?", path);
    }
    assert_bad(&err, path, rule);
}

/* The log goes to stderr: tests that provoke a 500 send it to a temporary file and read it
 * back, to check the detail and keep the test output clean. */
struct logcap {
    FILE *tmp;
    int saved;
};

static struct logcap log_begin(void)
{
    struct logcap c;
    fflush(stderr);
    c.tmp = tmpfile();
    assert_non_null(c.tmp);
    c.saved = dup(2);
    assert_true(c.saved >= 0);
    assert_true(dup2(fileno(c.tmp), 2) >= 0);
    return c;
}

static void log_end(struct logcap c, char *log, size_t log_size)
{
    fflush(stderr);
    assert_true(dup2(c.saved, 2) >= 0);
    close(c.saved);
    rewind(c.tmp);
    size_t k = fread(log, 1, log_size - 1, c.tmp);
    log[k] = '\0';
    fclose(c.tmp);
}

/* ---- the status machine -------------------------------------------------------------- */

#define WAIT HPP_WAITING
#define PROG HPP_IN_PROGRESS
#define BACK HPP_BACK
#define FAIL HPP_FAILED
#define ERRS HPP_ERROR
#define DONE HPP_COMPLETED
#define CANC HPP_CANCELLED
#define DISA HPP_DISABLED

static const enum hpp_event all_events[] = {HPP_EV_OPEN,    HPP_EV_BACK,  HPP_EV_CANCEL,
                                            HPP_EV_DECLINE, HPP_EV_ERROR, HPP_EV_COMPLETE,
                                            HPP_EV_DISABLE};
static const char *const event_names[] = {"OPEN",  "BACK",     "CANCEL", "DECLINE",
                                          "ERROR", "COMPLETE", "DISABLE"};

struct tcase {
    enum hpp_status from;
    enum hpp_event ev;
    int status;          /* 0: success with to */
    enum hpp_status to;
    const char *code, *msg;
};

#define GO(f, e, t)        { f, HPP_EV_##e, 0, t, "", "" }
#define GONE(f, e, c, m)   { f, HPP_EV_##e, 410, f, c, m }

#define SC "SESSION_COMPLETED"
#define SX "SESSION_CANCELLED"
#define SD "SESSION_DISABLED"
#define MC "HPP session has already been completed"
#define MX "HPP session was cancelled"
#define MD "HPP session is disabled"

/* Open statuses (WAITING, IN_PROGRESS, BACK, FAILED, ERROR) take every event; the shopper's
 * events on a final status are 410; DISABLE of COMPLETED is 400, of CANCELLED/DISABLED a no-op. */
static const struct tcase transitions[] = {
    GO(WAIT, OPEN, PROG), GO(WAIT, BACK, BACK), GO(WAIT, CANCEL, CANC), GO(WAIT, DECLINE, FAIL),
    GO(WAIT, ERROR, ERRS), GO(WAIT, COMPLETE, DONE), GO(WAIT, DISABLE, DISA),

    GO(PROG, OPEN, PROG), GO(PROG, BACK, BACK), GO(PROG, CANCEL, CANC), GO(PROG, DECLINE, FAIL),
    GO(PROG, ERROR, ERRS), GO(PROG, COMPLETE, DONE), GO(PROG, DISABLE, DISA),

    GO(BACK, OPEN, PROG), GO(BACK, BACK, BACK), GO(BACK, CANCEL, CANC), GO(BACK, DECLINE, FAIL),
    GO(BACK, ERROR, ERRS), GO(BACK, COMPLETE, DONE), GO(BACK, DISABLE, DISA),

    GO(FAIL, OPEN, PROG), GO(FAIL, BACK, BACK), GO(FAIL, CANCEL, CANC), GO(FAIL, DECLINE, FAIL),
    GO(FAIL, ERROR, ERRS), GO(FAIL, COMPLETE, DONE), GO(FAIL, DISABLE, DISA),

    GO(ERRS, OPEN, PROG), GO(ERRS, BACK, BACK), GO(ERRS, CANCEL, CANC), GO(ERRS, DECLINE, FAIL),
    GO(ERRS, ERROR, ERRS), GO(ERRS, COMPLETE, DONE), GO(ERRS, DISABLE, DISA),

    GONE(DONE, OPEN, SC, MC), GONE(DONE, BACK, SC, MC), GONE(DONE, CANCEL, SC, MC),
    GONE(DONE, DECLINE, SC, MC), GONE(DONE, ERROR, SC, MC), GONE(DONE, COMPLETE, SC, MC),
    {DONE, HPP_EV_DISABLE, 400, DONE, "BAD_VALUE",
     "HPP session has already been successfully completed"},

    GONE(CANC, OPEN, SX, MX), GONE(CANC, BACK, SX, MX), GONE(CANC, CANCEL, SX, MX),
    GONE(CANC, DECLINE, SX, MX), GONE(CANC, ERROR, SX, MX), GONE(CANC, COMPLETE, SX, MX),
    GO(CANC, DISABLE, CANC),

    GONE(DISA, OPEN, SD, MD), GONE(DISA, BACK, SD, MD), GONE(DISA, CANCEL, SD, MD),
    GONE(DISA, DECLINE, SD, MD), GONE(DISA, ERROR, SD, MD), GONE(DISA, COMPLETE, SD, MD),
    GO(DISA, DISABLE, DISA),
};

static void rule_next_every_status_event_pair(void **state)
{
    (void)state;
    bool seen[HPP_STATUS_COUNT][N(all_events)] = {{false}};
    for (size_t i = 0; i < N(transitions); i++) {
        const struct tcase *c = &transitions[i];
        const char *from = hpp_status_name(c->from), *ev = event_names[c->ev];
        if (seen[c->from][c->ev])
            fail_msg("table row %zu repeats %s + %s", i, from, ev);
        seen[c->from][c->ev] = true;
        enum hpp_status to = (enum hpp_status)99;
        struct kerr err;
        kerr_clear(&err);
        int rc = hpp_next(c->from, c->ev, &to, &err);
        if (c->status == 0) {
            if (rc != 0)
                fail_msg("%s + %s: refused %d %s \"%s\", expected %s", from, ev, err.status,
                         err.code, err.msg, hpp_status_name(c->to));
            if (to != c->to)
                fail_msg("%s + %s: got %s, expected %s", from, ev, hpp_status_name(to),
                         hpp_status_name(c->to));
            continue;
        }
        if (rc != -1)
            fail_msg("%s + %s: accepted (%s), expected %d %s", from, ev, hpp_status_name(to),
                     c->status, c->code);
        if (err.status != c->status || strcmp(err.code, c->code) != 0 ||
            strcmp(err.msg, c->msg) != 0)
            fail_msg("%s + %s: got %d %s \"%s\", expected %d %s \"%s\"", from, ev, err.status,
                     err.code, err.msg, c->status, c->code, c->msg);
        assert_string_equal(err.path, "");
        if (to != (enum hpp_status)99)
            fail_msg("%s + %s: a refusal wrote *to", from, ev);
    }
    /* exhaustive: every pair is in the table */
    for (int s = 0; s < HPP_STATUS_COUNT; s++)
        for (size_t e = 0; e < N(all_events); e++)
            if (!seen[s][e])
                fail_msg("no table row for %s + %s", hpp_status_name((enum hpp_status)s),
                         event_names[e]);
}

/* From a final status, every sequence of events either is refused or leaves it unchanged. */
static void rule_next_final_statuses_stay_final(void **state)
{
    (void)state;
    const enum hpp_status finals[] = {DONE, CANC, DISA};
    for (size_t f = 0; f < N(finals); f++) {
        enum hpp_status cur = finals[f];
        /* every ordered pair of events, applied one after the other */
        for (size_t a = 0; a < N(all_events); a++)
            for (size_t b = 0; b < N(all_events); b++) {
                enum hpp_event seq[2] = {all_events[a], all_events[b]};
                for (int k = 0; k < 2; k++) {
                    enum hpp_status to = cur;
                    struct kerr err;
                    kerr_clear(&err);
                    if (hpp_next(cur, seq[k], &to, &err) == 0 && to != cur)
                        fail_msg("%s + %s left the final status for %s", hpp_status_name(cur),
                                 event_names[seq[k]], hpp_status_name(to));
                    assert_int_equal(to, cur);
                }
            }
        assert_true(hpp_status_final(cur));
    }
    const enum hpp_status open[] = {WAIT, PROG, BACK, FAIL, ERRS};
    for (size_t i = 0; i < N(open); i++)
        assert_false(hpp_status_final(open[i]));
}

/* A status outside the enum is a programming error: 500, with the detail in the log only. */
static void rule_next_unknown_status_is_internal(void **state)
{
    (void)state;
    enum hpp_status to = WAIT;
    struct kerr err;
    kerr_clear(&err);
    char log[1024];
    struct logcap c = log_begin();
    int rc = hpp_next(HPP_STATUS_COUNT, HPP_EV_OPEN, &to, &err);
    log_end(c, log, sizeof log);
    assert_int_equal(rc, -1);
    assert_int_equal(err.status, 500);
    assert_string_equal(err.code, "INTERNAL_SERVER_ERROR");
    assert_string_equal(err.msg, "Internal error");
    assert_non_null(strstr(log, "hpp: unknown status"));
    assert_int_equal(to, WAIT);
}

static void rule_status_names_round_trip(void **state)
{
    (void)state;
    static const char *const names[HPP_STATUS_COUNT] = {
        "WAITING", "IN_PROGRESS", "BACK", "FAILED", "ERROR", "COMPLETED", "CANCELLED", "DISABLED",
    };
    for (int i = 0; i < HPP_STATUS_COUNT; i++) {
        enum hpp_status s = (enum hpp_status)((i + 1) % HPP_STATUS_COUNT);
        assert_string_equal(hpp_status_name((enum hpp_status)i), names[i]);
        assert_int_equal(hpp_status_parse(names[i], &s), 0);
        assert_int_equal(s, i);
        assert_int_equal(hpp_status_parse(hpp_status_name(s), &s), 0);
        assert_int_equal(s, i);
    }
    /* names are exact: the stored spelling only */
    static const char *const not_names[] = {"waiting", "Completed", "", "MANUAL_ID_CHECK",
                                            "TIMEOUT", "IN PROGRESS", "DISABLED "};
    for (size_t i = 0; i < N(not_names); i++) {
        enum hpp_status s = PROG;
        if (hpp_status_parse(not_names[i], &s) != -1)
            fail_msg("\"%s\" parsed as a status", not_names[i]);
        assert_int_equal(s, PROG);
    }
    enum hpp_status s = PROG;
    assert_int_equal(hpp_status_parse(NULL, &s), -1);
    assert_int_equal(s, PROG);
}

static void rule_expired_from_expires_at(void **state)
{
    (void)state;
    const int64_t exp = 1700000000000LL;
    static const struct {
        enum hpp_status s;
        int64_t now_delta;
        bool expired;
    } cases[] = {
        {WAIT, -1, false}, {WAIT, 0, true}, {WAIT, 1, true},
        {PROG, -1, false}, {PROG, 0, true}, {PROG, 3600000, true},
        {BACK, -1, false}, {BACK, 0, true},
        {FAIL, -1, false}, {FAIL, 0, true},
        {ERRS, -1, false}, {ERRS, 0, true},
        /* final statuses never expire */
        {DONE, -1, false}, {DONE, 0, false}, {DONE, 86400000, false},
        {CANC, 0, false},  {CANC, 86400000, false},
        {DISA, 0, false},  {DISA, 86400000, false},
    };
    for (size_t i = 0; i < N(cases); i++)
        if (hpp_expired(cases[i].s, exp, exp + cases[i].now_delta) != cases[i].expired)
            fail_msg("%s at expires_at%+lld ms: expected %s", hpp_status_name(cases[i].s),
                     (long long)cases[i].now_delta,
                     cases[i].expired ? "expired" : "not expired");
}

/* ---- the create request -------------------------------------------------------------- */

static void rule_create_minimal_body_gets_defaults(void **state)
{
    (void)state;
    json_t *req = create_ok(BODY(""), "minimal");
    assert_string_equal(str_at(req, "payment_session_url"), PSU);
    assert_string_equal(str_at(req, "kp_session_id"), KP_ID);
    const json_t *o = json_object_get(req, "options");
    assert_true(json_is_object(o));
    assert_string_equal(str_at(o, "place_order_mode"), "NONE");
    assert_string_equal(str_at(o, "purchase_type"), "BUY");
    assert_true(json_is_false(json_object_get(o, "payment_fallback")));
    assert_int_equal(json_object_size(o), 3);
    assert_null(json_object_get(req, "merchant_urls"));
    assert_null(json_object_get(req, "profile_id"));
    assert_int_equal(json_object_size(req), 3);
    assert_int_equal(hpp_mode_of(req), HPP_MODE_NONE);
    json_decref(req);

    /* empty options and nulls: the same defaults */
    req = create_ok(BODY(",\"options\":{\"place_order_mode\":null,\"purchase_type\":null},"
                         "\"merchant_urls\":null,\"profile_id\":null"),
                    "nulls");
    o = json_object_get(req, "options");
    assert_string_equal(str_at(o, "place_order_mode"), "NONE");
    assert_string_equal(str_at(o, "purchase_type"), "BUY");
    assert_true(json_is_false(json_object_get(o, "payment_fallback")));
    assert_null(json_object_get(req, "merchant_urls"));
    json_decref(req);
}

static void rule_create_full_body_normalized(void **state)
{
    (void)state;
    static const char *full =
        "{\"payment_session_url\":\"https://api.klarna.com/payments/v1/sessions/" KP_UP "\","
        "\"merchant_urls\":{\"success\":\"https://shop.example/ok?sid={{session_id}}"
        "&token={{authorization_token}}\",\"cancel\":\"https://shop.example/cancel\","
        "\"back\":\"https://shop.example/back\",\"failure\":\"https://shop.example/fail\","
        "\"error\":\"http://localhost:8080/error\",\"status_update\":\"https://shop.example/cb\","
        "\"privacy_policy\":\"https://shop.example/privacy\","
        "\"terms\":\"https://shop.example/terms\",\"unknown_url\":\"https://x\"},"
        "\"options\":{\"place_order_mode\":\"capture_order\",\"purchase_type\":\"subscribe\","
        "\"payment_method_categories\":[\"PAY_LATER\",\"pay_over_time\",\"Direct_Debit\"],"
        "\"payment_fallback\":true,\"page_title\":\"Pay at Shop\","
        "\"logo_url\":\"https://shop.example/logo.png\",\"background_images\":["
        "{\"url\":\"https://shop.example/bg-1200.jpg\",\"width\":1200,\"extra\":1},"
        "{\"url\":\"https://shop.example/bg.jpg\"}],\"show_subtotal_detail\":\"hide\","
        "\"colour\":\"red\"},"
        "\"profile_id\":\"1b9f0a8e-5b1e-4c52-9f5c-2d7f9a1e6c01\",\"extra\":{\"a\":1}}";
    json_t *req = create_ok(full, "full");
    assert_string_equal(str_at(req, "kp_session_id"), KP_ID);   /* lowercased */
    assert_string_equal(str_at(req, "profile_id"), "1b9f0a8e-5b1e-4c52-9f5c-2d7f9a1e6c01");
    assert_null(json_object_get(req, "extra"));
    assert_int_equal(json_object_size(req), 5);

    const json_t *mu = json_object_get(req, "merchant_urls");
    assert_string_equal(str_at(mu, "success"),
                        "https://shop.example/ok?sid={{session_id}}&token={{authorization_token}}");
    assert_string_equal(str_at(mu, "error"), "http://localhost:8080/error");
    assert_string_equal(str_at(mu, "status_update"), "https://shop.example/cb");
    assert_null(json_object_get(mu, "unknown_url"));

    const json_t *o = json_object_get(req, "options");
    assert_string_equal(str_at(o, "place_order_mode"), "CAPTURE_ORDER");
    assert_string_equal(str_at(o, "purchase_type"), "SUBSCRIBE");
    assert_string_equal(str_at(o, "show_subtotal_detail"), "HIDE");
    assert_true(json_is_true(json_object_get(o, "payment_fallback")));
    assert_string_equal(str_at(o, "page_title"), "Pay at Shop");
    assert_string_equal(str_at(o, "logo_url"), "https://shop.example/logo.png");
    assert_null(json_object_get(o, "colour"));
    const json_t *cats = json_object_get(o, "payment_method_categories");
    assert_int_equal(json_array_size(cats), 3);
    assert_string_equal(json_string_value(json_array_get(cats, 0)), "pay_later");
    assert_string_equal(json_string_value(json_array_get(cats, 1)), "pay_over_time");
    assert_string_equal(json_string_value(json_array_get(cats, 2)), "direct_debit");
    const json_t *bg = json_object_get(o, "background_images");
    assert_int_equal(json_array_size(bg), 2);
    assert_null(json_object_get(json_array_get(bg, 0), "extra"));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(bg, 0), "width")), 1200);
    assert_int_equal(hpp_mode_of(req), HPP_MODE_CAPTURE_ORDER);
    json_decref(req);
}

/* Enums are accepted in any case and stored in the contract's (uppercase) spelling. */
static void rule_create_enums_any_case_stored_uppercase(void **state)
{
    (void)state;
    static const struct {
        const char *body, *key, *want;
        enum hpp_mode mode;
    } cases[] = {
        {OPTS("\"place_order_mode\":\"none\""), "place_order_mode", "NONE", HPP_MODE_NONE},
        {OPTS("\"place_order_mode\":\"Place_Order\""), "place_order_mode", "PLACE_ORDER",
         HPP_MODE_PLACE_ORDER},
        {OPTS("\"place_order_mode\":\"CAPTURE_ORDER\""), "place_order_mode", "CAPTURE_ORDER",
         HPP_MODE_CAPTURE_ORDER},
        {OPTS("\"purchase_type\":\"buy\""), "purchase_type", "BUY", HPP_MODE_NONE},
        {OPTS("\"purchase_type\":\"rent\""), "purchase_type", "RENT", HPP_MODE_NONE},
        {OPTS("\"purchase_type\":\"Book\""), "purchase_type", "BOOK", HPP_MODE_NONE},
        {OPTS("\"purchase_type\":\"SUBSCRIBE\""), "purchase_type", "SUBSCRIBE", HPP_MODE_NONE},
        {OPTS("\"purchase_type\":\"download\""), "purchase_type", "DOWNLOAD", HPP_MODE_NONE},
        {OPTS("\"purchase_type\":\"order\""), "purchase_type", "ORDER", HPP_MODE_NONE},
        {OPTS("\"purchase_type\":\"continue\""), "purchase_type", "CONTINUE", HPP_MODE_NONE},
        {OPTS("\"purchase_type\":\"pay\""), "purchase_type", "PAY", HPP_MODE_NONE},
        {OPTS("\"show_subtotal_detail\":\"Hide\""), "show_subtotal_detail", "HIDE",
         HPP_MODE_NONE},
    };
    for (size_t i = 0; i < N(cases); i++) {
        json_t *req = create_ok(cases[i].body, cases[i].body);
        const json_t *o = json_object_get(req, "options");
        if (strcmp(str_at(o, cases[i].key), cases[i].want) != 0) {
            char got[64];
            snprintf(got, sizeof got, "%s", str_at(o, cases[i].key));
            json_decref(req);
            fail_msg("case %zu: %s stored as \"%s\", expected \"%s\"", i, cases[i].key, got,
                     cases[i].want);
        }
        enum hpp_mode m = hpp_mode_of(req);
        json_decref(req);
        assert_int_equal(m, cases[i].mode);
    }
}

/* Categories are stored as the KP identifiers, whatever case they were sent in. */
static void rule_create_categories_become_kp_identifiers(void **state)
{
    (void)state;
    static const struct {
        const char *given, *want;
    } cases[] = {
        {"PAY_LATER", "pay_later"},         {"pay_later", "pay_later"},
        {"Pay_Over_Time", "pay_over_time"}, {"PAY_NOW", "pay_now"},
        {"DIRECT_DEBIT", "direct_debit"},   {"direct_bank_transfer", "direct_bank_transfer"},
        {"KLARNA", "klarna"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char text[512];
        snprintf(text, sizeof text, OPTS("\"payment_method_category\":\"%s\""), cases[i].given);
        json_t *req = create_ok(text, cases[i].given);
        char got[64];
        snprintf(got, sizeof got, "%s",
                 str_at(json_object_get(req, "options"), "payment_method_category"));
        json_decref(req);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("payment_method_category \"%s\" stored as \"%s\", expected \"%s\"",
                     cases[i].given, got, cases[i].want);

        snprintf(text, sizeof text, OPTS("\"payment_method_categories\":[\"%s\"]"),
                 cases[i].given);
        req = create_ok(text, cases[i].given);
        snprintf(got, sizeof got, "%s",
                 json_string_value(json_array_get(
                     json_object_get(json_object_get(req, "options"), "payment_method_categories"),
                     0)));
        json_decref(req);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("payment_method_categories[0] \"%s\" stored as \"%s\", expected \"%s\"",
                     cases[i].given, got, cases[i].want);
    }
}

struct bad_case {
    const char *rule;
    const char *body;
    const char *path;
};

#define U0 "https://api.playground.klarna.com"

static const struct bad_case create_bad[] = {
    {"payment_session_url is required", "{}", "payment_session_url"},
    {"payment_session_url null is missing", "{\"payment_session_url\":null}",
     "payment_session_url"},
    {"payment_session_url not a string", "{\"payment_session_url\":5}", "payment_session_url"},
    {"payment_session_url an object", "{\"payment_session_url\":{}}", "payment_session_url"},
    {"payment_session_url empty", "{\"payment_session_url\":\"\"}", "payment_session_url"},
    {"payment_session_url no scheme",
     "{\"payment_session_url\":\"api.klarna.com/payments/v1/sessions/" KP_ID "\"}",
     "payment_session_url"},
    {"payment_session_url wrong path",
     "{\"payment_session_url\":\"" U0 "/payments/v2/sessions/" KP_ID "\"}",
     "payment_session_url"},
    {"payment_session_url a KCO order",
     "{\"payment_session_url\":\"" U0 "/checkout/v3/orders/" KP_ID "\"}", "payment_session_url"},
    {"payment_session_url id not a uuid",
     "{\"payment_session_url\":\"" U0 "/payments/v1/sessions/not-a-uuid\"}",
     "payment_session_url"},
    {"payment_session_url id not hex",
     "{\"payment_session_url\":\"" U0
     "/payments/v1/sessions/0b1d9815-165e-42e2-8867-35bc03789e0g\"}",
     "payment_session_url"},
    {"payment_session_url extra path after the id",
     "{\"payment_session_url\":\"" U0 "/payments/v1/sessions/" KP_ID "/authorize\"}",
     "payment_session_url"},
    {"payment_session_url query string",
     "{\"payment_session_url\":\"" U0 "/payments/v1/sessions/" KP_ID "?a=b\"}",
     "payment_session_url"},

    {"merchant_urls not an object", BODY(",\"merchant_urls\":\"https://x\""), "merchant_urls"},
    {"merchant_urls.success ftp", BODY(",\"merchant_urls\":{\"success\":\"ftp://x\"}"),
     "merchant_urls.success"},
    {"merchant_urls.success not a string", BODY(",\"merchant_urls\":{\"success\":1}"),
     "merchant_urls.success"},
    {"merchant_urls.success relative", BODY(",\"merchant_urls\":{\"success\":\"/ok\"}"),
     "merchant_urls.success"},
    {"merchant_urls.cancel javascript",
     BODY(",\"merchant_urls\":{\"cancel\":\"javascript:alert(1)\"}"), "merchant_urls.cancel"},
    {"merchant_urls.back not a string", BODY(",\"merchant_urls\":{\"back\":true}"),
     "merchant_urls.back"},
    {"merchant_urls.failure ftp", BODY(",\"merchant_urls\":{\"failure\":\"ftp://x\"}"),
     "merchant_urls.failure"},
    {"merchant_urls.error ftp", BODY(",\"merchant_urls\":{\"error\":\"ftp://x\"}"),
     "merchant_urls.error"},
    {"merchant_urls.status_update ftp",
     BODY(",\"merchant_urls\":{\"status_update\":\"ftp://x\"}"), "merchant_urls.status_update"},
    {"merchant_urls.terms not a string", BODY(",\"merchant_urls\":{\"terms\":[]}"),
     "merchant_urls.terms"},

    {"options not an object", BODY(",\"options\":[]"), "options"},
    {"options.place_order_mode X", OPTS("\"place_order_mode\":\"X\""), "options.place_order_mode"},
    {"options.place_order_mode not a string", OPTS("\"place_order_mode\":1"),
     "options.place_order_mode"},
    {"options.purchase_type X", OPTS("\"purchase_type\":\"X\""), "options.purchase_type"},
    {"options.purchase_type empty", OPTS("\"purchase_type\":\"\""), "options.purchase_type"},
    {"options.show_subtotal_detail SHOW", OPTS("\"show_subtotal_detail\":\"SHOW\""),
     "options.show_subtotal_detail"},
    {"category and categories both",
     OPTS("\"payment_method_category\":\"pay_later\","
          "\"payment_method_categories\":[\"pay_later\"]"),
     "options.payment_method_categories"},
    {"payment_method_category unknown", OPTS("\"payment_method_category\":\"card\""),
     "options.payment_method_category"},
    {"payment_method_category not a string", OPTS("\"payment_method_category\":[\"pay_later\"]"),
     "options.payment_method_category"},
    {"payment_method_categories bad item",
     OPTS("\"payment_method_categories\":[\"pay_later\",\"card\"]"),
     "options.payment_method_categories[1]"},
    {"payment_method_categories item not a string",
     OPTS("\"payment_method_categories\":[\"pay_later\",\"pay_now\",7]"),
     "options.payment_method_categories[2]"},
    {"payment_method_categories empty", OPTS("\"payment_method_categories\":[]"),
     "options.payment_method_categories"},
    {"payment_method_categories not an array",
     OPTS("\"payment_method_categories\":\"pay_later\""), "options.payment_method_categories"},
    {"options.logo_url javascript", OPTS("\"logo_url\":\"javascript:alert(1)\""),
     "options.logo_url"},
    {"options.logo_url data:text/html", OPTS("\"logo_url\":\"data:text/html,<script>\""),
     "options.logo_url"},
    {"options.logo_url not a string", OPTS("\"logo_url\":{}"), "options.logo_url"},
    {"options.page_title not a string", OPTS("\"page_title\":1"), "options.page_title"},
    {"options.background_images not an array", OPTS("\"background_images\":{}"),
     "options.background_images"},
    {"options.background_images[0].width 0",
     OPTS("\"background_images\":[{\"url\":\"https://x/bg.jpg\",\"width\":0}]"),
     "options.background_images[0].width"},
    {"options.background_images[1].width not an integer",
     OPTS("\"background_images\":[{\"url\":\"https://x/a.jpg\"},"
          "{\"url\":\"https://x/b.jpg\",\"width\":1.5}]"),
     "options.background_images[1].width"},
    {"options.background_images[0].url missing",
     OPTS("\"background_images\":[{\"width\":100}]"), "options.background_images[0].url"},
    {"options.background_images[0].url ftp",
     OPTS("\"background_images\":[{\"url\":\"ftp://x/bg.jpg\"}]"),
     "options.background_images[0].url"},
    {"options.background_images[0] not an object", OPTS("\"background_images\":[\"x\"]"),
     "options.background_images[0]"},
    {"options.payment_fallback yes", OPTS("\"payment_fallback\":\"yes\""),
     "options.payment_fallback"},
    {"options.payment_fallback 1", OPTS("\"payment_fallback\":1"), "options.payment_fallback"},
    {"profile_id not a string", BODY(",\"profile_id\":1"), "profile_id"},
};

static void rule_create_bad_field_names_its_path(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(create_bad); i++)
        create_bad_json(load(create_bad[i].body), create_bad[i].path, create_bad[i].rule);
}

/* A body that is not an object: "Bad value: body", no path. */
static void rule_create_body_must_be_an_object(void **state)
{
    (void)state;
    static const char *const bodies[] = {"[]", "\"x\"", "1", "null"};
    for (size_t i = 0; i < N(bodies); i++) {
        json_t *body = load(bodies[i]);
        struct kerr err;
        kerr_clear(&err);
        json_t *req = hpp_create_request(body, &err);
        json_decref(body);
        if (req) {
            json_decref(req);
            fail_msg("body %s accepted", bodies[i]);
        }
        assert_int_equal(err.status, 400);
        assert_string_equal(err.code, "BAD_VALUE");
        assert_string_equal(err.msg, "Bad value: body");
        assert_string_equal(err.path, "");
    }
    struct kerr err;
    kerr_clear(&err);
    assert_null(hpp_create_request(NULL, &err));
    assert_string_equal(err.msg, "Bad value: body");
}

/* Lengths at their boundary: page_title 255 code points, profile_id 255, URLs 2000. */
static void rule_create_lengths_at_their_boundary(void **state)
{
    (void)state;
    static const struct {
        const char *rule, *path;
        size_t n;          /* characters of the value */
        bool ok;
    } cases[] = {
        {"page_title 255", "options.page_title", 255, true},
        {"page_title 256", "options.page_title", 256, false},
        {"profile_id 255", "profile_id", 255, true},
        {"profile_id 256", "profile_id", 256, false},
        {"merchant_urls.success 2000", "merchant_urls.success", 2000, true},
        {"merchant_urls.success 2001", "merchant_urls.success", 2001, false},
        {"logo_url 2000", "options.logo_url", 2000, true},
        {"logo_url 2001", "options.logo_url", 2001, false},
    };
    for (size_t i = 0; i < N(cases); i++) {
        json_t *body = load(BODY(""));
        char *v;
        if (strncmp(cases[i].path, "options.page", 12) == 0 || strcmp(cases[i].path,
                                                                       "profile_id") == 0) {
            v = repeat('t', cases[i].n);
        } else {
            v = repeat('a', cases[i].n);
            memcpy(v, "https://x/", 10);
        }
        const char *dot = strchr(cases[i].path, '.');
        if (dot) {
            char parent[32];
            snprintf(parent, sizeof parent, "%.*s", (int)(dot - cases[i].path), cases[i].path);
            json_t *obj = json_object();
            json_object_set_new(obj, dot + 1, json_string(v));
            json_object_set_new(body, parent, obj);
        } else {
            json_object_set_new(body, cases[i].path, json_string(v));
        }
        free(v);
        struct kerr err;
        kerr_clear(&err);
        json_t *req = hpp_create_request(body, &err);
        json_decref(body);
        if (cases[i].ok) {
            if (!req)
                fail_msg("%s: refused \"%s\"", cases[i].rule, err.msg);
            json_decref(req);
        } else {
            if (req) {
                json_decref(req);
                fail_msg("%s: accepted", cases[i].rule);
            }
            assert_bad(&err, cases[i].path, cases[i].rule);
        }
    }
    /* lengths are code points: 255 two-byte characters are a valid title */
    char title[255 * 2 + 1];
    for (size_t i = 0; i < 255; i++)
        memcpy(title + 2 * i, "\xc3\xa9", 2);   /* é */
    title[sizeof title - 1] = '\0';
    json_t *body = load(BODY(""));
    json_t *o = json_object();
    json_object_set_new(o, "page_title", json_string(title));
    json_object_set_new(body, "options", o);
    struct kerr err;
    kerr_clear(&err);
    json_t *req = hpp_create_request(body, &err);
    json_decref(body);
    if (!req)
        fail_msg("255 two-byte characters refused: \"%s\"", err.msg);
    json_decref(req);
}

/* logo_url: http(s) or a data:image/ URL; merchant_urls: http(s) only, legacy keys accepted. */
static void rule_create_url_schemes(void **state)
{
    (void)state;
    static const char *const ok[] = {
        OPTS("\"logo_url\":\"https://shop.example/logo.png\""),
        OPTS("\"logo_url\":\"http://localhost:8080/logo.png\""),
        OPTS("\"logo_url\":\"HTTPS://SHOP.EXAMPLE/LOGO.PNG\""),
        OPTS("\"logo_url\":\"data:image/png;base64,AAAA\""),
        OPTS("\"logo_url\":\"data:image/svg+xml;base64,PHN2Zz4=\""),
        BODY(",\"merchant_urls\":{\"success\":\"http://localhost/ok\"}"),
        BODY(",\"merchant_urls\":{\"success\":\"HTTPS://shop.example/ok\"}"),
        BODY(",\"merchant_urls\":{\"privacy_policy\":\"https://shop.example/p\","
             "\"terms\":\"https://shop.example/t\"}"),
        /* legacy keys are not checked as URLs */
        BODY(",\"merchant_urls\":{\"privacy_policy\":\"see website\",\"terms\":\"\"}"),
        OPTS("\"background_images\":[{\"url\":\"http://x/bg.jpg\",\"width\":1}]"),
        OPTS("\"background_images\":[]"),
    };
    for (size_t i = 0; i < N(ok); i++)
        json_decref(create_ok(ok[i], ok[i]));
}

/* The first bad field is reported (table order), and refusals leak nothing. */
static void rule_create_reports_first_bad_field(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"payment_session_url form before merchant_urls",
         "{\"payment_session_url\":\"bad\",\"merchant_urls\":{\"success\":\"ftp://x\"}}",
         "payment_session_url"},
        {"merchant_urls before options",
         BODY(",\"options\":{\"page_title\":1},\"merchant_urls\":{\"success\":\"ftp://x\"}"),
         "merchant_urls.success"},
        {"success before cancel",
         BODY(",\"merchant_urls\":{\"cancel\":\"ftp://x\",\"success\":\"ftp://x\"}"),
         "merchant_urls.success"},
        {"first bad category", OPTS("\"payment_method_categories\":[\"a\",\"b\"]"),
         "options.payment_method_categories[0]"},
        {"place_order_mode before purchase_type",
         OPTS("\"purchase_type\":\"X\",\"place_order_mode\":\"X\""), "options.place_order_mode"},
    };
    for (size_t i = 0; i < N(cases); i++)
        create_bad_json(load(cases[i].body), cases[i].path, cases[i].rule);
}

/* ---- the KP session id ----------------------------------------------------------------- */

static void rule_kp_session_id_from_payment_session_url(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        const char *want; /* NULL: rejected */
    } cases[] = {
        {"https://api.klarna.com/payments/v1/sessions/" KP_ID, KP_ID},
        {"https://api.playground.klarna.com/payments/v1/sessions/" KP_ID, KP_ID},
        {"http://localhost:8080/payments/v1/sessions/" KP_ID, KP_ID},
        {"http://127.0.0.1/payments/v1/sessions/" KP_ID, KP_ID},
        {"https://kasse.internal/payments/v1/sessions/" KP_UP, KP_ID},
        {"HTTPS://API.KLARNA.COM/payments/v1/sessions/" KP_ID, KP_ID},
        {"kasse://host/payments/v1/sessions/" KP_ID, KP_ID},
        /* a prefix before /payments/v1/sessions/ (a region, a proxy path) is allowed */
        {"https://kasse.example/eu/payments/v1/sessions/" KP_ID, KP_ID},
        {"https://api.klarna.com/payments/v1/sessions/0B1d9815-165E-42e2-8867-35bC03789e00",
         KP_ID},

        {NULL, NULL},
        {"", NULL},
        {KP_ID, NULL},
        {"/payments/v1/sessions/" KP_ID, NULL},
        {"api.klarna.com/payments/v1/sessions/" KP_ID, NULL},
        {"://api.klarna.com/payments/v1/sessions/" KP_ID, NULL},
        {"https:///payments/v1/sessions/" KP_ID, NULL},
        {"https://api.klarna.com/payments/v1/sessions/", NULL},
        {"https://api.klarna.com/payments/v1/sessions/not-a-uuid", NULL},
        {"https://api.klarna.com/payments/v1/sessions/" KP_ID "/", NULL},
        {"https://api.klarna.com/payments/v1/sessions/" KP_ID "/authorize", NULL},
        {"https://api.klarna.com/payments/v1/sessions/" KP_ID "?x=1", NULL},
        {"https://api.klarna.com/payments/v1/sessions/" KP_ID "#f", NULL},
        {"https://api.klarna.com/payments/v1/sessions/" KP_ID "0", NULL},
        {"https://api.klarna.com/payments/v1/session/" KP_ID, NULL},
        {"https://api.klarna.com/PAYMENTS/v1/sessions/" KP_ID, NULL},
        {"https://api.klarna.com/payments/v2/sessions/" KP_ID, NULL},
        {"https://api.klarna.com/checkout/v3/orders/" KP_ID, NULL},
        {"https://api.klarna.com/payments/v1/sessions/0b1d9815165e42e2886735bc03789e00", NULL},
        {"https://api.klarna.com/payments/v1/sessions/0b1d9815-165e-42e2-8867_35bc03789e00", NULL},
        {"https://api.klarna.com/payments/v1/sessions/0b1d981-5165e-42e2-8867-35bc03789e00", NULL},
        {"https://api.klarna.com/payments/v1/sessions/zb1d9815-165e-42e2-8867-35bc03789e00", NULL},
        {"https://user@api.klarna.com/payments/v1/sessions/" KP_ID, NULL},
        {"https://api klarna.com/payments/v1/sessions/" KP_ID, NULL},
        {"https://api.klarna.com?q=/payments/v1/sessions/" KP_ID, NULL},
        {"ht tps://api.klarna.com/payments/v1/sessions/" KP_ID, NULL},
        {"1http://api.klarna.com/payments/v1/sessions/" KP_ID, NULL},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[37];
        memset(out, 'x', sizeof out);
        int rc = hpp_kp_session_id(cases[i].url, out);
        const char *u = cases[i].url ? cases[i].url : "(null)";
        if (cases[i].want) {
            if (rc != 0)
                fail_msg("case %zu \"%s\": rejected", i, u);
            if (strcmp(out, cases[i].want) != 0)
                fail_msg("case %zu \"%s\": id \"%.36s\", expected \"%s\"", i, u, out,
                         cases[i].want);
        } else if (rc != -1) {
            fail_msg("case %zu \"%s\": accepted as \"%.36s\"", i, u, out);
        }
    }
}

/* ---- the categories the page offers ------------------------------------------------------ */

static void rule_allowed_categories(void **state)
{
    (void)state;
    static const struct {
        const char *rule;
        const char *body;     /* create body: the request is its normalized form */
        const char *offered;  /* JSON array */
        const char *want;     /* JSON array, or NULL with path */
        const char *path;
    } cases[] = {
        {"none requested: all offered, in order", BODY(""),
         "[\"pay_over_time\",\"pay_later\",\"pay_now\"]",
         "[\"pay_over_time\",\"pay_later\",\"pay_now\"]", NULL},
        {"none requested, none offered", BODY(""), "[]", "[]", NULL},
        {"single", OPTS("\"payment_method_category\":\"PAY_LATER\""),
         "[\"pay_now\",\"pay_later\"]", "[\"pay_later\"]", NULL},
        {"single not offered", OPTS("\"payment_method_category\":\"pay_over_time\""),
         "[\"pay_now\",\"pay_later\"]", NULL, "options.payment_method_category"},
        {"single, none offered", OPTS("\"payment_method_category\":\"klarna\""), "[]", NULL,
         "options.payment_method_category"},
        {"array order is the request's",
         OPTS("\"payment_method_categories\":[\"pay_now\",\"PAY_OVER_TIME\",\"pay_later\"]"),
         "[\"pay_later\",\"pay_over_time\",\"pay_now\"]",
         "[\"pay_now\",\"pay_over_time\",\"pay_later\"]", NULL},
        {"array subset", OPTS("\"payment_method_categories\":[\"pay_later\"]"),
         "[\"pay_now\",\"pay_later\"]", "[\"pay_later\"]", NULL},
        {"array duplicates shown once",
         OPTS("\"payment_method_categories\":[\"pay_later\",\"pay_now\",\"PAY_LATER\","
              "\"pay_now\"]"),
         "[\"pay_now\",\"pay_later\"]", "[\"pay_later\",\"pay_now\"]", NULL},
        {"array item not offered",
         OPTS("\"payment_method_categories\":[\"pay_later\",\"pay_now\",\"klarna\"]"),
         "[\"pay_now\",\"pay_later\"]", NULL, "options.payment_method_categories[2]"},
        {"array first item not offered",
         OPTS("\"payment_method_categories\":[\"direct_debit\",\"pay_now\"]"),
         "[\"pay_now\"]", NULL, "options.payment_method_categories[0]"},
        {"array duplicate then not offered",
         OPTS("\"payment_method_categories\":[\"pay_now\",\"pay_now\",\"pay_later\"]"),
         "[\"pay_now\"]", NULL, "options.payment_method_categories[2]"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        json_t *req = create_ok(cases[i].body, cases[i].rule);
        json_t *offered = load(cases[i].offered);
        json_t *offered_copy = json_deep_copy(offered);
        struct kerr err;
        kerr_clear(&err);
        json_t *got = hpp_allowed_categories(req, offered, &err);
        bool same = json_equal(offered, offered_copy);
        json_decref(req);
        json_decref(offered);
        json_decref(offered_copy);
        if (!same) {
            json_decref(got);
            fail_msg("%s: offered was modified", cases[i].rule);
        }
        if (cases[i].want) {
            if (!got)
                fail_msg("%s: refused \"%s\"", cases[i].rule, err.msg);
            json_t *want = load(cases[i].want);
            bool eq = json_equal(got, want);
            char *dump = json_dumps(got, JSON_COMPACT);
            json_decref(want);
            json_decref(got);
            if (!eq) {
                char buf[256];
                snprintf(buf, sizeof buf, "%s", dump ? dump : "?");
                free(dump);
                fail_msg("%s: got %s, expected %s", cases[i].rule, buf, cases[i].want);
            }
            free(dump);
        } else {
            if (got) {
                json_decref(got);
                fail_msg("%s: accepted, expected a bad value at %s", cases[i].rule,
                         cases[i].path);
            }
            assert_bad(&err, cases[i].path, cases[i].rule);
        }
    }
}

/* ---- merchant_urls placeholders ---------------------------------------------------------- */

static void rule_url_fill_replaces_placeholders(void **state)
{
    (void)state;
    static const struct hpp_fill all = {"sid-1", "tok-2", "ord-3"};
    static const struct hpp_fill none = {NULL, NULL, NULL};
    static const struct hpp_fill sid_only = {"sid-1", NULL, NULL};
    static const struct hpp_fill reserved = {"a b&c/d", "x=y?z#", "50%+"};
    static const struct hpp_fill empty = {"", "", ""};
    static const struct hpp_fill utf8 = {"\xc3\xa9", NULL, NULL};
    static const struct hpp_fill unreserved = {"A-z_0.9~", NULL, NULL};
    static const struct hpp_fill nested = {"{{order_id}}", NULL, "X"};
    static const struct {
        const char *rule, *tmpl;
        const struct hpp_fill *f;
        const char *want;
    } cases[] = {
        {"session_id", "https://s/ok?sid={{session_id}}", &all, "https://s/ok?sid=sid-1"},
        {"authorization_token", "https://s/ok?t={{authorization_token}}", &all,
         "https://s/ok?t=tok-2"},
        {"order_id", "https://s/ok?o={{order_id}}", &all, "https://s/ok?o=ord-3"},
        {"all three", "https://s/{{session_id}}/{{authorization_token}}?o={{order_id}}", &all,
         "https://s/sid-1/tok-2?o=ord-3"},
        {"several occurrences", "{{session_id}}{{session_id}}-{{order_id}}/{{session_id}}", &all,
         "sid-1sid-1-ord-3/sid-1"},
        {"NULL values leave their placeholders",
         "https://s/ok?sid={{session_id}}&t={{authorization_token}}&o={{order_id}}", &sid_only,
         "https://s/ok?sid=sid-1&t={{authorization_token}}&o={{order_id}}"},
        {"all NULL: unchanged", "https://s/{{session_id}}?t={{authorization_token}}", &none,
         "https://s/{{session_id}}?t={{authorization_token}}"},
        {"values are URL-encoded", "https://s/?a={{session_id}}&b={{authorization_token}}"
                                   "&c={{order_id}}",
         &reserved, "https://s/?a=a%20b%26c%2Fd&b=x%3Dy%3Fz%23&c=50%25%2B"},
        {"unreserved characters kept", "{{session_id}}", &unreserved,
         "A-z_0.9~"},
        {"UTF-8 bytes encoded", "{{session_id}}", &utf8, "%C3%A9"},
        {"empty values", "a{{session_id}}b{{authorization_token}}c{{order_id}}d", &empty,
         "abcd"},
        {"no placeholders: unchanged", "https://shop.example/ok?x=1&y=%20", &all,
         "https://shop.example/ok?x=1&y=%20"},
        {"empty template", "", &all, ""},
        {"unknown placeholder untouched", "https://s/{{unknown}}?p={{profile_id}}", &all,
         "https://s/{{unknown}}?p={{profile_id}}"},
        {"not a placeholder: case, spacing, braces",
         "{{SESSION_ID}} {{ session_id }} {session_id} {{session_id}",
         &all, "{{SESSION_ID}} {{ session_id }} {session_id} {{session_id}"},
        {"extra braces around", "{{{session_id}}}", &all, "{sid-1}"},
        {"the template itself is not encoded", "https://s/a b?q={{order_id}}", &all,
         "https://s/a b?q=ord-3"},
        {"a value holding a placeholder is not expanded again", "{{session_id}}",
         &nested, "%7B%7Border_id%7D%7D"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[512];
        memset(out, '#', sizeof out);
        int rc = hpp_url_fill(cases[i].tmpl, cases[i].f, out, sizeof out);
        if (rc != 0)
            fail_msg("%s: returned %d", cases[i].rule, rc);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%s: got \"%s\", expected \"%s\"", cases[i].rule, out, cases[i].want);
    }
}

/* The result fits exactly in strlen + 1; one byte less is -1 and nothing past cap is written. */
static void rule_url_fill_overflow_at_cap(void **state)
{
    (void)state;
    static const struct hpp_fill f = {"sid", "a b", NULL};
    static const struct {
        const char *tmpl, *want;
    } cases[] = {
        {"https://shop.example/ok", "https://shop.example/ok"},
        {"x={{session_id}}", "x=sid"},
        {"x={{authorization_token}}", "x=a%20b"},          /* ends in an escape */
        {"{{authorization_token}}y", "a%20by"},
        {"o={{order_id}}", "o={{order_id}}"},              /* unfilled placeholder copied */
        {"", ""},
    };
    for (size_t i = 0; i < N(cases); i++) {
        size_t len = strlen(cases[i].want);
        for (size_t cap = 0; cap <= len + 2; cap++) {
            char buf[128];
            memset(buf, '#', sizeof buf);
            int rc = hpp_url_fill(cases[i].tmpl, &f, buf, cap);
            for (size_t k = cap; k < sizeof buf; k++)
                if (buf[k] != '#')
                    fail_msg("\"%s\" cap %zu: wrote byte %zu", cases[i].tmpl, cap, k);
            if (cap <= len) {
                if (rc != -1)
                    fail_msg("\"%s\" cap %zu (need %zu): returned %d", cases[i].tmpl, cap,
                             len + 1, rc);
            } else {
                if (rc != 0)
                    fail_msg("\"%s\" cap %zu (need %zu): returned %d", cases[i].tmpl, cap,
                             len + 1, rc);
                assert_string_equal(buf, cases[i].want);
            }
        }
    }
    /* a long value against a small buffer */
    char *big = repeat('/', 1000);
    struct hpp_fill g = {big, NULL, NULL};
    char out[3001];
    assert_int_equal(hpp_url_fill("{{session_id}}", &g, out, 3000), -1);
    assert_int_equal(hpp_url_fill("{{session_id}}", &g, out, 3001), 0);
    assert_int_equal(strlen(out), 3000);
    assert_memory_equal(out, "%2F%2F", 6);
    free(big);
}

/* ---- distribution ------------------------------------------------------------------------ */

static void rule_distribution_valid_requests(void **state)
{
    (void)state;
    static const struct {
        const char *rule, *body;
        enum hpp_method method;
        const char *to, *country; /* country NULL: phone_country NULL */
        bool has_template;
    } cases[] = {
        {"email", "{\"method\":\"email\",\"contact_information\":{\"email\":\"a@b.se\"}}",
         HPP_SEND_EMAIL, "a@b.se", NULL, false},
        {"email with unused phone fields",
         "{\"method\":\"email\",\"contact_information\":{\"email\":\"test@example.com\","
         "\"phone\":\"letters\",\"phone_country\":\"SE\"}}",
         HPP_SEND_EMAIL, "test@example.com", NULL, false},
        {"sms", "{\"method\":\"sms\",\"contact_information\":{\"phone\":\"07000212345\","
                "\"phone_country\":\"SE\"}}",
         HPP_SEND_SMS, "07000212345", "SE", false},
        {"sms, SDK example with template",
         "{\"contact_information\":{\"email\":\"test@example.com\",\"phone\":\"07000212345\","
         "\"phone_country\":\"SE\"},\"method\":\"sms\",\"template\":\"INSTORE_PURCHASE\"}",
         HPP_SEND_SMS, "07000212345", "SE", true},
        {"method in any case", "{\"method\":\"SMS\",\"contact_information\":{\"phone\":"
                               "\"+46 (70) 123-45-67\",\"phone_country\":\"se\"}}",
         HPP_SEND_SMS, "+46 (70) 123-45-67", "SE", false},
        {"phone_country uppercased", "{\"method\":\"Sms\",\"contact_information\":{\"phone\":"
                                     "\"12345\",\"phone_country\":\"dE\"}}",
         HPP_SEND_SMS, "12345", "DE", false},
        {"token", "{\"method\":\"token\",\"contact_information\":{\"access_id\":\"kiosk-7\"}}",
         HPP_SEND_TOKEN, "kiosk-7", NULL, false},
        {"TOKEN with template in lowercase",
         "{\"method\":\"TOKEN\",\"contact_information\":{\"access_id\":\"k\"},"
         "\"template\":\"instore_purchase\"}",
         HPP_SEND_TOKEN, "k", NULL, true},
        {"Email", "{\"method\":\"Email\",\"contact_information\":{\"email\":\"x.y+z@shop.co.uk\"}}",
         HPP_SEND_EMAIL, "x.y+z@shop.co.uk", NULL, false},
    };
    for (size_t i = 0; i < N(cases); i++) {
        json_t *body = load(cases[i].body);
        struct hpp_distribution d;
        memset(&d, 0x5a, sizeof d);
        struct kerr err;
        kerr_clear(&err);
        int rc = hpp_distribution_check(body, &d, &err);
        if (rc != 0) {
            json_decref(body);
            fail_msg("%s: refused \"%s\"", cases[i].rule, err.msg);
        }
        assert_int_equal(d.method, cases[i].method);
        assert_non_null(d.to);
        assert_string_equal(d.to, cases[i].to);
        /* `to` is borrowed from the body */
        const json_t *c = json_object_get(body, "contact_information");
        const char *key = d.method == HPP_SEND_EMAIL ? "email"
                          : d.method == HPP_SEND_SMS ? "phone" : "access_id";
        assert_ptr_equal(d.to, json_string_value(json_object_get(c, key)));
        if (cases[i].country) {
            assert_ptr_equal(d.phone_country, d.country);
            assert_string_equal(d.country, cases[i].country);
        } else {
            assert_null(d.phone_country);
        }
        if (d.has_template != cases[i].has_template)
            fail_msg("%s: has_template %d", cases[i].rule, d.has_template);
        json_decref(body);
    }
}

static const struct bad_case distribution_bad[] = {
    {"body empty", "{}", "contact_information"},
    {"method missing", "{\"contact_information\":{\"email\":\"a@b.se\"}}", "method"},
    {"method null", "{\"method\":null,\"contact_information\":{\"email\":\"a@b.se\"}}", "method"},
    {"method unknown", "{\"method\":\"fax\",\"contact_information\":{\"email\":\"a@b.se\"}}",
     "method"},
    {"method empty", "{\"method\":\"\",\"contact_information\":{\"email\":\"a@b.se\"}}",
     "method"},
    {"method not a string", "{\"method\":1,\"contact_information\":{\"email\":\"a@b.se\"}}",
     "method"},
    {"contact_information missing", "{\"method\":\"email\"}", "contact_information"},
    {"contact_information not an object",
     "{\"method\":\"email\",\"contact_information\":\"a@b.se\"}", "contact_information"},
    {"contact_information an array", "{\"method\":\"email\",\"contact_information\":[]}",
     "contact_information"},
    {"email missing for email", "{\"method\":\"email\",\"contact_information\":{\"phone\":"
                                "\"0701234567\",\"phone_country\":\"SE\"}}",
     "contact_information.email"},
    {"email without @", "{\"method\":\"email\",\"contact_information\":{\"email\":\"a.b.se\"}}",
     "contact_information.email"},
    {"email two @", "{\"method\":\"email\",\"contact_information\":{\"email\":\"a@b@c.se\"}}",
     "contact_information.email"},
    {"email no domain dot", "{\"method\":\"email\",\"contact_information\":{\"email\":\"a@b\"}}",
     "contact_information.email"},
    {"email trailing dot", "{\"method\":\"email\",\"contact_information\":{\"email\":\"a@b.\"}}",
     "contact_information.email"},
    {"email no local part", "{\"method\":\"email\",\"contact_information\":{\"email\":\"@b.se\"}}",
     "contact_information.email"},
    {"email with a space",
     "{\"method\":\"email\",\"contact_information\":{\"email\":\"a b@c.se\"}}",
     "contact_information.email"},
    {"email header injection",
     "{\"method\":\"email\",\"contact_information\":{\"email\":\"a@b.se\\nBcc: c@d.se\"}}",
     "contact_information.email"},
    {"email not a string", "{\"method\":\"email\",\"contact_information\":{\"email\":1}}",
     "contact_information.email"},
    {"phone missing for sms",
     "{\"method\":\"sms\",\"contact_information\":{\"phone_country\":\"SE\"}}",
     "contact_information.phone"},
    {"phone letters", "{\"method\":\"sms\",\"contact_information\":{\"phone\":\"07O0212345\","
                      "\"phone_country\":\"SE\"}}",
     "contact_information.phone"},
    {"phone too few digits", "{\"method\":\"sms\",\"contact_information\":{\"phone\":\"1234\","
                             "\"phone_country\":\"SE\"}}",
     "contact_information.phone"},
    {"phone + inside", "{\"method\":\"sms\",\"contact_information\":{\"phone\":\"46+701234567\","
                       "\"phone_country\":\"SE\"}}",
     "contact_information.phone"},
    {"phone over 20 characters",
     "{\"method\":\"sms\",\"contact_information\":{\"phone\":\"123456789012345678901\","
     "\"phone_country\":\"SE\"}}",
     "contact_information.phone"},
    {"phone_country missing for sms",
     "{\"method\":\"sms\",\"contact_information\":{\"phone\":\"0701234567\"}}",
     "contact_information.phone_country"},
    {"phone_country one letter", "{\"method\":\"sms\",\"contact_information\":{\"phone\":"
                                 "\"0701234567\",\"phone_country\":\"S\"}}",
     "contact_information.phone_country"},
    {"phone_country digits", "{\"method\":\"sms\",\"contact_information\":{\"phone\":"
                             "\"0701234567\",\"phone_country\":\"123\"}}",
     "contact_information.phone_country"},
    {"phone_country 12", "{\"method\":\"sms\",\"contact_information\":{\"phone\":"
                         "\"0701234567\",\"phone_country\":\"12\"}}",
     "contact_information.phone_country"},
    {"phone_country three letters", "{\"method\":\"sms\",\"contact_information\":{\"phone\":"
                                    "\"0701234567\",\"phone_country\":\"SWE\"}}",
     "contact_information.phone_country"},
    {"access_id missing for token",
     "{\"method\":\"token\",\"contact_information\":{\"email\":\"a@b.se\"}}",
     "contact_information.access_id"},
    {"access_id empty", "{\"method\":\"token\",\"contact_information\":{\"access_id\":\"\"}}",
     "contact_information.access_id"},
    {"access_id not a string", "{\"method\":\"token\",\"contact_information\":{\"access_id\":1}}",
     "contact_information.access_id"},
    {"template X", "{\"method\":\"email\",\"contact_information\":{\"email\":\"a@b.se\"},"
                   "\"template\":\"X\"}",
     "template"},
    {"template not a string", "{\"method\":\"email\",\"contact_information\":{\"email\":"
                              "\"a@b.se\"},\"template\":true}",
     "template"},
};

static void rule_distribution_bad_field_names_its_path(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(distribution_bad); i++) {
        json_t *body = load(distribution_bad[i].body);
        struct hpp_distribution d;
        struct kerr err;
        kerr_clear(&err);
        int rc = hpp_distribution_check(body, &d, &err);
        json_decref(body);
        if (rc != -1)
            fail_msg("%s: accepted, expected a bad value at %s", distribution_bad[i].rule,
                     distribution_bad[i].path);
        assert_bad(&err, distribution_bad[i].path, distribution_bad[i].rule);
    }
    /* not an object */
    json_t *body = load("[]");
    struct hpp_distribution d;
    struct kerr err;
    kerr_clear(&err);
    assert_int_equal(hpp_distribution_check(body, &d, &err), -1);
    json_decref(body);
    assert_string_equal(err.msg, "Bad value: body");
}

static void rule_method_names(void **state)
{
    (void)state;
    assert_string_equal(hpp_method_name(HPP_SEND_SMS), "sms");
    assert_string_equal(hpp_method_name(HPP_SEND_EMAIL), "email");
    assert_string_equal(hpp_method_name(HPP_SEND_TOKEN), "token");
}

/* ---- texts --------------------------------------------------------------------------------- */

static void rule_pay_label_by_purchase_type_and_locale(void **state)
{
    (void)state;
    static const struct {
        const char *type, *locale, *want;
    } cases[] = {
        {"BUY", NULL, "Buy"},          {"BUY", "en-US", "Buy"},    {"RENT", "en-GB", "Rent"},
        {"BOOK", "en", "Book"},        {"SUBSCRIBE", NULL, "Subscribe"},
        {"DOWNLOAD", NULL, "Download"}, {"ORDER", NULL, "Order"}, {"CONTINUE", NULL, "Continue"},
        {"PAY", NULL, "Pay"},
        {"BUY", "nope", "Buy"},        {"BUY", "no-NO", "Kjøp"},
        {"BUY", "sv-SE", "Köp"},       {"BUY", "sv", "Köp"},       {"BUY", "SV-se", "Köp"},
        {"PAY", "sv-SE", "Betala"},    {"ORDER", "sv-FI", "Beställ"},
        {"BUY", "de-DE", "Kaufen"},    {"BUY", "de-AT", "Kaufen"}, {"BUY", "da-DK", "Køb"},
        {"BUY", "nb-NO", "Kjøp"},      {"BUY", "no-NO", "Kjøp"},   {"BUY", "fi-FI", "Osta"},
        {"CONTINUE", "fi-FI", "Jatka"},
        /* any case */
        {"buy", "sv-SE", "Köp"},       {"Rent", "de-DE", "Mieten"}, {"pay", NULL, "Pay"},
        /* unknown locale: English */
        {"BUY", "fr-FR", "Buy"},       {"RENT", "nl-NL", "Rent"},  {"BUY", "", "Buy"},
        {"BUY", "x", "Buy"},           {"BUY", "sve", "Buy"},
        /* unknown purchase_type: Buy */
        {"LEASE", "en-US", "Buy"},     {"", NULL, "Buy"},          {NULL, NULL, "Buy"},
        {NULL, "sv-SE", "Köp"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const char *got = hpp_pay_label(cases[i].type, cases[i].locale);
        if (!got || strcmp(got, cases[i].want) != 0)
            fail_msg("(%s, %s): got \"%s\", expected \"%s\"",
                     cases[i].type ? cases[i].type : "NULL",
                     cases[i].locale ? cases[i].locale : "NULL", got ? got : "NULL",
                     cases[i].want);
    }
}

static void rule_message_text_has_merchant_and_link(void **state)
{
    (void)state;
    static const char *link = "https://kasse.example/hpp/payments/5c0a2b9e-1111-4222-8333-000000000001";
    static const struct {
        const char *locale, *subject, *text_start;
    } cases[] = {
        {NULL, "Complete your purchase at Shop AB", "Shop AB has sent you a link"},
        {"en-GB", "Complete your purchase at Shop AB", "Shop AB has sent you a link"},
        {"fr-FR", "Complete your purchase at Shop AB", "Shop AB has sent you a link"},
        {"sv-SE", "Slutför ditt köp hos Shop AB", "Shop AB har skickat en länk"},
        {"de-DE", "Schließen Sie Ihren Kauf bei Shop AB ab", "Shop AB hat Ihnen einen Link"},
        {"da-DK", "Gennemfør dit køb hos Shop AB", "Shop AB har sendt dig et link"},
        {"nb-NO", "Fullfør kjøpet ditt hos Shop AB", "Shop AB har sendt deg en lenke"},
        {"fi-FI", "Viimeistele ostoksesi: Shop AB", "Shop AB lähetti sinulle linkin"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char subject[256], text[512];
        assert_int_equal(hpp_message_text(cases[i].locale, "Shop AB", link, subject,
                                          sizeof subject, text, sizeof text),
                         0);
        assert_string_equal(subject, cases[i].subject);
        if (strncmp(text, cases[i].text_start, strlen(cases[i].text_start)) != 0)
            fail_msg("%s: text \"%s\"", cases[i].locale ? cases[i].locale : "NULL", text);
        size_t tl = strlen(text), ll = strlen(link);
        assert_true(tl > ll);
        assert_string_equal(text + tl - ll, link);     /* the link ends the text */
        assert_non_null(strstr(text, "Klarna"));
    }
    /* the merchant's name is copied as is, '%' included */
    char subject[128], text[256];
    assert_int_equal(hpp_message_text("en", "100% Shop", "https://l", subject, sizeof subject,
                                      text, sizeof text),
                     0);
    assert_string_equal(subject, "Complete your purchase at 100% Shop");
    assert_string_equal(text,
                        "100% Shop has sent you a link to complete your purchase with Klarna: "
                        "https://l");
}

/* Each buffer fits exactly in strlen + 1; one byte less is -1. */
static void rule_message_text_overflow(void **state)
{
    (void)state;
    static const char *want_subject = "Complete your purchase at Shop";
    static const char *want_text =
        "Shop has sent you a link to complete your purchase with Klarna: https://l/x";
    const size_t sl = strlen(want_subject), tl = strlen(want_text);
    char subject[128], text[128];
    assert_int_equal(hpp_message_text("en-US", "Shop", "https://l/x", subject, sl + 1, text,
                                      tl + 1),
                     0);
    assert_string_equal(subject, want_subject);
    assert_string_equal(text, want_text);
    assert_int_equal(hpp_message_text("en-US", "Shop", "https://l/x", subject, sl, text,
                                      sizeof text),
                     -1);
    assert_int_equal(hpp_message_text("en-US", "Shop", "https://l/x", subject, sizeof subject,
                                      text, tl),
                     -1);
    assert_int_equal(hpp_message_text("en-US", "Shop", "https://l/x", subject, 1, text, 1), -1);
    /* a long link against the text buffer */
    char *link = repeat('l', 600);
    char big[700];
    assert_int_equal(hpp_message_text("sv-SE", "Shop", link, subject, sizeof subject, text,
                                      sizeof text),
                     -1);
    assert_int_equal(hpp_message_text("sv-SE", "Shop", link, subject, sizeof subject, big,
                                      sizeof big),
                     0);
    assert_non_null(strstr(big, link));
    free(link);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_next_every_status_event_pair),
        cmocka_unit_test(rule_next_final_statuses_stay_final),
        cmocka_unit_test(rule_next_unknown_status_is_internal),
        cmocka_unit_test(rule_status_names_round_trip),
        cmocka_unit_test(rule_expired_from_expires_at),
        cmocka_unit_test(rule_create_minimal_body_gets_defaults),
        cmocka_unit_test(rule_create_full_body_normalized),
        cmocka_unit_test(rule_create_enums_any_case_stored_uppercase),
        cmocka_unit_test(rule_create_categories_become_kp_identifiers),
        cmocka_unit_test(rule_create_bad_field_names_its_path),
        cmocka_unit_test(rule_create_body_must_be_an_object),
        cmocka_unit_test(rule_create_lengths_at_their_boundary),
        cmocka_unit_test(rule_create_url_schemes),
        cmocka_unit_test(rule_create_reports_first_bad_field),
        cmocka_unit_test(rule_kp_session_id_from_payment_session_url),
        cmocka_unit_test(rule_allowed_categories),
        cmocka_unit_test(rule_url_fill_replaces_placeholders),
        cmocka_unit_test(rule_url_fill_overflow_at_cap),
        cmocka_unit_test(rule_distribution_valid_requests),
        cmocka_unit_test(rule_distribution_bad_field_names_its_path),
        cmocka_unit_test(rule_method_names),
        cmocka_unit_test(rule_pay_label_by_purchase_type_and_locale),
        cmocka_unit_test(rule_message_text_has_merchant_and_link),
        cmocka_unit_test(rule_message_text_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
