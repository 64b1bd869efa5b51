/* crypto: the few primitives Kasse needs, on OpenSSL: random bytes, HMAC-SHA256,
 * constant-time comparison, base64 (standard, for HTTP Basic) and base64url (JWT). */
#ifndef KASSE_CRYPTO_H
#define KASSE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RAND_bytes; -1 if the OS random source fails. */
int crypto_random(void *out, size_t n);
/* HMAC-SHA256(key, data) into out[32]; -1 on failure. */
int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len,
                       uint8_t out[32]);
/* n bytes as lowercase hex into out (2n + 1 bytes, NUL-terminated). */
void crypto_hex(const void *in, size_t n, char *out);
/* CRYPTO_memcmp: true when equal; a and b are both n bytes. */
bool crypto_equal(const void *a, const void *b, size_t n);
/* OPENSSL_cleanse: zeroes n bytes in a way the compiler cannot drop (secrets on the stack). */
void crypto_wipe(void *p, size_t n);

/* Encoders write a NUL-terminated string; out_cap must be at least crypto_b64_len(n)+1 /
 * crypto_b64url_len(n)+1. Return the length written, or -1 if out_cap is too small. */
size_t crypto_b64_len(size_t n);       /* with padding */
size_t crypto_b64url_len(size_t n);    /* no padding */
long crypto_b64_encode(const void *in, size_t n, char *out, size_t out_cap);
long crypto_b64url_encode(const void *in, size_t n, char *out, size_t out_cap);
/* Decoders: strict (reject characters outside the alphabet, bad padding, and non-canonical
 * trailing bits, i.e. nonzero unused bits in the last character); return bytes written to out
 * or -1. out_cap of n*3/4+3 always suffices. b64 requires correct padding; b64url accepts no
 * padding only. An accepted input is exactly what the matching encoder produces. */
long crypto_b64_decode(const char *in, size_t n, void *out, size_t out_cap);
long crypto_b64url_decode(const char *in, size_t n, void *out, size_t out_cap);

#endif
