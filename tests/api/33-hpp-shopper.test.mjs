// Hosted Payment Page, the shopper's side (docs/hpp.md "The hosted page"; contract 4.3, 4.6): the
// page and its state, open / identify / authorize / back / cancel by page id (no credentials),
// outcomes per place_order_mode with placeholders filled in the redirect, declines with and
// without payment_fallback, one-time code and sign-up steps, double submit and a second tab (one
// outcome, one order), a session disabled, cancelled or expired mid-flow (410), unknown ids (404)
// and hostile input (never a 5xx).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertError, assertNoContent, UUID_RE, MERCHANTS,
} from './harness.mjs';
import {
  SE_EXAMPLE, OM, hppClient, hppAuthorizeBody, orderRequest, email, seAddress, clone,
} from './fixtures.mjs';

let k;
let h;
before(async () => {
  k = await startKasse({ testClock: true, merchants: [MERCHANTS.a, MERCHANTS.b, MERCHANTS.c] });
  h = hppClient(k);
});
after(async () => { await k?.kill(); });

const URLS = {
  success: 'https://shop.example/ok?hpp={{session_id}}&token={{authorization_token}}&order={{order_id}}',
  failure: 'https://shop.example/fail?hpp={{session_id}}',
  error: 'https://shop.example/error?hpp={{session_id}}',
  back: 'https://shop.example/back?hpp={{session_id}}',
  cancel: 'https://shop.example/cancel?hpp={{session_id}}',
};
const fill = (url, values) => url.replace(/\{\{(\w+)\}\}/g, (m, name) => (name in values ? encodeURIComponent(values[name]) : m));
const pageUrl = (s) => s.redirect_url;
const denied = () => hppAuthorizeBody({ email: email('SE', 'denied') });
const gone = (res, code) => assertError(res, 410, code);
const orderCount = async (auth = 'a') => assertJsonOk(await k.get(`/kasse/v1/orders?limit=1`, { auth })).total;
const idsOf = (cats) => cats.map((c) => (typeof c === 'string' ? c : c.identifier));

/** An outcome body: result, status, and only the documented optional keys. */
function outcome(res) {
  const o = assertJsonOk(res);
  for (const key of Object.keys(o)) {
    assert.ok(['result', 'status', 'redirect_url', 'fallback_categories'].includes(key), `unexpected outcome key ${key}: ${res.text}`);
  }
  assert.equal(typeof o.result, 'string', res.text);
  assert.equal(typeof o.status, 'string', res.text);
  return o;
}

// ---------- the page and its state ----------

test('page: GET /hpp/payments/{page_id} → 200 text/html without credentials; an unknown page id → 404 with the same page', async () => {
  const s = await h.createOk();
  const ok = await k.get(new URL(pageUrl(s)).pathname, { auth: null });
  assert.equal(ok.status, 200);
  assert.match(ok.headers['content-type'], /^text\/html\b/);
  const missing = await k.get(`/hpp/payments/${crypto.randomUUID()}`, { auth: null });
  assert.equal(missing.status, 404);
  assert.match(missing.headers['content-type'], /^text\/html\b/);
  assert.equal(missing.text, ok.text, 'the same page (it shows the error itself)');
  assert.equal((await h.readOk(s.session_id)).status, 'WAITING', 'serving the page is not opening it');
});

