// Order Management captures (contract 5.1 #10-#16, 5.3, 5.4 "Capture"): create (201 + Location,
// Capture-Id, Transaction-Id), read, klarna_reference sequence, refusals (403
// CAPTURE_NOT_ALLOWED), amount validation (400 BAD_VALUE), fraud, capture shipping info,
// trigger send-out, extend due date.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertError, assertBadValue, assertNoContent, ISO_MS,
} from './harness.mjs';
import { US_EXAMPLE, omCart, omClient, email, assertMissingField } from './fixtures.mjs';

let k;
let om;
before(async () => { k = await startKasse({ testClock: true }); om = omClient(k); });
after(async () => { await k?.kill(); });
afterEach(async () => { if (!k.stopped) await om.checkTouched(); });

const notAllowed = (res) => assertError(res, 403, 'CAPTURE_NOT_ALLOWED', ['Capture not allowed']);
const LINE = { type: 'physical', reference: 'SKU-OM', name: 'Widget', quantity: 1, unit_price: 3000,
  tax_rate: 2500, total_amount: 3000, total_discount_amount: 0, total_tax_amount: 600 };
const SHIP = { shipping_company: 'DHL', shipping_method: 'Home', tracking_number: '63456415674545679874',
  tracking_uri: 'https://www.dhl.com/track?id=63456415674545679874' };

// ---------- create ----------

test('capture: full amount → 201 empty body, Location …/orders/{id}/captures/{capture_id}, Capture-Id, Transaction-Id; order CAPTURED, remaining 0', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  const res = await om.capture(order_id, { captured_amount: 8500 });
  const cid = om.created(res, order_id, 'captures');
  assert.equal(res.headers['content-type'], undefined, `201 without a body has no Content-Type: ${res.headers['content-type']}`);
  const o = await om.read(order_id);
  assert.equal(o.status, 'CAPTURED');
  assert.equal(o.captured_amount, 8500);
  assert.equal(o.remaining_authorized_amount, 0);
  assert.equal(o.order_amount, 8500);
  assert.deepEqual(o.captures.map((c) => c.capture_id), [cid]);
});

test('capture: partial → PART_CAPTURED with remaining = order − captured; capturing the rest → CAPTURED', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  await om.captureOk(order_id, 3000);
  let o = await om.read(order_id);
  assert.equal(o.status, 'PART_CAPTURED');
  assert.equal(o.captured_amount, 3000);
  assert.equal(o.remaining_authorized_amount, 5500);
  await om.captureOk(order_id, 5500);
  o = await om.read(order_id);
  assert.equal(o.status, 'CAPTURED');
  assert.equal(o.captured_amount, 8500);
  assert.equal(o.remaining_authorized_amount, 0);
});

test('capture: GET Location → 200 the capture (capture_id, klarna_reference = order ref + "-1", amounts, captured_at on Kasse\'s clock, description, reference, order_lines, shipping_info)', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  const clock = Date.parse(await om.advance(3600));
  const res = await om.capture(order_id, { captured_amount: 3000, description: 'Shipped part 1', reference: 'cap-ref-1',
    order_lines: [LINE], shipping_info: [SHIP] });
  const cid = om.created(res, order_id, 'captures');
  const path = new URL(res.headers.location).pathname;
  const c = assertJsonOk(await k.get(path));
  const order = await om.read(order_id);
  assert.equal(c.capture_id, cid);
  assert.equal(c.klarna_reference, `${order.klarna_reference}-1`);
  assert.equal(c.captured_amount, 3000);
  assert.equal(c.refunded_amount, 0);
  assert.equal(c.description, 'Shipped part 1');
  assert.equal(c.reference, 'cap-ref-1');
  assert.match(c.captured_at, ISO_MS);
  const at = Date.parse(c.captured_at);
  assert.ok(at >= clock - 1000 && at <= clock + 10_000, `captured_at ${c.captured_at} vs clock ${new Date(clock).toISOString()}`);
  assert.equal(c.order_lines.length, 1);
  for (const [f, v] of Object.entries(LINE)) assert.deepEqual(c.order_lines[0][f], v, `order_lines[0].${f}`);
  assert.equal(c.shipping_info.length, 1);
  for (const [f, v] of Object.entries(SHIP)) assert.equal(c.shipping_info[0][f], v, `shipping_info[0].${f}`);
  assert.deepEqual(order.captures[0], c, 'the order embeds the same capture');
});

