// Hosted Payment Page, read and disable (contract 4.6, 4.8; docs/hpp.md): GET /hpp/v1/sessions/{id}
// fields per status, updated_at on Kasse's clock, expiry (404 "HPP session has expired" for a
// non-final session past expires_at, final sessions keep their outcome), DELETE → 204 DISABLED
// (idempotent; 400 after COMPLETED; shopper calls then 410), ids and isolation, and the contract
// self-test of the hpp.json proxy (KASSE_CONTRACT=1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startKasse, Kasse, CONTRACT, assertJsonOk, assertError, assertNoContent, UUID_RE, ISO_MS,
} from './harness.mjs';
import {
  SE_EXAMPLE, HPP, HPP_CUSTOMER_FIELDS, OM, hppClient, hppAuthorizeBody, orderRequest, email,
} from './fixtures.mjs';

let k;
let h;
before(async () => { k = await startKasse({ testClock: true }); h = hppClient(k); });
after(async () => { await k?.kill(); });

const hppNotFound = (res) => assertError(res, 404, 'NOT_FOUND', ['HPP session not found']);
const hppExpired = (res) => assertError(res, 404, 'NOT_FOUND', ['HPP session has expired']);
const BASE_KEYS = ['expires_at', 'session_id', 'status', 'updated_at'];
const URLS = {
  success: 'https://shop.example/ok?hpp={{session_id}}&token={{authorization_token}}&order={{order_id}}',
  failure: 'https://shop.example/fail?hpp={{session_id}}',
  back: 'https://shop.example/back?hpp={{session_id}}',
  cancel: 'https://shop.example/cancel?hpp={{session_id}}',
};

/** Keys of a read, with `customer` (present once the shopper was identified) checked and dropped. */
function keysOf(r) {
  if ('customer' in r) {
    assert.equal(typeof r.customer, 'object');
    for (const [f, v] of Object.entries(r.customer)) {
      assert.ok(HPP_CUSTOMER_FIELDS.includes(f), `customer.${f} is not a CustomerV1 field`);
      assert.equal(typeof v, 'string', `customer.${f}`);
    }
  }
  return Object.keys(r).filter((x) => x !== 'customer').sort();
}

// ---------- read ----------

test('read: a new session → 200 exactly {session_id, status: WAITING, updated_at, expires_at}, expires_at as created', async () => {
  const s = await h.createOk();
  const res = await h.read(s.session_id);
  const r = assertJsonOk(res);
  assert.deepEqual(Object.keys(r).sort(), BASE_KEYS, res.text);
  assert.equal(r.session_id, s.session_id);
  assert.equal(r.status, 'WAITING');
  assert.match(r.updated_at, ISO_MS);
  assert.equal(r.expires_at, s.expires_at);
});

test('read: updated_at is Kasse\'s clock at the last status change; reads and clock moves do not change it', async () => {
  const s = await h.createOk();
  const r0 = await h.readOk(s.session_id);
  const t1 = Date.parse(await h.advance(600));
  assert.equal((await h.readOk(s.session_id)).updated_at, r0.updated_at, 'a read changes nothing');
  assertJsonOk(await h.open(s.page_id));
  const r1 = await h.readOk(s.session_id);
  assert.equal(r1.status, 'IN_PROGRESS');
  const d = Date.parse(r1.updated_at) - t1;
  assert.ok(d >= 0 && d < 5000, `updated_at ${r1.updated_at} is the clock at the change (${new Date(t1).toISOString()})`);
  assertJsonOk(await h.open(s.page_id)); // already IN_PROGRESS: no change
  await h.advance(60);
  assert.equal((await h.readOk(s.session_id)).updated_at, r1.updated_at, 'opening again is no status change');
});

