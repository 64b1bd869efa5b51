// Kasse's own order list: GET /kasse/v1/orders?status=&created_after=&created_before=&limit=&offset=
// → {orders:[…], total, limit, offset}, the merchant's orders only, statuses as GET order shows
// them on Kasse's clock. A fresh server, so totals are exact.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startKasse, assertJsonOk, assertError, assertBadValue, assertNoContent } from './harness.mjs';
import { US_EXAMPLE, omCart, omClient, email } from './fixtures.mjs';

let k;
let om;
before(async () => { k = await startKasse({ testClock: true }); om = omClient(k); });
after(async () => { await k?.kill(); });
afterEach(async () => { if (!k.stopped) await om.checkTouched(); });

const LIST = '/kasse/v1/orders';
const list = async (q = {}, auth = 'a') => {
  const qs = new URLSearchParams(q).toString();
  const res = await k.get(qs ? `${LIST}?${qs}` : LIST, { auth });
  const body = assertJsonOk(res);
  assert.deepEqual(Object.keys(body).sort(), ['limit', 'offset', 'orders', 'total'], res.text);
  assert.ok(Array.isArray(body.orders));
  return body;
};
const ids = (b) => b.orders.map((o) => o.order_id).sort();

// Orders made by the first test and used by the later ones (merchant A unless noted).
const made = {};

test('list: an empty store → 200 {orders: [], total: 0, limit, offset: 0}', async () => {
  const b = await list();
  assert.deepEqual(b.orders, []);
  assert.equal(b.total, 0);
  assert.equal(b.offset, 0);
  assert.ok(Number.isSafeInteger(b.limit) && b.limit > 0, `default limit ${b.limit}`);
});

test('list: each item carries order_id, status, order_amount, captured_amount, refunded_amount, created_at equal to GET order', async () => {
  made.t0 = await om.now();
  made.authorized = (await om.place({ body: omCart(8500) })).order_id;
  made.part = (await om.place({ body: omCart(8500) })).order_id;
  await om.captureOk(made.part, 3000);
  await om.refundOk(made.part, 1000);
  made.cancelled = (await om.place({ body: omCart(8500) })).order_id;
  assertNoContent(await k.post(om.path(made.cancelled, '/cancel')));
  made.b = (await om.place({ body: omCart(8500), auth: 'b' })).order_id;
  const b = await list();
  assert.equal(b.total, 3);
  assert.deepEqual(ids(b), [made.authorized, made.part, made.cancelled].sort());
  for (const item of b.orders) {
    const o = await om.read(item.order_id);
    for (const f of ['order_id', 'status', 'order_amount', 'captured_amount', 'refunded_amount', 'created_at']) {
      assert.deepEqual(item[f], o[f], `${item.order_id}.${f}`);
    }
  }
  const part = b.orders.find((o) => o.order_id === made.part);
  assert.deepEqual([part.status, part.captured_amount, part.refunded_amount], ['PART_CAPTURED', 3000, 1000]);
});

test('list: merchant isolation — B sees only its own order, A never sees B\'s', async () => {
  const b = await list({}, 'b');
  assert.deepEqual(ids(b), [made.b]);
  assert.equal(b.total, 1);
  assert.ok(!(await list()).orders.some((o) => o.order_id === made.b));
});

test('list: status=… filters on the status (AUTHORIZED, PART_CAPTURED, CANCELLED, CAPTURED)', async () => {
  assert.deepEqual(ids(await list({ status: 'AUTHORIZED' })), [made.authorized]);
  assert.deepEqual(ids(await list({ status: 'PART_CAPTURED' })), [made.part]);
  assert.deepEqual(ids(await list({ status: 'CANCELLED' })), [made.cancelled]);
  const c = await list({ status: 'CAPTURED' });
  assert.deepEqual(c.orders, []);
  assert.equal(c.total, 0);
});

test('list: requires merchant Basic auth → 401', async () => {
  assertError(await k.get(LIST, { auth: null }), 401, 'UNAUTHORIZED', []);
});

test('list: created_after / created_before (ISO 8601) select by creation time on Kasse\'s clock', async () => {
  const mid1 = await om.advance(86400);
  const day1 = (await om.place({ body: omCart(8500) })).order_id;
  const mid2 = await om.advance(86400);
  const day2 = (await om.place({ body: omCart(8500) })).order_id;
  const early = [made.authorized, made.part, made.cancelled];
  assert.deepEqual(ids(await list({ created_after: mid1 })), [day1, day2].sort());
  assert.deepEqual(ids(await list({ created_after: mid2 })), [day2]);
  assert.deepEqual(ids(await list({ created_before: mid1 })), [...early].sort());
  const between = await list({ created_after: mid1, created_before: mid2 });
  assert.deepEqual(ids(between), [day1]);
  assert.equal(between.total, 1);
  made.day1 = day1;
  made.day2 = day2;
});

