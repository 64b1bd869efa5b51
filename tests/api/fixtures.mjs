// Request bodies from Klarna's documentation and builders for valid carts.
import assert from 'node:assert/strict';
import { assertJsonOk, assertCorrelation, assertError, UUID_RE } from './harness.mjs';

export const clone = (o) => JSON.parse(JSON.stringify(o));

// Klarna Payments docs, step 1 "Initiate a payment": one-time purchase, SE/SEK, 25 % VAT, discount.
export const SE_EXAMPLE = Object.freeze({
  acquiring_channel: 'ECOMMERCE',
  intent: 'buy',
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'en-SE',
  order_amount: 9500,
  order_tax_amount: 1900,
  order_lines: [{
    type: 'physical',
    reference: '19-402',
    name: 'Battery Power Pack',
    quantity: 1,
    unit_price: 10000,
    tax_rate: 2500,
    total_amount: 9500,
    total_discount_amount: 500,
    total_tax_amount: 1900,
    image_url: 'https://www.exampleobjects.com/logo.png',
    product_url: 'https://www.estore.com/products/f2a8d7e34',
  }],
  merchant_urls: { authorization: 'https://example-url.com/authorization' },
});

// The same docs page, recurring purchase: a subscription line with intent tokenize / buy_and_tokenize.
export function subscriptionExample(intent) {
  return {
    acquiring_channel: 'ECOMMERCE',
    intent,
    purchase_country: 'SE',
    purchase_currency: 'SEK',
    locale: 'en-SE',
    order_amount: 9500,
    order_tax_amount: 1900,
    order_lines: [{
      type: 'digital',
      reference: '19-402',
      name: 'Streaming subscription',
      quantity: 1,
      unit_price: 10000,
      tax_rate: 2500,
      total_amount: 9500,
      total_discount_amount: 500,
      total_tax_amount: 1900,
      subscription: { name: 'Streaming subscription', interval: 'MONTH', interval_count: 1 },
    }],
    merchant_urls: { authorization: 'https://example-url.com/authorization' },
  };
}

// Klarna "Tax handling" docs, US model: tax in a separate sales_tax line; order_amount 21000 =
// 20000 + 1000, order_tax_amount = the sales tax line's total.
export const US_EXAMPLE = Object.freeze({
  purchase_country: 'US',
  purchase_currency: 'USD',
  locale: 'en-US',
  order_amount: 21000,
  order_tax_amount: 1000,
  order_lines: [
    { type: 'physical', reference: '19-402-USA', name: 'Red T-Shirt', quantity: 2,
      unit_price: 10000, tax_rate: 0, total_amount: 20000, total_discount_amount: 0, total_tax_amount: 0 },
    { type: 'sales_tax', name: 'Tax', quantity: 1, unit_price: 1000, tax_rate: 0,
      total_amount: 1000, total_discount_amount: 0, total_tax_amount: 0 },
  ],
});

// Klarna "Tax handling" docs, global model worked example (20 % VAT), accepted.
export const GB_TAX_EXAMPLE = Object.freeze({
  purchase_country: 'GB',
  purchase_currency: 'GBP',
  locale: 'en-GB',
  order_amount: 62400,
  order_tax_amount: 10400,
  order_lines: [
    { name: 'Item one', quantity: 1, unit_price: 59500, total_amount: 59500, tax_rate: 2000, total_tax_amount: 9917 },
    { name: 'Item two', quantity: 1, unit_price: 2900, total_amount: 2900, tax_rate: 2000, total_tax_amount: 483 },
  ],
});

