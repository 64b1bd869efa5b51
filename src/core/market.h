/* market: Klarna's market table (contract section 8): country → currency → locales, and the
 * payment method categories offered in each market. Comparisons are case-insensitive. */
#ifndef KASSE_CORE_MARKET_H
#define KASSE_CORE_MARKET_H

#include <stdbool.h>

struct market {
    const char *country;          /* "SE" */
    const char *currency;         /* "SEK" */
    const char *const *locales;   /* NULL-terminated: "sv-SE", "en-SE" */
    unsigned classic_categories;  /* bit set of MARKET_CAT_* offered in the classic set */
};

#define MARKET_CAT_PAY_NOW       1u
#define MARKET_CAT_PAY_LATER     2u
#define MARKET_CAT_PAY_OVER_TIME 4u

const struct market *market_find(const char *country);
bool market_currency_ok(const struct market *m, const char *currency);
bool market_locale_ok(const struct market *m, const char *locale);

#endif