test('state: GET /hpp/shopper/v1/{page_id} (no credentials) → the KP session\'s market and cart, merchant, categories, WAITING; reading changes nothing', async () => {
  const kp = await h.kpSession({ ...clone(SE_EXAMPLE), billing_address: seAddress({ email: 'customer@email.se' }) });
  const s = await h.createOk({ kp });
  const res = await h.state(s.page_id);
  const st = assertJsonOk(res);
  for (const key of ['status', 'merchant_name', 'page_title', 'purchase_type', 'pay_label', 'locale', 'purchase_country',
    'purchase_currency', 'order_amount', 'order_tax_amount', 'order_lines', 'categories', 'back_available',
    'cancel_available', 'prefill']) {
    assert.ok(key in st, `state lacks ${key}: ${res.text}`);
  }
  assert.equal(st.status, 'WAITING');
  assert.ok(typeof st.merchant_name === 'string' && st.merchant_name.length > 0);
  assert.ok(typeof st.page_title === 'string' && st.page_title.length > 0, 'a default page title');
  assert.equal(st.purchase_type, 'BUY', 'default purchase_type');
  assert.ok(typeof st.pay_label === 'string' && st.pay_label.length > 0);
  assert.equal(String(st.purchase_country).toUpperCase(), 'SE');
  assert.equal(String(st.purchase_currency).toUpperCase(), 'SEK');
  assert.equal(st.locale, 'en-SE');
  assert.equal(st.order_amount, SE_EXAMPLE.order_amount);
  assert.equal(st.order_tax_amount, SE_EXAMPLE.order_tax_amount);
  assert.equal(st.order_lines.length, 1);
  assert.equal(st.order_lines[0].name, SE_EXAMPLE.order_lines[0].name);
  assert.equal(st.order_lines[0].total_amount, SE_EXAMPLE.order_lines[0].total_amount);
  assert.deepEqual(idsOf(st.categories), ['klarna']);
  const [c] = st.categories;
  assert.equal(typeof c.name, 'string');
  assert.equal(typeof c.asset_urls, 'object');
  assert.equal(st.prefill.email, 'customer@email.se', 'prefilled from the KP session\'s billing address');
  assert.equal(st.back_available, false, 'no back URL');
  assert.equal(typeof st.cancel_available, 'boolean');
  assert.equal('redirect_url' in st, false, 'no redirect while the session can be paid');
  assert.equal((await h.readOk(s.session_id)).status, 'WAITING');
});

test('state: options show on the page (page_title, purchase_type, HIDE drops order_lines); back_available with a back URL, then no cancel', async () => {
  const options = { page_title: 'Pay your rent', purchase_type: 'rent', show_subtotal_detail: 'HIDE' };
  const s = await h.createOk({ options, merchant_urls: { back: URLS.back, cancel: URLS.cancel } });
  const st = assertJsonOk(await h.state(s.page_id));
  assert.equal(st.page_title, 'Pay your rent');
  assert.equal(st.purchase_type, 'RENT');
  assert.equal(st.show_subtotal_detail, 'HIDE');
  assert.equal('order_lines' in st, false);
  assert.equal(st.order_amount, SE_EXAMPLE.order_amount, 'the total is still shown');
  assert.equal(st.back_available, true);
  assert.equal(st.cancel_available, false, 'back and cancel are never both shown (contract 4.3)');
});

test('state: images from outside Kasse are stored but not on the page (docs/hpp.md decision); Kasse\'s own and data:image/ URLs are', async () => {
  const own = `${k.publicUrl}/kasse/assets/badges/klarna.svg`;
  const data = 'data:image/png;base64,iVBORw0KGgo=';
  const external = await h.createOk({ options: { logo_url: 'https://shop.example/logo.png',
    background_images: [{ url: 'https://shop.example/bg-800.jpg', width: 800 }] } });
  const st = assertJsonOk(await h.state(external.page_id));
  assert.equal('logo_url' in st, false, `external logo_url shown: ${st.logo_url}`);
  assert.equal('background_images' in st, false, 'external background_images shown');
  const mixed = [{ url: own, width: 800 }, { url: 'https://shop.example/bg-1600.jpg', width: 1600 }];
  const ok = await h.createOk({ options: { logo_url: own, background_images: mixed } });
  const st2 = assertJsonOk(await h.state(ok.page_id));
  assert.equal(st2.logo_url, own);
  assert.deepEqual(st2.background_images, [mixed[0]], 'only the images the page may load');
  const d = await h.createOk({ options: { logo_url: data } });
  assert.equal(assertJsonOk(await h.state(d.page_id)).logo_url, data);
});

