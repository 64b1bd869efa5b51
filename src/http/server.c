/* server: sockets, connections and the request life cycle (Kasse's own HTTP/1.1 server).
 *
 * One I/O thread owns every connection: it accepts, reads, frames requests with parse.c,
 * writes replies and enforces the deadlines; a pool of worker threads runs the handlers, which
 * block on the store. A connection is in one state at a time:
 *
 *   IDLE ──first byte──▶ HEAD ──CRLF CRLF──▶ BODY ──complete──▶ BUSY (a worker has it)
 *     ▲                                                            │ reply rendered
 *     └──────────── keep-alive ◀── WRITE ◀─────────────────────────┘
 *                                    └── close after it ──▶ LINGER ──▶ closed
 *
 * Only the I/O thread changes a connection's state or touches its socket; a worker gets a
 * connection in BUSY and hands it back through the done queue. A refused request (framing,
 * sizes, versions, deadlines) gets exactly one reply with Klarna's envelope and a correlation
 * id, then the connection closes: after a framing error nothing that follows can be trusted.
 * Abuse (issue 9): each client address gets LIMIT_CONNECTIONS_PER_ADDRESS connections; a head
 * must arrive within LIMIT_HEAD_TIMEOUT_S of its first byte and a body at
 * LIMIT_BODY_MIN_RATE; past half the connection limit an idle connection gets
 * LIMIT_IDLE_PRESSED_S instead of LIMIT_IDLE_TIMEOUT_S; at the limit the connection that has
 * waited longest without a request in a worker is closed to make room for a new one.
 * Request memory (the arena, the body, the head) dies in one place per request:
 * request_end(). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "lib/clock.h"
#include "lib/ids.h"
#include "lib/jsonw.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "store/store.h"

enum conn_state { C_IDLE, C_HEAD, C_BODY, C_BUSY, C_WRITE, C_LINGER, C_CLOSED };

#define IN_CHUNK (16 * 1024)          /* read buffer step; grows to IN_MAX */
#define IN_MAX (LIMIT_HEAD_BYTES + IN_CHUNK)
#define ADDR_BUCKETS 4096

struct addr_count {
    struct addr_count *next;
    unsigned char key[17];            /* family byte + up to 16 address bytes */
    int n;
};

/* Fair queueing of requests for the workers: one FIFO per client (its Authorization header, or
 * its address when it sends none), served round-robin, so one merchant's burst of heavy calls
 * waits behind itself, not in front of every other merchant's requests (issue 9 item 9). */
#define FLOW_BUCKETS 1024

struct flow {
    uint64_t key;
    struct conn *head, *tail;         /* requests waiting, oldest first */
    struct flow *next;                /* the ring of flows with work */
    struct flow *hnext;               /* hash chain */
};

struct req_state {
    struct req r;
    struct arena arena;               /* this request's JSON values (lib/mem.c) */
};

struct conn {
    int fd;
    enum conn_state state;
    struct conn *prev, *next;         /* all connections, least recently active first */
    struct conn *qnext;               /* its flow's queue, or the done queue */
    uint64_t flow_key;
    struct addr_count *addr;
    int64_t deadline_ms;              /* monotonic; the current state's deadline */
    int64_t idle_since_ms;
    bool eof;                         /* the client shut its side */
    bool readable;                    /* bytes may wait: an EPOLLIN edge came after the socket
                                       * was last read dry (conn_fill) */
    bool close_after;                 /* close once the reply is written */
    char *in;                         /* bytes read and not yet consumed */
    size_t in_len, in_cap;
    size_t scanned, skip;             /* http_head_end's progress */
    /* the request being read or handled */
    char *head_text;
    struct http_head head;
    bool have_head;
    struct buf body;
    struct http_chunked chunked;
    int64_t body_started_ms;
    struct req_state *rs;
    /* the reply being written */
    char *out;
    size_t out_len, out_off;
};

struct http_server {
    struct app *app;
    int listen_fd, epoll_fd, wake_fd, reserve_fd;
    int port;
    int max_conns, n_conns;
    int per_address;                  /* -1: no cap */
    struct conn *lru_head, *lru_tail;
    struct conn *closed;              /* closed in this batch of events, freed after it */
    struct addr_count *addrs[ADDR_BUCKETS];
    pthread_t io_thread;
    pthread_t *workers;
    unsigned n_workers;
    pthread_mutex_t lock;             /* work queue, done queue, stop flags */
    pthread_cond_t work_cond;
    struct flow *flows[FLOW_BUCKETS]; /* flows with work, by key */
    struct flow *ring_head, *ring_tail; /* the same flows, in serving order */
    struct conn *done_head, *done_tail;
    bool stop_io, stop_workers;
    int in_flight;                    /* requests with a worker */
};

