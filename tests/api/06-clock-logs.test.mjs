// --test-clock (POST /kasse/v1/clock), 48-hour session expiry, and the request log
// (GET /kasse/v1/logs/{correlation_id}).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertError, MERCHANTS, ISO_MS, sleep,
} from './harness.mjs';
import { SE_EXAMPLE } from './fixtures.mjs';

let k;
before(async () => { k = await startKasse({ testClock: true }); });
after(async () => { await k?.kill(); });

const SESSIONS = '/payments/v1/sessions';
const advance = (s, auth = 'a') => k.post('/kasse/v1/clock', { advance_seconds: s }, { auth });
const invalidSession = (res) => assertError(res, 404, 'NOT_FOUND', ['Invalid session id']);

test('clock: POST /kasse/v1/clock {advance_seconds} → 200 {now} moved forward by that much', async () => {
  const r0 = assertJsonOk(await advance(0));
  assert.deepEqual(Object.keys(r0), ['now']);
  assert.match(r0.now, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/);
  const r1 = assertJsonOk(await advance(3600));
  const d = Date.parse(r1.now) - Date.parse(r0.now);
  assert.ok(d >= 3600_000 && d < 3600_000 + 5000, `advanced ${d} ms`);
});

test('clock: requires merchant Basic auth → 401 without it', async () => {
  const res = await k.post('/kasse/v1/clock', { advance_seconds: 1 }, { auth: null });
  assertError(res, 401, 'UNAUTHORIZED', []);
  assert.equal(res.headers['www-authenticate'], 'Basic realm="Kasse"');
});

test('expiry: session readable at 48 h − 1 s, 404 "Invalid session id" at 48 h + 1 s (GET and update)', async () => {
  const created = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  const id = created.session_id;
  const exp = Date.parse(assertJsonOk(await k.get(`${SESSIONS}/${id}`)).expires_at);
  assertJsonOk(await advance(48 * 3600 - 5));
  const still = assertJsonOk(await k.get(`${SESSIONS}/${id}`));
  assert.equal(Date.parse(still.expires_at), exp, 'reading does not extend expiry');
  assertJsonOk(await advance(6));
  invalidSession(await k.get(`${SESSIONS}/${id}`));
  invalidSession(await k.post(`${SESSIONS}/${id}`, { merchant_reference1: 'late' }));
});

test('expiry: expires_at of a session created under the test clock = clock now + 48 h', async () => {
  const { now } = assertJsonOk(await advance(86400));
  const created = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  const r = assertJsonOk(await k.get(`${SESSIONS}/${created.session_id}`));
  assert.match(r.expires_at, ISO_MS);
  const d = Date.parse(r.expires_at) - Date.parse(now);
  assert.ok(d >= 48 * 3600_000 && d < 48 * 3600_000 + 5000, `expires_at ${r.expires_at}, clock ${now}`);
});

test('expiry: an update does not resurrect or extend past 48 h from creation', async () => {
  const created = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  const id = created.session_id;
  assertJsonOk(await advance(47 * 3600));
  const upd = await k.post(`${SESSIONS}/${id}`, { merchant_reference1: 'x' });
  assert.equal(upd.status, 204, upd.text);
  assertJsonOk(await advance(3600 + 1));
  invalidSession(await k.get(`${SESSIONS}/${id}`));
});

