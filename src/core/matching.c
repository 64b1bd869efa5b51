/* matching: does a create-order (or customer-token) request match the authorized snapshot?
 * (contract 2.5, 10.5). Owns the list of compared fields, how each kind is compared, and the
 * order and wording of the 409 "Not matching fields: [...]" message. Pure; borrows both values.
 *
 * Compared, in this order (the order of the paths in the message):
 *  1. order_amount, order_tax_amount (absent = 0), purchase_currency, purchase_country
 *     (currency and country case-insensitively);
 *  2. order_lines as an ordered list: line by line, fields name, quantity, unit_price,
 *     total_amount, total_discount_amount, tax_rate, total_tax_amount, type, reference;
 *  3. billing_address, then shipping_address, field by field in alphabetical order.
 *
 * Decisions [INF]:
 *  - A JSON null is an absent field (lib/jsonv's convention), everywhere.
 *  - A different number of lines is reported alone ("Not matching fields: [Incorrect number of
 *    items in the cart. Expected: N, Actual: M]", path "order_lines"): a changed cart almost
 *    always changes order_amount too, and Klarna's documented message lists only the count.
 *  - Line fields: type absent = "physical"; the integer fields tax_rate, total_discount_amount,
 *    total_tax_amount absent = 0 (the same cart written with explicit zeros is the same cart);
 *    reference is a string compared exactly, absent on one side only is a mismatch.
 *  - Addresses: only the address fields Kasse knows are compared (unknown keys are dropped
 *    from the stored form anyway). Strings exactly, except country case-insensitively; a field
 *    present on one side only is a mismatch. An address that is absent, null or has none of
 *    the known fields counts as absent: an absent authorized address matches any request value
 *    (Klarna: "an empty authorized payload matches"), and a request that omits an address the
 *    snapshot has matches too (the order uses the authorized one).
 *  - Values of an unexpected JSON type (the request is schema-checked, so only on a damaged
 *    snapshot) match only when json_equal says so.
 *  - The message is capped at sizeof kerr.msg: paths that do not fit are replaced by "...";
 *    err->path is always the first path. */
#include "core/matching.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MSG_PREFIX "Not matching fields: ["
#define MSG_MORE   ", ...]"

enum cmp_kind {
    CMP_INT0,     /* JSON integer, absent = 0 */
    CMP_INT,      /* JSON integer, absent only equals absent */
    CMP_STR,      /* string, exact; absent only equals absent */
    CMP_STR_CI,   /* string, case-insensitive; absent only equals absent */
    CMP_TYPE,     /* line type: string, absent = "physical" */
};

struct field {
    const char *name;
    enum cmp_kind kind;
};

static const struct field top_fields[] = {
    { "order_amount", CMP_INT },
    { "order_tax_amount", CMP_INT0 },
    { "purchase_currency", CMP_STR_CI },
    { "purchase_country", CMP_STR_CI },
};

static const struct field line_fields[] = {
    { "name", CMP_STR },
    { "quantity", CMP_INT },
    { "unit_price", CMP_INT },
    { "total_amount", CMP_INT },
    { "total_discount_amount", CMP_INT0 },
    { "tax_rate", CMP_INT0 },
    { "total_tax_amount", CMP_INT0 },
    { "type", CMP_TYPE },
    { "reference", CMP_STR },
};

