// Order Management, reading (contract 5.1 #1, #11, #12, #18, 5.2): GET order, its fields, ids
// (404 NO_SUCH_ORDER / 400 INVALID_ORDER_ID), merchant isolation on every OM route, and the
// contract self-test of the ordermanagement.json proxy (KASSE_CONTRACT=1).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import {
  startKasse, Kasse, CONTRACT, SPEC_OM, assertJsonOk, assertError, assertCorrelation, assertNoContent, UUID_RE,
  ISO_MS,
} from './harness.mjs';
import {
  SE_EXAMPLE, US_EXAMPLE, OM, DAY_MS, omCart, omClient, seAddress, email, subscriptionExample, customerTokenRequest,
} from './fixtures.mjs';

let k;
let om;
before(async () => { k = await startKasse({ testClock: true }); om = omClient(k); });
after(async () => { await k?.kill(); });
afterEach(async () => { if (!k.stopped) await om.checkTouched(); });

const noSuchOrder = (res, id) => assertError(res, 404, 'NO_SUCH_ORDER', [`Order ${id} cannot be found`]);
/** A 404 error envelope whose error_code matches `code` (a RegExp). */
const notFound = (res, code, what = '') => {
  assertError(res, 404, res.json?.error_code);
  assert.match(res.json.error_code, code, `${what}: ${res.text}`);
};
const ci = (a, b, what) => assert.equal(String(a).toUpperCase(), String(b).toUpperCase(), what);

// ---------- GET order ----------

test('GET order: 200 with every documented field, amounts from the cart, status AUTHORIZED, fraud ACCEPTED', async () => {
  const billing = seAddress();
  const shipping = seAddress({ street_address: 'Karlaplan 3', postal_code: '11460' });
  const { order_id } = await om.place({ body: SE_EXAMPLE, authorize: { billing_address: billing, shipping_address: shipping },
    order: { merchant_reference1: 'order-42', merchant_reference2: 'ref-2', merchant_data: '{"k":1}' } });
  const res = await k.get(om.path(order_id));
  const o = assertJsonOk(res);
  for (const f of ['order_id', 'status', 'fraud_status', 'order_amount', 'original_order_amount', 'captured_amount',
    'refunded_amount', 'remaining_authorized_amount', 'purchase_country', 'purchase_currency', 'locale', 'order_lines',
    'merchant_reference1', 'merchant_reference2', 'klarna_reference', 'billing_address', 'shipping_address',
    'customer', 'created_at', 'expires_at', 'captures', 'refunds', 'initial_payment_method']) {
    assert.ok(f in o, `order has no ${f}: ${res.text}`);
  }
  assert.equal(o.order_id, order_id);
  assert.equal(o.status, 'AUTHORIZED');
  assert.equal(o.fraud_status, 'ACCEPTED');
  assert.equal(o.order_amount, 9500);
  assert.equal(o.original_order_amount, 9500);
  assert.equal(o.captured_amount, 0);
  assert.equal(o.refunded_amount, 0);
  assert.equal(o.remaining_authorized_amount, 9500);
  ci(o.purchase_country, 'SE', 'purchase_country');
  ci(o.purchase_currency, 'SEK', 'purchase_currency');
  ci(o.locale, 'en-SE', 'locale');
  assert.equal(o.merchant_reference1, 'order-42');
  assert.equal(o.merchant_reference2, 'ref-2');
  assert.equal(o.merchant_data, '{"k":1}');
  assert.equal(typeof o.klarna_reference, 'string');
  assert.ok(o.klarna_reference.length > 0, 'klarna_reference is not empty');
  assert.deepEqual(o.captures, []);
  assert.deepEqual(o.refunds, []);
  assert.ok(!('shipping_info' in o), `an empty shipping_info is omitted, as Klarna does: ${res.text}`);
  assert.deepEqual(o.initial_payment_method, { type: 'INVOICE', description: 'Pay later' });
  assert.equal(typeof o.customer, 'object');
  assert.equal(o.order_lines.length, 1);
  const want = SE_EXAMPLE.order_lines[0];
  for (const f of ['type', 'reference', 'name', 'quantity', 'unit_price', 'tax_rate', 'total_amount',
    'total_discount_amount', 'total_tax_amount', 'image_url', 'product_url']) {
    assert.deepEqual(o.order_lines[0][f], want[f], `order_lines[0].${f}`);
  }
  for (const [f, v] of Object.entries(billing)) assert.equal(o.billing_address[f], v, `billing_address.${f}`);
  for (const [f, v] of Object.entries(shipping)) assert.equal(o.shipping_address[f], v, `shipping_address.${f}`);
});

