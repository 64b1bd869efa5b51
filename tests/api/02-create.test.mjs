// POST /payments/v1/sessions with Klarna's documented example bodies; response shape,
// client_token claims, payment method categories and their asset URLs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertBadValue, decodeJwt, UUID_RE, MERCHANTS,
} from './harness.mjs';
import { SE_EXAMPLE, US_EXAMPLE, GB_TAX_EXAMPLE, subscriptionExample, clone, cart } from './fixtures.mjs';

let k;
before(async () => { k = await startKasse({ merchants: [MERCHANTS.a, MERCHANTS.b, MERCHANTS.c] }); });
after(async () => { await k?.kill(); });

const SESSIONS = '/payments/v1/sessions';

function assertSessionResponse(body, { categories = ['klarna'] } = {}) {
  assert.deepEqual(Object.keys(body).sort(), ['client_token', 'payment_method_categories', 'session_id']);
  assert.match(body.session_id, UUID_RE, 'session_id is a UUID');
  assert.equal(typeof body.client_token, 'string');
  assert.ok(body.client_token.length <= 4096, 'client_token ≤ 4096 chars');
  assert.deepEqual(body.payment_method_categories.map((c) => c.identifier), categories);
}

test('Klarna docs SE one-time purchase example (25 % VAT with discount) → 200 session', async () => {
  const body = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  assertSessionResponse(body);
});

test('default merchant config offers one category {klarna, "Pay with Klarna"} with Kasse-served asset URLs', async () => {
  const body = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  assert.deepEqual(body.payment_method_categories, [{
    identifier: 'klarna',
    name: 'Pay with Klarna',
    asset_urls: {
      descriptive: `${k.publicUrl}/kasse/assets/descriptive/klarna.svg`,
      standard: `${k.publicUrl}/kasse/assets/badges/klarna.svg`,
    },
  }]);
});

test('asset URLs are served by Kasse without auth as image/svg+xml', async () => {
  for (const id of ['klarna', 'pay_now', 'pay_later', 'pay_over_time']) {
    for (const kind of ['badges', 'descriptive']) {
      const res = await k.get(`/kasse/assets/${kind}/${id}.svg`, { auth: null });
      assert.equal(res.status, 200, `${kind}/${id}.svg → ${res.status}`);
      assert.match(res.headers['content-type'], /^image\/svg\+xml\b/);
      assert.match(res.text, /<svg[\s>]/);
    }
  }
});

test('unknown asset → 404 NOT_FOUND', async () => {
  const res = await k.get('/kasse/assets/badges/nope.svg', { auth: null });
  assert.equal(res.status, 404);
  assert.equal(res.json?.error_code, 'NOT_FOUND');
});

test('client_token is an HS256 JWT with session_id, base_url, market, merchant and amount claims', async () => {
  const body = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  const { header, claims, signature } = decodeJwt(body.client_token);
  assert.equal(header.alg, 'HS256');
  assert.ok(signature.length > 0, 'signed');
  assert.equal(claims.session_id, body.session_id);
  assert.equal(claims.base_url, k.publicUrl);
  assert.equal(claims.purchase_country, 'SE');
  assert.equal(claims.locale, 'en-SE');
  assert.equal(claims.language, 'en');
  assert.equal(typeof claims.environment, 'string');
  assert.ok(claims.environment.length > 0, 'environment claim');
  assert.equal(typeof claims.merchant_name, 'string');
  assert.ok(claims.merchant_name.length > 0, 'merchant_name claim');
  assert.equal(claims.session_type, 'PAYMENTS');
  assert.equal(claims.order_amount, 9500);
});

test('client tokens of two sessions differ and carry their own session ids', async () => {
  const a = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  const b = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  assert.notEqual(a.session_id, b.session_id);
  assert.notEqual(a.client_token, b.client_token);
  assert.equal(decodeJwt(b.client_token).claims.session_id, b.session_id);
});

test('Klarna docs recurring example: intent tokenize with a subscription line → 200', async () => {
  assertSessionResponse(assertJsonOk(await k.post(SESSIONS, subscriptionExample('tokenize'))));
});

test('Klarna docs recurring example: intent buy_and_tokenize with a subscription line → 200', async () => {
  assertSessionResponse(assertJsonOk(await k.post(SESSIONS, subscriptionExample('buy_and_tokenize'))));
});

test('all five intents are accepted: buy, tokenize, buy_and_tokenize, buy_and_default_tokenize, buy_and_link', async () => {
  for (const intent of ['buy', 'tokenize', 'buy_and_tokenize', 'buy_and_default_tokenize', 'buy_and_link']) {
    const res = await k.post(SESSIONS, { ...clone(SE_EXAMPLE), intent });
    assert.equal(res.status, 200, `intent ${intent}: ${res.text}`);
    assertSessionResponse(assertJsonOk(res));
  }
});

test('an intent outside the five → 400 Bad value: intent', async () => {
  assertBadValue(await k.post(SESSIONS, { ...clone(SE_EXAMPLE), intent: 'sell' }), 'intent');
});

test('Klarna docs US example: sales_tax line, order_amount 21000 = 20000 + 1000, order_tax_amount 1000 → 200', async () => {
  assertSessionResponse(assertJsonOk(await k.post(SESSIONS, US_EXAMPLE)));
});

test('Klarna docs tax example accepted: GB 59500 @20 % tax 9917 + 2900 @20 % tax 483, order tax 10400 → 200', async () => {
  assertSessionResponse(assertJsonOk(await k.post(SESSIONS, GB_TAX_EXAMPLE)));
});