test('read: statuses as the shopper moves: WAITING → IN_PROGRESS → BACK → IN_PROGRESS → FAILED → IN_PROGRESS → COMPLETED', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  const st = async () => (await h.readOk(s.session_id)).status;
  assert.equal(await st(), 'WAITING');
  assertJsonOk(await h.open(s.page_id));
  assert.equal(await st(), 'IN_PROGRESS');
  assertJsonOk(await h.back(s.page_id));
  assert.equal(await st(), 'BACK');
  assertJsonOk(await h.open(s.page_id));
  assert.equal(await st(), 'IN_PROGRESS');
  assert.equal(assertJsonOk(await h.authorize(s.page_id, hppAuthorizeBody({ email: email('SE', 'denied') }))).result, 'declined');
  assert.equal(await st(), 'FAILED');
  assertJsonOk(await h.open(s.page_id));
  assert.equal(await st(), 'IN_PROGRESS');
  assert.equal(assertJsonOk(await h.authorize(s.page_id)).result, 'approved');
  assert.equal(await st(), 'COMPLETED');
});

test('read: COMPLETED (place_order_mode NONE) adds authorization_token only; the token places the KP order', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  await h.pay(s.page_id);
  const res = await h.read(s.session_id);
  const r = assertJsonOk(res);
  assert.equal(r.status, 'COMPLETED');
  assert.deepEqual(keysOf(r), [...BASE_KEYS, 'authorization_token'].sort(), res.text);
  assert.match(r.authorization_token, UUID_RE);
  const o = await k.post(`/payments/v1/authorizations/${r.authorization_token}/order`, orderRequest(SE_EXAMPLE));
  assert.equal(assertJsonOk(o).fraud_status, 'ACCEPTED');
});

test('read: COMPLETED (PLACE_ORDER) adds order_id + klarna_reference only; the OM order is AUTHORIZED with that reference', async () => {
  const s = await h.createOk({ merchant_urls: URLS, options: { place_order_mode: 'PLACE_ORDER' } });
  await h.pay(s.page_id);
  const res = await h.read(s.session_id);
  const r = assertJsonOk(res);
  assert.equal(r.status, 'COMPLETED');
  assert.deepEqual(keysOf(r), [...BASE_KEYS, 'klarna_reference', 'order_id'].sort(), res.text);
  assert.match(r.order_id, UUID_RE);
  const o = assertJsonOk(await k.get(`${OM}/${r.order_id}`));
  assert.equal(o.status, 'AUTHORIZED');
  assert.equal(o.klarna_reference, r.klarna_reference);
  assert.equal(o.order_amount, SE_EXAMPLE.order_amount);
});

test('read: COMPLETED (CAPTURE_ORDER) has order_id + klarna_reference; the OM order is CAPTURED in full', async () => {
  const s = await h.createOk({ options: { place_order_mode: 'CAPTURE_ORDER' } });
  await h.pay(s.page_id);
  const r = await h.readOk(s.session_id);
  assert.equal(r.status, 'COMPLETED');
  assert.deepEqual(keysOf(r), [...BASE_KEYS, 'klarna_reference', 'order_id'].sort());
  const o = assertJsonOk(await k.get(`${OM}/${r.order_id}`));
  assert.equal(o.status, 'CAPTURED');
  assert.equal(o.captured_amount, o.order_amount);
  assert.equal(o.remaining_authorized_amount, 0);
  assert.equal(o.klarna_reference, r.klarna_reference);
});

test('read: an unknown id, a malformed id and a page id (the shopper\'s key) → 404 "HPP session not found"', async () => {
  const s = await h.createOk();
  hppNotFound(await h.read(crypto.randomUUID()));
  hppNotFound(await h.read('not-a-uuid'));
  hppNotFound(await h.read(s.page_id));
  hppNotFound(await h.read(s.kp)); // a KP session id is not an HPP session id
});

test('read: requires merchant Basic auth → 401; merchant B → 404 "HPP session not found"', async () => {
  const s = await h.createOk();
  assertError(await h.read(s.session_id, null), 401, 'UNAUTHORIZED', []);
  hppNotFound(await h.read(s.session_id, 'b'));
});

// ---------- the KP session completed elsewhere (docs/hpp.md decision) ----------

