/* assets: files under web/ embedded at build time (tools/embed.sh), served by path. */
#ifndef KASSE_ASSETS_H
#define KASSE_ASSETS_H

#include <stddef.h>

struct asset {
    const char *path;          /* "/kasse/assets/badges/klarna.svg" (path under web/) */
    const char *content_type;
    const unsigned char *data;
    size_t len;
};

extern const struct asset assets_table[];   /* ends with a NULL path */
const struct asset *assets_find(const char *path);

#endif
