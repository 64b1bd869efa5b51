/* reply: building replies, reading request bodies as JSON, and Klarna's error envelope
 * {correlation_id, error_code, error_messages}. The only place an error becomes bytes. */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "lib/limits.h"

void reply_header(struct reply *out, const char *name, const char *value)
{
    if (out->n_headers == REPLY_MAX_HEADERS)
        return;
    snprintf(out->headers[out->n_headers].name, sizeof out->headers[0].name, "%s", name);
    snprintf(out->headers[out->n_headers].value, sizeof out->headers[0].value, "%s", value);
    out->n_headers++;
}

int reply_json(struct reply *out, int status, json_t *body)
{
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

const char *req_header(const struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* Depth of the deepest nesting of objects and arrays, counted outside strings; stops counting
 * past limit. jansson has no depth option of its own. */
static int json_depth_exceeds(const char *s, size_t n, int limit)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > limit)
                return 1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

json_t *req_json_body(const struct req *r, struct kerr *err)
{
    const char *data = r->body.data ? r->body.data : "";
    size_t len = r->body.len;
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    if (i == len) {
        json_t *empty = json_object();
        if (!empty)
            kerr_internal(err, "out of memory");
        return empty;
    }
    if (json_depth_exceeds(data, len, LIMIT_JSON_DEPTH)) {
        kerr_set(err, 400, "BAD_REQUEST", "Malformed JSON: nesting deeper than %d levels",
                 LIMIT_JSON_DEPTH);
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        kerr_set(err, 400, "BAD_REQUEST", "Malformed JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
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
    if (messages && err->msg[0])
        json_array_append_new(messages, json_string(err->msg));
    return json_pack("{s:s, s:s, s:o*}", "correlation_id", correlation_id, "error_code",
                     err->code[0] ? err->code : "INTERNAL_SERVER_ERROR", "error_messages",
                     messages);
}
