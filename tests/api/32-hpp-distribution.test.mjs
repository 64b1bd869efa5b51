// Hosted Payment Page, distribution (contract 4.9; docs/hpp.md): POST /hpp/v1/sessions/{id}/distribution
// by e-mail, SMS or token → 201 with an empty body; Kasse sends nothing, the message is recorded
// and listed by GET /kasse/v1/messages?session_id= with the redirect_url as its link. Validation
// with field paths, refused for disabled/completed/cancelled sessions, 404 for others' sessions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, assertJsonOk, assertError, assertBadValue, assertCorrelation, assertNoContent, ISO_MS,
} from './harness.mjs';
import { HPP, hppClient, cart } from './fixtures.mjs';

let k;
let h;
before(async () => { k = await startKasse({ testClock: true }); h = hppClient(k); });
after(async () => { await k?.kill(); });

const hppNotFound = (res) => assertError(res, 404, 'NOT_FOUND', ['HPP session not found']);
const EMAIL = { method: 'email', contact_information: { email: 'test@example.com' } };
const SMS = { method: 'sms', contact_information: { phone: '07000212345', phone_country: 'SE' } };
const TOKEN = { method: 'token', contact_information: { access_id: '467521087419' } };

/** 201, no body (contract 4.1: the PHP SDK accepts 200/201/204; docs/hpp.md: 201, empty body). */
function assertCreated(res) {
  assert.equal(res.status, 201, `expected 201, got ${res.status}: ${res.text}`);
  assertCorrelation(res);
  assert.equal(res.text, '', '201 has an empty body');
}

/** A message record: the documented keys (optional ones only where they apply). */
function assertMessage(m, { session, method, to, phoneCountry, subject, template }) {
  const keys = ['created_at', 'link', 'message_id', 'method', 'session_id', 'text', 'to'];
  if (phoneCountry !== undefined) keys.push('phone_country');
  if (subject) keys.push('subject');
  if (template !== undefined) keys.push('template');
  assert.deepEqual(Object.keys(m).sort(), keys.sort(), JSON.stringify(m));
  assert.ok(m.message_id !== null && m.message_id !== '', 'message_id');
  assert.equal(m.session_id, session.session_id);
  assert.equal(m.method, method);
  assert.equal(m.to, to);
  assert.equal(m.link, session.redirect_url, 'the link is the redirect_url');
  assert.equal(typeof m.text, 'string');
  assert.ok(m.text.includes(session.redirect_url), `the text holds the link: ${m.text}`);
  assert.match(m.created_at, ISO_MS);
  if (phoneCountry !== undefined) assert.equal(m.phone_country, phoneCountry);
  if (subject) assert.ok(typeof m.subject === 'string' && m.subject.length > 0, 'an e-mail has a subject');
  if (template !== undefined) assert.equal(m.template, template);
}

// ---------- the three methods ----------

test('email → 201 empty body; GET /kasse/v1/messages lists {message_id, session_id, method "email", to, subject, text with the link, link = redirect_url, created_at}', async () => {
  const s = await h.createOk();
  assertCreated(await h.distribute(s.session_id, EMAIL));
  const list = await h.messages(s.session_id);
  assert.equal(list.length, 1, JSON.stringify(list));
  assertMessage(list[0], { session: s, method: 'email', to: 'test@example.com', subject: true });
});

test('sms → 201; the message has method "sms", to = phone, phone_country, no subject, the link in its text', async () => {
  const s = await h.createOk();
  assertCreated(await h.distribute(s.session_id, SMS));
  const [m] = await h.messages(s.session_id);
  assertMessage(m, { session: s, method: 'sms', to: '07000212345', phoneCountry: 'SE' });
});

test('token → 201; the message has method "token", to = access_id', async () => {
  const s = await h.createOk();
  assertCreated(await h.distribute(s.session_id, TOKEN));
  const [m] = await h.messages(s.session_id);
  assertMessage(m, { session: s, method: 'token', to: '467521087419' });
});

test('template INSTORE_PURCHASE is accepted and recorded on the message', async () => {
  const s = await h.createOk();
  assertCreated(await h.distribute(s.session_id, { ...SMS, template: 'INSTORE_PURCHASE' }));
  const [m] = await h.messages(s.session_id);
  assertMessage(m, { session: s, method: 'sms', to: '07000212345', phoneCountry: 'SE', template: 'INSTORE_PURCHASE' });
});

