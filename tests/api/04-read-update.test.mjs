// GET and POST (partial update) of /payments/v1/sessions/{id}.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertBadValue, assertError, assertNoContent, assertSubset, ISO_MS, UUID_RE,
} from './harness.mjs';
import { SE_EXAMPLE, US_EXAMPLE, subscriptionExample, cart, line, clone } from './fixtures.mjs';

let k;
before(async () => { k = await startKasse(); });
after(async () => { await k?.kill(); });

const SESSIONS = '/payments/v1/sessions';
const H48 = 48 * 3600 * 1000;

async function createSession(body = SE_EXAMPLE, auth = 'a') {
  const before = Date.now();
  const res = await k.post(SESSIONS, body, { auth });
  const after = Date.now();
  const created = assertJsonOk(res);
  return { ...created, before, after };
}
const read = async (id, auth = 'a') => assertJsonOk(await k.get(`${SESSIONS}/${id}`, { auth }));
const update = (id, body, auth = 'a') => k.post(`${SESSIONS}/${id}`, body, { auth });
const invalidSession = (res) => assertError(res, 404, 'NOT_FOUND', ['Invalid session id']);

test('GET returns every stored field of the SE example plus status, expires_at, client_token, categories', async () => {
  const s = await createSession();
  const r = await read(s.session_id);
  const { intent, ...rest } = clone(SE_EXAMPLE);
  assertSubset(r, rest);
  assert.equal(r.intent, intent);
  assert.equal(r.status, 'incomplete');
  assert.equal(r.client_token, s.client_token, 'client_token same as at creation');
  assert.deepEqual(r.payment_method_categories, s.payment_method_categories);
  assert.match(r.expires_at, ISO_MS);
});

test('GET: expires_at is exactly 48 h after creation, ISO 8601 UTC with milliseconds', async () => {
  const s = await createSession();
  const r = await read(s.session_id);
  assert.match(r.expires_at, ISO_MS);
  const exp = Date.parse(r.expires_at);
  assert.ok(exp >= Math.floor(s.before / 1000) * 1000 + H48 && exp <= s.after + H48,
    `expires_at ${r.expires_at} not 48 h after creation (${new Date(s.before).toISOString()}..${new Date(s.after).toISOString()})`);
});

test('GET: customer is not returned before authorization', async () => {
  const s = await createSession(cart('SE', { customer: { date_of_birth: '1980-01-01', type: 'person' } }));
  const r = await read(s.session_id);
  assert.equal('customer' in r, false, `customer present: ${JSON.stringify(r.customer)}`);
});

test('GET: defaults — locale en-<COUNTRY> when not given, intent "buy", acquiring_channel ECOMMERCE', async () => {
  const body = cart('SE');
  delete body.locale;
  const s = await createSession(body);
  const r = await read(s.session_id);
  assert.equal(r.locale, 'en-SE');
  assert.equal(r.intent, 'buy');
  assert.equal(r.acquiring_channel ?? 'ECOMMERCE', 'ECOMMERCE');
  const de = cart('DE');
  delete de.locale;
  assert.equal((await read((await createSession(de)).session_id)).locale, 'en-DE');
});

test('GET returns addresses, references, merchant_urls and a subscription line as stored', async () => {
  const body = {
    ...subscriptionExample('buy_and_tokenize'),
    merchant_reference1: 'order-42',
    merchant_reference2: 'ref-2',
    merchant_data: 'opaque',
    billing_address: { given_name: 'Testperson-se', family_name: 'Approved', email: 'youremail@email.com',
      street_address: 'Stårgatan 1', postal_code: '12345', city: 'Ankeborg', phone: '+46765260000', country: 'SE' },
    shipping_address: { given_name: 'Testperson-se', family_name: 'Approved', street_address: 'Stårgatan 1',
      postal_code: '12345', city: 'Ankeborg', country: 'SE' },
    merchant_urls: { confirmation: 'https://shop.example/c', authorization: 'https://shop.example/a' },
  };
  const s = await createSession(body);
  const r = await read(s.session_id);
  assertSubset(r, body);
});

test('GET: US example with sales_tax line reads back with its lines and amounts', async () => {
  const s = await createSession(US_EXAMPLE);
  const r = await read(s.session_id);
  assertSubset(r, clone(US_EXAMPLE));
});

test('GET: unknown session id → 404 NOT_FOUND "Invalid session id"', async () => {
  invalidSession(await k.get(`${SESSIONS}/0b1d9815-165e-42e2-8867-35bc03789e00`));
  invalidSession(await k.get(`${SESSIONS}/${crypto.randomUUID()}`));
});

test('GET: malformed session id → 404 NOT_FOUND "Invalid session id"', async () => {
  for (const id of ['not-a-uuid', '1', 'x'.repeat(300), '00000000-0000-0000-0000-000000000000', "'%20OR%201=1--", '%E2%82%AC']) {
    invalidSession(await k.get(`${SESSIONS}/${id}`));
  }
});

test('update: 204 with no body; changed top-level fields are merged, others kept', async () => {
  const s = await createSession();
  const res = await update(s.session_id, { merchant_reference1: 'new-ref', merchant_urls: { confirmation: 'https://shop.example/thanks' } });
  assertNoContent(res);
  const r = await read(s.session_id);
  assert.equal(r.merchant_reference1, 'new-ref');
  assert.deepEqual(r.merchant_urls, { confirmation: 'https://shop.example/thanks' });
  const { merchant_urls: _mu, ...rest } = clone(SE_EXAMPLE);
  assertSubset(r, rest);
  assert.equal(r.status, 'incomplete');
});

