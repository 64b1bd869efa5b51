// Create order (POST /payments/v1/authorizations/{token}/order, contract 2.5), the confirmation
// redirect (GET /kp/redirect/v1/{order_id}), cancel authorization (DELETE, 2.6) and isolation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertError, assertBadValue, assertNoContent, assertCorrelation, UUID_RE,
} from './harness.mjs';
import { SE_EXAMPLE, US_EXAMPLE, cart, line, email, seAddress, orderRequest, clone } from './fixtures.mjs';

let k;
before(async () => { k = await startKasse({ testClock: true }); });
after(async () => { await k?.kill(); });

const SESSIONS = '/payments/v1/sessions';
const advance = (s) => k.post('/kasse/v1/clock', { advance_seconds: s });
const createSession = async (body = SE_EXAMPLE, auth = 'a') => assertJsonOk(await k.post(SESSIONS, body, { auth }));
const read = async (id, auth = 'a') => assertJsonOk(await k.get(`${SESSIONS}/${id}`, { auth }));
const createOrder = (token, body, auth = 'a') => k.post(`/payments/v1/authorizations/${token}/order`, body, { auth });
const cancel = (token, auth = 'a') => k.del(`/payments/v1/authorizations/${token}`, { auth });
const invalidToken = (res) => assertError(res, 404, 'NOT_FOUND', ['Invalid authorization token']);
const consumed = (res) => assertError(res, 403, 'INVALID_OPERATION', ['Authorization token already consumed']);

/** Create a session and approve it headlessly; returns { session_id, token }. */
async function authorized(body = SE_EXAMPLE, data = {}, auth = 'a') {
  const s = await createSession(body, auth);
  const res = await k.post(`/kasse/v1/sessions/${s.session_id}/authorize`, data, { auth });
  const cb = assertJsonOk(res);
  assert.equal(cb.approved, true, `authorization not approved: ${res.text}`);
  return { session_id: s.session_id, token: cb.authorization_token };
}

/** "Not matching fields: [a, b]" → the sorted list of paths. */
function notMatching(res) {
  assertError(res, 409, 'BAD_VALUE');
  assert.equal(res.json.error_messages.length, 1, res.text);
  const m = res.json.error_messages[0].match(/^Not matching fields: \[(.*)\]$/);
  assert.ok(m, `message format: ${res.json.error_messages[0]}`);
  return m[1].split(/,\s*/).sort();
}

// ---------- success ----------

test('order: 200 {order_id: UUID, fraud_status: ACCEPTED, authorized_payment_method {type: invoice, number_of_days: 30}}; no redirect_url without a confirmation URL', async () => {
  const { token } = await authorized();
  const res = await createOrder(token, orderRequest(SE_EXAMPLE));
  const o = assertJsonOk(res);
  assert.deepEqual(Object.keys(o).sort(), ['authorized_payment_method', 'fraud_status', 'order_id'], res.text);
  assert.match(o.order_id, UUID_RE);
  assert.equal(o.fraud_status, 'ACCEPTED');
  assert.deepEqual(o.authorized_payment_method, { type: 'invoice', number_of_days: 30 });
});

test('order: each order gets its own order_id', async () => {
  const a = await authorized();
  const b = await authorized();
  const oa = assertJsonOk(await createOrder(a.token, orderRequest(SE_EXAMPLE)));
  const ob = assertJsonOk(await createOrder(b.token, orderRequest(SE_EXAMPLE)));
  assert.notEqual(oa.order_id, ob.order_id);
});

test('order: the session becomes status "complete" and no longer shows an authorization_token', async () => {
  const { session_id, token } = await authorized();
  assert.equal((await read(session_id)).authorization_token, token);
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE)));
  const r = await read(session_id);
  assert.equal(r.status, 'complete');
  assert.equal('authorization_token' in r, false, `consumed token still shown: ${r.authorization_token}`);
});

test('order: a completed session can no longer be updated → 404 SESSION_COMPLETED', async () => {
  const { session_id, token } = await authorized();
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE)));
  assertError(await k.post(`${SESSIONS}/${session_id}`, { merchant_reference1: 'late' }), 404, 'SESSION_COMPLETED',
    ['Session has already been completed']);
});