test('GET order: only the fields ordermanagement.json gives MerchantOrderDto / Capture / Refund (no send_outs, due_date_extended_days or other bookkeeping), after every kind of mutation', async () => {
  const spec = JSON.parse(fs.readFileSync(SPEC_OM, 'utf8')).components.schemas;
  const allowed = (name) => new Set(Object.keys(spec[name].properties));
  const [orderKeys, captureKeys, refundKeys] = ['MerchantOrderDto', 'Capture', 'Refund'].map(allowed);
  const { order_id } = await om.place({ body: SE_EXAMPLE });
  const capture_id = await om.captureOk(order_id, 5000, { shipping_info: [{ shipping_company: 'DHL', tracking_number: 'T1' }] });
  assertNoContent(await k.post(om.path(order_id, `/captures/${capture_id}/trigger-send-out`)));
  assertNoContent(await k.patch(om.path(order_id, `/captures/${capture_id}/extend-due-date`), { number_of_days: 14 }));
  assertNoContent(await k.post(om.path(order_id, `/captures/${capture_id}/shipping-info`), { shipping_info: [{ shipping_company: 'UPS' }] }));
  assertNoContent(await k.post(om.path(order_id, '/shipping-info'), { shipping_info: [{ shipping_company: 'PostNord' }] }));
  assertNoContent(await k.post(om.path(order_id, '/acknowledge')));
  assertNoContent(await k.post(om.path(order_id, '/extend-authorization-time')));
  await om.refundOk(order_id, 1000, { reference: 'r-1' });
  const o = await om.read(order_id);
  const extra = (obj, keys) => Object.keys(obj).filter((f) => !keys.has(f));
  assert.deepEqual(extra(o, orderKeys), [], 'order fields not in MerchantOrderDto');
  assert.deepEqual(extra(o.refunds[0], refundKeys), [], 'refund fields not in Refund');
  for (const c of [o.captures[0], assertJsonOk(await k.get(om.path(order_id, `/captures/${capture_id}`))),
    assertJsonOk(await k.get(om.path(order_id, '/captures')))[0]]) {
    assert.ok(!('send_outs' in c) && !('due_date_extended_days' in c), `bookkeeping in a capture: ${JSON.stringify(c)}`);
    assert.deepEqual(extra(c, captureKeys), [], 'capture fields not in Capture');
  }
  assert.deepEqual(o.shipping_info, [{ shipping_company: 'PostNord' }], 'a non-empty order shipping_info is shown');
  assert.deepEqual(o.captures[0].shipping_info, [{ shipping_company: 'DHL', tracking_number: 'T1' }, { shipping_company: 'UPS' }]);
});

test('GET order: created_at is Kasse\'s clock at creation; expires_at = created_at + 28 days (ms precision UTC)', async () => {
  const before = Date.parse(await om.advance(5 * 86400)); // the order is created on the moved clock
  const { order_id } = await om.place();
  const after = Date.parse(await om.now());
  const o = await om.read(order_id);
  assert.match(o.created_at, ISO_MS);
  assert.match(o.expires_at, ISO_MS);
  const c = Date.parse(o.created_at);
  assert.ok(c >= before - 1000 && c <= after + 1000, `created_at ${o.created_at} not within the clock ${before}..${after}`);
  assert.equal(Date.parse(o.expires_at) - c, 28 * DAY_MS, `expires_at ${o.expires_at} − created_at ${o.created_at}`);
});

test('GET order: the shipping address defaults to the billing address given at authorize', async () => {
  const billing = seAddress();
  const { order_id } = await om.place({ authorize: { billing_address: billing } });
  const o = await om.read(order_id);
  for (const [f, v] of Object.entries(billing)) {
    assert.equal(o.billing_address[f], v, `billing_address.${f}`);
    assert.equal(o.shipping_address[f], v, `shipping_address.${f}`);
  }
});