test('state: a data:image/ background image is accepted at create and shown on the page (docs/hpp.md: data:image/ images are shown)', async () => {
  const bg = { url: 'data:image/png;base64,iVBORw0KGgo=', width: 400 };
  const s = await h.createOk({ options: { background_images: [bg] } });
  assert.deepEqual(assertJsonOk(await h.state(s.page_id)).background_images, [bg]);
});

// ---------- open ----------

test('open: WAITING → IN_PROGRESS, answering the state; opening again keeps IN_PROGRESS', async () => {
  const s = await h.createOk();
  const st = assertJsonOk(await h.open(s.page_id));
  assert.equal(st.status, 'IN_PROGRESS');
  assert.deepEqual(idsOf(st.categories), ['klarna']);
  assert.equal((await h.readOk(s.session_id)).status, 'IN_PROGRESS');
  assert.equal(assertJsonOk(await h.open(s.page_id)).status, 'IN_PROGRESS');
  assert.equal(assertJsonOk(await h.state(s.page_id)).status, 'IN_PROGRESS');
});

// ---------- identify ----------

test('identify: the approved identity → {code_sent: true, signup_required: false}; +require_signup → signup_required: true', async () => {
  const s = await h.createOk();
  assertJsonOk(await h.open(s.page_id));
  assert.deepEqual(assertJsonOk(await h.identify(s.page_id)), { code_sent: true, signup_required: false });
  assert.deepEqual(assertJsonOk(await h.identify(s.page_id, { email: email('SE', 'require_signup'), phone: '+46701740615' })),
    { code_sent: true, signup_required: true });
  assert.equal((await h.readOk(s.session_id)).status, 'IN_PROGRESS', 'identifying is no status change');
});

test('identify: a malformed e-mail or phone → 400 BAD_VALUE naming the field', async () => {
  const s = await h.createOk();
  assertJsonOk(await h.open(s.page_id));
  for (const body of [{ email: 'nope', phone: '+46701740615' }, { phone: '+46701740615' }, { email: 'customer@email.se', phone: 'x' }]) {
    const res = await h.identify(s.page_id, body);
    assertError(res, 400, 'BAD_VALUE');
    assert.match(res.json.error_messages[0], /^Bad value: \S*(email|phone)$/, res.text);
  }
});

// ---------- authorize: outcomes per place_order_mode ----------

test('authorize (NONE): approved → COMPLETED, redirect_url = success URL with {{session_id}} and {{authorization_token}} filled, {{order_id}} left as written', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(s.page_id));
  const o = outcome(await h.authorize(s.page_id));
  assert.equal(o.result, 'approved');
  assert.equal(o.status, 'COMPLETED');
  const r = await h.readOk(s.session_id);
  assert.equal(r.status, 'COMPLETED');
  assert.match(r.authorization_token, UUID_RE);
  assert.equal(o.redirect_url, fill(URLS.success, { session_id: s.session_id, authorization_token: r.authorization_token }));
  assert.ok(o.redirect_url.endsWith('&order={{order_id}}'), o.redirect_url);
  assert.equal(await orderCount(), 0, 'mode NONE places no order');
  const order = assertJsonOk(await k.post(`/payments/v1/authorizations/${r.authorization_token}/order`, orderRequest(SE_EXAMPLE)));
  assert.match(order.order_id, UUID_RE, 'the merchant places the order with the token');
});

test('authorize (NONE) without a success URL: redirect_url is the page itself, which then shows its confirmation', async () => {
  const s = await h.createOk();
  const o = await h.pay(s.page_id);
  assert.equal(o.result, 'approved');
  assert.equal(o.redirect_url, pageUrl(s));
  const st = assertJsonOk(await h.state(s.page_id));
  assert.equal(st.status, 'COMPLETED');
});

