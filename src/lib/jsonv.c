/* jsonv: the rule-table walker (see jsonv.h). Owns type, length, range, enum, pattern, required
 * and item-count checks, the JSON path of the first bad field, and copying known fields. */
#include "lib/jsonv.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PATH_MAX_BYTES sizeof(((struct kerr *)0)->path)

/* The path of the value being checked; pushes append, pops truncate back. */
struct jv_path {
    char s[PATH_MAX_BYTES];
    size_t len;
};

static size_t path_push_key(struct jv_path *p, const char *key)
{
    size_t old = p->len;
    int n = snprintf(p->s + old, sizeof p->s - old, old ? ".%s" : "%s", key);
    p->len = (n < 0 || (size_t)n >= sizeof p->s - old) ? sizeof p->s - 1 : old + (size_t)n;
    return old;
}

static size_t path_push_index(struct jv_path *p, size_t i)
{
    size_t old = p->len;
    int n = snprintf(p->s + old, sizeof p->s - old, "[%zu]", i);
    p->len = (n < 0 || (size_t)n >= sizeof p->s - old) ? sizeof p->s - 1 : old + (size_t)n;
    return old;
}

static void path_pop(struct jv_path *p, size_t old)
{
    p->len = old;
    p->s[old] = '\0';
}

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool letters(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_alpha(s[i]))
            return false;
    return s[n] == '\0';
}

