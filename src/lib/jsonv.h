/* jsonv: validation rules as data. A rule table describes the fields of one JSON object (name,
 * type, required, lengths, ranges, enum, pattern kind, nested tables); jv_check walks a jansson
 * value against it and reports the JSON path of the FIRST bad field ("order_lines[3].name",
 * "billing_address.postal_code") as 400 BAD_VALUE "Bad value: <path>". jv_filter copies the
 * fields a table knows and drops everything else.
 *
 * Conventions, the same at every level:
 *  - Fields are checked in table order; keys the table does not name are ignored.
 *  - A JSON null is the same as an absent field (a required field that is null is missing).
 *  - JV_INT accepts only JSON integers: 100.0 where an integer is expected is a bad value.
 *  - String lengths count Unicode code points (jansson guarantees valid UTF-8); strings that
 *    contain U+0000 are bad values everywhere (the rest of Kasse uses C strings).
 *  - Arrays: the item count is checked before any item, so a huge array costs nothing.
 *  - A table is an array of struct jv_rule ended by an entry whose name is NULL.
 * Ownership: jv_check borrows everything; jv_filter returns a new reference. */
#ifndef KASSE_JSONV_H
#define KASSE_JSONV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/kerr.h"

enum jv_type {
    JV_STRING = 1, /* min_len/max_len, enums, pattern */
    JV_INT,        /* JSON integer; min/max when JV_MIN/JV_MAX set */
    JV_BOOL,
    JV_OBJECT,     /* fields: the nested table */
    JV_ARRAY,      /* item: the rule every element must meet (its name is unused) */
};

/* Pattern kinds for strings (each a small hand-written matcher, no regex engine). */
enum jv_pattern {
    JV_PAT_NONE = 0,
    JV_PAT_COUNTRY2,   /* ^[A-Za-z]{2}$ */
    JV_PAT_CURRENCY3,  /* ^[A-Za-z]{3}$ */
    JV_PAT_LOCALE,     /* ^[A-Za-z]{2}(-[A-Za-z]{2})*$ (Klarna's pattern) */
    JV_PAT_DATE,       /* YYYY-MM-DD and a real calendar date (leap years), year ≥ 1 */
    JV_PAT_HEXCOLOR,   /* ^#[A-Fa-f0-9]{6}$ */
    JV_PAT_DIGITS4OR9, /* ^([0-9]{4}|[0-9]{9})$ */
    JV_PAT_HTTP_URL,   /* starts with http:// or https:// (scheme in any case) */
    JV_PAT_APP_URL,    /* <scheme>://..., scheme [A-Za-z][A-Za-z0-9+.-]*, not http(s) */
};

/* Rule flags */
#define JV_REQUIRED 1u /* absent or null → bad value (see jv_check flags for the root) */
#define JV_MIN      2u /* JV_INT: value ≥ min */
#define JV_MAX      4u /* JV_INT: value ≤ max */

struct jv_rule {
    const char *name;                /* object key; NULL ends a table */
    enum jv_type type;
    unsigned flags;                  /* JV_REQUIRED | JV_MIN | JV_MAX */
    int64_t min, max;                /* JV_INT range (see flags) */
    size_t min_len, max_len;         /* JV_STRING length in code points; max_len 0: no limit */
    const char *const *enums;        /* JV_STRING: NULL-terminated allowed values, matched in any
                                      * case; jv_filter keeps the table's spelling */
    enum jv_pattern pattern;         /* JV_STRING */
    const struct jv_rule *fields;    /* JV_OBJECT: the nested table */
    const struct jv_rule *item;      /* JV_ARRAY: rule for each element */
    size_t min_items, max_items;     /* JV_ARRAY: max_items 0: no limit */
};

/* jv_check flags (they apply to the root object only; nested objects are always whole). */
#define JV_PARTIAL      1u /* root JV_REQUIRED fields may be absent (a partial update) */
#define JV_JOIN_MISSING 2u /* all missing root required fields are reported in one error,
                            * "Bad value: a, b" (table order), before any other check */

/* Checks that root is an object meeting fields. Returns 0, or -1 with err filled:
 * 400 BAD_VALUE, err->path the path of the first bad field and err->msg "Bad value: <path>".
 * A root that is not an object (NULL included) is "Bad value: body" with an empty path. */
int jv_check(const json_t *root, const struct jv_rule *fields, unsigned flags, struct kerr *err);

/* Checks one value against one rule; path names it in the error (e.g. "order_lines[2]"). */
int jv_check_value(const json_t *v, const struct jv_rule *rule, const char *path,
                   struct kerr *err);

/* A new object holding deep copies of the fields of obj the table names, recursively (nested
 * objects and array elements filtered by their own tables), nulls and unknown keys dropped.
 * Values whose JSON type does not match their rule are dropped too, so it is safe on unchecked
 * input, but it is meant for input jv_check accepted. NULL when obj is not an object or memory
 * runs out. */
json_t *jv_filter(const json_t *obj, const struct jv_rule *fields);

/* Rewrites, in place, every enum value of obj that matches its table in another case to the
 * table's spelling (nested objects and arrays included); nothing else changes. */
void jv_canonicalize(json_t *obj, const struct jv_rule *fields);
/* Pattern matchers, exposed for callers and tests: true when s matches the kind. */
bool jv_pattern_ok(enum jv_pattern kind, const char *s);

#endif
