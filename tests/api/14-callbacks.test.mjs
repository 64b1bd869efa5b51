// Outgoing callbacks: the server-side authorization callback (merchant_urls.authorization,
// contract 6.5) and pending-order fraud notifications (merchant_urls.notification, 5.6),
// delivered by a background worker (2 s connect/read timeouts, 3 attempts, backoff 1 s then
// 2 s, any 2xx = delivered) and listed by GET /kasse/v1/callbacks?session_id=|order_id=.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertError, freePort, sleep,
} from './harness.mjs';
import { startReceiver } from './receiver.mjs';
import { SE_EXAMPLE, US_EXAMPLE, email, orderRequest, clone } from './fixtures.mjs';

let k;
let rx;
before(async () => {
  k = await startKasse({ testClock: true });
  rx = await startReceiver();
});
after(async () => {
  await k?.kill();
  await rx?.close();
});

const SESSIONS = '/payments/v1/sessions';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/;
const advance = (s) => k.post('/kasse/v1/clock', { advance_seconds: s });
const listBy = (q, auth = 'a') => k.get(`/kasse/v1/callbacks?${q}`, { auth });

async function session(urls, extra = {}, base = SE_EXAMPLE, auth = 'a') {
  const body = { ...clone(base), merchant_urls: urls, ...extra };
  const s = assertJsonOk(await k.post(SESSIONS, body, { auth }));
  return { ...s, body };
}
async function authorize(id, data = {}, auth = 'a') {
  return assertJsonOk(await k.post(`/kasse/v1/sessions/${id}/authorize`, data, { auth }));
}

/** Poll GET /kasse/v1/callbacks until pred(list) holds; returns the list. */
async function pollCallbacks(q, pred, timeoutMs = 10000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    const res = await listBy(q);
    last = res;
    if (res.status === 200 && Array.isArray(res.json?.callbacks) && pred(res.json.callbacks)) return res.json.callbacks;
    await sleep(50);
  }
  assert.fail(`callbacks for ${q} did not reach the expected state in ${timeoutMs} ms; last reply ${last?.status}: ${last?.text}`);
}
const settled = (list) => list.length > 0 && list.every((c) => c.status !== 'pending');

/** Shape of one callback record. */
function assertRecord(c, { kind, url, status, attempts }) {
  for (const key of ['id', 'kind', 'url', 'body', 'status', 'attempts', 'created_at']) {
    assert.ok(key in c, `callback record lacks ${key}: ${JSON.stringify(c)}`);
  }
  assert.ok((typeof c.id === 'string' && c.id.length > 0) || Number.isInteger(c.id), `id: ${c.id}`);
  assert.equal(c.kind, kind);
  assert.equal(c.url, url);
  assert.equal(c.status, status);
  assert.match(c.created_at, ISO);
  assert.equal(typeof c.body, 'object');
  assert.ok(Array.isArray(c.attempts));
  if (attempts !== undefined) assert.equal(c.attempts.length, attempts, `attempts: ${JSON.stringify(c.attempts)}`);
  for (const a of c.attempts) {
    for (const key of ['at', 'http_status', 'error', 'duration_ms']) assert.ok(key in a, `attempt lacks ${key}: ${JSON.stringify(a)}`);
    assert.match(a.at, ISO);
    assert.equal(typeof a.http_status, 'number');
    assert.equal(typeof a.duration_ms, 'number');
    assert.ok(a.duration_ms >= 0);
  }
}

// ---------- authorization callback ----------

test('authorization callback: after an approval the URL receives POST application/json {authorization_token, session_id}', async () => {
  const p = rx.path();
  const s = await session({ authorization: rx.url(p) });
  const cb = await authorize(s.session_id);
  const [req] = await rx.waitFor(p, 1);
  assert.equal(req.method, 'POST');
  assert.equal(req.path, p);
  assert.match(req.headers['content-type'], /^application\/json\b/);
  assert.deepEqual(req.json, { authorization_token: cb.authorization_token, session_id: s.session_id });
});

