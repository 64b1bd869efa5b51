/* jsonp: a strict, fast JSON parser that builds jansson values straight from a byte buffer.
 * It replaces json_loadb(..., JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) on the request path
 * (jansson's lexer reads one byte at a time through a stream callback). It accepts and rejects
 * exactly what that call does, with these deliberate differences:
 *  - objects and arrays nested deeper than max_depth are rejected ("[[1]]" has depth 2, a
 *    scalar adds none). max_depth is capped at JSONP_JANSSON_MAX_DEPTH, and, as in jansson,
 *    any value (scalars included) lying deeper than that cap is rejected;
 *  - jansson 2.14 skips one NUL byte right after a number or a literal ("1\0", "[true\0]" are
 *    accepted there, a side effect of its unget buffer); jsonp rejects every NUL byte outside
 *    a string, as RFC 8259 requires.
 * The rest is RFC 8259: whitespace is space/tab/LF/CR; strings are valid UTF-8 (no overlongs,
 * no encoded surrogates, nothing above U+10FFFF), no raw control characters, no lone surrogate
 * escapes, no \u0000; integers must fit json_int_t; reals that overflow to infinity are
 * rejected (underflow to 0 is accepted, as in jansson); duplicate object keys are rejected.
 * Reals are converted with strtod in the "C" locale whatever the process locale is.
 * Ownership: the input is borrowed; the result is a new reference owned by the caller. */
#ifndef KASSE_JSONP_H
#define KASSE_JSONP_H

#include <jansson.h>
#include <stddef.h>

#define JSONP_JANSSON_MAX_DEPTH 2048   /* jansson's JSON_PARSER_MAX_DEPTH */

/* Parses exactly one JSON value from s[0..n) (surrounding whitespace allowed, nothing else).
 * Returns a new reference, or NULL with a message in err (like "invalid token near '...' (line L, column C)")
 * when the text is not JSON or breaks a rule above. */
json_t *jsonp_parse(const char *s, size_t n, int max_depth, char *err, size_t err_cap);

/* Where a parse failed because a number is out of range (an integer beyond int64, a real
 * that overflows): valid JSON that Kasse cannot hold. Clients get "Bad value: <path>" for
 * those, as for any other bad amount, instead of a syntax error. A parse that ran out of
 * memory says so too: that is a server error, not a malformed body. */
struct jsonp_error {
    int out_of_range;      /* the failure is a number out of range */
    int out_of_memory;     /* the failure is the parser's, not the text's */
    int truncated;         /* the path was too long to keep whole */
    char path[256];        /* "order_lines[0].quantity" (empty for a top-level number) */
};

/* jsonp_parse, also filling where (if not NULL). */
json_t *jsonp_parse_at(const char *s, size_t n, int max_depth, char *err, size_t err_cap,
                       struct jsonp_error *where);

#endif
