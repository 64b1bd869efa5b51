/* test_market: the market table (contract section 8): every country's currency and locales,
 * mismatches, case-insensitivity and the classic categories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/market.h"

struct expect {
    const char *country, *currency;
    const char *locales[5]; /* NULL-terminated */
};

/* Contract section 8, copied by hand so the table in market.c is checked against the text. */
static const struct expect table[] = {
    { "AU", "AUD", { "en-AU" } },
    { "AT", "EUR", { "de-AT", "en-AT" } },
    { "BE", "EUR", { "nl-BE", "fr-BE", "en-BE" } },
    { "CA", "CAD", { "en-CA", "fr-CA" } },
    { "CZ", "CZK", { "cs-CZ", "en-CZ" } },
    { "DK", "DKK", { "da-DK", "en-DK" } },
    { "FI", "EUR", { "fi-FI", "sv-FI", "en-FI" } },
    { "FR", "EUR", { "fr-FR", "en-FR" } },
    { "DE", "EUR", { "de-DE", "en-DE" } },
    { "GR", "EUR", { "el-GR", "en-GR" } },
    { "HU", "HUF", { "hu-HU", "en-HU" } },
    { "IE", "EUR", { "en-IE" } },
    { "IT", "EUR", { "it-IT", "en-IT" } },
    { "MX", "MXN", { "en-MX", "es-MX" } },
    { "NL", "EUR", { "nl-NL", "en-NL" } },
    { "NZ", "NZD", { "en-NZ" } },
    { "NO", "NOK", { "nb-NO", "en-NO" } },
    { "PL", "PLN", { "pl-PL", "en-PL" } },
    { "PT", "EUR", { "pt-PT", "en-PT" } },
    { "RO", "RON", { "ro-RO", "en-RO" } },
    { "SK", "EUR", { "sk-SK", "en-SK" } },
    { "ES", "EUR", { "es-ES", "en-ES" } },
    { "SE", "SEK", { "sv-SE", "en-SE" } },
    { "CH", "CHF", { "de-CH", "fr-CH", "it-CH", "en-CH" } },
    { "GB", "GBP", { "en-GB" } },
    { "US", "USD", { "en-US", "es-US" } },
};
#define N_MARKETS (sizeof table / sizeof table[0])

static size_t count_locales(const struct market *m)
{
    size_t n = 0;
    while (m->locales[n])
        n++;
    return n;
}

/* Rule 2: each of the 26 countries has exactly its currency and its locales. */
static void rule2_every_country_currency_and_locales(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_MARKETS; i++) {
        const struct market *m = market_find(table[i].country);
        assert_non_null(m);
        assert_string_equal(m->country, table[i].country);
        assert_true(market_currency_ok(m, table[i].currency));
        size_t n = 0;
        for (; table[i].locales[n]; n++)
            assert_true(market_locale_ok(m, table[i].locales[n]));
        assert_int_equal(n, count_locales(m));
        /* Every market has the English locale the session default relies on. */
        char en[8];
        snprintf(en, sizeof en, "en-%s", table[i].country);
        assert_true(market_locale_ok(m, en));
    }
    assert_null(market_at(N_MARKETS));
    assert_non_null(market_at(N_MARKETS - 1));
}

/* Rule 2: another market's currency is never accepted (only the local currency). */
static void rule2_foreign_currency_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_MARKETS; i++)
        for (size_t j = 0; j < N_MARKETS; j++) {
            const struct market *m = market_find(table[i].country);
            bool same = strcmp(table[i].currency, table[j].currency) == 0;
            assert_int_equal(market_currency_ok(m, table[j].currency), same);
        }
}

/* Rule 2: locale mismatches. */
static void rule2_locale_mismatch(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        { "SE", "en-US" }, { "SE", "sv-FI" }, { "DE", "de-AT" }, { "US", "en-GB" },
        { "GB", "en-US" }, { "CH", "rm-CH" }, { "NO", "no-NO" }, { "FI", "en" }, { "SE", "" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(market_locale_ok(market_find(bad[i][0]), bad[i][1]));
}

/* Rule 2: comparisons ignore case ("se", "sek", "EN-se"). */
static void rule2_case_insensitive(void **state)
{
    (void)state;
    const struct market *m = market_find("se");
    assert_non_null(m);
    assert_ptr_equal(m, market_find("SE"));
    assert_ptr_equal(m, market_find("sE"));
    assert_true(market_currency_ok(m, "sek"));
    assert_true(market_currency_ok(m, "SeK"));
    assert_true(market_locale_ok(m, "EN-se"));
    assert_true(market_locale_ok(m, "sv-se"));
}

/* Rule 2: unknown countries and NULL arguments. */
static void rule2_unknown_and_null(void **state)
{
    (void)state;
    assert_null(market_find("XX"));
    assert_null(market_find("JP"));
    assert_null(market_find(""));
    assert_null(market_find("SEE"));
    assert_null(market_find(NULL));
    assert_false(market_currency_ok(NULL, "SEK"));
    assert_false(market_currency_ok(market_find("SE"), NULL));
    assert_false(market_locale_ok(NULL, "sv-SE"));
    assert_false(market_locale_ok(market_find("SE"), NULL));
}

/* Classic categories: pay_later/pay_over_time everywhere, pay_now in ten markets. */
static void categories_per_market(void **state)
{
    (void)state;
    static const char *const pay_now = "SE DE AT NL FI CH BE DK NO GB";
    for (size_t i = 0; i < N_MARKETS; i++) {
        const struct market *m = market_find(table[i].country);
        assert_true(m->classic_categories & MARKET_CAT_PAY_LATER);
        assert_true(m->classic_categories & MARKET_CAT_PAY_OVER_TIME);
        bool now = strstr(pay_now, table[i].country) != NULL;
        assert_int_equal((m->classic_categories & MARKET_CAT_PAY_NOW) != 0, now);
    }
}

/* Rule (contract 1.1): North America serves US, CA, MX; Oceania AU, NZ; Europe the rest. */
static void region_follows_klarnas_hosts(void **state)
{
    (void)state;
    assert_string_equal(market_region("US"), "na");
    assert_string_equal(market_region("mx"), "na");
    assert_string_equal(market_region("AU"), "oc");
    assert_string_equal(market_region("nz"), "oc");
    assert_string_equal(market_region("SE"), "eu");
    assert_string_equal(market_region(NULL), "eu");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(region_follows_klarnas_hosts),
        cmocka_unit_test(rule2_every_country_currency_and_locales),
        cmocka_unit_test(rule2_foreign_currency_rejected),
        cmocka_unit_test(rule2_locale_mismatch),
        cmocka_unit_test(rule2_case_insensitive),
        cmocka_unit_test(rule2_unknown_and_null),
        cmocka_unit_test(categories_per_market),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