/* ---- rendering ---- */

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* A header value goes out only if it cannot end the header (CR, LF, NUL). */
static bool header_safe(const char *v)
{
    return strpbrk(v, "\r\n") == NULL;
}

/* Renders out as the bytes of one HTTP/1.1 reply into c->out (head, then body unless HEAD).
 * Adds what every reply carries: the correlation id, Date, Content-Length, Connection when
 * closing, and the browser headers (no caching unless the handler chose; no sniffing; no
 * framing unless the handler's Content-Security-Policy says who may frame). A reply whose
 * JSON cannot be written, or a 5xx without a body (its envelope could not be built), goes out
 * as a 500 with the fixed envelope (reply_fallback_body), made without allocating. 0, or -1
 * when memory ran out even for the head (the connection is then closed). */
static int render(struct conn *c, struct req *r, struct reply *out, bool head_only)
{
    const char *body = NULL;
    char *json_text = NULL;
    size_t body_len = 0;
    const char *content_type = NULL;
    char fallback[REPLY_FALLBACK_BYTES];
    bool use_fallback = false;
    if (out->json) {
        json_text = jsonw_dumps(out->json, &body_len);
        use_fallback = !json_text;
        body = json_text;
        content_type = out->status < 400 ? "application/json;charset=utf-8" : "application/json";
    } else if (out->owned) {
        body = out->owned;
        body_len = out->raw_len;
        content_type = out->content_type;
    } else if (out->raw) {
        body = out->raw;
        body_len = out->raw_len;
        content_type = out->content_type;
    } else {
        use_fallback = out->status >= 500;
    }
    if (use_fallback) {
        out->status = 500;
        out->n_headers = 0;           /* they belonged to the reply that could not be sent */
        body_len = (size_t)reply_fallback_body(r->correlation_id, fallback);
        body = fallback;
        content_type = "application/json";
    }
    http_log_request(r, out->status, body, body_len);
    struct buf b;
    buf_init(&b, (size_t)-1);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    int rc = buf_printf(&b, "HTTP/1.1 %d %s\r\nDate: %s\r\nKlarna-Correlation-Id: %s\r\n",
                        out->status, reason(out->status), date, r->correlation_id);
    bool no_body = out->status == 204 || out->status == 304 || out->status < 200;
    if (!no_body)
        rc |= buf_printf(&b, "Content-Length: %zu\r\n", body_len);
    if (content_type)
        rc |= buf_printf(&b, "Content-Type: %s\r\n", content_type);
    for (int i = 0; i < out->n_headers; i++)
        if (header_safe(out->headers[i].value))
            rc |= buf_printf(&b, "%s: %s\r\n", out->headers[i].name, out->headers[i].value);
    if (!reply_has_header(out, "Cache-Control"))
        rc |= buf_printf(&b, "Cache-Control: no-cache, no-store, max-age=0, must-revalidate\r\n"
                             "Pragma: no-cache\r\nExpires: 0\r\n");
    rc |= buf_printf(&b, "X-Content-Type-Options: nosniff\r\n");
    if (!reply_has_header(out, "Content-Security-Policy"))
        rc |= buf_printf(&b, "X-Frame-Options: DENY\r\n");
    if (c->close_after)
        rc |= buf_printf(&b, "Connection: close\r\n");
    else if (c->have_head && c->head.minor == 0)
        rc |= buf_printf(&b, "Connection: keep-alive\r\n");
    rc |= buf_printf(&b, "\r\n");
    if (!no_body && !head_only && body_len)
        rc |= buf_append(&b, body, body_len);
    free(json_text);
    if (rc != 0) {
        buf_free(&b);
        return -1;
    }
    c->out = b.data;
    c->out_len = b.len;
    c->out_off = 0;
    return 0;
}

/* ---- connections (I/O thread only) ---- */

static void lru_unlink(struct http_server *s, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->lru_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->lru_tail = c->prev;
    c->prev = c->next = NULL;
}

