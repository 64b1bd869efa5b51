/* market: Klarna's market table (contract section 8): country → currency → locales, and the
 * payment method categories offered in each market. Comparisons are case-insensitive. */
#ifndef KASSE_CORE_MARKET_H
#define KASSE_CORE_MARKET_H

#include <stdbool.h>
#include <stddef.h>

struct market {
    const char *country;          /* "SE" */
    const char *currency;         /* "SEK" */
    const char *const *locales;   /* NULL-terminated: "sv-SE", "en-SE" */
    unsigned classic_categories;  /* bit set of MARKET_CAT_* offered in the classic set */
};

#define MARKET_CAT_PAY_NOW       1u
#define MARKET_CAT_PAY_LATER     2u
#define MARKET_CAT_PAY_OVER_TIME 4u

/* The market for a 2-letter country code (any case); NULL when Klarna does not sell there. */
const struct market *market_find(const char *country);
/* The i-th market of the table (0..25), NULL past the end: lets callers and tests walk it. */
const struct market *market_at(size_t i);
/* True when currency (any case) is the market's currency; false for NULL arguments. */
bool market_currency_ok(const struct market *m, const char *currency);
/* True when locale (any case, e.g. "EN-se") is one of the market's locales. */
bool market_locale_ok(const struct market *m, const char *locale);
/* "eu", "na" or "oc": the Klarna region that serves a country. */
const char *market_region(const char *country);

#endif
