/* session: the Klarna Payments session rules (contract 2.2, 2.4, 2.8, 2.10).
 * Owns: the session schema (one static rule table per object, walked by lib/jsonv), the stored
 * form (known writable fields only, defaults applied), the update merge, and the order of the
 * checks: schema and limits → country/currency/locale → cart (line arithmetic, line tax, order
 * total, order tax; core/cart.c).
 *
 * Decisions where the contract is silent or loose (all [INF]):
 *  - merchant_urls accept http:// as well as https://: the https-only pattern is only in the
 *    newer spec copy (contract 11.12) and playground integrations send http URLs.
 *  - The market check uses purchase_country; a differing billing_address.country is stored but
 *    not used to pick the market (contract 2.2 says billing overrides; kept simple on purpose).
 *  - A JSON null is treated as an absent field, in create and in update (an update with
 *    "locale": null keeps the stored locale).
 *  - Country, currency and locale are stored as received (any case); lookups ignore case.
 *  - An update that changes purchase_country without a locale, when the stored locale is the
 *    default of the old country ("en-SE"), moves the locale to the new default ("en-DE"),
 *    since the merchant never chose it. */
#include "core/session.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cart.h"
#include "core/market.h"
#include "lib/jsonv.h"
#include "lib/limits.h"
#include "lib/mem.h"

#define STR(n, maxl)     { .name = (n), .type = JV_STRING, .max_len = (maxl) }
#define STR_PAT(n, pat)  { .name = (n), .type = JV_STRING, .pattern = (pat) }
#define STR_ENUM(n, e)   { .name = (n), .type = JV_STRING, .enums = (e) }
#define OBJ(n, f)        { .name = (n), .type = JV_OBJECT, .fields = (f) }
#define END              { .name = NULL }

/* Same order as enum line_type, so the index of a match is the enum value. */
static const char *const line_types[] = {
    "physical", "discount", "shipping_fee", "sales_tax", "digital", "gift_card",
    "store_credit", "surcharge", NULL
};
static const char *const intents[] = {
    "buy", "tokenize", "buy_and_tokenize", "buy_and_default_tokenize", "buy_and_link", NULL
};
static const char *const channels[] = { "ECOMMERCE", "IN_STORE", "TELESALES", NULL };
static const char *const genders[] = { "male", "female", NULL };
static const char *const customer_types[] = { "person", "organization", NULL };
static const char *const entity_types[] = {
    "LIMITED_COMPANY", "PUBLIC_LIMITED_COMPANY", "ENTREPRENEURIAL_COMPANY",
    "LIMITED_PARTNERSHIP_LIMITED_COMPANY", "LIMITED_PARTNERSHIP", "GENERAL_PARTNERSHIP",
    "REGISTERED_SOLE_TRADER", "SOLE_TRADER", "CIVIL_LAW_PARTNERSHIP", "PUBLIC_INSTITUTION",
    "OTHER", NULL
};
static const char *const intervals[] = { "DAY", "WEEK", "MONTH", "YEAR", NULL };

static const struct jv_rule address_rules[] = {
    STR("title", LIMIT_TITLE),
    STR("given_name", LIMIT_ADDRESS_FIELD),
    STR("family_name", LIMIT_ADDRESS_FIELD),
    STR("email", LIMIT_ADDRESS_FIELD),
    STR("phone", LIMIT_ADDRESS_FIELD),
    STR("street_address", LIMIT_ADDRESS_FIELD),
    STR("street_address2", LIMIT_ADDRESS_FIELD),
    STR("postal_code", LIMIT_POSTAL_CODE),
    STR("city", LIMIT_ADDRESS_FIELD),
    STR("region", LIMIT_ADDRESS_FIELD),
    STR_PAT("country", JV_PAT_COUNTRY2),
    STR("attention", LIMIT_ADDRESS_FIELD),
    STR("organization_name", LIMIT_ADDRESS_FIELD),
    END
};

static const struct jv_rule customer_rules[] = {
    STR_PAT("date_of_birth", JV_PAT_DATE),
    STR_ENUM("gender", genders),
    STR("title", LIMIT_STRING_DEFAULT),
    STR_ENUM("type", customer_types),
    STR("national_identification_number", LIMIT_STRING_DEFAULT),
    STR_PAT("last_four_ssn", JV_PAT_DIGITS4OR9),
    STR("organization_registration_id", LIMIT_STRING_DEFAULT),
    STR_ENUM("organization_entity_type", entity_types),
    STR("vat_id", LIMIT_STRING_DEFAULT),
    STR("customer_token", LIMIT_STRING_DEFAULT),
    END
};