test('KP session completed through create-order → its non-final HPP sessions read DISABLED (WAITING, IN_PROGRESS, BACK); a CANCELLED one stays', async () => {
  const kp = await h.kpSession();
  const waiting = await h.createOk({ kp, merchant_urls: URLS });
  const inProgress = await h.createOk({ kp, merchant_urls: URLS });
  const back = await h.createOk({ kp, merchant_urls: URLS });
  const cancelled = await h.createOk({ kp, merchant_urls: URLS });
  assertJsonOk(await h.open(inProgress.page_id));
  assertJsonOk(await h.open(back.page_id));
  assertJsonOk(await h.back(back.page_id));
  assertJsonOk(await h.open(cancelled.page_id));
  assertJsonOk(await h.cancel(cancelled.page_id));
  const a = assertJsonOk(await k.post(`/kasse/v1/sessions/${kp}/authorize`, {}));
  assertJsonOk(await k.post(`/payments/v1/authorizations/${a.authorization_token}/order`, orderRequest(SE_EXAMPLE)));
  for (const s of [waiting, inProgress, back]) {
    const r = await h.readOk(s.session_id);
    assert.equal(r.status, 'DISABLED');
    assert.deepEqual(keysOf(r), BASE_KEYS, 'no outcome of its own');
  }
  assert.equal((await h.readOk(cancelled.session_id)).status, 'CANCELLED');
  assertError(await h.authorize(inProgress.page_id), 410, 'SESSION_DISABLED');
});

test('one HPP session placing the order (PLACE_ORDER) disables the KP session\'s other HPP sessions', async () => {
  const kp = await h.kpSession();
  const payer = await h.createOk({ kp, options: { place_order_mode: 'PLACE_ORDER' } });
  const other = await h.createOk({ kp });
  assertJsonOk(await h.open(other.page_id));
  await h.pay(payer.page_id);
  assert.equal((await h.readOk(payer.session_id)).status, 'COMPLETED');
  assert.equal((await h.readOk(other.session_id)).status, 'DISABLED');
});

test('mode NONE: once the merchant places the order with the HPP token, the KP session\'s other HPP sessions are DISABLED; the paid one stays COMPLETED', async () => {
  const kp = await h.kpSession();
  const payer = await h.createOk({ kp });
  const other = await h.createOk({ kp });
  await h.pay(payer.page_id);
  const done = await h.readOk(payer.session_id);
  assertJsonOk(await k.post(`/payments/v1/authorizations/${done.authorization_token}/order`, orderRequest(SE_EXAMPLE)));
  assert.deepEqual(await h.readOk(payer.session_id), done);
  assert.equal((await h.readOk(other.session_id)).status, 'DISABLED');
});

// ---------- expiry ----------

test('expiry: a non-final session is readable until expires_at, then 404 NOT_FOUND "HPP session has expired" (WAITING, IN_PROGRESS, BACK, FAILED)', async () => {
  const waiting = await h.createOk({ merchant_urls: URLS });
  const inProgress = await h.createOk({ merchant_urls: URLS });
  const back = await h.createOk({ merchant_urls: URLS });
  const failed = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(inProgress.page_id));
  assertJsonOk(await h.open(back.page_id));
  assertJsonOk(await h.back(back.page_id));
  assertJsonOk(await h.open(failed.page_id));
  assertJsonOk(await h.authorize(failed.page_id, hppAuthorizeBody({ email: email('SE', 'denied') })));
  const all = [[waiting, 'WAITING'], [inProgress, 'IN_PROGRESS'], [back, 'BACK'], [failed, 'FAILED']];
  const now = Date.parse(await h.advance(0));
  const left = Math.floor((Date.parse(waiting.expires_at) - now) / 1000);
  await h.advance(left - 5);
  for (const [s, status] of all) assert.equal((await h.readOk(s.session_id)).status, status);
  await h.advance(10);
  for (const [s] of all) {
    hppExpired(await h.read(s.session_id));
    hppExpired(await h.disable(s.session_id));
  }
});

