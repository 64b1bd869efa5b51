// Hosted Payment Page status callbacks (contract 4.7; docs/hpp.md "Status machine"): every status
// change, and only a change, POSTs {event_id (UUID), session: the same object GET returns} to
// merchant_urls.status_update through the outbox; the receiver has 3 seconds to answer 2xx; up to 3
// retries (4 attempts); every attempt is listed by GET /kasse/v1/callbacks?session_id=<hpp id>
// as kind "hpp_status".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startKasse, assertJsonOk, assertNoContent, UUID_RE, freePort, sleep,
} from './harness.mjs';
import { startReceiver } from './receiver.mjs';
import { SE_EXAMPLE, hppClient, hppAuthorizeBody, email, orderRequest } from './fixtures.mjs';

let k;
let h;
let rx;
before(async () => {
  k = await startKasse({ testClock: true });
  h = hppClient(k);
  rx = await startReceiver();
});
after(async () => {
  await k?.kill();
  await rx?.close();
});

const SE_ORDER = orderRequest(SE_EXAMPLE);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/;
const listBy = (id, auth = 'a') => k.get(`/kasse/v1/callbacks?session_id=${id}`, { auth });
const URLS = {
  success: 'https://shop.example/ok?hpp={{session_id}}&token={{authorization_token}}',
  failure: 'https://shop.example/fail',
  back: 'https://shop.example/back',
  cancel: 'https://shop.example/cancel',
};

/** Poll GET /kasse/v1/callbacks?session_id= until pred(list) holds; returns the list. */
async function pollCallbacks(id, pred, timeoutMs = 10000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    const res = await listBy(id);
    last = res;
    if (res.status === 200 && Array.isArray(res.json?.callbacks) && pred(res.json.callbacks)) return res.json.callbacks;
    await sleep(50);
  }
  assert.fail(`callbacks for ${id} did not reach the expected state in ${timeoutMs} ms; last reply ${last?.status}: ${last?.text}`);
}
const settled = (n) => (list) => list.length === n && list.every((c) => c.status !== 'pending');

/** One callback record of kind hpp_status. */
function assertRecord(c, { url, status, attempts }) {
  for (const key of ['id', 'kind', 'url', 'body', 'status', 'attempts', 'created_at']) {
    assert.ok(key in c, `callback record lacks ${key}: ${JSON.stringify(c)}`);
  }
  assert.equal(c.kind, 'hpp_status');
  assert.equal(c.url, url);
  assert.equal(c.status, status);
  assert.match(c.created_at, ISO);
  assert.ok(Array.isArray(c.attempts));
  if (attempts !== undefined) assert.equal(c.attempts.length, attempts, `attempts: ${JSON.stringify(c.attempts)}`);
  for (const a of c.attempts) {
    for (const key of ['at', 'http_status', 'error', 'duration_ms']) assert.ok(key in a, `attempt lacks ${key}: ${JSON.stringify(a)}`);
    assert.match(a.at, ISO);
    assert.equal(typeof a.http_status, 'number');
    assert.ok(a.duration_ms >= 0);
  }
}

/** A callback body: exactly {event_id: UUID, session}. */
function assertBody(b) {
  assert.deepEqual(Object.keys(b).sort(), ['event_id', 'session'], JSON.stringify(b));
  assert.match(b.event_id, UUID_RE);
  assert.equal(typeof b.session, 'object');
  return b;
}

async function withReceiver(opts = {}, extra = {}) {
  const p = rx.path(opts);
  const url = rx.url(p);
  const s = await h.createOk({ merchant_urls: { ...URLS, status_update: url }, ...extra });
  return { p, url, s };
}

// ---------- what is sent, and when ----------

test('creating the session sends nothing (WAITING is where it starts, not a change)', async () => {
  const { p, s } = await withReceiver();
  await sleep(600);
  assert.equal(rx.requests(p).length, 0);
  assert.equal((await h.readOk(s.session_id)).status, 'WAITING');
});

