/* limits: every input limit Kasse enforces, named, in one place.
 * Crossing one is a 4xx that names the field. String limits come from Klarna's OpenAPI
 * (payments.json) and contract.md section 2.8. */
#ifndef KASSE_LIMITS_H
#define KASSE_LIMITS_H

/* HTTP */
#define LIMIT_JWT_BYTES             8192            /* client_token; longer is rejected unparsed */
#define LIMIT_BODY_BYTES            (1024 * 1024)   /* 1 MiB; larger → 413 */
#define LIMIT_BODY_DRAIN_BYTES      (8 * 1024 * 1024) /* up to this, a too-large body is read
                                                     * and dropped before the 413 */
#define LIMIT_URL_BYTES             2048            /* the path; longer → 414 */
#define LIMIT_REQUEST_LINE_BYTES    (8 * 1024)      /* method, target with its query, version */
#define LIMIT_QUERY_ARGS            1000
#define LIMIT_HEAD_BYTES            (32 * 1024)     /* request line and headers; larger → 431 */
#define LIMIT_HEADER_FIELDS         100
#define LIMIT_CHUNK_LINE_BYTES      1024            /* a chunk's size line with its extensions */
#define LIMIT_TRAILER_BYTES         (8 * 1024)
/* Connections (http/server.c). Slow or idle clients cannot lock others out: each address gets
 * a share, a request must finish its head in time and its body at a minimum rate, and near the
 * connection limit idle connections are closed (oldest first) to make room. */
#define LIMIT_CONNECTIONS           10000           /* also bounded by the descriptor limit */
#define LIMIT_CONNECTIONS_PER_ADDRESS 256
#define LIMIT_HEAD_TIMEOUT_S        10              /* from a request's first byte to its CRLF CRLF */
#define LIMIT_BODY_TIMEOUT_S        10              /* plus the body at LIMIT_BODY_MIN_RATE */
#define LIMIT_BODY_MIN_RATE         (16 * 1024)     /* bytes per second */
#define LIMIT_IDLE_TIMEOUT_S        30              /* a kept-alive connection with no request */
#define LIMIT_IDLE_PRESSED_S        2               /* the same, past half the connection limit */
#define LIMIT_WRITE_TIMEOUT_S       30              /* a reply the client does not read */
#define LIMIT_LINGER_MS             2000            /* reading after an error reply, before close */
#define LIMIT_IDEMPOTENCY_KEY_BYTES 255

/* JSON */
#define LIMIT_JSON_DEPTH            32              /* nesting of objects/arrays in a body */

/* Klarna Payments session fields */
#define LIMIT_ORDER_LINES_MIN       1
#define LIMIT_ORDER_LINES_MAX       1000
#define LIMIT_LINE_AMOUNT_MAX       200000000LL     /* unit_price, total_amount */
#define LIMIT_LINE_AMOUNT_MIN       (-200000000LL)  /* discount lines are negative */
#define LIMIT_TAX_RATE_MAX          10000           /* basis points of a percent */
#define LIMIT_STRING_DEFAULT        255
#define LIMIT_ADDRESS_FIELD         99
#define LIMIT_POSTAL_CODE           10
#define LIMIT_TITLE                 20
#define LIMIT_QUANTITY_UNIT         8
#define LIMIT_URL_FIELD             1024            /* image_url, product_url */
#define LIMIT_LINE_MERCHANT_DATA    1024
#define LIMIT_MERCHANT_DATA         6000
#define LIMIT_MERCHANT_URL          2000
#define LIMIT_CUSTOM_PAYMENT_IDS    100             /* entries in custom_payment_method_ids */
#define LIMIT_PRODUCT_BRAND         70              /* product_identifiers.* */
#define LIMIT_PRODUCT_CATEGORY_PATH 750
#define LIMIT_PRODUCT_GTIN          50
#define LIMIT_PRODUCT_MPN           70
#define LIMIT_PRODUCT_COLOR         64
#define LIMIT_PRODUCT_SIZE          64
/* Strings Klarna gives no length (customer.*, design, options.radius_border, custom payment
 * method ids, attachment.content_type, step_up_id): capped at LIMIT_STRING_DEFAULT [INF].
 * attachment.body (serialized EMD JSON) is bounded only by LIMIT_BODY_BYTES. */

/* Order Management fields (contract 5.3, 5.7) */
#define LIMIT_OM_QUANTITY_UNIT      10
#define LIMIT_OM_NAME               100             /* names, street, e-mail, phone */
#define LIMIT_OM_CITY               200             /* city, region */
#define LIMIT_OM_SHIPPING_COMPANY   100
#define LIMIT_OM_TRACKING_NUMBER    100
#define LIMIT_OM_SHIPPING_INFO      500             /* entries per call */
#define LIMIT_OM_CAPTURES           1000            /* captures per order */
#define LIMIT_OM_REFUNDS            1000            /* refunds per order */

/* Hosted Payment Page (contract 4) [INF: Klarna names no limits] */
#define LIMIT_HPP_BACKGROUND_IMAGES 10
#define LIMIT_HPP_PHONE             20              /* distribution contact_information.phone */
#define LIMIT_HPP_PER_KP_SESSION    100             /* HPP sessions on one KP session */
/* Lifetimes (seconds) */
#define LIFETIME_SESSION_S          (48 * 3600)
#define LIFETIME_AUTH_TOKEN_S       (60 * 60)
#define LIFETIME_HPP_MARGIN_S       (60 * 60)       /* HPP expires this long before its KP session */

/* Request log: bodies kept per request */
#define LIMIT_LOG_BODY_BYTES        (64 * 1024)

#endif
