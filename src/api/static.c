/* static: serves the files embedded from web/: the SDK, the widget, the hosted page, badges,
 * the portal and the demo shop (a path ending in "/" serves that folder's index.html). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "http/assets.h"

/* The portal's and the demo shop's pages: Kasse's own files only; the demo frames the
 * widget, which lives at the public URL (the client_token's base_url). */
static void page_csp(const struct req *r, struct reply *out)
{
    const char *pub = r->app->public_url;
    bool plain = strspn(pub, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                             ":/.-[]") == strlen(pub);
    char csp[512];
    snprintf(csp, sizeof csp,
             "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "connect-src 'self'; frame-src 'self'%s%s; base-uri 'none'; form-action 'self'; "
             "frame-ancestors 'none'",
             plain ? " " : "", plain ? pub : "");
    reply_header(out, "Content-Security-Policy", csp);
}

int static_get(struct req *r, struct reply *out, struct kerr *err)
{
    char path[256];
    size_t n = strlen(r->path);
    if (snprintf(path, sizeof path, "%s%s", r->path, n && r->path[n - 1] == '/' ? "index.html" : "") >=
        (int)sizeof path)
        return kerr_set(err, 404, "NOT_FOUND", "No such resource: %s", r->path);
    /* the start page is a template, served filled in at "/" (portal_start) */
    const struct asset *a = strcmp(path, "/kasse/start/index.html") == 0 ? NULL : assets_find(path);
    if (!a)
        return kerr_set(err, 404, "NOT_FOUND", "No such resource: %s", r->path);
    out->status = 200;
    out->raw = a->data;
    out->raw_len = a->len;
    out->content_type = a->content_type;
    bool html = strstr(a->content_type, "text/html") != NULL;
    /* The SDK, the widget, the hosted page, the portal, the demo and their shared UI files
     * change with Kasse: browsers revalidate them (ETag-less, so a fresh copy); badges may be
     * cached. */
    bool code = strncmp(path, "/kp/", 4) == 0 || strncmp(path, "/hpp/", 5) == 0 ||
                strncmp(path, "/kasse/assets/ui/", 17) == 0 || strncmp(path, "/portal/", 8) == 0 ||
                strncmp(path, "/demo/", 6) == 0 || strncmp(path, "/kasse/start/", 13) == 0;
    reply_header(out, "Cache-Control", code ? "no-cache" : "public, max-age=3600");
    /* The widget is framed by merchants' pages on any origin: its CSP says so (and keeps it to
     * Kasse's own files); every other reply gets X-Frame-Options: DENY (http/server.c). */
    if (strncmp(path, "/kp/widget/", 11) == 0 && html)
        reply_header(out, "Content-Security-Policy",
                     "default-src 'none'; script-src 'self'; style-src 'self'; "
                     "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                     "form-action 'self'; frame-ancestors *");
    else if (html && (strncmp(path, "/portal/", 8) == 0 || strncmp(path, "/demo/", 6) == 0))
        page_csp(r, out);
    return 0;
}
