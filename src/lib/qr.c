/* qr: see qr.h. The PNG is exactly what the format asks for (signature, IHDR, one IDAT holding
 * a zlib stream of stored blocks, IEND, each chunk with its CRC-32); a 360 px QR code is about
 * 17 KB, small enough that compressing it is not worth a dependency. */
#include "lib/qr.h"

#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

#define PNG_MAX_BYTES (4 * 1024 * 1024)
#define STORED_BLOCK_MAX 65535

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    static int ready;
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        crc_init();                /* idempotent: racing threads write the same table */
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Appends one chunk: length, type, data, CRC over type and data. */
static int chunk(struct buf *b, const char type[4], const unsigned char *data, size_t n)
{
    unsigned char head[8];
    be32(head, (uint32_t)n);
    memcpy(head + 4, type, 4);
    size_t start = b->len + 4;
    if (buf_append(b, head, 8) != 0 || (n && buf_append(b, data, n) != 0))
        return -1;
    unsigned char crc[4];
    be32(crc, crc32_of((const unsigned char *)b->data + start, n + 4));
    return buf_append(b, crc, 4);
}

int png_gray1(const uint8_t *dark, int w, int h, unsigned char **png, size_t *len)
{
    if (w <= 0 || h <= 0 || w > 8192 || h > 8192)
        return -1;
    size_t row = 1 + ((size_t)w + 7) / 8;          /* filter byte + packed pixels */
    size_t raw_len = row * (size_t)h;
    unsigned char *raw = calloc(raw_len, 1);
    if (!raw)
        return -1;
    for (int y = 0; y < h; y++) {
        unsigned char *r = raw + (size_t)y * row;
        for (int x = 0; x < w; x++)
            if (!dark[(size_t)y * (size_t)w + (size_t)x])     /* 1 = white in grayscale */
                r[1 + x / 8] |= (unsigned char)(0x80 >> (x % 8));
    }
    /* zlib stream: header, stored blocks, Adler-32 of the raw data */
    struct buf z;
    buf_init(&z, PNG_MAX_BYTES);
    static const unsigned char zhead[2] = {0x78, 0x01};
    int bad = buf_append(&z, zhead, 2);
    for (size_t off = 0; !bad && off < raw_len; off += STORED_BLOCK_MAX) {
        size_t n = raw_len - off < STORED_BLOCK_MAX ? raw_len - off : STORED_BLOCK_MAX;
        unsigned char bh[5] = {off + n == raw_len ? 1 : 0, (unsigned char)(n & 0xff),
                               (unsigned char)(n >> 8), (unsigned char)(~n & 0xff),
                               (unsigned char)((~n >> 8) & 0xff)};
        bad = buf_append(&z, bh, 5) || buf_append(&z, raw + off, n);
    }
    uint32_t a = 1, b2 = 0;
    for (size_t i = 0; i < raw_len; i++) {
        a = (a + raw[i]) % 65521;
        b2 = (b2 + a) % 65521;
    }
    unsigned char adler[4];
    be32(adler, (b2 << 16) | a);
    bad = bad || buf_append(&z, adler, 4);
    free(raw);

    struct buf out;
    buf_init(&out, PNG_MAX_BYTES);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13];
    be32(ihdr, (uint32_t)w);
    be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 1;                   /* bit depth */
    ihdr[9] = 0;                   /* grayscale */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    bad = bad || buf_append(&out, sig, 8) || chunk(&out, "IHDR", ihdr, 13) ||
          chunk(&out, "IDAT", (const unsigned char *)z.data, z.len) ||
          chunk(&out, "IEND", NULL, 0);
    buf_free(&z);
    if (bad) {
        buf_free(&out);
        return -1;
    }
    *png = (unsigned char *)out.data;
    *len = out.len;
    return 0;
}

int qr_png(const char *text, int scale, int margin, unsigned char **png, size_t *len)
{
    if (scale < 1 || scale > 32 || margin < 0 || margin > 16)
        return -1;
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        return -1;
    int side = (q->width + 2 * margin) * scale;
    uint8_t *dark = calloc((size_t)side * (size_t)side, 1);
    int rc = -1;
    if (dark) {
        for (int y = 0; y < q->width; y++)
            for (int x = 0; x < q->width; x++) {
                if (!(q->data[y * q->width + x] & 1))
                    continue;
                for (int dy = 0; dy < scale; dy++)
                    memset(dark + (size_t)((y + margin) * scale + dy) * (size_t)side +
                               (size_t)((x + margin) * scale),
                           1, (size_t)scale);
            }
        rc = png_gray1(dark, side, side, png, len);
        free(dark);
    }
    QRcode_free(q);
    return rc;
}