test('capture: enums in another case (order_lines[].type "PHYSICAL", shipping_method "home") are accepted and read back in Klarna\'s spelling', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  const cid = await om.captureOk(order_id, 3000, {
    order_lines: [{ ...LINE, type: 'PHYSICAL' }],
    shipping_info: [{ ...SHIP, shipping_method: 'home' }],
  });
  const cap = assertJsonOk(await k.get(om.path(order_id, `/captures/${cid}`)));
  assert.equal(cap.order_lines[0].type, 'physical');
  assert.equal(cap.shipping_info[0].shipping_method, 'Home');
});

test('capture: klarna_reference runs "-1", "-2", "-3" per order; GET /captures lists them oldest first, equal to order.captures', async () => {
  const { order_id } = await om.place({ body: omCart(9000) });
  const ids = [await om.captureOk(order_id, 1000), await om.captureOk(order_id, 2000), await om.captureOk(order_id, 3000)];
  const o = await om.read(order_id);
  const res = await k.get(om.path(order_id, '/captures'));
  const list = assertJsonOk(res);
  assert.ok(Array.isArray(list));
  assert.deepEqual(list.map((c) => c.capture_id), ids);
  assert.deepEqual(list.map((c) => c.klarna_reference), [1, 2, 3].map((n) => `${o.klarna_reference}-${n}`));
  assert.deepEqual(list.map((c) => c.captured_amount), [1000, 2000, 3000]);
  assert.deepEqual(list, o.captures);
  // Another order's sequence starts again at -1.
  const other = await om.place({ body: omCart(9000) });
  await om.captureOk(other.order_id, 100);
  const o2 = await om.read(other.order_id);
  assert.equal(o2.captures[0].klarna_reference, `${o2.klarna_reference}-1`);
});

test('capture: exactly the remaining amount is allowed; one unit more → 403 CAPTURE_NOT_ALLOWED "Capture not allowed", order unchanged', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  await om.captureOk(order_id, 4000);
  const before = await om.read(order_id);
  notAllowed(await om.capture(order_id, { captured_amount: 4501 }));
  assert.deepEqual(await om.read(order_id), before);
  await om.captureOk(order_id, 4500);
  assert.equal((await om.read(order_id)).status, 'CAPTURED');
});

test('capture: beyond the order amount at once → 403 CAPTURE_NOT_ALLOWED', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  notAllowed(await om.capture(order_id, { captured_amount: 8505 }));
  assert.equal((await om.read(order_id)).captured_amount, 0);
});

test('capture: a fully captured order → 403 CAPTURE_NOT_ALLOWED for any amount', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  await om.captureOk(order_id, 8500);
  notAllowed(await om.capture(order_id, { captured_amount: 1 }));
});

test('capture: a cancelled order → 403 CAPTURE_NOT_ALLOWED', async () => {
  const { order_id } = await om.place();
  assertNoContent(await k.post(om.path(order_id, '/cancel')));
  notAllowed(await om.capture(order_id, { captured_amount: 100 }));
});

test('capture: an expired order (28 days + 1 s on Kasse\'s clock) → 403 CAPTURE_NOT_ALLOWED "Order <id> is expired. Capture not possible." (contract 5.4); at 28 days − 1 s it still works', async () => {
  const a = await om.place({ body: omCart(8500) });
  const b = await om.place({ body: omCart(8500) });
  await om.advance(28 * 86400 - 1);
  await om.captureOk(a.order_id, 1000);
  await om.advance(2);
  for (const id of [a.order_id, b.order_id]) {
    assertError(await om.capture(id, { captured_amount: 1000 }), 403, 'CAPTURE_NOT_ALLOWED',
      [`Order ${id} is expired. Capture not possible.`]);
  }
  assert.equal((await om.read(b.order_id)).status, 'EXPIRED');
});

test('capture: an order placed with auto_capture: true is CAPTURED at creation — one capture of the whole amount ("-1"), refundable', async () => {
  const { order_id } = await om.place({ body: omCart(8500), order: { auto_capture: true } });
  const o = await om.read(order_id);
  assert.equal(o.status, 'CAPTURED');
  assert.equal(o.captured_amount, 8500);
  assert.equal(o.remaining_authorized_amount, 0);
  assert.equal(o.captures.length, 1);
  assert.equal(o.captures[0].captured_amount, 8500);
  assert.equal(o.captures[0].klarna_reference, `${o.klarna_reference}-1`);
  notAllowed(await om.capture(order_id, { captured_amount: 1 }));
  await om.refundOk(order_id, 8500);
});

test('capture: auto_capture: false leaves the order AUTHORIZED', async () => {
  const { order_id } = await om.place({ body: omCart(8500), order: { auto_capture: false } });
  const o = await om.read(order_id);
  assert.equal(o.status, 'AUTHORIZED');
  assert.deepEqual(o.captures, []);
});

// ---------- amount validation ----------

