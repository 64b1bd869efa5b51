/* libFuzzer target: Kasse's HTTP framing (http/parse) on arbitrary bytes. Whatever the input,
 * finding the head's end, parsing it and decoding a chunked body must never crash, leak or trip
 * UBSan; a refusal always carries a 4xx/5xx status and an error code; a parsed head has a
 * method and a path starting with '/'; and a chunked body decodes to the same bytes whether it
 * arrives whole or split at an arbitrary point (the server reads it in pieces). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(const struct kerr *err)
{
    if (err->status < 400 || err->status > 599 || !err->code[0])
        abort();
}

static void chunked_twice(const char *in, size_t len, size_t split)
{
    struct http_chunked a = {0}, b = {0};
    struct buf whole, parts;
    buf_init(&whole, 4096);
    buf_init(&parts, 4096);
    bool done_a = false, done_b = false;
    struct kerr err = {0};
    long na = http_chunked_feed(&a, in, len, &whole, &done_a, &err);
    if (na < 0)
        check_refusal(&err);
    long nb = http_chunked_feed(&b, in, split, &parts, &done_b, &err);
    if (nb >= 0 && !done_b) {
        long more = http_chunked_feed(&b, in + split, len - split, &parts, &done_b, &err);
        nb = more < 0 ? more : nb + more;
    }
    if ((na < 0) != (nb < 0))
        abort();
    if (na >= 0 && (na != nb || done_a != done_b || whole.len != parts.len ||
                    (whole.len && memcmp(whole.data, parts.data, whole.len) != 0)))
        abort();
    buf_free(&whole);
    buf_free(&parts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t scanned = 0, skip = 0;
    struct kerr err = {0};
    long end = 0;
    /* Fed in two pieces, as reads arrive. */
    size_t first = size / 2;
    end = http_head_end(in, first, &scanned, &skip, &err);
    if (end == 0)
        end = http_head_end(in, size, &scanned, &skip, &err);
    if (end < 0) {
        check_refusal(&err);
        return 0;
    }
    if (end == 0) {
        chunked_twice(in, size, first);
        return 0;
    }
    char *head = malloc((size_t)end + 1);
    if (!head)
        return 0;
    memcpy(head, in + skip, (size_t)end);
    head[end] = '\0';
    struct http_head h;
    if (http_parse_head(head, (size_t)end, &h, &err) != 0) {
        check_refusal(&err);
    } else {
        if (!h.method || !h.path || h.path[0] != '/' || (h.minor != 0 && h.minor != 1))
            abort();
        size_t at = skip + (size_t)end;
        if (h.body == HTTP_BODY_CHUNKED)
            chunked_twice(in + at, size - at, (size - at) / 3);
    }
    http_head_free(&h);
    free(head);
    return 0;
}