test('Klarna\'s documented example body (sms with e-mail, phone and template) → 201', async () => {
  const s = await h.createOk();
  assertCreated(await h.distribute(s.session_id, { contact_information: { email: 'test@example.com', phone: '07000212345',
    phone_country: 'SE' }, method: 'sms', template: 'INSTORE_PURCHASE' }));
  assert.equal((await h.messages(s.session_id)).length, 1);
});

test('the message is written in the KP session\'s language (sv-SE and de-DE differ from English; es-ES, which Kasse has no text for, is English)', async () => {
  const text = async (locale, country = 'SE') => {
    const kp = await h.kpSession(cart(country, { locale }));
    const s = await h.createOk({ kp });
    assertCreated(await h.distribute(s.session_id, EMAIL));
    const [m] = await h.messages(s.session_id);
    return { text: m.text.replace(s.redirect_url, '<link>'), subject: m.subject };
  };
  const en = await text('en-SE');
  const sv = await text('sv-SE');
  assert.notEqual(sv.text, en.text, 'Swedish text');
  assert.notEqual(sv.subject, en.subject, 'Swedish subject');
  const de = await text('de-DE', 'DE');
  const enDe = await text('en-DE', 'DE');
  assert.notEqual(de.text, enDe.text, 'German text');
  const es = await text('es-ES', 'ES');
  const enEs = await text('en-ES', 'ES');
  assert.equal(es.text, enEs.text, 'a language Kasse has no text for → English');
  assert.equal(es.subject, enEs.subject);
});

test('messages: oldest first, one per distribution, only the asked session\'s', async () => {
  const s = await h.createOk();
  const other = await h.createOk();
  assertCreated(await h.distribute(s.session_id, EMAIL));
  await h.advance(5);
  assertCreated(await h.distribute(other.session_id, SMS));
  assertCreated(await h.distribute(s.session_id, SMS));
  await h.advance(5);
  assertCreated(await h.distribute(s.session_id, TOKEN));
  const list = await h.messages(s.session_id);
  assert.deepEqual(list.map((m) => m.method), ['email', 'sms', 'token']);
  assert.ok(list.every((m) => m.session_id === s.session_id));
  assert.equal(new Set(list.map((m) => String(m.message_id))).size, 3, 'message ids differ');
  const at = list.map((m) => Date.parse(m.created_at));
  assert.ok(at[0] <= at[1] && at[1] <= at[2], `oldest first: ${list.map((m) => m.created_at)}`);
  assert.ok(at[2] - at[0] >= 10_000, 'created_at is Kasse\'s clock');
  assert.equal((await h.messages(other.session_id)).length, 1);
});

test('distribution works while the session can still be paid: WAITING, IN_PROGRESS, BACK, FAILED', async () => {
  const urls = { back: 'https://shop.example/back', failure: 'https://shop.example/fail' };
  for (const step of ['waiting', 'open', 'back', 'fail']) {
    const s = await h.createOk({ merchant_urls: urls });
    if (step !== 'waiting') assertJsonOk(await h.open(s.page_id));
    if (step === 'back') assertJsonOk(await h.back(s.page_id));
    if (step === 'fail') {
      assertJsonOk(await h.authorize(s.page_id, { payment_method_category: 'klarna', email: 'customer+denied@email.se',
        phone: '+46701740615', otp: '123456', signup_done: false }));
    }
    assertCreated(await h.distribute(s.session_id, EMAIL));
  }
});

// ---------- validation ----------

const BAD = [
  [{ contact_information: { email: 'test@example.com' } }, 'method'],
  [{ method: 'fax', contact_information: { email: 'test@example.com' } }, 'method'],
  [{ method: 5, contact_information: { email: 'test@example.com' } }, 'method'],
  [{ method: 'email' }, 'contact_information'],
  [{ method: 'email', contact_information: 'test@example.com' }, 'contact_information'],
  [{ method: 'email', contact_information: {} }, 'contact_information.email'],
  [{ method: 'email', contact_information: { email: 'not-an-email' } }, 'contact_information.email'],
  [{ method: 'email', contact_information: { email: 42 } }, 'contact_information.email'],
  [{ method: 'email', contact_information: { phone: '07000212345', phone_country: 'SE' } }, 'contact_information.email'],
  [{ method: 'sms', contact_information: { phone_country: 'SE' } }, 'contact_information.phone'],
  [{ method: 'sms', contact_information: { phone: 'call me', phone_country: 'SE' } }, 'contact_information.phone'],
  [{ method: 'sms', contact_information: { phone: '0'.repeat(21), phone_country: 'SE' } }, 'contact_information.phone'],
  [{ method: 'sms', contact_information: { phone: '07000212345' } }, 'contact_information.phone_country'],
  [{ method: 'sms', contact_information: { phone: '07000212345', phone_country: 'SWE' } }, 'contact_information.phone_country'],
  [{ method: 'sms', contact_information: { phone: '07000212345', phone_country: 'S1' } }, 'contact_information.phone_country'],
  [{ method: 'token', contact_information: {} }, 'contact_information.access_id'],
  [{ method: 'token', contact_information: { access_id: 7 } }, 'contact_information.access_id'],
  [{ ...EMAIL, template: 'OTHER' }, 'template'],
  [{ ...EMAIL, template: 1 }, 'template'],
];

