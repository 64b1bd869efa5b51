/* categories: which payment method categories a session offers (see categories.h).
 * Names follow what Klarna returns: newer accounts get one "klarna" category "Pay with Klarna";
 * older accounts get "Pay now.", "Pay later." and "Slice it." (contract 2.2). */
#include "core/categories.h"

#include <stdio.h>
#include <string.h>

#include "core/market.h"

static const struct {
    const char *identifier;
    const char *name;
    unsigned market_bit;         /* 0: offered wherever the configuration offers it */
    const char *config;
} catalogue[] = {
    {"klarna", "Pay with Klarna", 0, "klarna"},
    {"pay_now", "Pay now.", MARKET_CAT_PAY_NOW, "classic"},
    {"pay_later", "Pay later.", MARKET_CAT_PAY_LATER, "classic"},
    {"pay_over_time", "Slice it.", MARKET_CAT_PAY_OVER_TIME, "classic"},
};

bool categories_config_ok(const char *config)
{
    return config && (strcmp(config, "klarna") == 0 || strcmp(config, "classic") == 0);
}

json_t *categories_for(const char *config, const char *purchase_country, const char *public_url)
{
    const struct market *m = market_find(purchase_country);
    json_t *out = json_array();
    if (!out)
        return NULL;
    for (size_t i = 0; i < sizeof catalogue / sizeof catalogue[0]; i++) {
        if (strcmp(catalogue[i].config, config) != 0)
            continue;
        if (catalogue[i].market_bit && (!m || !(m->classic_categories & catalogue[i].market_bit)))
            continue;
        char standard[512], descriptive[512];
        snprintf(standard, sizeof standard, "%s/kasse/assets/badges/%s.svg", public_url,
                 catalogue[i].identifier);
        snprintf(descriptive, sizeof descriptive, "%s/kasse/assets/descriptive/%s.svg",
                 public_url, catalogue[i].identifier);
        json_t *cat = json_object(), *urls = json_object();
        int bad = !cat || !urls ||
                  json_object_set_new_nocheck(urls, "descriptive", json_string(descriptive)) ||
                  json_object_set_new_nocheck(urls, "standard", json_string(standard)) ||
                  json_object_set_new_nocheck(cat, "identifier",
                                              json_string(catalogue[i].identifier)) ||
                  json_object_set_new_nocheck(cat, "name", json_string(catalogue[i].name));
        if (bad || json_object_set_new_nocheck(cat, "asset_urls", urls)) {
            if (bad)
                json_decref(urls);
            json_decref(cat);
            json_decref(out);
            return NULL;
        }
        if (json_array_append_new(out, cat) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}
