/* assets: looking up the files embedded from web/ (see tools/embed.sh). */
#include <string.h>

#include "http/assets.h"

const struct asset *assets_find(const char *path)
{
    for (const struct asset *a = assets_table; a->path; a++)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}