test('GET order: each order has its own klarna_reference', async () => {
  const a = await om.read((await om.place()).order_id);
  const b = await om.read((await om.place()).order_id);
  assert.notEqual(a.klarna_reference, b.klarna_reference);
});

test('GET order: the optional Klarna-Integrator header is accepted', async () => {
  const { order_id } = await om.place();
  assertJsonOk(await k.get(om.path(order_id), { headers: { 'klarna-integrator': 'kasse-tests' } }));
});

test('GET order: +pend-accept-NN shopper → fraud_status PENDING, ACCEPTED once NN minutes pass on Kasse\'s clock', async () => {
  const { order_id, fraud_status } = await om.place({ body: US_EXAMPLE,
    authorize: { billing_address: { email: email('US', 'pend-accept-02') } } });
  assert.equal(fraud_status, 'PENDING');
  assert.equal((await om.read(order_id)).fraud_status, 'PENDING');
  await om.advance(60);
  assert.equal((await om.read(order_id)).fraud_status, 'PENDING', 'still pending after 1 of 2 minutes');
  await om.advance(61);
  const o = await om.read(order_id);
  assert.equal(o.fraud_status, 'ACCEPTED');
  assert.equal(o.status, 'AUTHORIZED');
});

test('GET order: +pend-reject-NN shopper → fraud_status REJECTED once NN minutes pass', async () => {
  const { order_id } = await om.place({ body: US_EXAMPLE,
    authorize: { billing_address: { email: email('US', 'pend-reject-01') } } });
  assert.equal((await om.read(order_id)).fraud_status, 'PENDING');
  await om.advance(61);
  assert.equal((await om.read(order_id)).fraud_status, 'REJECTED');
});

test('GET order: an order placed with a customer token (POST /customer-token/v1/tokens/{id}/order) is managed by OM too', async () => {
  const body = subscriptionExample('buy_and_tokenize');
  const s = assertJsonOk(await k.post('/payments/v1/sessions', body));
  const a = assertJsonOk(await k.post(`/kasse/v1/sessions/${s.session_id}/authorize`, {}));
  const ct = assertJsonOk(await k.post(`/payments/v1/authorizations/${a.authorization_token}/customer-token`,
    customerTokenRequest(body)));
  const to = assertJsonOk(await k.post(`/customer-token/v1/tokens/${ct.token_id}/order`, {
    purchase_currency: body.purchase_currency, locale: body.locale, order_amount: body.order_amount,
    order_tax_amount: body.order_tax_amount, order_lines: body.order_lines }));
  om.touched.set(to.order_id, 'a');
  const o = await om.read(to.order_id);
  assert.equal(o.status, 'AUTHORIZED');
  assert.equal(o.order_amount, body.order_amount);
  await om.captureOk(to.order_id, body.order_amount);
  assert.equal((await om.read(to.order_id)).status, 'CAPTURED');
});

// ---------- ids ----------

test('ids: an unknown order id → 404 NO_SUCH_ORDER "Order <id> cannot be found"', async () => {
  const id = crypto.randomUUID();
  noSuchOrder(await k.get(om.path(id)), id);
});

test('ids: a malformed order id (not a UUID) → 400 INVALID_ORDER_ID "Order ID must be a valid UUID."', async () => {
  for (const id of ['not-a-uuid', '12345', 'ZZZZZZZZ-1c2d-4a47-9d2e-6f2b8e2a1c11']) {
    assertError(await k.get(om.path(id)), 400, 'INVALID_ORDER_ID', ['Order ID must be a valid UUID.']);
  }
});

test('ids: UUIDs are case-insensitive on input (RFC 9562 §4) — the order id in upper case reads the same order', async () => {
  const { order_id } = await om.place();
  const o = assertJsonOk(await k.get(om.path(order_id.toUpperCase())));
  assert.equal(o.order_id, order_id, 'the canonical (lower-case) id is returned');
});

test('ids: a session id or authorization token is not an order id → 404 NO_SUCH_ORDER', async () => {
  const { session_id } = await om.place();
  noSuchOrder(await k.get(om.path(session_id)), session_id);
});

