// Order Management refunds (contract 5.1 #17-#18, 5.3, 5.4 "Refund"): create (201 + Location,
// Refund-Id), read, allocation to captures, refusals (403 REFUND_NOT_ALLOWED), validation.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertError, assertBadValue, assertNoContent, ISO_MS,
} from './harness.mjs';
import { omCart, omClient, assertMissingField } from './fixtures.mjs';

let k;
let om;
before(async () => { k = await startKasse({ testClock: true }); om = omClient(k); });
after(async () => { await k?.kill(); });
afterEach(async () => { if (!k.stopped) await om.checkTouched(); });

const noCaptures = (res) => assertError(res, 403, 'REFUND_NOT_ALLOWED', ['Order has no captures. Refund not possible']);
const overRefund = (res) => assertError(res, 403, 'REFUND_NOT_ALLOWED', ['Over refund is not allowed. Refund not possible.']);
const RETURN_LINE = { type: 'physical', reference: 'SKU-OM', name: 'Widget', quantity: 1, unit_price: 2000,
  tax_rate: 2500, total_amount: 2000, total_discount_amount: 0, total_tax_amount: 400 };

async function captured(amount = 8500, captures = [amount]) {
  const { order_id } = await om.place({ body: omCart(amount) });
  const ids = [];
  for (const c of captures) ids.push(await om.captureOk(order_id, c));
  return { order_id, captureIds: ids };
}

test('refund: no captures → 403 REFUND_NOT_ALLOWED "Order has no captures. Refund not possible"', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  noCaptures(await om.refund(order_id, { refunded_amount: 100 }));
});

test('refund: → 201 empty body, Location …/orders/{id}/refunds/{refund_id}, Refund-Id; refunded_amount on order and capture; status unchanged', async () => {
  const { order_id } = await captured(8500);
  const res = await om.refund(order_id, { refunded_amount: 2000 });
  const rid = om.created(res, order_id, 'refunds');
  assert.equal(res.headers['content-type'], undefined, `201 without a body has no Content-Type: ${res.headers['content-type']}`);
  const o = await om.read(order_id);
  assert.equal(o.status, 'CAPTURED', 'a refund does not change the status');
  assert.equal(o.refunded_amount, 2000);
  assert.equal(o.captured_amount, 8500);
  assert.equal(o.captures[0].refunded_amount, 2000);
  assert.deepEqual(o.refunds.map((r) => r.refund_id), [rid]);
});

test('refund: GET Location → 200 the refund as Klarna records it (refund_id, refunded_amount, refunded_at on Kasse\'s clock, description, order_lines, credit_invoice false; reference not echoed), same as order.refunds', async () => {
  const { order_id } = await captured(8500);
  const clock = Date.parse(await om.advance(7200));
  const res = await om.refund(order_id, { refunded_amount: 2000, description: 'Returned one widget', reference: 'ret-1',
    order_lines: [RETURN_LINE] });
  const rid = om.created(res, order_id, 'refunds');
  const r = assertJsonOk(await k.get(new URL(res.headers.location).pathname));
  assert.equal(r.refund_id, rid);
  assert.equal(r.refunded_amount, 2000);
  assert.equal(r.description, 'Returned one widget');
  assert.deepEqual(Object.keys(r).sort(),
    ['credit_invoice', 'description', 'order_lines', 'refund_id', 'refunded_amount', 'refunded_at'], `refund fields: ${JSON.stringify(r)}`);
  assert.equal(r.credit_invoice, false);
  assert.match(r.refunded_at, ISO_MS);
  const at = Date.parse(r.refunded_at);
  assert.ok(at >= clock - 1000 && at <= clock + 10_000, `refunded_at ${r.refunded_at} vs clock ${new Date(clock).toISOString()}`);
  assert.equal(r.order_lines.length, 1);
  for (const [f, v] of Object.entries(RETURN_LINE)) assert.deepEqual(r.order_lines[0][f], v, `order_lines[0].${f}`);
  const o = await om.read(order_id);
  assert.deepEqual(o.refunds, [r]);
});

test('refund: beyond captured → 403 REFUND_NOT_ALLOWED "Over refund is not allowed. Refund not possible."', async () => {
  const { order_id } = await captured(8500);
  overRefund(await om.refund(order_id, { refunded_amount: 8501 }));
  assert.equal((await om.read(order_id)).refunded_amount, 0);
});

test('refund: beyond captured − refunded → 403; exactly the rest is allowed (fully refunded → CLOSED, Kasse\'s answer to contract 11.4), then one unit more → 403', async () => {
  const { order_id } = await captured(8500);
  await om.refundOk(order_id, 5000);
  const before = await om.read(order_id);
  overRefund(await om.refund(order_id, { refunded_amount: 3501 }));
  assert.deepEqual(await om.read(order_id), before, 'a refused refund changes nothing');
  await om.refundOk(order_id, 3500);
  overRefund(await om.refund(order_id, { refunded_amount: 1 }));
  const o = await om.read(order_id);
  assert.equal(o.refunded_amount, 8500);
  assert.equal(o.status, 'CLOSED');
  assert.equal(o.remaining_authorized_amount, 0);
});

