/* reply: building replies, reading request bodies as JSON, and Klarna's error envelope
 * {correlation_id, error_code, error_messages}. The only place an error becomes bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "lib/jsonp.h"
#include "lib/limits.h"

void reply_header(struct reply *out, const char *name, const char *value)
{
    if (out->n_headers == REPLY_MAX_HEADERS)
        return;
    snprintf(out->headers[out->n_headers].name, sizeof out->headers[0].name, "%s", name);
    snprintf(out->headers[out->n_headers].value, sizeof out->headers[0].value, "%s", value);
    out->n_headers++;
}

int reply_json(struct reply *out, int status, json_t *body, struct kerr *err)
{
    if (!body)                      /* building it failed: out of memory */
        return kerr_internal(err, "cannot build the reply");
    out->status = status;
    json_decref(out->json);
    out->json = body;
    return 0;
}

int reply_empty(struct reply *out, int status)
{
    out->status = status;
    json_decref(out->json);
    out->json = NULL;
    return 0;
}

int reply_no_content(void *arg, struct reply *out, struct kerr *err)
{
    (void)arg;
    (void)err;
    return reply_empty(out, 204);
}

int reply_accepted(void *arg, struct reply *out, struct kerr *err)
{
    (void)arg;
    (void)err;
    return reply_empty(out, 202);
}

const char *req_header(const struct req *r, const char *name)
{
    for (int i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

const char *req_query(const struct req *r, const char *name)
{
    for (int i = 0; i < r->n_query; i++)
        if (strcmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    return NULL;
}

int req_query_int(const struct req *r, const char *name, long long min, long long max,
                  long long *out, struct kerr *err)
{
    const char *v = req_query(r, name);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max)
        return kerr_bad_value(err, name);
    *out = x;
    return 0;
}

/* Whether a Content-Type names JSON: application/json or application/<anything>+json, any
 * parameters (charset=utf-8). */
static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    size_t n = strcspn(ct, "; \t");
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

json_t *req_json_body(const struct req *r, struct kerr *err)
{
    const char *data = r->body.data ? r->body.data : "";
    size_t len = r->body.len;
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    /* A body is JSON only when it says so. The types a cross-site form or a no-cors fetch can
     * send without a preflight (text/plain, form encodings, none) would let another site drive
     * a browser holding a merchant's cached Basic credentials (issue 9). */
    if (len && !is_json_type(req_header(r, "Content-Type"))) {
        kerr_set(err, 415, "UNSUPPORTED_MEDIA_TYPE",
                 "Content-Type must be application/json for a request body");
        return NULL;
    }
    if (i == len) {
        json_t *empty = json_object();
        if (!empty)
            kerr_internal(err, "out of memory");
        return empty;
    }
    char msg[256];
    struct jsonp_error where;
    json_t *v = jsonp_parse_at(data, len, LIMIT_JSON_DEPTH, msg, sizeof msg, &where);
    if (!v) {
        if (where.out_of_memory)
            kerr_internal(err, "request body: out of memory");
        /* Valid JSON with a number Kasse cannot hold is a bad value at that field. */
        else if (where.out_of_range && where.path[0] && !where.truncated)
            kerr_bad_value(err, where.path);
        else
            kerr_set(err, 400, "BAD_REQUEST", "Malformed JSON: %s", msg);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        kerr_set(err, 400, "BAD_REQUEST", "Malformed JSON: the request body must be an object");
        return NULL;
    }
    return v;
}

json_t *reply_error_body(const char *correlation_id, const struct kerr *err)
{
    json_t *messages = json_array();
    if (!messages ||
        (err->msg[0] && json_array_append_new(messages, json_string(err->msg)) != 0)) {
        json_decref(messages);
        return NULL;                  /* not an envelope without its message */
    }
    return json_pack("{s:s, s:s, s:o}", "correlation_id", correlation_id, "error_code",
                     err->code[0] ? err->code : "INTERNAL_SERVER_ERROR", "error_messages",
                     messages);
}

int reply_fallback_body(const char *correlation_id, char out[REPLY_FALLBACK_BYTES])
{
    int n = snprintf(out, REPLY_FALLBACK_BYTES,
                     "{\"correlation_id\":\"%.36s\",\"error_code\":\"INTERNAL_SERVER_ERROR\","
                     "\"error_messages\":[\"Internal error\"]}",
                     correlation_id);
    return n < 0 || n >= REPLY_FALLBACK_BYTES ? 0 : n;
}

bool reply_has_header(const struct reply *out, const char *name)
{
    for (int i = 0; i < out->n_headers; i++)
        if (strcasecmp(out->headers[i].name, name) == 0)
            return true;
    return false;
}