test('auth: OM requires merchant Basic auth → 401 without it (wrong secret too)', async () => {
  const { order_id } = await om.place();
  assertError(await k.get(om.path(order_id), { auth: null }), 401, 'UNAUTHORIZED', []);
  assertError(await k.get(om.path(order_id), { auth: { user: 'merchant_a', secret: 'wrong' } }), 401, 'UNAUTHORIZED', []);
  assertError(await k.post(om.path(order_id, '/captures'), { captured_amount: 100 }, { auth: null }), 401, 'UNAUTHORIZED', []);
});

// ---------- captures / refunds read ----------

test('GET /captures of an order without captures → 200 []', async () => {
  const { order_id } = await om.place();
  const res = await k.get(om.path(order_id, '/captures'));
  assert.equal(res.status, 200, res.text);
  assertCorrelation(res);
  assert.equal(res.headers['content-type'], 'application/json;charset=utf-8');
  assert.deepEqual(res.json, []);
});

test('GET /captures/{capture_id} unknown → 404 NO_SUCH_CAPTURE; GET /refunds/{refund_id} unknown → 404 NOT_FOUND', async () => {
  const { order_id } = await om.place();
  assertError(await k.get(om.path(order_id, `/captures/${crypto.randomUUID()}`)), 404, 'NO_SUCH_CAPTURE');
  assertError(await k.get(om.path(order_id, `/refunds/${crypto.randomUUID()}`)), 404, 'NOT_FOUND');
});

test('GET /captures, /captures/{id}, /refunds/{id} of an unknown order → 404 NO_SUCH_ORDER', async () => {
  const id = crypto.randomUUID();
  assertError(await k.get(om.path(id, '/captures')), 404, 'NO_SUCH_ORDER');
  assertError(await k.get(om.path(id, `/captures/${crypto.randomUUID()}`)), 404, 'NO_SUCH_ORDER');
  notFound(await k.get(om.path(id, `/refunds/${crypto.randomUUID()}`)), /^(NO_SUCH_ORDER|NOT_FOUND)$/);
});

test('a capture id read under another order of the same merchant → 404 NO_SUCH_CAPTURE', async () => {
  const a = await om.place();
  const b = await om.place();
  const cid = await om.captureOk(a.order_id, 1000);
  assertError(await k.get(om.path(b.order_id, `/captures/${cid}`)), 404, 'NO_SUCH_CAPTURE');
  const rid = await om.refundOk(a.order_id, 100);
  assertError(await k.get(om.path(b.order_id, `/refunds/${rid}`)), 404, 'NOT_FOUND');
});

// ---------- isolation ----------

test('isolation: merchant B reading merchant A\'s order → 404 NO_SUCH_ORDER "Order <id> cannot be found"', async () => {
  const { order_id } = await om.place({ auth: 'a' });
  noSuchOrder(await k.get(om.path(order_id), { auth: 'b' }), order_id);
  assertError(await k.get(om.path(order_id, '/captures'), { auth: 'b' }), 404, 'NO_SUCH_ORDER');
});

test('isolation: every mutating OM call by merchant B on A\'s order → 404 NO_SUCH_ORDER, and A\'s order is unchanged', async () => {
  const { order_id } = await om.place({ auth: 'a' });
  const cid = await om.captureOk(order_id, 1000);
  const rid = await om.refundOk(order_id, 100);
  const before = await om.read(order_id);
  const b = { auth: 'b' };
  const calls = [
    ['POST', '/captures', { captured_amount: 500 }],
    ['POST', '/refunds', { refunded_amount: 100 }],
    ['POST', '/cancel'],
    ['POST', '/release-remaining-authorization'],
    ['PATCH', '/authorization', { order_amount: 5000 }],
    ['POST', '/extend-authorization-time'],
    ['PATCH', '/customer-details', { shipping_address: seAddress({ city: 'Uppsala' }) }],
    ['PATCH', '/merchant-references', { merchant_reference1: 'stolen' }],
    ['POST', '/shipping-info', { shipping_info: [{ shipping_company: 'DHL', tracking_number: '1' }] }],
    ['POST', '/acknowledge'],
    ['GET', `/captures/${cid}`],
    ['GET', `/refunds/${rid}`],
    ['POST', `/captures/${cid}/shipping-info`, { shipping_info: [{ shipping_company: 'DHL' }] }],
    ['POST', `/captures/${cid}/trigger-send-out`],
    ['GET', `/captures/${cid}/extend-due-date-options`],
    ['PATCH', `/captures/${cid}/extend-due-date`, { number_of_days: 14 }],
  ];
  for (const [m, sub, body] of calls) {
    const res = await k.request(m, om.path(order_id, sub), { ...b, body });
    assert.equal(res.status, 404, `${m} ${sub} by B → ${res.status}: ${res.text}`);
    notFound(res, sub.startsWith('/refunds') ? /^(NO_SUCH_ORDER|NOT_FOUND)$/ : /^NO_SUCH_ORDER$/, `${m} ${sub}`);
  }
  const after = await om.read(order_id);
  assert.deepEqual(after, before, 'A\'s order changed');
});

