// Hosted Payment Page, create (contract 4.1-4.5, 4.10; docs/hpp.md): POST /hpp/v1/sessions →
// 201 SessionCreationResponseV1 (URLs under --public-url, the page, its QR code, expires_at =
// KP expires_at − 1 h), payment_session_url rules (any host; malformed, unknown, another
// merchant's, expiring, expired, completed KP sessions), options and merchant_urls validation
// with field paths, several HPP sessions per KP session, Klarna-Idempotency-Key, isolation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertError, assertBadValue, UUID_RE, ISO_MS, MERCHANTS,
} from './harness.mjs';
import {
  SE_EXAMPLE, HPP, HPP_CREATE_FIELDS, PNG_SIGNATURE, hppClient, paymentSessionUrl, pageIdOf, getBytes,
  orderRequest,
} from './fixtures.mjs';

let k;
let h;
before(async () => {
  k = await startKasse({ testClock: true, merchants: [MERCHANTS.a, MERCHANTS.b, MERCHANTS.c] });
  h = hppClient(k);
});
after(async () => { await k?.kill(); });

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const HOUR_MS = 3600_000;
const notFoundKp = (res) => assertError(res, 404, 'NOT_FOUND', ['Payment session not found']);
const expiredKp = (res) => assertError(res, 404, 'NOT_FOUND', ['Payment session has expired']);
const hppNotFound = (res) => assertError(res, 404, 'NOT_FOUND', ['HPP session not found']);
const pathOf = (url) => { const u = new URL(url); return u.pathname + u.search; };

// ---------- the 201 reply ----------

test('create: 201 with exactly the SessionCreationResponseV1 fields, all URLs absolute under --public-url', async () => {
  const kp = await h.kpSession();
  const res = await h.create({ kp });
  const s = assertJsonOk(res, 201);
  assert.deepEqual(Object.keys(s).sort(), HPP_CREATE_FIELDS, res.text);
  assert.match(s.session_id, UUID_RE, 'session_id is a UUID');
  const page = pageIdOf(s.redirect_url);
  assert.match(page, UUID_V4, 'the page id is a UUIDv4');
  assert.notEqual(page, s.session_id, 'the page id is not the session id');
  const pub = k.publicUrl; // http://localhost:PORT, while Kasse listens on 127.0.0.1
  assert.equal(s.redirect_url, `${pub}/hpp/payments/${page}`);
  assert.equal(s.session_url, `${pub}${HPP}/${s.session_id}`);
  assert.equal(s.distribution_url, `${pub}${HPP}/${s.session_id}/distribution`);
  assert.equal(s.qr_code_url, `${pub}/hpp/payments/${page}/qr`);
  assert.equal(s.manual_identification_check_url, `${pub}${HPP}/${s.session_id}/manual-id-check`);
  assert.match(s.expires_at, ISO_MS);
  assert.deepEqual(Object.keys(s.distribution_module).sort(), ['generation_url', 'standalone_url', 'token'], res.text);
  assert.equal(typeof s.distribution_module.token, 'string');
  assert.ok(s.distribution_module.token.length > 0, 'distribution_module.token is not empty');
  assert.equal(s.distribution_module.standalone_url, `${pub}/hpp/distributions/${page}`);
  assert.equal(s.distribution_module.generation_url, `${pub}${HPP}/${s.session_id}/distribution-module/token`);
});

test('create: ids, page ids and distribution tokens differ between sessions', async () => {
  const a = await h.createOk();
  const b = await h.createOk();
  assert.notEqual(a.session_id, b.session_id);
  assert.notEqual(a.page_id, b.page_id);
  assert.notEqual(a.distribution_module.token, b.distribution_module.token);
});

test('create: expires_at = the KP session\'s expires_at − 1 hour (KP read GET /payments/v1/sessions/{id})', async () => {
  await h.advance(3 * 3600); // a KP session made later on Kasse's clock
  const kp = await h.kpSession();
  const kpExp = assertJsonOk(await k.get(`/payments/v1/sessions/${kp}`)).expires_at;
  const s = await h.createOk({ kp });
  assert.equal(Date.parse(s.expires_at), Date.parse(kpExp) - HOUR_MS, `HPP ${s.expires_at}, KP ${kpExp}`);
  const r = await h.readOk(s.session_id);
  assert.equal(r.expires_at, s.expires_at, 'read shows the same expires_at');
});