static void lru_append(struct http_server *s, struct conn *c)
{
    c->prev = s->lru_tail;
    c->next = NULL;
    if (s->lru_tail)
        s->lru_tail->next = c;
    else
        s->lru_head = c;
    s->lru_tail = c;
}

static void lru_touch(struct http_server *s, struct conn *c)
{
    lru_unlink(s, c);
    lru_append(s, c);
}

static unsigned addr_hash(const unsigned char *key)
{
    unsigned h = 2166136261u;
    for (int i = 0; i < 17; i++)
        h = (h ^ key[i]) * 16777619u;
    return h % ADDR_BUCKETS;
}

static void addr_key(const struct sockaddr_storage *sa, unsigned char key[17])
{
    memset(key, 0, 17);
    if (sa->ss_family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        /* A v4-mapped address counts as its IPv4 address. */
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            key[0] = 4;
            memcpy(key + 1, a->s6_addr + 12, 4);
        } else {
            key[0] = 6;
            memcpy(key + 1, a->s6_addr, 16);
        }
    }
}

/* The address's counter with one more connection, or NULL when it has its share already. */
static struct addr_count *addr_take(struct http_server *s, const unsigned char key[17])
{
    unsigned h = addr_hash(key);
    struct addr_count *a = s->addrs[h];
    while (a && memcmp(a->key, key, 17) != 0)
        a = a->next;
    if (!a) {
        a = calloc(1, sizeof *a);
        if (!a)
            return NULL;
        memcpy(a->key, key, 17);
        a->next = s->addrs[h];
        s->addrs[h] = a;
    }
    if (s->per_address >= 0 && a->n >= s->per_address)
        return NULL;
    a->n++;
    return a;
}

static void addr_release(struct http_server *s, struct addr_count *a)
{
    if (!a || --a->n > 0)
        return;
    struct addr_count **p = &s->addrs[addr_hash(a->key)];
    while (*p != a)
        p = &(*p)->next;
    *p = a->next;
    free(a);
}

/* Frees what one request allocated (head, body, reply); the worker freed its arena. */
static void request_end(struct conn *c)
{
    if (c->have_head)
        http_head_free(&c->head);
    c->have_head = false;
    free(c->head_text);
    c->head_text = NULL;
    buf_free(&c->body);
    memset(&c->chunked, 0, sizeof c->chunked);
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->rs) {                      /* never handed to a worker */
        mem_arena_free(&c->rs->arena);
        free(c->rs->r.path_copy);
        free(c->rs);
        c->rs = NULL;
    }
}

/* Closes c now; its memory is freed after the current batch of events (free_closed), since a
 * later event of the same epoll_wait may still name it. */
static void conn_close(struct http_server *s, struct conn *c)
{
    request_end(c);
    free(c->in);
    c->in = NULL;
    lru_unlink(s, c);
    addr_release(s, c->addr);
    c->addr = NULL;
    close(c->fd);                    /* also takes it out of the epoll set */
    c->fd = -1;
    s->n_conns--;
    c->state = C_CLOSED;
    c->next = s->closed;
    s->closed = c;
}

static void free_closed(struct http_server *s)
{
    while (s->closed) {
        struct conn *c = s->closed;
        s->closed = c->next;
        free(c);
    }
}

static int64_t idle_deadline(const struct http_server *s)
{
    int t = s->n_conns > s->max_conns / 2 ? LIMIT_IDLE_PRESSED_S : LIMIT_IDLE_TIMEOUT_S;
    return clock_monotonic_ms() + (int64_t)t * 1000;
}

/* Reads what the socket has, up to the buffer's room. 1: the buffer is full (more may wait);
 * 0: read until the socket was dry or end of stream; -1: the connection is broken. A read that
 * returns less than it asked for emptied the socket's queue, and any byte arriving later brings a
 * new edge (epoll: every arrival wakes an edge-triggered waiter), so it stops there instead of
 * asking once more for EAGAIN; a socket with no edge since it ran dry is not read at all (after a
 * reply, before the client can have sent more). One recv per request instead of three. */