test('unknown order: every mutating OM call → 404 NO_SUCH_ORDER', async () => {
  const id = crypto.randomUUID();
  const calls = [
    ['POST', '/captures', { captured_amount: 500 }],
    ['POST', '/cancel'],
    ['POST', '/release-remaining-authorization'],
    ['PATCH', '/authorization', { order_amount: 5000 }],
    ['POST', '/extend-authorization-time'],
    ['PATCH', '/customer-details', { shipping_address: seAddress() }],
    ['PATCH', '/merchant-references', { merchant_reference1: 'x' }],
    ['POST', '/shipping-info', { shipping_info: [{ shipping_company: 'DHL' }] }],
    ['POST', '/acknowledge'],
  ];
  for (const [m, sub, body] of calls) {
    const res = await k.request(m, om.path(id, sub), { body });
    assertError(res, 404, 'NO_SUCH_ORDER');
    assert.match(res.json.error_messages[0], new RegExp(`^Order ${id} cannot be found`), `${m} ${sub}`);
  }
  notFound(await k.post(om.path(id, '/refunds'), { refunded_amount: 100 }), /^(NO_SUCH_ORDER|NOT_FOUND)$/, 'POST /refunds');
});

// ---------- methods, persistence ----------

test('methods: a wrong method on an OM path → 405 METHOD_NOT_ALLOWED with an Allow header', async () => {
  const { order_id } = await om.place();
  const allowOf = (res) => (res.headers.allow ?? '').split(',').map((x) => x.trim().toUpperCase()).filter(Boolean);
  for (const [m, sub, allowed] of [['DELETE', '', 'GET'], ['PUT', '/captures', 'POST'], ['GET', '/cancel', 'POST'],
    ['POST', '/authorization', 'PATCH']]) {
    const res = await k.request(m, om.path(order_id, sub), { direct: true });
    assertError(res, 405, 'METHOD_NOT_ALLOWED');
    assert.ok(allowOf(res).includes(allowed), `${m} ${sub}: Allow "${res.headers.allow}" lists ${allowed}`);
  }
});

test('persistence: orders, captures and refunds survive a restart on the same --db, field for field', async () => {
  const k1 = await startKasse({ testClock: true, contract: false });
  const om1 = omClient(k1);
  const { order_id } = await om1.place({ body: omCart(8500) });
  const cid = await om1.captureOk(order_id, 3000, { description: 'part 1' });
  await om1.refundOk(order_id, 500);
  assert.equal((await k1.post(om1.path(order_id, '/shipping-info'), { shipping_info: [{ shipping_company: 'DHL' }] })).status, 204);
  const before = await om1.read(order_id);
  await k1.stopClean();
  const k2 = await startKasse({ testClock: true, contract: false, dir: k1.dir });
  try {
    const om2 = omClient(k2);
    assert.deepEqual(await om2.read(order_id), before);
    assert.equal(assertJsonOk(await k2.get(om2.path(order_id, `/captures/${cid}`))).description, 'part 1');
    await om2.captureOk(order_id, 5500);
    assert.equal((await om2.read(order_id)).captures[1].klarna_reference, `${before.klarna_reference}-2`,
      'the capture sequence continues after the restart');
    await k2.stopClean();
  } finally {
    await k2.kill();
  }
});