test('create: redirect_url serves the hosted page to anyone (GET without credentials → 200 text/html)', async () => {
  const s = await h.createOk();
  const u = new URL(s.redirect_url);
  assert.equal(u.host, `localhost:${k.port}`, 'built from --public-url, not from the Host header');
  const res = await k.get(u.pathname, { auth: null });
  assert.equal(res.status, 200, res.text.slice(0, 300));
  assert.match(res.headers['content-type'], /^text\/html\b/);
  assert.match(res.text, /<html/i);
});

test('create: qr_code_url → 200 image/png (PNG signature), no credentials needed', async () => {
  const s = await h.createOk();
  const res = await getBytes(k, pathOf(s.qr_code_url));
  assert.equal(res.status, 200, res.body.toString('utf8').slice(0, 300));
  assert.match(res.headers['content-type'], /^image\/png\b/);
  assert.ok(res.body.length > PNG_SIGNATURE.length, 'a PNG body');
  assert.deepEqual(res.body.subarray(0, 8), PNG_SIGNATURE, 'starts with the PNG signature');
});

test('create: session_url is the read endpoint (GET with Basic auth → 200, this session, WAITING); without auth → 401', async () => {
  const s = await h.createOk();
  const r = assertJsonOk(await k.get(pathOf(s.session_url)));
  assert.equal(r.session_id, s.session_id);
  assert.equal(r.status, 'WAITING');
  const res = await k.get(pathOf(s.session_url), { auth: null });
  assertError(res, 401, 'UNAUTHORIZED', []);
});

test('create: distribution_module.standalone_url → 200 text/html holding the redirect_url', async () => {
  const s = await h.createOk();
  const res = await k.get(pathOf(s.distribution_module.standalone_url), { auth: null });
  assert.equal(res.status, 200, res.text.slice(0, 300));
  assert.match(res.headers['content-type'], /^text\/html\b/);
  assert.ok(res.text.includes(s.redirect_url), 'the stand-alone page shows the link');
});

test('create: requires merchant Basic auth → 401 UNAUTHORIZED with WWW-Authenticate', async () => {
  const kp = await h.kpSession();
  const res = await h.create({ kp, auth: null });
  assertError(res, 401, 'UNAUTHORIZED', []);
  assert.equal(res.headers['www-authenticate'], 'Basic realm="Kasse"');
});

// ---------- payment_session_url ----------

test('payment_session_url: any scheme and host is accepted when the path ends in /payments/v1/sessions/{id}', async () => {
  const kp = await h.kpSession();
  for (const base of ['https://api.playground.klarna.com', 'https://api.klarna.com', 'https://api-na.playground.klarna.com',
    k.publicUrl, `http://127.0.0.1:${k.port}`, 'http://shop.internal:8080']) {
    const res = await h.create({ body: { payment_session_url: paymentSessionUrl(kp, base) } });
    assertJsonOk(res, 201);
  }
});

test('payment_session_url: malformed → 400 BAD_VALUE "Bad value: payment_session_url"', async () => {
  const kp = await h.kpSession();
  const bad = ['', 'not a url', kp, `/payments/v1/sessions/${kp}`.slice(1),
    'https://api.klarna.com/payments/v1/sessions/', 'https://api.klarna.com/payments/v1/sessions/not-a-uuid',
    `https://api.klarna.com/payments/v1/sessions/${kp}/extra`, `https://api.klarna.com/payments/v2/sessions/${kp}`,
    `https://api.klarna.com/checkout/v3/orders/${kp}`, 42, true, null, {}, [paymentSessionUrl(kp)]];
  for (const v of bad) {
    const res = await h.create({ body: { payment_session_url: v } });
    assertBadValue(res, 'payment_session_url');
  }
});

test('payment_session_url: missing (empty object, only options) → 400 "Bad value: payment_session_url"', async () => {
  assertBadValue(await k.post(HPP, {}), 'payment_session_url');
  assertBadValue(await k.post(HPP, { options: { place_order_mode: 'NONE' } }), 'payment_session_url');
  assertBadValue(await k.request('POST', HPP), 'payment_session_url'); // no body at all = {}
});

test('payment_session_url: an unknown KP session → 404 NOT_FOUND "Payment session not found"', async () => {
  notFoundKp(await h.create({ kp: crypto.randomUUID() }));
});

test('payment_session_url: merchant B\'s KP session → 404 "Payment session not found" for merchant A', async () => {
  const kpB = await h.kpSession(SE_EXAMPLE, 'b');
  notFoundKp(await h.create({ kp: kpB, auth: 'a' }));
  assertJsonOk(await h.create({ kp: kpB, auth: 'b' }), 201); // its owner can
});