static const struct jv_rule merchant_url_rules[] = {
    { .name = "confirmation", .type = JV_STRING, .max_len = LIMIT_MERCHANT_URL,
      .pattern = JV_PAT_HTTP_URL },
    { .name = "notification", .type = JV_STRING, .max_len = LIMIT_MERCHANT_URL,
      .pattern = JV_PAT_HTTP_URL },
    { .name = "push", .type = JV_STRING, .max_len = LIMIT_MERCHANT_URL,
      .pattern = JV_PAT_HTTP_URL },
    { .name = "authorization", .type = JV_STRING, .max_len = LIMIT_MERCHANT_URL,
      .pattern = JV_PAT_HTTP_URL },
    { .name = "app_return_url", .type = JV_STRING, .max_len = LIMIT_MERCHANT_URL,
      .pattern = JV_PAT_APP_URL },
    END
};

static const struct jv_rule attachment_rules[] = {
    { .name = "body", .type = JV_STRING, .flags = JV_REQUIRED },
    { .name = "content_type", .type = JV_STRING, .flags = JV_REQUIRED,
      .max_len = LIMIT_STRING_DEFAULT },
    END
};

static const struct jv_rule options_rules[] = {
    STR_PAT("color_border", JV_PAT_HEXCOLOR),
    STR_PAT("color_border_selected", JV_PAT_HEXCOLOR),
    STR_PAT("color_details", JV_PAT_HEXCOLOR),
    STR_PAT("color_text", JV_PAT_HEXCOLOR),
    STR("radius_border", LIMIT_STRING_DEFAULT),
    END
};

static const struct jv_rule product_identifier_rules[] = {
    STR("brand", LIMIT_PRODUCT_BRAND),
    STR("category_path", LIMIT_PRODUCT_CATEGORY_PATH),
    STR("global_trade_item_number", LIMIT_PRODUCT_GTIN),
    STR("manufacturer_part_number", LIMIT_PRODUCT_MPN),
    STR("color", LIMIT_PRODUCT_COLOR),
    STR("size", LIMIT_PRODUCT_SIZE),
    END
};

static const struct jv_rule subscription_rules[] = {
    { .name = "name", .type = JV_STRING, .flags = JV_REQUIRED, .min_len = 1,
      .max_len = LIMIT_STRING_DEFAULT },
    { .name = "interval", .type = JV_STRING, .flags = JV_REQUIRED, .enums = intervals },
    { .name = "interval_count", .type = JV_INT, .flags = JV_REQUIRED | JV_MIN, .min = 1 },
    END
};

static const struct jv_rule order_line_rules[] = {
    STR_ENUM("type", line_types),
    STR("reference", LIMIT_STRING_DEFAULT),
    { .name = "name", .type = JV_STRING, .flags = JV_REQUIRED, .min_len = 1,
      .max_len = LIMIT_STRING_DEFAULT },
    { .name = "quantity", .type = JV_INT, .flags = JV_REQUIRED | JV_MIN, .min = 0 },
    /* "" is a value Klarna accepts and reads back (recorded traffic) */
    STR("quantity_unit", LIMIT_QUANTITY_UNIT),
    { .name = "unit_price", .type = JV_INT, .flags = JV_REQUIRED | JV_MIN | JV_MAX,
      .min = LIMIT_LINE_AMOUNT_MIN, .max = LIMIT_LINE_AMOUNT_MAX },
    { .name = "tax_rate", .type = JV_INT, .flags = JV_MIN | JV_MAX,
      .min = 0, .max = LIMIT_TAX_RATE_MAX },
    { .name = "total_amount", .type = JV_INT, .flags = JV_REQUIRED | JV_MIN | JV_MAX,
      .min = LIMIT_LINE_AMOUNT_MIN, .max = LIMIT_LINE_AMOUNT_MAX },
    { .name = "total_discount_amount", .type = JV_INT, .flags = JV_MIN, .min = 0 },
    { .name = "total_tax_amount", .type = JV_INT },
    STR("merchant_data", LIMIT_LINE_MERCHANT_DATA),
    STR("product_url", LIMIT_URL_FIELD),
    STR("image_url", LIMIT_URL_FIELD),
    OBJ("product_identifiers", product_identifier_rules),
    OBJ("subscription", subscription_rules),
    END
};

static const struct jv_rule order_line_item = { .type = JV_OBJECT, .fields = order_line_rules };
static const struct jv_rule payment_id_item = { .type = JV_STRING,
                                                .max_len = LIMIT_STRING_DEFAULT };

/* The writable session fields. Read-only ones (authorization_token, client_token, expires_at,
 * payment_method_categories, status) are absent, so they are ignored on input and never stored.
 * The required fields are in the order the joined "missing" message names them. */
