// Order Management lifecycle (contract 5.1 #2-#9, 5.4): cancel, release remaining authorization,
// update authorization, extend authorization time, expiry on Kasse's clock, customer details,
// merchant references, order shipping info, acknowledge.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertError, assertBadValue, assertNoContent,
} from './harness.mjs';
import { US_EXAMPLE, DAY_MS, omCart, omClient, seAddress, email, assertMissingField } from './fixtures.mjs';

let k;
let om;
before(async () => { k = await startKasse({ testClock: true }); om = omClient(k); });
after(async () => { await k?.kill(); });
afterEach(async () => { if (!k.stopped) await om.checkTouched(); });

const post = (id, sub, body) => k.post(om.path(id, sub), body);
const patch = (id, sub, body) => k.patch(om.path(id, sub), body);
const cancel = (id) => post(id, '/cancel');
const release = (id) => post(id, '/release-remaining-authorization');
const updateAuth = (id, body) => patch(id, '/authorization', body);
const extend = (id) => post(id, '/extend-authorization-time');
const lineOf = (amount) => ({ type: 'physical', reference: `SKU-${amount}`, name: `Item ${amount}`, quantity: 1,
  unit_price: amount, tax_rate: 2500, total_amount: amount, total_discount_amount: 0, total_tax_amount: amount / 5 });

// ---------- cancel ----------

test('cancel: POST /cancel → 204; status CANCELLED, remaining 0, nothing captured', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  assertNoContent(await cancel(order_id));
  const o = await om.read(order_id);
  assert.equal(o.status, 'CANCELLED');
  assert.equal(o.remaining_authorized_amount, 0);
  assert.equal(o.captured_amount, 0);
  assert.equal(o.order_amount, 8500, 'order_amount stays what was authorized');
});

test('cancel: after a capture → 403 CANCEL_NOT_ALLOWED "Order has previous captures. Cancel not possible."', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  await om.captureOk(order_id, 1000);
  assertError(await cancel(order_id), 403, 'CANCEL_NOT_ALLOWED', ['Order has previous captures. Cancel not possible.']);
  assert.equal((await om.read(order_id)).status, 'PART_CAPTURED');
});

test('cancel: an already cancelled order → 204 again, as Klarna answers a retried cancel (no idempotency key needed); still CANCELLED', async () => {
  const { order_id } = await om.place();
  assertNoContent(await cancel(order_id));
  const before = await om.read(order_id);
  assertNoContent(await cancel(order_id));
  assertNoContent(await cancel(order_id));
  assert.deepEqual(await om.read(order_id), before, 'a repeated cancel changes nothing');
  // still no capture on a cancelled order
  assertError(await om.capture(order_id, { captured_amount: 100 }), 403, 'CAPTURE_NOT_ALLOWED');
});

test('cancel: a REJECTED order Klarna cancelled after 4 hours → cancel answers 204 too', async () => {
  const { order_id, fraud_status } = await om.place({ body: US_EXAMPLE,
    authorize: { billing_address: { email: email('US', 'pend-reject-05') } } });
  assert.equal(fraud_status, 'PENDING');
  await om.advance(5 * 3600);
  assert.equal((await om.read(order_id)).status, 'CANCELLED');
  assertNoContent(await cancel(order_id));
  assert.equal((await om.read(order_id)).status, 'CANCELLED');
});

test('cancel: a PENDING (fraud review) order can be cancelled → 204', async () => {
  const { order_id, fraud_status } = await om.place({ body: US_EXAMPLE,
    authorize: { billing_address: { email: email('US', 'pend-accept-30') } } });
  assert.equal(fraud_status, 'PENDING');
  assertNoContent(await cancel(order_id));
  assert.equal((await om.read(order_id)).status, 'CANCELLED');
});

// ---------- release remaining authorization ----------

test('release: after a partial capture → 204; remaining 0, status CAPTURED, further captures 403', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  await om.captureOk(order_id, 3000);
  assertNoContent(await release(order_id));
  const o = await om.read(order_id);
  assert.equal(o.remaining_authorized_amount, 0);
  assert.equal(o.status, 'CAPTURED');
  assert.equal(o.captured_amount, 3000);
  assertError(await om.capture(order_id, { captured_amount: 1 }), 403, 'CAPTURE_NOT_ALLOWED');
});

test('release: without captures → 403 NOT_ALLOWED', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  assertError(await release(order_id), 403, 'NOT_ALLOWED');
  assert.equal((await om.read(order_id)).remaining_authorized_amount, 8500);
});