static int conn_fill(struct conn *c)
{
    while (!c->eof && c->readable) {
        if (c->in_len == c->in_cap) {
            if (c->in_cap >= IN_MAX)
                return 1;
            size_t cap = c->in_cap ? c->in_cap * 2 : IN_CHUNK;
            if (cap > IN_MAX)
                cap = IN_MAX;
            char *p = realloc(c->in, cap);
            if (!p)
                return -1;
            c->in = p;
            c->in_cap = cap;
        }
        size_t room = c->in_cap - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            if ((size_t)n < room)
                c->readable = false;
        } else if (n == 0) {
            c->eof = true;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->readable = false;
            return 0;
        } else {
            return -1;
        }
    }
    return 0;
}

static void consume(struct conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
    c->scanned = c->skip = 0;
}

/* Writes what the socket takes. 1: all written; 0: the rest later (EPOLLOUT); -1: broken. */
static int conn_flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0)
            c->out_off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        else
            return -1;
    }
    return 1;
}

static struct req_state *req_state_new(struct http_server *s)
{
    struct req_state *rs = calloc(1, sizeof *rs);
    if (!rs)
        return NULL;
    struct req *r = &rs->r;
    r->app = s->app;
    r->started_us = clock_monotonic_us();
    r->received_ms = clock_now_ms(&s->app->clock);
    if (ids_uuid7(r->received_ms, r->correlation_id) != 0) {
        free(rs);
        return NULL;
    }
    return rs;
}

/* Answers err on c with Klarna's envelope and closes after it. 0, or -1 when c is gone. */
static int conn_refuse(struct http_server *s, struct conn *c, const struct kerr *err)
{
    request_end(c);
    struct req_state *rs = req_state_new(s);
    if (!rs) {
        conn_close(s, c);
        return -1;
    }
    rs->r.method = "";
    rs->r.path = "";
    struct reply out;
    http_error_reply(&rs->r, err, NULL, &out);
    c->close_after = true;
    int rc = render(c, &rs->r, &out, false);
    json_decref(out.json);
    free(rs);
    if (rc != 0) {
        conn_close(s, c);
        return -1;
    }
    c->state = C_WRITE;
    c->deadline_ms = clock_monotonic_ms() + LIMIT_WRITE_TIMEOUT_S * 1000;
    return 0;
}

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* The client a request counts for: its credentials, else its address. */
static uint64_t flow_key_of(const struct conn *c)
{
    const char *auth = http_head_header(&c->head, "Authorization");
    if (auth)
        return fnv1a(auth, strlen(auth), 14695981039346656037ull);
    return fnv1a(c->addr->key, sizeof c->addr->key, 1469598103934665603ull);
}

static void ring_append(struct http_server *s, struct flow *f)
{
    f->next = NULL;
    if (s->ring_tail)
        s->ring_tail->next = f;
    else
        s->ring_head = f;
    s->ring_tail = f;
}

/* Hands c's request to the workers (its flow's queue). 0, or -1 when there was no memory for a
 * new flow (the caller closes the connection). */
static int queue_work(struct http_server *s, struct conn *c)
{
    c->qnext = NULL;
    c->flow_key = flow_key_of(c);
    struct flow *fresh = NULL;    /* allocated (outside the lock) only for a client's first */
    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct flow **bucket = &s->flows[c->flow_key % FLOW_BUCKETS];
        struct flow *f = *bucket;
        while (f && f->key != c->flow_key)
            f = f->hnext;
        if (!f && fresh) {
            f = fresh;
            fresh = NULL;
            f->key = c->flow_key;
            f->hnext = *bucket;
            *bucket = f;
            ring_append(s, f);
        }
        if (f) {
            if (f->tail)
                f->tail->qnext = c;
            else
                f->head = c;
            f->tail = c;
            c->state = C_BUSY;
            s->in_flight++;
            pthread_cond_signal(&s->work_cond);
            pthread_mutex_unlock(&s->lock);
            free(fresh);          /* NULL, or not needed after all */
            return 0;
        }
        pthread_mutex_unlock(&s->lock);
        fresh = calloc(1, sizeof *fresh);
        if (!fresh)
            return -1;
        pthread_mutex_lock(&s->lock);
    }
}

/* The next request for a worker: the head of the first flow, whose turn then passes to the
 * next flow. Called with the lock held; NULL when there is no work. */
