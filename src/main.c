/* main: the command line. `kasse serve`, `kasse merchant create`, `kasse version`.
 * Parses options and runs the commands; start-up itself (store, server key, merchants) is
 * http/app.c, shared with the in-process tests. Clean shutdown on SIGTERM/SIGINT. */
#include <curl/curl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/categories.h"
#include "http/http.h"
#include "lib/crypto.h"
#include "lib/ids.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "outbox/outbox.h"
#include "store/store.h"

#include "lib/version.h"
#define DEFAULT_DB "var/kasse.db"
#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_THREADS 32
#define MAX_THREADS 256
#define MAX_LOG_MB (1024 * 1024)          /* --log-max-mb: up to 1 TiB */
#define STR_(x) #x
#define STR(x) STR_(x)

/* glibc malloc (issue 9: RSS 14 MB → 400 MB in a 5-minute soak, ~90 % of it free memory kept
 * by malloc). By default every thread that allocates may get its own malloc arena, up to 8 per
 * core, and each keeps the high-water mark of what its threads once held: 16 arenas of ~12 MB
 * free each, 11 MB in use, after requests that briefly held many rows. So: few arenas (the hot
 * small allocations of a request come from its own arena in lib/mem.c, not from malloc, so
 * contention stays low), blocks from 128 KiB up mmapped and unmapped when freed (a fixed
 * threshold: glibc's sliding one rises to the largest block ever freed and then keeps such
 * blocks in the heap), and every MALLOC_TRIM_EVERY_S seconds free pages go back to the system
 * (malloc_trim also releases free pages in the middle of a heap, which trimming at free
 * time never does). */
#define MALLOC_ARENAS 2
#define MALLOC_MMAP_THRESHOLD (128 * 1024)
#define MALLOC_TRIM_EVERY_S 10

/* What shoppers see of a merchant seeded without a display name: never its API username. */
#define DEFAULT_DISPLAY_NAME "Kasse Test Merchant"

static const char usage_main[] =
    "usage: kasse <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve             run the server\n"
    "  merchant create   create a merchant and print its credentials\n"
    "  version           print the version\n"
    "\n"
    "Run `kasse <command> --help` for a command's options.\n";

static const char usage_serve[] =
    "usage: kasse serve [--listen HOST:PORT] [--db PATH|URL] [--public-url URL] [--threads N]\n"
    "                   [--test-clock] [--callbacks-public-only] [--callback-workers N]\n"
    "                   [--max-connections N] [--connections-per-address N]\n"
    "                   [--log-max-mb N] [--db-wait SECONDS]\n"
    "\n"
    "  --listen HOST:PORT  address to listen on (default " DEFAULT_LISTEN ")\n"
    "  --db PATH           SQLite store (default " DEFAULT_DB "; created if missing;\n"
    "                      or KASSE_DB)\n"
    "  --db URL            PostgreSQL instead: postgres://user:pass@host:port/dbname,\n"
    "                      postgresql://..., or libpq's \"host=... dbname=...\"; any number\n"
    "                      of nodes may share one database (docs/architecture.md)\n"
    "  --db-wait SECONDS   PostgreSQL: wait this long for the database at start (default\n"
    "                      30; one line per try)\n"
    "  --public-url URL    the URL merchants and browsers reach Kasse at (default\n"
    "                      http://HOST:PORT); used in client_token and asset URLs\n"
    "  --threads N         server threads (default 32: they block on durable commits,\n"
    "                      and more requests in flight make bigger group commits)\n"
    "  --test-clock        enable POST /kasse/v1/clock to move Kasse's clock forward\n"
    "  --callbacks-public-only  refuse callback deliveries to loopback, private, link-local\n"
    "                      and other non-public addresses (checked on the address each\n"
    "                      connection resolves to; off by default: local callbacks are the\n"
    "                      point on a developer's machine, SSRF on a shared platform)\n"
    "  --callback-workers N  callback delivery threads (default 8; at most 2 of them call\n"
    "                      one scheme://host:port at a time, so a hanging endpoint holds\n"
    "                      at most 2)\n"
    "  --max-connections N  open connections at most (default 10000, within the descriptor\n"
    "                      limit, which Kasse raises to its maximum); near it, connections\n"
    "                      waiting longest without a request in progress are closed first\n"
    "  --connections-per-address N  connections one client address may hold (default 256;\n"
    "                      0: no cap, e.g. behind a reverse proxy that is one address)\n"
    "  --log-max-mb N      keep the request log (kasse.db → kasse-log.db) within N MiB\n"
    "                      (default " STR(STORE_LOG_MAX_MB_DEFAULT) "), deleting the oldest rows"
    " first; rows older\n"
    "                      than 30 days are deleted too (on PostgreSQL only the 30 days:\n"
    "                      the table's size is the database operator's)\n"
    "\n"
    "disk: the store's WAL is checkpointed and cut back past 16 MiB. On a full disk\n"
    "  writes are answered 503 SERVICE_UNAVAILABLE with Retry-After and nothing of\n"
    "  them is applied; reads go on; request-log rows are dropped. Writes succeed\n"
    "  again by themselves once there is space (no restart).\n"
    "\n"
    "environment:\n"
    "  KASSE_MERCHANTS=\"user:secret[:klarna|classic][:display name],...\"  seed merchants\n"
    "  (tests, CI; shoppers see the display name, default \"" DEFAULT_DISPLAY_NAME "\"); with\n"
    "  an empty store and no seed, one test merchant is created and its credentials printed.\n";