test('release: fully captured → 403 NOT_ALLOWED "Order is fully captured. Remaining authorization cannot be released."', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  await om.captureOk(order_id, 8500);
  assertError(await release(order_id), 403, 'NOT_ALLOWED', ['Order is fully captured. Remaining authorization cannot be released.']);
});

test('release: a cancelled order → 403 NOT_ALLOWED', async () => {
  const { order_id } = await om.place();
  assertNoContent(await cancel(order_id));
  assertError(await release(order_id), 403, 'NOT_ALLOWED');
});

// ---------- update authorization ----------

test('update authorization: lower order_amount with new lines → 204; order_amount and lines replaced, original_order_amount kept, remaining follows', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  assertNoContent(await updateAuth(order_id, { order_amount: 6000, description: 'One item out of stock',
    order_lines: [lineOf(6000)] }));
  const o = await om.read(order_id);
  assert.equal(o.order_amount, 6000);
  assert.equal(o.original_order_amount, 8500);
  assert.equal(o.remaining_authorized_amount, 6000);
  assert.equal(o.status, 'AUTHORIZED');
  assert.equal(o.order_lines.length, 1);
  for (const [f, v] of Object.entries(lineOf(6000))) assert.deepEqual(o.order_lines[0][f], v, `order_lines[0].${f}`);
});

test('update authorization: raising order_amount (INVOICE, SE) → 204 and the extra amount can be captured', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  assertNoContent(await updateAuth(order_id, { order_amount: 10000, order_lines: [lineOf(8500), lineOf(1500)] }));
  const o = await om.read(order_id);
  assert.equal(o.order_amount, 10000);
  assert.equal(o.original_order_amount, 8500);
  assert.equal(o.remaining_authorized_amount, 10000);
  await om.captureOk(order_id, 10000);
});

test('update authorization: on a part-captured order remaining = new order_amount − captured', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  await om.captureOk(order_id, 3000);
  assertNoContent(await updateAuth(order_id, { order_amount: 5000, order_lines: [lineOf(5000)] }));
  const o = await om.read(order_id);
  assert.equal(o.remaining_authorized_amount, 2000);
  assert.equal(o.status, 'PART_CAPTURED');
  assertError(await om.capture(order_id, { captured_amount: 2001 }), 403, 'CAPTURE_NOT_ALLOWED');
  await om.captureOk(order_id, 2000);
});

test('update authorization: order_lines omitted → the old lines are deleted (contract 5.4)', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  assertNoContent(await updateAuth(order_id, { order_amount: 8000 }));
  const o = await om.read(order_id);
  assert.equal(o.order_amount, 8000);
  assert.deepEqual(o.order_lines ?? [], []);
});

test('update authorization: below the captured amount → 403 NOT_ALLOWED "Resulting authorization amount … cannot be less than the captured amount …"', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  await om.captureOk(order_id, 3000);
  const res = await updateAuth(order_id, { order_amount: 2000, order_lines: [lineOf(2000)] });
  assertError(res, 403, 'NOT_ALLOWED', /^Resulting authorization amount 2000 cannot be less than the captured amount 3000\b/);
  assert.equal((await om.read(order_id)).order_amount, 8500);
});

test('update authorization: a cancelled or fully captured order → 403 NOT_ALLOWED', async () => {
  const a = await om.place({ body: omCart(8500) });
  assertNoContent(await cancel(a.order_id));
  assertError(await updateAuth(a.order_id, { order_amount: 5000, order_lines: [lineOf(5000)] }), 403, 'NOT_ALLOWED');
  const b = await om.place({ body: omCart(8500) });
  await om.captureOk(b.order_id, 8500);
  assertError(await updateAuth(b.order_id, { order_amount: 9000, order_lines: [lineOf(9000)] }), 403, 'NOT_ALLOWED');
});

test('update authorization: order_amount negative, > 200000000, a string or a real → 400 BAD_VALUE "Bad value: order_amount"; missing or null → 422 UNPROCESSABLE_ENTITY "\'order_amount\' must not be null"', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  for (const v of [-1, 200000001, '5000', 50.5]) {
    assertBadValue(await updateAuth(order_id, { order_amount: v }), 'order_amount');
  }
  assertMissingField(await updateAuth(order_id, { order_amount: null }), 'order_amount');
  assertMissingField(await updateAuth(order_id, { order_lines: [lineOf(5000)] }), 'order_amount');
  assertMissingField(await updateAuth(order_id, {}), 'order_amount');
  assert.equal((await om.read(order_id)).order_amount, 8500);
});

