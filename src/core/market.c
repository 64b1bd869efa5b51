/* market: Klarna's market table (contract section 8) and the lookups on it.
 * Owns: which countries Kasse sells in, each country's only currency, its locales, and the
 * classic payment method categories offered there. All comparisons ignore ASCII case. */
#include "core/market.h"

#include <stddef.h>
#include <strings.h>

#define ALL_CATS  (MARKET_CAT_PAY_NOW | MARKET_CAT_PAY_LATER | MARKET_CAT_PAY_OVER_TIME)
#define LATER_CATS (MARKET_CAT_PAY_LATER | MARKET_CAT_PAY_OVER_TIME)

/* Classic categories: pay_later and pay_over_time in every market; pay_now in addition where
 * Klarna historically offered direct debit / bank transfer ("Pay now"): SE, DE, AT, NL, FI, CH,
 * BE, DK, NO, GB. This is an inference from Klarna's market pages, not a documented table. */
static const struct market markets[] = {
    { "AU", "AUD", (const char *const[]){ "en-AU", NULL }, LATER_CATS },
    { "AT", "EUR", (const char *const[]){ "de-AT", "en-AT", NULL }, ALL_CATS },
    { "BE", "EUR", (const char *const[]){ "nl-BE", "fr-BE", "en-BE", NULL }, ALL_CATS },
    { "CA", "CAD", (const char *const[]){ "en-CA", "fr-CA", NULL }, LATER_CATS },
    { "CZ", "CZK", (const char *const[]){ "cs-CZ", "en-CZ", NULL }, LATER_CATS },
    { "DK", "DKK", (const char *const[]){ "da-DK", "en-DK", NULL }, ALL_CATS },
    { "FI", "EUR", (const char *const[]){ "fi-FI", "sv-FI", "en-FI", NULL }, ALL_CATS },
    { "FR", "EUR", (const char *const[]){ "fr-FR", "en-FR", NULL }, LATER_CATS },
    { "DE", "EUR", (const char *const[]){ "de-DE", "en-DE", NULL }, ALL_CATS },
    { "GR", "EUR", (const char *const[]){ "el-GR", "en-GR", NULL }, LATER_CATS },
    { "HU", "HUF", (const char *const[]){ "hu-HU", "en-HU", NULL }, LATER_CATS },
    { "IE", "EUR", (const char *const[]){ "en-IE", NULL }, LATER_CATS },
    { "IT", "EUR", (const char *const[]){ "it-IT", "en-IT", NULL }, LATER_CATS },
    { "MX", "MXN", (const char *const[]){ "en-MX", "es-MX", NULL }, LATER_CATS },
    { "NL", "EUR", (const char *const[]){ "nl-NL", "en-NL", NULL }, ALL_CATS },
    { "NZ", "NZD", (const char *const[]){ "en-NZ", NULL }, LATER_CATS },
    { "NO", "NOK", (const char *const[]){ "nb-NO", "en-NO", NULL }, ALL_CATS },
    { "PL", "PLN", (const char *const[]){ "pl-PL", "en-PL", NULL }, LATER_CATS },
    { "PT", "EUR", (const char *const[]){ "pt-PT", "en-PT", NULL }, LATER_CATS },
    { "RO", "RON", (const char *const[]){ "ro-RO", "en-RO", NULL }, LATER_CATS },
    { "SK", "EUR", (const char *const[]){ "sk-SK", "en-SK", NULL }, LATER_CATS },
    { "ES", "EUR", (const char *const[]){ "es-ES", "en-ES", NULL }, LATER_CATS },
    { "SE", "SEK", (const char *const[]){ "sv-SE", "en-SE", NULL }, ALL_CATS },
    { "CH", "CHF", (const char *const[]){ "de-CH", "fr-CH", "it-CH", "en-CH", NULL }, ALL_CATS },
    { "GB", "GBP", (const char *const[]){ "en-GB", NULL }, ALL_CATS },
    { "US", "USD", (const char *const[]){ "en-US", "es-US", NULL }, LATER_CATS },
};

const struct market *market_find(const char *country)
{
    if (!country)
        return NULL;
    for (size_t i = 0; i < sizeof markets / sizeof markets[0]; i++)
        if (strcasecmp(markets[i].country, country) == 0)
            return &markets[i];
    return NULL;
}

const struct market *market_at(size_t i)
{
    return i < sizeof markets / sizeof markets[0] ? &markets[i] : NULL;
}

bool market_currency_ok(const struct market *m, const char *currency)
{
    return m && currency && strcasecmp(m->currency, currency) == 0;
}

bool market_locale_ok(const struct market *m, const char *locale)
{
    if (!m || !locale)
        return false;
    for (const char *const *l = m->locales; *l; l++)
        if (strcasecmp(*l, locale) == 0)
            return true;
    return false;
}

/* Klarna's API regions (contract 1.1, 8): North America serves US, CA and MX, Oceania AU and
 * NZ, Europe the rest. */
const char *market_region(const char *country)
{
    static const char *const na[] = {"US", "CA", "MX"}, *const oc[] = {"AU", "NZ"};
    for (size_t i = 0; country && i < 3; i++)
        if (strcasecmp(country, na[i]) == 0)
            return "na";
    for (size_t i = 0; country && i < 2; i++)
        if (strcasecmp(country, oc[i]) == 0)
            return "oc";
    return "eu";
}
