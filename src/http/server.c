/* server: sockets and HTTP (libmicrohttpd), the request gate, and request memory.
 *
 * libmicrohttpd calls the access handler several times per request: first with the headers
 * (we allocate the request and apply the gate: Content-Length and Transfer-Encoding checks,
 * the 1 MiB limit), then once per chunk of body (appended to a bounded buffer), then a last time
 * with no data, where the request is routed, authenticated and handled and the reply queued.
 * Queuing only in that last call keeps keep-alive working. Everything a request allocated is
 * freed in one place, the completion callback, which runs on every path (client disconnects
 * included). Knows nothing about Klarna: handlers are in api/. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "lib/ids.h"
#include "lib/jsonw.h"
#include "lib/limits.h"
#include "lib/mem.h"
#include "lib/log.h"
#include "store/store.h"

struct http_server {
    struct MHD_Daemon *daemon;
    struct app *app;
    int in_flight;               /* requests between first call and completion (atomic) */
};

static int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- rendering ---- */

static char *truncated_copy(const char *s, size_t len)
{
    if (!s)
        return NULL;
    if (len > LIMIT_LOG_BODY_BYTES)
        len = LIMIT_LOG_BODY_BYTES;
    return strndup(s, len);
}

/* Writes the request-log row for an authenticated request (queued, never waits on disk). */
static void log_request(struct req *r, int status, const char *body, size_t body_len)
{
    if (!r->authed)
        return;
    struct reqlog_row row = {0};
    snprintf(row.correlation_id, sizeof row.correlation_id, "%s", r->correlation_id);
    row.merchant_id = r->merchant.id;
    snprintf(row.method, sizeof row.method, "%s", r->method);
    row.path = strdup(r->path);
    row.status = status;
    row.at_ms = r->received_ms;
    row.duration_us = monotonic_us() - r->started_us;
    /* Bodies are kept as text; an empty body is "" (GET requests, 204 replies). */
    row.request_body = truncated_copy(r->body.len ? r->body.data : "", r->body.len);
    row.response_body = truncated_copy(body_len ? body : "", body_len);
    if (!row.path || !row.request_body || !row.response_body) {
        reqlog_row_free(&row);
        return;
    }
    store_log_async(r->app->store, &row);
}