test('authorize (PLACE_ORDER): approved → one AUTHORIZED order; success URL gets {{order_id}}, {{authorization_token}} stays as written', async () => {
  const s = await h.createOk({ merchant_urls: URLS, options: { place_order_mode: 'PLACE_ORDER' } });
  const before = await orderCount();
  const o = await h.pay(s.page_id);
  assert.equal(o.result, 'approved');
  assert.equal(o.status, 'COMPLETED');
  const r = await h.readOk(s.session_id);
  assert.match(r.order_id, UUID_RE);
  assert.equal('authorization_token' in r, false);
  assert.equal(o.redirect_url, fill(URLS.success, { session_id: s.session_id, order_id: r.order_id }));
  assert.ok(o.redirect_url.includes('token={{authorization_token}}'), o.redirect_url);
  assert.equal(await orderCount(), before + 1);
  const order = assertJsonOk(await k.get(`${OM}/${r.order_id}`));
  assert.equal(order.status, 'AUTHORIZED');
  assert.equal(order.order_amount, SE_EXAMPLE.order_amount);
  assert.equal(order.order_lines.length, SE_EXAMPLE.order_lines.length);
  assert.equal(assertJsonOk(await k.get(`/payments/v1/sessions/${s.kp}`)).status, 'complete', 'the KP session is completed');
  assertError(await h.create({ kp: s.kp }), 400, 'BAD_VALUE', ['Payment session has already been completed']);
});

test('authorize (CAPTURE_ORDER): approved → the order is placed and captured in full', async () => {
  const s = await h.createOk({ merchant_urls: URLS, options: { place_order_mode: 'CAPTURE_ORDER' } });
  const o = await h.pay(s.page_id);
  assert.equal(o.result, 'approved');
  const r = await h.readOk(s.session_id);
  assert.equal(o.redirect_url, fill(URLS.success, { session_id: s.session_id, order_id: r.order_id }));
  const order = assertJsonOk(await k.get(`${OM}/${r.order_id}`));
  assert.equal(order.status, 'CAPTURED');
  assert.equal(order.captured_amount, SE_EXAMPLE.order_amount);
  assert.equal(order.captures.length, 1);
});

test('authorize: placeholder values are URL-encoded where they are filled', async () => {
  const s = await h.createOk({ merchant_urls: { success: 'https://shop.example/ok/{{session_id}}?t={{authorization_token}}' } });
  const o = await h.pay(s.page_id);
  const r = await h.readOk(s.session_id);
  assert.equal(o.redirect_url, `https://shop.example/ok/${encodeURIComponent(s.session_id)}?t=${encodeURIComponent(r.authorization_token)}`);
});

// ---------- authorize: declines, code and sign-up ----------

test('authorize: declined without payment_fallback → FAILED, redirect_url = failure URL filled; reopening → IN_PROGRESS and the shopper can still pay', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(s.page_id));
  const o = outcome(await h.authorize(s.page_id, denied()));
  assert.deepEqual(o, { result: 'declined', status: 'FAILED', redirect_url: fill(URLS.failure, { session_id: s.session_id }) });
  assert.equal((await h.readOk(s.session_id)).status, 'FAILED');
  const st = assertJsonOk(await h.state(s.page_id));
  assert.equal(st.status, 'FAILED');
  assert.equal(st.redirect_url, o.redirect_url, 'FAILED: the state says where the browser goes');
  assert.equal(assertJsonOk(await h.open(s.page_id)).status, 'IN_PROGRESS');
  assert.equal(outcome(await h.authorize(s.page_id)).result, 'approved');
});

test('authorize: declined without a failure URL → redirect_url is the page itself', async () => {
  const s = await h.createOk({ merchant_urls: { success: URLS.success } });
  assertJsonOk(await h.open(s.page_id));
  const o = outcome(await h.authorize(s.page_id, denied()));
  assert.equal(o.result, 'declined');
  assert.equal(o.status, 'FAILED');
  assert.equal(o.redirect_url, pageUrl(s));
});

