/* hpp: the Hosted Payment Page rules (see hpp.h and docs/hpp.md).
 *
 * Decisions where the contract is silent (all [INF], written in docs/hpp.md):
 *  - BACK, FAILED and ERROR are not final: opening the page again makes the session IN_PROGRESS.
 *  - Shopper events on a final session are refused (410), so a finished page cannot be replayed;
 *    disabling a DISABLED or CANCELLED session changes nothing (204 at the API).
 *  - Enums are accepted in any case (contract 10.11) and stored uppercase; `PAY` is a
 *    purchase_type as Klarna's guide says, though the OpenAPI enum lacks it.
 *  - merchant_urls take http:// as well as https:// (playground integrations send http; the
 *    same decision as for KP merchant_urls); logo_url may also be a data:image/ URL.
 *  - A placeholder with no value where it is used (a {{authorization_token}} in a failure URL)
 *    is left as written, so the merchant sees it was not filled. */
#include "core/hpp.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/jsonv.h"
#include "lib/limits.h"

static const char *const status_names[HPP_STATUS_COUNT] = {
    [HPP_WAITING] = "WAITING",     [HPP_IN_PROGRESS] = "IN_PROGRESS", [HPP_BACK] = "BACK",
    [HPP_FAILED] = "FAILED",       [HPP_ERROR] = "ERROR",             [HPP_COMPLETED] = "COMPLETED",
    [HPP_CANCELLED] = "CANCELLED", [HPP_DISABLED] = "DISABLED",
};

const char *hpp_status_name(enum hpp_status s)
{
    return (unsigned)s < HPP_STATUS_COUNT ? status_names[s] : "ERROR";
}

int hpp_status_parse(const char *name, enum hpp_status *out)
{
    for (int i = 0; name && i < HPP_STATUS_COUNT; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (enum hpp_status)i;
            return 0;
        }
    }
    return -1;
}

bool hpp_status_final(enum hpp_status s)
{
    return s == HPP_COMPLETED || s == HPP_CANCELLED || s == HPP_DISABLED;
}

static int gone(enum hpp_status s, struct kerr *err)
{
    switch (s) {
    case HPP_COMPLETED:
        return kerr_set(err, 410, "SESSION_COMPLETED", "HPP session has already been completed");
    case HPP_CANCELLED:
        return kerr_set(err, 410, "SESSION_CANCELLED", "HPP session was cancelled");
    default:
        return kerr_set(err, 410, "SESSION_DISABLED", "HPP session is disabled");
    }
}

int hpp_next(enum hpp_status from, enum hpp_event ev, enum hpp_status *to, struct kerr *err)
{
    if ((unsigned)from >= HPP_STATUS_COUNT)
        return kerr_internal(err, "hpp: unknown status");
    if (ev == HPP_EV_DISABLE) {
        if (from == HPP_COMPLETED)
            return kerr_set(err, 400, "BAD_VALUE",
                            "HPP session has already been successfully completed");
        *to = hpp_status_final(from) ? from : HPP_DISABLED;
        return 0;
    }
    if (hpp_status_final(from))
        return gone(from, err);
    switch (ev) {
    case HPP_EV_OPEN:
        *to = HPP_IN_PROGRESS;
        return 0;
    case HPP_EV_BACK:
        *to = HPP_BACK;
        return 0;
    case HPP_EV_CANCEL:
        *to = HPP_CANCELLED;
        return 0;
    case HPP_EV_DECLINE:
        *to = HPP_FAILED;
        return 0;
    case HPP_EV_ERROR:
        *to = HPP_ERROR;
        return 0;
    case HPP_EV_COMPLETE:
        *to = HPP_COMPLETED;
        return 0;
    case HPP_EV_DISABLE:
        break;
    }
    return kerr_internal(err, "hpp: unknown event");
}

bool hpp_expired(enum hpp_status s, int64_t expires_at_ms, int64_t now_ms)
{
    return !hpp_status_final(s) && now_ms >= expires_at_ms;
}

/* ---- the create request ---- */

#define URL(n)          { .name = (n), .type = JV_STRING, .max_len = LIMIT_MERCHANT_URL, \
                          .pattern = JV_PAT_HTTP_URL }
#define STR(n, maxl)    { .name = (n), .type = JV_STRING, .max_len = (maxl) }
#define END             { .name = NULL }

static const struct jv_rule merchant_url_rules[] = {
    URL("success"), URL("cancel"), URL("back"), URL("failure"), URL("error"),
    URL("status_update"),
    /* legacy keys of older SDK models: accepted, not used (contract 4.3) */
    STR("privacy_policy", LIMIT_MERCHANT_URL), STR("terms", LIMIT_MERCHANT_URL),
    END
};

