// Validation rules on session create (contract 2.8, 2.10, 8): each case breaks exactly one rule
// of an otherwise valid cart and expects 400 BAD_VALUE "Bad value: <json path>".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKasse, assertJsonOk, assertBadValue, assertError } from './harness.mjs';
import { cart, line, clone, MARKETS, SE_EXAMPLE, US_EXAMPLE } from './fixtures.mjs';

let k;
before(async () => { k = await startKasse(); });
after(async () => { await k?.kill(); });

const SESSIONS = '/payments/v1/sessions';
const create = (body) => k.post(SESSIONS, body);
const createRaw = (raw) => k.request('POST', SESSIONS, { raw });
const ok = async (body, what) => {
  const res = await create(body);
  assert.equal(res.status, 200, `${what ?? 'valid cart'} rejected: ${res.text}`);
  return assertJsonOk(res);
};
const without = (o, ...keys) => { const c = clone(o); for (const key of keys) delete c[key]; return c; };

// ---------- required fields ----------

test('missing required fields are reported together in order: purchase_country, purchase_currency, order_amount, order_lines', async () => {
  const base = cart('SE');
  assertBadValue(await create(without(base, 'purchase_country', 'purchase_currency', 'order_amount', 'order_lines', 'order_tax_amount')),
    'purchase_country, purchase_currency, order_amount, order_lines');
  assertBadValue(await create(without(base, 'purchase_country')), 'purchase_country');
  assertBadValue(await create(without(base, 'purchase_currency')), 'purchase_currency');
  assertBadValue(await create(without(base, 'order_amount')), 'order_amount');
  assertBadValue(await create(without(base, 'order_lines')), 'order_lines');
  assertBadValue(await create(without(base, 'purchase_currency', 'order_lines')), 'purchase_currency, order_lines');
  assertBadValue(await create(without(base, 'purchase_country', 'order_amount')), 'purchase_country, order_amount');
});

test('order_tax_amount and locale are optional on create', async () => {
  await ok(without(cart('SE'), 'locale'), 'cart without locale');
  await ok(without(cart('US'), 'order_tax_amount'), 'US cart without order_tax_amount');
});

test('a US cart with a sales_tax line and no order_tax_amount is accepted: order_tax_amount is derived as the sales_tax lines\' sum (Klarna, recorded)', async () => {
  const s = await ok(without(US_EXAMPLE, 'order_tax_amount'), 'US sales-tax cart without order_tax_amount');
  const read = assertJsonOk(await k.get(`${SESSIONS}/${s.session_id}`));
  assert.equal(read.order_tax_amount, 1000);
});

test('enums in any case are accepted and read back in Klarna\'s spelling: acquiring_channel "ecommerce", intent "BUY", order_lines[].type "PHYSICAL"', async () => {
  const body = clone(SE_EXAMPLE);
  body.acquiring_channel = 'ecommerce';
  body.intent = 'BUY';
  body.order_lines[0].type = 'PHYSICAL';
  const s = await ok(body, 'lowercase/uppercase enums');
  const read = assertJsonOk(await k.get(`${SESSIONS}/${s.session_id}`));
  assert.equal(read.acquiring_channel, 'ECOMMERCE');
  assert.equal(read.intent, 'buy');
  assert.equal(read.order_lines[0].type, 'physical');
  assertBadValue(await create({ ...clone(SE_EXAMPLE), acquiring_channel: 'online' }), 'acquiring_channel');
});

test('"" for an optional string (order_lines[].quantity_unit, reference) is accepted and read back as "" (Klarna, recorded)', async () => {
  const body = clone(SE_EXAMPLE);
  body.order_lines[0].quantity_unit = '';
  body.order_lines[0].reference = '';
  const s = await ok(body, 'empty optional strings');
  // payments.json gives quantity_unit minLength 1, but Klarna reads "" back (recorded traffic,
  // which wins): this read goes directly to Kasse so the proxy's schema check is not applied.
  const read = assertJsonOk(await k.get(`${SESSIONS}/${s.session_id}`, { direct: true }));
  assert.equal(read.order_lines[0].quantity_unit, '');
  assert.equal(read.order_lines[0].reference, '');
});

// ---------- market table ----------