static const char usage_merchant[] =
    "usage: kasse merchant create NAME [--db PATH] [--categories klarna|classic]\n"
    "                             [--display-name TEXT]\n"
    "\n"
    "Creates a merchant and prints its username and secret (shown once: the store keeps\n"
    "only an HMAC of the secret). Shoppers see --display-name, by default NAME; never the\n"
    "generated API username. --categories chooses the payment method categories its\n"
    "sessions offer: klarna (one \"Pay with Klarna\", the default) or classic (pay_now,\n"
    "pay_later, pay_over_time where the market offers them).\n";

/* ---- merchants ---- */

static int generate_credentials(char username[32], char secret[48])
{
    char a[7], b[13];
    if (ids_upper_alnum(a, 6) != 0 || ids_alnum(b, 12) != 0 || ids_alnum(secret, 40) != 0)
        return -1;
    snprintf(username, 32, "PK%s_%s", a, b);
    return 0;
}

/* A merchant's name goes into every client_token: it must be valid UTF-8 (JSON text). */
static int utf8_ok(const char *s)
{
    json_t *t = json_string(s);
    json_decref(t);
    return t != NULL;
}

/* KASSE_MERCHANTS="user:secret[:klarna|classic][:display name],..." */
static int seed_merchants(struct app *app, const char *spec, struct kerr *err)
{
    char *copy = strdup(spec), *save = NULL;
    if (!copy)
        return kerr_internal(err, "out of memory");
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *user = item, *secret = strchr(item, ':');
        char *categories = "klarna";
        if (!secret || secret == user || !secret[1]) {
            rc = kerr_set(err, 400, "CONFIG", "KASSE_MERCHANTS: expected user:secret, got '%s'",
                          item);
            break;
        }
        *secret++ = '\0';
        char *third = strchr(secret, ':');
        const char *display = DEFAULT_DISPLAY_NAME;
        if (third) {
            *third++ = '\0';
            char *fourth = strchr(third, ':');
            if (fourth) {
                *fourth++ = '\0';
                if (*fourth)
                    display = fourth;
            }
            if (*third)
                categories = third;
        }
        if (!utf8_ok(user) || !utf8_ok(display) || strlen(display) > 255) {
            rc = kerr_set(err, 400, "CONFIG",
                          "KASSE_MERCHANTS: user and display names must be UTF-8 text");
            break;
        }
        if (!categories_config_ok(categories)) {
            rc = kerr_set(err, 400, "CONFIG", "KASSE_MERCHANTS: unknown categories '%s'",
                          categories);
            break;
        }
        struct app_merchant m = {.username = user, .secret = secret, .name = display,
                                 .categories = categories};
        rc = app_merchant_put(app, &m, false, NULL, err);
    }
    free(copy);
    return rc;
}