// ---------- extend authorization time, expiry ----------

test('extend-authorization-time: → 204; expires_at = Kasse\'s now + 28 days', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  const created = Date.parse((await om.read(order_id)).created_at);
  const now = Date.parse(await om.advance(10 * 86400));
  assertNoContent(await extend(order_id));
  const exp = Date.parse((await om.read(order_id)).expires_at);
  assert.ok(exp >= now + 28 * DAY_MS && exp <= now + 28 * DAY_MS + 10_000,
    `expires_at ${new Date(exp).toISOString()} vs now ${new Date(now).toISOString()} + 28 d`);
  assert.ok(exp > created + 28 * DAY_MS, 'moved later than the original expiry');
});

test('extend-authorization-time: capped at created_at + 180 days (a call at the cap → 204, unchanged); EXPIRED after it', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  const created = Date.parse((await om.read(order_id)).created_at);
  // Extend on days 27, 54, 81, 108, 135 (each before the current expiry) → day 163; on day 162 → capped at 180.
  for (let i = 0; i < 6; i++) {
    await om.advance(27 * 86400);
    assertNoContent(await extend(order_id));
  }
  let o = await om.read(order_id);
  assert.equal(Date.parse(o.expires_at) - created, 180 * DAY_MS, `expires_at ${o.expires_at}, created ${o.created_at}`);
  await om.advance(17 * 86400); // day 179
  assertNoContent(await extend(order_id));
  o = await om.read(order_id);
  assert.equal(Date.parse(o.expires_at) - created, 180 * DAY_MS, 'still capped');
  assert.equal(o.status, 'AUTHORIZED');
  await om.advance(86400 + 1);
  assert.equal((await om.read(order_id)).status, 'EXPIRED');
});

test('extend-authorization-time: after expiry → 403 NOT_ALLOWED', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  await om.advance(28 * 86400 + 1);
  assertError(await extend(order_id), 403, 'NOT_ALLOWED');
});

test('extend-authorization-time: an extended order does not expire at the old date and can still be captured', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  await om.advance(20 * 86400);
  assertNoContent(await extend(order_id));
  await om.advance(8 * 86400 + 1);
  const o = await om.read(order_id);
  assert.equal(o.status, 'AUTHORIZED');
  await om.captureOk(order_id, 8500);
});

test('expiry: AUTHORIZED at 28 days − 1 s; EXPIRED at 28 days + 1 s on Kasse\'s clock, remaining 0', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  await om.advance(28 * 86400 - 1);
  let o = await om.read(order_id);
  assert.equal(o.status, 'AUTHORIZED');
  assert.equal(o.remaining_authorized_amount, 8500);
  await om.advance(2);
  o = await om.read(order_id);
  assert.equal(o.status, 'EXPIRED');
  assert.equal(o.remaining_authorized_amount, 0);
  assert.equal(o.order_amount, 8500);
});

test('expiry: a part-captured order expires too (captured part kept, refundable); a fully captured one stays CAPTURED', async () => {
  const part = await om.place({ body: omCart(8500) });
  const full = await om.place({ body: omCart(8500) });
  await om.captureOk(part.order_id, 3000);
  await om.captureOk(full.order_id, 8500);
  await om.advance(28 * 86400 + 1);
  const p = await om.read(part.order_id);
  assert.equal(p.status, 'EXPIRED');
  assert.equal(p.captured_amount, 3000);
  assert.equal(p.remaining_authorized_amount, 0);
  await om.refundOk(part.order_id, 1000);
  assert.equal((await om.read(full.order_id)).status, 'CAPTURED');
});

test('expiry: an expired order cannot be cancelled (403 CANCEL_NOT_ALLOWED: only a cancelled order cancels again), released or updated (403)', async () => {
  const a = await om.place({ body: omCart(8500) });
  const b = await om.place({ body: omCart(8500) });
  await om.captureOk(b.order_id, 1000);
  await om.advance(28 * 86400 + 1);
  assertError(await cancel(a.order_id), 403, 'CANCEL_NOT_ALLOWED');
  assertError(await release(b.order_id), 403, 'NOT_ALLOWED');
  assertError(await updateAuth(a.order_id, { order_amount: 100, order_lines: [lineOf(100)] }), 403, 'NOT_ALLOWED');
});