static struct conn *take_work(struct http_server *s)
{
    struct flow *f = s->ring_head;
    if (!f)
        return NULL;
    struct conn *c = f->head;
    f->head = c->qnext;
    c->qnext = NULL;
    s->ring_head = f->next;
    if (!s->ring_head)
        s->ring_tail = NULL;
    if (f->head) {
        ring_append(s, f);
    } else {
        struct flow **p = &s->flows[f->key % FLOW_BUCKETS];
        while (*p != f)
            p = &(*p)->hnext;
        *p = f->hnext;
        free(f);
    }
    return c;
}

/* The head is in: check it, then read the body or hand the request to a worker. 0, or -1 when
 * c is gone. */
static int on_head(struct http_server *s, struct conn *c, size_t head_len)
{
    struct kerr err = {0};
    c->head_text = malloc(head_len + 1);
    if (!c->head_text) {
        conn_close(s, c);
        return -1;
    }
    memcpy(c->head_text, c->in + c->skip, head_len);
    c->head_text[head_len] = '\0';
    consume(c, c->skip + head_len);
    c->have_head = true;
    if (http_parse_head(c->head_text, head_len, &c->head, &err) != 0)
        return conn_refuse(s, c, &err);
    if (c->head.body == HTTP_BODY_LENGTH && c->head.content_length > LIMIT_BODY_BYTES) {
        kerr_set(&err, 413, "REQUEST_TOO_LARGE", "Request body larger than %d bytes",
                 LIMIT_BODY_BYTES);
        return conn_refuse(s, c, &err);
    }
    c->rs = req_state_new(s);
    if (!c->rs) {
        conn_close(s, c);
        return -1;
    }
    c->close_after = !c->head.keep_alive;
    buf_init(&c->body, LIMIT_BODY_BYTES);
    if (c->head.body == HTTP_BODY_NONE) {
        if (queue_work(s, c) != 0) {
            conn_close(s, c);
            return -1;
        }
        return 0;
    }
    if (c->head.expect_continue && c->in_len == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        /* Best effort: a full socket buffer just means the client sends without it. */
        (void)!send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
    }
    c->state = C_BODY;
    c->body_started_ms = clock_monotonic_ms();
    uint64_t expect = c->head.body == HTTP_BODY_LENGTH ? c->head.content_length : 0;
    c->deadline_ms = c->body_started_ms + LIMIT_BODY_TIMEOUT_S * 1000 +
                     (int64_t)(expect * 1000 / LIMIT_BODY_MIN_RATE);
    return 0;
}

/* Moves buffered bytes into the body (all of them, unless the body ends first). 0, or -1 when
 * c is gone. */
static int on_body(struct http_server *s, struct conn *c)
{
    struct kerr err = {0};
    bool done = false;
    if (c->head.body == HTTP_BODY_LENGTH) {
        size_t want = (size_t)c->head.content_length - c->body.len;
        size_t n = c->in_len < want ? c->in_len : want;
        if (n && buf_append(&c->body, c->in, n) != 0) {
            conn_close(s, c);
            return -1;
        }
        consume(c, n);
        done = c->body.len == c->head.content_length;
    } else {
        long n = http_chunked_feed(&c->chunked, c->in, c->in_len, &c->body, &done, &err);
        if (n < 0)
            return conn_refuse(s, c, &err);
        consume(c, (size_t)n);
        /* A chunked body's deadline grows with what has arrived. */
        c->deadline_ms = c->body_started_ms + LIMIT_BODY_TIMEOUT_S * 1000 +
                         (int64_t)((uint64_t)c->body.len * 1000 / LIMIT_BODY_MIN_RATE);
    }
    if (done && queue_work(s, c) != 0) {
        conn_close(s, c);
        return -1;
    }
    return 0;
}

static void enter_idle(struct http_server *s, struct conn *c)
{
    c->state = C_IDLE;
    c->idle_since_ms = clock_monotonic_ms();
    c->deadline_ms = idle_deadline(s);
    c->scanned = c->skip = 0;
    lru_touch(s, c);
}

/* Takes c as far as it can go without blocking (edge-triggered: every read and write goes on
 * until EAGAIN, or the state stops wanting it). */
