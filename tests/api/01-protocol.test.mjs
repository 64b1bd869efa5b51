// HTTP-level rules: authentication, unknown paths and methods, body size, JSON parsing,
// correlation ids, content types.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startKasse, MERCHANTS, assertError, assertCorrelation, assertJsonOk, assertBadValue, UUID_RE,
} from './harness.mjs';
import { SE_EXAMPLE } from './fixtures.mjs';

let k;
before(async () => { k = await startKasse(); });
after(async () => { await k?.kill(); });

const SESSIONS = '/payments/v1/sessions';
const unauthorized = (res) => {
  assertError(res, 401, 'UNAUTHORIZED', []);
  assert.equal(res.headers['www-authenticate'], 'Basic realm="Kasse"');
};

test('401 UNAUTHORIZED + WWW-Authenticate when the Authorization header is missing (create)', async () => {
  unauthorized(await k.post(SESSIONS, SE_EXAMPLE, { auth: null }));
});

test('401 when the Authorization header is missing (read and update)', async () => {
  const id = '0b1d9815-165e-42e2-8867-35bc03789e00';
  unauthorized(await k.get(`${SESSIONS}/${id}`, { auth: null }));
  unauthorized(await k.post(`${SESSIONS}/${id}`, {}, { auth: null }));
});

test('401 when the secret is wrong for a known user', async () => {
  unauthorized(await k.post(SESSIONS, SE_EXAMPLE, { auth: { user: MERCHANTS.a.user, secret: MERCHANTS.a.secret + 'x' } }));
  unauthorized(await k.post(SESSIONS, SE_EXAMPLE, { auth: { user: MERCHANTS.a.user, secret: MERCHANTS.b.secret } }));
  unauthorized(await k.post(SESSIONS, SE_EXAMPLE, { auth: { user: MERCHANTS.a.user, secret: '' } }));
});

test('401 when the user is unknown', async () => {
  unauthorized(await k.post(SESSIONS, SE_EXAMPLE, { auth: { user: 'nobody', secret: MERCHANTS.a.secret } }));
});

test('401 when the Authorization header is malformed', async () => {
  const creds = Buffer.from(`${MERCHANTS.a.user}:${MERCHANTS.a.secret}`).toString('base64');
  for (const h of [
    'Basic',
    'Basic ',
    'Basic !!!not-base64!!!',
    'Basic ' + Buffer.from('no-colon-here').toString('base64'),
    'Bearer ' + creds,
    creds,
    'Basic ' + creds + ' trailing',
  ]) {
    const res = await k.post(SESSIONS, SE_EXAMPLE, { auth: h });
    assert.equal(res.status, 401, `Authorization: ${h} → ${res.status} ${res.text}`);
    unauthorized(res);
  }
});

test('Basic auth with correct credentials is accepted for each seeded merchant', async () => {
  assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth: 'a' }));
  assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth: 'b' }));
});

// ("/" is the start page since issue 11: tests/api/46-portal.test.mjs)
test('404 NOT_FOUND envelope for an unknown path', async () => {
  for (const p of ['/nope/', '/nope', '/payments/v2/sessions', '/payments/v1/sessionsx', '/payments/v1/sessions/a/b']) {
    const res = await k.get(p, { direct: true });
    assertError(res, 404, 'NOT_FOUND');
  }
});

test('404 for /kasse/v1/clock when the server runs without --test-clock', async () => {
  const res = await k.post('/kasse/v1/clock', { advance_seconds: 10 });
  assertError(res, 404, 'NOT_FOUND');
});

test('405 METHOD_NOT_ALLOWED with an Allow header for a known path and wrong method', async () => {
  const allowOf = (res) => (res.headers.allow ?? '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  for (const m of ['GET', 'PUT', 'DELETE', 'PATCH']) {
    const res = await k.request(m, SESSIONS, { direct: true });
    assertError(res, 405, 'METHOD_NOT_ALLOWED');
    assert.ok(allowOf(res).includes('POST'), `${m} ${SESSIONS}: Allow "${res.headers.allow}" lists POST`);
    assert.ok(!allowOf(res).includes(m), `Allow must not list ${m}`);
  }
  const id = '0b1d9815-165e-42e2-8867-35bc03789e00';
  for (const m of ['PUT', 'PATCH']) {   // DELETE cancels the session (issue 8)
    const res = await k.request(m, `${SESSIONS}/${id}`, { direct: true });
    assertError(res, 405, 'METHOD_NOT_ALLOWED');
    const allow = allowOf(res);
    assert.ok(allow.includes('GET') && allow.includes('POST') && allow.includes('DELETE'),
      `Allow "${res.headers.allow}" lists GET, POST and DELETE`);
    assert.ok(!allow.includes(m), `Allow must not list ${m}`);
  }
});