test('expiry: final sessions stay readable after expires_at with their outcome (COMPLETED keeps its token, CANCELLED, DISABLED)', async () => {
  const done = await h.createOk({ merchant_urls: URLS });
  const cancelled = await h.createOk({ merchant_urls: URLS });
  const disabled = await h.createOk();
  await h.pay(done.page_id);
  const before = await h.readOk(done.session_id);
  assertJsonOk(await h.open(cancelled.page_id));
  assertJsonOk(await h.cancel(cancelled.page_id));
  assertNoContent(await h.disable(disabled.session_id));
  await h.advance(48 * 3600);
  assert.deepEqual(await h.readOk(done.session_id), before, 'COMPLETED read unchanged, authorization_token kept');
  assert.equal((await h.readOk(cancelled.session_id)).status, 'CANCELLED');
  assert.equal((await h.readOk(disabled.session_id)).status, 'DISABLED');
});

// ---------- disable ----------

test('disable: DELETE → 204 with an empty body; read → DISABLED; DELETE again → 204, nothing changes', async () => {
  const s = await h.createOk();
  const res = await h.disable(s.session_id);
  assertNoContent(res);
  assert.equal(res.headers['content-type'], undefined, '204 has no Content-Type');
  const r1 = await h.readOk(s.session_id);
  assert.equal(r1.status, 'DISABLED');
  assert.deepEqual(Object.keys(r1).sort(), BASE_KEYS);
  await h.advance(60);
  assertNoContent(await h.disable(s.session_id));
  assert.deepEqual(await h.readOk(s.session_id), r1, 'a second disable changes nothing (updated_at kept)');
});

test('disable: an IN_PROGRESS, BACK or FAILED session → 204 DISABLED', async () => {
  for (const step of ['open', 'back', 'fail']) {
    const s = await h.createOk({ merchant_urls: URLS });
    assertJsonOk(await h.open(s.page_id));
    if (step === 'back') assertJsonOk(await h.back(s.page_id));
    if (step === 'fail') assertJsonOk(await h.authorize(s.page_id, hppAuthorizeBody({ email: email('SE', 'denied') })));
    assertNoContent(await h.disable(s.session_id));
    assert.equal((await h.readOk(s.session_id)).status, 'DISABLED', step);
  }
});

test('disable: after COMPLETED → 400 BAD_VALUE "HPP session has already been successfully completed"; still COMPLETED', async () => {
  const s = await h.createOk();
  await h.pay(s.page_id);
  const before = await h.readOk(s.session_id);
  assertError(await h.disable(s.session_id), 400, 'BAD_VALUE', ['HPP session has already been successfully completed']);
  assert.deepEqual(await h.readOk(s.session_id), before);
});

test('disable: a CANCELLED session → 204 and it stays CANCELLED', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(s.page_id));
  assertJsonOk(await h.cancel(s.page_id));
  const before = await h.readOk(s.session_id);
  assertNoContent(await h.disable(s.session_id));
  assert.deepEqual(await h.readOk(s.session_id), before);
});

test('disable: the shopper\'s calls then answer 410 SESSION_DISABLED (state, open, identify, authorize, back, cancel)', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(s.page_id));
  assertNoContent(await h.disable(s.session_id));
  const gone = (res) => assertError(res, 410, 'SESSION_DISABLED');
  gone(await h.open(s.page_id));
  gone(await h.identify(s.page_id));
  gone(await h.authorize(s.page_id));
  gone(await h.back(s.page_id));
  gone(await h.cancel(s.page_id));
  const st = await h.state(s.page_id);
  if (st.status === 200) assert.equal(st.json.status, 'DISABLED', st.text);
  else gone(st);
  assert.equal((await h.readOk(s.session_id)).status, 'DISABLED', 'no shopper call changed it');
});

test('disable: unknown id → 404 "HPP session not found"; merchant B → 404 and A\'s session is untouched; no auth → 401', async () => {
  const s = await h.createOk();
  hppNotFound(await h.disable(crypto.randomUUID()));
  hppNotFound(await h.disable(s.session_id, 'b'));
  assertError(await h.disable(s.session_id, null), 401, 'UNAUTHORIZED', []);
  assert.equal((await h.readOk(s.session_id)).status, 'WAITING');
});

test('disable: with Klarna-Idempotency-Key the replay is the same 204', async () => {
  const s = await h.createOk();
  const headers = { 'klarna-idempotency-key': crypto.randomUUID() };
  assertNoContent(await h.disable(s.session_id, 'a', headers));
  assertNoContent(await h.disable(s.session_id, 'a', headers));
  assert.equal((await h.readOk(s.session_id)).status, 'DISABLED');
});