static const struct jv_rule session_rules[] = {
    { .name = "purchase_country", .type = JV_STRING, .flags = JV_REQUIRED,
      .pattern = JV_PAT_COUNTRY2 },
    { .name = "purchase_currency", .type = JV_STRING, .flags = JV_REQUIRED,
      .pattern = JV_PAT_CURRENCY3 },
    STR_PAT("locale", JV_PAT_LOCALE),
    { .name = "order_amount", .type = JV_INT, .flags = JV_REQUIRED | JV_MIN, .min = 0 },
    { .name = "order_tax_amount", .type = JV_INT, .flags = JV_MIN, .min = 0 },
    { .name = "order_lines", .type = JV_ARRAY, .flags = JV_REQUIRED, .item = &order_line_item,
      .min_items = LIMIT_ORDER_LINES_MIN, .max_items = LIMIT_ORDER_LINES_MAX },
    STR_ENUM("intent", intents),
    STR_ENUM("acquiring_channel", channels),
    OBJ("merchant_urls", merchant_url_rules),
    STR("merchant_reference1", LIMIT_STRING_DEFAULT),
    STR("merchant_reference2", LIMIT_STRING_DEFAULT),
    STR("merchant_data", LIMIT_MERCHANT_DATA),
    OBJ("billing_address", address_rules),
    OBJ("shipping_address", address_rules),
    OBJ("customer", customer_rules),
    OBJ("attachment", attachment_rules),
    { .name = "custom_payment_method_ids", .type = JV_ARRAY, .item = &payment_id_item,
      .max_items = LIMIT_CUSTOM_PAYMENT_IDS },
    STR("design", LIMIT_STRING_DEFAULT),
    OBJ("options", options_rules),
    STR("step_up_id", LIMIT_STRING_DEFAULT),
    END
};

static const char *get_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int64_t get_int(const json_t *obj, const char *key, bool *present)
{
    const json_t *v = json_object_get(obj, key);
    if (present)
        *present = json_is_integer(v);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* "en-<COUNTRY>" uppercase: every market has an English locale (contract section 8).
 * False when country is not two characters (then there is no default). */
static bool default_locale(const char *country, char out[6])
{
    if (!country || strlen(country) != 2)
        return false;
    snprintf(out, 6, "en-%c%c", toupper((unsigned char)country[0]),
             toupper((unsigned char)country[1]));
    return true;
}

static int set_default(json_t *s, const char *key, const char *value, struct kerr *err)
{
    const json_t *v = json_object_get(s, key);
    if (v && !json_is_null(v))
        return 0;
    if (json_object_set_new(s, key, json_string(value)))
        return kerr_internal(err, "session: out of memory setting a default");
    return 0;
}

/* A US cart with sales_tax lines and no order_tax_amount: Klarna derives it as the sum of
 * those lines (recorded traffic), rather than refusing. An overflowing sum is left absent, so
 * the cart rules report order_tax_amount. */
static int derive_us_order_tax(json_t *s, struct kerr *err)
{
    const char *country = get_str(s, "purchase_country");
    if (json_object_get(s, "order_tax_amount") || !country || strcasecmp(country, "US") != 0)
        return 0;
    int64_t sum = 0;
    bool any = false;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(s, "order_lines"), i, l) {
        const char *type = get_str(l, "type");
        if (!type || strcmp(type, "sales_tax") != 0)
            continue;
        any = true;
        if (__builtin_add_overflow(sum, get_int(l, "total_amount", NULL), &sum))
            return 0;
    }
    if (any && json_object_set_new(s, "order_tax_amount", json_integer(sum)) != 0)
        return kerr_internal(err, "session: out of memory");
    return 0;
}

static int apply_defaults(json_t *s, struct kerr *err)
{
    if (derive_us_order_tax(s, err))
        return -1;
    char locale[6];
    if (default_locale(get_str(s, "purchase_country"), locale) &&
        set_default(s, "locale", locale, err))
        return -1;
    if (set_default(s, "intent", "buy", err) ||
        set_default(s, "acquiring_channel", "ECOMMERCE", err))
        return -1;
    return 0;
}

/* Rule 2: the market table. An absent locale is the default, valid in every market. */
static int check_market(const json_t *s, struct kerr *err)
{
    const struct market *m = market_find(get_str(s, "purchase_country"));
    if (!m)
        return kerr_bad_value(err, "purchase_country");
    if (!market_currency_ok(m, get_str(s, "purchase_currency")))
        return kerr_bad_value(err, "purchase_currency");
    const char *locale = get_str(s, "locale");
    if (locale && !market_locale_ok(m, locale))
        return kerr_bad_value(err, "locale");
    return 0;
}

