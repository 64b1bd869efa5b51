/* libFuzzer target: the Hosted Payment Page request rules (core/hpp) on arbitrary JSON. Whatever
 * the input, create and distribution requests must be accepted or refused with 400 BAD_VALUE
 * naming a path, never crash, leak or trip UBSan; an accepted create request must be accepted
 * again as it was normalized (idempotence), and its placeholders must fill within bounds. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    json_t *req = hpp_create_request(body, &err);
    if (req) {
        struct kerr again = {0};
        json_t *twice = hpp_create_request(req, &again);
        if (!twice || !json_equal(twice, req))
            abort();
        json_decref(twice);
        const char *url = json_string_value(
            json_object_get(json_object_get(req, "merchant_urls"), "success"));
        char out[64];
        struct hpp_fill f = {.session_id = "s", .authorization_token = "a b", .order_id = NULL};
        if (url && hpp_url_fill(url, &f, out, sizeof out) == 0 && strlen(out) >= sizeof out)
            abort();
        json_t *offered = json_pack("[s,s]", "klarna", "pay_later");
        struct kerr cerr = {0};
        json_t *allowed = hpp_allowed_categories(req, offered, &cerr);
        if (!allowed)
            expect_bad_value(&cerr);
        json_decref(allowed);
        json_decref(offered);
        json_decref(req);
    } else {
        expect_bad_value(&err);
    }
    struct hpp_distribution d;
    struct kerr derr = {0};
    if (hpp_distribution_check(body, &d, &derr) != 0)
        expect_bad_value(&derr);
    else if (!d.to)
        abort();
    json_decref(body);
    return 0;
}