// Market table, contract section 8: country → [currency, locales].
export const MARKETS = {
  AU: ['AUD', ['en-AU']],
  AT: ['EUR', ['de-AT', 'en-AT']],
  BE: ['EUR', ['nl-BE', 'fr-BE', 'en-BE']],
  CA: ['CAD', ['en-CA', 'fr-CA']],
  CZ: ['CZK', ['cs-CZ', 'en-CZ']],
  DK: ['DKK', ['da-DK', 'en-DK']],
  FI: ['EUR', ['fi-FI', 'sv-FI', 'en-FI']],
  FR: ['EUR', ['fr-FR', 'en-FR']],
  DE: ['EUR', ['de-DE', 'en-DE']],
  GR: ['EUR', ['el-GR', 'en-GR']],
  HU: ['HUF', ['hu-HU', 'en-HU']],
  IE: ['EUR', ['en-IE']],
  IT: ['EUR', ['it-IT', 'en-IT']],
  MX: ['MXN', ['en-MX', 'es-MX']],
  NL: ['EUR', ['nl-NL', 'en-NL']],
  NZ: ['NZD', ['en-NZ']],
  NO: ['NOK', ['nb-NO', 'en-NO']],
  PL: ['PLN', ['pl-PL', 'en-PL']],
  PT: ['EUR', ['pt-PT', 'en-PT']],
  RO: ['RON', ['ro-RO', 'en-RO']],
  SK: ['EUR', ['sk-SK', 'en-SK']],
  ES: ['EUR', ['es-ES', 'en-ES']],
  SE: ['SEK', ['sv-SE', 'en-SE']],
  CH: ['CHF', ['de-CH', 'fr-CH', 'it-CH', 'en-CH']],
  GB: ['GBP', ['en-GB']],
  US: ['USD', ['en-US', 'es-US']],
};

// Countries where a classic merchant is offered pay_now.
export const PAY_NOW_COUNTRIES = ['SE', 'DE', 'AT', 'NL', 'FI', 'CH', 'BE', 'DK', 'NO', 'GB'];

/** A valid one-line cart (25 % VAT, or no tax in the US) for a market. */
export function cart(country = 'SE', overrides = {}) {
  const [currency, locales] = MARKETS[country];
  const us = country === 'US';
  const body = {
    purchase_country: country,
    purchase_currency: currency,
    locale: locales[0],
    order_amount: 10000,
    order_tax_amount: us ? 0 : 2000,
    order_lines: [{
      type: 'physical', reference: 'SKU-1', name: 'Widget', quantity: 2, unit_price: 5000,
      tax_rate: us ? 0 : 2500, total_amount: 10000, total_discount_amount: 0, total_tax_amount: us ? 0 : 2000,
    }],
  };
  return { ...body, ...overrides };
}

/** A line with tax at `rate`, priced so tax is exact: total = n*(10000+rate), tax = n*rate. */
export function line(total, rate, tax, extra = {}) {
  return { type: 'physical', name: 'Line', quantity: 1, unit_price: total, total_amount: total,
    tax_rate: rate, total_tax_amount: tax, total_discount_amount: 0, ...extra };
}

// ---------- checkout (authorize → order / customer token) ----------

/** The playground's approved e-mail for a market (contract 7.1/7.2); GB uses .uk. */
export function email(country = 'SE', tag = '') {
  const cc = country === 'GB' ? 'uk' : country.toLowerCase();
  return `customer${tag ? '+' + tag : ''}@email.${cc}`;
}

/** Contract 7.2 approved identity for SE as a billing address (e-mail replaceable). */
export function seAddress(extra = {}) {
  return { given_name: 'Alice', family_name: 'Test', email: 'customer@email.se',
    street_address: 'Södra Blasieholmshamnen 2', postal_code: '11148', city: 'Stockholm',
    phone: '+46701740615', country: 'SE', ...extra };
}

/** A create_order_request (contract 2.5) for a session body: the cart and market fields only. */
export function orderRequest(sessionBody, overrides = {}) {
  const out = {};
  for (const k of ['purchase_country', 'purchase_currency', 'locale', 'order_amount', 'order_tax_amount',
    'order_lines']) {
    if (sessionBody[k] !== undefined) out[k] = clone(sessionBody[k]);
  }
  return { ...out, ...overrides };
}

/** A customer_token_creation_request (contract 2.7) for a session body. */
export function customerTokenRequest(sessionBody, overrides = {}) {
  return { purchase_country: sessionBody.purchase_country, purchase_currency: sessionBody.purchase_currency,
    locale: sessionBody.locale, description: 'Streaming subscription', intended_use: 'SUBSCRIPTION', ...overrides };
}

// ---------- Order Management (contract 5) ----------

export const OM = '/ordermanagement/v1/orders';
export const DAY_MS = 86400_000;

/** An SE cart of `amount` (divisible by 5) in one line at 25 % VAT: tax = amount / 5. */
export function omCart(amount = 8500, overrides = {}) {
  return cart('SE', { order_amount: amount, order_tax_amount: amount / 5,
    order_lines: [{ type: 'physical', reference: 'SKU-OM', name: 'Widget', quantity: 1, unit_price: amount,
      tax_rate: 2500, total_amount: amount, total_discount_amount: 0, total_tax_amount: amount / 5 }], ...overrides });
}

