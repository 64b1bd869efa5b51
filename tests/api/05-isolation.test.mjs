// Two merchants on one server: neither can see or change the other's sessions or logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKasse, assertJsonOk, assertError, assertNoContent } from './harness.mjs';
import { SE_EXAMPLE, cart } from './fixtures.mjs';

let k;
before(async () => { k = await startKasse(); });
after(async () => { await k?.kill(); });

const SESSIONS = '/payments/v1/sessions';
const invalidSession = (res) => assertError(res, 404, 'NOT_FOUND', ['Invalid session id']);

test('merchant B reading merchant A\'s session → 404 "Invalid session id"', async () => {
  const a = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth: 'a' }));
  invalidSession(await k.get(`${SESSIONS}/${a.session_id}`, { auth: 'b' }));
  assertJsonOk(await k.get(`${SESSIONS}/${a.session_id}`, { auth: 'a' }));
});

test('merchant B updating merchant A\'s session → 404 "Invalid session id" and A\'s session is unchanged', async () => {
  const a = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth: 'a' }));
  const before = assertJsonOk(await k.get(`${SESSIONS}/${a.session_id}`, { auth: 'a' }));
  invalidSession(await k.post(`${SESSIONS}/${a.session_id}`, { merchant_reference1: 'hijacked' }, { auth: 'b' }));
  // A valid cart for another market, so validation cannot be what stops it.
  invalidSession(await k.post(`${SESSIONS}/${a.session_id}`, cart('DE'), { auth: 'b' }));
  const after = assertJsonOk(await k.get(`${SESSIONS}/${a.session_id}`, { auth: 'a' }));
  assert.deepEqual(after, before);
});

test('merchant B\'s 404 for A\'s session is indistinguishable from an unknown id', async () => {
  const a = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth: 'a' }));
  const foreign = await k.get(`${SESSIONS}/${a.session_id}`, { auth: 'b' });
  const unknown = await k.get(`${SESSIONS}/${crypto.randomUUID()}`, { auth: 'b' });
  assert.equal(foreign.status, unknown.status);
  assert.deepEqual(foreign.json.error_messages, unknown.json.error_messages);
  assert.equal(foreign.json.error_code, unknown.json.error_code);
});

test('each merchant updates its own session; the other merchant\'s is untouched', async () => {
  const a = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth: 'a' }));
  const b = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth: 'b' }));
  assertNoContent(await k.post(`${SESSIONS}/${b.session_id}`, { merchant_reference1: 'b-ref' }, { auth: 'b' }));
  const ra = assertJsonOk(await k.get(`${SESSIONS}/${a.session_id}`, { auth: 'a' }));
  const rb = assertJsonOk(await k.get(`${SESSIONS}/${b.session_id}`, { auth: 'b' }));
  assert.equal(ra.merchant_reference1, undefined);
  assert.equal(rb.merchant_reference1, 'b-ref');
});

test('request log of merchant A\'s request → 404 NOT_FOUND for merchant B', async () => {
  const res = await k.post(SESSIONS, SE_EXAMPLE, { auth: 'a' });
  const cid = res.headers['klarna-correlation-id'];
  const logB = await k.get(`/kasse/v1/logs/${cid}`, { auth: 'b' });
  assertError(logB, 404, 'NOT_FOUND');
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
