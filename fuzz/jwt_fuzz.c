/* libFuzzer target: client_token verification (lib/jwt) and the strict base64 decoders
 * (lib/crypto) on arbitrary bytes. Nothing may crash; a token that verifies must have been
 * signed with the key (so random input essentially never verifies), and decode(encode(x)) == x. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    json_t *claims = jwt_verify_hs256(text, key, sizeof key);
    if (claims) {
        /* Re-signing the claims must give a token that verifies. */
        char *again = jwt_sign_hs256(claims, key, sizeof key);
        json_t *back = again ? jwt_verify_hs256(again, key, sizeof key) : NULL;
        if (!back || !json_equal(back, claims))
            abort();
        json_decref(back);
        free(again);
        json_decref(claims);
    }
    uint8_t out[4096];
    (void)crypto_b64_decode(text, size, out, sizeof out);
    (void)crypto_b64url_decode(text, size, out, sizeof out);
    if (size <= 1024) {
        char enc[1500];
        long n = crypto_b64url_encode(data, size, enc, sizeof enc);
        if (n < 0 || crypto_b64url_decode(enc, (size_t)n, out, sizeof out) != (long)size ||
            memcmp(out, data, size) != 0)
            abort();
    }
    free(text);
    return 0;
}