// ---------- contract self-test of the ordermanagement.json proxy ----------

test('contract check (ordermanagement.json): a bad order body, an undocumented 418, a non-envelope 400 and a 422 outside its narrow allowance fail; conforming replies pass', { skip: !CONTRACT }, async () => {
  const id = (n) => `${OM}/0b1d5c8e-1c2d-4a47-9d2e-6f2b8e2a1c1${n}`;
  const O = id(0);
  const env = { correlation_id: '0b1d5c8e-1c2d-4a47-9d2e-6f2b8e2a1c11', error_code: 'X', error_messages: ['m'] };
  const upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const send = (status, body, headers = {}) => {
        res.writeHead(status, body === undefined ? headers : { 'content-type': 'application/json', ...headers });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      const u = req.url;
      if (u === id(1)) return send(200, { order_id: 'x', status: 'PAID', captured_amount: '1' });
      if (u === O) return send(200, { order_id: 'x', status: 'AUTHORIZED', captured_amount: 0, created_at: '2026-01-01T00:00:00.000Z' });
      if (u === id(2)) return send(418, env);
      if (u === id(3)) return send(400, { message: 'nope' });
      if (u === id(4)) return send(400, env);
      if (u === `${O}/refunds`) return send(201, undefined, { location: 'http://localhost/x', 'refund-id': 'r' });
      if (u === `${O}/authorization`) return send(204);
      if (u === `${O}/cancel`) return send(404, env);
      const missing = { ...env, error_code: 'UNPROCESSABLE_ENTITY', error_messages: ["'shipping_info' must not be null"] };
      if (u === `${O}/shipping-info`) return send(422, missing);
      if (u === `${O}/acknowledge`) return send(422, missing); // no body to miss a field in
      if (u === `${id(5)}/shipping-info`) return send(422, { ...missing, error_code: 'BAD_VALUE' });
      if (u === `${id(6)}/shipping-info`) return send(422, { ...missing, error_messages: ['Bad value: shipping_info'] });
      return send(500, env);
    });
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  const fake = new Kasse({ dir: null, dbPath: null, port: upstream.address().port, publicUrl: null, proc: null,
    out: { stdout: '', stderr: '' }, exited: Promise.resolve({ code: 0, signal: null }) });
  try {
    await fake.startPrismOm();
    await assert.rejects(fake.get(id(1), { auth: null }), /OpenAPI response violation/);
    await assert.rejects(fake.get(id(2), { auth: null }), /OpenAPI response violation/);
    await assert.rejects(fake.get(id(3), { auth: null }), /OpenAPI response violation/);
    await assert.rejects(fake.post(`${O}/captures`, { captured_amount: 1 }, { auth: null }), /OpenAPI response violation/);
    const ok = await fake.get(O, { auth: null });
    assert.equal(ok.status, 200);
    assert.equal(ok.via, 'prism');
    assert.equal((await fake.get(id(4), { auth: null })).status, 400);
    assert.equal((await fake.post(`${O}/refunds`, { refunded_amount: 1 }, { auth: null })).status, 201);
    assert.equal((await fake.patch(`${O}/authorization`, { order_amount: 1 }, { auth: null })).status, 204);
    assert.equal((await fake.post(`${O}/cancel`, undefined, { auth: null })).status, 404);
    assert.equal((await fake.post(`${O}/shipping-info`, {}, { auth: null })).status, 422);
    await assert.rejects(fake.post(`${O}/acknowledge`, undefined, { auth: null }), /OpenAPI response violation/);
    await assert.rejects(fake.post(`${id(5)}/shipping-info`, {}, { auth: null }), /OpenAPI response violation/);
    await assert.rejects(fake.post(`${id(6)}/shipping-info`, {}, { auth: null }), /OpenAPI response violation/);
  } finally {
    if (fake.prismOm) { fake.prismOm.proc.kill('SIGTERM'); await fake.prismOm.exited; }
    upstream.close();
  }
});

test('contract mode: OM requests go through the ordermanagement.json proxy', { skip: !CONTRACT }, async () => {
  const res = await k.get(om.path(crypto.randomUUID()));
  assert.equal(res.via, 'prism');
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