/**
 * Place an order on server `k` the way a merchant does: create a session, authorize it headlessly
 * (`authorize` is the authorize body: billing_address, shipping_address, ...), create the order
 * (`order` overrides fields of the create_order_request). Resolves to { order_id, fraud_status,
 * session_id, body } or throws with the failing step's reply.
 */
export async function placeOrder(k, { body = omCart(), authorize = {}, order = {}, auth = 'a' } = {}) {
  const s = await k.post('/payments/v1/sessions', body, { auth });
  if (s.status !== 200) throw new Error(`session create → ${s.status}: ${s.text}`);
  const a = await k.post(`/kasse/v1/sessions/${s.json.session_id}/authorize`, authorize, { auth });
  if (a.status !== 200 || !a.json?.approved) throw new Error(`authorize → ${a.status}: ${a.text}`);
  const o = await k.post(`/payments/v1/authorizations/${a.json.authorization_token}/order`,
    orderRequest(body, order), { auth });
  if (o.status !== 200) throw new Error(`create order → ${o.status}: ${o.text}`);
  return { order_id: o.json.order_id, fraud_status: o.json.fraud_status, session_id: s.json.session_id, body };
}

/**
 * The money invariants of an OM order object (contract 5.4):
 * 0 ≤ captured ≤ order_amount; remaining = order_amount − captured while AUTHORIZED or
 * PART_CAPTURED, 0 once CAPTURED (incl. released), CANCELLED, EXPIRED or CLOSED; 0 ≤ refunded ≤
 * captured; per capture 0 ≤ refunded ≤ captured; Σ captures = captured; Σ capture refunds =
 * Σ refunds = refunded; the status agrees with the amounts.
 */
export function orderInvariantErrors(o) {
  const errs = [];
  const chk = (ok, msg) => { if (!ok) errs.push(msg); };
  const ints = ['order_amount', 'original_order_amount', 'captured_amount', 'refunded_amount', 'remaining_authorized_amount'];
  for (const f of ints) chk(Number.isSafeInteger(o[f]), `${f} is not an integer: ${o[f]}`);
  if (errs.length) return errs;
  const caps = o.captures ?? [];
  const refs = o.refunds ?? [];
  chk(o.captured_amount >= 0 && o.captured_amount <= o.order_amount,
    `0 ≤ captured (${o.captured_amount}) ≤ order_amount (${o.order_amount})`);
  const open = o.status === 'AUTHORIZED' || o.status === 'PART_CAPTURED';
  const want = open ? o.order_amount - o.captured_amount : 0;
  chk(o.remaining_authorized_amount === want,
    `remaining_authorized_amount ${o.remaining_authorized_amount} ≠ ${want} (status ${o.status}, order ${o.order_amount}, captured ${o.captured_amount})`);
  chk(o.refunded_amount >= 0 && o.refunded_amount <= o.captured_amount,
    `0 ≤ refunded (${o.refunded_amount}) ≤ captured (${o.captured_amount})`);
  const sumCap = caps.reduce((s, c) => s + c.captured_amount, 0);
  chk(sumCap === o.captured_amount, `Σ captures ${sumCap} ≠ captured_amount ${o.captured_amount}`);
  caps.forEach((c, i) => chk(c.refunded_amount >= 0 && c.refunded_amount <= c.captured_amount,
    `captures[${i}]: 0 ≤ refunded (${c.refunded_amount}) ≤ captured (${c.captured_amount})`));
  const sumCapRef = caps.reduce((s, c) => s + c.refunded_amount, 0);
  chk(sumCapRef === o.refunded_amount, `Σ capture refunded ${sumCapRef} ≠ refunded_amount ${o.refunded_amount}`);
  const sumRef = refs.reduce((s, r) => s + r.refunded_amount, 0);
  chk(sumRef === o.refunded_amount, `Σ refunds ${sumRef} ≠ refunded_amount ${o.refunded_amount}`);
  if (o.status === 'AUTHORIZED') chk(o.captured_amount === 0, `AUTHORIZED with captured ${o.captured_amount}`);
  if (o.status === 'PART_CAPTURED') chk(o.captured_amount > 0, 'PART_CAPTURED with nothing captured');
  if (o.status === 'CAPTURED') chk(o.captured_amount > 0, 'CAPTURED with nothing captured');
  if (o.status === 'CANCELLED') chk(o.captured_amount === 0, `CANCELLED with captured ${o.captured_amount}`);
  return errs;
}

