// The merchant portal's server side (issue 11, docs/portal.md): the start page, sign-in with a
// cookie and a CSRF token, every merchant route under /portal/api with the same code path, the
// control lists the portal reads (paged in the store) and the demo shop's server side.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, MERCHANTS, UUID_RE, ISO_MS, assertJsonOk, assertError, assertBadValue, sleep,
} from './harness.mjs';
import { SE_EXAMPLE, omCart, placeOrder, clone } from './fixtures.mjs';
import { startReceiver } from './receiver.mjs';

let k;
let rx;
before(async () => { k = await startKasse({ testClock: true, merchants: [MERCHANTS.a, MERCHANTS.b, MERCHANTS.c] }); rx = await startReceiver(); });
after(async () => { await rx?.close(); await k?.kill(); });

const HEX64 = /^[0-9a-f]{64}$/;

/** Signs m in; returns {cookie, csrf, res}. */
async function signIn(m = MERCHANTS.a) {
  const res = await k.post('/portal/api/session', { username: m.user, secret: m.secret }, { auth: null });
  assert.equal(res.status, 200, res.text);
  const set = res.headers['set-cookie'];
  const line = Array.isArray(set) ? set[0] : set;
  const cookie = /^kasse_portal=([A-Za-z0-9_-]+);/.exec(line)[1];
  return { cookie: `kasse_portal=${cookie}`, csrf: res.json.csrf_token, res, line };
}

/** A request as the portal's page makes it: the cookie, and the CSRF header on changes. */
function portal(s, method, p, body, { csrf = true } = {}) {
  const headers = { cookie: s.cookie };
  if (csrf && method !== 'GET') headers['x-kasse-csrf'] = s.csrf;
  return k.request(method, p, { auth: null, headers, body, direct: true });
}

test('GET / is a page for browsers and JSON for JSON clients (Vary: Accept)', async () => {
  const html = await k.get('/', { auth: null, headers: { accept: 'text/html' } });
  assert.equal(html.status, 200);
  assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(html.headers.vary, 'Accept');
  assert.match(html.text, /Kasse/);
  assert.match(html.text, /href="\/portal\/"/);
  assert.match(html.text, /href="\/demo\/"/);
  assert.ok(!html.text.includes('{{'), 'placeholders filled');
  assert.ok(html.text.includes(k.publicUrl), 'shows the public URL');
  const json = await k.get('/', { auth: null, headers: { accept: 'application/json' } });
  assert.equal(json.status, 200);
  assert.equal(json.headers['content-type'], 'application/json;charset=utf-8');
  assert.equal(json.json.name, 'Kasse');
  assert.match(json.json.version, /^\d+\.\d+\.\d+$/);
  assert.equal(json.json.apis.payments, `${k.publicUrl}/payments/v1`);
  assert.equal(json.json.apis.ordermanagement, `${k.publicUrl}/ordermanagement/v1`);
  assert.equal(json.json.portal, `${k.publicUrl}/portal/`);
  assert.equal(json.json.demo, `${k.publicUrl}/demo/`);
});

test('the portal and demo pages are served with a CSP that keeps them to Kasse; /portal redirects to /portal/', async () => {
  for (const p of ['/portal/', '/demo/']) {
    const res = await k.get(p, { auth: null });
    assert.equal(res.status, 200, p);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    const csp = res.headers['content-security-policy'];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
  }
  const r = await k.get('/portal', { auth: null });
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, '/portal/');
});

test('sign-in: 200 with an HttpOnly, SameSite=Strict session cookie (no Secure over http) and a CSRF token; the secret is never echoed', async () => {
  const s = await signIn();
  assert.equal(s.line.replace(/kasse_portal=[^;]+/, 'kasse_portal=X'),
    'kasse_portal=X; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800');
  assert.equal(s.res.headers['cache-control'], 'no-store');
  assert.deepEqual(Object.keys(s.res.json).sort(), ['csrf_token', 'expires_at', 'merchant', 'test_clock']);
  assert.deepEqual(s.res.json.merchant, { username: MERCHANTS.a.user, name: MERCHANTS.a.display ?? s.res.json.merchant.name });
  assert.match(s.csrf, HEX64);
  assert.match(s.res.json.expires_at, ISO_MS);
  assert.equal(s.res.json.test_clock, true);
  assert.ok(!s.res.text.includes(MERCHANTS.a.secret));
  // The session reads back with the same token (a reloaded page gets it again).
  const me = await portal(s, 'GET', '/portal/api/session');
  assert.equal(me.status, 200);
  assert.equal(me.json.csrf_token, s.csrf);
});

