/* routes: the route table. Klarna's paths stay exactly Klarna's; Kasse's own live under
 * /kasse/. Order matters only for readability: matching is exact. */
#include "api/api.h"

const struct route routes_table[] = {
    /* Klarna Payments API v1 (contract 2.1) */
    {"POST", "/payments/v1/sessions", payments_create_session, AUTH_MERCHANT, 0},
    {"GET", "/payments/v1/sessions/{session_id}", payments_read_session, AUTH_MERCHANT, 0},
    {"POST", "/payments/v1/sessions/{session_id}", payments_update_session, AUTH_MERCHANT, 0},
    {"DELETE", "/payments/v1/sessions/{session_id}", payments_cancel_session, AUTH_MERCHANT, 0},
    {"POST", "/payments/v1/authorizations/{token}/order", payments_create_order, AUTH_MERCHANT, 0},
    {"DELETE", "/payments/v1/authorizations/{token}", payments_cancel_authorization,
     AUTH_MERCHANT, 0},
    {"POST", "/payments/v1/authorizations/{token}/customer-token",
     payments_create_customer_token, AUTH_MERCHANT, 0},

    /* Order Management API v1 (contract 5.1) */
#define OM "/ordermanagement/v1/orders/{order_id}"
    {"GET", OM, om_get_order, AUTH_MERCHANT, 0},
    {"POST", OM "/acknowledge", om_acknowledge, AUTH_MERCHANT, 0},
    {"PATCH", OM "/authorization", om_update_authorization, AUTH_MERCHANT, 0},
    {"POST", OM "/cancel", om_cancel, AUTH_MERCHANT, 0},
    {"POST", OM "/extend-authorization-time", om_extend_authorization, AUTH_MERCHANT, 0},
    {"POST", OM "/release-remaining-authorization", om_release, AUTH_MERCHANT, 0},
    {"PATCH", OM "/customer-details", om_customer_details, AUTH_MERCHANT, 0},
    {"PATCH", OM "/merchant-references", om_merchant_references, AUTH_MERCHANT, 0},
    {"POST", OM "/shipping-info", om_shipping_info, AUTH_MERCHANT, 0},
    {"POST", OM "/captures", om_capture, AUTH_MERCHANT, 0},
    {"GET", OM "/captures", om_list_captures, AUTH_MERCHANT, 0},
    {"GET", OM "/captures/{capture_id}", om_get_capture, AUTH_MERCHANT, 0},
    {"POST", OM "/captures/{capture_id}/shipping-info", om_capture_shipping_info, AUTH_MERCHANT,
     0},
    {"POST", OM "/captures/{capture_id}/trigger-send-out", om_trigger_send_out, AUTH_MERCHANT, 0},
    /* in Klarna's SDKs, not in the current spec (contract 5.1) */
    {"PATCH", OM "/captures/{capture_id}/customer-details", om_capture_customer_details,
     AUTH_MERCHANT, 0},
    {"GET", OM "/captures/{capture_id}/extend-due-date-options", om_due_date_options,
     AUTH_MERCHANT, 0},
    {"PATCH", OM "/captures/{capture_id}/extend-due-date", om_extend_due_date, AUTH_MERCHANT, 0},
    {"POST", OM "/refunds", om_refund, AUTH_MERCHANT, 0},
    {"GET", OM "/refunds/{refund_id}", om_get_refund, AUTH_MERCHANT, 0},
#undef OM

    /* Customer Token API (contract 3) */
    {"GET", "/customer-token/v1/tokens/{token}", ctoken_read, AUTH_MERCHANT, 0},
    {"POST", "/customer-token/v1/tokens/{token}/order", ctoken_create_order, AUTH_MERCHANT, 0},
    {"PATCH", "/customer-token/v1/tokens/{token}/status", ctoken_update_status, AUTH_MERCHANT, 0},

    /* Hosted Payment Page API v1 (contract 4.1) */
    {"POST", "/hpp/v1/sessions", hpp_create_session, AUTH_MERCHANT, 0},
    {"GET", "/hpp/v1/sessions/{session_id}", hpp_read_session, AUTH_MERCHANT, 0},
    {"DELETE", "/hpp/v1/sessions/{session_id}", hpp_disable_session, AUTH_MERCHANT, 0},
    {"POST", "/hpp/v1/sessions/{session_id}/distribution", hpp_distribute_session,
     AUTH_MERCHANT, 0},

    /* The hosted page (public: its UUIDv4 page id is the key) and what it calls */
    {"GET", "/hpp/payments/{page_id}", hpp_page_get, AUTH_PUBLIC, 0},
    {"GET", "/hpp/payments/{page_id}/qr", hpp_page_qr, AUTH_PUBLIC, 0},
    {"GET", "/hpp/distributions/{page_id}", hpp_page_distribution, AUTH_PUBLIC, 0},
    {"GET", "/hpp/v1/page.js", static_get, AUTH_PUBLIC, 0},
    {"GET", "/hpp/v1/page.css", static_get, AUTH_PUBLIC, 0},
    {"GET", "/hpp/shopper/v1/{page_id}", hpp_shopper_state, AUTH_PUBLIC, 0},
    {"POST", "/hpp/shopper/v1/{page_id}/open", hpp_shopper_open, AUTH_PUBLIC, 0},
    {"POST", "/hpp/shopper/v1/{page_id}/identify", hpp_shopper_identify, AUTH_PUBLIC, 0},
    {"POST", "/hpp/shopper/v1/{page_id}/authorize", hpp_shopper_authorize, AUTH_PUBLIC, 0},
    {"POST", "/hpp/shopper/v1/{page_id}/back", hpp_shopper_back, AUTH_PUBLIC, 0},
    {"POST", "/hpp/shopper/v1/{page_id}/cancel", hpp_shopper_cancel, AUTH_PUBLIC, 0},

    /* The browser's stop on the way from create-order to the merchant's confirmation page */
    {"GET", "/kp/redirect/v1/{order_id}", payments_order_redirect, AUTH_PUBLIC, 0},

    /* Kasse control API */
    {"GET", "/kasse/v1/health", control_health, AUTH_PUBLIC, 0},
    {"GET", "/kasse/v1/logs/{correlation_id}", control_read_log, AUTH_MERCHANT, 0},
    {"GET", "/kasse/v1/callbacks", control_list_callbacks, AUTH_MERCHANT, 0},
    {"GET", "/kasse/v1/messages", control_list_messages, AUTH_MERCHANT, 0},
    {"GET", "/kasse/v1/orders", control_list_orders, AUTH_MERCHANT, 0},
    {"GET", "/kasse/v1/orders/{order_id}/timeline", control_order_timeline, AUTH_MERCHANT, 0},
    {"POST", "/kasse/v1/callbacks/{event_id}/resend", control_resend_callback, AUTH_MERCHANT, 0},
    {"GET", "/kasse/v1/logs", control_list_logs, AUTH_MERCHANT, 0},
    {"GET", "/kasse/v1/sessions", control_list_sessions, AUTH_MERCHANT, 0},
    {"GET", "/kasse/v1/sessions/{session_id}", control_read_session, AUTH_MERCHANT, 0},
    {"GET", "/kasse/v1/hpp-sessions", control_list_hpp_sessions, AUTH_MERCHANT, 0},
    {"POST", "/kasse/v1/sessions/{session_id}/authorize", control_authorize_session,
     AUTH_MERCHANT, 0},
    {"GET", "/kasse/v1/clock", control_read_clock, AUTH_MERCHANT, ROUTE_TEST_CLOCK},
    {"POST", "/kasse/v1/clock", control_advance_clock, AUTH_MERCHANT, ROUTE_TEST_CLOCK},

    /* The shopper's widget (Bearer client_token) */
    {"GET", "/kp/shopper/v1/session", shopper_read_session, AUTH_SHOPPER, 0},
    {"POST", "/kp/shopper/v1/load", shopper_load, AUTH_SHOPPER, 0},
    {"POST", "/kp/shopper/v1/identify", shopper_identify, AUTH_SHOPPER, 0},
    {"POST", "/kp/shopper/v1/authorize", shopper_authorize, AUTH_SHOPPER, 0},

    /* Embedded files: the Klarna.Payments SDK, the widget, payment method badges */
    {"GET", "/kp/lib/v1/api.js", static_get, AUTH_PUBLIC, 0},
    {"GET", "/kp/widget/v1/{file}", static_get, AUTH_PUBLIC, 0},
    {"GET", "/kasse/assets/{kind}/{file}", static_get, AUTH_PUBLIC, 0},

    /* The start page, the merchant portal and the demo shop (docs/portal.md). Every merchant
     * route above is also served under /portal/api with the portal's sign-in (router.c). */
    {"GET", "/", portal_start, AUTH_PUBLIC, 0},
    {"GET", "/kasse/start/{file}", static_get, AUTH_PUBLIC, 0},
    {"GET", "/portal", portal_folder_redirect, AUTH_PUBLIC, 0},
    {"GET", "/portal/", static_get, AUTH_PUBLIC, 0},
    {"GET", "/portal/{file}", static_get, AUTH_PUBLIC, 0},
    {"POST", "/portal/api/session", portal_sign_in, AUTH_PUBLIC, 0},
    {"GET", "/portal/api/session", portal_session, AUTH_PORTAL, 0},
    {"DELETE", "/portal/api/session", portal_sign_out, AUTH_PORTAL, 0},
    {"GET", "/demo", portal_folder_redirect, AUTH_PUBLIC, 0},
    {"GET", "/demo/", static_get, AUTH_PUBLIC, 0},
    {"GET", "/demo/{file}", static_get, AUTH_PUBLIC, 0},
    {"GET", "/demo/api/catalog", demo_catalog, AUTH_PORTAL, 0},
    {"POST", "/demo/api/checkout", demo_checkout, AUTH_PORTAL, 0},
    {"POST", "/demo/api/orders", demo_order, AUTH_PORTAL, 0},
    {"POST", "/demo/api/hpp", demo_hpp, AUTH_PORTAL, 0},

    {0},
};
