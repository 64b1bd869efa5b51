/* jwt: HS256 JSON Web Tokens (RFC 7519) for client_token. The algorithm is fixed by Kasse, never
 * read from a token's header: a token whose header says anything other than HS256 is rejected. */
#ifndef KASSE_JWT_H
#define KASSE_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Returns a malloc'ed "header.payload.signature" string with header
 * {"alg":"HS256","typ":"JWT"} and the compact JSON of claims, or NULL on failure. */
char *jwt_sign_hs256(const json_t *claims, const uint8_t *key, size_t key_len);

/* Verifies structure, header alg == HS256 and the signature (constant time) and returns the
 * claims object (new reference), or NULL if the token is malformed or the signature is wrong. */
json_t *jwt_verify_hs256(const char *token, const uint8_t *key, size_t key_len);

#endif