// ---------- customer details, merchant references, shipping info, acknowledge ----------

test('customer-details: PATCH {shipping_address} → 204; the order shows the new shipping address, billing unchanged', async () => {
  const billing = seAddress();
  const { order_id } = await om.place({ authorize: { billing_address: billing } });
  const shipping = seAddress({ given_name: 'Bob', street_address: 'Karlaplan 3', postal_code: '11460' });
  assertNoContent(await patch(order_id, '/customer-details', { shipping_address: shipping }));
  const o = await om.read(order_id);
  for (const [f, v] of Object.entries(shipping)) assert.equal(o.shipping_address[f], v, `shipping_address.${f}`);
  for (const [f, v] of Object.entries(billing)) assert.equal(o.billing_address[f], v, `billing_address.${f}`);
});

test('customer-details: a field set to "" is cleared, the others kept', async () => {
  const { order_id } = await om.place({ authorize: { billing_address: seAddress({ street_address2: 'c/o Test' }) } });
  assertNoContent(await patch(order_id, '/customer-details', { shipping_address: seAddress({ street_address2: '' }) }));
  const o = await om.read(order_id);
  assert.ok(o.shipping_address.street_address2 === undefined || o.shipping_address.street_address2 === '',
    `street_address2 not cleared: ${JSON.stringify(o.shipping_address)}`);
  assert.equal(o.shipping_address.street_address, seAddress().street_address);
});

test('customer-details: billing and shipping sent together (Klarna\'s SDK example) → 204; the shipping address changes, the billing address does not (contract 5.4: only shipping can change)', async () => {
  const billing = seAddress();
  const { order_id } = await om.place({ authorize: { billing_address: billing } });
  const res = await patch(order_id, '/customer-details', {
    billing_address: { ...billing, given_name: 'Mallory' },
    shipping_address: { ...billing, street_address: 'Ny gatan 9' },
  });
  assertNoContent(res);
  const o = await om.read(order_id);
  assert.equal(o.billing_address.given_name, 'Alice');
  assert.equal(o.shipping_address.street_address, 'Ny gatan 9');
});

test('capture customer-details (PATCH .../captures/{id}/customer-details, in Klarna\'s SDKs): 204, the capture\'s shipping address changes; unknown capture → 404 NO_SUCH_CAPTURE', async () => {
  const { order_id } = await om.place();
  const capture_id = await om.captureOk(order_id, 1000);
  const path = om.path(order_id, `/captures/${capture_id}/customer-details`);
  const res = await k.patch(path, { shipping_address: seAddress({ street_address: 'Lagerv\u00e4gen 1' }) }, { direct: true });
  assertNoContent(res);
  assert.match(res.headers['transaction-id'] ?? '', /^[0-9a-f-]{36}$/);
  const cap = assertJsonOk(await k.get(om.path(order_id, `/captures/${capture_id}`)));
  assert.equal(cap.shipping_address.street_address, 'Lagerv\u00e4gen 1');
  const missing = await k.patch(om.path(order_id, `/captures/${crypto.randomUUID()}/customer-details`),
    { shipping_address: seAddress() }, { direct: true });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error_code, 'NO_SUCH_CAPTURE');
});

test('shipping info: tracking_number sent as a JSON number is accepted and stored as its string (Klarna, recorded)', async () => {
  const { order_id } = await om.place();
  assertNoContent(await post(order_id, '/shipping-info', { shipping_info: [{ shipping_company: 'DHL', tracking_number: 123456789012 }] }));
  const o = await om.read(order_id);
  assert.equal(typeof o.shipping_info[0].tracking_number, 'string');
  assert.match(o.shipping_info[0].tracking_number, /^\d+$/);
  const capture_id = await om.captureOk(order_id, 1000, { shipping_info: [{ shipping_company: 'DHL', tracking_number: 12345 }] });
  const cap = assertJsonOk(await k.get(om.path(order_id, `/captures/${capture_id}`)));
  assert.equal(cap.shipping_info[0].tracking_number, '12345');
});

test('customer-details: a shipping address field over its OM limit → 400 BAD_VALUE "Bad value: shipping_address.<field>"', async () => {
  const { order_id } = await om.place();
  assertBadValue(await patch(order_id, '/customer-details', { shipping_address: seAddress({ given_name: 'x'.repeat(101) }) }),
    'shipping_address.given_name');
  assertBadValue(await patch(order_id, '/customer-details', { shipping_address: seAddress({ postal_code: '12345678901' }) }),
    'shipping_address.postal_code');
});