static const struct jv_rule background_rules[] = {
    {.name = "url", .type = JV_STRING, .flags = JV_REQUIRED, .max_len = LIMIT_MERCHANT_URL},
    {.name = "width", .type = JV_INT, .flags = JV_MIN | JV_MAX, .min = 1, .max = 100000},
    END
};

static const struct jv_rule category_item = {.type = JV_STRING, .min_len = 1, .max_len = 32};
static const struct jv_rule background_item = {.type = JV_OBJECT, .fields = background_rules};

static const struct jv_rule option_rules[] = {
    {.name = "background_images", .type = JV_ARRAY, .item = &background_item,
     .max_items = LIMIT_HPP_BACKGROUND_IMAGES},
    STR("logo_url", LIMIT_MERCHANT_URL),
    STR("page_title", LIMIT_STRING_DEFAULT),
    {.name = "payment_method_categories", .type = JV_ARRAY, .item = &category_item,
     .min_items = 1, .max_items = 6},
    STR("payment_method_category", 32),
    STR("place_order_mode", 32),
    STR("purchase_type", 32),
    STR("show_subtotal_detail", 32),
    {.name = "payment_fallback", .type = JV_BOOL},
    END
};

static const struct jv_rule create_rules[] = {
    {.name = "payment_session_url", .type = JV_STRING, .flags = JV_REQUIRED,
     .max_len = LIMIT_MERCHANT_URL},
    {.name = "merchant_urls", .type = JV_OBJECT, .fields = merchant_url_rules},
    {.name = "options", .type = JV_OBJECT, .fields = option_rules},
    STR("profile_id", LIMIT_STRING_DEFAULT),
    END
};

static const char *const modes[] = {"NONE", "PLACE_ORDER", "CAPTURE_ORDER", NULL};
static const char *const purchase_types[] = {"BUY",      "RENT",  "BOOK",     "SUBSCRIBE",
                                             "DOWNLOAD", "ORDER", "CONTINUE", "PAY", NULL};
static const char *const subtotal_details[] = {"HIDE", NULL};
static const char *const categories[] = {"DIRECT_DEBIT",  "DIRECT_BANK_TRANSFER", "PAY_NOW",
                                          "PAY_LATER",     "PAY_OVER_TIME",        "KLARNA",
                                          NULL};

/* The index of s in list, compared without case, or -1. */
static int enum_index(const char *const *list, const char *s)
{
    for (int i = 0; s && list[i]; i++)
        if (strcasecmp(list[i], s) == 0)
            return i;
    return -1;
}

