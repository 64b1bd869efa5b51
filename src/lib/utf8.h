/* utf8: checking and repairing UTF-8 text (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF). Used where bytes Kasse did not validate must become JSON text (request logs). */
#ifndef KASSE_UTF8_H
#define KASSE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s[0..n), 0 if s does not start one. */
size_t utf8_sequence(const unsigned char *s, size_t n);
bool utf8_valid(const char *s, size_t n);
/* A malloc'ed NUL-terminated copy of s[0..n) with every invalid byte and every NUL replaced
 * by U+FFFD; NULL when out of memory. */
char *utf8_repair(const char *s, size_t n);

#endif
