/* parse: strict HTTP/1.1 request heads and chunked bodies (RFC 9112), pure.
 *
 * Refused, each with one reply and the connection closed afterwards (server.c): a bare LF or
 * CR, NUL or another control character in the head; a header line starting with white space
 * (obs-fold, or space before the first header); white space before a header's colon or an
 * empty or non-token name; a request line that is not exactly "method SP target SP version";
 * a Content-Length that is not plain digits (signs, hex, lists, trailing white space,
 * overflow) or that appears twice; a Transfer-Encoding other than exactly one "chunked"
 * (lists, "Chunked", duplicates) or any Transfer-Encoding on HTTP/1.0; Transfer-Encoding
 * together with Content-Length (the smuggling shape); HTTP/1.1 without exactly one Host. */
#include "http/parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/limits.h"

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB, including obs-text (bytes >= 0x80) */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

long http_head_end(const char *buf, size_t len, size_t *scanned, size_t *skip, struct kerr *err)
{
    size_t i = *scanned;
    /* Empty lines before the request line (a client's stray CRLF after a body). */
    if (i == *skip) {
        while (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
            i += 2;
        if (i + 1 == len && buf[i] == '\r') {
            *scanned = *skip = i;
            return 0;
        }
        *skip = i;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\0')
            return kerr_set(err, 400, "BAD_REQUEST", "Malformed request: NUL in the head");
        if (c == '\n') {
            if (i == *skip || buf[i - 1] != '\r')
                return kerr_set(err, 400, "BAD_REQUEST",
                                "Malformed request: lines must end with CRLF");
            if (i - *skip >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
                *scanned = i + 1;
                return (long)(i + 1 - *skip);
            }
        }
    }
    *scanned = i;
    /* Still no end: is it already too long? The request line is the first line. */
    const char *line = buf + *skip;
    size_t have = len - *skip;
    const char *eol = memchr(line, '\n', have);
    if (!eol && have > LIMIT_REQUEST_LINE_BYTES)
        return kerr_set(err, 414, "URI_TOO_LONG", "Request line longer than %d bytes",
                        LIMIT_REQUEST_LINE_BYTES);
    if (have > LIMIT_HEAD_BYTES)
        return kerr_set(err, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE",
                        "Request headers larger than %d bytes", LIMIT_HEAD_BYTES);
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A decoded NUL would cut the C string ("widget.js%00.png" would name "widget.js"), so %00
 * stays as written and matches no route and no file. */
size_t http_unescape(char *s, bool plus)
{
    char *w = s;
    for (const char *p = s; *p;) {
        int hi, lo;
        if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            p += 3;
        } else if (plus && *p == '+') {
            *w++ = ' ';
            p++;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* Splits the query (in place) into arguments. */
static int parse_query(char *q, struct http_head *h, struct kerr *err)
{
    int n = 1;
    for (const char *p = q; *p; p++)
        n += *p == '&';
    if (n > LIMIT_QUERY_ARGS)
        return kerr_set(err, 414, "URI_TOO_LONG", "More than %d query arguments",
                        LIMIT_QUERY_ARGS);
    h->query = calloc((size_t)n, sizeof *h->query);
    if (!h->query)
        return kerr_internal(err, "out of memory");
    for (char *arg = q; arg;) {
        char *next = strchr(arg, '&');
        if (next)
            *next++ = '\0';
        if (*arg) {
            char *eq = strchr(arg, '=');
            if (eq)
                *eq++ = '\0';
            http_unescape(arg, true);
            if (eq)
                http_unescape(eq, true);
            h->query[h->n_query].name = arg;
            h->query[h->n_query].value = eq;
            h->n_query++;
        }
        arg = next;
    }
    return 0;
}

static int parse_request_line(char *line, struct http_head *h, struct kerr *err)
{
    char *sp1 = strchr(line, ' ');
    if (!sp1 || sp1 == line)
        return kerr_set(err, 400, "BAD_REQUEST", "Malformed request line");
    *sp1 = '\0';
    for (const char *p = line; *p; p++)
        if (!is_tchar((unsigned char)*p))
            return kerr_set(err, 400, "BAD_REQUEST", "Malformed request method");
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target)
        return kerr_set(err, 400, "BAD_REQUEST", "Malformed request line");
    *sp2 = '\0';
    char *version = sp2 + 1;
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT; only 1.1 and 1.0 are served. */
    if (strncmp(version, "HTTP/", 5) != 0 || !(version[5] >= '0' && version[5] <= '9') ||
        version[6] != '.' || !(version[7] >= '0' && version[7] <= '9') || version[8])
        return kerr_set(err, 400, "BAD_REQUEST", "Malformed request line");
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
        return kerr_set(err, 505, "HTTP_VERSION_NOT_SUPPORTED", "HTTP version not supported");
    h->minor = version[7] - '0';
    h->method = line;
    for (const unsigned char *p = (unsigned char *)target; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return kerr_set(err, 400, "BAD_REQUEST", "Malformed request target");
    /* absolute-form (RFC 9112 §3.2.2): the authority is ignored, the path served. */
    if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
        char *authority = strstr(target, "//") + 2;
        target = authority + strcspn(authority, "/?#");   /* no path: refused below */
    }
    if (target[0] != '/')
        return kerr_set(err, 400, "BAD_REQUEST", "Malformed request target");
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    if (strlen(target) > LIMIT_URL_BYTES)
        return kerr_set(err, 414, "URI_TOO_LONG", "Request path longer than %d bytes",
                        LIMIT_URL_BYTES);
    char *hash = strchr(q ? q : target, '#');
    if (hash)
        *hash = '\0';
    http_unescape(target, false);
    h->path = target;
    return q ? parse_query(q, h, err) : 0;
}

const char *http_head_header(const struct http_head *h, const char *name)
{
    for (int i = 0; i < h->n_headers; i++)
        if (strcasecmp(h->headers[i].name, name) == 0)
            return h->headers[i].value;
    return NULL;
}

static int header_count(const struct http_head *h, const char *name)
{
    int n = 0;
    for (int i = 0; i < h->n_headers; i++)
        n += strcasecmp(h->headers[i].name, name) == 0;
    return n;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
static bool lists_token(const char *value, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = value; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        if ((size_t)(last - p) == n && strncasecmp(p, token, n) == 0)
            return true;
        p = end;
    }
    return false;
}

/* Framing from Content-Length and Transfer-Encoding (RFC 9112 §6), refusing every ambiguity. */
static int parse_framing(struct http_head *h, struct kerr *err)
{
    int n_cl = header_count(h, "Content-Length");
    int n_te = header_count(h, "Transfer-Encoding");
    if (n_cl > 1)
        return kerr_set(err, 400, "BAD_REQUEST", "Duplicated Content-Length header");
    if (n_te > 1)
        return kerr_set(err, 400, "BAD_REQUEST", "Duplicated Transfer-Encoding header");
    if (n_te && n_cl)
        return kerr_set(err, 400, "BAD_REQUEST",
                        "Transfer-Encoding and Content-Length in one request");
    if (n_te) {
        const char *te = http_head_header(h, "Transfer-Encoding");
        if (h->minor == 0)
            return kerr_set(err, 400, "BAD_REQUEST", "Transfer-Encoding in an HTTP/1.0 request");
        if (strcmp(te, "chunked") != 0)
            return kerr_set(err, 400, "BAD_REQUEST", "Unsupported Transfer-Encoding: %.64s", te);
        h->body = HTTP_BODY_CHUNKED;
        return 0;
    }
    if (n_cl) {
        const char *cl = http_head_header(h, "Content-Length");
        uint64_t v = 0;
        const char *p = cl;
        for (; *p >= '0' && *p <= '9'; p++)
            if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, (unsigned)(*p - '0'), &v))
                return kerr_set(err, 413, "REQUEST_TOO_LARGE",
                                "Request body larger than %d bytes", LIMIT_BODY_BYTES);
        if (p == cl || *p)
            return kerr_set(err, 400, "BAD_REQUEST", "Invalid Content-Length header");
        h->content_length = v;
        h->body = v ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
    }
    return 0;
}

int http_parse_head(char *text, size_t len, struct http_head *h, struct kerr *err)
{
    memset(h, 0, sizeof *h);
    h->minor = 1;
    if (len < 4 || memcmp(text + len - 4, "\r\n\r\n", 4) != 0)
        return kerr_set(err, 400, "BAD_REQUEST", "Malformed request");
    text[len - 2] = '\0';        /* the head ends after the last header line's CRLF */
    int lines = 0;
    for (size_t i = 0; i + 1 < len - 2; i++)
        lines += text[i] == '\r';
    if (lines - 1 > LIMIT_HEADER_FIELDS)
        return kerr_set(err, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE",
                        "More than %d header fields", LIMIT_HEADER_FIELDS);
    h->headers = calloc((size_t)(lines > 0 ? lines : 1), sizeof *h->headers);
    if (!h->headers)
        return kerr_internal(err, "out of memory");
    /* Every line ends with CRLF (http_head_end checked LF; a CR elsewhere is refused here). */
    char *line = text;
    char *cr = strchr(line, '\r');
    if (!cr || cr[1] != '\n')
        return kerr_set(err, 400, "BAD_REQUEST", "Malformed request line");
    *cr = '\0';
    if (parse_request_line(line, h, err) != 0)
        return -1;
    for (line = cr + 2; *line; line = cr + 2) {
        cr = strchr(line, '\r');
        if (!cr || cr[1] != '\n')
            return kerr_set(err, 400, "BAD_REQUEST", "Malformed header line");
        *cr = '\0';
        if (line[0] == ' ' || line[0] == '\t')
            return kerr_set(err, 400, "BAD_REQUEST",
                            "Malformed header line: folded or starting with white space");
        char *colon = line;
        while (is_tchar((unsigned char)*colon))
            colon++;
        if (colon == line || *colon != ':')
            return kerr_set(err, 400, "BAD_REQUEST", "Malformed header field name");
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        char *end = value + strlen(value);
        for (const char *p = value; p < end; p++)
            if (!is_value_char((unsigned char)*p))
                return kerr_set(err, 400, "BAD_REQUEST", "Invalid character in header %.64s",
                                line);
        /* Content-Length must be digits to the line's end; elsewhere trailing OWS goes. */
        if (strcasecmp(line, "Content-Length") != 0)
            while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
                *--end = '\0';
        h->headers[h->n_headers].name = line;
        h->headers[h->n_headers].value = value;
        h->n_headers++;
    }
    int n_host = header_count(h, "Host");
    if (n_host > 1 || (h->minor == 1 && n_host == 0))
        return kerr_set(err, 400, "BAD_REQUEST", "HTTP/1.1 requests need exactly one Host header");
    if (parse_framing(h, err) != 0)
        return -1;
    const char *conn = http_head_header(h, "Connection");
    h->keep_alive = h->minor == 1 ? !(conn && lists_token(conn, "close"))
                                  : (conn && lists_token(conn, "keep-alive"));
    const char *expect = http_head_header(h, "Expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return kerr_set(err, 417, "EXPECTATION_FAILED", "Unsupported Expect: %.64s", expect);
        h->expect_continue = h->minor == 1;
    }
    return 0;
}

void http_head_free(struct http_head *h)
{
    free(h->headers);
    free(h->query);
    h->headers = NULL;
    h->query = NULL;
    h->n_headers = h->n_query = 0;
}

/* ---- chunked bodies ---- */

enum {
    CH_SIZE,        /* hex digits */
    CH_SIZE_WS,     /* white space after the size, before ';' */
    CH_EXT,         /* chunk extension, up to CR */
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER,     /* start of a trailer line, or the final CRLF */
    CH_TRAILER_NAME,
    CH_TRAILER_LINE,
    CH_TRAILER_LF,
    CH_END_LF,
    CH_DONE,
};

static long bad_chunk(struct kerr *err)
{
    return kerr_set(err, 400, "BAD_REQUEST", "Malformed chunked body");
}

long http_chunked_feed(struct http_chunked *c, const char *in, size_t len, struct buf *body,
                       bool *done, struct kerr *err)
{
    size_t i = 0;
    *done = false;
    while (i < len) {
        unsigned char ch = (unsigned char)in[i];
        switch (c->state) {
        case CH_SIZE: {
            int v = hexval((char)ch);
            if (v >= 0) {
                if (++c->digits > 16 || c->left > (UINT64_MAX >> 4))
                    return kerr_set(err, 413, "REQUEST_TOO_LARGE",
                                    "Request body larger than %d bytes", LIMIT_BODY_BYTES);
                c->left = c->left * 16 + (uint64_t)v;
                i++;
                break;
            }
            if (c->digits == 0)
                return bad_chunk(err);
            if (c->left > body->max - body->len)
                return kerr_set(err, 413, "REQUEST_TOO_LARGE",
                                "Request body larger than %d bytes", LIMIT_BODY_BYTES);
            if (ch == ' ' || ch == '\t')
                c->state = CH_SIZE_WS;
            else if (ch == ';')
                c->state = CH_EXT;
            else if (ch == '\r')
                c->state = CH_SIZE_LF;
            else
                return bad_chunk(err);
            c->line = 0;
            i++;
            break;
        }
        case CH_SIZE_WS:
            if (ch == ';')
                c->state = CH_EXT;
            else if (ch != ' ' && ch != '\t')
                return bad_chunk(err);
            if (++c->line > LIMIT_CHUNK_LINE_BYTES)
                return bad_chunk(err);
            i++;
            break;
        case CH_EXT:
            if (ch == '\r')
                c->state = CH_SIZE_LF;
            else if (!is_value_char(ch) || ++c->line > LIMIT_CHUNK_LINE_BYTES)
                return bad_chunk(err);
            i++;
            break;
        case CH_SIZE_LF:
            if (ch != '\n')
                return bad_chunk(err);
            i++;
            c->digits = 0;
            c->state = c->left ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA: {
            size_t n = len - i;
            if (n > c->left)
                n = (size_t)c->left;
            if (buf_append(body, in + i, n) != 0)
                return kerr_set(err, 413, "REQUEST_TOO_LARGE",
                                "Request body larger than %d bytes", LIMIT_BODY_BYTES);
            c->left -= n;
            i += n;
            if (c->left == 0)
                c->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (ch != '\r')
                return bad_chunk(err);
            c->state = CH_DATA_LF;
            i++;
            break;
        case CH_DATA_LF:
            if (ch != '\n')
                return bad_chunk(err);
            c->state = CH_SIZE;
            i++;
            break;
        case CH_TRAILER:
            if (ch == '\r') {
                c->state = CH_END_LF;
            } else if (is_tchar(ch)) {
                c->state = CH_TRAILER_NAME;
            } else {
                return bad_chunk(err);
            }
            if (++c->trailers > LIMIT_TRAILER_BYTES)
                return bad_chunk(err);
            i++;
            break;
        case CH_TRAILER_NAME:
            if (ch == ':')
                c->state = CH_TRAILER_LINE;
            else if (!is_tchar(ch))
                return bad_chunk(err);
            if (++c->trailers > LIMIT_TRAILER_BYTES)
                return bad_chunk(err);
            i++;
            break;
        case CH_TRAILER_LINE:
            if (ch == '\r')
                c->state = CH_TRAILER_LF;
            else if (!is_value_char(ch))
                return bad_chunk(err);
            if (++c->trailers > LIMIT_TRAILER_BYTES)
                return bad_chunk(err);
            i++;
            break;
        case CH_TRAILER_LF:
            if (ch != '\n')
                return bad_chunk(err);
            c->state = CH_TRAILER;
            i++;
            break;
        case CH_END_LF:
            if (ch != '\n')
                return bad_chunk(err);
            c->state = CH_DONE;
            *done = true;
            return (long)(i + 1);
        default:
            *done = true;
            return (long)i;
        }
    }
    return (long)i;
}