static void lower_into(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

/* Replaces options[key] (a string already checked against list) with list's spelling. */
static int normalize_enum(json_t *options, const char *key, const char *const *list,
                          const char *fallback, struct kerr *err)
{
    const char *v = json_string_value(json_object_get(options, key));
    if (!v && !fallback)
        return 0;
    int i = v ? enum_index(list, v) : enum_index(list, fallback);
    if (i < 0) {
        char path[64];
        snprintf(path, sizeof path, "options.%s", key);
        return kerr_bad_value(err, path);
    }
    if (json_object_set_new(options, key, json_string(list[i])) != 0)
        return kerr_internal(err, "out of memory");
    return 0;
}

/* A category enum value as the KP identifier ("PAY_LATER" → "pay_later"), or NULL. */
static json_t *category_id(const char *v)
{
    int i = enum_index(categories, v);
    if (i < 0)
        return NULL;
    char id[32];
    lower_into(categories[i], id, sizeof id);
    return json_string(id);
}

/* Images: http(s) URLs or data:image/ URLs. */
static bool logo_url_ok(const char *s)
{
    return s && (jv_pattern_ok(JV_PAT_HTTP_URL, s) || strncasecmp(s, "data:image/", 11) == 0);
}

json_t *hpp_create_request(const json_t *body, struct kerr *err)
{
    /* payment_session_url is the first field: its form is judged before the others. */
    char kp[37];
    const char *url = json_string_value(json_object_get(body, "payment_session_url"));
    if (url && hpp_kp_session_id(url, kp) != 0) {
        kerr_bad_value(err, "payment_session_url");
        return NULL;
    }
    if (jv_check(body, create_rules, 0, err) != 0)
        return NULL;
    json_t *req = jv_filter(body, create_rules);
    json_t *options = req ? json_object_get(req, "options") : NULL;
    if (req && !options) {
        options = json_object();
        if (json_object_set_new(req, "options", options) != 0)
            options = NULL;
    }
    if (!req || !options || json_object_set_new(req, "kp_session_id", json_string(kp)) != 0) {
        json_decref(req);
        kerr_internal(err, "out of memory");
        return NULL;
    }
    const char *logo = json_string_value(json_object_get(options, "logo_url"));
    json_t *one = json_object_get(options, "payment_method_category");
    json_t *many = json_object_get(options, "payment_method_categories");
    if (logo && !logo_url_ok(logo)) {
        kerr_bad_value(err, "options.logo_url");
        goto bad;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(options, "background_images"), i, v) {
        if (!logo_url_ok(json_string_value(json_object_get(v, "url")))) {
            char path[64];
            snprintf(path, sizeof path, "options.background_images[%zu].url", i);
            kerr_bad_value(err, path);
            goto bad;
        }
    }
    /* One or the other: both at once is refused (contract 4.4). */
    if (one && many) {
        kerr_bad_value(err, "options.payment_method_categories");
        goto bad;
    }
    if (normalize_enum(options, "place_order_mode", modes, "NONE", err) != 0 ||
        normalize_enum(options, "purchase_type", purchase_types, "BUY", err) != 0 ||
        normalize_enum(options, "show_subtotal_detail", subtotal_details, NULL, err) != 0)
        goto bad;
    if (one) {
        json_t *id = category_id(json_string_value(one));
        if (!id) {
            kerr_bad_value(err, "options.payment_method_category");
            goto bad;
        }
        json_object_set_new(options, "payment_method_category", id);
    }
    json_array_foreach(many, i, v) {
        json_t *id = category_id(json_string_value(v));
        if (!id) {
            char path[64];
            snprintf(path, sizeof path, "options.payment_method_categories[%zu]", i);
            kerr_bad_value(err, path);
            goto bad;
        }
        json_array_set_new(many, i, id);
    }
    if (!json_object_get(options, "payment_fallback"))
        json_object_set_new(options, "payment_fallback", json_false());
    return req;
bad:
    json_decref(req);
    return NULL;
}

int hpp_kp_session_id(const char *url, char out[37])
{
    static const char tail[] = "/payments/v1/sessions/";
    if (!url)
        return -1;
    const char *scheme = strstr(url, "://");
    if (!scheme || scheme == url)
        return -1;
    for (const char *p = url; p < scheme; p++)
        if (!isalpha((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return -1;
    const char *path = strchr(scheme + 3, '/');
    if (!path || path == scheme + 3)
        return -1;
    /* The path ends in /payments/v1/sessions/{id}; a prefix (a region, a proxy) may stand
     * before it. */
    size_t n = strlen(path), t = sizeof tail - 1;
    if (n < t + 36 || strncmp(path + n - 36 - t, tail, t) != 0)
        return -1;
    /* the host: no spaces, no user info, no query */
    for (const char *p = scheme + 3; p < path; p++)
        if (*p <= ' ' || *p == '@' || *p == '?' || *p == '#' || *p == 0x7f)
            return -1;
    const char *id = path + n - 36;
    for (int i = 0; i < 36; i++) {
        char c = id[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !isxdigit((unsigned char)c))
            return -1;
        out[i] = (char)tolower((unsigned char)c);
    }
    out[36] = '\0';
    return 0;
}

static bool offered_has(const json_t *offered, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(offered, i, v) {
        if (id && json_string_value(v) && strcmp(json_string_value(v), id) == 0)
            return true;
    }
    return false;
}

json_t *hpp_allowed_categories(const json_t *request, const json_t *offered, struct kerr *err)
{
    const json_t *options = json_object_get(request, "options");
    json_t *one = json_object_get(options, "payment_method_category");
    json_t *many = json_object_get(options, "payment_method_categories");
    json_t *out = json_array();
    if (!out) {
        kerr_internal(err, "out of memory");
        return NULL;
    }
    if (!one && !many) {
        size_t i;
        json_t *v;
        json_array_foreach(offered, i, v)
            json_array_append(out, v);
        return out;
    }
    if (one) {
        if (!offered_has(offered, json_string_value(one))) {
            json_decref(out);
            kerr_bad_value(err, "options.payment_method_category");
            return NULL;
        }
        json_array_append(out, one);
        return out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(many, i, v) {
        if (!offered_has(offered, json_string_value(v))) {
            char path[64];
            snprintf(path, sizeof path, "options.payment_method_categories[%zu]", i);
            json_decref(out);
            kerr_bad_value(err, path);
            return NULL;
        }
        if (!offered_has(out, json_string_value(v)))       /* a repeat is shown once */
            json_array_append(out, v);
    }
    return out;
}

enum hpp_mode hpp_mode_of(const json_t *request)
{
    const char *m =
        json_string_value(json_object_get(json_object_get(request, "options"), "place_order_mode"));
    if (m && strcmp(m, "PLACE_ORDER") == 0)
        return HPP_MODE_PLACE_ORDER;
    if (m && strcmp(m, "CAPTURE_ORDER") == 0)
        return HPP_MODE_CAPTURE_ORDER;
    return HPP_MODE_NONE;
}

/* ---- placeholders ---- */

static int put_encoded(const char *v, char *out, size_t *o, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        bool plain = isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        size_t need = plain ? 1 : 3;
        if (*o + need >= cap)
            return -1;
        if (plain) {
            out[(*o)++] = (char)*p;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[*p >> 4];
            out[(*o)++] = hex[*p & 15];
        }
    }
    return 0;
}

int hpp_url_fill(const char *tmpl, const struct hpp_fill *f, char *out, size_t cap)
{
    static const struct {
        const char *name;
        size_t offset;
    } holders[] = {
        {"{{session_id}}", offsetof(struct hpp_fill, session_id)},
        {"{{authorization_token}}", offsetof(struct hpp_fill, authorization_token)},
        {"{{order_id}}", offsetof(struct hpp_fill, order_id)},
    };
    if (cap == 0)
        return -1;
    out[0] = '\0';
    size_t o = 0;
    for (const char *p = tmpl; *p;) {
        const char *value = NULL;
        size_t skip = 0;
        for (size_t i = 0; i < sizeof holders / sizeof holders[0]; i++) {
            size_t n = strlen(holders[i].name);
            if (strncmp(p, holders[i].name, n) == 0) {
                value = *(const char *const *)((const char *)f + holders[i].offset);
                skip = value ? n : 0;
                break;
            }
        }
        if (skip) {
            if (put_encoded(value, out, &o, cap) != 0) {
                out[o] = '\0';
                return -1;
            }
            p += skip;
        } else {
            if (o + 1 >= cap) {
                out[o] = '\0';
                return -1;
            }
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return 0;
}

/* ---- distribution ---- */

static const char *const method_names[] = {"sms", "email", "token", NULL};
static const char *const templates[] = {"INSTORE_PURCHASE", NULL};

const char *hpp_method_name(enum hpp_method m)
{
    return (unsigned)m <= HPP_SEND_TOKEN ? method_names[m] : "sms";
}

static const struct jv_rule contact_rules[] = {
    STR("access_id", LIMIT_STRING_DEFAULT),
    STR("email", LIMIT_STRING_DEFAULT),
    STR("phone", LIMIT_HPP_PHONE),
    STR("phone_country", 2),
    END
};

static const struct jv_rule distribution_rules[] = {
    {.name = "contact_information", .type = JV_OBJECT, .flags = JV_REQUIRED,
     .fields = contact_rules},
    {.name = "method", .type = JV_STRING, .flags = JV_REQUIRED, .max_len = 16},
    STR("template", 32),
    END
};

static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@'))
        return false;
    const char *dot = strrchr(at + 1, '.');
    if (!dot || dot == at + 1 || !dot[1])
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == ';')
            return false;
    return true;
}

static bool phone_ok(const char *s)
{
    int digits = 0;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p))
            digits++;
        else if (!(*p == ' ' || *p == '-' || *p == '(' || *p == ')' || (*p == '+' && p == s)))
            return false;
    }
    return digits >= 5 && digits <= 15;
}

int hpp_distribution_check(const json_t *body, struct hpp_distribution *out, struct kerr *err)
{
    memset(out, 0, sizeof *out);
    if (jv_check(body, distribution_rules, 0, err) != 0)
        return -1;
    int m = enum_index(method_names, json_string_value(json_object_get(body, "method")));
    if (m < 0)
        return kerr_bad_value(err, "method");
    const char *tmpl = json_string_value(json_object_get(body, "template"));
    if (tmpl && enum_index(templates, tmpl) < 0)
        return kerr_bad_value(err, "template");
    out->has_template = tmpl != NULL;
    out->method = (enum hpp_method)m;
    const json_t *c = json_object_get(body, "contact_information");
    switch (out->method) {
    case HPP_SEND_EMAIL:
        out->to = json_string_value(json_object_get(c, "email"));
        if (!out->to || !email_ok(out->to))
            return kerr_bad_value(err, "contact_information.email");
        return 0;
    case HPP_SEND_SMS: {
        out->to = json_string_value(json_object_get(c, "phone"));
        if (!out->to || !phone_ok(out->to))
            return kerr_bad_value(err, "contact_information.phone");
        const char *cc = json_string_value(json_object_get(c, "phone_country"));
        if (!cc || !jv_pattern_ok(JV_PAT_COUNTRY2, cc))
            return kerr_bad_value(err, "contact_information.phone_country");
        out->country[0] = (char)toupper((unsigned char)cc[0]);
        out->country[1] = (char)toupper((unsigned char)cc[1]);
        out->phone_country = out->country;
        return 0;
    }
    case HPP_SEND_TOKEN:
        out->to = json_string_value(json_object_get(c, "access_id"));
        if (!out->to || !out->to[0])
            return kerr_bad_value(err, "contact_information.access_id");
        return 0;
    }
    return kerr_bad_value(err, "method");
}

/* ---- texts ---- */

enum lang { EN, SV, DE, DA, NB, FI, LANG_COUNT };

static enum lang lang_of(const char *locale)
{
    static const char *const codes[LANG_COUNT] = {"en", "sv", "de", "da", "nb", "fi"};
    for (int i = 0; locale && i < LANG_COUNT; i++)
        if (strncasecmp(locale, codes[i], 2) == 0 && (locale[2] == '\0' || locale[2] == '-'))
            return (enum lang)i;
    if (locale && strncasecmp(locale, "no", 2) == 0 && (locale[2] == '\0' || locale[2] == '-'))
        return NB;
    return EN;
}

/* Labels in purchase_types order. */
static const char *const pay_labels[LANG_COUNT][8] = {
    [EN] = {"Buy", "Rent", "Book", "Subscribe", "Download", "Order", "Continue", "Pay"},
    [SV] = {"Köp", "Hyr", "Boka", "Prenumerera", "Ladda ner", "Beställ", "Fortsätt", "Betala"},
    [DE] = {"Kaufen", "Mieten", "Buchen", "Abonnieren", "Herunterladen", "Bestellen", "Weiter",
            "Bezahlen"},
    [DA] = {"Køb", "Lej", "Book", "Abonnér", "Download", "Bestil", "Fortsæt", "Betal"},
    [NB] = {"Kjøp", "Lei", "Bestill", "Abonner", "Last ned", "Bestill", "Fortsett", "Betal"},
    [FI] = {"Osta", "Vuokraa", "Varaa", "Tilaa", "Lataa", "Tilaa", "Jatka", "Maksa"},
};

const char *hpp_pay_label(const char *purchase_type, const char *locale)
{
    int i = enum_index(purchase_types, purchase_type);
    return pay_labels[lang_of(locale)][i < 0 ? 0 : i];
}

int hpp_message_text(const char *locale, const char *merchant, const char *link, char *subject,
                     size_t subject_cap, char *text, size_t text_cap)
{
    /* subject: pre + merchant + post; text: merchant + middle + link */
    static const struct {
        const char *pre, *post, *middle;
    } t[LANG_COUNT] = {
        [EN] = {"Complete your purchase at ", "",
                " has sent you a link to complete your purchase with Klarna: "},
        [SV] = {"Slutför ditt köp hos ", "",
                " har skickat en länk för att slutföra ditt köp med Klarna: "},
        [DE] = {"Schließen Sie Ihren Kauf bei ", " ab",
                " hat Ihnen einen Link gesendet, um Ihren Kauf mit Klarna abzuschließen: "},
        [DA] = {"Gennemfør dit køb hos ", "",
                " har sendt dig et link til at gennemføre dit køb med Klarna: "},
        [NB] = {"Fullfør kjøpet ditt hos ", "",
                " har sendt deg en lenke for å fullføre kjøpet med Klarna: "},
        [FI] = {"Viimeistele ostoksesi: ", "",
                " lähetti sinulle linkin ostoksesi viimeistelyyn Klarnalla: "},
    };
    enum lang l = lang_of(locale);
    int n = snprintf(subject, subject_cap, "%s%s%s", t[l].pre, merchant, t[l].post);
    if (n < 0 || (size_t)n >= subject_cap)
        return -1;
    n = snprintf(text, text_cap, "%s%s%s", merchant, t[l].middle, link);
    return n < 0 || (size_t)n >= text_cap ? -1 : 0;
}
