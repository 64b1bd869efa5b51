/* jsonp_fuzz: libFuzzer target for src/lib/jsonp.c, differential against jansson 2.14's
 * json_loadb(..., JSON_REJECT_DUPLICATES | JSON_DECODE_ANY). For every input:
 *  - both accept or both reject, and accepted values are identical (types, integers exactly,
 *    reals bit for bit, strings byte for byte, object keys in the same order);
 *  - the one documented difference is checked precisely: when jansson accepts a text holding
 *    NUL bytes (its unget buffer skips a NUL after a number or literal), jsonp must reject it
 *    and accept the same text without the NULs, giving jansson's value;
 *  - with a small max_depth, jsonp accepts exactly the accepted values nested no deeper;
 *  - a rejection always leaves a terminated, non-empty message.
 * Build and run: fuzz/README.md. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jsonp.h"

#define SMALL_DEPTH 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const json_t *a, const json_t *b)
{
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_INTEGER:
        return json_integer_value(a) == json_integer_value(b);
    case JSON_REAL: {
        double x = json_real_value(a), y = json_real_value(b);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
        for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia),
                         ib = json_object_iter_next((json_t *)b, ib)) {
            if (strcmp(json_object_iter_key(ia), json_object_iter_key(ib)) != 0 ||
                !same(json_object_iter_value(ia), json_object_iter_value(ib)))
                return false;
        }
        return !ia && !ib;
    }
    default:
        return true;
    }
}

/* Nesting of objects and arrays, as max_depth counts it. */
static int depth_of(const json_t *v)
{
    int d = 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int k = depth_of(json_array_get(v, i));
            d = k > d ? k : d;
        }
        return d + 1;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) {
            int k = depth_of(val);
            d = k > d ? k : d;
        }
        return d + 1;
    }
    return 0;
}

static void die(const char *what, const uint8_t *data, size_t size, const char *detail)
{
    fprintf(stderr, "jsonp_fuzz: %s (%s) on %zu bytes: '%.*s'\n", what, detail, size,
            (int)(size > 200 ? 200 : size), (const char *)data);
    abort();
}

static void check_err(const char *err, size_t cap, const uint8_t *data, size_t size)
{
    if (!memchr(err, '\0', cap) || err[0] == '\0')
        die("rejection without a message", data, size, "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    json_error_t je;
    json_t *want = json_loadb(s, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    char err[160];
    memset(err, 'x', sizeof err);
    json_t *got = jsonp_parse(s, size, JSONP_JANSSON_MAX_DEPTH, err, sizeof err);
    if (!got)
        check_err(err, sizeof err, data, size);

    if (want && !got && memchr(s, '\0', size)) {
        /* jansson's NUL-after-token quirk (jsonp.h): the text without NULs must match. */
        char *t = malloc(size);
        size_t m = 0;
        for (size_t i = 0; i < size; i++)
            if (s[i] != '\0')
                t[m++] = s[i];
        got = jsonp_parse(t, m, JSONP_JANSSON_MAX_DEPTH, err, sizeof err);
        free(t);
        if (!got)
            die("jansson accepts, jsonp rejects even without NULs", data, size, err);
    } else if (want && !got) {
        die("jansson accepts, jsonp rejects", data, size, err);
    } else if (!want && got) {
        die("jansson rejects, jsonp accepts", data, size, je.text);
    }
    if (want && !same(want, got))
        die("values differ", data, size, "");
    if (want && !json_equal(want, got))
        die("json_equal differs", data, size, "");

    if (want && got && !memchr(s, '\0', size)) {
        json_t *small = jsonp_parse(s, size, SMALL_DEPTH, err, sizeof err);
        bool fits = depth_of(want) <= SMALL_DEPTH;
        if ((small != NULL) != fits)
            die("max_depth disagrees with the value's depth", data, size, err);
        if (small && !same(small, want))
            die("values differ under a small max_depth", data, size, "");
        if (!small)
            check_err(err, sizeof err, data, size);
        json_decref(small);
    }
    json_decref(want);
    json_decref(got);
    return 0;
}