test('update: order_lines replaces the previous list entirely', async () => {
  const s = await createSession(cart('SE', { order_amount: 20000, order_tax_amount: 4000,
    order_lines: [line(10000, 2500, 2000, { name: 'One' }), line(10000, 2500, 2000, { name: 'Two' })] }));
  const newLines = [line(5000, 2500, 1000, { name: 'Only' })];
  assertNoContent(await update(s.session_id, { order_amount: 5000, order_tax_amount: 1000, order_lines: newLines }));
  const r = await read(s.session_id);
  assert.equal(r.order_lines.length, 1);
  assertSubset(r.order_lines[0], newLines[0]);
  assert.equal(r.order_amount, 5000);
  assert.equal(r.order_tax_amount, 1000);
});

test('update: {} → 204 and nothing changes', async () => {
  const s = await createSession();
  const r0 = await read(s.session_id);
  assertNoContent(await update(s.session_id, {}));
  const r1 = await read(s.session_id);
  assert.deepEqual(r1, r0);
});

test('update: market change SE→DE with EUR and de-DE is validated on the merged result and accepted', async () => {
  const s = await createSession();
  assertNoContent(await update(s.session_id, { purchase_country: 'DE', purchase_currency: 'EUR', locale: 'de-DE' }));
  const r = await read(s.session_id);
  assert.equal(r.purchase_country, 'DE');
  assert.equal(r.purchase_currency, 'EUR');
  assert.equal(r.locale, 'de-DE');
});

async function assertFailedUpdateChangesNothing(patch, expectPath) {
  const s = await createSession();
  const r0 = await read(s.session_id);
  assertBadValue(await update(s.session_id, patch), expectPath);
  const r1 = await read(s.session_id);
  assert.deepEqual(r1, r0, 'a failed update changes nothing');
}

test('update validated on the merged result: currency not the country\'s → 400 Bad value: purchase_currency, unchanged', async () => {
  await assertFailedUpdateChangesNothing({ purchase_currency: 'EUR', merchant_reference1: 'should-not-stick' }, 'purchase_currency');
});

test('update validated on the merged result: locale not the country\'s → 400 Bad value: locale, unchanged', async () => {
  await assertFailedUpdateChangesNothing({ locale: 'de-DE' }, 'locale');
});

test('update validated on the merged result: order_amount ≠ Σ lines → 400 Bad value: order_amount, unchanged', async () => {
  await assertFailedUpdateChangesNothing({ order_amount: 9501 }, 'order_amount');
});

test('update validated on the merged result: order_tax_amount off → 400 Bad value: order_tax_amount, unchanged', async () => {
  await assertFailedUpdateChangesNothing({ order_tax_amount: 1000 }, 'order_tax_amount');
});

test('update validated on the merged result: new lines not matching the stored order_amount → Bad value: order_amount', async () => {
  await assertFailedUpdateChangesNothing({ order_lines: [line(5000, 2500, 1000)] }, /^Bad value: order_(amount|tax_amount)$/);
});

test('update: line tax error → 400 Bad value: order_lines[0].total_tax_amount, unchanged', async () => {
  const lines = clone(SE_EXAMPLE.order_lines);
  lines[0].total_tax_amount = 1000;
  await assertFailedUpdateChangesNothing({ order_lines: lines, order_tax_amount: 1000 }, 'order_lines[0].total_tax_amount');
});

test('update: wrong types and reals → Bad value at the path, unchanged', async () => {
  await assertFailedUpdateChangesNothing({ order_amount: '9500' }, 'order_amount');
  const s = await createSession();
  const r0 = await read(s.session_id);
  assertBadValue(await k.request('POST', `${SESSIONS}/${s.session_id}`, { raw: '{"order_amount":9500.0}' }), 'order_amount');
  assert.deepEqual(await read(s.session_id), r0);
});

test('update: billing_address.postal_code too long → 400 Bad value: billing_address.postal_code, unchanged', async () => {
  await assertFailedUpdateChangesNothing({ billing_address: { postal_code: '12345678901' } }, 'billing_address.postal_code');
});

test('update: malformed JSON, duplicate keys, non-object body → 400 BAD_REQUEST, unchanged', async () => {
  const s = await createSession();
  const r0 = await read(s.session_id);
  for (const raw of ['{', '{"merchant_reference1":"a","merchant_reference1":"b"}', '[]', '"x"']) {
    assertError(await k.request('POST', `${SESSIONS}/${s.session_id}`, { raw }), 400, 'BAD_REQUEST');
  }
  assert.deepEqual(await read(s.session_id), r0);
});

test('update: unknown or malformed session id → 404 NOT_FOUND "Invalid session id"', async () => {
  invalidSession(await update(crypto.randomUUID(), { merchant_reference1: 'x' }));
  invalidSession(await update('not-a-uuid', { merchant_reference1: 'x' }));
});

test('update: an invalid body on an unknown session id is still 404 (or 400), never 5xx', async () => {
  const res = await update(crypto.randomUUID(), { order_amount: 'x' });
  assert.ok(res.status === 404 || res.status === 400, `${res.status} ${res.text}`);
});

test('session ids are UUIDs and distinct across 20 creates', async () => {
  const ids = new Set();
  for (let i = 0; i < 20; i++) {
    const s = await createSession();
    assert.match(s.session_id, UUID_RE);
    ids.add(s.session_id);
  }
  assert.equal(ids.size, 20);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