test('payment_session_url: less than one hour before the KP session expires → 404 "Payment session has expired"; expired likewise', async () => {
  const early = await h.kpSession();
  const late = await h.kpSession();
  await h.advance(47 * 3600 - 60); // 1 h 1 min left
  const ok = await h.createOk({ kp: early });
  const kpExp = assertJsonOk(await k.get(`/payments/v1/sessions/${early}`)).expires_at;
  assert.equal(Date.parse(ok.expires_at), Date.parse(kpExp) - HOUR_MS);
  await h.advance(120); // 59 min left
  expiredKp(await h.create({ kp: late }));
  await h.advance(3600); // the KP session itself has expired
  expiredKp(await h.create({ kp: early }));
});

test('payment_session_url: a completed KP session (order created) → 400 BAD_VALUE "Payment session has already been completed"', async () => {
  const kp = await h.kpSession();
  const a = assertJsonOk(await k.post(`/kasse/v1/sessions/${kp}/authorize`, {}));
  assert.equal(a.approved, true);
  // Authorized but no order yet: not completed, HPP still allowed.
  assertJsonOk(await h.create({ kp }), 201);
  assertJsonOk(await k.post(`/payments/v1/authorizations/${a.authorization_token}/order`, orderRequest(SE_EXAMPLE)));
  assertError(await h.create({ kp }), 400, 'BAD_VALUE', ['Payment session has already been completed']);
});

// ---------- options and merchant_urls validation ----------

const long = (n, prefix = '') => prefix + 'a'.repeat(n - prefix.length);
const IMG = 'https://shop.example/bg-1200.jpg';

const BAD_OPTIONS = [
  [{ place_order_mode: 'SOMETIMES' }, 'options.place_order_mode'],
  [{ place_order_mode: 1 }, 'options.place_order_mode'],
  [{ payment_method_category: 'KLARNA', payment_method_categories: ['KLARNA'] }, 'options.payment_method_categories'],
  [{ payment_method_categories: ['KLARNA', 'PAY_LATER'] }, 'options.payment_method_categories[1]'],
  [{ payment_method_categories: ['BITCOIN'] }, 'options.payment_method_categories[0]'],
  [{ payment_method_categories: 'KLARNA' }, 'options.payment_method_categories'],
  [{ payment_method_category: 'PAY_LATER' }, 'options.payment_method_category'],
  [{ payment_method_category: 'BITCOIN' }, 'options.payment_method_category'],
  [{ payment_fallback: 'yes' }, 'options.payment_fallback'],
  [{ purchase_type: 'STEAL' }, 'options.purchase_type'],
  [{ page_title: long(256) }, 'options.page_title'],
  [{ page_title: 7 }, 'options.page_title'],
  [{ logo_url: 'ftp://shop.example/logo.png' }, 'options.logo_url'],
  [{ logo_url: 'not a url' }, 'options.logo_url'],
  [{ logo_url: long(2001, 'https://shop.example/') }, 'options.logo_url'],
  [{ background_images: [{ url: IMG, width: -1 }] }, 'options.background_images[0].width'],
  [{ background_images: [{ url: IMG, width: 0 }] }, 'options.background_images[0].width'],
  [{ background_images: [{ url: IMG, width: 800 }, { url: IMG, width: '1200' }] }, 'options.background_images[1].width'],
  [{ background_images: Array.from({ length: 11 }, (_, i) => ({ url: IMG, width: 100 + i })) }, 'options.background_images'],
  [{ background_images: { url: IMG, width: 800 } }, 'options.background_images'],
  [{ show_subtotal_detail: 'SHOW' }, 'options.show_subtotal_detail'],
];

for (const [options, path] of BAD_OPTIONS) {
  test(`options: ${JSON.stringify(options).slice(0, 90)} → 400 BAD_VALUE "Bad value: ${path}"`, async () => {
    const kp = await h.kpSession();
    assertBadValue(await h.create({ kp, body: { options } }), path);
  });
}

test('options: not an object → 400 "Bad value: options"', async () => {
  const kp = await h.kpSession();
  for (const options of ['NONE', 5, [], true]) assertBadValue(await h.create({ kp, body: { options } }), 'options');
});

const BAD_URLS = [
  [{ success: 'not a url' }, 'merchant_urls.success'],
  [{ success: 'ftp://shop.example/ok' }, 'merchant_urls.success'],
  [{ cancel: 'mailto:shop@example.com' }, 'merchant_urls.cancel'],
  [{ back: 5 }, 'merchant_urls.back'],
  [{ failure: 'shop.example/fail' }, 'merchant_urls.failure'],
  [{ error: 'javascript:alert(1)' }, 'merchant_urls.error'],
  [{ status_update: long(2001, 'https://shop.example/') }, 'merchant_urls.status_update'],
];