test('market table: every country accepts its currency with each of its locales', async () => {
  for (const [country, [currency, locales]] of Object.entries(MARKETS)) {
    for (const locale of locales) {
      await ok(cart(country, { purchase_currency: currency, locale }), `${country}/${currency}/${locale}`);
    }
  }
});

test('market table: a currency that is not the country\'s → 400 Bad value: purchase_currency', async () => {
  for (const [country, currency] of [['SE', 'EUR'], ['DE', 'SEK'], ['US', 'CAD'], ['GB', 'EUR'], ['CH', 'EUR'], ['NO', 'SEK'], ['SE', 'XXX']]) {
    assertBadValue(await create(cart(country, { purchase_currency: currency })), 'purchase_currency');
  }
});

test('market table: a locale not listed for the country → 400 Bad value: locale', async () => {
  for (const [country, locale] of [['SE', 'de-DE'], ['SE', 'en-US'], ['GB', 'en-US'], ['US', 'en-GB'], ['DE', 'fr-DE'], ['CH', 'es-CH'], ['SE', 'xx'], ['SE', 'sv']]) {
    assertBadValue(await create(cart(country, { locale })), 'locale');
  }
});

test('a country Klarna does not sell in → 400 Bad value: purchase_country', async () => {
  for (const c of ['JP', 'XX', 'S', 'SWE']) {
    assertBadValue(await create(cart('SE', { purchase_country: c })), 'purchase_country');
  }
});

// ---------- line arithmetic ----------

test('line arithmetic: total_amount ≠ quantity × unit_price − total_discount_amount → Bad value: order_lines[i].total_amount', async () => {
  const b = cart('SE');
  b.order_lines[0].total_amount = 10001;
  b.order_amount = 10001;
  assertBadValue(await create(b), 'order_lines[0].total_amount');
  const c = cart('SE', { order_amount: 20000, order_tax_amount: 4000, order_lines: [line(10000, 2500, 2000), line(10000, 2500, 2000, { quantity: 2, unit_price: 5000, total_discount_amount: 1 })] });
  assertBadValue(await create(c), 'order_lines[1].total_amount');
});

test('line arithmetic with a discount: 3 × 4000 − 2000 = 10000 is accepted', async () => {
  await ok(cart('SE', { order_lines: [line(10000, 2500, 2000, { quantity: 3, unit_price: 4000, total_discount_amount: 2000 })] }));
});

test('line fields: quantity < 0, tax_rate > 10000 or < 0, total_discount_amount < 0, unit_price > 200000000 → bad value at the field', async () => {
  const cases = [
    [{ quantity: -1, total_amount: -10000 }, 'quantity'],
    [{ tax_rate: 10001 }, 'tax_rate'],
    [{ tax_rate: -1 }, 'tax_rate'],
    [{ total_discount_amount: -1 }, 'total_discount_amount'],
  ];
  for (const [patch, field] of cases) {
    const b = cart('SE');
    Object.assign(b.order_lines[0], patch);
    assertBadValue(await create(b), `order_lines[0].${field}`);
  }
  const big = cart('US', { order_amount: 200000001, order_lines: [line(200000001, 0, 0)] });
  assertBadValue(await create(big), /^Bad value: order_lines\[0\]\.(unit_price|total_amount)$/);
});

test('line fields: name missing or empty, name over 255 chars → Bad value: order_lines[i].name', async () => {
  for (const name of [undefined, '', 'n'.repeat(256)]) {
    const b = cart('SE');
    if (name === undefined) delete b.order_lines[0].name; else b.order_lines[0].name = name;
    assertBadValue(await create(b), 'order_lines[0].name');
  }
  const b = cart('SE');
  b.order_lines[0].name = 'n'.repeat(255);
  await ok(b, 'name of 255 chars');
});

test('line fields: unknown type → Bad value: order_lines[i].type', async () => {
  const b = cart('SE');
  b.order_lines[0].type = 'spaceship';
  assertBadValue(await create(b), 'order_lines[0].type');
});

test('order_lines: empty array or more than 1000 lines → Bad value: order_lines', async () => {
  assertBadValue(await create(cart('SE', { order_lines: [], order_amount: 0, order_tax_amount: 0 })), 'order_lines');
  const lines = Array.from({ length: 1001 }, () => line(100, 0, 0));
  assertBadValue(await create(cart('SE', { order_lines: lines, order_amount: 100100, order_tax_amount: 0 })), 'order_lines');
});

