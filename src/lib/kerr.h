/* kerr: Kasse's one error convention.
 *
 * A function that can fail returns 0 or -1 and, on -1, has filled a struct kerr at the point
 * where the problem was found: the HTTP status, Klarna's error_code, the JSON path of the bad
 * field (empty when none) and the message that goes into error_messages[0]. Only http/reply
 * renders it. */
#ifndef KASSE_KERR_H
#define KASSE_KERR_H

#include <stddef.h>

struct kerr {
    int status;       /* HTTP status, e.g. 400 */
    char code[48];    /* Klarna error_code, e.g. "BAD_VALUE" */
    char path[256];   /* JSON path of the first bad field, "" if none */
    char msg[512];    /* error_messages[0]; "" renders as an empty list */
    int retry_after;  /* seconds; > 0 adds Retry-After to the reply (503: the store cannot
                       * take writes now, e.g. a full disk) */
};

/* Fills err (if not NULL) and returns -1 so callers can `return kerr_set(...)`. */
int kerr_set(struct kerr *err, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 400 BAD_VALUE "Bad value: <path>", path recorded; returns -1. */
int kerr_bad_value(struct kerr *err, const char *path);

/* 503 SERVICE_UNAVAILABLE with Retry-After: retry_after seconds; returns -1. */
int kerr_unavailable(struct kerr *err, int retry_after, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 500 INTERNAL_SERVER_ERROR "Internal error"; the detail goes to the log, never to the client. */
int kerr_internal(struct kerr *err, const char *detail);

void kerr_clear(struct kerr *err);

#endif