test('opening the page → one POST, Content-Type application/json, {event_id: UUID, session: the object GET returns} with IN_PROGRESS', async () => {
  const { p, s } = await withReceiver();
  assertJsonOk(await h.open(s.page_id));
  const r = await h.readOk(s.session_id);
  const [req] = await rx.waitFor(p, 1);
  assert.equal(req.method, 'POST');
  assert.match(req.headers['content-type'], /^application\/json\b/);
  const b = assertBody(req.json);
  assert.equal(b.session.status, 'IN_PROGRESS');
  assert.deepEqual(b.session, r, 'session is the same object as GET /hpp/v1/sessions/{id}');
  await sleep(300);
  assert.equal(rx.requests(p).length, 1, 'exactly one');
});

test('one callback per status change, in order: IN_PROGRESS, BACK, IN_PROGRESS, FAILED, IN_PROGRESS, COMPLETED; distinct event_ids; nothing for re-opening, identify, otp_failed or signup_required', async () => {
  const { p, s } = await withReceiver();
  const reads = [];
  const step = async (fn, n) => {
    await fn();
    reads.push(await h.readOk(s.session_id));
    await rx.waitFor(p, n);
  };
  await step(async () => assertJsonOk(await h.open(s.page_id)), 1);
  assertJsonOk(await h.open(s.page_id)); // no change
  assertJsonOk(await h.identify(s.page_id));
  assert.equal(assertJsonOk(await h.authorize(s.page_id, hppAuthorizeBody({ otp: '999999' }))).result, 'otp_failed');
  assert.equal(assertJsonOk(await h.authorize(s.page_id, hppAuthorizeBody({ email: email('SE', 'require_signup') }))).result,
    'signup_required');
  await step(async () => assertJsonOk(await h.back(s.page_id)), 2);
  await step(async () => assertJsonOk(await h.open(s.page_id)), 3);
  await step(async () => assertJsonOk(await h.authorize(s.page_id, hppAuthorizeBody({ email: email('SE', 'denied') }))), 4);
  await step(async () => assertJsonOk(await h.open(s.page_id)), 5);
  await step(async () => assertJsonOk(await h.authorize(s.page_id)), 6);
  await sleep(500);
  const reqs = rx.requests(p);
  assert.equal(reqs.length, 6, `statuses sent: ${reqs.map((r) => r.json?.session?.status)}`);
  const bodies = reqs.map((r) => assertBody(r.json));
  assert.deepEqual(bodies.map((b) => b.session.status), ['IN_PROGRESS', 'BACK', 'IN_PROGRESS', 'FAILED', 'IN_PROGRESS', 'COMPLETED']);
  bodies.forEach((b, i) => assert.deepEqual(b.session, reads[i], `callback ${i} carries the session as GET showed it then`));
  assert.equal(new Set(bodies.map((b) => b.event_id)).size, 6, 'each event has its own event_id');
  const list = await pollCallbacks(s.session_id, settled(6));
  assert.deepEqual(list.map((c) => c.body.session.status), bodies.map((b) => b.session.status), 'listed oldest first');
});

test('COMPLETED (NONE) carries authorization_token; COMPLETED (PLACE_ORDER) carries order_id + klarna_reference — as GET shows them', async () => {
  const none = await withReceiver();
  await h.pay(none.s.page_id);
  const rNone = await h.readOk(none.s.session_id);
  const reqsNone = await rx.waitFor(none.p, 2);
  assert.deepEqual(reqsNone[1].json.session, rNone);
  assert.match(reqsNone[1].json.session.authorization_token, UUID_RE);

  const placed = await withReceiver({}, { options: { place_order_mode: 'PLACE_ORDER' } });
  await h.pay(placed.s.page_id);
  const rPlaced = await h.readOk(placed.s.session_id);
  const reqsPlaced = await rx.waitFor(placed.p, 2);
  const sess = reqsPlaced[1].json.session;
  assert.deepEqual(sess, rPlaced);
  assert.equal(sess.status, 'COMPLETED');
  assert.match(sess.order_id, UUID_RE);
  assert.equal(typeof sess.klarna_reference, 'string');
  assert.equal('authorization_token' in sess, false);
});

