/* session: the Klarna Payments session rules: what a valid create/update body is, how an
 * update merges into the stored session, and which fields a read returns.
 * Pure: no I/O, no clock reads. Validation order (contract 10.6): schema and limits →
 * country/currency/locale → per-line arithmetic → per-line tax → order totals → order tax. */
#ifndef KASSE_CORE_SESSION_H
#define KASSE_CORE_SESSION_H

#include <jansson.h>
#include <stdint.h>

#include "lib/kerr.h"

/* Validates a create body (required fields required) and returns a new stored session object:
 * the known writable fields copied, read-only fields dropped, unknown keys dropped (at every
 * level), JSON nulls treated as absent, defaults applied (locale "en-<COUNTRY>" when absent:
 * every market has an English locale, and Klarna's own default en-US is only valid in the US;
 * intent "buy"; acquiring_channel "ECOMMERCE"). Country/currency/locale are kept as received.
 * NULL with err filled (400 BAD_VALUE "Bad value: <path>") on failure. Several missing required
 * fields are named together: "Bad value: purchase_country, purchase_currency, order_amount,
 * order_lines" (only the missing ones); NULL or JSON null body counts as {}; a body that is not
 * an object is "Bad value: body". body is never modified. */
json_t *session_from_create(const json_t *body, struct kerr *err);

/* Applies a partial update (none required; a given key replaces the stored one, so order_lines
 * and billing_address are replaced as a whole; nulls, unknown and read-only keys are ignored)
 * and validates the merged result as a whole session. Error paths name the update's fields.
 * Keys of stored that the update does not name are kept (also ones the schema does not know).
 * If the update changes purchase_country without a locale and the stored locale is the old
 * default "en-<OLD>", the locale becomes "en-<NEW>". update NULL means no changes. On success
 * returns a new object sharing nothing with stored or update (both untouched); NULL with err
 * on failure (500 if stored is not an object). */
json_t *session_apply_update(const json_t *stored, const json_t *update, struct kerr *err);

/* Validates a complete session, stored form or create body (used by both of the above): schema
 * and limits → market → cart. An absent locale counts as the default. 0, or -1 with err. */
int session_validate(const json_t *session, struct kerr *err);

#endif
