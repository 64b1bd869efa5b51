// Customer tokens: POST /payments/v1/authorizations/{token}/customer-token (contract 2.7) and the
// Customer Token API (contract 3): read, charge (create order), cancel; merchant isolation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertError, assertBadValue, UUID_RE,
} from './harness.mjs';
import { SE_EXAMPLE, subscriptionExample, email, seAddress, orderRequest, customerTokenRequest } from './fixtures.mjs';

let k;
before(async () => { k = await startKasse({ testClock: true }); });
after(async () => { await k?.kill(); });

const SESSIONS = '/payments/v1/sessions';
const TOKENS = '/customer-token/v1/tokens';
const advance = (s) => k.post('/kasse/v1/clock', { advance_seconds: s });
const createSession = async (body, auth = 'a') => assertJsonOk(await k.post(SESSIONS, body, { auth }));
const read = async (id, auth = 'a') => assertJsonOk(await k.get(`${SESSIONS}/${id}`, { auth }));
const createOrder = (token, body, auth = 'a') => k.post(`/payments/v1/authorizations/${token}/order`, body, { auth });
const makeCt = (token, body, auth = 'a') => k.post(`/payments/v1/authorizations/${token}/customer-token`, body, { auth });
const readCt = (id, auth = 'a') => k.get(`${TOKENS}/${id}`, { auth });
const chargeCt = (id, body, auth = 'a', headers) => k.post(`${TOKENS}/${id}/order`, body, { auth, headers });
const setStatus = (id, status, auth = 'a') => k.patch(`${TOKENS}/${id}/status`, { status }, { auth });
const invalidToken = (res) => assertError(res, 404, 'NOT_FOUND', ['Invalid authorization token']);

async function authorized(body, data = {}, auth = 'a') {
  const s = await createSession(body, auth);
  const res = await k.post(`/kasse/v1/sessions/${s.session_id}/authorize`, data, { auth });
  const cb = assertJsonOk(res);
  assert.equal(cb.approved, true, `authorization not approved: ${res.text}`);
  return { session_id: s.session_id, token: cb.authorization_token };
}

/** A tokenize session authorized and turned into a customer token; returns its token_id. */
async function customerToken({ intent = 'tokenize', auth = 'a', billing, ctExtra = {} } = {}) {
  const body = subscriptionExample(intent);
  const { token } = await authorized(body, billing ? { billing_address: billing } : {}, auth);
  const ct = assertJsonOk(await makeCt(token, customerTokenRequest(body, ctExtra), auth));
  return ct.token_id;
}

/** customer_token_order (contract 3.3) for the SE subscription cart. */
function tokenOrder(overrides = {}) {
  const s = subscriptionExample('tokenize');
  return { purchase_currency: s.purchase_currency, locale: s.locale, order_amount: s.order_amount,
    order_tax_amount: s.order_tax_amount, order_lines: s.order_lines, ...overrides };
}

// ---------- creating a customer token ----------

test('create: intent tokenize → 200 {token_id: UUID, payment_method_reference, billing_address, customer}', async () => {
  const body = subscriptionExample('tokenize');
  const billing = seAddress();
  const { token } = await authorized(body, { billing_address: billing });
  const res = await makeCt(token, customerTokenRequest(body));
  const ct = assertJsonOk(res);
  for (const key of ['token_id', 'payment_method_reference', 'billing_address', 'customer']) {
    assert.ok(key in ct, `${key} missing: ${res.text}`);
  }
  assert.match(ct.token_id, UUID_RE);
  assert.equal(typeof ct.payment_method_reference, 'string');
  assert.ok(ct.payment_method_reference.length > 0);
  assert.equal(typeof ct.billing_address, 'object');
  assert.equal(ct.billing_address.email, billing.email);
  assert.equal(ct.billing_address.postal_code, billing.postal_code);
  assert.equal(typeof ct.customer, 'object');
});

test('create: with a confirmation URL the reply carries redirect_url (Klarna\'s recorded shape), {session.id} filled; without one, none', async () => {
  const body = subscriptionExample('tokenize');
  body.merchant_urls = { ...body.merchant_urls, confirmation: 'https://shop.example/thanks?sid={session.id}' };
  const { session_id, token } = await authorized(body);
  const ct = assertJsonOk(await makeCt(token, customerTokenRequest(body)));
  assert.equal(ct.redirect_url, `https://shop.example/thanks?sid=${session_id}`);
  const plain = subscriptionExample('tokenize');
  const p = await authorized(plain);
  assert.equal('redirect_url' in assertJsonOk(await makeCt(p.token, customerTokenRequest(plain))), false);
});