test('authorize: declined with payment_fallback and categories left → fallback_categories, status unchanged; the last one declined → FAILED', async () => {
  const kp = await h.kpSession(SE_EXAMPLE, 'c');
  const s = await h.createOk({ kp, auth: 'c', merchant_urls: URLS, options: { payment_fallback: true } });
  const offered = idsOf(assertJsonOk(await h.open(s.page_id)).categories).sort();
  assert.deepEqual(offered, ['pay_later', 'pay_now', 'pay_over_time']);
  const o1 = outcome(await h.authorize(s.page_id, { ...denied(), payment_method_category: 'pay_later' }));
  assert.equal(o1.result, 'declined');
  assert.equal(o1.status, 'IN_PROGRESS');
  assert.equal('redirect_url' in o1, false, o1.redirect_url);
  assert.deepEqual(idsOf(o1.fallback_categories).sort(), ['pay_now', 'pay_over_time']);
  assert.equal((await h.readOk(s.session_id, 'c')).status, 'IN_PROGRESS');
  const o2 = outcome(await h.authorize(s.page_id, { ...denied(), payment_method_category: 'pay_now', declined_categories: ['pay_later'] }));
  assert.equal(o2.result, 'declined');
  assert.deepEqual(idsOf(o2.fallback_categories), ['pay_over_time']);
  const o3 = outcome(await h.authorize(s.page_id, { ...denied(), payment_method_category: 'pay_over_time',
    declined_categories: ['pay_later', 'pay_now'] }));
  assert.deepEqual(o3, { result: 'declined', status: 'FAILED', redirect_url: fill(URLS.failure, { session_id: s.session_id }) });
  assert.equal((await h.readOk(s.session_id, 'c')).status, 'FAILED');
});

test('authorize: payment_fallback with a single category → no fallback, FAILED', async () => {
  const s = await h.createOk({ merchant_urls: URLS, options: { payment_fallback: true } });
  assertJsonOk(await h.open(s.page_id));
  const o = outcome(await h.authorize(s.page_id, denied()));
  assert.equal(o.result, 'declined');
  assert.equal(o.status, 'FAILED');
  assert.equal('fallback_categories' in o, false);
});

test('authorize: code 999999 → otp_failed, status unchanged (IN_PROGRESS); a good code then approves', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(s.page_id));
  const o = outcome(await h.authorize(s.page_id, hppAuthorizeBody({ otp: '999999' })));
  assert.equal(o.result, 'otp_failed');
  assert.equal(o.status, 'IN_PROGRESS');
  assert.equal((await h.readOk(s.session_id)).status, 'IN_PROGRESS');
  assert.equal(outcome(await h.authorize(s.page_id)).result, 'approved');
});

test('authorize: +require_signup without the sign-up step → signup_required, nothing changes; with signup_done → approved', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(s.page_id));
  const body = hppAuthorizeBody({ email: email('SE', 'require_signup') });
  const o = outcome(await h.authorize(s.page_id, body));
  assert.equal(o.result, 'signup_required');
  assert.equal(o.status, 'IN_PROGRESS');
  assert.equal((await h.readOk(s.session_id)).status, 'IN_PROGRESS');
  assert.equal(outcome(await h.authorize(s.page_id, { ...body, signup_done: true })).result, 'approved');
  assert.equal((await h.readOk(s.session_id)).status, 'COMPLETED');
});

test('authorize: a category the page does not offer → 400 BAD_VALUE on payment_method_category; nothing changes', async () => {
  const kp = await h.kpSession(SE_EXAMPLE, 'c');
  const s = await h.createOk({ kp, auth: 'c', options: { payment_method_category: 'PAY_LATER' } });
  assertJsonOk(await h.open(s.page_id));
  for (const cat of ['pay_now', 'klarna', 'bitcoin']) {
    const res = await h.authorize(s.page_id, hppAuthorizeBody({ payment_method_category: cat }));
    assertError(res, 400, 'BAD_VALUE');
    assert.match(res.json.error_messages[0], /payment_method_category/, res.text);
  }
  assert.equal((await h.readOk(s.session_id, 'c')).status, 'IN_PROGRESS');
});

// ---------- back and cancel ----------