test('sign-in: wrong secret or unknown username → 401 envelope without a Basic challenge; bad bodies → 400 with the field', async () => {
  for (const body of [{ username: MERCHANTS.b.user, secret: 'wrong' }, { username: 'nobody', secret: 'x' }]) {
    const res = await k.post('/portal/api/session', body, { auth: null });
    assertError(res, 401, 'UNAUTHORIZED', ['Wrong username or secret']);
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(res.headers['set-cookie'], undefined);
  }
  assertBadValue(await k.post('/portal/api/session', { secret: 'x' }, { auth: null }), 'username');
  assertBadValue(await k.post('/portal/api/session', { username: 'a', secret: 5 }, { auth: null }), 'secret');
  assertBadValue(await k.post('/portal/api/session', { username: 'a'.repeat(200), secret: 'x' }, { auth: null }), 'username');
  const form = await k.request('POST', '/portal/api/session', { auth: null, raw: 'username=a&secret=b',
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(form.status, 415, 'a cross-site form cannot sign anyone in');
});

test('sign-in: the 6th failure for one username within 5 minutes → 429 with Retry-After, even with the right secret; other usernames unaffected', async () => {
  const c = MERCHANTS.c;
  for (let i = 0; i < 5; i++) {
    const res = await k.post('/portal/api/session', { username: c.user, secret: `wrong${i}` }, { auth: null });
    assert.equal(res.status, 401, `attempt ${i + 1}`);
  }
  const res = await k.post('/portal/api/session', { username: c.user, secret: c.secret }, { auth: null });
  assert.equal(res.status, 429, res.text);
  assert.equal(res.json.error_code, 'TOO_MANY_REQUESTS');
  const wait = Number(res.headers['retry-after']);
  assert.ok(wait > 0 && wait <= 300, `Retry-After ${res.headers['retry-after']}`);
  await signIn(MERCHANTS.b);
  // HTTP Basic on the API is not affected (the limit is the portal's sign-in form's).
  assert.equal((await k.get('/kasse/v1/orders', { auth: 'c' })).status, 200);
});

test('the prefix: without a cookie or with an unknown one → 401 (no challenge); only merchant routes exist under it', async () => {
  for (const headers of [{}, { cookie: 'kasse_portal=bm9wZQ' }, { cookie: 'other=1' }]) {
    const res = await k.request('GET', '/portal/api/kasse/v1/orders', { auth: null, headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.equal(res.json.error_code, 'UNAUTHORIZED');
    assert.equal(res.headers['www-authenticate'], undefined);
  }
  // Basic credentials do not open the portal's prefix.
  assert.equal((await k.get('/portal/api/kasse/v1/orders', { auth: 'a' })).status, 401);
  const s = await signIn();
  for (const p of ['/portal/api/kasse/v1/health', '/portal/api/kp/shopper/v1/session', '/portal/api/kp/lib/v1/api.js']) {
    assertError(await portal(s, 'GET', p), 404, 'NOT_FOUND');
  }
  const r = await portal(s, 'PUT', '/portal/api/kasse/v1/orders', {});
  assert.equal(r.status, 405);
});

test('the prefix: a capture through the portal is the API\'s capture (201, Capture-Id, Location); without or with a wrong CSRF token → 403 and nothing changes', async () => {
  const s = await signIn();
  const o = await placeOrder(k, { body: omCart(10000) });
  const path = `/portal/api/ordermanagement/v1/orders/${o.order_id}/captures`;
  for (const headers of [{ cookie: s.cookie }, { cookie: s.cookie, 'x-kasse-csrf': 'f'.repeat(64) },
    { cookie: s.cookie, 'x-kasse-csrf': s.csrf.slice(0, 63) }]) {
    const res = await k.request('POST', path, { auth: null, headers, body: { captured_amount: 4000 } });
    assertError(res, 403, 'FORBIDDEN', ['Missing or wrong CSRF token']);
  }
  const before = (await k.get(`/ordermanagement/v1/orders/${o.order_id}`)).json;
  assert.equal(before.captured_amount, 0, 'refused requests changed nothing');
  const res = await portal(s, 'POST', path, { captured_amount: 4000 });
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers['capture-id'], UUID_RE);
  assert.equal(res.headers.location,
    `${k.publicUrl}/ordermanagement/v1/orders/${o.order_id}/captures/${res.headers['capture-id']}`);
  // The same rules: over-capture is Klarna's 403 through the portal too.
  const over = await portal(s, 'POST', path, { captured_amount: 6001 });
  assertError(over, 403, 'CAPTURE_NOT_ALLOWED');
  const read = await portal(s, 'GET', `/portal/api/ordermanagement/v1/orders/${o.order_id}`);
  assert.equal(read.status, 200);
  assert.equal(read.json.captured_amount, 4000);
  assert.equal(read.json.remaining_authorized_amount, 6000);
  // The change is in the request log under the portal's path; the portal's reads are not.
  const log = assertJsonOk(await k.get(`/kasse/v1/logs/${res.headers['klarna-correlation-id']}`));
  assert.equal(log.path, path);
  assert.equal(log.status, 201);
  assertError(await k.get(`/kasse/v1/logs/${read.headers['klarna-correlation-id']}`), 404, 'NOT_FOUND');
  const me = await portal(s, 'GET', '/portal/api/session');
  assertError(await k.get(`/kasse/v1/logs/${me.headers['klarna-correlation-id']}`), 404, 'NOT_FOUND');
});

test('isolation: merchant A\'s portal session never reads or changes B\'s order, session or callbacks', async () => {
  const s = await signIn(MERCHANTS.a);
  const ob = await placeOrder(k, { body: omCart(5000), auth: 'b' });
  assertError(await portal(s, 'GET', `/portal/api/ordermanagement/v1/orders/${ob.order_id}`), 404, 'NO_SUCH_ORDER');
  assertError(await portal(s, 'POST', `/portal/api/ordermanagement/v1/orders/${ob.order_id}/captures`,
    { captured_amount: 100 }), 404, 'NO_SUCH_ORDER');
  assertError(await portal(s, 'GET', `/portal/api/kasse/v1/sessions/${ob.session_id}`), 404, 'NOT_FOUND');
  const list = await portal(s, 'GET', `/portal/api/kasse/v1/orders?reference=${encodeURIComponent('x')}`);
  assert.equal(list.status, 200);
  const ob2 = (await k.get(`/ordermanagement/v1/orders/${ob.order_id}`, { auth: 'b' })).json;
  assert.equal(ob2.captured_amount, 0);
});

test('sign-out: 204, the cookie cleared, and the old cookie no longer works', async () => {
  const s = await signIn();
  const noCsrf = await portal(s, 'DELETE', '/portal/api/session', undefined, { csrf: false });
  assert.equal(noCsrf.status, 403);
  const res = await portal(s, 'DELETE', '/portal/api/session');
  assert.equal(res.status, 204);
  assert.deepEqual([].concat(res.headers['set-cookie']), ['kasse_portal=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0']);
  assert.equal((await portal(s, 'GET', '/portal/api/session')).status, 401);
  assert.equal((await portal(s, 'GET', '/portal/api/kasse/v1/orders')).status, 401);
});

test('GET /kasse/v1/orders?reference= finds orders by merchant_reference1 or 2, exactly, only the merchant\'s', async () => {
  const ref = `REF-${Date.now()}`;
  const o1 = await placeOrder(k, { body: omCart(1000), order: { merchant_reference1: ref } });
  const o2 = await placeOrder(k, { body: omCart(1000), order: { merchant_reference2: ref } });
  await placeOrder(k, { body: omCart(1000), order: { merchant_reference1: `${ref}-other` } });
  await placeOrder(k, { body: omCart(1000), order: { merchant_reference1: ref }, auth: 'b' });
  const b = assertJsonOk(await k.get(`/kasse/v1/orders?reference=${ref}`));
  assert.equal(b.total, 2);
  assert.deepEqual(b.orders.map((o) => o.order_id), [o2.order_id, o1.order_id], 'newest first');
  assert.equal(b.orders[1].merchant_reference1, ref);
  const page = assertJsonOk(await k.get(`/kasse/v1/orders?reference=${ref}&limit=1&offset=1`));
  assert.deepEqual([page.total, page.orders.map((o) => o.order_id)], [2, [o1.order_id]]);
  const none = assertJsonOk(await k.get(`/kasse/v1/orders?reference=${ref}&status=CAPTURED`));
  assert.deepEqual([none.total, none.orders], [0, []]);
  assertBadValue(await k.get('/kasse/v1/orders?reference='), 'reference');
});

test('GET /kasse/v1/sessions pages newest first (10/10/5), with next_before; bad limit or cursor → 400', async () => {
  const made = [];
  for (let i = 0; i < 25; i++) made.push((await k.post('/payments/v1/sessions', SE_EXAMPLE, { auth: 'c' })).json.session_id);
  // Newest first is descending id (a UUIDv7 starts with its millisecond; two sessions made in the
  // same millisecond are in id order, not creation order).
  made.sort().reverse();
  const seen = [];
  let before = null;
  for (const want of [10, 10, 5]) {
    const q = `limit=10${before ? `&before=${before}` : ''}`;
    const b = assertJsonOk(await k.get(`/kasse/v1/sessions?${q}`, { auth: 'c' }));
    assert.equal(b.sessions.length, want);
    seen.push(...b.sessions.map((s) => s.session_id));
    before = b.next_before;
    if (want === 5) assert.equal(before, null);
  }
  assert.deepEqual(seen, made);
  const first = assertJsonOk(await k.get('/kasse/v1/sessions?limit=1', { auth: 'c' })).sessions[0];
  assert.deepEqual(Object.keys(first).sort(), ['created_at', 'expires_at', 'intent', 'order_amount',
    'purchase_country', 'purchase_currency', 'session_id', 'status']);
  assert.deepEqual([first.status, first.purchase_country, first.order_amount], ['incomplete', 'SE', SE_EXAMPLE.order_amount]);
  for (const q of ['limit=0', 'limit=101', 'limit=x']) assertBadValue(await k.get(`/kasse/v1/sessions?${q}`), 'limit');
  assertBadValue(await k.get('/kasse/v1/sessions?before=nope'), 'before');
  // A never sees C's sessions.
  const a = assertJsonOk(await k.get('/kasse/v1/sessions?limit=100'));
  assert.ok(!a.sessions.some((s) => made.includes(s.session_id)));
});

test('GET /kasse/v1/sessions/{id}: the stored session, its latest authorization and its HPP sessions', async () => {
  const s = (await k.post('/payments/v1/sessions', SE_EXAMPLE)).json;
  const fresh = assertJsonOk(await k.get(`/kasse/v1/sessions/${s.session_id}`));
  assert.deepEqual([fresh.status, fresh.authorization, fresh.hpp_sessions], ['incomplete', null, []]);
  const a = assertJsonOk(await k.post(`/kasse/v1/sessions/${s.session_id}/authorize`, {}));
  const hpp = await k.post('/hpp/v1/sessions', {
    payment_session_url: `${k.publicUrl}/payments/v1/sessions/${s.session_id}`,
  });
  assert.equal(hpp.status, 201, hpp.text);
  const b = assertJsonOk(await k.get(`/kasse/v1/sessions/${s.session_id}`));
  assert.equal(b.session.order_amount, SE_EXAMPLE.order_amount);
  assert.deepEqual(b.session.order_lines, SE_EXAMPLE.order_lines);
  assert.equal(b.authorization.authorization_token, a.authorization_token);
  assert.equal(b.authorization.state, 'valid');
  assert.equal(b.authorization.payment_method_category, 'klarna');
  assert.deepEqual(b.hpp_sessions, [{ session_id: hpp.json.session_id, status: 'WAITING' }]);
  const list = assertJsonOk(await k.get('/kasse/v1/hpp-sessions?limit=1'));
  assert.equal(list.hpp_sessions[0].session_id, hpp.json.session_id);
  assert.equal(list.hpp_sessions[0].kp_session_id, s.session_id);
  assertError(await k.get('/kasse/v1/sessions/00000000-0000-4000-8000-000000000000'), 404, 'NOT_FOUND');
});

test('callbacks newest first with next_before, each attempt with the start of its answer; resend makes a new event with the same body, delivered again', async () => {
  const p = rx.path();
  const body = clone(SE_EXAMPLE);
  body.merchant_urls = { authorization: rx.url(p) };
  const s = (await k.post('/payments/v1/sessions', body)).json;
  await k.post(`/kasse/v1/sessions/${s.session_id}/authorize`, {});
  const [first] = await rx.waitFor(p, 1);
  let ev;
  for (let i = 0; i < 100 && !(ev && ev.status === 'delivered'); i++) {
    const l = assertJsonOk(await k.get('/kasse/v1/callbacks?limit=1'));
    ev = l.callbacks[0];
    if (ev.status !== 'delivered') await sleep(50);
  }
  assert.equal(ev.status, 'delivered');
  assert.equal(ev.session_id, s.session_id);
  assert.equal(ev.attempts.length, 1);
  assert.equal(ev.attempts[0].http_status, 200);
  assert.equal(ev.attempts[0].response, 'ok', 'the start of the answer\'s body');
  assert.equal(ev.attempts[0].error, '');
  const res = await k.post(`/kasse/v1/callbacks/${ev.id}/resend`, {});
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.resent_from, ev.id);
  assert.ok(res.json.id > ev.id);
  assert.deepEqual([res.json.kind, res.json.url, res.json.body], [ev.kind, ev.url, ev.body]);
  const reqs = await rx.waitFor(p, 2);
  assert.equal(reqs[1].body, first.body, 'the same body again');
  const page = assertJsonOk(await k.get('/kasse/v1/callbacks?limit=1'));
  assert.equal(page.callbacks[0].id, res.json.id);
  assert.equal(page.next_before, res.json.id);
  const older = assertJsonOk(await k.get(`/kasse/v1/callbacks?limit=1&before=${page.next_before}`));
  assert.equal(older.callbacks[0].id, ev.id);
  assertError(await k.post(`/kasse/v1/callbacks/${ev.id}/resend`, {}, { auth: 'b' }), 404, 'NOT_FOUND');
  assertError(await k.post('/kasse/v1/callbacks/abc/resend', {}), 404, 'NOT_FOUND');
  assertBadValue(await k.get('/kasse/v1/callbacks?limit=0'), 'limit');
});

test('GET /kasse/v1/logs: the latest requests newest first, paged by a cursor, the merchant\'s only', async () => {
  // Newest first is by the millisecond received, then by correlation id: requests received
  // within one millisecond (which the server now manages) are in id order, not arrival order; so
  // these three are a few milliseconds apart, and arrival order is the list's order.
  const ids = [];
  for (let i = 0; i < 3; i++) {
    if (i) await sleep(3);
    ids.push((await k.get(`/payments/v1/sessions/00000000-0000-4000-8000-00000000000${i}`, { auth: 'b' })).headers['klarna-correlation-id']);
  }
  const b = assertJsonOk(await k.get('/kasse/v1/logs?limit=2', { auth: 'b' }));
  // The list call itself is logged once answered, so it is not in its own page.
  const newestFirst = [...ids].reverse();
  assert.deepEqual(b.requests.map((x) => x.correlation_id), newestFirst.slice(0, 2));
  assert.deepEqual(Object.keys(b.requests[0]).sort(), ['correlation_id', 'duration_ms', 'method', 'path', 'received_at', 'status']);
  assert.deepEqual([b.requests[0].method, b.requests[0].status], ['GET', 404]);
  assert.match(b.next_before, /^\d+\.[0-9a-f-]{36}$/);
  const next = assertJsonOk(await k.get(`/kasse/v1/logs?limit=1&before=${b.next_before}`, { auth: 'b' }));
  assert.equal(next.requests[0].correlation_id, newestFirst[2]);
  const a = assertJsonOk(await k.get('/kasse/v1/logs?limit=100'));
  assert.ok(!a.requests.some((x) => ids.includes(x.correlation_id)));
  for (const q of ['before=1', 'before=x.y', 'before=12.not-a-uuid']) assertBadValue(await k.get(`/kasse/v1/logs?${q}`), 'before');
});

test('demo shop: catalog, checkout, order — its server side calls the API as the signed-in merchant (in the request log)', async () => {
  assert.equal((await k.get('/demo/api/catalog', { auth: null })).status, 401);
  const s = await signIn();
  const cat = await portal(s, 'GET', '/demo/api/catalog');
  assert.equal(cat.status, 200);
  const sku = cat.json.products[0].sku;
  const price = cat.json.products[0].unit_price;
  assertBadValue(await portal(s, 'POST', '/demo/api/checkout', { items: [{ sku: 'NOPE', quantity: 1 }] }), 'items[0]');
  assertBadValue(await portal(s, 'POST', '/demo/api/checkout', { items: [] }), 'items');
  assert.equal((await portal(s, 'POST', '/demo/api/checkout', { items: [{ sku, quantity: 2 }] }, { csrf: false })).status, 403);
  const c = await portal(s, 'POST', '/demo/api/checkout', { items: [{ sku, quantity: 2 }] });
  assert.equal(c.status, 200, c.text);
  assert.match(c.json.session_id, UUID_RE);
  assert.equal(c.json.order_amount, 2 * price);
  const read = assertJsonOk(await k.get(`/payments/v1/sessions/${c.json.session_id}`));
  assert.equal(read.order_amount, 2 * price);
  const a = assertJsonOk(await k.post(`/kasse/v1/sessions/${c.json.session_id}/authorize`, {}));
  const o = await portal(s, 'POST', '/demo/api/orders', { session_id: c.json.session_id, authorization_token: a.authorization_token });
  assert.equal(o.status, 200, o.text);
  assert.match(o.json.order_id, UUID_RE);
  const order = assertJsonOk(await k.get(`/ordermanagement/v1/orders/${o.json.order_id}`));
  assert.equal(order.order_amount, 2 * price);
  assert.match(order.merchant_reference1, /^DEMO-[A-Z0-9]{8}$/);
  // A second order on the same token is Klarna's refusal, relayed as it came.
  const again = await portal(s, 'POST', '/demo/api/orders', { session_id: c.json.session_id, authorization_token: a.authorization_token });
  assert.equal(again.status, 403, again.text);
  const log = assertJsonOk(await k.get('/kasse/v1/logs?limit=20'));
  assert.ok(log.requests.some((x) => x.method === 'POST' && x.path === '/payments/v1/sessions' && x.status === 200));
  assert.ok(log.requests.some((x) => x.path === `/payments/v1/authorizations/${a.authorization_token}/order` && x.status === 200));
  const hpp = await portal(s, 'POST', '/demo/api/hpp', { items: [{ sku, quantity: 1 }] });
  assert.equal(hpp.status, 200, hpp.text);
  assert.match(hpp.json.redirect_url, /\/hpp\/payments\//);
});

test('GET /kasse/v1/orders/{id}/timeline: authorized → captures → refunds → extend/release/cancel, oldest first, with amounts; a repeated cancel adds nothing', async () => {
  const o = await placeOrder(k, { body: omCart(10000) });
  const om = `/ordermanagement/v1/orders/${o.order_id}`;
  assert.equal((await k.post(`${om}/captures`, { captured_amount: 3000 })).status, 201);
  await k.post('/kasse/v1/clock', { advance_seconds: 60 });
  assert.equal((await k.post(`${om}/refunds`, { refunded_amount: 1000 })).status, 201);
  await k.post('/kasse/v1/clock', { advance_seconds: 60 });
  assert.equal((await k.post(`${om}/extend-authorization-time`, {})).status, 204);
  await k.post('/kasse/v1/clock', { advance_seconds: 60 });
  assert.equal((await k.post(`${om}/release-remaining-authorization`, {})).status, 204);
  const t = assertJsonOk(await k.get(`/kasse/v1/orders/${o.order_id}/timeline`));
  const order = assertJsonOk(await k.get(om));
  assert.deepEqual(t.events.map((e) => [e.type, e.amount]), [
    ['authorized', 10000], ['capture', 3000], ['refund', 1000], ['authorization_extended', undefined], ['released', 7000]]);
  assert.equal(t.events[1].capture_id, order.captures[0].capture_id);
  assert.equal(t.events[1].at, order.captures[0].captured_at);
  assert.equal(t.events[2].refund_id, order.refunds[0].refund_id);
  for (const e of t.events) assert.match(e.at, ISO_MS);
  assert.deepEqual([t.status, t.order_amount, t.captured_amount, t.refunded_amount, t.remaining_authorized_amount],
    [order.status, 10000, 3000, 1000, 0]);
  const c = await placeOrder(k, { body: omCart(2000) });
  const cp = `/ordermanagement/v1/orders/${c.order_id}`;
  assert.equal((await k.post(`${cp}/cancel`, {})).status, 204);
  assert.equal((await k.post(`${cp}/cancel`, {})).status, 204);
  const ct = assertJsonOk(await k.get(`/kasse/v1/orders/${c.order_id}/timeline`));
  assert.deepEqual(ct.events.map((e) => e.type), ['authorized', 'cancelled']);
  assert.equal(ct.status, 'CANCELLED');
  // the order object a client reads never shows the bookkeeping
  assert.equal(assertJsonOk(await k.get(cp))._kasse, undefined);
  assertError(await k.get(`/kasse/v1/orders/${c.order_id}/timeline`, { auth: 'b' }), 404, 'NO_SUCH_ORDER');
});

test('a callback answer\'s excerpt is at most 255 bytes of valid UTF-8 whatever the receiver sends (invalid bytes and NUL as U+FFFD, cut between characters)', async () => {
  const http = await import('node:http');
  // 255 bytes are kept; 0xff and NUL become U+FFFD (3 bytes each), so the repaired text is
  // longer than 255 bytes and must be cut again between two 'é' (2 bytes each).
  const body = Buffer.concat([Buffer.from([0x78, 0xff, 0x00]), Buffer.from('é'.repeat(200))]);
  const srv = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200); res.end(body); }); });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const sb = clone(SE_EXAMPLE);
    sb.merchant_urls = { authorization: `http://127.0.0.1:${srv.address().port}/cb` };
    const s = (await k.post('/payments/v1/sessions', sb, { auth: 'b' })).json;
    await k.post(`/kasse/v1/sessions/${s.session_id}/authorize`, {}, { auth: 'b' });
    let ev;
    for (let i = 0; i < 100 && !(ev && ev.status === 'delivered'); i++) {
      ev = assertJsonOk(await k.get(`/kasse/v1/callbacks?session_id=${s.session_id}`, { auth: 'b' })).callbacks[0];
      if (!ev || ev.status !== 'delivered') await sleep(50);
    }
    const r = ev.attempts[0].response;
    assert.ok(Buffer.byteLength(r) <= 255, `${Buffer.byteLength(r)} bytes`);
    assert.ok(r.startsWith('x\ufffd\ufffd'), JSON.stringify(r.slice(0, 5)));
    assert.match(r.slice(3), /^é+$/);
  } finally {
    srv.close();
  }
});