test('create: intended_use is case-insensitive ("subscription", "Subscription") → 200', async () => {
  for (const intended_use of ['subscription', 'Subscription']) {
    const body = subscriptionExample('tokenize');
    const { token } = await authorized(body);
    assertJsonOk(await makeCt(token, customerTokenRequest(body, { intended_use })));
  }
});

test('create: intended_use other than SUBSCRIPTION → 400', async () => {
  const body = subscriptionExample('tokenize');
  const { token } = await authorized(body);
  const res = await makeCt(token, customerTokenRequest(body, { intended_use: 'ONE_OFF' }));
  assert.equal(res.status, 400, res.text);
  assertError(res, 400, res.json?.error_code);
  assertJsonOk(await makeCt(token, customerTokenRequest(body)), 200);
});

test('create: each token-creating intent (tokenize, buy_and_tokenize, buy_and_default_tokenize) → 200', async () => {
  for (const intent of ['tokenize', 'buy_and_tokenize', 'buy_and_default_tokenize']) {
    const body = subscriptionExample(intent);
    const { token } = await authorized(body);
    const ct = assertJsonOk(await makeCt(token, customerTokenRequest(body)));
    assert.match(ct.token_id, UUID_RE, intent);
  }
});

test('create: intent buy → 403 INVALID_OPERATION "Not allowed to create customer tokens for intent buy."', async () => {
  const { token } = await authorized(SE_EXAMPLE);
  assertError(await makeCt(token, customerTokenRequest(SE_EXAMPLE)), 403, 'INVALID_OPERATION',
    ['Not allowed to create customer tokens for intent buy.']);
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE)), 200);
});

test('create: purchase_country / purchase_currency different from the session → 400 Bad value: <field>', async () => {
  const body = subscriptionExample('tokenize');
  const { token } = await authorized(body);
  assertBadValue(await makeCt(token, customerTokenRequest(body, { purchase_country: 'DE', purchase_currency: 'EUR', locale: 'de-DE' })),
    'purchase_country');
  assertBadValue(await makeCt(token, customerTokenRequest(body, { purchase_currency: 'EUR' })), 'purchase_currency');
  assertJsonOk(await makeCt(token, customerTokenRequest(body)));
});

test('create: a request billing_address that differs from the authorized one is not matched → 200 with the authorized consumer\'s address (Klarna, recorded; payments.json: updates ignored)', async () => {
  const body = subscriptionExample('tokenize');
  const billing = seAddress();
  const { token } = await authorized(body, { billing_address: billing });
  const other = { ...billing, street_address: 'Elsewhere 1', postal_code: '12345', email: 'someone.else@example.com' };
  const ct = assertJsonOk(await makeCt(token, customerTokenRequest(body, { billing_address: other, intended_use: 'subscription' })));
  assert.equal(ct.billing_address.street_address, billing.street_address);
  assert.equal(ct.billing_address.postal_code, billing.postal_code);
  assert.equal(ct.billing_address.email, billing.email);
});

test('create: once per authorization — a retried generate → 200 with the same token_id (Klarna, recorded)', async () => {
  const body = subscriptionExample('buy_and_tokenize');
  const { token } = await authorized(body);
  const first = assertJsonOk(await makeCt(token, customerTokenRequest(body)));
  const again = await makeCt(token, customerTokenRequest(body));
  assert.equal(again.status, 200);
  assert.deepEqual(again.json, first);
  assert.equal(assertJsonOk(await readCt(first.token_id)).status, 'ACTIVE');
});

test('create: buy_and_tokenize — the same token places the order and then makes the customer token', async () => {
  const body = subscriptionExample('buy_and_tokenize');
  const { session_id, token } = await authorized(body);
  const o = assertJsonOk(await createOrder(token, orderRequest(body)));
  assert.match(o.order_id, UUID_RE);
  const ct = assertJsonOk(await makeCt(token, customerTokenRequest(body)));
  assert.match(ct.token_id, UUID_RE);
  assert.equal((await read(session_id)).status, 'complete');
});

