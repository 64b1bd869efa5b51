/* kerr: filling the error record (see kerr.h). */
#include "lib/kerr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"

int kerr_set(struct kerr *err, int status, const char *code, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->status = status;
    snprintf(err->code, sizeof err->code, "%s", code);
    err->path[0] = '\0';
    err->retry_after = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int kerr_bad_value(struct kerr *err, const char *path)
{
    kerr_set(err, 400, "BAD_VALUE", "Bad value: %s", path);
    if (err)
        snprintf(err->path, sizeof err->path, "%s", path);
    return -1;
}

int kerr_unavailable(struct kerr *err, int retry_after, const char *fmt, ...)
{
    if (!err)
        return -1;
    kerr_set(err, 503, "SERVICE_UNAVAILABLE", "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->retry_after = retry_after;
    return -1;
}

int kerr_internal(struct kerr *err, const char *detail)
{
    log_error("internal error: %s", detail ? detail : "(no detail)");
    return kerr_set(err, 500, "INTERNAL_SERVER_ERROR", "Internal error");
}

void kerr_clear(struct kerr *err)
{
    memset(err, 0, sizeof *err);
}
