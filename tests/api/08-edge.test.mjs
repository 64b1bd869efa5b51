// Edge cases a real integration or a hostile client can produce: chunked bodies, Expect,
// oversized URLs/headers, text encoding, concurrency.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startKasse, assertJsonOk, assertBadValue, assertError, assertNoContent, assertCorrelation, MERCHANTS, basic, sleep,
} from './harness.mjs';
import { SE_EXAMPLE, cart, clone } from './fixtures.mjs';

let k;
before(async () => { k = await startKasse(); });
after(async () => { await k?.kill(); });

const SESSIONS = '/payments/v1/sessions';
const AUTH = () => basic(MERCHANTS.a.user, MERCHANTS.a.secret);

/** POST with Transfer-Encoding: chunked (no Content-Length), body written in `pieces` chunks. */
function chunkedPost(p, body, { pieces = 4, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: k.port, method: 'POST', path: p, agent: false,
      headers: { authorization: AUTH(), 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...headers } });
    let response = null;
    const chunks = [];
    const finish = () => {
      const text = Buffer.concat(chunks).toString();
      let json; try { json = JSON.parse(text); } catch { /* not json */ }
      resolve({ status: response.statusCode, headers: response.headers, text, json });
    };
    req.on('response', (res) => { response = res; res.on('data', (c) => chunks.push(c)); res.on('end', finish); });
    req.on('error', (e) => (response ? finish() : reject(e)));
    req.setTimeout(15000, () => req.destroy(new Error('timeout')));
    const buf = Buffer.from(body);
    const step = Math.ceil(buf.length / pieces);
    for (let i = 0; i < buf.length; i += step) req.write(buf.subarray(i, i + step));
    req.end();
  });
}

test('a chunked (Transfer-Encoding: chunked) create body is read in full → 200', async () => {
  assertJsonOk(await chunkedPost(SESSIONS, JSON.stringify(SE_EXAMPLE), { pieces: 7 }));
});

test('a chunked body over 1 MiB → 413 REQUEST_TOO_LARGE', async () => {
  const raw = '{"merchant_data":"' + 'x'.repeat(1024 * 1024 + 10) + '"}';
  assertError(await chunkedPost(SESSIONS, raw, { pieces: 64 }), 413, 'REQUEST_TOO_LARGE');
});

test('Expect: 100-continue with a Content-Length over 1 MiB → 413 REQUEST_TOO_LARGE', async () => {
  const res = await k.request('POST', SESSIONS, { raw: Buffer.alloc(1024 * 1024 + 1, 0x20), headers: { expect: '100-continue' } });
  assertError(res, 413, 'REQUEST_TOO_LARGE');
});