test('create: buy_and_tokenize — customer token first, then the order with the same token', async () => {
  const body = subscriptionExample('buy_and_tokenize');
  const { session_id, token } = await authorized(body);
  assertJsonOk(await makeCt(token, customerTokenRequest(body)));
  assertJsonOk(await createOrder(token, orderRequest(body)));
  assert.equal((await read(session_id)).status, 'complete');
  assertError(await createOrder(token, orderRequest(body, { merchant_reference1: 'other' })), 403,
    'INVALID_OPERATION', ['Authorization token already consumed']);
});

test('create: intent tokenize — the session becomes complete after the customer token', async () => {
  const body = subscriptionExample('tokenize');
  const { session_id, token } = await authorized(body);
  assert.equal((await read(session_id)).status, 'incomplete');
  assertJsonOk(await makeCt(token, customerTokenRequest(body)));
  assert.equal((await read(session_id)).status, 'complete');
  assertError(await k.post(`/kasse/v1/sessions/${session_id}/authorize`, {}), 404, 'SESSION_COMPLETED',
    ['Session has already been completed']);
});

test('create: unknown, expired, cancelled and other merchant\'s authorization token → 404 "Invalid authorization token"', async () => {
  const body = subscriptionExample('tokenize');
  invalidToken(await makeCt(crypto.randomUUID(), customerTokenRequest(body)));
  const foreign = await authorized(body, {}, 'a');
  invalidToken(await makeCt(foreign.token, customerTokenRequest(body), 'b'));
  assertJsonOk(await makeCt(foreign.token, customerTokenRequest(body), 'a'));
  const cancelled = await authorized(body);
  assert.equal((await k.del(`/payments/v1/authorizations/${cancelled.token}`)).status, 204);
  invalidToken(await makeCt(cancelled.token, customerTokenRequest(body)));
  const expiring = await authorized(body);
  assertJsonOk(await advance(3600));
  invalidToken(await makeCt(expiring.token, customerTokenRequest(body)));
});

// ---------- Customer Token API: read ----------

test('read: GET /customer-token/v1/tokens/{id} → 200 {status: ACTIVE, payment_method_type: INVOICE}', async () => {
  const id = await customerToken();
  const t = assertJsonOk(await readCt(id));
  assert.equal(t.status, 'ACTIVE');
  assert.equal(t.payment_method_type, 'INVOICE');
});

test('read: unknown token id → 404 TOKEN_NOT_FOUND "Customer token not found" (Klarna, recorded)', async () => {
  assertError(await readCt(crypto.randomUUID()), 404, 'TOKEN_NOT_FOUND', ['Customer token not found']);
  assertError(await readCt('not-a-token'), 404, 'TOKEN_NOT_FOUND', ['Customer token not found']);
});

// ---------- Customer Token API: charge ----------

test('charge: POST .../order → 200 {order_id: UUID, fraud_status: ACCEPTED, authorized_payment_method}', async () => {
  const id = await customerToken();
  const res = await chargeCt(id, tokenOrder());
  const o = assertJsonOk(res);
  assert.match(o.order_id, UUID_RE);
  assert.equal(o.fraud_status, 'ACCEPTED');
  assert.equal(typeof o.authorized_payment_method, 'object', res.text);
  assert.equal(o.authorized_payment_method.type, 'invoice');
});

test('charge: a token is reusable — each charge creates a new order', async () => {
  const id = await customerToken({ intent: 'buy_and_tokenize' });
  const o1 = assertJsonOk(await chargeCt(id, tokenOrder()));
  const o2 = assertJsonOk(await chargeCt(id, tokenOrder()));
  assert.notEqual(o1.order_id, o2.order_id);
});

test('charge: minimal body {purchase_currency, order_amount, order_tax_amount, order_lines} → 200', async () => {
  const id = await customerToken();
  const { locale: _l, ...minimal } = tokenOrder();
  assertJsonOk(await chargeCt(id, minimal));
});

test('charge: order_amount 0 (minimum is 1) → 400 BAD_VALUE "Bad value: order_amount"', async () => {
  const id = await customerToken();
  const zero = tokenOrder({ order_amount: 0, order_tax_amount: 0 });
  zero.order_lines = [{ ...zero.order_lines[0], unit_price: 0, total_amount: 0, total_discount_amount: 0, total_tax_amount: 0 }];
  assertBadValue(await chargeCt(id, zero), 'order_amount');
});