static void conn_progress(struct http_server *s, struct conn *c)
{
    struct kerr err = {0};
    for (;;) {
        switch (c->state) {
        case C_BUSY:
        case C_CLOSED:
            return;
        case C_IDLE:
        case C_HEAD: {
            int f = conn_fill(c);
            if (f < 0) {
                conn_close(s, c);
                return;
            }
            if (c->in_len == 0) {
                if (c->eof) {
                    conn_close(s, c);
                } else if (c->state == C_IDLE) {
                    free(c->in);      /* idle: give the read buffer back */
                    c->in = NULL;
                    c->in_cap = 0;
                }
                return;
            }
            if (c->state == C_IDLE) {
                c->state = C_HEAD;
                c->deadline_ms = clock_monotonic_ms() + LIMIT_HEAD_TIMEOUT_S * 1000;
                lru_touch(s, c);
            }
            long n = http_head_end(c->in, c->in_len, &c->scanned, &c->skip, &err);
            if (n == 0 && f == 1)
                n = kerr_set(&err, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE",
                             "Request headers larger than %d bytes", LIMIT_HEAD_BYTES);
            if (n < 0) {
                if (conn_refuse(s, c, &err) != 0)
                    return;
                continue;
            }
            if (n == 0) {
                if (c->eof)
                    conn_close(s, c);
                return;
            }
            if (on_head(s, c, (size_t)n) != 0)
                return;
            continue;
        }
        case C_BODY: {
            int f = conn_fill(c);
            if (f < 0) {
                conn_close(s, c);
                return;
            }
            if (on_body(s, c) != 0)
                return;
            if (c->state != C_BODY)
                continue;
            if (c->eof) {
                conn_close(s, c);
                return;
            }
            if (f == 1)
                continue;
            return;
        }
        case C_WRITE: {
            int w = conn_flush(c);
            if (w < 0) {
                conn_close(s, c);
                return;
            }
            if (w == 0)
                return;
            bool close_after = c->close_after;
            request_end(c);
            if (!close_after) {
                enter_idle(s, c);
                continue;
            }
            /* Lingering close: stop sending and read what the client still sends for a
             * moment, so it reads the reply instead of a reset. */
            shutdown(c->fd, SHUT_WR);
            c->state = C_LINGER;
            c->deadline_ms = clock_monotonic_ms() + LIMIT_LINGER_MS;
            continue;
        }
        case C_LINGER: {
            char sink[4096];
            c->in_len = 0;
            for (;;) {
                ssize_t n = recv(c->fd, sink, sizeof sink, 0);
                if (n > 0 || (n < 0 && errno == EINTR))
                    continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    return;
                conn_close(s, c);
                return;
            }
        }
        }
    }
}

/* Closes the connection that has waited longest without a worker, to make room. */
static bool evict_one(struct http_server *s)
{
    for (struct conn *c = s->lru_head; c; c = c->next) {
        if (c->state == C_IDLE || c->state == C_HEAD || c->state == C_BODY ||
            c->state == C_LINGER) {
            conn_close(s, c);
            return true;
        }
    }
    return false;
}

static void on_accept(struct http_server *s)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept4(s->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && s->reserve_fd >= 0) {
                /* Out of descriptors: make room if a connection can go, else refuse one. */
                if (evict_one(s))
                    continue;
                close(s->reserve_fd);
                int lost = accept(s->listen_fd, NULL, NULL);
                if (lost >= 0)
                    close(lost);
                s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                continue;
            }
            return;                   /* EAGAIN, or an error to retry on the next event */
        }
        unsigned char key[17];
        addr_key(&sa, key);
        struct addr_count *a = addr_take(s, key);
        if (!a || (s->n_conns >= s->max_conns && !evict_one(s))) {
            if (a)
                addr_release(s, a);
            close(fd);
            continue;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            addr_release(s, a);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->addr = a;
        c->state = C_IDLE;
        c->readable = true;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = c};
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            addr_release(s, a);
            close(fd);
            free(c);
            continue;
        }
        s->n_conns++;
        lru_append(s, c);
        enter_idle(s, c);
        conn_progress(s, c);
    }
}

/* Deadlines: once per tick over every connection. */
static void sweep(struct http_server *s)
{
    int64_t now = clock_monotonic_ms();
    bool pressed = s->n_conns > s->max_conns / 2;
    struct conn *next;
    for (struct conn *c = s->lru_head; c; c = next) {
        next = c->next;
        if (c->state == C_BUSY)
            continue;
        if (c->state == C_IDLE && pressed && now - c->idle_since_ms >= LIMIT_IDLE_PRESSED_S * 1000) {
            conn_close(s, c);
            continue;
        }
        if (now < c->deadline_ms)
            continue;
        if (c->state == C_HEAD || c->state == C_BODY) {
            struct kerr err;
            kerr_set(&err, 408, "REQUEST_TIMEOUT", "The request was not received in time");
            if (conn_refuse(s, c, &err) == 0)
                conn_progress(s, c);
        } else {
            conn_close(s, c);         /* idle, a reply not read, or lingering */
        }
    }
}

