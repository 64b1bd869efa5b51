/* Until the PostgreSQL backend (store/pg.c) is merged: weak stand-ins so the tree links. */
#include "store/store.h"

__attribute__((weak)) bool store_is_pg(const char *db)
{
    (void)db;
    return false;
}

__attribute__((weak)) struct store *store_pg_open(const char *conninfo, int pool, int wait_s,
                                                  struct kerr *err)
{
    (void)conninfo, (void)pool, (void)wait_s;
    kerr_set(err, 500, "CONFIG", "this build has no PostgreSQL backend");
    return NULL;
}
