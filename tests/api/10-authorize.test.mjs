// Headless authorization: POST /kasse/v1/sessions/{id}/authorize (Kasse's stand-in for the
// shopper's authorize() in the widget, contract 6.3 / 7.1), the tokens it mints (2.5, 2.9) and
// what GET /payments/v1/sessions/{id} shows afterwards (2.3).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertError, assertBadValue, UUID_RE, MERCHANTS,
} from './harness.mjs';
import { SE_EXAMPLE, US_EXAMPLE, email, seAddress, orderRequest } from './fixtures.mjs';

let k;
before(async () => { k = await startKasse({ testClock: true, merchants: [MERCHANTS.a, MERCHANTS.b, MERCHANTS.c] }); });
after(async () => { await k?.kill(); });

const SESSIONS = '/payments/v1/sessions';
const advance = (s) => k.post('/kasse/v1/clock', { advance_seconds: s });
const createSession = async (body = SE_EXAMPLE, auth = 'a') => assertJsonOk(await k.post(SESSIONS, body, { auth }));
const authorize = (id, body = {}, auth = 'a') => k.post(`/kasse/v1/sessions/${id}/authorize`, body, { auth });
const read = async (id, auth = 'a') => assertJsonOk(await k.get(`${SESSIONS}/${id}`, { auth }));
const invalidSession = (res) => assertError(res, 404, 'NOT_FOUND', ['Invalid session id']);
const invalidToken = (res) => assertError(res, 404, 'NOT_FOUND', ['Invalid authorization token']);

/** Approved callback object: exactly {approved, show_form, authorization_token (UUID)}. */
function assertApproved(res) {
  const body = assertJsonOk(res);
  assert.deepEqual(Object.keys(body).sort(), ['approved', 'authorization_token', 'show_form'], res.text);
  assert.equal(body.approved, true);
  assert.equal(body.show_form, true);
  assert.match(body.authorization_token, UUID_RE);
  return body.authorization_token;
}
function assertDenied(res, showForm) {
  const body = assertJsonOk(res);
  assert.deepEqual(body, { approved: false, show_form: showForm }, res.text);
}

// ---------- outcomes (contract 6.3, 7.1) ----------

test('approve: customer@email.se → 200 {approved:true, show_form:true, authorization_token: UUID}', async () => {
  const s = await createSession();
  assertApproved(await authorize(s.session_id, { billing_address: { email: email('SE') } }));
});

test('approve: an empty body is decided as the market\'s approved identity → approved', async () => {
  const s = await createSession();
  assertApproved(await authorize(s.session_id, {}));
  const us = await createSession(US_EXAMPLE);
  assertApproved(await authorize(us.session_id));
});

test('approve: a request without a body at all is accepted (all fields optional) → approved', async () => {
  const s = await createSession();
  const res = await k.request('POST', `/kasse/v1/sessions/${s.session_id}/authorize`);
  assertApproved(res);
});

test('deny: +denied e-mail → 200 {approved:false, show_form:false} and no token on the session', async () => {
  const s = await createSession();
  assertDenied(await authorize(s.session_id, { billing_address: { email: email('SE', 'denied') } }), false);
  const r = await read(s.session_id);
  assert.equal('authorization_token' in r, false, `authorization_token present: ${r.authorization_token}`);
  assert.equal(r.status, 'incomplete');
});

test('deny: +reject_reason_<reason> e-mails → {approved:false, show_form:false}', async () => {
  for (const reason of ['high_risk', 'under_age', 'credit_limit_exceeded']) {
    const s = await createSession(US_EXAMPLE);
    assertDenied(await authorize(s.session_id, { billing_address: { email: email('US', `reject_reason_${reason}`) } }), false);
  }
});

test('deny: +red e-mail (pre-screening) → {approved:false, show_form:false}', async () => {
  const s = await createSession(US_EXAMPLE);
  assertDenied(await authorize(s.session_id, { billing_address: { email: email('US', 'red') } }), false);
});

test('deny: the decision uses the session\'s billing e-mail when the authorize body has none', async () => {
  const s = await createSession({ ...SE_EXAMPLE, billing_address: { email: email('SE', 'denied') } });
  assertDenied(await authorize(s.session_id, {}), false);
});