test('order_lines: exactly 1000 lines are accepted', async () => {
  const lines = Array.from({ length: 1000 }, () => line(100, 0, 0));
  await ok(cart('SE', { order_lines: lines, order_amount: 100000, order_tax_amount: 0 }), '1000 lines');
});

// ---------- tax, global model ----------

test('line tax tolerance ±1: |tax·(10000+rate) − total·rate| ≤ 10000+rate (10000 @ 25 %: 1999..2001 ok)', async () => {
  for (const tax of [1999, 2000, 2001]) {
    await ok(cart('SE', { order_tax_amount: tax, order_lines: [line(10000, 2500, tax)] }), `tax ${tax}`);
  }
});

test('line tax outside ±1 → Bad value: order_lines[i].total_tax_amount (10000 @ 25 %: 1998 and 2002 rejected)', async () => {
  for (const tax of [1998, 2002, 0]) {
    assertBadValue(await create(cart('SE', { order_tax_amount: tax, order_lines: [line(10000, 2500, tax)] })), 'order_lines[0].total_tax_amount');
  }
  const two = cart('SE', { order_amount: 20000, order_tax_amount: 4003, order_lines: [line(10000, 2500, 2000), line(10000, 2500, 2003)] });
  assertBadValue(await create(two), 'order_lines[1].total_tax_amount');
});

test('zero tax rate requires zero line tax', async () => {
  await ok(cart('SE', { order_tax_amount: 0, order_lines: [line(10000, 0, 0)] }), '0 % line');
  assertBadValue(await create(cart('SE', { order_tax_amount: 2, order_lines: [line(10000, 0, 2)] })), 'order_lines[0].total_tax_amount');
});

test('order_amount must equal Σ line total_amount → Bad value: order_amount', async () => {
  for (const amount of [9999, 10001, 0]) {
    assertBadValue(await create(cart('SE', { order_amount: amount })), 'order_amount');
  }
});

test('order_tax_amount within ±(number of lines) of Σ line taxes (2 lines: Σ±2 accepted)', async () => {
  const lines = [line(10000, 2500, 2000), line(10000, 2500, 2001)];
  for (const t of [3999, 4001, 4003]) {
    await ok(cart('SE', { order_amount: 20000, order_tax_amount: t, order_lines: lines }), `order tax ${t}`);
  }
});

test('order_tax_amount beyond ±(number of lines) of Σ line taxes → Bad value: order_tax_amount', async () => {
  const lines = [line(10000, 2500, 2000), line(10000, 2500, 2001)];
  for (const t of [3998, 4004, 0]) {
    assertBadValue(await create(cart('SE', { order_amount: 20000, order_tax_amount: t, order_lines: lines })), 'order_tax_amount');
  }
  assertBadValue(await create(cart('SE', { order_tax_amount: 2002 })), 'order_tax_amount');
});

test('negative order_amount / order_tax_amount → bad value at the field', async () => {
  assertBadValue(await create(cart('SE', { order_tax_amount: -1, order_lines: [line(10000, 0, 0)] })), 'order_tax_amount');
  assertBadValue(await create(cart('SE', { order_amount: -10000, order_tax_amount: 0,
    order_lines: [line(-10000, 0, 0, { type: 'discount' })] })), 'order_amount');
});

// ---------- tax, US model ----------

test('US sales_tax model: several sales_tax lines, order_tax_amount = Σ sales_tax totals → 200', async () => {
  const b = clone(US_EXAMPLE);
  b.order_lines.push({ type: 'sales_tax', name: 'City Tax', quantity: 1, unit_price: 250, total_amount: 250 });
  b.order_amount = 21250;
  b.order_tax_amount = 1250;
  await ok(b, 'two sales_tax lines');
});

test('US sales_tax model: order_tax_amount ≠ Σ sales_tax totals → Bad value: order_tax_amount', async () => {
  for (const t of [0, 999, 1001]) {
    assertBadValue(await create({ ...clone(US_EXAMPLE), order_tax_amount: t }), 'order_tax_amount');
  }
});

test('US sales_tax model: order_amount includes the sales_tax line (20000 without it → Bad value: order_amount)', async () => {
  assertBadValue(await create({ ...clone(US_EXAMPLE), order_amount: 20000 }), 'order_amount');
});

