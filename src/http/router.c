/* router: matches a request's method and path against the route table (api/routes.c).
 * Templates are literal segments and {name} parameters; parameters match one non-empty
 * segment. Routes flagged ROUTE_TEST_CLOCK exist only when the server runs with --test-clock.
 * Every AUTH_MERCHANT route also matches under PORTAL_PREFIX ("/portal/api" + its template),
 * where it authenticates by the portal's sign-in (docs/portal.md): one operation, one code
 * path, whether a merchant's server or the portal calls it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "lib/ids.h"
#include "lib/mem.h"

#define MAX_SEGMENTS 16

/* Splits s in place at '/' (leading slash skipped); returns the segment count or -1 when there
 * are too many or an empty segment (a "//" or trailing "/"). */
static int split(char *s, char **seg)
{
    int n = 0;
    if (*s != '/')
        return -1;
    s++;
    if (!*s)
        return 0;
    for (;;) {
        if (n == MAX_SEGMENTS)
            return -1;
        char *slash = strchr(s, '/');
        if (slash)
            *slash = '\0';
        if (!*s)
            return -1;
        seg[n++] = s;
        if (!slash)
            return n;
        s = slash + 1;
    }
}

/* Compares the path's segments with a template; on a match fills params. */
static bool matches(const char *template, char **seg, int n, char **params)
{
    const char *t = template + 1;
    int i = 0, p = 0;
    while (*t) {
        const char *end = strchr(t, '/');
        size_t len = end ? (size_t)(end - t) : strlen(t);
        if (i >= n)
            return false;
        if (t[0] == '{') {
            if (p == HTTP_MAX_PARAMS)
                return false;
            params[p++] = seg[i];
        } else if (strlen(seg[i]) != len || memcmp(seg[i], t, len) != 0) {
            return false;
        }
        i++;
        t += len;
        if (*t == '/')
            t++;
    }
    return i == n;
}

int router_match(struct req *r, char *allow, size_t allow_cap, struct kerr *err)
{
    free(r->path_copy);
    r->path_copy = mem_strdup(r->path);
    if (!r->path_copy)
        return kerr_internal(err, "router: out of memory");
    char *seg[MAX_SEGMENTS];
    /* n < 0 (an empty segment, e.g. a trailing slash): only a template written exactly so
     * ("/portal/", a page's folder) can match. */
    int n = split(r->path_copy, seg);

    /* "/portal/api/..." : the segments after the prefix, for merchant routes */
    bool portal = n > 2 && strcmp(seg[0], "portal") == 0 && strcmp(seg[1], "api") == 0;
    bool path_known = false;
    allow[0] = '\0';
    r->via_portal = false;
    for (const struct route *rt = routes_table; rt->method; rt++) {
        if ((rt->flags & ROUTE_TEST_CLOCK) && !r->app->test_clock)
            continue;
        char *params[HTTP_MAX_PARAMS] = {0};
        bool mirrored = false;
        bool exact = n < 0 && !strchr(rt->template, '{') && strcmp(rt->template, r->path) == 0;
        if (!exact && (n < 0 || !matches(rt->template, seg, n, params))) {
            if (!portal || rt->auth != AUTH_MERCHANT || !matches(rt->template, seg + 2, n - 2,
                                                                 params))
                continue;
            mirrored = true;
        }
        /* HEAD is GET without the body (server.c sends the head only). */
        if (strcmp(rt->method, r->method) == 0 ||
            (strcmp(r->method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0)) {
            r->route = rt;
            r->via_portal = mirrored;
            memcpy(r->params, params, sizeof params);
            /* UUIDs are case-insensitive on input (RFC 9562); Kasse stores them lowercase. */
            for (int i = 0; i < HTTP_MAX_PARAMS && r->params[i]; i++)
                if (ids_is_uuid(r->params[i]))
                    ids_lowercase(r->params[i]);
            return 0;
        }
        path_known = true;
        size_t used = strlen(allow);
        snprintf(allow + used, allow_cap - used, "%s%s", used ? ", " : "", rt->method);
    }
    if (path_known)
        return kerr_set(err, 405, "METHOD_NOT_ALLOWED", "Method %s not allowed for %s",
                        r->method, r->path);
    return kerr_set(err, 404, "NOT_FOUND", "No such resource: %s", r->path);
}

enum auth_kind req_auth_kind(const struct req *r)
{
    return r->via_portal ? AUTH_PORTAL : r->route->auth;
}