test('otp: "999999" → {approved:false, show_form:true} (shopper may retry); another 6-digit code approves', async () => {
  const s = await createSession();
  assertDenied(await authorize(s.session_id, { otp: '999999' }), true);
  assert.equal('authorization_token' in await read(s.session_id), false);
  assertApproved(await authorize(s.session_id, { otp: '123456' }));
});

test('otp: not exactly 6 digits → 400 BAD_VALUE "Bad value: otp"', async () => {
  const s = await createSession();
  for (const otp of ['12345', '1234567', '12a456', '', ' 12345', '１２３４５６']) {
    assertBadValue(await authorize(s.session_id, { otp }), 'otp');
  }
  assert.equal('authorization_token' in await read(s.session_id), false, 'a rejected otp mints no token');
});

test('approve: +require_signup (the headless helper completes the sign-up) → approved', async () => {
  const s = await createSession(US_EXAMPLE);
  assertApproved(await authorize(s.session_id, { billing_address: { email: email('US', 'require_signup') } }));
});

test('approve: +pend-accept-NN and +pend-reject-NN → approved (the decision comes later)', async () => {
  for (const tag of ['pend-accept-05', 'pend-reject-10']) {
    const s = await createSession(US_EXAMPLE);
    assertApproved(await authorize(s.session_id, { billing_address: { email: email('US', tag) } }));
  }
});

// ---------- input validation ----------

test('bad address data → 400 BAD_VALUE with the path (update rules) and the session is unchanged', async () => {
  const s = await createSession();
  const before = await read(s.session_id);
  assertBadValue(await authorize(s.session_id, { billing_address: { email: email('SE'), postal_code: '12345678901' } }),
    'billing_address.postal_code');
  assertBadValue(await authorize(s.session_id, { shipping_address: { city: 'c'.repeat(100) } }), 'shipping_address.city');
  assertBadValue(await authorize(s.session_id, { billing_address: { given_name: 'g'.repeat(100) } }), 'billing_address.given_name');
  const after = await read(s.session_id);
  assert.deepEqual(after, before, 'nothing changed');
});

test('payment_method_category the session offers ("klarna") → approved; one it does not offer → 400 "Bad value: payment_method_category"', async () => {
  const s = await createSession();
  assert.deepEqual(s.payment_method_categories.map((c) => c.identifier), ['klarna']);
  assertBadValue(await authorize(s.session_id, { payment_method_category: 'pay_over_time' }), 'payment_method_category');
  assertBadValue(await authorize(s.session_id, { payment_method_category: 'nonsense' }), 'payment_method_category');
  assert.equal('authorization_token' in await read(s.session_id), false);
  assertApproved(await authorize(s.session_id, { payment_method_category: 'klarna' }));
});

test('payment_method_category: a classic merchant may authorize any category its session offers; others → 400', async () => {
  const s = await createSession(SE_EXAMPLE, 'c');
  const ids = s.payment_method_categories.map((c) => c.identifier);
  assert.ok(ids.length > 1 && !ids.includes('klarna'), `classic categories: ${ids}`);
  assertBadValue(await authorize(s.session_id, { payment_method_category: 'klarna' }, 'c'), 'payment_method_category');
  for (const id of ids) assertApproved(await authorize(s.session_id, { payment_method_category: id }, 'c'));
});

test('authorize: unknown session id, non-UUID id and merchant B\'s session → 404 NOT_FOUND "Invalid session id"', async () => {
  invalidSession(await authorize(crypto.randomUUID()));
  invalidSession(await authorize('not-a-session'));
  const s = await createSession(SE_EXAMPLE, 'a');
  invalidSession(await authorize(s.session_id, {}, 'b'));
  assert.equal('authorization_token' in await read(s.session_id), false, 'B\'s attempt minted nothing');
});

test('authorize: requires merchant Basic auth → 401', async () => {
  const s = await createSession();
  const res = await authorize(s.session_id, {}, null);
  assertError(res, 401, 'UNAUTHORIZED', []);
});

test('authorize: expired session (48 h on Kasse\'s clock) → 404 NOT_FOUND "Invalid session id"', async () => {
  const s = await createSession();
  assertJsonOk(await advance(48 * 3600 + 1));
  invalidSession(await authorize(s.session_id));
});