test('US sales_tax model: other lines carry no tax when a sales_tax line is present → bad value at that line', async () => {
  const b = clone(US_EXAMPLE);
  b.order_lines[0].tax_rate = 500;
  b.order_lines[0].total_tax_amount = 952;
  assertBadValue(await create(b), /^Bad value: order_lines\[0\]\.(tax_rate|total_tax_amount)$/);
});

test('sales_tax lines are only allowed in the US → bad value at that line elsewhere', async () => {
  const b = cart('SE', {
    order_amount: 11000,
    order_tax_amount: 0,
    order_lines: [line(10000, 0, 0), { type: 'sales_tax', name: 'Tax', quantity: 1, unit_price: 1000, total_amount: 1000 }],
  });
  assertBadValue(await create(b), /^Bad value: order_lines\[1\](\.type)?$/);
});

// ---------- types, reals, overflow ----------

test('wrong JSON types at top level → Bad value: <field>', async () => {
  const cases = [
    ['purchase_country', 46], ['purchase_currency', ['SEK']], ['order_amount', '10000'], ['order_tax_amount', '2000'],
    ['order_lines', {}], ['locale', 1], ['intent', true], ['merchant_urls', 'https://x'], ['billing_address', 'x'],
    ['merchant_reference1', 5], ['order_amount', null], ['order_amount', true],
  ];
  for (const [field, value] of cases) {
    assertBadValue(await create(cart('SE', { [field]: value })), field);
  }
});

test('wrong JSON types inside a line → Bad value: order_lines[i].<field>', async () => {
  for (const [field, value] of [['quantity', '2'], ['unit_price', '5000'], ['total_amount', [10000]], ['tax_rate', '2500'],
    ['total_tax_amount', { v: 2000 }], ['name', 7], ['reference', 1]]) {
    const b = cart('SE');
    b.order_lines[0][field] = value;
    assertBadValue(await create(b), `order_lines[0].${field}`);
  }
  assertBadValue(await create(cart('SE', { order_lines: ['line'] })), 'order_lines[0]');
});

test('reals where integers are expected (100.5, 100.0, 1e2) → Bad value at that path', async () => {
  const base = JSON.stringify(cart('SE'));
  assertBadValue(await createRaw(base.replace('"order_amount":10000', '"order_amount":10000.5')), 'order_amount');
  assertBadValue(await createRaw(base.replace('"order_amount":10000', '"order_amount":10000.0')), 'order_amount');
  assertBadValue(await createRaw(base.replace('"order_amount":10000', '"order_amount":1e4')), 'order_amount');
  assertBadValue(await createRaw(base.replace('"order_tax_amount":2000', '"order_tax_amount":2000.0')), 'order_tax_amount');
  assertBadValue(await createRaw(base.replace('"quantity":2', '"quantity":2.0')), 'order_lines[0].quantity');
  assertBadValue(await createRaw(base.replace('"tax_rate":2500', '"tax_rate":2500.0')), 'order_lines[0].tax_rate');
  assertBadValue(await createRaw(base.replace('"unit_price":5000', '"unit_price":5000.5')), 'order_lines[0].unit_price');
});

test('overflowing amounts never cause 5xx: quantity 9223372036854775807 → bad value in that line', async () => {
  const base = JSON.stringify(cart('SE'));
  const res = await createRaw(base.replace('"quantity":2', '"quantity":9223372036854775807'));
  assertBadValue(res, /^Bad value: order_lines\[0\]\.(quantity|total_amount|unit_price)$/);
});

test('overflowing amounts: integers beyond int64 → Bad value at that path', async () => {
  const base = JSON.stringify(cart('SE'));
  assertBadValue(await createRaw(base.replace('"order_amount":10000', '"order_amount":9223372036854775808')), 'order_amount');
  assertBadValue(await createRaw(base.replace('"order_amount":10000', '"order_amount":-9223372036854775809')), 'order_amount');
  assertBadValue(await createRaw(base.replace('"order_amount":10000', '"order_amount":99999999999999999999999999')), 'order_amount');
  assertBadValue(await createRaw(base.replace('"order_amount":10000', '"order_amount":1e400')), 'order_amount');
  assertBadValue(await createRaw(base.replace('"quantity":2', '"quantity":18446744073709551617')), 'order_lines[0].quantity');
});