test('customer-details: a cancelled order → 403 NOT_ALLOWED', async () => {
  const { order_id } = await om.place();
  assertNoContent(await cancel(order_id));
  assertError(await patch(order_id, '/customer-details', { shipping_address: seAddress() }), 403, 'NOT_ALLOWED');
});

test('merchant-references: PATCH → 204; present fields overwrite, absent ones are kept, "" clears', async () => {
  const { order_id } = await om.place({ order: { merchant_reference1: 'r1', merchant_reference2: 'r2' } });
  assertNoContent(await patch(order_id, '/merchant-references', { merchant_reference1: 'new-1' }));
  let o = await om.read(order_id);
  assert.equal(o.merchant_reference1, 'new-1');
  assert.equal(o.merchant_reference2, 'r2');
  assertNoContent(await patch(order_id, '/merchant-references', { merchant_reference1: 'a', merchant_reference2: 'b' }));
  o = await om.read(order_id);
  assert.deepEqual([o.merchant_reference1, o.merchant_reference2], ['a', 'b']);
  assertNoContent(await patch(order_id, '/merchant-references', { merchant_reference2: '' }));
  o = await om.read(order_id);
  assert.equal(o.merchant_reference1, 'a');
  assert.ok(o.merchant_reference2 === '' || o.merchant_reference2 === undefined, `cleared: ${o.merchant_reference2}`);
});

test('merchant-references: a cancelled order → 403 NOT_ALLOWED', async () => {
  const { order_id } = await om.place();
  assertNoContent(await cancel(order_id));
  assertError(await patch(order_id, '/merchant-references', { merchant_reference1: 'x' }), 403, 'NOT_ALLOWED');
});

test('merchant-references: a value longer than 255 characters → 400 BAD_VALUE', async () => {
  const { order_id } = await om.place();
  assertBadValue(await patch(order_id, '/merchant-references', { merchant_reference1: 'x'.repeat(256) }), 'merchant_reference1');
});

test('shipping-info: POST {shipping_info:[…]} → 204; entries appended to the order\'s shipping_info', async () => {
  const { order_id } = await om.place();
  const first = [{ shipping_company: 'DHL', shipping_method: 'Home', tracking_number: '123',
    tracking_uri: 'https://dhl.example/123' }];
  const second = [{ shipping_company: 'PostNord', shipping_method: 'PickUpPoint', tracking_number: 'PN9' },
    { shipping_company: 'UPS', shipping_method: 'Postal', tracking_number: '1Z', return_tracking_number: 'R1' }];
  assertNoContent(await post(order_id, '/shipping-info', { shipping_info: first }));
  assertNoContent(await post(order_id, '/shipping-info', { shipping_info: second }));
  const o = await om.read(order_id);
  assert.equal(o.shipping_info.length, 3, JSON.stringify(o.shipping_info));
  for (const [i, want] of [...first, ...second].entries()) {
    for (const [f, v] of Object.entries(want)) assert.equal(o.shipping_info[i][f], v, `shipping_info[${i}].${f}`);
  }
});

test('shipping-info: shipping_info missing ({} included) or null → 422 UNPROCESSABLE_ENTITY "\'shipping_info\' must not be null"; empty or not an array → 400 BAD_VALUE "Bad value: shipping_info" (order and capture level)', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  const cid = await om.captureOk(order_id, 1000);
  for (const sub of ['/shipping-info', `/captures/${cid}/shipping-info`]) {
    assertMissingField(await post(order_id, sub, {}), 'shipping_info');
    assertMissingField(await post(order_id, sub, { shipping_info: null }), 'shipping_info');
    assertBadValue(await post(order_id, sub, { shipping_info: [] }), 'shipping_info');
    assertBadValue(await post(order_id, sub, { shipping_info: 'DHL' }), 'shipping_info');
  }
  const o = await om.read(order_id);
  assert.ok(!('shipping_info' in o), 'nothing was added: the empty order-level list is omitted');
  assert.deepEqual(o.captures[0].shipping_info, []);
});

test('acknowledge: POST /acknowledge → 204, and again → 204; the order is unchanged', async () => {
  const { order_id } = await om.place();
  const before = await om.read(order_id);
  assertNoContent(await post(order_id, '/acknowledge'));
  assertNoContent(await post(order_id, '/acknowledge'));
  assert.deepEqual(await om.read(order_id), before);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
