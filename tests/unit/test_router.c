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
        "/payments", "/payments/v1/sessions/", "/payments//v1/sessions",
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

/* Rule (docs/portal.md): every merchant route also matches under /portal/api, with the same
 * handler and parameters, authenticated by the portal's sign-in; public and shopper routes
 * do not. */
static void test_portal_prefix_mirrors_merchant_routes(void **state)
{
    (void)state;
    struct app app = {0};
    struct req r;
    char allow[128];
    struct kerr err = {0};
    assert_int_equal(match(&app, "POST", "/portal/api/ordermanagement/v1/orders/ID/captures", &r,
                           allow, &err), 0);
    assert_ptr_equal(r.route->handler, om_capture);
    assert_true(r.via_portal);
    assert_int_equal(req_auth_kind(&r), AUTH_PORTAL);
    assert_string_equal(r.params[0], "ID");
    free(r.path_copy);
    assert_int_equal(match(&app, "POST", "/ordermanagement/v1/orders/ID/captures", &r, allow,
                           &err), 0);
    assert_false(r.via_portal);
    assert_int_equal(req_auth_kind(&r), AUTH_MERCHANT);
    free(r.path_copy);
    const char *not_mirrored[] = {"/portal/api/kasse/v1/health", "/portal/api/kp/shopper/v1/session",
                                  "/portal/api/kp/lib/v1/api.js", "/portal/api/portal/api/session",
                                  "/portal/api/"};
    for (size_t i = 0; i < sizeof not_mirrored / sizeof *not_mirrored; i++) {
        err = (struct kerr){0};
        assert_int_equal(match(&app, "GET", not_mirrored[i], &r, allow, &err), -1);
        assert_int_equal(err.status, 404);
        free(r.path_copy);
    }
    /* the portal's own session route is its own (AUTH_PORTAL), not a mirror */
    assert_int_equal(match(&app, "DELETE", "/portal/api/session", &r, allow, &err), 0);
    assert_ptr_equal(r.route->handler, portal_sign_out);
    assert_false(r.via_portal);
    assert_int_equal(req_auth_kind(&r), AUTH_PORTAL);
    free(r.path_copy);
}

/* Rule: a folder's page is its path with the trailing slash, written so in the table; other
 * trailing-slash paths stay 404, and a template's {parameter} is never matched literally. */
static void test_folder_pages(void **state)
{
    (void)state;
    struct app app = {0};
    struct req r;
    char allow[128];
    struct kerr err = {0};
    assert_int_equal(match(&app, "GET", "/portal/", &r, allow, &err), 0);
    assert_ptr_equal(r.route->handler, static_get);
    free(r.path_copy);
    assert_int_equal(match(&app, "GET", "/", &r, allow, &err), 0);
    assert_ptr_equal(r.route->handler, portal_start);
    free(r.path_copy);
    const char *missing[] = {"/payments/v1/sessions/", "/portal//", "/demo/api/",
                             "/payments/v1/sessions/{session_id}/"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        err = (struct kerr){0};
        assert_int_equal(match(&app, "GET", missing[i], &r, allow, &err), -1);
        assert_int_equal(err.status, 404);
        free(r.path_copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_path_parameter),
        cmocka_unit_test(test_wrong_method_is_405),
        cmocka_unit_test(test_unknown_paths_are_404),
        cmocka_unit_test(test_head_is_get),
        cmocka_unit_test(test_clock_needs_test_clock),
        cmocka_unit_test(test_portal_prefix_mirrors_merchant_routes),
        cmocka_unit_test(test_folder_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