static bool digits_n(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

static bool locale_ok(const char *s)
{
    if (!is_alpha(s[0]) || !is_alpha(s[1]))
        return false;
    for (s += 2; *s; s += 3)
        if (s[0] != '-' || !is_alpha(s[1]) || !is_alpha(s[2]))
            return false;
    return true;
}

static bool date_ok(const char *s)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (strlen(s) != 10 || !digits_n(s, 4) || s[4] != '-' || !digits_n(s + 5, 2) ||
        s[7] != '-' || !digits_n(s + 8, 2))
        return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

static bool hexcolor_ok(const char *s)
{
    if (s[0] != '#')
        return false;
    for (int i = 1; i <= 6; i++)
        if (!is_hex(s[i]))
            return false;
    return s[7] == '\0';
}

static bool ssn_ok(const char *s)
{
    size_t n = strlen(s);
    return (n == 4 || n == 9) && digits_n(s, n);
}

static bool app_url_ok(const char *s)
{
    if (!is_alpha(s[0]))
        return false;
    size_t i = 1;
    while (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '.' || s[i] == '-')
        i++;
    if (strncmp(s + i, "://", 3) != 0)
        return false;
    return !((i == 4 && strncasecmp(s, "http", 4) == 0) ||
             (i == 5 && strncasecmp(s, "https", 5) == 0));
}

bool jv_pattern_ok(enum jv_pattern kind, const char *s)
{
    if (!s)
        return false;
    switch (kind) {
    case JV_PAT_NONE:       return true;
    case JV_PAT_COUNTRY2:   return letters(s, 2);
    case JV_PAT_CURRENCY3:  return strlen(s) == 3 && letters(s, 3);
    case JV_PAT_LOCALE:     return locale_ok(s);
    case JV_PAT_DATE:       return date_ok(s);
    case JV_PAT_HEXCOLOR:   return hexcolor_ok(s);
    case JV_PAT_DIGITS4OR9: return ssn_ok(s);
    case JV_PAT_HTTP_URL:
        return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
    case JV_PAT_APP_URL:    return app_url_ok(s);
    }
    return false;
}

/* Code points in valid UTF-8 of n bytes: count the bytes that do not continue a sequence. */
static size_t utf8_length(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

/* The table's spelling of s when s is one of enums in any case (Klarna accepts
 * "ecommerce" for "ECOMMERCE"), else NULL. */
static const char *in_enum(const char *const *enums, const char *s)
{
    for (; *enums; enums++)
        if (strcasecmp(*enums, s) == 0)
            return *enums;
    return NULL;
}

static int bad(struct kerr *err, const struct jv_path *p)
{
    return kerr_bad_value(err, p->s);
}

static int check_value(const json_t *v, const struct jv_rule *r, struct jv_path *p,
                       struct kerr *err);

static int check_string(const json_t *v, const struct jv_rule *r, const struct jv_path *p,
                        struct kerr *err)
{
    if (!json_is_string(v))
        return bad(err, p);
    const char *s = json_string_value(v);
    size_t bytes = json_string_length(v);
    if (memchr(s, '\0', bytes))
        return bad(err, p);
    size_t len = utf8_length(s, bytes);
    if (len < r->min_len || (r->max_len && len > r->max_len))
        return bad(err, p);
    if (r->enums && !in_enum(r->enums, s))
        return bad(err, p);
    if (!jv_pattern_ok(r->pattern, s))
        return bad(err, p);
    return 0;
}

static int check_int(const json_t *v, const struct jv_rule *r, const struct jv_path *p,
                     struct kerr *err)
{
    if (!json_is_integer(v))
        return bad(err, p);
    json_int_t x = json_integer_value(v);
    if (((r->flags & JV_MIN) && x < r->min) || ((r->flags & JV_MAX) && x > r->max))
        return bad(err, p);
    return 0;
}

static int check_fields(const json_t *obj, const struct jv_rule *fields, bool enforce_required,
                        struct jv_path *p, struct kerr *err)
{
    for (const struct jv_rule *r = fields; r && r->name; r++) {
        const json_t *v = json_object_get(obj, r->name);
        if (!v || json_is_null(v)) {
            if (enforce_required && (r->flags & JV_REQUIRED)) {
                path_push_key(p, r->name);
                return bad(err, p);
            }
            continue;
        }
        size_t old = path_push_key(p, r->name);
        if (check_value(v, r, p, err))
            return -1;
        path_pop(p, old);
    }
    return 0;
}

static int check_array(const json_t *v, const struct jv_rule *r, struct jv_path *p,
                       struct kerr *err)
{
    if (!json_is_array(v))
        return bad(err, p);
    size_t n = json_array_size(v);
    if (n < r->min_items || (r->max_items && n > r->max_items))
        return bad(err, p);
    if (!r->item)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t old = path_push_index(p, i);
        const json_t *e = json_array_get(v, i);
        /* A null element is not "absent": an array slot must hold a value. */
        if (json_is_null(e))
            return bad(err, p);
        if (check_value(e, r->item, p, err))
            return -1;
        path_pop(p, old);
    }
    return 0;
}

static int check_value(const json_t *v, const struct jv_rule *r, struct jv_path *p,
                       struct kerr *err)
{
    switch (r->type) {
    case JV_STRING: return check_string(v, r, p, err);
    case JV_INT:    return check_int(v, r, p, err);
    case JV_BOOL:   return json_is_boolean(v) ? 0 : bad(err, p);
    case JV_OBJECT:
        if (!json_is_object(v))
            return bad(err, p);
        return check_fields(v, r->fields, true, p, err);
    case JV_ARRAY:  return check_array(v, r, p, err);
    }
    return bad(err, p);
}

/* JV_JOIN_MISSING: "Bad value: a, b, c" naming every missing required root field. */
static int check_missing_joined(const json_t *root, const struct jv_rule *fields,
                                struct kerr *err)
{
    char list[PATH_MAX_BYTES] = "";
    size_t len = 0;
    for (const struct jv_rule *r = fields; r && r->name; r++) {
        const json_t *v = json_object_get(root, r->name);
        if (!(r->flags & JV_REQUIRED) || (v && !json_is_null(v)))
            continue;
        int n = snprintf(list + len, sizeof list - len, len ? ", %s" : "%s", r->name);
        if (n < 0 || (size_t)n >= sizeof list - len)
            break; /* keep the names that fit */
        len += (size_t)n;
    }
    return len ? kerr_bad_value(err, list) : 0;
}

int jv_check(const json_t *root, const struct jv_rule *fields, unsigned flags, struct kerr *err)
{
    if (!json_is_object(root)) {
        kerr_set(err, 400, "BAD_VALUE", "Bad value: body");
        return -1;
    }
    bool required = !(flags & JV_PARTIAL);
    if (required && (flags & JV_JOIN_MISSING) && check_missing_joined(root, fields, err))
        return -1;
    struct jv_path p = { .s = "", .len = 0 };
    return check_fields(root, fields, required, &p, err);
}

int jv_check_value(const json_t *v, const struct jv_rule *rule, const char *path,
                   struct kerr *err)
{
    struct jv_path p = { .s = "", .len = 0 };
    if (!rule)
        return kerr_internal(err, "jv_check_value: no rule");
    path_push_key(&p, path ? path : "");
    if (!v)
        return bad(err, &p);
    return check_value(v, rule, &p, err);
}

static json_t *filter_value(const json_t *v, const struct jv_rule *r, bool *ok);

static json_t *filter_array(const json_t *v, const struct jv_rule *r, bool *ok)
{
    json_t *out = json_array();
    if (!out) {
        *ok = false;
        return NULL;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        json_t *c = r->item ? filter_value(e, r->item, ok) : json_deep_copy(e);
        if (!*ok || (!r->item && !c) || (c && json_array_append_new(out, c))) {
            *ok = false;
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* A filtered copy of v, or NULL (with *ok still true) when v's type does not match r. */
static json_t *filter_value(const json_t *v, const struct jv_rule *r, bool *ok)
{
    json_t *c = NULL;
    switch (r->type) {
    case JV_STRING:
        if (!json_is_string(v))
            return NULL;
        /* An enum value is kept in the table's spelling, whatever case it came in. */
        if (r->enums && in_enum(r->enums, json_string_value(v)))
            c = json_string(in_enum(r->enums, json_string_value(v)));
        else
            c = json_copy((json_t *)v);
        break;
    case JV_INT:    if (!json_is_integer(v)) return NULL; c = json_copy((json_t *)v); break;
    case JV_BOOL:   if (!json_is_boolean(v)) return NULL; c = json_copy((json_t *)v); break;
    case JV_OBJECT: if (!json_is_object(v)) return NULL; c = jv_filter(v, r->fields); break;
    case JV_ARRAY:  if (!json_is_array(v)) return NULL; return filter_array(v, r, ok);
    }
    if (!c)
        *ok = false;
    return c;
}

json_t *jv_filter(const json_t *obj, const struct jv_rule *fields)
{
    if (!json_is_object(obj))
        return NULL;
    json_t *out = json_object();
    if (!out)
        return NULL;
    for (const struct jv_rule *r = fields; r && r->name; r++) {
        const json_t *v = json_object_get(obj, r->name);
        if (!v || json_is_null(v))
            continue;
        bool ok = true;
        json_t *c = filter_value(v, r, &ok);
        if (!ok || (c && json_object_set_new(out, r->name, c))) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static void canon_value(json_t *v, const struct jv_rule *r);

void jv_canonicalize(json_t *obj, const struct jv_rule *fields)
{
    if (!json_is_object(obj))
        return;
    for (const struct jv_rule *r = fields; r && r->name; r++) {
        json_t *v = json_object_get(obj, r->name);
        if (r->type == JV_STRING && r->enums && json_is_string(v)) {
            const char *canon = in_enum(r->enums, json_string_value(v));
            if (canon && strcmp(canon, json_string_value(v)) != 0)
                json_object_set_new(obj, r->name, json_string(canon));
        } else if (v) {
            canon_value(v, r);
        }
    }
}

static void canon_value(json_t *v, const struct jv_rule *r)
{
    if (r->type == JV_OBJECT) {
        jv_canonicalize(v, r->fields);
    } else if (r->type == JV_ARRAY && r->item && json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (r->item->type == JV_STRING && r->item->enums && json_is_string(e)) {
                const char *canon = in_enum(r->item->enums, json_string_value(e));
                if (canon)
                    json_array_set_new(v, i, json_string(canon));
            } else {
                canon_value(e, r->item);
            }
        }
    }
}