for (const [body, path] of BAD) {
  test(`validation: ${JSON.stringify(body).slice(0, 100)} → 400 BAD_VALUE "Bad value: ${path}", nothing recorded`, async () => {
    const s = await h.createOk();
    assertBadValue(await h.distribute(s.session_id, body), path);
    assert.deepEqual(await h.messages(s.session_id), []);
  });
}

test('validation: malformed JSON → 400 BAD_REQUEST, nothing recorded', async () => {
  const s = await h.createOk();
  assertError(await k.request('POST', `${HPP}/${s.session_id}/distribution`, { raw: '{"method":' }), 400, 'BAD_REQUEST');
  assert.deepEqual(await h.messages(s.session_id), []);
});

// ---------- refusals ----------

test('a disabled session → 400 BAD_VALUE "HPP session is disabled"', async () => {
  const s = await h.createOk();
  assertNoContent(await h.disable(s.session_id));
  assertError(await h.distribute(s.session_id, EMAIL), 400, 'BAD_VALUE', ['HPP session is disabled']);
  assert.deepEqual(await h.messages(s.session_id), []);
});

test('a completed session → 400 BAD_VALUE "HPP session is completed"', async () => {
  const s = await h.createOk();
  await h.pay(s.page_id);
  assertError(await h.distribute(s.session_id, SMS), 400, 'BAD_VALUE', ['HPP session is completed']);
  assert.deepEqual(await h.messages(s.session_id), []);
});

test('a cancelled session → 400 BAD_VALUE "HPP session is cancelled"', async () => {
  const s = await h.createOk({ merchant_urls: { cancel: 'https://shop.example/cancel' } });
  assertJsonOk(await h.open(s.page_id));
  assertJsonOk(await h.cancel(s.page_id));
  assertError(await h.distribute(s.session_id, TOKEN), 400, 'BAD_VALUE', ['HPP session is cancelled']);
});

test('an unknown session → 404 "HPP session not found"; an expired one → 404 "HPP session has expired"', async () => {
  hppNotFound(await h.distribute(crypto.randomUUID(), EMAIL));
  const s = await h.createOk();
  await h.advance(47 * 3600 + 1);
  assertError(await h.distribute(s.session_id, EMAIL), 404, 'NOT_FOUND', ['HPP session has expired']);
  assert.deepEqual(await h.messages(s.session_id), []);
});

test('isolation: merchant B cannot distribute A\'s session (404) and sees none of A\'s messages', async () => {
  const s = await h.createOk();
  assertCreated(await h.distribute(s.session_id, EMAIL));
  hppNotFound(await h.distribute(s.session_id, EMAIL, 'b'));
  assert.deepEqual(await h.messages(s.session_id, 'b'), []);
  assert.equal((await h.messages(s.session_id)).length, 1, 'A still has one message');
});

test('auth: distribution and the message list require merchant Basic auth → 401', async () => {
  const s = await h.createOk();
  assertError(await h.distribute(s.session_id, EMAIL, null), 401, 'UNAUTHORIZED', []);
  assertError(await k.get(`/kasse/v1/messages?session_id=${s.session_id}`, { auth: null }), 401, 'UNAUTHORIZED', []);
});

test('Klarna-Idempotency-Key: the replay is the same 201 and records no second message', async () => {
  const s = await h.createOk();
  const headers = { 'klarna-idempotency-key': crypto.randomUUID() };
  assertCreated(await h.distribute(s.session_id, EMAIL, 'a', headers));
  assertCreated(await h.distribute(s.session_id, EMAIL, 'a', headers));
  assert.equal((await h.messages(s.session_id)).length, 1);
});

test('distribution changes nothing on the session (status and updated_at kept)', async () => {
  const s = await h.createOk();
  const before = await h.readOk(s.session_id);
  await h.advance(30);
  assertCreated(await h.distribute(s.session_id, EMAIL));
  assert.deepEqual(await h.readOk(s.session_id), before);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
