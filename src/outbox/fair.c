/* outbox fairness: which endpoint a callback goes to, and which due event a free worker takes
 * next (see outbox.h). Pure functions, so the rule is tested without threads or sockets. */
#include "outbox/outbox.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void outbox_endpoint(const char *url, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    if (!url || !url[0])
        return;
    /* Parsed as libcurl will parse it to deliver it (a URL without a scheme is guessed). */
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    unsigned flags = CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, flags) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok) {
        size_t hl = strlen(host);
        if (hl > 1 && host[hl - 1] == '.')      /* "shop.example." is "shop.example" */
            host[hl - 1] = '\0';
        snprintf(out, cap, "%s://%s:%s", scheme, host, port);
        for (char *p = out; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    } else {
        snprintf(out, cap, "%s", url);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

/* Whether e, or another event of its session, is being delivered. */
static bool held(const struct outbox_slot *busy, size_t n_busy, const struct outbox_slot *e)
{
    for (size_t i = 0; i < n_busy; i++)
        if (busy[i].id == e->id ||
            (e->session_id[0] && strcmp(busy[i].session_id, e->session_id) == 0))
            return true;
    return false;
}

static size_t load_of(const struct outbox_slot *busy, size_t n_busy, const char *endpoint)
{
    size_t n = 0;
    for (size_t i = 0; i < n_busy; i++)
        if (strcmp(busy[i].endpoint, endpoint) == 0)
            n++;
    return n;
}

int outbox_pick(const struct outbox_slot *due, size_t n_due, const struct outbox_slot *busy,
                size_t n_busy, int per_endpoint)
{
    size_t limit = per_endpoint > 1 ? (size_t)per_endpoint : 1;
    int best = -1;
    size_t best_load = limit;
    for (size_t i = 0; i < n_due && best_load > 0; i++) {
        if (held(busy, n_busy, &due[i]))
            continue;
        size_t load = load_of(busy, n_busy, due[i].endpoint);
        if (load < best_load) {                 /* strictly: the oldest wins a tie */
            best = (int)i;
            best_load = load;
        }
    }
    return best;
}