test('order: +pend-accept-NN / +pend-reject-NN shopper → fraud_status PENDING', async () => {
  for (const tag of ['pend-accept-05', 'pend-reject-05']) {
    const billing = { email: email('US', tag) };
    const { token } = await authorized(US_EXAMPLE, { billing_address: billing });
    const o = assertJsonOk(await createOrder(token, orderRequest(US_EXAMPLE)));
    assert.equal(o.fraud_status, 'PENDING', tag);
    assert.equal(o.authorized_payment_method?.type, 'invoice');
  }
});

test('order: auto_capture true or false is accepted → 200', async () => {
  for (const auto_capture of [true, false]) {
    const { token } = await authorized();
    assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE, { auto_capture })));
  }
});

test('order: auto_capture not a boolean → 400 "Bad value: auto_capture" and the token stays usable', async () => {
  const { token } = await authorized();
  for (const auto_capture of ['true', 1, null]) {
    assertBadValue(await createOrder(token, orderRequest(SE_EXAMPLE, { auto_capture })), 'auto_capture');
  }
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE)));
});

test('order: optional create_order_request fields (references, merchant_data, customer, locale) are accepted → 200', async () => {
  const { token } = await authorized();
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE, {
    merchant_reference1: 'order-42', merchant_reference2: 'ref-2', merchant_data: '{"k":1}',
  })));
});

// ---------- redirect_url ----------

test('redirect_url: present when the session has merchant_urls.confirmation; it is Kasse\'s /kp/redirect/v1/{order_id} on --public-url', async () => {
  const body = { ...clone(SE_EXAMPLE), merchant_urls: { confirmation: 'https://shop.example/thanks', authorization: 'https://shop.example/a' } };
  const { token } = await authorized(body);
  const o = assertJsonOk(await createOrder(token, orderRequest(body)));
  assert.equal(o.redirect_url, `${k.publicUrl}/kp/redirect/v1/${o.order_id}`);
});

test('redirect: GET /kp/redirect/v1/{order_id} without auth → 302, Location = confirmation with {session.id} and {order.id} substituted', async () => {
  const body = { ...clone(SE_EXAMPLE),
    merchant_urls: { confirmation: 'https://shop.example/done?sid={session.id}&oid={order.id}', authorization: 'https://shop.example/a' } };
  const { session_id, token } = await authorized(body);
  const o = assertJsonOk(await createOrder(token, orderRequest(body)));
  const path = new URL(o.redirect_url).pathname;
  const res = await k.get(path, { auth: null });
  assert.equal(res.status, 302, res.text);
  assert.equal(res.headers.location, `https://shop.example/done?sid=${session_id}&oid=${o.order_id}`);
  assertCorrelation(res);
});

test('redirect_url: a confirmation URL given only in the create-order request is used', async () => {
  const { session_id, token } = await authorized();
  const o = assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE, {
    merchant_urls: { confirmation: 'https://shop.example/o/{order.id}/s/{session.id}' } })));
  assert.equal(o.redirect_url, `${k.publicUrl}/kp/redirect/v1/${o.order_id}`);
  const res = await k.get(new URL(o.redirect_url).pathname, { auth: null });
  assert.equal(res.status, 302, res.text);
  assert.equal(res.headers.location, `https://shop.example/o/${o.order_id}/s/${session_id}`);
});

test('redirect: unknown order id → 404', async () => {
  const res = await k.get(`/kp/redirect/v1/${crypto.randomUUID()}`, { auth: null });
  assert.equal(res.status, 404, res.text);
});

// ---------- cart validation (same rules as session create) ----------

test('validation: a cart that breaks the session-create rules → 400 BAD_VALUE with the path; the token stays usable', async () => {
  const { token } = await authorized();
  const base = orderRequest(SE_EXAMPLE);
  assertBadValue(await createOrder(token, { ...base, order_amount: 9501 }), 'order_amount');
  assertBadValue(await createOrder(token, { ...base, order_tax_amount: 1000 }), 'order_tax_amount');
  assertBadValue(await createOrder(token, { ...base, purchase_currency: 'EUR' }), 'purchase_currency');
  const badLine = clone(base);
  badLine.order_lines[0].total_amount = 9400;
  badLine.order_amount = 9400;
  assertBadValue(await createOrder(token, badLine), 'order_lines[0].total_amount');
  assertBadValue(await createOrder(token, { ...base, order_lines: [] }), 'order_lines');
  assertJsonOk(await createOrder(token, base));
});