/**
 * Klarna's answer to an OM body missing a required field (absent or null; recorded playground
 * traffic, contract 12): 422 UNPROCESSABLE_ENTITY "'<path>' must not be null".
 */
export function assertMissingField(res, path) {
  return assertError(res, 422, 'UNPROCESSABLE_ENTITY', [`'${path}' must not be null`]);
}

/**
 * Order Management helpers bound to a server. Every order placed through `place` is remembered;
 * `checkTouched()` (an afterEach hook) re-reads each one and asserts the invariants, so every
 * test ends with its orders consistent.
 */
export function omClient(k) {
  const touched = new Map(); // order_id → auth
  const path = (id, sub = '') => `${OM}/${id}${sub}`;
  const c = {
    path,
    touched,
    async place(opts = {}) {
      const o = await placeOrder(k, opts);
      touched.set(o.order_id, opts.auth ?? 'a');
      return o;
    },
    /** GET the order: 200, success Content-Type, invariants hold. */
    async read(id, auth = 'a') {
      const res = await k.get(path(id), { auth });
      const o = assertJsonOk(res);
      const errs = orderInvariantErrors(o);
      assert.deepEqual(errs, [], `order invariants broken for ${id}:\n  ${errs.join('\n  ')}\n${res.text}`);
      return o;
    },
    async checkTouched() {
      const ids = [...touched];
      touched.clear();
      for (const [id, auth] of ids) await c.read(id, auth);
    },
    capture: (id, body, o = {}) => k.post(path(id, '/captures'), body, o),
    refund: (id, body, o = {}) => k.post(path(id, '/refunds'), body, o),
    /** 201, empty body, Location = --public-url + …/{kind}/{new id}, {Capture|Refund}-Id; returns the id. */
    created(res, id, kind) {
      assert.equal(res.status, 201, `expected 201, got ${res.status}: ${res.text}`);
      assertCorrelation(res);
      assert.equal(res.text, '', '201 has an empty body');
      const hdr = kind === 'captures' ? 'capture-id' : 'refund-id';
      const newId = res.headers[hdr];
      assert.ok(newId, `missing ${hdr} header`);
      if (kind === 'captures') assert.match(newId, UUID_RE, 'Capture-Id is a UUID');
      assert.equal(res.headers.location, `${k.publicUrl}${path(id, `/${kind}/${newId}`)}`, 'Location');
      assert.match(res.headers['transaction-id'] ?? '', UUID_RE, 'Transaction-Id header (every OM mutation, issue 8)');
      return newId;
    },
    async captureOk(id, amount, extra = {}, o = {}) {
      return c.created(await c.capture(id, { captured_amount: amount, ...extra }, o), id, 'captures');
    },
    async refundOk(id, amount, extra = {}, o = {}) {
      return c.created(await c.refund(id, { refunded_amount: amount, ...extra }, o), id, 'refunds');
    },
    advance: async (s) => assertJsonOk(await k.post('/kasse/v1/clock', { advance_seconds: s })).now,
    now: async () => assertJsonOk(await k.post('/kasse/v1/clock', { advance_seconds: 0 })).now,
  };
  return c;
}

// ---------- Hosted Payment Page (contract 4, docs/hpp.md) ----------

export const HPP = '/hpp/v1/sessions';
/** Klarna's playground host: HPP accepts a payment_session_url on any host (docs/hpp.md). */
export const KLARNA_PLAYGROUND = 'https://api.playground.klarna.com';
export const HPP_CREATE_FIELDS = ['distribution_module', 'distribution_url', 'expires_at',
  'manual_identification_check_url', 'qr_code_url', 'redirect_url', 'session_id', 'session_url'];