for (const [urls, path] of BAD_URLS) {
  test(`merchant_urls: ${JSON.stringify(urls).slice(0, 80)} → 400 BAD_VALUE "Bad value: ${path}"`, async () => {
    const kp = await h.kpSession();
    assertBadValue(await h.create({ kp, body: { merchant_urls: urls } }), path);
  });
}

test('merchant_urls: not an object → 400 "Bad value: merchant_urls"; a 2000-character URL is accepted', async () => {
  const kp = await h.kpSession();
  assertBadValue(await h.create({ kp, body: { merchant_urls: 'https://shop.example' } }), 'merchant_urls');
  assertJsonOk(await h.create({ kp, body: { merchant_urls: { success: long(2000, 'https://shop.example/') } } }), 201);
});

test('profile_id: a string up to 255 characters is accepted; longer or not a string → 400 "Bad value: profile_id"', async () => {
  const kp = await h.kpSession();
  assertJsonOk(await h.create({ kp, body: { profile_id: '87ab3565-5e06-4006-9ada-8eedc6926703' } }), 201);
  assertJsonOk(await h.create({ kp, body: { profile_id: long(255) } }), 201);
  assertBadValue(await h.create({ kp, body: { profile_id: long(256) } }), 'profile_id');
  assertBadValue(await h.create({ kp, body: { profile_id: 42 } }), 'profile_id');
});

test('create: the full documented request (every option, every merchant URL with placeholders, legacy privacy_policy/terms) → 201', async () => {
  const kp = await h.kpSession();
  const base = 'https://example.com/%s?sid=11111111-2222-4333-8444-555555555555&hppId={{session_id}}';
  const u = (p) => base.replace('%s', p);
  const body = {
    merchant_urls: {
      success: `${u('success')}&token={{authorization_token}}&order={{order_id}}`,
      cancel: u('cancel'), back: u('back'), failure: u('fail'), error: u('error'),
      status_update: `${u('status_update')}&secret=yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy`,
      privacy_policy: 'https://example.com/privacy', terms: 'https://example.com/terms',
    },
    options: {
      place_order_mode: 'PLACE_ORDER', payment_method_categories: ['KLARNA'], payment_fallback: true,
      purchase_type: 'PAY', page_title: long(255), logo_url: 'data:image/png;base64,iVBORw0KGgo=',
      background_images: [{ url: 'https://example.com/bg-800.jpg', width: 800 }, { url: 'https://example.com/bg-1600.jpg', width: 1600 }],
      show_subtotal_detail: 'HIDE',
    },
    profile_id: '87ab3565-5e06-4006-9ada-8eedc6926703',
  };
  assertJsonOk(await h.create({ kp, body }), 201);
});

test('create: enums in any case are accepted and stored uppercase; the page shows them (purchase_type RENT, HIDE drops order lines)', async () => {
  const s = await h.createOk({ options: { place_order_mode: 'place_order', payment_method_category: 'klarna',
    purchase_type: 'rent', show_subtotal_detail: 'hide' } });
  const st = assertJsonOk(await h.state(s.page_id));
  assert.equal(st.purchase_type, 'RENT');
  assert.equal(st.show_subtotal_detail, 'HIDE');
  assert.equal('order_lines' in st, false, 'HIDE: no order lines in the page state');
  assert.deepEqual(st.categories.map((c) => c.identifier), ['klarna']);
  const mixed = await h.createOk({ options: { payment_method_categories: ['Klarna'], place_order_mode: 'Capture_Order' } });
  assert.equal(assertJsonOk(await h.state(mixed.page_id)).status, 'WAITING');
});

test('options: a classic merchant\'s categories (PAY_NOW, PAY_LATER, PAY_OVER_TIME) are accepted and the page offers only those chosen', async () => {
  const kp = await h.kpSession(SE_EXAMPLE, 'c');
  const s = await h.createOk({ kp, auth: 'c', options: { payment_method_categories: ['PAY_LATER', 'pay_over_time'] } });
  const st = assertJsonOk(await h.state(s.page_id));
  assert.deepEqual(st.categories.map((c) => c.identifier).sort(), ['pay_later', 'pay_over_time']);
  const one = await h.createOk({ kp, auth: 'c', options: { payment_method_category: 'PAY_NOW' } });
  assert.deepEqual(assertJsonOk(await h.state(one.page_id)).categories.map((c) => c.identifier), ['pay_now']);
  assertBadValue(await h.create({ kp, auth: 'c', body: { options: { payment_method_categories: ['PAY_LATER', 'KLARNA'] } } }),
    'options.payment_method_categories[1]');
  assertBadValue(await h.create({ kp, auth: 'c', body: { options: { payment_method_categories: ['PAY_NOW', 'PAY_LATER', 'DIRECT_DEBIT'] } } }),
    'options.payment_method_categories[2]');
});

