/* http/parse: strict request framing (RFC 9112, issue 9 item 2). Table-driven: each head is
 * either parsed exactly or refused with the one status and error code Kasse answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/parse.h"
#include "lib/limits.h"

struct head_case {
    const char *name;
    const char *text;             /* a whole head, ending CRLF CRLF */
    int status;                   /* 0: parsed */
    const char *code;
};

static const struct head_case head_cases[] = {
    {"plain GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 0, NULL},
    {"HTTP/1.0 needs no Host", "GET /a HTTP/1.0\r\n\r\n", 0, NULL},
    {"Transfer-Encoding and Content-Length together (smuggling)",
     "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "BAD_REQUEST"},
    {"Transfer-Encoding: chunked, identity",
     "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400, "BAD_REQUEST"},
    {"duplicated Transfer-Encoding",
     "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     400, "BAD_REQUEST"},
    {"Transfer-Encoding: Chunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n",
     400, "BAD_REQUEST"},
    {"Transfer-Encoding on HTTP/1.0", "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "BAD_REQUEST"},
    {"obs-fold", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, "BAD_REQUEST"},
    {"tab-folded", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400, "BAD_REQUEST"},
    {"leading space on the first header", "GET /a HTTP/1.1\r\n Host: x\r\n\r\n", 400, "BAD_REQUEST"},
    {"space before the colon", "GET /a HTTP/1.1\r\nHost : x\r\n\r\n", 400, "BAD_REQUEST"},
    {"empty header name", "GET /a HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400, "BAD_REQUEST"},
    {"no colon", "GET /a HTTP/1.1\r\nHost: x\r\nJunk\r\n\r\n", 400, "BAD_REQUEST"},
    {"bare CR in a value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400, "BAD_REQUEST"},
    {"control character in a value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x01 b\r\n\r\n", 400,
     "BAD_REQUEST"},
    {"Content-Length: 5, 5", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", 400,
     "BAD_REQUEST"},
    {"Content-Length: +21", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +21\r\n\r\n", 400,
     "BAD_REQUEST"},
    {"Content-Length: -1", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400,
     "BAD_REQUEST"},
    {"Content-Length: 0x15", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0x15\r\n\r\n", 400,
     "BAD_REQUEST"},
    {"Content-Length: 2^64", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n",
     413, "REQUEST_TOO_LARGE"},
    {"Content-Length with trailing space", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2 \r\n\r\n",
     400, "BAD_REQUEST"},
    {"empty Content-Length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400,
     "BAD_REQUEST"},
    {"duplicated Content-Length (same value)",
     "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", 400,
     "BAD_REQUEST"},
    {"HTTP/1.1 without Host", "GET /a HTTP/1.1\r\nX: y\r\n\r\n", 400, "BAD_REQUEST"},
    {"two Host headers", "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "BAD_REQUEST"},
    {"HTTP/1.2", "GET /a HTTP/1.2\r\nHost: x\r\n\r\n", 505, "HTTP_VERSION_NOT_SUPPORTED"},
    {"HTTP/2.0", "GET /a HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP_VERSION_NOT_SUPPORTED"},
    {"HTTP/1.10", "GET /a HTTP/1.10\r\nHost: x\r\n\r\n", 400, "BAD_REQUEST"},
    {"lower-case version", "GET /a http/1.1\r\nHost: x\r\n\r\n", 400, "BAD_REQUEST"},
    {"two spaces in the request line", "GET  /a HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BAD_REQUEST"},
    {"tab in the request line", "GET\t/a HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BAD_REQUEST"},
    {"no version", "GET /a\r\nHost: x\r\n\r\n", 400, "BAD_REQUEST"},
    {"bad method character", "G(T /a HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BAD_REQUEST"},
    {"target not starting with /", "GET a HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BAD_REQUEST"},
    {"Expect other than 100-continue", "POST /a HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417,
     "EXPECTATION_FAILED"},
};

static void test_heads_are_parsed_or_refused_exactly(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof head_cases / sizeof head_cases[0]; i++) {
        const struct head_case *tc = &head_cases[i];
        char *text = strdup(tc->text);
        struct http_head h;
        struct kerr err = {0};
        int rc = http_parse_head(text, strlen(text), &h, &err);
        if (tc->status == 0 && rc != 0)
            fail_msg("%s: refused with %d %s (%s)", tc->name, err.status, err.code, err.msg);
        if (tc->status != 0 && (rc == 0 || err.status != tc->status || strcmp(err.code, tc->code)))
            fail_msg("%s: expected %d %s, got rc=%d %d %s", tc->name, tc->status, tc->code, rc,
                     err.status, err.code);
        http_head_free(&h);
        free(text);
    }
}

static void test_a_parsed_head_has_its_fields(void **state)
{
    (void)state;
    char text[] = "POST /a%2Fb%00c?x=1&y=a+b%21&flag&=v&&z= HTTP/1.1\r\nHost: k\r\n"
                  "Content-Length: 12\r\nX-Pad:   spaced value \t\r\nConnection: Close\r\n\r\n";
    struct http_head h;
    struct kerr err = {0};
    assert_int_equal(http_parse_head(text, strlen(text), &h, &err), 0);
    assert_string_equal(h.method, "POST");
    assert_string_equal(h.path, "/a/b%00c");       /* %00 stays as written */
    assert_int_equal(h.minor, 1);
    assert_int_equal(h.body, HTTP_BODY_LENGTH);
    assert_int_equal(h.content_length, 12);
    assert_false(h.keep_alive);
    assert_string_equal(http_head_header(&h, "x-pad"), "spaced value");
    assert_int_equal(h.n_query, 5);
    assert_string_equal(h.query[0].name, "x");
    assert_string_equal(h.query[0].value, "1");
    assert_string_equal(h.query[1].value, "a b!");
    assert_string_equal(h.query[2].name, "flag");
    assert_null(h.query[2].value);
    assert_string_equal(h.query[3].name, "");
    assert_string_equal(h.query[4].name, "z");
    assert_string_equal(h.query[4].value, "");
    http_head_free(&h);

    char old[] = "GET http://example.com/kp?q HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    assert_int_equal(http_parse_head(old, strlen(old), &h, &err), 0);
    assert_string_equal(h.path, "/kp");            /* absolute-form: the path is served */
    assert_int_equal(h.minor, 0);
    assert_true(h.keep_alive);
    assert_int_equal(h.body, HTTP_BODY_NONE);
    http_head_free(&h);
}

static void test_limits_answer_414_and_431(void **state)
{
    (void)state;
    /* a path over LIMIT_URL_BYTES → 414 */
    size_t n = LIMIT_URL_BYTES + 64;
    char *text = malloc(n + 64);
    int len = snprintf(text, n + 64, "GET /%0*d HTTP/1.1\r\nHost: x\r\n\r\n", (int)n, 0);
    struct http_head h;
    struct kerr err = {0};
    assert_int_equal(http_parse_head(text, (size_t)len, &h, &err), -1);
    assert_int_equal(err.status, 414);
    http_head_free(&h);
    free(text);
    /* more query arguments than LIMIT_QUERY_ARGS → 414 */
    struct buf b;
    buf_init(&b, 1 << 20);
    buf_printf(&b, "GET /a?");
    for (int i = 0; i <= LIMIT_QUERY_ARGS; i++)
        buf_printf(&b, "a&");
    buf_printf(&b, " HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(http_parse_head(b.data, b.len, &h, &err), -1);
    assert_int_equal(err.status, 414);
    http_head_free(&h);
    buf_free(&b);
    /* more header fields than LIMIT_HEADER_FIELDS → 431 */
    buf_init(&b, 1 << 20);
    buf_printf(&b, "GET /a HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < LIMIT_HEADER_FIELDS; i++)
        buf_printf(&b, "X-%d: v\r\n", i);
    buf_printf(&b, "\r\n");
    assert_int_equal(http_parse_head(b.data, b.len, &h, &err), -1);
    assert_int_equal(err.status, 431);
    http_head_free(&h);
    buf_free(&b);
}

static void test_head_end_finds_the_end_and_refuses_bare_lf_and_nul(void **state)
{
    (void)state;
    const char *ok = "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nNEXT";
    size_t scanned = 0, skip = 0;
    struct kerr err = {0};
    /* fed one byte at a time, the end is found exactly once, after the leading empty lines */
    long found = 0;
    for (size_t len = 1; len <= strlen(ok) && found == 0; len++)
        found = http_head_end(ok, len, &scanned, &skip, &err);
    assert_int_equal(skip, 4);
    assert_int_equal(found, (long)strlen("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));

    const char *bad[] = {"GET / HTTP/1.1\nHost: x\n\n", "GET / HTTP/1.1\r\nHost: x\n\r\n",
                         "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"};
    size_t bad_len[] = {strlen(bad[0]), strlen(bad[1]), 26};
    for (int i = 0; i < 3; i++) {
        scanned = skip = 0;
        assert_int_equal(http_head_end(bad[i], bad_len[i], &scanned, &skip, &err), -1);
        assert_int_equal(err.status, 400);
    }
    /* a request line that never ends → 414; a head that never ends → 431 */
    char *big = malloc(LIMIT_HEAD_BYTES + 16);
    memset(big, 'a', LIMIT_HEAD_BYTES + 16);
    scanned = skip = 0;
    assert_int_equal(http_head_end(big, LIMIT_REQUEST_LINE_BYTES + 1, &scanned, &skip, &err), -1);
    assert_int_equal(err.status, 414);
    memcpy(big, "GET / HTTP/1.1\r\n", 16);
    scanned = skip = 0;
    assert_int_equal(http_head_end(big, LIMIT_HEAD_BYTES + 16, &scanned, &skip, &err), -1);
    assert_int_equal(err.status, 431);
    free(big);
}

/* Feeds a chunked body split at every position; the decoded body and the bytes left over
 * must be the same whatever the split. */
static void check_chunked(const char *in, const char *want, size_t rest)
{
    size_t len = strlen(in);
    for (size_t split = 0; split <= len; split++) {
        struct http_chunked c = {0};
        struct buf body;
        buf_init(&body, 1024);
        bool done = false;
        struct kerr err = {0};
        long a = http_chunked_feed(&c, in, split, &body, &done, &err);
        assert_true(a >= 0);
        long used = a;
        if (!done) {
            assert_int_equal(a, (long)split);
            long b = http_chunked_feed(&c, in + split, len - split, &body, &done, &err);
            assert_true(b >= 0);
            used += b;
        }
        assert_true(done);
        assert_int_equal(len - (size_t)used, rest);
        assert_int_equal(body.len, strlen(want));
        assert_memory_equal(body.data ? body.data : "", want, body.len);
        buf_free(&body);
    }
}

static void test_chunked_bodies_decode_whatever_the_split(void **state)
{
    (void)state;
    check_chunked("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", "hello world", 0);
    check_chunked("A\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\nGET /next", "0123456789", 9);
    check_chunked("0\r\n\r\n", "", 0);
    check_chunked("00003\r\nabc\r\n0 ;x\r\n\r\n", "abc", 0);
}

static void test_malformed_or_large_chunked_bodies_are_refused(void **state)
{
    (void)state;
    const struct {
        const char *in;
        int status;
    } cases[] = {
        {"5\nhello\r\n0\r\n\r\n", 400},            /* bare LF after the size */
        {"5\r\nhello0\r\n\r\n", 400},              /* no CRLF after the data */
        {"x\r\n", 400},                            /* not hex */
        {"\r\n", 400},                             /* no size */
        {"-5\r\n", 400},
        {"0\r\nBad Trailer\r\n\r\n", 400},        /* only a token starts a trailer */
        {"fffffffffffffffff\r\n", 413},            /* 17 hex digits */
        {"401\r\n", 413},                          /* one chunk past the 1024-byte limit */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_chunked c = {0};
        struct buf body;
        buf_init(&body, 1024);
        bool done = false;
        struct kerr err = {0};
        long n = http_chunked_feed(&c, cases[i].in, strlen(cases[i].in), &body, &done, &err);
        if (n != -1 || err.status != cases[i].status)
            fail_msg("case %zu (%s): n=%ld status=%d", i, cases[i].in, n, err.status);
        buf_free(&body);
    }
    /* many small chunks past the limit → 413 */
    struct http_chunked c = {0};
    struct buf body;
    buf_init(&body, 16);
    bool done = false;
    struct kerr err = {0};
    const char *in = "8\r\n12345678\r\n8\r\n12345678\r\n1\r\nx\r\n0\r\n\r\n";
    assert_int_equal(http_chunked_feed(&c, in, strlen(in), &body, &done, &err), -1);
    assert_int_equal(err.status, 413);
    buf_free(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heads_are_parsed_or_refused_exactly),
        cmocka_unit_test(test_a_parsed_head_has_its_fields),
        cmocka_unit_test(test_limits_answer_414_and_431),
        cmocka_unit_test(test_head_end_finds_the_end_and_refuses_bare_lf_and_nul),
        cmocka_unit_test(test_chunked_bodies_decode_whatever_the_split),
        cmocka_unit_test(test_malformed_or_large_chunked_bodies_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