test('validation: required fields of create_order_request missing → 400 Bad value: <field>', async () => {
  const { token } = await authorized();
  for (const field of ['purchase_country', 'purchase_currency', 'order_amount', 'order_lines']) {
    const body = orderRequest(SE_EXAMPLE);
    delete body[field];
    assertBadValue(await createOrder(token, body), field);
  }
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE)));
});

// ---------- matching against the authorized snapshot ----------

test('matching: a different billing_address.postal_code → 409 BAD_VALUE "Not matching fields: [billing_address.postal_code]"', async () => {
  const billing = seAddress();
  const { token } = await authorized(SE_EXAMPLE, { billing_address: billing, shipping_address: billing });
  const res = await createOrder(token, orderRequest(SE_EXAMPLE, {
    billing_address: { ...billing, postal_code: '11460' }, shipping_address: billing }));
  assert.deepEqual(notMatching(res), ['billing_address.postal_code']);
  assert.equal(res.json.error_messages[0], 'Not matching fields: [billing_address.postal_code]');
});

test('matching: every mismatching path is listed (billing and shipping)', async () => {
  const billing = seAddress();
  const shipping = seAddress({ street_address: 'Karlaplan 3', postal_code: '11460' });
  const { token } = await authorized(SE_EXAMPLE, { billing_address: billing, shipping_address: shipping });
  const res = await createOrder(token, orderRequest(SE_EXAMPLE, {
    billing_address: { ...billing, city: 'Göteborg', given_name: 'Bob' },
    shipping_address: { ...shipping, street_address: 'Drottninggatan 1' },
  }));
  assert.deepEqual(notMatching(res), ['billing_address.city', 'billing_address.given_name', 'shipping_address.street_address']);
});

test('matching: a different order line → 409 "Not matching fields: [order_lines[0].<field>]"', async () => {
  const { token } = await authorized();
  const body = orderRequest(SE_EXAMPLE);
  body.order_lines[0].name = 'Battery Power Pack XL';
  body.order_lines[0].reference = '19-403';
  assert.deepEqual(notMatching(await createOrder(token, body)), ['order_lines[0].name', 'order_lines[0].reference']);
});

test('matching: a different number of lines → 409 "Not matching fields: [Incorrect number of items in the cart. Expected: 1, Actual: 2]"', async () => {
  const { token } = await authorized(cart('SE'));
  const two = cart('SE', { order_amount: 12500, order_tax_amount: 2500 });
  two.order_lines.push(line(2500, 2500, 500));
  const res = await createOrder(token, orderRequest(two));
  assertError(res, 409, 'BAD_VALUE', ['Not matching fields: [Incorrect number of items in the cart. Expected: 1, Actual: 2]']);
});

test('matching: a mismatch consumes nothing — the same token then places the matching order', async () => {
  const billing = seAddress();
  const { token } = await authorized(SE_EXAMPLE, { billing_address: billing });
  notMatching(await createOrder(token, orderRequest(SE_EXAMPLE, { billing_address: { ...billing, postal_code: '11460' } })));
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE, { billing_address: billing })));
});

test('matching: a request without addresses matches the authorized addresses → 200', async () => {
  const { token } = await authorized(SE_EXAMPLE, { billing_address: seAddress() });
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE)));
});

test('matching: an authorization without addresses matches any addresses in the request → 200', async () => {
  const { token } = await authorized();
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE, {
    billing_address: seAddress(), shipping_address: seAddress({ postal_code: '11460' }) })));
});

test('matching: the shipping address defaults to the authorized billing address (a different one → 409 shipping_address.<f>)', async () => {
  const billing = seAddress();
  const { token } = await authorized(SE_EXAMPLE, { billing_address: billing });
  const res = await createOrder(token, orderRequest(SE_EXAMPLE, {
    billing_address: billing, shipping_address: { ...billing, city: 'Uppsala' } }));
  assert.deepEqual(notMatching(res), ['shipping_address.city']);
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE, { billing_address: billing, shipping_address: billing })));
});

