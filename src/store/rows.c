/* store/rows: what both backends share: freeing the rows that store get calls fill, and
 * walking the migration blocks of a schema text. */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

void merchant_row_free(struct merchant_row *m)
{
    free(m->username);
    free(m->name);
    free(m->categories);
    m->username = m->name = m->categories = NULL;
}

void session_row_free(struct session_row *r)
{
    free(r->client_token);
    free(r->body);
    r->client_token = r->body = NULL;
}

void reqlog_row_free(struct reqlog_row *r)
{
    free(r->path);
    free(r->request_body);
    free(r->response_body);
    r->path = r->request_body = r->response_body = NULL;
}

void idem_row_free(struct idem_row *r)
{
    free(r->key);
    free(r->path);
    free(r->headers);
    free(r->body);
    r->key = r->path = r->headers = r->body = NULL;
}

void auth_row_free(struct auth_row *r)
{
    free(r->body);
    r->body = NULL;
}

void order_row_free(struct order_row *r)
{
    free(r->body);
    r->body = NULL;
}

void ctoken_row_free(struct ctoken_row *r)
{
    free(r->body);
    r->body = NULL;
}

void outbox_row_free(struct outbox_row *r)
{
    free(r->url);
    free(r->body);
    r->url = r->body = NULL;
}

void hpp_row_free(struct hpp_row *r)
{
    free(r->body);
    r->body = NULL;
}

void message_row_free(struct message_row *r)
{
    free(r->body);
    r->body = NULL;
}

bool store_schema_next(const char **pos, int *n, const char **sql, size_t *len)
{
    static const char marker[] = "-- migration ";
    const char *p = *pos ? strstr(*pos, marker) : NULL;
    if (!p)
        return false;
    const char *q = p + strlen(marker);
    *n = 0;
    while (*q >= '0' && *q <= '9')
        *n = *n * 10 + (*q++ - '0');
    const char *next = strstr(q, marker);
    *sql = q;
    *len = next ? (size_t)(next - q) : strlen(q);
    *pos = next;
    return true;
}