/* ---- store opening shared by the commands ---- */

#define DEFAULT_DB_WAIT_S 30

/* --db's default: KASSE_DB when set (a path or a PostgreSQL URL), else var/kasse.db. */
static const char *default_db(void)
{
    const char *env = getenv("KASSE_DB");
    return env && *env ? env : DEFAULT_DB;
}

/* What a log line may say of --db: a SQLite path as is; of PostgreSQL, only host, port and
 * database (never the user's password). */
static void db_describe(const char *db, char *out, size_t cap)
{
    if (store_is_pg(db))
        store_pg_describe(db, out, cap);
    else
        snprintf(out, cap, "%s", db);
}

static int open_app(struct app *app, const char *db, const struct store_sqlite_limits *lim)
{
    struct kerr err = {0};
    if (app_open(app, db, lim, &err) != 0) {
        fprintf(stderr, "kasse: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* ---- commands ---- */

static int parse_listen(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {   /* [::1]:8080 */
        s++;
        hl -= 2;
    }
    if (hl >= cap)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == colon + 1)
        return -1;
    *port = (int)p;
    return 0;
}

static void format_url(char *out, size_t cap, const char *host, int port)
{
    if (strchr(host, ':'))
        snprintf(out, cap, "http://[%s]:%d", host, port);
    else
        snprintf(out, cap, "http://%s:%d", host, port);
}

static int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'}, {"db", required_argument, NULL, 'd'},
        {"public-url", required_argument, NULL, 'u'}, {"threads", required_argument, NULL, 't'},
        {"test-clock", no_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
        {"callbacks-public-only", no_argument, NULL, 'p'},
        {"callback-workers", required_argument, NULL, 'w'},
        {"max-connections", required_argument, NULL, 'm'},
        {"connections-per-address", required_argument, NULL, 'a'},
        {"log-max-mb", required_argument, NULL, 'g'},
        {"db-wait", required_argument, NULL, 'W'}, {NULL, 0, NULL, 0}};
    const char *listen = DEFAULT_LISTEN, *db = default_db(), *public_url = NULL;
    long db_wait = DEFAULT_DB_WAIT_S;
    long threads = DEFAULT_THREADS, workers = OUTBOX_WORKERS;
    long max_conns = 0, per_address = 0;
    long log_max_mb = STORE_LOG_MAX_MB_DEFAULT;
    int test_clock = 0, public_only = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': listen = optarg; break;
        case 'd': db = optarg; break;
        case 'u': public_url = optarg; break;
        case 't': {
            char *end;
            threads = strtol(optarg, &end, 10);
            if (*end || threads < 1 || threads > MAX_THREADS) {
                fprintf(stderr, "kasse serve: --threads must be 1..%d\n", MAX_THREADS);
                return 2;
            }
            break;
        }
        case 'w': {
            char *end;
            workers = strtol(optarg, &end, 10);
            if (*end || workers < 1 || workers > OUTBOX_WORKERS_MAX) {
                fprintf(stderr, "kasse serve: --callback-workers must be 1..%d\n",
                        OUTBOX_WORKERS_MAX);
                return 2;
            }
            break;
        }
        case 'm':
        case 'a': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < (c == 'm') || v > 1000000) {
                fprintf(stderr, "kasse serve: --%s must be %d..1000000\n",
                        c == 'm' ? "max-connections" : "connections-per-address", c == 'm');
                return 2;
            }
            if (c == 'm')
                max_conns = v;
            else
                per_address = v ? v : -1;
            break;
        }
        case 'g': {
            char *end;
            log_max_mb = strtol(optarg, &end, 10);
            if (*end || end == optarg || log_max_mb < 1 || log_max_mb > MAX_LOG_MB) {
                fprintf(stderr, "kasse serve: --log-max-mb must be 1..%d\n", MAX_LOG_MB);
                return 2;
            }
            break;
        }
        case 'W': {
            char *end;
            db_wait = strtol(optarg, &end, 10);
            if (*end || end == optarg || db_wait < 0 || db_wait > 3600) {
                fprintf(stderr, "kasse serve: --db-wait must be 0..3600 seconds\n");
                return 2;
            }
            break;
        }
        case 'c': test_clock = 1; break;
        case 'p': public_only = 1; break;
        case 'h': fputs(usage_serve, stdout); return 0;
        default: fputs(usage_serve, stderr); return 2;
        }
    }
    if (optind != argc) {
        fputs(usage_serve, stderr);
        return 2;
    }
    char host[256];
    int port;
    if (parse_listen(listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "kasse serve: --listen wants HOST:PORT, got '%s'\n", listen);
        return 2;
    }

    /* Signals are taken by sigtimedwait below; block them before any thread starts. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);    /* a file size limit is a full disk: 503, not a dead server */

    static struct app app;
    app.clock.testable = test_clock;
    app.test_clock = test_clock;
    app.callbacks_public_only = public_only;
    /* PostgreSQL: one connection per server thread and callback worker (each holds one only
     * while it runs a transaction), and a few for the logger, the dispatcher and health. */
    app.db_pool = (int)(threads + workers + 4);
    app.db_wait_s = (int)db_wait;
    struct store_sqlite_limits lim = {.log_max_bytes = (int64_t)log_max_mb * 1024 * 1024};
    if (open_app(&app, db, &lim) != 0)
        return 1;

    struct kerr err = {0};
    const char *seed = getenv("KASSE_MERCHANTS");
    if (seed && *seed) {
        if (seed_merchants(&app, seed, &err) != 0) {
            fprintf(stderr, "kasse: %s\n", err.msg);
            app_close(&app);
            return 1;
        }
    } else {
        char username[32], secret[48];
        struct app_merchant m = {.username = username, .secret = secret,
                                 .name = DEFAULT_DISPLAY_NAME, .categories = "klarna"};
        bool created = false;
        if (generate_credentials(username, secret) != 0 ||
            app_merchant_put(&app, &m, true, &created, &err) != 0) {
            fprintf(stderr, "kasse: cannot create the test merchant: %s\n", err.msg);
            app_close(&app);
            return 1;
        }
        if (created)
            printf("kasse: created a test merchant (the secret is shown only now)\n"
                   "username: %s\nsecret: %s\n", username, secret);
        crypto_wipe(secret, sizeof secret);
    }

    /* The public URL is fixed before the first request can arrive; with port 0 and no
     * --public-url it is only known once bound. */
    if (public_url)
        snprintf(app.public_url, sizeof app.public_url, "%s", public_url);
    else
        format_url(app.public_url, sizeof app.public_url, host, port);
    size_t ul = strlen(app.public_url);
    while (ul && app.public_url[ul - 1] == '/')
        app.public_url[--ul] = '\0';
    struct http_options hopt = {.threads = (unsigned)threads, .max_connections = (int)max_conns,
                                .per_address = (int)per_address};
    struct http_server *srv = http_start(&app, host, port, &hopt, &err);
    if (!srv) {
        fprintf(stderr, "kasse: %s\n", err.msg[0] ? err.msg : "out of memory");
        app_close(&app);
        return 1;
    }
    struct outbox *outbox = outbox_start(&app, (int)workers);
    if (!outbox) {
        fprintf(stderr, "kasse: cannot start the callback delivery threads\n");
        http_stop(srv);
        app_close(&app);
        return 1;
    }
    int bound = http_port(srv);
    if (!public_url && port == 0)
        format_url(app.public_url, sizeof app.public_url, host, bound);
    char listening[320];
    format_url(listening, sizeof listening, host, bound);
    printf("kasse: listening on %s\n", listening);
    fflush(stdout);
    char where[256];
    db_describe(db, where, sizeof where);
    log_info("serving with %ld threads, %ld callback workers, store %s (%s)%s", threads,
             workers, where, app.store->ops->name, test_clock ? ", test clock enabled" : "");

    int sig;
    do {
        struct timespec every = {.tv_sec = MALLOC_TRIM_EVERY_S};
        sig = sigtimedwait(&stop, NULL, &every);
        if (sig < 0)
            malloc_trim(0);      /* timed out (or EINTR): give free pages back */
    } while (sig < 0);
    log_info("received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    http_stop(srv);
    outbox_stop(outbox);
    app_close(&app);
    log_info("stopped");
    return 0;
}

