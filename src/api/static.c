/* static: serves the files embedded from web/ (badges now; the SDK and widget later). */
#include <stdbool.h>
#include <string.h>

#include "api/api.h"
#include "http/assets.h"

int static_get(struct req *r, struct reply *out, struct kerr *err)
{
    const struct asset *a = assets_find(r->path);
    if (!a)
        return kerr_set(err, 404, "NOT_FOUND", "No such resource: %s", r->path);
    out->status = 200;
    out->raw = a->data;
    out->raw_len = a->len;
    out->content_type = a->content_type;
    /* The SDK, the widget, the hosted page and their shared UI files change with Kasse:
     * browsers revalidate them (ETag-less, so a fresh copy); badges may be cached. */
    bool code = strncmp(r->path, "/kp/", 4) == 0 || strncmp(r->path, "/hpp/", 5) == 0 ||
                strncmp(r->path, "/kasse/assets/ui/", 17) == 0;
    reply_header(out, "Cache-Control", code ? "no-cache" : "public, max-age=3600");
    /* The widget is framed by merchants' pages on any origin: its CSP says so (and keeps it to
     * Kasse's own files); every other reply gets X-Frame-Options: DENY (http/server.c). */
    if (strncmp(r->path, "/kp/widget/", 11) == 0 && strstr(a->content_type, "text/html"))
        reply_header(out, "Content-Security-Policy",
                     "default-src 'none'; script-src 'self'; style-src 'self'; "
                     "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                     "form-action 'self'; frame-ancestors *");
    return 0;
}