test('a 10 KB URL → 4xx error envelope with a correlation id, never 5xx', async () => {
  const res = await k.get(`${SESSIONS}/${'a'.repeat(10000)}`, { direct: true });
  assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text.slice(0, 200)}`);
  assertCorrelation(res);
});

test('a 100 KB header block → 4xx (or connection refused politely), and the server keeps serving', async () => {
  let res;
  try {
    res = await k.get(SESSIONS + '/x', { headers: { 'x-big': 'b'.repeat(100 * 1024) }, direct: true });
  } catch { res = null; }
  if (res) assert.ok(res.status >= 400 && res.status < 500, `${res.status}`);
  assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
});

test('country and currency codes are case-insensitive (spec patterns are [A-Za-z]): se/sek/en-se → 200', async () => {
  const res = await k.post(SESSIONS, { ...clone(SE_EXAMPLE), purchase_country: 'se', purchase_currency: 'sek', locale: 'en-se' });
  assertJsonOk(res);
});

test('string limits count characters, not bytes: a 255-character name of "å" (510 bytes) is accepted', async () => {
  const b = cart('SE');
  b.order_lines[0].name = 'å'.repeat(255);
  const res = await k.post(SESSIONS, b);
  const created = assertJsonOk(res);
  const r = assertJsonOk(await k.get(`${SESSIONS}/${created.session_id}`));
  assert.equal(r.order_lines[0].name, 'å'.repeat(255));
  b.order_lines[0].name = 'å'.repeat(256);
  assertBadValue(await k.post(SESSIONS, b), 'order_lines[0].name');
});

test('non-ASCII text (4-byte UTF-8, RTL, combining marks) round-trips exactly', async () => {
  const ref = 'Örder 🧾 #42 — שלום e\u0301';
  const created = assertJsonOk(await k.post(SESSIONS, { ...clone(SE_EXAMPLE), merchant_reference1: ref }));
  assert.equal(assertJsonOk(await k.get(`${SESSIONS}/${created.session_id}`)).merchant_reference1, ref);
});

test('an escaped NUL (\\u0000) inside a string is rejected with 400 or stored exactly, never truncated', async () => {
  const raw = JSON.stringify({ ...SE_EXAMPLE, merchant_reference1: 'ab\u0000cd' });
  const res = await k.request('POST', SESSIONS, { raw });
  if (res.status === 200) {
    const r = assertJsonOk(await k.get(`${SESSIONS}/${res.json.session_id}`));
    assert.equal(r.merchant_reference1, 'ab\u0000cd');
  } else {
    assert.equal(res.status, 400, res.text);
    assertCorrelation(res);
  }
});

test('request log of a request with invalid UTF-8 in its body is still valid JSON', async () => {
  const raw = Buffer.concat([Buffer.from('{"merchant_reference1":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
  const res = await k.request('POST', SESSIONS, { raw });
  assert.equal(res.status, 400);
  const cid = res.headers['klarna-correlation-id'];
  let log;
  for (let i = 0; i < 20; i++) {
    log = await k.get(`/kasse/v1/logs/${cid}`);
    if (log.status !== 404) break;
    await sleep(100);
  }
  const body = assertJsonOk(log);
  assert.equal(typeof body.request_body, 'string');
  assert.equal(body.status, 400);
});

test('update: changing only purchase_country makes the stored currency/locale invalid → 400, unchanged', async () => {
  const created = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  const r0 = assertJsonOk(await k.get(`${SESSIONS}/${created.session_id}`));
  assertBadValue(await k.post(`${SESSIONS}/${created.session_id}`, { purchase_country: 'DE' }), /^Bad value: (purchase_currency|locale)$/);
  assert.deepEqual(assertJsonOk(await k.get(`${SESSIONS}/${created.session_id}`)), r0);
});

test('concurrent updates of one session: all 204, the final state is one of the written values', async () => {
  const created = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  const refs = Array.from({ length: 24 }, (_, i) => `ref-${i}`);
  const results = await Promise.all(refs.map((ref) => k.post(`${SESSIONS}/${created.session_id}`, { merchant_reference1: ref })));
  for (const r of results) assertNoContent(r);
  const r = assertJsonOk(await k.get(`${SESSIONS}/${created.session_id}`));
  assert.ok(refs.includes(r.merchant_reference1), r.merchant_reference1);
});

test('concurrent creates from two merchants with reads in between all succeed and stay isolated', async () => {
  const jobs = [];
  for (let i = 0; i < 30; i++) {
    const who = i % 2 ? 'a' : 'b';
    jobs.push((async () => {
      const c = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth: who }));
      assertJsonOk(await k.get(`${SESSIONS}/${c.session_id}`, { auth: who }));
      assertError(await k.get(`${SESSIONS}/${c.session_id}`, { auth: who === 'a' ? 'b' : 'a' }), 404, 'NOT_FOUND', ['Invalid session id']);
    })());
  }
  await Promise.all(jobs);
});

test('keep-alive: several requests on one connection each get their own correlation id', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ids = new Set();
  for (let i = 0; i < 5; i++) {
    const res = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: k.port, path: '/payments/v1/sessions/nope', agent,
        headers: { authorization: AUTH() } }, (r) => { r.resume(); r.on('end', () => resolve(r)); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.statusCode, 404);
    ids.add(res.headers['klarna-correlation-id']);
  }
  agent.destroy();
  assert.equal(ids.size, 5);
});

test('tax_rate 10000 (100 %) and quantity 0 lines are accepted at their bounds', async () => {
  assertJsonOk(await k.post(SESSIONS, cart('SE', { order_amount: 10000, order_tax_amount: 5000,
    order_lines: [{ name: 'Max', quantity: 1, unit_price: 10000, total_amount: 10000, tax_rate: 10000, total_tax_amount: 5000 }] })));
  assertJsonOk(await k.post(SESSIONS, cart('SE', { order_amount: 10000, order_tax_amount: 2000,
    order_lines: [cart('SE').order_lines[0], { name: 'Free', quantity: 0, unit_price: 500, total_amount: 0, tax_rate: 2500, total_tax_amount: 0 }] })));
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