test('authorization callback: merchant_reference1/2 are added when set on the session', async () => {
  const p = rx.path();
  const s = await session({ authorization: rx.url(p) }, { merchant_reference1: 'order-42', merchant_reference2: 'ref-2' });
  const cb = await authorize(s.session_id);
  const [req] = await rx.waitFor(p, 1);
  assert.deepEqual(req.json, { authorization_token: cb.authorization_token, session_id: s.session_id,
    merchant_reference1: 'order-42', merchant_reference2: 'ref-2' });
});

test('authorization callback: listed by GET /kasse/v1/callbacks?session_id= as kind "authorization", status delivered, one attempt with http_status 200', async () => {
  const p = rx.path();
  const url = rx.url(p);
  const s = await session({ authorization: url });
  const cb = await authorize(s.session_id);
  const list = await pollCallbacks(`session_id=${s.session_id}`, settled);
  assert.equal(list.length, 1, JSON.stringify(list));
  const [c] = list;
  assertRecord(c, { kind: 'authorization', url, status: 'delivered', attempts: 1 });
  assert.deepEqual(c.body, { authorization_token: cb.authorization_token, session_id: s.session_id });
  assert.equal(c.attempts[0].http_status, 200);
  assert.equal(rx.requests(p).length, 1);
});

test('authorization callback: each approval sends its own callback with the new token', async () => {
  const p = rx.path();
  const s = await session({ authorization: rx.url(p) });
  const t1 = (await authorize(s.session_id)).authorization_token;
  const t2 = (await authorize(s.session_id)).authorization_token;
  const reqs = await rx.waitFor(p, 2);
  assert.deepEqual(new Set(reqs.map((r) => r.json.authorization_token)), new Set([t1, t2]));
  const list = await pollCallbacks(`session_id=${s.session_id}`, (l) => l.length === 2 && settled(l));
  assert.deepEqual(new Set(list.map((c) => c.body.authorization_token)), new Set([t1, t2]));
});

test('authorization callback: none for a denied or otp-failed authorization', async () => {
  const p = rx.path();
  const s = await session({ authorization: rx.url(p) });
  assert.equal((await authorize(s.session_id, { billing_address: { email: email('SE', 'denied') } })).approved, false);
  assert.equal((await authorize(s.session_id, { otp: '999999' })).approved, false);
  const res = assertJsonOk(await listBy(`session_id=${s.session_id}`));
  assert.deepEqual(res, { callbacks: [] });
  await sleep(300);
  assert.equal(rx.requests(p).length, 0);
});

test('authorization callback: none when the session has no merchant_urls.authorization', async () => {
  const s = await session({ confirmation: 'https://shop.example/c' });
  assert.equal((await authorize(s.session_id)).approved, true);
  assert.deepEqual(assertJsonOk(await listBy(`session_id=${s.session_id}`)), { callbacks: [] });
});

test('authorization callback: a replayed authorize (same Klarna-Idempotency-Key) sends no second callback', async () => {
  const p = rx.path();
  const s = await session({ authorization: rx.url(p) });
  const headers = { 'klarna-idempotency-key': crypto.randomUUID() };
  const r1 = assertJsonOk(await k.post(`/kasse/v1/sessions/${s.session_id}/authorize`, {}, { headers }));
  const r2 = assertJsonOk(await k.post(`/kasse/v1/sessions/${s.session_id}/authorize`, {}, { headers }));
  assert.equal(r2.authorization_token, r1.authorization_token);
  const list = await pollCallbacks(`session_id=${s.session_id}`, settled);
  assert.equal(list.length, 1, JSON.stringify(list));
  await sleep(200);
  assert.equal(rx.requests(p).length, 1);
});

test('delivery: any 2xx counts as delivered (204 → one attempt, status delivered)', async () => {
  const p = rx.path({ okStatus: 204 });
  const s = await session({ authorization: rx.url(p) });
  await authorize(s.session_id);
  const [c] = await pollCallbacks(`session_id=${s.session_id}`, settled);
  assert.equal(c.status, 'delivered');
  assert.equal(c.attempts.length, 1);
  assert.equal(c.attempts[0].http_status, 204);
});

