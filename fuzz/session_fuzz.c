/* libFuzzer target: the session rules (core/session) on arbitrary JSON. Whatever the input,
 * create/update/validate must return a value or a 400 BAD_VALUE naming a path, never crash,
 * leak or trip UBSan; an accepted create must validate again unchanged (idempotence). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char stored_text[] =
    "{\"purchase_country\":\"SE\",\"purchase_currency\":\"SEK\",\"locale\":\"en-SE\","
    "\"order_amount\":9500,\"order_tax_amount\":1900,\"order_lines\":[{\"type\":\"physical\","
    "\"name\":\"Battery Power Pack\",\"quantity\":1,\"unit_price\":10000,\"tax_rate\":2500,"
    "\"total_amount\":9500,\"total_discount_amount\":500,\"total_tax_amount\":1900}]}";

static void expect_bad_value(const struct kerr *err)
{
    if (err->status != 400 || strcmp(err->code, "BAD_VALUE") != 0 ||
        strncmp(err->msg, "Bad value: ", 11) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!body)
        return 0;
    struct kerr err = {0};
    json_t *created = session_from_create(body, &err);
    if (created) {
        struct kerr again = {0};
        if (session_validate(created, &again) != 0)
            abort();
        json_decref(created);
    } else {
        expect_bad_value(&err);
    }
    json_t *stored = json_loads(stored_text, 0, NULL);
    struct kerr uerr = {0};
    json_t *merged = session_apply_update(stored, body, &uerr);
    if (merged)
        json_decref(merged);
    else
        expect_bad_value(&uerr);
    json_decref(stored);
    json_decref(body);
    return 0;
}