/* Alphabetical: the order of the paths in the message. */
static const struct field address_fields[] = {
    { "attention", CMP_STR },
    { "city", CMP_STR },
    { "country", CMP_STR_CI },
    { "email", CMP_STR },
    { "family_name", CMP_STR },
    { "given_name", CMP_STR },
    { "organization_name", CMP_STR },
    { "phone", CMP_STR },
    { "postal_code", CMP_STR },
    { "region", CMP_STR },
    { "street_address", CMP_STR },
    { "street_address2", CMP_STR },
    { "title", CMP_STR },
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The mismatch list being built into the message. */
struct mismatches {
    char msg[sizeof ((struct kerr *)0)->msg];
    char first[sizeof ((struct kerr *)0)->path];
    size_t len;   /* bytes used in msg */
    size_t n;     /* paths seen */
    bool full;    /* some paths did not fit */
};

static void list_init(struct mismatches *m)
{
    memset(m, 0, sizeof *m);
    m->len = (size_t)snprintf(m->msg, sizeof m->msg, "%s", MSG_PREFIX);
}

static void list_add(struct mismatches *m, const char *path)
{
    if (m->n++ == 0)
        snprintf(m->first, sizeof m->first, "%s", path);
    if (m->full)
        return;
    const char *sep = m->n > 1 ? ", " : "";
    size_t need = strlen(sep) + strlen(path);
    if (m->len + need + sizeof MSG_MORE > sizeof m->msg) {
        m->full = true;
        return;
    }
    m->len += (size_t)snprintf(m->msg + m->len, sizeof m->msg - m->len, "%s%s", sep, path);
}

static int list_finish(struct mismatches *m, struct kerr *err)
{
    if (m->n == 0)
        return 0;
    snprintf(m->msg + m->len, sizeof m->msg - m->len, "%s", m->full ? MSG_MORE : "]");
    kerr_set(err, 409, "BAD_VALUE", "%s", m->msg);
    if (err)
        snprintf(err->path, sizeof err->path, "%s", m->first);
    return -1;
}

/* A field of obj, NULL when absent or null. */
static const json_t *field_of(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_null(v) ? NULL : v;
}

static bool values_match(const json_t *a, const json_t *b, enum cmp_kind kind)
{
    switch (kind) {
    case CMP_INT0:
        if (!a && !b)
            return true;
        if ((!a || json_is_integer(a)) && (!b || json_is_integer(b)))
            return (a ? json_integer_value(a) : 0) == (b ? json_integer_value(b) : 0);
        break;
    case CMP_TYPE:
        if ((!a || json_is_string(a)) && (!b || json_is_string(b)))
            return strcmp(a ? json_string_value(a) : "physical",
                          b ? json_string_value(b) : "physical") == 0;
        break;
    case CMP_STR_CI:
        if (a && b && json_is_string(a) && json_is_string(b))
            return strcasecmp(json_string_value(a), json_string_value(b)) == 0;
        break;
    case CMP_INT:
    case CMP_STR:
        break;
    }
    if (!a || !b)
        return !a && !b;
    return json_equal(a, b) != 0;
}

static void compare_fields(const json_t *auth, const json_t *req, const struct field *fields,
                           size_t n, const char *prefix, struct mismatches *m)
{
    for (size_t i = 0; i < n; i++) {
        if (values_match(field_of(auth, fields[i].name), field_of(req, fields[i].name),
                         fields[i].kind))
            continue;
        char path[128];
        snprintf(path, sizeof path, "%s%s", prefix, fields[i].name);
        list_add(m, path);
    }
}

/* Whether an address object carries any field Kasse compares. */
static bool address_present(const json_t *a)
{
    if (!json_is_object(a))
        return false;
    for (size_t i = 0; i < N_OF(address_fields); i++)
        if (field_of(a, address_fields[i].name))
            return true;
    return false;
}

static void compare_address(const json_t *auth, const json_t *req, const char *name,
                            struct mismatches *m)
{
    const json_t *a = field_of(auth, name), *r = field_of(req, name);
    if (!address_present(a) || !address_present(r))
        return;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s.", name);
    compare_fields(a, r, address_fields, N_OF(address_fields), prefix, m);
}

int matching_check(const json_t *authorized, const json_t *request, struct kerr *err)
{
    const json_t *al = field_of(authorized, "order_lines");
    const json_t *rl = field_of(request, "order_lines");
    size_t na = json_array_size(al), nr = json_array_size(rl);
    if (na != nr) {
        kerr_set(err, 409, "BAD_VALUE",
                 "Not matching fields: [Incorrect number of items in the cart. Expected: %zu, "
                 "Actual: %zu]", na, nr);
        if (err)
            snprintf(err->path, sizeof err->path, "order_lines");
        return -1;
    }
    struct mismatches m;
    list_init(&m);
    compare_fields(authorized, request, top_fields, N_OF(top_fields), "", &m);
    for (size_t i = 0; i < na; i++) {
        const json_t *a = json_array_get(al, i), *r = json_array_get(rl, i);
        char prefix[48];
        if (!json_is_object(a) || !json_is_object(r)) {
            if (!json_equal(a, r)) {
                snprintf(prefix, sizeof prefix, "order_lines[%zu]", i);
                list_add(&m, prefix);
            }
            continue;
        }
        snprintf(prefix, sizeof prefix, "order_lines[%zu].", i);
        compare_fields(a, r, line_fields, N_OF(line_fields), prefix, &m);
    }
    compare_address(authorized, request, "billing_address", &m);
    compare_address(authorized, request, "shipping_address", &m);
    return list_finish(&m, err);
}