// ---------- contract self-test of the hpp.json proxy ----------

test('contract check (hpp.json): a bad session body, an undocumented 418, a 500, a non-envelope 404 and a body on the distribution 201 fail; conforming replies pass', { skip: !CONTRACT }, async () => {
  const S = (n) => `${HPP}/0b1d5c8e-1c2d-4a47-9d2e-6f2b8e2a1c1${n}`;
  const env = { correlation_id: '0b1d5c8e-1c2d-4a47-9d2e-6f2b8e2a1c11', error_code: 'NOT_FOUND', error_messages: ['HPP session not found'] };
  const good = { session_id: 'x', status: 'WAITING', updated_at: '2026-01-01T00:00:00.000Z', expires_at: '2026-01-02T23:00:00.000Z' };
  const upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const send = (status, body, headers = {}) => {
        res.writeHead(status, body === undefined ? headers : { 'content-type': 'application/json', ...headers });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      const u = req.url;
      const m = req.method;
      if (m === 'GET' && u === S(1)) return send(200, { ...good, status: 'PAID', updated_at: 'yesterday' });
      if (m === 'GET' && u === S(2)) return send(418, env);
      if (m === 'GET' && u === S(3)) return send(500, env);
      if (m === 'GET' && u === S(4)) return send(404, { message: 'nope' });
      if (m === 'POST' && u === `${S(5)}/distribution`) return send(201, { sent: true });
      if (m === 'POST' && u === HPP) return send(201, { session_id: 7, expires_at: 'soon' });
      if (m === 'GET' && u === S(0)) return send(200, good);
      if (m === 'GET' && u === S(6)) return send(404, env);
      if (m === 'DELETE' && u === S(0)) return send(204);
      if (m === 'DELETE' && u === S(6)) return send(400, { ...env, error_code: 'BAD_VALUE' });
      if (m === 'POST' && u === `${S(0)}/distribution`) return send(201);
      return send(500, env);
    });
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  const fake = new Kasse({ dir: null, dbPath: null, port: upstream.address().port, publicUrl: null, proc: null,
    out: { stdout: '', stderr: '' }, exited: Promise.resolve({ code: 0, signal: null }) });
  const dist = { method: 'email', contact_information: { email: 'customer@email.se' } };
  try {
    await fake.startPrismHpp();
    await assert.rejects(fake.get(S(1), { auth: null }), /OpenAPI response violation/);
    await assert.rejects(fake.get(S(2), { auth: null }), /OpenAPI response violation/);
    await assert.rejects(fake.get(S(3), { auth: null }), /OpenAPI response violation/);
    await assert.rejects(fake.get(S(4), { auth: null }), /error envelope/);
    await assert.rejects(fake.post(`${S(5)}/distribution`, dist, { auth: null }), /body must be empty/);
    await assert.rejects(fake.post(HPP, { payment_session_url: 'https://x/payments/v1/sessions/y' }, { auth: null }),
      /OpenAPI response violation/);
    const ok = await fake.get(S(0), { auth: null });
    assert.equal(ok.status, 200);
    assert.equal(ok.via, 'prism');
    assert.equal((await fake.get(S(6), { auth: null })).status, 404);
    assert.equal((await fake.del(S(0), { auth: null })).status, 204);
    assert.equal((await fake.del(S(6), { auth: null })).status, 400);
    assert.equal((await fake.post(`${S(0)}/distribution`, dist, { auth: null })).status, 201);
  } finally {
    if (fake.prismHpp) { fake.prismHpp.proc.kill('SIGTERM'); await fake.prismHpp.exited; }
    upstream.close();
  }
});

test('contract mode: /hpp/v1 requests go through the hpp.json proxy; the page and shopper calls go straight to Kasse', { skip: !CONTRACT }, async () => {
  const res = await h.read(crypto.randomUUID());
  assert.equal(res.via, 'prism');
  assert.equal((await h.state(crypto.randomUUID())).via, 'direct');
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
