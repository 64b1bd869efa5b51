/* qr: a QR code of a text as a PNG image (libqrencode for the symbol; the PNG is written here:
 * 1-bit grayscale, stored deflate blocks, so no image or compression library is needed). */
#ifndef KASSE_QR_H
#define KASSE_QR_H

#include <stddef.h>
#include <stdint.h>

/* Encodes text (error correction level M) with scale pixels per module and a quiet zone of
 * margin modules. *png is malloc'ed (the caller frees it), *len its size. -1 on failure. */
int qr_png(const char *text, int scale, int margin, unsigned char **png, size_t *len);

/* The PNG writer, exposed for tests: dark[y * w + x] != 0 is a black pixel. */
int png_gray1(const uint8_t *dark, int w, int h, unsigned char **png, size_t *len);

#endif
