/* om_requests: the Order Management request bodies (contract 5.3) as jsonv rule tables:
 * CaptureObject, RefundObject, UpdateAuthorization, UpdateConsumer, UpdateMerchantReferences,
 * UpdateShippingInfo, ExtendDueDateRequest. A bad field (wrong type, bad value, empty
 * shipping_info) is 400 BAD_VALUE "Bad value: <path>"; a required field that is absent or null
 * is 422 UNPROCESSABLE_ENTITY "'<path>' must not be null", as Klarna answers (contract 12). */
#include "core/om_requests.h"

#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "lib/jsonv.h"
#include "lib/limits.h"

#define STR(n, max) { .name = (n), .type = JV_STRING, .max_len = (max) }
#define END { 0 }

static const char *const om_line_types[] = {
    "physical", "discount", "shipping_fee", "sales_tax", "digital", "gift_card",
    "store_credit", "surcharge", "return_fee", NULL
};
static const char *const shipping_methods[] = {
    "PickUpStore", "Home", "BoxReg", "BoxUnreg", "PickUpPoint", "Own", "Postal",
    "DHLPackstation", "Digital", "Undefined", "PickUpWarehouse", "ClickCollect",
    "PalletDelivery", NULL
};

/* OM order_line (contract 5.7): return_fee allowed, quantity_unit up to 10. */
static const struct jv_rule om_line_rules[] = {
    { .name = "type", .type = JV_STRING, .enums = om_line_types },
    STR("reference", LIMIT_STRING_DEFAULT),
    { .name = "name", .type = JV_STRING, .flags = JV_REQUIRED, .min_len = 1,
      .max_len = LIMIT_STRING_DEFAULT },
    { .name = "quantity", .type = JV_INT, .flags = JV_REQUIRED | JV_MIN, .min = 0 },
    { .name = "quantity_unit", .type = JV_STRING, .max_len = LIMIT_OM_QUANTITY_UNIT },
    { .name = "unit_price", .type = JV_INT, .flags = JV_REQUIRED | JV_MIN | JV_MAX,
      .min = LIMIT_LINE_AMOUNT_MIN, .max = LIMIT_LINE_AMOUNT_MAX },
    { .name = "tax_rate", .type = JV_INT, .flags = JV_MIN | JV_MAX, .min = 0,
      .max = LIMIT_TAX_RATE_MAX },
    { .name = "total_amount", .type = JV_INT, .flags = JV_REQUIRED | JV_MIN | JV_MAX,
      .min = LIMIT_LINE_AMOUNT_MIN, .max = LIMIT_LINE_AMOUNT_MAX },
    { .name = "total_discount_amount", .type = JV_INT, .flags = JV_MIN | JV_MAX, .min = 0,
      .max = LIMIT_LINE_AMOUNT_MAX },
    { .name = "total_tax_amount", .type = JV_INT, .flags = JV_MIN | JV_MAX,
      .min = LIMIT_LINE_AMOUNT_MIN, .max = LIMIT_LINE_AMOUNT_MAX },
    STR("merchant_data", LIMIT_LINE_MERCHANT_DATA),
    STR("product_url", LIMIT_URL_FIELD),
    STR("image_url", LIMIT_URL_FIELD),
    END
};
static const struct jv_rule om_line_item = { .type = JV_OBJECT, .fields = om_line_rules };

static const struct jv_rule shipping_info_rules[] = {
    STR("shipping_company", LIMIT_OM_SHIPPING_COMPANY),
    { .name = "shipping_method", .type = JV_STRING, .enums = shipping_methods },
    STR("tracking_number", LIMIT_OM_TRACKING_NUMBER),
    STR("tracking_uri", LIMIT_URL_FIELD),
    STR("return_shipping_company", LIMIT_OM_SHIPPING_COMPANY),
    STR("return_tracking_number", LIMIT_OM_TRACKING_NUMBER),
    STR("return_tracking_uri", LIMIT_URL_FIELD),
    END
};
static const struct jv_rule shipping_info_item = { .type = JV_OBJECT,
                                                   .fields = shipping_info_rules };

/* OM Address (contract 5.7): wider limits than Klarna Payments'. */
static const struct jv_rule om_address_rules[] = {
    STR("given_name", LIMIT_OM_NAME), STR("family_name", LIMIT_OM_NAME),
    STR("title", LIMIT_TITLE), STR("street_address", LIMIT_OM_NAME),
    STR("street_address2", LIMIT_OM_NAME), STR("postal_code", LIMIT_POSTAL_CODE),
    STR("city", LIMIT_OM_CITY), STR("region", LIMIT_OM_CITY), STR("email", LIMIT_OM_NAME),
    STR("phone", LIMIT_OM_NAME), STR("attention", LIMIT_STRING_DEFAULT),
    STR("organization_name", LIMIT_STRING_DEFAULT),
    { .name = "country", .type = JV_STRING, .pattern = JV_PAT_COUNTRY2 },
    END
};

#define AMOUNT(n) { .name = (n), .type = JV_INT, .flags = JV_REQUIRED | JV_MIN | JV_MAX, \
                    .min = 0, .max = LIMIT_LINE_AMOUNT_MAX }