test('overflowing sums: order_amount 9223372036854775807 and huge line totals → 400 BAD_VALUE, never 5xx', async () => {
  const base = JSON.stringify(cart('SE'));
  assertBadValue(await createRaw(base.replace('"order_amount":10000', '"order_amount":9223372036854775807')), 'order_amount');
  const raw = base.replace('"quantity":2', '"quantity":9223372036854775807').replace('"unit_price":5000', '"unit_price":-9223372036854775807')
    .replace('"total_discount_amount":0', '"total_discount_amount":9223372036854775807');
  assertError(await createRaw(raw), 400, 'BAD_VALUE');
  const tax = base.replace('"total_tax_amount":2000', '"total_tax_amount":9223372036854775807');
  assertError(await createRaw(tax), 400, 'BAD_VALUE');
  const lines = JSON.stringify(cart('SE', { order_amount: 0, order_tax_amount: 0,
    order_lines: [line(200000000, 0, 0), line(200000000, 0, 0)] })).replace(/"quantity":1/g, '"quantity":4611686018427387904');
  assertError(await createRaw(lines), 400, 'BAD_VALUE');
});

// ---------- strings, addresses, urls ----------

test('billing_address.postal_code longer than 10 → Bad value: billing_address.postal_code', async () => {
  const b = cart('SE', { billing_address: { given_name: 'Test', family_name: 'Person', postal_code: '12345678901', country: 'SE' } });
  assertBadValue(await create(b), 'billing_address.postal_code');
  const s = cart('SE', { shipping_address: { postal_code: '12345678901' } });
  assertBadValue(await create(s), 'shipping_address.postal_code');
});

test('address fields over 99 chars → Bad value: billing_address.<field>', async () => {
  assertBadValue(await create(cart('SE', { billing_address: { city: 'c'.repeat(100) } })), 'billing_address.city');
  assertBadValue(await create(cart('SE', { billing_address: { given_name: 'g'.repeat(100) } })), 'billing_address.given_name');
});

test('string limits: merchant_reference1/2 > 255, merchant_data > 6000 → bad value at the field', async () => {
  assertBadValue(await create(cart('SE', { merchant_reference1: 'r'.repeat(256) })), 'merchant_reference1');
  assertBadValue(await create(cart('SE', { merchant_reference2: 'r'.repeat(256) })), 'merchant_reference2');
  assertBadValue(await create(cart('SE', { merchant_data: 'd'.repeat(6001) })), 'merchant_data');
  await ok(cart('SE', { merchant_reference1: 'r'.repeat(255), merchant_data: 'd'.repeat(6000) }), 'strings at their limits');
});

test('merchant_urls: a URL over 2000 chars → Bad value: merchant_urls.<field>', async () => {
  const url = 'https://example.com/' + 'a'.repeat(2000);
  assertBadValue(await create(cart('SE', { merchant_urls: { authorization: url } })), 'merchant_urls.authorization');
});

test('acquiring_channel outside ECOMMERCE, IN_STORE, TELESALES → Bad value: acquiring_channel', async () => {
  for (const ch of ['ECOMMERCE', 'IN_STORE', 'TELESALES']) await ok(cart('SE', { acquiring_channel: ch }), ch);
  assertBadValue(await create(cart('SE', { acquiring_channel: 'MAIL' })), 'acquiring_channel');
});

test('subscription on a line: interval outside DAY/WEEK/MONTH/YEAR or interval_count < 1 → bad value at the field', async () => {
  const withSub = (sub) => { const b = cart('SE', { intent: 'buy_and_tokenize' }); b.order_lines[0].subscription = sub; return b; };
  await ok(withSub({ name: 'Sub', interval: 'WEEK', interval_count: 2 }), 'valid subscription');
  assertBadValue(await create(withSub({ name: 'Sub', interval: 'HOUR', interval_count: 1 })), 'order_lines[0].subscription.interval');
  assertBadValue(await create(withSub({ name: 'Sub', interval: 'MONTH', interval_count: 0 })), 'order_lines[0].subscription.interval_count');
});

test('the SE example still validates after all of the above (server state not poisoned)', async () => {
  await ok(clone(SE_EXAMPLE), 'SE example');
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
