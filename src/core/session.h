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
 * the known writable fields copied, read-only fields dropped, unknown keys dropped, defaults
 * applied (locale "en-<COUNTRY>" when absent: every market has an English locale, and
 * Klarna's own default en-US is only valid in the US; intent "buy"; acquiring_channel "ECOMMERCE").
 * NULL with err filled (400 BAD_VALUE "Bad value: <path>") on failure. */
json_t *session_from_create(const json_t *body, struct kerr *err);

/* Applies a partial update (none required; a given key replaces the stored one, order_lines
 * replaced as a whole) and validates the merged result as a whole session. On success returns
 * the new stored object (stored is untouched); NULL with err on failure. */
json_t *session_apply_update(const json_t *stored, const json_t *update, struct kerr *err);

/* Validates a complete stored-form session (used by both of the above). */
int session_validate(const json_t *session, struct kerr *err);

#endif