#define LINES { .name = "order_lines", .type = JV_ARRAY, .item = &om_line_item, \
                .max_items = LIMIT_ORDER_LINES_MAX }
#define SHIPPING(flags_) { .name = "shipping_info", .type = JV_ARRAY, .flags = (flags_), \
                           .item = &shipping_info_item, .max_items = LIMIT_OM_SHIPPING_INFO }

static const struct jv_rule capture_rules[] = {
    AMOUNT("captured_amount"), STR("description", LIMIT_STRING_DEFAULT),
    STR("reference", LIMIT_STRING_DEFAULT), LINES, SHIPPING(0),
    { .name = "shipping_delay", .type = JV_INT, .flags = JV_MIN, .min = 0 },
    END
};
static const struct jv_rule refund_rules[] = {
    AMOUNT("refunded_amount"), STR("description", LIMIT_STRING_DEFAULT),
    STR("reference", LIMIT_STRING_DEFAULT), LINES, END
};
static const struct jv_rule authorization_rules[] = {
    AMOUNT("order_amount"), STR("description", LIMIT_STRING_DEFAULT), LINES, END
};
static const struct jv_rule consumer_rules[] = {
    { .name = "shipping_address", .type = JV_OBJECT, .fields = om_address_rules }, END
};
static const struct jv_rule references_rules[] = {
    STR("merchant_reference1", LIMIT_STRING_DEFAULT),
    STR("merchant_reference2", LIMIT_STRING_DEFAULT), END
};
static const struct jv_rule shipping_rules[] = { SHIPPING(JV_REQUIRED), END };
static const struct jv_rule due_date_rules[] = {
    { .name = "number_of_days", .type = JV_INT, .flags = JV_REQUIRED | JV_MIN | JV_MAX,
      .min = 1, .max = 365 },
    END
};

/* True when the JSON path jv_check reported ("a.b[3].c") names nothing in root, or a null:
 * the field is missing rather than bad. */
static bool missing_at(const json_t *root, const char *path)
{
    const json_t *v = root;
    const char *p = path;
    while (*p) {
        if (*p == '[') {
            char *end;
            unsigned long i = strtoul(p + 1, &end, 10);
            if (*end != ']' || !json_is_array(v))
                return false;
            v = json_array_get(v, i);
            p = end + 1;
        } else {
            if (*p == '.')
                p++;
            size_t n = strcspn(p, ".[");
            char key[256];
            if (n == 0 || n >= sizeof key || !json_is_object(v))
                return false;
            memcpy(key, p, n);
            key[n] = '\0';
            v = json_object_get(v, key);
            p += n;
        }
        if (!v)
            return true;
    }
    return json_is_null(v);
}

static const struct jv_rule *table_of(enum om_request kind);

void om_normalize(enum om_request kind, json_t *body)
{
    /* Enums sent in another case are stored in Klarna's spelling. */
    jv_canonicalize(body, table_of(kind));
    /* Klarna accepts tracking numbers sent as JSON numbers (recorded traffic): they are kept as
     * the strings the order shows. */
    static const char *const keys[] = {"tracking_number", "return_tracking_number"};
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(body, "shipping_info"), i, entry) {
        for (size_t k = 0; k < 2; k++) {
            json_t *v = json_object_get(entry, keys[k]);
            if (json_is_integer(v)) {
                char text[24];
                snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
                json_object_set_new(entry, keys[k], json_string(text));
            }
        }
    }
}

static const struct jv_rule *table_of(enum om_request kind)
{
    static const struct jv_rule *const tables[] = {
        [OM_CAPTURE] = capture_rules, [OM_REFUND] = refund_rules,
        [OM_AUTHORIZATION] = authorization_rules, [OM_CUSTOMER_DETAILS] = consumer_rules,
        [OM_MERCHANT_REFERENCES] = references_rules, [OM_SHIPPING_INFO] = shipping_rules,
        [OM_EXTEND_DUE_DATE] = due_date_rules,
    };
    return (unsigned)kind < sizeof tables / sizeof tables[0] ? tables[kind] : NULL;
}

int om_validate(enum om_request kind, const json_t *body, struct kerr *err)
{
    const struct jv_rule *table = table_of(kind);
    if (!table)
        return kerr_internal(err, "om_validate: unknown request kind");
    if (jv_check(body, table, 0, err) != 0) {
        /* A required field that is absent (or null) is Klarna's 422, not a bad value. */
        if (err && err->status == 400 && err->path[0] && missing_at(body, err->path)) {
            char path[sizeof err->path];
            memcpy(path, err->path, sizeof path);
            kerr_set(err, 422, "UNPROCESSABLE_ENTITY", "'%s' must not be null", path);
            memcpy(err->path, path, sizeof path);
        }
        return -1;
    }
    /* shipping_info needs at least one entry where it is the point of the call. */
    if (kind == OM_SHIPPING_INFO && json_array_size(json_object_get(body, "shipping_info")) == 0)
        return kerr_bad_value(err, "shipping_info");
    return 0;
}