test('clock: a missing or non-integer advance_seconds → 400 error envelope', async () => {
  for (const body of [{}, { advance_seconds: 'x' }, { advance_seconds: 1.5 }]) {
    const res = await k.post('/kasse/v1/clock', body);
    assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status} ${res.text}`);
    assertError(res, 400, res.json?.error_code);
  }
});

// ---------- request log ----------

async function getLog(cid, auth = 'a') {
  // The log row may be written just after the reply; give it a moment.
  let res;
  for (let i = 0; i < 20; i++) {
    res = await k.get(`/kasse/v1/logs/${cid}`, { auth });
    if (res.status !== 404) return res;
    await sleep(100);
  }
  return res;
}

test('request log: GET /kasse/v1/logs/{cid} → 200 with method, path, status, received_at, duration_ms and both bodies as strings', async () => {
  const reqText = JSON.stringify(SE_EXAMPLE);
  const res = await k.request('POST', SESSIONS, { raw: reqText });
  assert.equal(res.status, 200);
  const cid = res.headers['klarna-correlation-id'];
  const log = assertJsonOk(await getLog(cid));
  assert.equal(log.correlation_id, cid);
  assert.equal(log.method, 'POST');
  assert.equal(log.path, SESSIONS);
  assert.equal(log.status, 200);
  assert.match(log.received_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/);
  assert.equal(typeof log.duration_ms, 'number');
  assert.ok(log.duration_ms >= 0);
  assert.equal(typeof log.request_body, 'string');
  assert.equal(typeof log.response_body, 'string');
  assert.equal(log.request_body, reqText);
  assert.equal(log.response_body, res.text);
});

test('request log: error responses are logged with their status and envelope', async () => {
  const res = await k.post(SESSIONS, { ...SE_EXAMPLE, order_amount: 1 });
  assert.equal(res.status, 400);
  const log = assertJsonOk(await getLog(res.json.correlation_id));
  assert.equal(log.status, 400);
  assert.equal(log.response_body, res.text);
  assert.deepEqual(JSON.parse(log.response_body).error_messages, ['Bad value: order_amount']);
});

test('request log: GET requests are logged with their path and an empty request body', async () => {
  const created = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  const res = await k.get(`${SESSIONS}/${created.session_id}`);
  const log = assertJsonOk(await getLog(res.headers['klarna-correlation-id']));
  assert.equal(log.method, 'GET');
  assert.equal(log.path, `${SESSIONS}/${created.session_id}`);
  assert.equal(log.status, 200);
  assert.equal(log.request_body, '');
});

test('request log: the Authorization header and credentials never appear in it', async () => {
  const res = await k.post(SESSIONS, SE_EXAMPLE);
  const logRes = await getLog(res.headers['klarna-correlation-id']);
  assertJsonOk(logRes);
  const b64 = Buffer.from(`${MERCHANTS.a.user}:${MERCHANTS.a.secret}`).toString('base64');
  for (const needle of [MERCHANTS.a.secret, b64, 'Basic ', MERCHANTS.a.user + ':']) {
    assert.ok(!logRes.text.includes(needle), `log contains ${needle}`);
  }
  // The SE example has merchant_urls.authorization, so "authorization" may appear in the bodies,
  // but not as a header anywhere outside them.
  const { request_body: _q, response_body: _r, ...meta } = logRes.json;
  assert.doesNotMatch(JSON.stringify(meta), /authorization/i);
});

test('request log: another merchant gets 404 NOT_FOUND; unknown correlation id → 404', async () => {
  const res = await k.post(SESSIONS, SE_EXAMPLE, { auth: 'a' });
  const cid = res.headers['klarna-correlation-id'];
  assertJsonOk(await getLog(cid, 'a'));
  assertError(await k.get(`/kasse/v1/logs/${cid}`, { auth: 'b' }), 404, 'NOT_FOUND');
  assertError(await k.get(`/kasse/v1/logs/${crypto.randomUUID()}`, { auth: 'a' }), 404, 'NOT_FOUND');
  assertError(await k.get('/kasse/v1/logs/not-a-uuid', { auth: 'a' }), 404, 'NOT_FOUND');
});

test('request log: requires Basic auth → 401 without it', async () => {
  const res = await k.post(SESSIONS, SE_EXAMPLE);
  const r = await k.get(`/kasse/v1/logs/${res.headers['klarna-correlation-id']}`, { auth: null });
  assertError(r, 401, 'UNAUTHORIZED', []);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