static int cmd_merchant(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_merchant, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "create") != 0) {
        fputs(usage_merchant, stderr);
        return 2;
    }
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"categories", required_argument, NULL, 'c'},
        {"display-name", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *db = default_db(), *categories = "klarna", *display = NULL;
    int c;
    optind = 1;
    argc--;
    argv++;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'c': categories = optarg; break;
        case 'n': display = optarg; break;
        case 'h': fputs(usage_merchant, stdout); return 0;
        default: fputs(usage_merchant, stderr); return 2;
        }
    }
    if (optind != argc - 1 || !argv[optind][0] || strlen(argv[optind]) > 255) {
        fputs(usage_merchant, stderr);
        return 2;
    }
    if (!display)
        display = argv[optind];
    if (!display[0] || strlen(display) > 255 || !utf8_ok(display)) {
        fprintf(stderr, "kasse merchant create: --display-name is 1 to 255 bytes of UTF-8\n");
        return 2;
    }
    if (!categories_config_ok(categories)) {
        fprintf(stderr, "kasse merchant create: --categories is klarna or classic\n");
        return 2;
    }
    if (!utf8_ok(argv[optind])) {
        fprintf(stderr, "kasse merchant create: NAME must be UTF-8 text\n");
        return 2;
    }
    log_set_quiet(1);
    static struct app app;
    app.db_wait_s = DEFAULT_DB_WAIT_S;
    if (open_app(&app, db, NULL) != 0)
        return 1;
    char username[32], secret[48];
    struct kerr err = {0};
    struct app_merchant m = {.username = username, .secret = secret, .name = display,
                             .categories = categories};
    int rc = generate_credentials(username, secret);
    if (rc == 0)
        rc = app_merchant_put(&app, &m, false, NULL, &err);
    app_close(&app);
    if (rc != 0) {
        fprintf(stderr, "kasse merchant create: %s\n", err.msg[0] ? err.msg : "failed");
        return 1;
    }
    printf("username: %s\nsecret: %s\n", username, secret);
    crypto_wipe(secret, sizeof secret);
    return 0;
}

int main(int argc, char **argv)
{
    /* Before any thread allocates; glibc's own variables still win when set. */
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, MALLOC_ARENAS);
    if (!getenv("MALLOC_MMAP_THRESHOLD_"))
        mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD);
    mem_install();
    curl_global_init(CURL_GLOBAL_DEFAULT);    /* before any thread starts */
    atexit(curl_global_cleanup);
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "merchant") == 0)
        return cmd_merchant(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (argc > 2 && strcmp(argv[2], "--help") == 0) {
            puts("usage: kasse version\n\nPrints the version of Kasse.");
            return 0;
        }
        printf("kasse %s\n", KASSE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    fprintf(stderr, "kasse: unknown command '%s'\n\n%s", cmd, usage_main);
    return 2;
}