static void take_done(struct http_server *s)
{
    uint64_t v;
    (void)!read(s->wake_fd, &v, sizeof v);
    pthread_mutex_lock(&s->lock);
    struct conn *c = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->lock);
    while (c) {
        struct conn *next = c->qnext;
        c->qnext = NULL;
        if (c->out) {
            c->state = C_WRITE;
            c->deadline_ms = clock_monotonic_ms() + LIMIT_WRITE_TIMEOUT_S * 1000;
            conn_progress(s, c);
        } else {
            conn_close(s, c);         /* the reply could not be rendered */
        }
        c = next;
    }
}

static void *io_main(void *arg)
{
    struct http_server *s = arg;
    struct epoll_event events[256];
    int64_t last_sweep = clock_monotonic_ms();
    bool listening = true;
    int64_t stop_by = 0;
    for (;;) {
        int n = epoll_wait(s->epoll_fd, events, 256, 100);
        for (int i = 0; i < n; i++) {
            void *p = events[i].data.ptr;
            if (p == &s->listen_fd) {
                if (listening)
                    on_accept(s);
            } else if (p == &s->wake_fd) {
                take_done(s);
            } else {
                struct conn *c = p;
                if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    c->readable = true;       /* also while a worker has it (BUSY) */
                conn_progress(s, c);
            }
        }
        int64_t now = clock_monotonic_ms();
        if (now - last_sweep >= 100) {
            sweep(s);
            last_sweep = now;
        }
        free_closed(s);               /* no event of this batch names them any more */
        pthread_mutex_lock(&s->lock);
        bool stop = s->stop_io;
        int in_flight = s->in_flight;
        pthread_mutex_unlock(&s->lock);
        if (stop && listening) {
            /* Stop accepting; requests already with a worker finish (bounded). */
            epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, s->listen_fd, NULL);
            close(s->listen_fd);
            s->listen_fd = -1;
            listening = false;
            stop_by = now + 10000;
        }
        if (stop && (in_flight == 0 || now > stop_by))
            return NULL;
    }
}

static void *worker_main(void *arg)
{
    struct http_server *s = arg;
    struct sched_param sp = {0};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!s->ring_head && !s->stop_workers)
            pthread_cond_wait(&s->work_cond, &s->lock);
        struct conn *c = take_work(s);
        if (!c) {
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
        pthread_mutex_unlock(&s->lock);

        struct req_state *rs = c->rs;
        c->rs = NULL;
        struct req *r = &rs->r;
        r->method = c->head.method;
        r->path = c->head.path;
        r->headers = c->head.headers;
        r->n_headers = c->head.n_headers;
        r->query = c->head.query;
        r->n_query = c->head.n_query;
        r->body = c->body;            /* lent for the handler; the connection frees it */
        struct arena *prev = mem_arena_enter(&rs->arena);
        struct reply out;
        http_dispatch(r, &out);
        bool head_only = strcmp(r->method, "HEAD") == 0;
        if (render(c, r, &out, head_only) != 0) {
            free(c->out);
            c->out = NULL;
        }
        json_decref(out.json);
        free(out.owned);
        mem_arena_leave(prev);
        mem_arena_free(&rs->arena);
        free(r->path_copy);
        free(rs);

        pthread_mutex_lock(&s->lock);
        c->qnext = NULL;
        /* Only the first reply of a batch wakes the I/O thread: it takes the whole done queue
         * after reading the eventfd, so later ones ride along (one write per batch, not per
         * reply). */
        bool wake = !s->done_head;
        if (s->done_tail)
            s->done_tail->qnext = c;
        else
            s->done_head = c;
        s->done_tail = c;
        s->in_flight--;
        pthread_mutex_unlock(&s->lock);
        if (wake) {
            uint64_t one = 1;
            (void)!write(s->wake_fd, &one, sizeof one);
        }
    }
}

