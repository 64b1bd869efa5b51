// Cancelling a Klarna Payments session: DELETE /payments/v1/sessions/{session_id} (Klarna's step 1
// guide: "you can also send a separate request to cancel the session"; issue 8 item 0).
// 204 with no body; afterwards the session reads and updates like an expired one (404), its
// authorization tokens no longer place orders, its HPP sessions become DISABLED (with their
// status callbacks), the call is in the request log; a completed session cannot be cancelled
// (404 SESSION_COMPLETED, as for updates); a second DELETE is 204 again; Klarna-Idempotency-Key
// replays. The operation is not in payments.json, so these calls go directly to Kasse in contract
// mode (`direct: true`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKasse, assertJsonOk, assertError, assertNoContent } from './harness.mjs';
import { SE_EXAMPLE, orderRequest } from './fixtures.mjs';

let k;
before(async () => { k = await startKasse({ testClock: true }); });
after(async () => { await k?.kill(); });

const SESSIONS = '/payments/v1/sessions';
const createSession = async (auth = 'a') => assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth }));
const cancelSession = (id, opts = {}) => k.del(`${SESSIONS}/${id}`, { direct: true, ...opts });
const invalidSession = (res) => assertError(res, 404, 'NOT_FOUND', ['Invalid session id']);
const authorize = async (id) => assertJsonOk(await k.post(`/kasse/v1/sessions/${id}/authorize`, {})).authorization_token;

test('cancel: 204 with no body; the session then reads and updates as expired (404 "Invalid session id")', async () => {
  const s = await createSession();
  const res = await cancelSession(s.session_id);
  assertNoContent(res);
  invalidSession(await k.get(`${SESSIONS}/${s.session_id}`));
  invalidSession(await k.post(`${SESSIONS}/${s.session_id}`, { merchant_reference1: 'late' }));
  invalidSession(await k.post(`/kasse/v1/sessions/${s.session_id}/authorize`, {}));
});

test('cancel: a second DELETE is harmless (204 again)', async () => {
  const s = await createSession();
  assertNoContent(await cancelSession(s.session_id));
  assertNoContent(await cancelSession(s.session_id));
  invalidSession(await k.get(`${SESSIONS}/${s.session_id}`));
});

test('cancel: an authorization token of the cancelled session no longer places an order (404 "Invalid authorization token")', async () => {
  const s = await createSession();
  const token = await authorize(s.session_id);
  assertNoContent(await cancelSession(s.session_id));
  assertError(await k.post(`/payments/v1/authorizations/${token}/order`, orderRequest(SE_EXAMPLE)), 404, 'NOT_FOUND',
    ['Invalid authorization token']);
});

test('cancel: a completed session cannot be cancelled → 404 SESSION_COMPLETED "Session has already been completed"; its order is untouched', async () => {
  const s = await createSession();
  const token = await authorize(s.session_id);
  const order = assertJsonOk(await k.post(`/payments/v1/authorizations/${token}/order`, orderRequest(SE_EXAMPLE)));
  assertError(await cancelSession(s.session_id), 404, 'SESSION_COMPLETED', ['Session has already been completed']);
  assert.equal(assertJsonOk(await k.get(`${SESSIONS}/${s.session_id}`)).status, 'complete');
  assert.equal(assertJsonOk(await k.get(`/ordermanagement/v1/orders/${order.order_id}`)).status, 'AUTHORIZED');
});

test('cancel: unknown, malformed, expired or another merchant\'s session → 404 "Invalid session id"; the other merchant\'s session still works', async () => {
  invalidSession(await cancelSession(crypto.randomUUID()));
  invalidSession(await cancelSession('not-a-session'));
  const other = await createSession('b');
  invalidSession(await cancelSession(other.session_id));
  assertJsonOk(await k.get(`${SESSIONS}/${other.session_id}`, { auth: 'b' }));
  const s = await createSession();
  assertJsonOk(await k.post('/kasse/v1/clock', { advance_seconds: 48 * 3600 }));
  invalidSession(await cancelSession(s.session_id));
});

test('cancel: its HPP sessions become DISABLED, each with a status callback; the page refuses (410 SESSION_DISABLED)', async () => {
  const s = await createSession();
  const h = assertJsonOk(await k.post('/hpp/v1/sessions', {
    payment_session_url: `https://api.playground.klarna.com/payments/v1/sessions/${s.session_id}`,
    merchant_urls: { status_update: 'http://127.0.0.1:9/status' },
  }, { direct: true }), 201);
  assertNoContent(await cancelSession(s.session_id));
  const read = assertJsonOk(await k.get(`/hpp/v1/sessions/${h.session_id}`, { direct: true }));
  assert.equal(read.status, 'DISABLED');
  const page = h.redirect_url.split('/').pop();
  assertError(await k.post(`/hpp/shopper/v1/${page}/open`, {}), 410, 'SESSION_DISABLED');
  const cbs = assertJsonOk(await k.get(`/kasse/v1/callbacks?session_id=${h.session_id}`)).callbacks;
  assert.deepEqual(cbs.map((c) => [c.kind, c.body.session.status]), [['hpp_status', 'DISABLED']]);
});

test('cancel: Klarna-Idempotency-Key replays the 204; the call is in the request log', async () => {
  const s = await createSession();
  const headers = { 'Klarna-Idempotency-Key': crypto.randomUUID() };
  const first = await cancelSession(s.session_id, { headers });
  assertNoContent(first);
  assertNoContent(await cancelSession(s.session_id, { headers }));
  const id = first.headers['klarna-correlation-id'];
  const log = assertJsonOk(await k.get(`/kasse/v1/logs/${id}`));
  assert.equal(log.method, 'DELETE');
  assert.equal(log.path, `${SESSIONS}/${s.session_id}`);
  assert.equal(log.status, 204);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