test('refund: on a part-captured order only the captured amount can be refunded (not the authorized remainder)', async () => {
  const { order_id } = await captured(8500, [3000]);
  overRefund(await om.refund(order_id, { refunded_amount: 3001 }));
  await om.refundOk(order_id, 3000);
  const o = await om.read(order_id);
  assert.equal(o.status, 'PART_CAPTURED');
  assert.equal(o.remaining_authorized_amount, 5500, 'a refund does not touch the remaining authorization');
});

test('refund: allocated to captures oldest first, each capture refunded ≤ captured', async () => {
  const { order_id, captureIds } = await captured(9000, [3000, 2000, 4000]);
  await om.refundOk(order_id, 4000);
  let o = await om.read(order_id);
  assert.deepEqual(o.captures.map((c) => [c.capture_id, c.refunded_amount]),
    [[captureIds[0], 3000], [captureIds[1], 1000], [captureIds[2], 0]]);
  await om.refundOk(order_id, 4500);
  o = await om.read(order_id);
  assert.deepEqual(o.captures.map((c) => c.refunded_amount), [3000, 2000, 3500]);
  const c = assertJsonOk(await k.get(om.path(order_id, `/captures/${captureIds[2]}`)));
  assert.equal(c.refunded_amount, 3500, 'GET capture shows its refunded_amount');
});

test('refund: several refunds are listed on the order in creation order', async () => {
  const { order_id } = await captured(8500);
  const ids = [await om.refundOk(order_id, 100), await om.refundOk(order_id, 200), await om.refundOk(order_id, 300)];
  const o = await om.read(order_id);
  assert.deepEqual(o.refunds.map((r) => r.refund_id), ids);
  assert.deepEqual(o.refunds.map((r) => r.refunded_amount), [100, 200, 300]);
  assert.equal(new Set(ids).size, 3);
});

test('refund: a bare refund reads back exactly {refund_id, refunded_amount, refunded_at, description, order_lines: [], credit_invoice: false} (Klarna\'s recorded shape)', async () => {
  const { order_id } = await captured(8500);
  const rid = await om.refundOk(order_id, 500, { description: 'Goodwill', reference: 'not-echoed' });
  const r = assertJsonOk(await k.get(om.path(order_id, `/refunds/${rid}`)));
  assert.deepEqual(r, { refund_id: rid, refunded_amount: 500, refunded_at: r.refunded_at, description: 'Goodwill',
    order_lines: [], credit_invoice: false });
  assert.match(r.refunded_at, ISO_MS);
  assert.deepEqual((await om.read(order_id)).refunds, [r]);
});

test('refunded_amount 0, negative, > 200000000, a string or a real → 400 BAD_VALUE "Bad value: refunded_amount"; missing ({} included) or null → 422 UNPROCESSABLE_ENTITY "\'refunded_amount\' must not be null"', async () => {
  const { order_id } = await captured(8500);
  for (const v of [0, -1, 200000001, '500', 10.5]) {
    assertBadValue(await om.refund(order_id, { refunded_amount: v }), 'refunded_amount');
  }
  assertMissingField(await om.refund(order_id, {}), 'refunded_amount');
  assertMissingField(await om.refund(order_id, { refunded_amount: null }), 'refunded_amount');
  assertMissingField(await om.refund(order_id, { description: 'no amount' }), 'refunded_amount');
  assert.equal((await om.read(order_id)).refunded_amount, 0);
});

test('refund: after a release of the remaining authorization the captured part can still be refunded (all of it → CLOSED)', async () => {
  const { order_id } = await captured(8500, [3000]);
  assertNoContent(await k.post(om.path(order_id, '/release-remaining-authorization')));
  await om.refundOk(order_id, 1000);
  assert.equal((await om.read(order_id)).status, 'CAPTURED', 'a partial refund does not change the status');
  await om.refundOk(order_id, 2000);
  const o = await om.read(order_id);
  assert.equal(o.refunded_amount, 3000);
  assert.equal(o.status, 'CLOSED');
});

test('refund: a cancelled order has no captures → 403 REFUND_NOT_ALLOWED', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  assertNoContent(await k.post(om.path(order_id, '/cancel')));
  assertError(await om.refund(order_id, { refunded_amount: 100 }), 403, 'REFUND_NOT_ALLOWED');
});

test('GET /refunds/{refund_id}: unknown → 404 NOT_FOUND', async () => {
  const { order_id } = await captured(8500);
  await om.refundOk(order_id, 100);
  assertError(await k.get(om.path(order_id, `/refunds/${crypto.randomUUID()}`)), 404, 'NOT_FOUND');
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