test('Klarna docs tax example rejected: same amounts with tax_rate 2500 → 400 Bad value: order_lines[0].total_tax_amount', async () => {
  const body = clone(GB_TAX_EXAMPLE);
  body.order_lines.forEach((l) => { l.tax_rate = 2500; });
  assertBadValue(await k.post(SESSIONS, body), 'order_lines[0].total_tax_amount');
});

test('read-only fields on create (status, expires_at, client_token, payment_method_categories) are ignored', async () => {
  const body = {
    ...clone(SE_EXAMPLE),
    status: 'complete',
    expires_at: '2000-01-01T00:00:00.000Z',
    client_token: 'forged',
    payment_method_categories: [{ identifier: 'pay_now', name: 'x' }],
  };
  const created = assertJsonOk(await k.post(SESSIONS, body));
  assert.notEqual(created.client_token, 'forged');
  assert.deepEqual(created.payment_method_categories.map((c) => c.identifier), ['klarna']);
  const read = assertJsonOk(await k.get(`${SESSIONS}/${created.session_id}`));
  assert.equal(read.status, 'incomplete');
  assert.notEqual(read.expires_at, '2000-01-01T00:00:00.000Z');
});

test('optional session fields (references, merchant_data, addresses, options, attachment, customer) are accepted on create', async () => {
  const body = {
    ...cart('GB'),
    locale: 'en-GB',
    order_tax_amount: 1667,
    order_lines: [{ type: 'physical', name: 'Mug', quantity: 1, unit_price: 10000, total_amount: 10000,
      tax_rate: 2000, total_tax_amount: 1667, quantity_unit: 'pcs', reference: 'MUG-1', merchant_data: 'm',
      product_identifiers: { brand: 'Acme', category_path: 'Kitchen > Mugs', global_trade_item_number: '7312345678901',
        manufacturer_part_number: 'M-1', color: 'blue', size: 'L' } }],
    merchant_reference1: 'order-1001',
    merchant_reference2: 'internal-77',
    merchant_data: '{"k":"v"}',
    billing_address: { given_name: 'Jane', family_name: 'Doe', email: 'jane@example.com', title: 'Ms',
      street_address: '1 High Street', postal_code: 'W1 1AA', city: 'London', phone: '07700900123', country: 'GB' },
    shipping_address: { given_name: 'Jane', family_name: 'Doe', street_address: '1 High Street',
      postal_code: 'W1 1AA', city: 'London', country: 'GB' },
    options: { color_border: '#FF0000', color_border_selected: '#00FF00', color_details: '#0000FF',
      color_text: '#123ABC', radius_border: '5px' },
    attachment: { content_type: 'application/vnd.klarna.internal.emd-v2+json', body: '{"customer_account_info":[]}' },
    custom_payment_method_ids: ['promo1'],
    customer: { date_of_birth: '1980-01-01', gender: 'female', type: 'person' },
    merchant_urls: { confirmation: 'https://shop.example/confirm?sid={session.id}',
      notification: 'https://shop.example/notify', push: 'https://shop.example/push',
      authorization: 'https://shop.example/auth' },
  };
  assertSessionResponse(assertJsonOk(await k.post(SESSIONS, body)));
});

test('a discount line (negative unit_price/total/tax) is accepted', async () => {
  const body = cart('SE', {
    order_amount: 9000,
    order_tax_amount: 1800,
    order_lines: [
      { type: 'physical', name: 'Thing', quantity: 1, unit_price: 10000, total_amount: 10000, tax_rate: 2500, total_tax_amount: 2000 },
      { type: 'discount', name: 'Promo', quantity: 1, unit_price: -1000, total_amount: -1000, tax_rate: 2500, total_tax_amount: -200 },
    ],
  });
  assertSessionResponse(assertJsonOk(await k.post(SESSIONS, body)));
});

test('classic merchant: pay_later "Pay later." and pay_over_time "Slice it." in the US (no pay_now)', async () => {
  const body = assertJsonOk(await k.post(SESSIONS, US_EXAMPLE, { auth: 'c' }));
  assert.deepEqual(body.payment_method_categories.map(({ identifier, name }) => ({ identifier, name })).sort((x, y) => x.identifier.localeCompare(y.identifier)), [
    { identifier: 'pay_later', name: 'Pay later.' },
    { identifier: 'pay_over_time', name: 'Slice it.' },
  ]);
  for (const c of body.payment_method_categories) {
    assert.deepEqual(c.asset_urls, {
      descriptive: `${k.publicUrl}/kasse/assets/descriptive/${c.identifier}.svg`,
      standard: `${k.publicUrl}/kasse/assets/badges/${c.identifier}.svg`,
    });
  }
});

test('classic merchant: pay_now "Pay now." is offered exactly in SE, DE, AT, NL, FI, CH, BE, DK, NO, GB', async () => {
  const { MARKETS, PAY_NOW_COUNTRIES } = await import('./fixtures.mjs');
  for (const country of Object.keys(MARKETS)) {
    const res = await k.post(SESSIONS, cart(country), { auth: 'c' });
    const body = assertJsonOk(res);
    const cats = Object.fromEntries(body.payment_method_categories.map((c) => [c.identifier, c.name]));
    const expected = { pay_later: 'Pay later.', pay_over_time: 'Slice it.' };
    if (PAY_NOW_COUNTRIES.includes(country)) expected.pay_now = 'Pay now.';
    assert.deepEqual(cats, expected, `categories in ${country}`);
    assert.equal(body.payment_method_categories.length, Object.keys(expected).length, `no duplicates in ${country}`);
  }
});

test('classic merchant categories are the same on GET as on create', async () => {
  const created = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth: 'c' }));
  const read = assertJsonOk(await k.get(`${SESSIONS}/${created.session_id}`, { auth: 'c' }));
  assert.deepEqual(read.payment_method_categories, created.payment_method_categories);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