test('back: → BACK with redirect_url = back URL filled; the page reopens IN_PROGRESS', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(s.page_id));
  const b = assertJsonOk(await h.back(s.page_id));
  assert.equal(b.status, 'BACK');
  assert.equal(b.redirect_url, fill(URLS.back, { session_id: s.session_id }));
  assert.equal((await h.readOk(s.session_id)).status, 'BACK');
  assert.equal(assertJsonOk(await h.open(s.page_id)).status, 'IN_PROGRESS');
  assert.deepEqual(Object.keys(b).sort(), ['redirect_url', 'result', 'status'], `back answers {result, status, redirect_url}: ${JSON.stringify(b)}`);
  assert.equal(b.result, 'back');
});

test('back: without a back URL → 400, status unchanged', async () => {
  const s = await h.createOk({ merchant_urls: { cancel: URLS.cancel } });
  assertJsonOk(await h.open(s.page_id));
  const res = await h.back(s.page_id);
  assertError(res, 400, res.json?.error_code);
  assert.equal((await h.readOk(s.session_id)).status, 'IN_PROGRESS');
});

test('cancel: → CANCELLED (final) with redirect_url = cancel URL filled; later shopper calls → 410 SESSION_CANCELLED', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(s.page_id));
  const c = assertJsonOk(await h.cancel(s.page_id));
  assert.equal(c.status, 'CANCELLED');
  assert.equal(c.redirect_url, fill(URLS.cancel, { session_id: s.session_id }));
  assert.equal((await h.readOk(s.session_id)).status, 'CANCELLED');
  gone(await h.open(s.page_id), 'SESSION_CANCELLED');
  gone(await h.identify(s.page_id), 'SESSION_CANCELLED');
  gone(await h.authorize(s.page_id), 'SESSION_CANCELLED');
  gone(await h.back(s.page_id), 'SESSION_CANCELLED');
  gone(await h.cancel(s.page_id), 'SESSION_CANCELLED');
  assert.equal((await h.readOk(s.session_id)).status, 'CANCELLED');
  assert.deepEqual(Object.keys(c).sort(), ['redirect_url', 'result', 'status'], `cancel answers {result, status, redirect_url}: ${JSON.stringify(c)}`);
  assert.equal(c.result, 'cancelled');
});

test('cancel: without a cancel URL → CANCELLED, redirect_url is the page itself', async () => {
  const s = await h.createOk();
  assertJsonOk(await h.open(s.page_id));
  const c = assertJsonOk(await h.cancel(s.page_id));
  assert.equal(c.status, 'CANCELLED');
  assert.equal(c.redirect_url, pageUrl(s));
});

// ---------- one outcome: double submit, second tab ----------

test('double submit: two authorize calls at once (PLACE_ORDER) → both approved with the same redirect, exactly one order', async () => {
  const s = await h.createOk({ merchant_urls: URLS, options: { place_order_mode: 'PLACE_ORDER' } });
  assertJsonOk(await h.open(s.page_id));
  const before = await orderCount();
  const [r1, r2] = await Promise.all([h.authorize(s.page_id), h.authorize(s.page_id)]);
  const o1 = outcome(r1);
  const o2 = outcome(r2);
  assert.deepEqual(o2, o1);
  assert.equal(o1.result, 'approved');
  assert.equal(await orderCount(), before + 1, 'one order');
  const r = await h.readOk(s.session_id);
  assert.ok(o1.redirect_url.includes(r.order_id));
});

test('double submit (NONE): two authorize calls at once → one authorization_token in both redirects', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(s.page_id));
  const [o1, o2] = (await Promise.all([h.authorize(s.page_id), h.authorize(s.page_id)])).map(outcome);
  assert.deepEqual(o2, o1);
  const r = await h.readOk(s.session_id);
  assert.equal(o1.redirect_url, fill(URLS.success, { session_id: s.session_id, authorization_token: r.authorization_token }));
});