test('captured_amount 0, negative, > 200000000, a string or a real → 400 BAD_VALUE "Bad value: captured_amount" (wrong types and bad values stay 400)', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  for (const v of [0, -1, -8500, 200000001, '500', 10.5]) {
    assertBadValue(await om.capture(order_id, { captured_amount: v }), 'captured_amount');
  }
  assert.equal((await om.read(order_id)).captured_amount, 0, 'nothing was captured');
});

test('capture: captured_amount missing ({} included) or null → 422 UNPROCESSABLE_ENTITY "\'captured_amount\' must not be null", as Klarna answers', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  assertMissingField(await om.capture(order_id, {}), 'captured_amount');
  assertMissingField(await om.capture(order_id, { description: 'no amount' }), 'captured_amount');
  assertMissingField(await om.capture(order_id, { captured_amount: null }), 'captured_amount');
  assert.equal((await om.read(order_id)).captured_amount, 0, 'nothing was captured');
});

test('capture: description or reference over 255 characters, a bad shipping_info or order line → 400 BAD_VALUE with the path; a line missing a required field → 422; nothing captured', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  const c = (extra) => om.capture(order_id, { captured_amount: 100, ...extra });
  assertBadValue(await c({ description: 'x'.repeat(256) }), 'description');
  assertBadValue(await c({ reference: 'x'.repeat(256) }), 'reference');
  assertBadValue(await c({ shipping_info: [{ shipping_company: 'x'.repeat(101) }] }), 'shipping_info[0].shipping_company');
  assertBadValue(await c({ shipping_info: [SHIP, { shipping_method: 'Teleport' }] }), 'shipping_info[1].shipping_method');
  assertBadValue(await c({ order_lines: 'x' }), 'order_lines');
  assertBadValue(await c({ order_lines: [{ name: 'bad quantity', quantity: '1', unit_price: 100, total_amount: 100 }] }), 'order_lines[0].quantity');
  // a required field of an order line that is absent is missing, not bad: 422 with its path
  assertMissingField(await c({ order_lines: [{ name: 'no quantity', unit_price: 100, total_amount: 100 }] }), 'order_lines[0].quantity');
  assert.equal((await om.read(order_id)).captured_amount, 0);
  await om.captureOk(order_id, 100, { description: 'x'.repeat(255), reference: 'y'.repeat(255) });
});

test('captured_amount 200000000 (the maximum) on a smaller order → 403 CAPTURE_NOT_ALLOWED (a valid value, not allowed)', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  notAllowed(await om.capture(order_id, { captured_amount: 200000000 }));
});

test('capture body that is not a JSON object → 400 BAD_REQUEST', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  for (const raw of ['[]', '"x"', '42']) {
    const res = await k.request('POST', om.path(order_id, '/captures'), { raw });
    assertError(res, 400, 'BAD_REQUEST');
  }
});

// ---------- fraud ----------

async function pendingOrder(tag) {
  return om.place({ body: US_EXAMPLE, authorize: { billing_address: { email: email('US', tag) } } });
}

test('fraud: a PENDING order → 403 CAPTURE_NOT_ALLOWED; once ACCEPTED (NN minutes later) the capture succeeds', async () => {
  const { order_id, fraud_status } = await pendingOrder('pend-accept-03');
  assert.equal(fraud_status, 'PENDING');
  assertError(await om.capture(order_id, { captured_amount: 21000 }), 403, 'CAPTURE_NOT_ALLOWED', /./);
  await om.advance(3 * 60 + 1);
  await om.captureOk(order_id, 21000);
  const o = await om.read(order_id);
  assert.equal(o.fraud_status, 'ACCEPTED');
  assert.equal(o.status, 'CAPTURED');
});

test('fraud: a REJECTED order may still be captured within 4 hours of the decision (merchant override)', async () => {
  const { order_id } = await pendingOrder('pend-reject-01');
  await om.advance(61 + 3 * 3600);
  assert.equal((await om.read(order_id)).fraud_status, 'REJECTED');
  await om.captureOk(order_id, 21000);
});

test('fraud: a REJECTED order not captured within 4 hours is CANCELLED; capture → 403 CAPTURE_NOT_ALLOWED', async () => {
  const { order_id } = await pendingOrder('pend-reject-01');
  await om.advance(61 + 4 * 3600 + 1);
  const o = await om.read(order_id);
  assert.equal(o.fraud_status, 'REJECTED');
  assert.equal(o.status, 'CANCELLED');
  assertError(await om.capture(order_id, { captured_amount: 21000 }), 403, 'CAPTURE_NOT_ALLOWED', /./);
});

// ---------- capture shipping info, send-out, due date ----------