/* Room for connections: the descriptor limit raised to its hard maximum. */
static int connection_budget(unsigned threads, int wanted)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1000;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;
        if (want == RLIM_INFINITY || want > 1u << 20)
            want = 1u << 20;
        if (want > rl.rlim_cur) {
            rl.rlim_cur = want;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    /* Descriptors for the store (a connection per thread, WAL and shm files), the outbox's
     * sockets, logs: a generous reserve. */
    long budget = (long)rl.rlim_cur - 64 - 4 * (long)threads;
    if (budget > wanted)
        budget = wanted;
    return budget < 16 ? 16 : (int)budget;
}

static int listen_on(const char *host, int port, struct kerr *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &ai) != 0 || !ai)
        return kerr_set(err, 500, "CONFIG", "cannot resolve listen address %s", host);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return kerr_set(err, 500, "CONFIG", "cannot listen on %s:%d", host, port);
    }
    freeaddrinfo(ai);
    return fd;
}

struct http_server *http_start(struct app *app, const char *host, int port,
                               const struct http_options *opt, struct kerr *err)
{
    struct http_server *s = calloc(1, sizeof *s);
    if (!s) {
        kerr_internal(err, "out of memory");
        return NULL;
    }
    s->app = app;
    s->n_workers = opt->threads ? opt->threads : 1u;
    s->max_conns = connection_budget(s->n_workers, opt->max_connections > 0
                                                       ? opt->max_connections
                                                       : LIMIT_CONNECTIONS);
    s->per_address = opt->per_address ? opt->per_address : LIMIT_CONNECTIONS_PER_ADDRESS;
    if (s->per_address < -1)
        s->per_address = -1;
    s->listen_fd = s->epoll_fd = s->wake_fd = -1;
    s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work_cond, NULL);
    s->listen_fd = listen_on(host, port, err);
    if (s->listen_fd < 0)
        goto fail;
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    getsockname(s->listen_fd, (struct sockaddr *)&sa, &sl);
    s->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                             : ((struct sockaddr_in *)&sa)->sin_port);
    s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->epoll_fd < 0 || s->wake_fd < 0) {
        kerr_internal(err, "epoll");
        goto fail;
    }
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &s->listen_fd};
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &s->wake_fd};
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &lev) != 0 ||
        epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->wake_fd, &wev) != 0) {
        kerr_internal(err, "epoll_ctl");
        goto fail;
    }
    s->workers = calloc(s->n_workers, sizeof *s->workers);
    if (!s->workers) {
        kerr_internal(err, "out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < s->n_workers; i++)
        if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0) {
            s->n_workers = i;
            kerr_internal(err, "pthread_create");
            goto fail_threads;
        }
    if (pthread_create(&s->io_thread, NULL, io_main, s) != 0) {
        kerr_internal(err, "pthread_create");
        goto fail_threads;
    }
    return s;
fail_threads:
    pthread_mutex_lock(&s->lock);
    s->stop_workers = true;
    pthread_cond_broadcast(&s->work_cond);
    pthread_mutex_unlock(&s->lock);
    for (unsigned i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i], NULL);
fail:
    free(s->workers);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    if (s->reserve_fd >= 0)
        close(s->reserve_fd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->work_cond);
    free(s);
    return NULL;
}

int http_port(const struct http_server *s)
{
    return s ? s->port : -1;
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    /* Stop accepting, let requests already with a worker finish (bounded), then close. */
    pthread_mutex_lock(&s->lock);
    s->stop_io = true;
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->io_thread, NULL);
    pthread_mutex_lock(&s->lock);
    s->stop_workers = true;
    pthread_cond_broadcast(&s->work_cond);
    pthread_mutex_unlock(&s->lock);
    for (unsigned i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i], NULL);
    /* Queued work the workers left (only after the bounded wait) and every connection. */
    while (s->ring_head) {            /* flows of work no worker took */
        struct flow *f = s->ring_head;
        s->ring_head = f->next;
        free(f);
    }
    while (s->lru_head)
        conn_close(s, s->lru_head);
    free_closed(s);
    for (int i = 0; i < ADDR_BUCKETS; i++)
        while (s->addrs[i]) {
            struct addr_count *a = s->addrs[i];
            s->addrs[i] = a->next;
            free(a);
        }
    free(s->workers);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    close(s->epoll_fd);
    close(s->wake_fd);
    if (s->reserve_fd >= 0)
        close(s->reserve_fd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->work_cond);
    free(s);
}