static enum MHD_Result queue(struct req *r, struct reply *out)
{
    struct MHD_Response *resp;
    const char *content_type = NULL;
    if (out->json) {
        size_t len = 0;
        char *text = jsonw_dumps(out->json, &len);
        if (!text)
            return MHD_NO;
        content_type = out->status < 400 ? "application/json;charset=utf-8" : "application/json";
        log_request(r, out->status, text, len);
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(text);
    } else {
        log_request(r, out->status, NULL, 0);
        if (out->raw || out->owned)
            content_type = out->content_type;
        if (out->owned) {
            resp = MHD_create_response_from_buffer(out->raw_len, out->owned,
                                                   MHD_RESPMEM_MUST_FREE);
            if (resp)
                out->owned = NULL;
        } else {
            resp = MHD_create_response_from_buffer(out->raw ? out->raw_len : 0,
                                                   (void *)out->raw, MHD_RESPMEM_PERSISTENT);
        }
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Klarna-Correlation-Id", r->correlation_id);
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (int i = 0; i < out->n_headers; i++)
        MHD_add_response_header(resp, out->headers[i].name, out->headers[i].value);
    /* What Klarna's replies carry for browsers and caches, on every reply: no caching unless
     * the handler chose (assets), no sniffing, and no framing unless the handler's
     * Content-Security-Policy says who may frame it (the widget). */
    if (!reply_has_header(out, "Cache-Control")) {
        MHD_add_response_header(resp, "Cache-Control",
                                "no-cache, no-store, max-age=0, must-revalidate");
        MHD_add_response_header(resp, "Pragma", "no-cache");
        MHD_add_response_header(resp, "Expires", "0");
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (!reply_has_header(out, "Content-Security-Policy"))
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)out->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result queue_error(struct req *r, const struct kerr *err, const char *allow)
{
    struct reply out = {0};
    out.status = err->status ? err->status : 500;
    out.json = reply_error_body(r->correlation_id, err);
    if (err->status == 401)
        reply_header(&out, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                     r->route && r->route->auth == AUTH_SHOPPER ? "Bearer realm=\"Kasse\""
                                                                : "Basic realm=\"Kasse\"");
    if (allow && allow[0])
        reply_header(&out, MHD_HTTP_HEADER_ALLOW, allow);
    if (err->retry_after > 0) {           /* 503: the store cannot take writes now */
        char seconds[16];
        snprintf(seconds, sizeof seconds, "%d", err->retry_after);
        reply_header(&out, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
    enum MHD_Result ok = queue(r, &out);
    json_decref(out.json);
    return ok;
}

/* ---- dispatch ---- */

static enum MHD_Result dispatch(struct req *r)
{
    struct kerr err = {0};
    char allow[128];
    if (router_match(r, allow, sizeof allow, &err) != 0)
        return queue_error(r, &err, allow);
    if ((r->route->auth == AUTH_MERCHANT && auth_merchant(r, &err) != 0) ||
        (r->route->auth == AUTH_SHOPPER && auth_shopper(r, &err) != 0))
        return queue_error(r, &err, NULL);
    struct reply out = {0};
    int replayed = idempotency_begin(r, &out, &err);
    if (replayed < 0 || (replayed == 0 && r->route->handler(r, &out, &err) != 0)) {
        json_decref(out.json);
        free(out.owned);
        if (err.status >= 500)
            log_error("%s %s → %d %s (%s)", r->method, r->path, err.status, err.code,
                      r->correlation_id);
        return queue_error(r, &err, NULL);
    }
    enum MHD_Result ok = queue(r, &out);
    json_decref(out.json);
    free(out.owned);
    return ok;
}

/* Counts how often a header appears (a duplicated Content-Length is refused). */
struct header_count {
    const char *name;
    int n;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    (void)value;
    struct header_count *hc = cls;
    if (strcasecmp(key, hc->name) == 0)
        hc->n++;
    return MHD_YES;
}

/* The request gate, on the headers alone. 0, or -1 with err. */
static int gate(struct req *r, struct kerr *err)
{
    struct header_count cl = {MHD_HTTP_HEADER_CONTENT_LENGTH, 0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &cl);
    if (cl.n > 1)
        return kerr_set(err, 400, "BAD_REQUEST", "Duplicated Content-Length header");
    const char *te = req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te && strcasecmp(te, "chunked") != 0)
        return kerr_set(err, 400, "BAD_REQUEST", "Unsupported Transfer-Encoding: %s", te);
    const char *len = req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (len) {
        char *end;
        unsigned long long n = strtoull(len, &end, 10);
        if (*len < '0' || *len > '9' || *end)
            return kerr_set(err, 400, "BAD_REQUEST", "Invalid Content-Length header");
        /* Past the drain limit the 413 goes out at once and the connection closes; below it
         * the body is read and dropped first, so the client (still sending) reliably gets
         * the 413 instead of a reset connection. */
        if (n > LIMIT_BODY_DRAIN_BYTES)
            return kerr_set(err, 413, "REQUEST_TOO_LARGE",
                            "Request body larger than %d bytes", LIMIT_BODY_BYTES);
    }
    if (strlen(r->path) > LIMIT_URL_BYTES)
        return kerr_set(err, 414, "URI_TOO_LONG", "Request path longer than %d bytes",
                        LIMIT_URL_BYTES);
    return 0;
}

struct req_state {
    struct req r;
    struct arena arena;          /* this request's JSON values (lib/mem.c) */
    int answered;                /* a reply (the gate's) has been queued already */
    int too_large;               /* the body went past LIMIT_BODY_BYTES */
};

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

/* HTTP/1.1 and HTTP/1.0 only: "HTTP/1.2" and the like are refused (issue 9). */
static int version_ok(const char *version, struct kerr *err)
{
    if (version && (strcmp(version, "HTTP/1.1") == 0 || strcmp(version, "HTTP/1.0") == 0))
        return 0;
    return kerr_set(err, 505, "HTTP_VERSION_NOT_SUPPORTED", "HTTP version not supported");
}

/* Percent-decoding of the path and query (libmicrohttpd's unescape callback), except that %00
 * stays as written: a decoded NUL would cut the C string, so "widget.js%00.png" would name
 * "widget.js" (issue 9). Kept literal, it matches no route and no file. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *p = s; *p;) {
        int hi, lo;
        if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            p += 3;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct req_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        mem_arena_enter(&st->arena);    /* access_handler restores the previous one */
        __atomic_add_fetch(&srv->in_flight, 1, __ATOMIC_RELAXED);
        *con_cls = st;
        struct req *r = &st->r;
        r->app = srv->app;
        r->conn = conn;
        r->method = method;
        r->path = url;
        r->started_us = monotonic_us();
        r->received_ms = clock_now_ms(&srv->app->clock);
        buf_init(&r->body, LIMIT_BODY_BYTES);
        if (ids_uuid7(r->received_ms, r->correlation_id) != 0)
            return MHD_NO;
        struct kerr err = {0};
        if (version_ok(version, &err) != 0 || gate(r, &err) != 0) {
            st->answered = 1;
            return queue_error(r, &err, NULL);
        }
        return MHD_YES;
    }
    struct req *r = &st->r;
    if (*upload_data_size) {
        /* A chunked body that outgrows the limit is read and dropped to its end (bounded by
         * the connection timeout): libmicrohttpd cannot queue a reply in mid-upload. */
        if (!st->answered && !st->too_large &&
            buf_append(&r->body, upload_data, *upload_data_size) != 0) {
            st->too_large = 1;
            buf_free(&r->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (st->answered)
        return MHD_YES;
    st->answered = 1;
    if (st->too_large) {
        struct kerr err;
        kerr_set(&err, 413, "REQUEST_TOO_LARGE", "Request body larger than %d bytes",
                 LIMIT_BODY_BYTES);
        return queue_error(r, &err, NULL);
    }
    return dispatch(r);
}

/* Every call runs with the request's arena current, so its JSON values die with it. */
static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    struct req_state *st = *con_cls;
    struct arena *prev = mem_arena_enter(st ? &st->arena : NULL);
    enum MHD_Result rc = handle(cls, conn, url, method, version, upload_data, upload_data_size,
                                con_cls);
    mem_arena_leave(prev);
    return rc;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct http_server *srv = cls;
    struct req_state *st = *con_cls;
    if (!st)
        return;
    buf_free(&st->r.body);
    free(st->r.path_copy);
    mem_arena_free(&st->arena);
    free(st);
    *con_cls = NULL;
    __atomic_sub_fetch(&srv->in_flight, 1, __ATOMIC_RELAXED);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    log_info("http: %s", line);
}

struct http_server *http_start(struct app *app, const char *host, int port, unsigned threads,
                               struct kerr *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &ai) != 0 || !ai) {
        kerr_set(err, 500, "CONFIG", "cannot resolve listen address %s", host);
        return NULL;
    }
    struct http_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        freeaddrinfo(ai);
        kerr_internal(err, "out of memory");
        return NULL;
    }
    srv->app = app;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, access_handler, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads ? threads : 1u,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LIMIT_CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)LIMIT_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LIMIT_CONNECTION_MEMORY,
        MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
        MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        free(srv);
        kerr_set(err, 500, "CONFIG", "cannot listen on %s:%d", host, port);
        return NULL;
    }
    return srv;
}

int http_port(const struct http_server *s)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? (int)info->port : -1;
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    /* Stop accepting, let requests already received finish (bounded), then close. */
    MHD_socket listen_fd = MHD_quiesce_daemon(s->daemon);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    for (int i = 0; i < 1000 && __atomic_load_n(&s->in_flight, __ATOMIC_RELAXED) > 0; i++)
        usleep(10 * 1000);
    MHD_stop_daemon(s->daemon);
    free(s);
}
