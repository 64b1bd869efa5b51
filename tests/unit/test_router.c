/* Unit tests for http/router against the real route table: exact matches with parameters,
 * 405 with the allowed methods, 404 for unknown and malformed paths, HEAD as GET, and routes
 * that exist only with --test-clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"

static int match(struct app *app, const char *method, const char *path, struct req *r,
                 char *allow, struct kerr *err)
{
    memset(r, 0, sizeof *r);
    r->app = app;
    r->method = method;
    r->path = path;
    return router_match(r, allow, 128, err);
}

/* Rule: a path parameter matches one segment and is handed to the handler. */
static void test_session_path_parameter(void **state)
{
    (void)state;
    struct app app = {0};
    struct req r;
    char allow[128];
    struct kerr err = {0};
    assert_int_equal(match(&app, "GET", "/payments/v1/sessions/abc-123", &r, allow, &err), 0);
    assert_ptr_equal(r.route->handler, payments_read_session);
    assert_string_equal(r.params[0], "abc-123");
    free(r.path_copy);
    assert_int_equal(match(&app, "POST", "/payments/v1/sessions/abc-123", &r, allow, &err), 0);
    assert_ptr_equal(r.route->handler, payments_update_session);
    free(r.path_copy);
    assert_int_equal(match(&app, "POST", "/payments/v1/sessions", &r, allow, &err), 0);
    assert_ptr_equal(r.route->handler, payments_create_session);
    free(r.path_copy);
}

/* Rule: a known path with another method is 405 METHOD_NOT_ALLOWED listing the methods. */
static void test_wrong_method_is_405(void **state)
{
    (void)state;
    struct app app = {0};
    struct req r;
    char allow[128];
    struct kerr err = {0};
    assert_int_equal(match(&app, "PUT", "/payments/v1/sessions/x", &r, allow, &err), -1);
    assert_int_equal(err.status, 405);
    assert_string_equal(err.code, "METHOD_NOT_ALLOWED");
    assert_string_equal(allow, "GET, POST, DELETE");
    free(r.path_copy);
}

/* Rule: unknown, empty-segment and trailing-slash paths are 404 NOT_FOUND. */
static void test_unknown_paths_are_404(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/", "/payments", "/payments/v1/sessions/", "/payments//v1/sessions",
        "/payments/v1/sessions/a/b", "/PAYMENTS/v1/sessions", "payments/v1/sessions",
        "/kasse/v1/clock",     /* only with --test-clock */
    };
    struct app app = {0};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct req r;
        char allow[128];
        struct kerr err = {0};
        assert_int_equal(match(&app, "GET", paths[i], &r, allow, &err), -1);
        assert_int_equal(err.status, 404);
        assert_string_equal(err.code, "NOT_FOUND");
        free(r.path_copy);
    }
}

/* Rule: HEAD is served by the GET route. */
static void test_head_is_get(void **state)
{
    (void)state;
    struct app app = {0};
    struct req r;
    char allow[128];
    struct kerr err = {0};
    assert_int_equal(match(&app, "HEAD", "/kasse/assets/badges/klarna.svg", &r, allow, &err), 0);
    assert_ptr_equal(r.route->handler, static_get);
    free(r.path_copy);
}

/* Rule: the clock endpoints exist only when the server runs with --test-clock. */
static void test_clock_needs_test_clock(void **state)
{
    (void)state;
    struct app app = {0};
    app.test_clock = true;
    struct req r;
    char allow[128];
    struct kerr err = {0};
    assert_int_equal(match(&app, "POST", "/kasse/v1/clock", &r, allow, &err), 0);
    assert_ptr_equal(r.route->handler, control_advance_clock);
    free(r.path_copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_path_parameter),
        cmocka_unit_test(test_wrong_method_is_405),
        cmocka_unit_test(test_unknown_paths_are_404),
        cmocka_unit_test(test_head_is_get),
        cmocka_unit_test(test_clock_needs_test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