export const HPP_CUSTOMER_FIELDS = ['date_of_birth', 'family_name', 'given_name',
  'national_identification_number', 'title'];
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The payment_session_url of a KP session id (Klarna's playground host unless `base`). */
export function paymentSessionUrl(id, base = KLARNA_PLAYGROUND) {
  return `${base}/payments/v1/sessions/${id}`;
}

/** GET a path straight from Kasse and keep the body as bytes (images): { status, headers, body }. */
export async function getBytes(k, urlPath, headers = {}) {
  const res = await fetch(`${k.base}${urlPath}`, { headers, redirect: 'manual', signal: AbortSignal.timeout(15000) });
  return { status: res.status, headers: Object.fromEntries(res.headers), body: Buffer.from(await res.arrayBuffer()) };
}

/** The page id (the last path segment of redirect_url). */
export function pageIdOf(redirectUrl) {
  const m = new URL(redirectUrl).pathname.match(/^\/hpp\/payments\/([^/]+)$/);
  assert.ok(m, `redirect_url is not {public}/hpp/payments/{page_id}: ${redirectUrl}`);
  return m[1];
}

/** The shopper's authorize body for the approved SE playground identity, code 123456. */
export function hppAuthorizeBody(overrides = {}) {
  return { payment_method_category: 'klarna', email: 'customer@email.se', phone: '+46701740615',
    otp: '123456', signup_done: false, ...overrides };
}

/**
 * HPP helpers bound to a server: KP session, HPP create/read/disable/distribute (merchant API,
 * Basic auth) and the hosted page's shopper calls (no credentials: the page id is the key).
 */
export function hppClient(k) {
  const shopper = (pageId, sub = '') => `/hpp/shopper/v1/${pageId}${sub}`;
  const h = {
    shopper,
    /** Create a KP session (default SE_EXAMPLE) → its session_id. */
    async kpSession(body = SE_EXAMPLE, auth = 'a') {
      return assertJsonOk(await k.post('/payments/v1/sessions', body, { auth })).session_id;
    },
    /** POST /hpp/v1/sessions; `kp` is a KP session id (its playground URL is sent). */
    create({ kp, body = {}, auth = 'a', headers } = {}) {
      const b = { ...(kp ? { payment_session_url: paymentSessionUrl(kp) } : {}), ...body };
      return k.post(HPP, b, { auth, headers });
    },
    /**
     * Create a KP session (unless `kp` is given) and an HPP session on it; asserts 201.
     * Resolves to the 201 body plus { kp, page_id }.
     */
    async createOk({ kp, kpBody = SE_EXAMPLE, merchant_urls, options, extra = {}, auth = 'a', headers } = {}) {
      const kpId = kp ?? await h.kpSession(kpBody, auth);
      const body = { ...extra };
      if (merchant_urls) body.merchant_urls = merchant_urls;
      if (options) body.options = options;
      const res = await h.create({ kp: kpId, body, auth, headers });
      const s = assertJsonOk(res, 201);
      return { ...s, kp: kpId, page_id: pageIdOf(s.redirect_url) };
    },
    read: (id, auth = 'a') => k.get(`${HPP}/${id}`, { auth }),
    async readOk(id, auth = 'a') { return assertJsonOk(await h.read(id, auth)); },
    disable: (id, auth = 'a', headers) => k.del(`${HPP}/${id}`, { auth, headers }),
    distribute: (id, body, auth = 'a', headers) => k.post(`${HPP}/${id}/distribution`, body, { auth, headers }),
    async messages(id, auth = 'a') {
      const res = await k.get(`/kasse/v1/messages?session_id=${encodeURIComponent(id)}`, { auth });
      const b = assertJsonOk(res);
      assert.ok(Array.isArray(b.messages), `messages: ${res.text}`);
      return b.messages;
    },
    state: (pageId) => k.get(shopper(pageId), { auth: null }),
    open: (pageId) => k.post(shopper(pageId, '/open'), undefined, { auth: null }),
    identify: (pageId, body = { email: 'customer@email.se', phone: '+46701740615' }) =>
      k.post(shopper(pageId, '/identify'), body, { auth: null }),
    authorize: (pageId, body = hppAuthorizeBody()) => k.post(shopper(pageId, '/authorize'), body, { auth: null }),
    back: (pageId) => k.post(shopper(pageId, '/back'), undefined, { auth: null }),
    cancel: (pageId) => k.post(shopper(pageId, '/cancel'), undefined, { auth: null }),
    /** open → identify → authorize with the approved identity; resolves to the outcome body. */
    async pay(pageId, body = hppAuthorizeBody()) {
      assertJsonOk(await h.open(pageId));
      assertJsonOk(await h.identify(pageId, { email: body.email, phone: body.phone }));
      return assertJsonOk(await h.authorize(pageId, body));
    },
    advance: async (s) => assertJsonOk(await k.post('/kasse/v1/clock', { advance_seconds: s })).now,
  };
  return h;
}