test('DELETE → one DISABLED callback; a second DELETE (and a replayed one) sends nothing', async () => {
  const { p, s } = await withReceiver();
  const headers = { 'klarna-idempotency-key': crypto.randomUUID() };
  assertNoContent(await h.disable(s.session_id, 'a', headers));
  assertNoContent(await h.disable(s.session_id, 'a', headers));
  assertNoContent(await h.disable(s.session_id));
  const r = await h.readOk(s.session_id);
  const [req] = await rx.waitFor(p, 1);
  assert.deepEqual(assertBody(req.json).session, r);
  assert.equal(r.status, 'DISABLED');
  await sleep(500);
  assert.equal(rx.requests(p).length, 1);
});

test('the shopper cancelling → IN_PROGRESS then CANCELLED callbacks; a later DELETE (no change) sends nothing', async () => {
  const { p, s } = await withReceiver();
  assertJsonOk(await h.open(s.page_id));
  assertJsonOk(await h.cancel(s.page_id));
  const r = await h.readOk(s.session_id);
  assertNoContent(await h.disable(s.session_id));
  const reqs = await rx.waitFor(p, 2);
  assert.deepEqual(reqs.map((x) => x.json.session.status), ['IN_PROGRESS', 'CANCELLED']);
  assert.deepEqual(reqs[1].json.session, r);
  await sleep(500);
  assert.equal(rx.requests(p).length, 2);
});

test('the KP session completed elsewhere → a DISABLED callback for each of its non-final HPP sessions, none for a final one', async () => {
  const kp = await h.kpSession();
  const one = rx.path();
  const two = rx.path();
  const three = rx.path();
  const a = await h.createOk({ kp, merchant_urls: { ...URLS, status_update: rx.url(one) } });
  const b = await h.createOk({ kp, merchant_urls: { ...URLS, status_update: rx.url(two) } });
  const c = await h.createOk({ kp, merchant_urls: { ...URLS, status_update: rx.url(three) } });
  assertJsonOk(await h.open(b.page_id));
  assertJsonOk(await h.open(c.page_id));
  assertJsonOk(await h.cancel(c.page_id));
  await rx.waitFor(two, 1);
  await rx.waitFor(three, 2);
  const auth = assertJsonOk(await k.post(`/kasse/v1/sessions/${kp}/authorize`, {}));
  assertJsonOk(await k.post(`/payments/v1/authorizations/${auth.authorization_token}/order`, { ...SE_ORDER }));
  const [ra] = await rx.waitFor(one, 1);
  const rb = await rx.waitFor(two, 2);
  assert.deepEqual(assertBody(ra.json).session, await h.readOk(a.session_id));
  assert.equal(ra.json.session.status, 'DISABLED');
  assert.deepEqual(assertBody(rb[1].json).session, await h.readOk(b.session_id));
  assert.equal(rb[1].json.session.status, 'DISABLED');
  await sleep(500);
  assert.equal(rx.requests(three).length, 2, 'the CANCELLED session is not told anything');
  assert.equal(rx.requests(one).length, 1);
});

// ---------- the record ----------

test('listed by GET /kasse/v1/callbacks?session_id=<hpp id>: kind hpp_status, the URL, the body sent, delivered after one 200 attempt', async () => {
  const { p, url, s } = await withReceiver();
  assertJsonOk(await h.open(s.page_id));
  const [c] = await pollCallbacks(s.session_id, settled(1));
  assertRecord(c, { url, status: 'delivered', attempts: 1 });
  assert.equal(c.attempts[0].http_status, 200);
  const [req] = rx.requests(p);
  assert.deepEqual(c.body, req.json, 'the recorded body is what was sent');
});

test('no status_update URL: nothing is delivered (the list is empty or holds undeliverable records only)', async () => {
  const s = await h.createOk({ merchant_urls: URLS });
  assertJsonOk(await h.open(s.page_id));
  await h.pay(s.page_id);
  await sleep(300);
  const list = assertJsonOk(await listBy(s.session_id)).callbacks;
  for (const c of list) {
    assert.equal(c.kind, 'hpp_status');
    assert.equal(c.status, 'no_url', JSON.stringify(c));
    assert.deepEqual(c.attempts, []);
  }
});

test('isolation: merchant B sees none of A\'s HPP callbacks', async () => {
  const { s } = await withReceiver();
  assertJsonOk(await h.open(s.page_id));
  await pollCallbacks(s.session_id, settled(1));
  assert.deepEqual(assertJsonOk(await listBy(s.session_id, 'b')), { callbacks: [] });
});