test('authorize: completed session (order placed) → 404 SESSION_COMPLETED "Session has already been completed"', async () => {
  const s = await createSession();
  const t = assertApproved(await authorize(s.session_id));
  assertJsonOk(await k.post(`/payments/v1/authorizations/${t}/order`, orderRequest(SE_EXAMPLE)));
  assertError(await authorize(s.session_id), 404, 'SESSION_COMPLETED', ['Session has already been completed']);
});

// ---------- tokens and the session read ----------

test('token: each approval mints a new token; GET session shows the newest as authorization_token', async () => {
  const s = await createSession();
  const t1 = assertApproved(await authorize(s.session_id));
  assert.equal((await read(s.session_id)).authorization_token, t1);
  const t2 = assertApproved(await authorize(s.session_id));
  assert.notEqual(t1, t2);
  const r = await read(s.session_id);
  assert.equal(r.authorization_token, t2);
  assert.equal(r.status, 'incomplete');
});

test('token: a newer approval supersedes the older token → create order with it 404 "Invalid authorization token"', async () => {
  const s = await createSession();
  const t1 = assertApproved(await authorize(s.session_id));
  const t2 = assertApproved(await authorize(s.session_id));
  invalidToken(await k.post(`/payments/v1/authorizations/${t1}/order`, orderRequest(SE_EXAMPLE)));
  assertJsonOk(await k.post(`/payments/v1/authorizations/${t2}/order`, orderRequest(SE_EXAMPLE)));
});

test('token: only an approval supersedes — after a denied re-authorization the earlier token is still current and usable', async () => {
  const s = await createSession();
  const t1 = assertApproved(await authorize(s.session_id));
  assertDenied(await authorize(s.session_id, { otp: '999999' }), true);
  assert.equal((await read(s.session_id)).authorization_token, t1);
  assertJsonOk(await k.post(`/payments/v1/authorizations/${t1}/order`, orderRequest(SE_EXAMPLE)));
});

test('token: valid 60 minutes on Kasse\'s clock — shown at 59:59, absent at 60:01', async () => {
  const s = await createSession();
  const t = assertApproved(await authorize(s.session_id));
  assertJsonOk(await advance(3599));
  assert.equal((await read(s.session_id)).authorization_token, t);
  assertJsonOk(await advance(2));
  const r = await read(s.session_id);
  assert.equal('authorization_token' in r, false, `expired token still shown: ${r.authorization_token}`);
  assert.equal(r.status, 'incomplete');
  // A fresh authorization after expiry works.
  assertApproved(await authorize(s.session_id));
});

test('session read: customer appears only once authorized, without national_identification_number / last_four_ssn', async () => {
  const customer = { date_of_birth: '1941-03-21', gender: 'female', national_identification_number: '194103219202' };
  const s = await createSession({ ...SE_EXAMPLE, customer: { ...customer, type: 'person' } });
  assert.equal('customer' in await read(s.session_id), false, 'no customer before authorization');
  assertApproved(await authorize(s.session_id));
  const r = await read(s.session_id);
  assert.ok(r.customer && typeof r.customer === 'object', `customer missing after authorization: ${JSON.stringify(r)}`);
  assert.equal(r.customer.date_of_birth, '1941-03-21');
  assert.equal(r.customer.gender, 'female');
  assert.equal('national_identification_number' in r.customer, false);
  assert.equal('last_four_ssn' in r.customer, false);
});

test('session read: customer given at authorize is shown afterwards, still without last_four_ssn', async () => {
  const s = await createSession(US_EXAMPLE);
  assertApproved(await authorize(s.session_id, { customer: { date_of_birth: '1970-10-07', last_four_ssn: '1234' } }));
  const r = await read(s.session_id);
  assert.equal(r.customer?.date_of_birth, '1970-10-07', JSON.stringify(r.customer));
  assert.equal('last_four_ssn' in r.customer, false);
  assert.equal('national_identification_number' in r.customer, false);
});

test('session read: addresses given at authorize are stored on the session', async () => {
  const s = await createSession();
  const billing = seAddress();
  const shipping = seAddress({ street_address: 'Karlaplan 3', postal_code: '11460', email: undefined });
  delete shipping.email;
  assertApproved(await authorize(s.session_id, { billing_address: billing, shipping_address: shipping }));
  const r = await read(s.session_id);
  assert.deepEqual(r.billing_address, billing);
  assert.deepEqual(r.shipping_address, shipping);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