test('413 REQUEST_TOO_LARGE for a body of 1 MiB + 1 byte', async () => {
  const size = 1024 * 1024 + 1;
  const prefix = '{"merchant_data":"';
  const raw = prefix + 'x'.repeat(size - prefix.length - 2) + '"}';
  assert.equal(Buffer.byteLength(raw), size);
  const res = await k.request('POST', SESSIONS, { raw });
  assertError(res, 413, 'REQUEST_TOO_LARGE');
});

test('a body of exactly 1 MiB is not rejected as too large', async () => {
  const size = 1024 * 1024;
  const prefix = '{"merchant_data":"';
  const raw = prefix + 'x'.repeat(size - prefix.length - 2) + '"}';
  const res = await k.request('POST', SESSIONS, { raw });
  // merchant_data over 6000 chars and missing fields → a 400, but never 413.
  assert.equal(res.status, 400, res.text.slice(0, 300));
  assertError(res, 400, 'BAD_VALUE');
});

test('413 also for an oversized update body', async () => {
  const raw = '{"merchant_data":"' + 'y'.repeat(1024 * 1024) + '"}';
  const res = await k.request('POST', `${SESSIONS}/0b1d9815-165e-42e2-8867-35bc03789e00`, { raw });
  assertError(res, 413, 'REQUEST_TOO_LARGE');
});

test('400 BAD_REQUEST for malformed JSON', async () => {
  for (const raw of ['{', '{"purchase_country":}', '{"a":1,}', "{'a':1}", 'not json', '{"a":1}garbage', '\u0000', '{"a":"\\x"}']) {
    const res = await k.request('POST', SESSIONS, { raw });
    const body = assertError(res, 400, 'BAD_REQUEST');
    assert.ok(body.error_messages.length >= 1 && body.error_messages[0].length > 0, `message explains: ${raw}`);
  }
});