test('capture shipping-info: POST {shipping_info:[…]} → 204; the entries are added to the capture', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  const cid = await om.captureOk(order_id, 8500, { shipping_info: [SHIP] });
  const more = [{ shipping_company: 'PostNord', shipping_method: 'PickUpPoint', tracking_number: 'PN1' },
    { shipping_company: 'UPS', tracking_number: '1Z999', tracking_uri: 'https://ups.example/1Z999' }];
  assertNoContent(await k.post(om.path(order_id, `/captures/${cid}/shipping-info`), { shipping_info: more }));
  const c = assertJsonOk(await k.get(om.path(order_id, `/captures/${cid}`)));
  assert.equal(c.shipping_info.length, 3, JSON.stringify(c.shipping_info));
  for (const [i, want] of [SHIP, ...more].entries()) {
    for (const [f, v] of Object.entries(want)) assert.equal(c.shipping_info[i][f], v, `shipping_info[${i}].${f}`);
  }
});

test('capture shipping-info: unknown capture → 404 NO_SUCH_CAPTURE', async () => {
  const { order_id } = await om.place();
  await om.captureOk(order_id, 1000);
  assertError(await k.post(om.path(order_id, `/captures/${crypto.randomUUID()}/shipping-info`),
    { shipping_info: [SHIP] }), 404, 'NO_SUCH_CAPTURE');
});

test('trigger-send-out: POST → 204 no body; unknown capture → 404 NO_SUCH_CAPTURE', async () => {
  const { order_id } = await om.place();
  const cid = await om.captureOk(order_id, 1000);
  assertNoContent(await k.post(om.path(order_id, `/captures/${cid}/trigger-send-out`)));
  assertError(await k.post(om.path(order_id, `/captures/${crypto.randomUUID()}/trigger-send-out`)), 404, 'NO_SUCH_CAPTURE');
});

test('extend-due-date-options: GET → 200 {currency, options:[{amount, number_of_days}]}', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  const cid = await om.captureOk(order_id, 8500);
  const r = assertJsonOk(await k.get(om.path(order_id, `/captures/${cid}/extend-due-date-options`)));
  assert.deepEqual(Object.keys(r).sort(), ['currency', 'options']);
  assert.equal(String(r.currency).toUpperCase(), 'SEK');
  assert.ok(Array.isArray(r.options) && r.options.length > 0, `options: ${JSON.stringify(r.options)}`);
  for (const o of r.options) {
    assert.ok(Number.isSafeInteger(o.amount) && o.amount >= 0, `amount ${o.amount}`);
    assert.ok(Number.isSafeInteger(o.number_of_days) && o.number_of_days > 0, `number_of_days ${o.number_of_days}`);
  }
  assert.equal(new Set(r.options.map((o) => o.number_of_days)).size, r.options.length, 'distinct number_of_days');
  assertError(await k.get(om.path(order_id, `/captures/${crypto.randomUUID()}/extend-due-date-options`)), 404, 'NO_SUCH_CAPTURE');
});

test('extend-due-date: PATCH {number_of_days} with an offered value → 204; a value not offered → 400 "Bad value: number_of_days"; {} or null → 422 "\'number_of_days\' must not be null"', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  const cid = await om.captureOk(order_id, 8500);
  const { options } = assertJsonOk(await k.get(om.path(order_id, `/captures/${cid}/extend-due-date-options`)));
  const offered = new Set(options.map((o) => o.number_of_days));
  let notOffered = 1;
  while (offered.has(notOffered)) notOffered += 1;
  const p = om.path(order_id, `/captures/${cid}/extend-due-date`);
  for (const v of [notOffered, 0, -7, '14']) assertBadValue(await k.patch(p, { number_of_days: v }), 'number_of_days');
  assertMissingField(await k.patch(p, {}), 'number_of_days');
  assertMissingField(await k.patch(p, { number_of_days: null }), 'number_of_days');
  assertNoContent(await k.patch(p, { number_of_days: options[0].number_of_days }));
  assertError(await k.patch(om.path(order_id, `/captures/${crypto.randomUUID()}/extend-due-date`),
    { number_of_days: options[0].number_of_days }), 404, 'NO_SUCH_CAPTURE');
});

test('capture: a malformed order id → 400 INVALID_ORDER_ID', async () => {
  assertError(await om.capture('not-a-uuid', { captured_amount: 100 }), 400, 'INVALID_ORDER_ID', ['Order ID must be a valid UUID.']);
});

test('capture: amounts are int64 minor units end to end (a 200000000 order captured whole)', async () => {
  const { order_id } = await om.place({ body: omCart(200000000) });
  await om.captureOk(order_id, 199999999);
  await om.captureOk(order_id, 1);
  const o = await om.read(order_id);
  assert.equal(o.captured_amount, 200000000);
  assert.equal(o.status, 'CAPTURED');
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
