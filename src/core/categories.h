/* categories: the payment method categories a session offers, from the market table and the
 * merchant's configuration ("klarna": the single "Pay with Klarna" category of newer accounts;
 * "classic": pay_now / pay_later / pay_over_time where the market offers them). */
#ifndef KASSE_CORE_CATEGORIES_H
#define KASSE_CORE_CATEGORIES_H

#include <jansson.h>
#include <stdbool.h>

/* true when config is a known merchant configuration name. */
bool categories_config_ok(const char *config);

/* A new array of {identifier, name, asset_urls {descriptive, standard}}; asset URLs are under
 * public_url (Kasse serves them). NULL only when out of memory. */
json_t *categories_for(const char *config, const char *purchase_country, const char *public_url);

#endif