test('second tab: after the first tab completed, the second tab\'s authorize gets the first outcome again (no second order); its open shows COMPLETED', async () => {
  const s = await h.createOk({ merchant_urls: URLS, options: { place_order_mode: 'PLACE_ORDER' } });
  assertJsonOk(await h.open(s.page_id)); // tab 1
  assertJsonOk(await h.open(s.page_id)); // tab 2
  const before = await orderCount();
  const first = outcome(await h.authorize(s.page_id));
  assert.equal(first.result, 'approved');
  const r = await h.readOk(s.session_id);
  const again = outcome(await h.authorize(s.page_id, denied())); // whatever tab 2 submits
  assert.deepEqual(again, first);
  assert.equal(await orderCount(), before + 1);
  assert.deepEqual(await h.readOk(s.session_id), r, 'nothing changed');
  const st = assertJsonOk(await h.open(s.page_id));
  assert.equal(st.status, 'COMPLETED');
  assert.equal(st.redirect_url, first.redirect_url, 'COMPLETED: the state sends the browser to the success URL');
  assert.equal((await h.readOk(s.session_id)).status, 'COMPLETED');
});

test('second tab: back or cancel after completion does not undo it', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  await h.pay(s.page_id);
  const r = await h.readOk(s.session_id);
  for (const res of [await h.back(s.page_id), await h.cancel(s.page_id)]) {
    assert.ok(res.status < 500, `${res.status}: ${res.text}`);
  }
  assert.deepEqual(await h.readOk(s.session_id), r, 'still COMPLETED with its token');
});

// ---------- disabled or expired mid-flow ----------

test('disabled mid-flow: open, identify, merchant DELETE, authorize → 410 SESSION_DISABLED; no token, no order', async () => {
  const s = await h.createOk({ merchant_urls: URLS, options: { place_order_mode: 'PLACE_ORDER' } });
  assertJsonOk(await h.open(s.page_id));
  assertJsonOk(await h.identify(s.page_id));
  const before = await orderCount();
  assertNoContent(await h.disable(s.session_id));
  gone(await h.authorize(s.page_id), 'SESSION_DISABLED');
  const r = await h.readOk(s.session_id);
  assert.equal(r.status, 'DISABLED');
  assert.equal('order_id' in r || 'authorization_token' in r, false);
  assert.equal(await orderCount(), before);
});

test('expired mid-flow: past expires_at the shopper\'s calls answer 410 SESSION_EXPIRED', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(s.page_id));
  const now = Date.parse(await h.advance(0));
  await h.advance(Math.ceil((Date.parse(s.expires_at) - now) / 1000) + 1);
  gone(await h.authorize(s.page_id), 'SESSION_EXPIRED');
  gone(await h.open(s.page_id), 'SESSION_EXPIRED');
  gone(await h.identify(s.page_id), 'SESSION_EXPIRED');
  gone(await h.back(s.page_id), 'SESSION_EXPIRED');
  gone(await h.cancel(s.page_id), 'SESSION_EXPIRED');
});

// ---------- isolation and hostile input ----------

test('isolation: an unknown page id → 404 NOT_FOUND on every shopper route; the HPP session id and the KP session id are not page keys', async () => {
  const s = await h.createOk();
  const near = s.page_id.slice(0, -1) + (s.page_id.endsWith('0') ? '1' : '0'); // one character off
  for (const id of [crypto.randomUUID(), s.session_id, s.kp, 'not-a-uuid', near]) {
    assertError(await h.state(id), 404, 'NOT_FOUND');
    assertError(await h.open(id), 404, 'NOT_FOUND');
    assertError(await h.identify(id), 404, 'NOT_FOUND');
    assertError(await h.authorize(id), 404, 'NOT_FOUND');
    assertError(await h.back(id), 404, 'NOT_FOUND');
    assertError(await h.cancel(id), 404, 'NOT_FOUND');
  }
  assert.equal((await h.readOk(s.session_id)).status, 'WAITING');
});