// ---------- retries and timeouts ----------

test('retries: a receiver that always fails (500) gets 4 attempts (1 + 3 retries), every one listed; then failed, no fifth', async () => {
  const { p, url, s } = await withReceiver({ fail: Infinity });
  assertJsonOk(await h.open(s.page_id));
  const [c] = await pollCallbacks(s.session_id, settled(1), 45000);
  assertRecord(c, { url, status: 'failed', attempts: 4 });
  assert.deepEqual(c.attempts.map((a) => a.http_status), [500, 500, 500, 500]);
  const reqs = rx.requests(p);
  assert.equal(reqs.length, 4);
  for (let i = 1; i < reqs.length; i++) {
    assert.ok(reqs[i].at - reqs[i - 1].at >= 500, `retry ${i} came ${reqs[i].at - reqs[i - 1].at} ms after the previous attempt`);
  }
  await sleep(2000);
  assert.equal(rx.requests(p).length, 4, 'no fifth attempt');
});

test('retries: failing twice then 200 → 3 attempts, delivered, the same body (same event_id) each time', async () => {
  const { p, url, s } = await withReceiver({ fail: 2 });
  assertJsonOk(await h.open(s.page_id));
  const [c] = await pollCallbacks(s.session_id, settled(1), 30000);
  assertRecord(c, { url, status: 'delivered', attempts: 3 });
  assert.deepEqual(c.attempts.map((a) => a.http_status), [500, 500, 200]);
  const reqs = rx.requests(p);
  assert.equal(reqs.length, 3);
  for (const r of reqs) assert.deepEqual(r.json, reqs[0].json);
});

test('retries: nobody listening → attempts with http_status 0 and an error; failed after 4', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/status`;
  const s = await h.createOk({ merchant_urls: { status_update: url } });
  assertJsonOk(await h.open(s.page_id));
  const [c] = await pollCallbacks(s.session_id, settled(1), 45000);
  assertRecord(c, { url, status: 'failed', attempts: 4 });
  for (const a of c.attempts) {
    assert.equal(a.http_status, 0);
    assert.ok(typeof a.error === 'string' && a.error.length > 0, JSON.stringify(a));
  }
});

test('timeout: a receiver answering 200 after 2.5 s is delivered on the first attempt (3-second timeout)', async () => {
  const got = [];
  const slow = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { got.push(Date.now()); setTimeout(() => { res.writeHead(200); res.end('ok'); }, 2500); });
  });
  await new Promise((r) => slow.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${slow.address().port}/slow`;
    const s = await h.createOk({ merchant_urls: { status_update: url } });
    assertJsonOk(await h.open(s.page_id));
    const [c] = await pollCallbacks(s.session_id, settled(1), 20000);
    assertRecord(c, { url, status: 'delivered', attempts: 1 });
    assert.equal(c.attempts[0].http_status, 200);
    assert.ok(c.attempts[0].duration_ms >= 2400, `duration_ms ${c.attempts[0].duration_ms}`);
    assert.equal(got.length, 1);
  } finally {
    slow.closeAllConnections?.();
    await new Promise((r) => slow.close(r));
  }
});

test('timeout: an attempt the receiver never answers ends after ~3 s (http_status 0, error set) and is retried', async () => {
  const { url, s } = await withReceiver({ hang: 1 });
  assertJsonOk(await h.open(s.page_id));
  const [c] = await pollCallbacks(s.session_id, settled(1), 30000);
  assertRecord(c, { url, status: 'delivered', attempts: 2 });
  const [a, b] = c.attempts;
  assert.equal(a.http_status, 0);
  assert.ok(typeof a.error === 'string' && a.error.length > 0, JSON.stringify(a));
  assert.ok(a.duration_ms >= 2800 && a.duration_ms < 4500, `timed out after ${a.duration_ms} ms (expected ~3000)`);
  assert.equal(b.http_status, 200);
});

test('no callback went to an unregistered receiver path', () => {
  assert.deepEqual(rx.unknown.map((r) => r.url), []);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