// ---------- token states ----------

test('token: a retried create-order (same token, same body) → 200 with the same order_id (Klarna, recorded); one order exists', async () => {
  const { token } = await authorized();
  const first = assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE)));
  const again = await createOrder(token, orderRequest(SE_EXAMPLE));
  assert.equal(again.status, 200);
  assert.deepEqual(again.json, first);
  const list = assertJsonOk(await k.get('/kasse/v1/orders?limit=100'));
  assert.equal(list.orders.filter((o) => o.order_id === first.order_id).length, 1);
});

test('token: consumed, another body → 403 INVALID_OPERATION "Authorization token already consumed"', async () => {
  const { token } = await authorized();
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE)));
  consumed(await createOrder(token, orderRequest(SE_EXAMPLE, { merchant_reference1: 'other' })));
});

test('token: usable at 59:59 on Kasse\'s clock; 404 "Invalid authorization token" once 3600 s have passed', async () => {
  const early = await authorized();
  const late = await authorized();
  assertJsonOk(await advance(3599));
  assertJsonOk(await createOrder(early.token, orderRequest(SE_EXAMPLE)));
  assertJsonOk(await advance(1));
  invalidToken(await createOrder(late.token, orderRequest(SE_EXAMPLE)));
  invalidToken(await cancel(late.token));
});

test('token: unknown or non-UUID token → 404 NOT_FOUND "Invalid authorization token"', async () => {
  invalidToken(await createOrder(crypto.randomUUID(), orderRequest(SE_EXAMPLE)));
  invalidToken(await createOrder('not-a-token', orderRequest(SE_EXAMPLE)));
});

test('token: create order requires merchant Basic auth → 401', async () => {
  const { token } = await authorized();
  assertError(await createOrder(token, orderRequest(SE_EXAMPLE), null), 401, 'UNAUTHORIZED', []);
});

// ---------- cancel authorization ----------

test('cancel: DELETE → 204 no body; again → 404 "Invalid authorization token"; create order with it → 404', async () => {
  const { session_id, token } = await authorized();
  assertNoContent(await cancel(token));
  invalidToken(await cancel(token));
  invalidToken(await createOrder(token, orderRequest(SE_EXAMPLE)));
  const r = await read(session_id);
  assert.equal('authorization_token' in r, false, 'cancelled token not shown');
  assert.equal(r.status, 'incomplete');
});

test('cancel: the session can be authorized again after a cancel and the new token places the order', async () => {
  const { session_id, token } = await authorized();
  assertNoContent(await cancel(token));
  const cb = assertJsonOk(await k.post(`/kasse/v1/sessions/${session_id}/authorize`, {}));
  assertJsonOk(await createOrder(cb.authorization_token, orderRequest(SE_EXAMPLE)));
});

test('cancel: after the order was placed → 404 NOT_FOUND "Authorization cannot be deleted"', async () => {
  const { token } = await authorized();
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE)));
  assertError(await cancel(token), 404, 'NOT_FOUND', ['Authorization cannot be deleted']);
});

test('cancel: unknown token and superseded token → 404 "Invalid authorization token"', async () => {
  invalidToken(await cancel(crypto.randomUUID()));
  const { session_id, token } = await authorized();
  assertJsonOk(await k.post(`/kasse/v1/sessions/${session_id}/authorize`, {}));
  invalidToken(await cancel(token));
});

// ---------- isolation ----------

test('isolation: merchant B using merchant A\'s token → 404 "Invalid authorization token" (order and cancel); A\'s token still works', async () => {
  const { token } = await authorized(SE_EXAMPLE, {}, 'a');
  invalidToken(await createOrder(token, orderRequest(SE_EXAMPLE), 'b'));
  invalidToken(await cancel(token, 'b'));
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE), 'a'));
});

test('isolation: merchant B cannot follow A\'s order into "consumed" — a consumed A token is still 404 for B', async () => {
  const { token } = await authorized(SE_EXAMPLE, {}, 'a');
  assertJsonOk(await createOrder(token, orderRequest(SE_EXAMPLE), 'a'));
  invalidToken(await createOrder(token, orderRequest(SE_EXAMPLE), 'b'));
  invalidToken(await cancel(token, 'b'));
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
