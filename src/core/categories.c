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
        json_t *cat = json_pack("{s:s, s:s, s:{s:s, s:s}}", "identifier", catalogue[i].identifier,
                                "name", catalogue[i].name, "asset_urls", "descriptive",
                                descriptive, "standard", standard);
        if (!cat || json_array_append_new(out, cat) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}