static enum line_type line_type_of(const char *name)
{
    for (size_t i = 0; name && line_types[i]; i++)
        if (strcmp(line_types[i], name) == 0)
            return (enum line_type)i;
    return LINE_PHYSICAL;
}

/* Rules 3-7: copies the schema-checked lines into a struct cart and lets core/cart judge. */
static int check_cart(const json_t *s, struct kerr *err)
{
    const json_t *lines = json_object_get(s, "order_lines");
    size_t n = json_array_size(lines);
    struct cart_line *cl = mem_calloc(n ? n : 1, sizeof *cl);
    if (!cl)
        return kerr_internal(err, "session: out of memory for cart lines");
    for (size_t i = 0; i < n; i++) {
        const json_t *l = json_array_get(lines, i);
        struct cart_line *c = &cl[i];
        c->type = line_type_of(get_str(l, "type"));
        c->quantity = get_int(l, "quantity", NULL);
        c->unit_price = get_int(l, "unit_price", NULL);
        c->total_amount = get_int(l, "total_amount", NULL);
        c->total_discount_amount = get_int(l, "total_discount_amount", NULL);
        c->tax_rate = get_int(l, "tax_rate", &c->has_tax_rate);
        c->total_tax_amount = get_int(l, "total_tax_amount", &c->has_total_tax_amount);
    }
    const char *country = get_str(s, "purchase_country");
    struct cart c = { .lines = cl, .n_lines = n };
    c.order_amount = get_int(s, "order_amount", NULL);
    c.order_tax_amount = get_int(s, "order_tax_amount", &c.has_order_tax_amount);
    c.us_model = country && strcasecmp(country, "US") == 0;
    int rc = cart_check(&c, err);
    free(cl);
    return rc;
}

static int check_rules(const json_t *s, struct kerr *err)
{
    if (check_market(s, err) || check_cart(s, err))
        return -1;
    return 0;
}

int session_validate(const json_t *session, struct kerr *err)
{
    if (jv_check(session, session_rules, JV_JOIN_MISSING, err))
        return -1;
    return check_rules(session, err);
}

/* A body that is NULL or JSON null is an empty body: every required field is missing. */
static int check_empty_body(struct kerr *err)
{
    json_t *empty = json_object();
    if (!empty)
        return kerr_internal(err, "session: out of memory");
    int rc = jv_check(empty, session_rules, JV_JOIN_MISSING, err);
    json_decref(empty);
    return rc;
}

json_t *session_from_create(const json_t *body, struct kerr *err)
{
    if (!body || json_is_null(body)) {
        check_empty_body(err);
        return NULL;
    }
    if (jv_check(body, session_rules, JV_JOIN_MISSING, err))
        return NULL;
    json_t *s = jv_filter(body, session_rules);
    if (!s) {
        kerr_internal(err, "session: out of memory copying the body");
        return NULL;
    }
    if (apply_defaults(s, err) || check_rules(s, err)) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* The locale follows a country change when the merchant never chose it (see the top). */
static void move_default_locale(json_t *merged, const json_t *stored, const json_t *update)
{
    const char *old_country = get_str(stored, "purchase_country");
    const char *new_country = get_str(update, "purchase_country");
    const char *locale = get_str(stored, "locale");
    char old_default[6], new_default[6];
    if (!locale || get_str(update, "locale") || !default_locale(old_country, old_default) ||
        !default_locale(new_country, new_default))
        return;
    if (strcasecmp(locale, old_default) == 0)
        json_object_set_new(merged, "locale", json_string(new_default));
}

json_t *session_apply_update(const json_t *stored, const json_t *update, struct kerr *err)
{
    if (!json_is_object(stored)) {
        kerr_internal(err, "session_apply_update: stored session is not an object");
        return NULL;
    }
    json_t *changes = NULL;
    if (update && !json_is_null(update)) {
        if (jv_check(update, session_rules, JV_PARTIAL, err))
            return NULL;
        changes = jv_filter(update, session_rules);
    } else {
        changes = json_object();
    }
    json_t *merged = json_deep_copy(stored);
    if (!changes || !merged || json_object_update(merged, changes)) {
        json_decref(changes);
        json_decref(merged);
        kerr_internal(err, "session: out of memory merging an update");
        return NULL;
    }
    json_decref(changes);
    move_default_locale(merged, stored, update);
    if (apply_defaults(merged, err) || session_validate(merged, err)) {
        json_decref(merged);
        return NULL;
    }
    return merged;
}