test('charge: unknown customer token → 404 TOKEN_NOT_FOUND', async () => {
  assertError(await chargeCt(crypto.randomUUID(), tokenOrder()), 404, 'TOKEN_NOT_FOUND');
});

test('charge: a currency other than the token\'s → 403 UNAVAILABLE_PAYMENT_METHOD', async () => {
  const id = await customerToken();
  // customer_token_order has no purchase_country: the currency alone differs from the token's SEK.
  assertError(await chargeCt(id, tokenOrder({ purchase_currency: 'EUR' })), 403, 'UNAVAILABLE_PAYMENT_METHOD');
  const { locale: _l, ...noLocale } = tokenOrder({ purchase_currency: 'NOK' });
  assertError(await chargeCt(id, noLocale), 403, 'UNAVAILABLE_PAYMENT_METHOD');
  assertJsonOk(await chargeCt(id, tokenOrder()));
});

test('charge: a token made with a +denied e-mail → 403 PAYMENT_METHOD_FAILED', async () => {
  const body = subscriptionExample('tokenize');
  const { token } = await authorized(body);
  const denied = email('SE', 'denied');
  const ct = assertJsonOk(await makeCt(token, customerTokenRequest(body, {
    billing_address: seAddress({ email: denied }) })));
  assert.equal(ct.billing_address?.email, denied, 'the token carries the +denied e-mail');
  assertError(await chargeCt(ct.token_id, tokenOrder()), 403, 'PAYMENT_METHOD_FAILED');
});

// ---------- Customer Token API: cancel ----------

test('cancel: PATCH .../status {"status":"CANCELLED"} → 202; then GET shows CANCELLED and charges → 403 TOKEN_CANCELED', async () => {
  const id = await customerToken();
  assertJsonOk(await chargeCt(id, tokenOrder()));
  const res = await setStatus(id, 'CANCELLED');
  assert.equal(res.status, 202, res.text);
  const t = assertJsonOk(await readCt(id));
  assert.equal(t.status, 'CANCELLED');
  assert.equal(t.payment_method_type, 'INVOICE');
  assertError(await chargeCt(id, tokenOrder()), 403, 'TOKEN_CANCELED');
});

test('cancel: a status other than CANCELLED → 400 BAD_VALUE "Bad value: status" and the token stays ACTIVE', async () => {
  const id = await customerToken();
  for (const status of ['ACTIVE', 'SUSPENDED', 'cancel']) {
    assertBadValue(await setStatus(id, status), 'status');
  }
  assert.equal(assertJsonOk(await readCt(id)).status, 'ACTIVE');
});

test('cancel: unknown customer token → 404 TOKEN_NOT_FOUND "Customer token not found" (Klarna, recorded)', async () => {
  assertError(await setStatus(crypto.randomUUID(), 'CANCELLED'), 404, 'TOKEN_NOT_FOUND', ['Customer token not found']);
  assertError(await setStatus('not-a-token', 'CANCELLED'), 404, 'TOKEN_NOT_FOUND', ['Customer token not found']);
});

// ---------- isolation ----------

test('isolation: merchant B cannot read, charge or cancel merchant A\'s customer token (404s); A\'s token stays ACTIVE', async () => {
  const id = await customerToken({ auth: 'a' });
  assertError(await readCt(id, 'b'), 404, 'TOKEN_NOT_FOUND', ['Customer token not found']);
  assertError(await chargeCt(id, tokenOrder(), 'b'), 404, 'TOKEN_NOT_FOUND');
  assertError(await setStatus(id, 'CANCELLED', 'b'), 404, 'TOKEN_NOT_FOUND', ['Customer token not found']);
  assert.equal(assertJsonOk(await readCt(id, 'a')).status, 'ACTIVE');
  assertJsonOk(await chargeCt(id, tokenOrder(), 'a'));
});

test('auth: the Customer Token API requires merchant Basic auth → 401', async () => {
  const id = await customerToken();
  assertError(await readCt(id, null), 401, 'UNAUTHORIZED', []);
  assertError(await chargeCt(id, tokenOrder(), null), 401, 'UNAUTHORIZED', []);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