test('delivery: a receiver failing twice (500) then answering 200 gets exactly 3 attempts, ~1 s then ~2 s apart; status delivered', async () => {
  const p = rx.path({ fail: 2 });
  const url = rx.url(p);
  const s = await session({ authorization: url });
  await authorize(s.session_id);
  const list = await pollCallbacks(`session_id=${s.session_id}`, settled, 15000);
  const [c] = list;
  assertRecord(c, { kind: 'authorization', url, status: 'delivered', attempts: 3 });
  assert.deepEqual(c.attempts.map((a) => a.http_status), [500, 500, 200]);
  const reqs = rx.requests(p);
  assert.equal(reqs.length, 3);
  const gap1 = reqs[1].at - reqs[0].at;
  const gap2 = reqs[2].at - reqs[1].at;
  assert.ok(gap1 >= 900 && gap1 < 1900, `first backoff ${gap1} ms (expected ~1 s)`);
  assert.ok(gap2 >= 1900 && gap2 < 3500, `second backoff ${gap2} ms (expected ~2 s)`);
  // Every attempt carried the same body.
  for (const r of reqs) assert.deepEqual(r.json, reqs[0].json);
});

test('delivery: a receiver that always fails gets 3 attempts and the callback ends "failed"', async () => {
  const p = rx.path({ fail: Infinity });
  const url = rx.url(p);
  const s = await session({ authorization: url });
  await authorize(s.session_id);
  const [c] = await pollCallbacks(`session_id=${s.session_id}`, settled, 15000);
  assertRecord(c, { kind: 'authorization', url, status: 'failed', attempts: 3 });
  assert.deepEqual(c.attempts.map((a) => a.http_status), [500, 500, 500]);
  await sleep(300);
  assert.equal(rx.requests(p).length, 3, 'no fourth attempt');
});

test('delivery: nobody listening → attempts with http_status 0 and an error message; status failed after 3', async () => {
  const port = await freePort(); // closed again: connections are refused
  const url = `http://127.0.0.1:${port}/authorized`;
  const s = await session({ authorization: url });
  await authorize(s.session_id);
  const [c] = await pollCallbacks(`session_id=${s.session_id}`, settled, 15000);
  assertRecord(c, { kind: 'authorization', url, status: 'failed', attempts: 3 });
  for (const a of c.attempts) {
    assert.equal(a.http_status, 0);
    assert.equal(typeof a.error, 'string');
    assert.ok(a.error.length > 0, 'error says why');
  }
});

test('delivery: an attempt the receiver never answers times out after the 2 s read timeout (http_status 0, error set) and is retried', async () => {
  const p = rx.path({ hang: 1 });
  const s = await session({ authorization: rx.url(p) });
  await authorize(s.session_id);
  const [c] = await pollCallbacks(`session_id=${s.session_id}`, settled, 10000);
  assert.equal(c.status, 'delivered');
  assert.equal(c.attempts.length, 2, JSON.stringify(c.attempts));
  const [a, b] = c.attempts;
  assert.equal(a.http_status, 0);
  assert.ok(typeof a.error === 'string' && a.error.length > 0, JSON.stringify(a));
  assert.ok(a.duration_ms >= 1800 && a.duration_ms < 3500, `timed out after ${a.duration_ms} ms (expected ~2000)`);
  assert.equal(b.http_status, 200);
});

// ---------- the list ----------

test('list: requires merchant Basic auth → 401', async () => {
  const s = await session({ authorization: rx.url(rx.path()) });
  assertError(await listBy(`session_id=${s.session_id}`, null), 401, 'UNAUTHORIZED', []);
});