test('400 BAD_REQUEST for invalid UTF-8 in a JSON string', async () => {
  const raw = Buffer.concat([Buffer.from('{"merchant_reference1":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
  assertError(await k.request('POST', SESSIONS, { raw }), 400, 'BAD_REQUEST');
});

test('400 BAD_REQUEST for duplicate object keys (top level and nested)', async () => {
  for (const raw of [
    '{"order_amount":100,"order_amount":100}',
    JSON.stringify(SE_EXAMPLE).replace('"locale":"en-SE"', '"locale":"en-SE","locale":"sv-SE"'),
    JSON.stringify(SE_EXAMPLE).replace('"quantity":1', '"quantity":1,"quantity":1'),
  ]) {
    const body = assertError(await k.request('POST', SESSIONS, { raw }), 400, 'BAD_REQUEST');
    assert.ok(body.error_messages.length >= 1, 'message explains');
  }
});

test('400 BAD_REQUEST for JSON nested deeper than 32 levels', async () => {
  const deep = (n) => '{"merchant_data":' + '['.repeat(n - 1) + ']'.repeat(n - 1) + '}';
  for (const n of [33, 34, 100, 100000]) {
    const body = assertError(await k.request('POST', SESSIONS, { raw: deep(n) }), 400, 'BAD_REQUEST');
    assert.ok(body.error_messages.length >= 1, 'message explains');
  }
  assertError(await k.request('POST', SESSIONS, { raw: '['.repeat(200000) }), 400, 'BAD_REQUEST');
});

test('JSON nested exactly 32 levels deep parses (then fails field validation as BAD_VALUE, not BAD_REQUEST)', async () => {
  const raw = '{"merchant_data":' + '['.repeat(31) + ']'.repeat(31) + '}';
  assertError(await k.request('POST', SESSIONS, { raw }), 400, 'BAD_VALUE');
});

test('400 BAD_REQUEST for a non-object top-level body', async () => {
  for (const raw of ['[]', '[{}]', '"x"', '1', 'null', 'true']) {
    const body = assertError(await k.request('POST', SESSIONS, { raw }), 400, 'BAD_REQUEST');
    assert.ok(body.error_messages.length >= 1, `message explains for ${raw}`);
  }
});

test('empty body on session create is treated as {}: all required fields reported missing', async () => {
  assertBadValue(await k.request('POST', SESSIONS, {}), 'purchase_country, purchase_currency, order_amount, order_lines');
  assertBadValue(await k.request('POST', SESSIONS, { raw: '' }), 'purchase_country, purchase_currency, order_amount, order_lines');
  assertBadValue(await k.post(SESSIONS, {}), 'purchase_country, purchase_currency, order_amount, order_lines');
});

test('every response carries a fresh UUID Klarna-Correlation-Id', async () => {
  const seen = new Set();
  const responses = [
    await k.post(SESSIONS, SE_EXAMPLE),
    await k.post(SESSIONS, {}),
    await k.get('/nope', { direct: true }),
    await k.get(`${SESSIONS}/0b1d9815-165e-42e2-8867-35bc03789e00`),
    await k.post(SESSIONS, SE_EXAMPLE, { auth: null }),
    await k.request('DELETE', SESSIONS, { direct: true }),
  ];
  const id = responses[0].json.session_id;
  responses.push(await k.post(`${SESSIONS}/${id}`, { merchant_reference1: 'x' }));
  responses.push(await k.get('/kasse/assets/badges/klarna.svg', { auth: null }));
  for (const r of responses) {
    const cid = assertCorrelation(r);
    assert.match(cid, UUID_RE);
    assert.ok(!seen.has(cid), 'correlation ids are unique');
    seen.add(cid);
  }
});

test('Content-Type is application/json;charset=utf-8 on JSON success and application/json on errors', async () => {
  const ok = await k.post(SESSIONS, SE_EXAMPLE);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['content-type'], 'application/json;charset=utf-8');
  const bad = await k.post(SESSIONS, { ...SE_EXAMPLE, order_amount: 1 });
  assert.equal(bad.status, 400);
  assert.equal(bad.headers['content-type'], 'application/json');
});

test('a request with Content-Type: application/json; charset=utf-8 is accepted', async () => {
  // Klarna's SDKs always send application/json; charset=utf-8 must be fine.
  const res = await k.request('POST', SESSIONS, { body: SE_EXAMPLE, headers: { 'content-type': 'application/json; charset=utf-8' } });
  assertJsonOk(res);
});

const NO_STORE = {
  'cache-control': 'no-cache, no-store, max-age=0, must-revalidate',
  pragma: 'no-cache',
  expires: '0',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};
const assertHeaders = (res, want, what) => {
  for (const [name, value] of Object.entries(want)) assert.equal(res.headers[name], value, `${what}: ${name}`);
};

test('every API reply carries Klarna\'s browser and cache headers (Cache-Control no-store, Pragma, Expires 0, nosniff, X-Frame-Options DENY): 200, 204, 4xx, 404, 405', async () => {
  const created = await k.post(SESSIONS, SE_EXAMPLE);
  assertHeaders(created, NO_STORE, 'create 200');
  const id = created.json.session_id;
  assertHeaders(await k.get(`${SESSIONS}/${id}`), NO_STORE, 'read 200');
  assertHeaders(await k.post(`${SESSIONS}/${id}`, { merchant_reference1: 'r' }), NO_STORE, 'update 204');
  assertHeaders(await k.post(SESSIONS, {}), NO_STORE, 'create 400');
  assertHeaders(await k.get(SESSIONS + '/' + crypto.randomUUID()), NO_STORE, 'read 404');
  assertHeaders(await k.request('PUT', SESSIONS, { direct: true }), NO_STORE, '405');
  assertHeaders(await k.get(SESSIONS, { auth: null, direct: true }), { 'x-content-type-options': 'nosniff' }, '401');
});

test('pages: the widget may be framed (CSP frame-ancestors *, no X-Frame-Options); assets keep their caching; the SDK is not framed', async () => {
  const widget = await k.get('/kp/widget/v1/index.html', { auth: null });
  assert.equal(widget.status, 200);
  assert.match(widget.headers['content-security-policy'], /frame-ancestors \*/);
  assert.match(widget.headers['content-security-policy'], /default-src 'none'/);
  assert.equal(widget.headers['x-frame-options'], undefined);
  assert.equal(widget.headers['x-content-type-options'], 'nosniff');
  const sdk = await k.get('/kp/lib/v1/api.js', { auth: null });
  assert.equal(sdk.headers['cache-control'], 'no-cache');
  assert.equal(sdk.headers['x-frame-options'], 'DENY');
  const badge = await k.get('/kasse/assets/badges/klarna.svg', { auth: null });
  assert.equal(badge.headers['cache-control'], 'public, max-age=3600');
  assert.equal(badge.headers.pragma, undefined);
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