test('isolation: merchant B\'s page works for its shopper and never shows up for merchant A', async () => {
  const kpB = await h.kpSession(SE_EXAMPLE, 'b');
  const s = await h.createOk({ kp: kpB, auth: 'b' });
  assert.equal(assertJsonOk(await h.open(s.page_id)).status, 'IN_PROGRESS');
  assertError(await h.read(s.session_id, 'a'), 404, 'NOT_FOUND', ['HPP session not found']);
  assert.equal((await h.readOk(s.session_id, 'b')).status, 'IN_PROGRESS');
});

test('methods: a shopper route with another method → 405 METHOD_NOT_ALLOWED', async () => {
  const s = await h.createOk();
  assertError(await k.post(h.shopper(s.page_id), {}, { auth: null }), 405, 'METHOD_NOT_ALLOWED');
  assertError(await k.get(h.shopper(s.page_id, '/authorize'), { auth: null }), 405, 'METHOD_NOT_ALLOWED');
});

test('hostile input: malformed JSON, invalid UTF-8, non-objects, wrong types and huge strings → 4xx envelope or 200, never a 5xx', async () => {
  const s = await h.createOk({ merchant_urls: URLS, options: { place_order_mode: 'PLACE_ORDER' } });
  assertJsonOk(await h.open(s.page_id));
  const big = 'x'.repeat(100_000);
  const raws = ['{', '[]', '"x"', '42', 'null', '{"email":', '{"a":1,"a":2}', '\u0000',
    Buffer.from([0x7b, 0x22, 0x6f, 0x74, 0x70, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])]; // {"otp":"<invalid UTF-8>"}
  const bodies = [
    {}, { email: 5 }, { email: null, phone: [] }, { email: big, phone: big }, { otp: 123456 }, { otp: big },
    { payment_method_category: 5 }, { payment_method_category: big }, { signup_done: 'yes' },
    { declined_categories: 'klarna' }, { declined_categories: [1, null, {}] }, { declined_categories: Array(1000).fill('klarna') },
    { ...hppAuthorizeBody(), otp: '12345' }, { ...hppAuthorizeBody(), email: 'no-at-sign' },
    { ...hppAuthorizeBody(), otp: '999999', extra: { deep: [1, 2] } },
  ];
  for (const sub of ['/open', '/identify', '/authorize', '/back', '/cancel']) {
    const p = h.shopper(s.page_id, sub);
    if (sub === '/cancel') continue; // a valid cancel would end the session; checked separately below
    for (const raw of raws) {
      const res = await k.request('POST', p, { raw, auth: null });
      assert.ok(res.status < 500, `${sub} raw ${JSON.stringify(String(raw))} → ${res.status}: ${res.text}`);
      if (res.status >= 400) assertError(res, res.status, res.json?.error_code);
    }
    for (const body of bodies) {
      const res = await k.post(p, body, { auth: null });
      assert.ok(res.status < 500, `${sub} ${JSON.stringify(body).slice(0, 80)} → ${res.status}: ${res.text.slice(0, 300)}`);
      if (res.status >= 400) assertError(res, res.status, res.json?.error_code);
    }
    const again = await h.open(s.page_id); // back may have moved it to BACK
    assert.ok(again.status < 500, `${again.status}: ${again.text}`);
  }
  const res = await k.request('POST', h.shopper(s.page_id, '/cancel'), { raw: '{', auth: null });
  assert.ok(res.status < 500, `${res.status}: ${res.text}`);
});

test('hostile input: page ids with odd characters, very long ids and path tricks → 4xx, never 5xx', async () => {
  for (const id of ['%00', '..', '%2e%2e', 'a'.repeat(1500), '%F0%9F%92%A9', '\'or\'1\'=\'1', '%252F']) {
    for (const p of [`/hpp/shopper/v1/${id}`, `/hpp/shopper/v1/${id}/open`, `/hpp/payments/${id}`, `/hpp/payments/${id}/qr`,
      `/hpp/distributions/${id}`]) {
      const res = await k.request(p.endsWith('/open') ? 'POST' : 'GET', p, { auth: null });
      assert.ok(res.status >= 400 && res.status < 500, `${p.slice(0, 80)} → ${res.status}`);
    }
  }
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