test('list: created_after with millisecond precision — an order created at T is not "after" T + 1 ms', async () => {
  const { order_id } = await om.place({ body: omCart(8500) });
  made.precise = order_id;
  const created = (await om.read(order_id)).created_at;
  const plus1 = new Date(Date.parse(created) + 1).toISOString();
  const minus1 = new Date(Date.parse(created) - 1).toISOString();
  assert.ok(!ids(await list({ created_after: plus1 })).includes(order_id),
    `order created at ${created} listed with created_after=${plus1}`);
  assert.ok(ids(await list({ created_after: minus1 })).includes(order_id));
  assert.ok(!ids(await list({ created_before: minus1 })).includes(order_id),
    `order created at ${created} listed with created_before=${minus1}`);
});

test('list: limit and offset page through the matches; total counts all of them; pages partition the set', async () => {
  const all = await list({ limit: 100 });
  assert.equal(all.total, all.orders.length);
  assert.ok(all.total >= 6, `total ${all.total}`);
  const seen = [];
  for (let offset = 0; offset < all.total; offset += 2) {
    const page = await list({ limit: 2, offset });
    assert.equal(page.limit, 2);
    assert.equal(page.offset, offset);
    assert.equal(page.total, all.total);
    assert.equal(page.orders.length, Math.min(2, all.total - offset));
    seen.push(...page.orders.map((o) => o.order_id));
  }
  assert.equal(new Set(seen).size, seen.length, 'no order on two pages');
  assert.deepEqual([...seen].sort(), ids(all));
  const past = await list({ limit: 2, offset: all.total });
  assert.deepEqual(past.orders, []);
  assert.equal(past.total, all.total);
});

test('list: an expired order is listed as EXPIRED (the status at Kasse\'s now) and matches status=EXPIRED', async () => {
  await om.advance(28 * 86400 + 1);
  const b = await list({ status: 'EXPIRED' });
  for (const id of [made.authorized, made.part, made.day1, made.day2, made.precise]) {
    assert.ok(ids(b).includes(id), `${id} not listed as EXPIRED: ${JSON.stringify(b.orders)}`);
  }
  assert.ok(!ids(b).includes(made.cancelled));
  assert.equal((await list({ status: 'AUTHORIZED' })).total, 0);
});

test('list: fraud status is the decided one (PENDING → ACCEPTED after NN minutes), as GET order shows', async () => {
  const { order_id } = await om.place({ body: US_EXAMPLE, authorize: { billing_address: { email: email('US', 'pend-accept-01') } } });
  let item = (await list({ status: 'AUTHORIZED' })).orders.find((o) => o.order_id === order_id);
  assert.ok(item);
  if ('fraud_status' in item) assert.equal(item.fraud_status, 'PENDING');
  await om.advance(61);
  item = (await list({ status: 'AUTHORIZED' })).orders.find((o) => o.order_id === order_id);
  assert.equal((await om.read(order_id)).fraud_status, 'ACCEPTED');
  if ('fraud_status' in item) assert.equal(item.fraud_status, 'ACCEPTED');
});

test('list: a rejected review lists the order AUTHORIZED until Klarna cancels it 4 h after the decision, then CANCELLED (counts too), as GET order shows', async () => {
  const count = async (status) => (await list({ status })).total;
  const before = { AUTHORIZED: await count('AUTHORIZED'), CANCELLED: await count('CANCELLED') };
  const { order_id } = await om.place({ body: US_EXAMPLE, authorize: { billing_address: { email: email('US', 'pend-reject-01') } } });
  assert.equal(await count('AUTHORIZED'), before.AUTHORIZED + 1);
  await om.advance(61);
  assert.equal((await om.read(order_id)).fraud_status, 'REJECTED');
  assert.ok(ids(await list({ status: 'AUTHORIZED' })).includes(order_id));
  // The review ended 60 s after authorizing; Klarna cancels 4 h later: go to ~10 s before that.
  await om.advance(4 * 3600 - 11);
  assert.equal((await om.read(order_id)).status, 'AUTHORIZED');
  assert.equal(await count('AUTHORIZED'), before.AUTHORIZED + 1);
  await om.advance(20);
  assert.equal((await om.read(order_id)).status, 'CANCELLED');
  assert.ok(ids(await list({ status: 'CANCELLED' })).includes(order_id));
  assert.equal(await count('AUTHORIZED'), before.AUTHORIZED);
  assert.equal(await count('CANCELLED'), before.CANCELLED + 1);
});

test('list: the totals of the six statuses add up to the total', async () => {
  let sum = 0;
  for (const status of ['AUTHORIZED', 'PART_CAPTURED', 'CAPTURED', 'CANCELLED', 'EXPIRED', 'CLOSED']) {
    sum += (await list({ status })).total;
  }
  assert.equal(sum, (await list()).total);
});

test('list: bad query values → 400 BAD_VALUE "Bad value: <param>"', async () => {
  assertBadValue(await k.get(`${LIST}?status=PAID`), 'status');
  assertBadValue(await k.get(`${LIST}?limit=0`), 'limit');
  assertBadValue(await k.get(`${LIST}?limit=abc`), 'limit');
  assertBadValue(await k.get(`${LIST}?offset=-1`), 'offset');
  assertBadValue(await k.get(`${LIST}?created_after=yesterday`), 'created_after');
  assertBadValue(await k.get(`${LIST}?created_before=2026-13-01`), 'created_before');
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