test('list: merchant scoped — merchant B does not see merchant A\'s callbacks', async () => {
  const p = rx.path();
  const s = await session({ authorization: rx.url(p) });
  await authorize(s.session_id);
  await pollCallbacks(`session_id=${s.session_id}`, settled);
  const res = await listBy(`session_id=${s.session_id}`, 'b');
  if (res.status === 200) assert.deepEqual(res.json, { callbacks: [] });
  else assertError(res, 404, 'NOT_FOUND');
});

test('list: an unknown session id → 200 {callbacks: []}', async () => {
  const res = await listBy(`session_id=${crypto.randomUUID()}`);
  if (res.status === 200) assert.deepEqual(res.json, { callbacks: [] });
  else assertError(res, 404, 'NOT_FOUND');
});

// ---------- fraud notifications (contract 5.6) ----------

async function pendingOrder(tag, notification) {
  const s = await session({ notification }, {}, US_EXAMPLE);
  const cb = await authorize(s.session_id, { billing_address: { email: email('US', tag) } });
  assert.equal(cb.approved, true);
  const o = assertJsonOk(await k.post(`/payments/v1/authorizations/${cb.authorization_token}/order`, orderRequest(US_EXAMPLE)));
  assert.equal(o.fraud_status, 'PENDING');
  return { ...o, session_id: s.session_id };
}

test('fraud: +pend-accept-05 → nothing before 5 minutes on Kasse\'s clock; then notification receives {order_id, event_type: "FRAUD_RISK_ACCEPTED"}', async () => {
  const p = rx.path();
  const url = rx.url(p);
  const o = await pendingOrder('pend-accept-05', url);
  assertJsonOk(await advance(5 * 60 - 2));
  await sleep(600);
  assert.equal(rx.requests(p).length, 0, 'notified before the review time');
  assertJsonOk(await advance(3));
  const [req] = await rx.waitFor(p, 1);
  assert.equal(req.method, 'POST');
  assert.match(req.headers['content-type'], /^application\/json\b/);
  assert.deepEqual(req.json, { order_id: o.order_id, event_type: 'FRAUD_RISK_ACCEPTED' });
  const list = await pollCallbacks(`order_id=${o.order_id}`, settled);
  assert.equal(list.length, 1);
  assertRecord(list[0], { kind: 'fraud_notification', url, status: 'delivered', attempts: 1 });
  assert.deepEqual(list[0].body, { order_id: o.order_id, event_type: 'FRAUD_RISK_ACCEPTED' });
});

test('fraud: +pend-reject-10 → after 10 minutes notification receives {order_id, event_type: "FRAUD_RISK_REJECTED"}', async () => {
  const p = rx.path();
  const o = await pendingOrder('pend-reject-10', rx.url(p));
  assertJsonOk(await advance(10 * 60 + 1));
  const [req] = await rx.waitFor(p, 1);
  assert.deepEqual(req.json, { order_id: o.order_id, event_type: 'FRAUD_RISK_REJECTED' });
});

test('fraud: {order.id} in merchant_urls.notification is substituted', async () => {
  const p = rx.path();
  const o = await pendingOrder('pend-accept-01', rx.url(p, '/{order.id}'));
  assertJsonOk(await advance(61));
  const [req] = await rx.waitFor(p, 1);
  assert.equal(req.path, `${p}/${o.order_id}`);
});

test('fraud: an ACCEPTED order sends no fraud notification', async () => {
  const p = rx.path();
  const s = await session({ notification: rx.url(p) }, {}, US_EXAMPLE);
  const cb = await authorize(s.session_id);
  const o = assertJsonOk(await k.post(`/payments/v1/authorizations/${cb.authorization_token}/order`, orderRequest(US_EXAMPLE)));
  assert.equal(o.fraud_status, 'ACCEPTED');
  assertJsonOk(await advance(100 * 60));
  await sleep(500);
  assert.equal(rx.requests(p).length, 0);
  assert.deepEqual(assertJsonOk(await listBy(`order_id=${o.order_id}`)), { callbacks: [] });
});

test('no callback went to an unregistered receiver path', () => {
  assert.deepEqual(rx.unknown.map((r) => r.url), []);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