test('options: no category option → the page offers every category of the KP session', async () => {
  const kp = await h.kpSession(SE_EXAMPLE, 'c');
  const offered = assertJsonOk(await k.get(`/payments/v1/sessions/${kp}`, { auth: 'c' }))
    .payment_method_categories.map((c) => c.identifier).sort();
  const s = await h.createOk({ kp, auth: 'c' });
  assert.deepEqual(assertJsonOk(await h.state(s.page_id)).categories.map((c) => c.identifier).sort(), offered);
});

// ---------- several sessions, idempotency, isolation, bodies ----------

test('create: several HPP sessions on one KP session → each 201 with its own session and page', async () => {
  const kp = await h.kpSession();
  const all = [];
  for (let i = 0; i < 3; i++) all.push(await h.createOk({ kp }));
  assert.equal(new Set(all.map((s) => s.session_id)).size, 3);
  assert.equal(new Set(all.map((s) => s.page_id)).size, 3);
  for (const s of all) assert.equal((await h.readOk(s.session_id)).status, 'WAITING');
});

test('create: at most 100 HPP sessions per KP session; the 101st → 400 BAD_VALUE', async () => {
  const kp = await h.kpSession();
  for (let i = 0; i < 100; i++) {
    const res = await h.create({ kp });
    assert.equal(res.status, 201, `session ${i + 1}: ${res.status} ${res.text}`);
  }
  const res = await h.create({ kp });
  assertError(res, 400, 'BAD_VALUE');
  assert.equal(res.json.error_messages.length, 1, res.text);
  assertJsonOk(await h.create({ kp: await h.kpSession() }), 201); // another KP session is not affected
});

test('create: manual_identification_check_url and distribution_module.generation_url are returned but not served (404, docs/hpp.md)', async () => {
  const s = await h.createOk();
  assertError(await k.get(pathOf(s.manual_identification_check_url)), 404, 'NOT_FOUND');
  assertError(await k.get(pathOf(s.distribution_module.generation_url)), 404, 'NOT_FOUND');
});

test('create: Klarna-Idempotency-Key → the replay returns the same 201 body and creates nothing new', async () => {
  const kp = await h.kpSession();
  const headers = { 'klarna-idempotency-key': crypto.randomUUID() };
  const r1 = await h.create({ kp, headers });
  const r2 = await h.create({ kp, headers });
  assertJsonOk(r1, 201);
  assertJsonOk(r2, 201);
  assert.equal(r2.text, r1.text, 'the same body, byte for byte');
  const other = assertJsonOk(await h.create({ kp, headers: { 'klarna-idempotency-key': crypto.randomUUID() } }), 201);
  assert.notEqual(other.session_id, r1.json.session_id, 'another key creates another session');
});

test('isolation: merchant B cannot read, disable or distribute merchant A\'s HPP session (404 "HPP session not found")', async () => {
  const s = await h.createOk();
  hppNotFound(await h.read(s.session_id, 'b'));
  hppNotFound(await h.disable(s.session_id, 'b'));
  hppNotFound(await h.distribute(s.session_id, { method: 'email', contact_information: { email: 'customer@email.se' } }, 'b'));
  assert.equal((await h.readOk(s.session_id)).status, 'WAITING', 'A\'s session is untouched');
  assert.deepEqual(await h.messages(s.session_id), []);
});

test('create: malformed JSON or a non-object body → 400 BAD_REQUEST', async () => {
  assertError(await k.request('POST', HPP, { raw: '{"payment_session_url": ' }), 400, 'BAD_REQUEST');
  assertError(await k.request('POST', HPP, { raw: '[]' }), 400, 'BAD_REQUEST');
  const kp = await h.kpSession();
  assertError(await k.request('POST', HPP, { raw: `{"payment_session_url":"${paymentSessionUrl(kp)}","payment_session_url":"x"}` }),
    400, 'BAD_REQUEST');
});

test('create: other methods on /hpp/v1/sessions → 405 METHOD_NOT_ALLOWED with Allow', async () => {
  const res = await k.get(HPP);
  assertError(res, 405, 'METHOD_NOT_ALLOWED');
  assert.match(res.headers.allow ?? '', /POST/);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
