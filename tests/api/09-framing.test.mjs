// HTTP framing at the socket (issue 9, items 2-5): RFC 9112 framing is strict — every ambiguous
// or malformed request gets exactly one reply (Klarna's envelope, Klarna-Correlation-Id) and the
// connection closes, so nothing smuggled after it runs; long queries are answered; a %00 in the
// path must not cut it (it named another file); only HTTP/1.1 and HTTP/1.0 are served; a request
// body must say it is JSON. Raw bytes on a socket, every reply read back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startKasse, basic, MERCHANTS } from './harness.mjs';

let k;
before(async () => { k = await startKasse({ contract: false, testClock: true }); });
after(async () => { await k?.kill(); });

/** Sends text, reads until the server closes (or 3 s of quiet); returns the raw reply, with
 * closedByServer telling whether Kasse closed the connection. */
function rawConn(text) {
  return new Promise((resolve, reject) => {
    let quiet = false;
    const s = net.connect(k.port, '127.0.0.1', () => s.write(text));
    const chunks = [];
    s.setTimeout(3000, () => { quiet = true; s.end(); });
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve({ text: Buffer.concat(chunks).toString('latin1'), closedByServer: !quiet }));
  });
}
const raw = async (text) => (await rawConn(text)).text;
const heads = (reply) => reply.match(/^HTTP\/1\.[01] \d{3} /gm) ?? [];
const bodyOf = (reply) => JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));

test('a %00 in the path does not cut it: /kp/widget/v1/widget.js%00.png → 404 with the envelope, not widget.js', async () => {
  const reply = await raw('GET /kp/widget/v1/widget.js%00.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.deepEqual(heads(reply), ['HTTP/1.1 404 ']);
  const body = bodyOf(reply);
  assert.equal(body.error_code, 'NOT_FOUND');
  assert.match(reply, /Klarna-Correlation-Id: [0-9a-f-]{36}/i);
  assert.doesNotMatch(reply, /application\/javascript/);
  // The same file without the NUL is still served, and %2E-style escapes still decode.
  const ok = await raw('GET /kp/widget/v1/widget%2Ejs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.deepEqual(heads(ok), ['HTTP/1.1 200 ']);
});

test('HTTP/1.2 (or any version but 1.1 and 1.0) → 505 HTTP_VERSION_NOT_SUPPORTED with the envelope; HTTP/1.0 is served', async () => {
  const reply = await raw('GET /kp/lib/v1/api.js HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(heads(reply).length <= 1, true, reply);
  assert.match(reply, /^HTTP\/1\.[01] 505 /);
  assert.equal(bodyOf(reply).error_code, 'HTTP_VERSION_NOT_SUPPORTED');
  const old = await raw('GET /kp/lib/v1/api.js HTTP/1.0\r\n\r\n');
  assert.match(old, /^HTTP\/1\.[01] 200 /);
});

test('a query of many arguments within the URL limit gets its answer (250 "pN=1" arguments, 1,000 one-letter ones; 16 KiB of connection memory hung here)', async () => {
  const many = Array.from({ length: 250 }, (_, i) => `p${i}=1`).join('&');
  const a = await k.get(`/kasse/v1/orders?${many}`, { timeoutMs: 5000 });
  assert.equal(a.status, 200, a.text);
  const letters = Array.from({ length: 1000 }, () => 'a').join('&');
  const b = await k.get(`/kasse/v1/orders?${letters}`, { timeoutMs: 5000 });
  assert.equal(b.status, 200, b.text);
});

/** Splits back-to-back replies by their Content-Length; returns their status lines. */
function statusLines(text) {
  const out = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    assert.ok(end > at, `a reply head at ${at}: ${text.slice(at, at + 80)}`);
    const head = text.slice(at, end);
    out.push(head.slice(0, head.indexOf('\r\n')));
    const len = Number(head.match(/\r\nContent-Length: (\d+)/)?.[1] ?? 0);
    at = end + 4 + len;
  }
  return out;
}

const A = basic(MERCHANTS.a.user, MERCHANTS.a.secret);
const POST = (extra, body = '') => `POST /payments/v1/sessions HTTP/1.1\r\nHost: k\r\nAuthorization: ${A}\r\n${extra}\r\n${body}`;
const GET = (extra = '') => `GET /kp/lib/v1/api.js HTTP/1.1\r\n${extra}\r\n`;
// [rule, request bytes, status, error_code]
const REFUSED = [
  ['Transfer-Encoding with Content-Length (smuggling shape)', POST('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 400, 'BAD_REQUEST'],
  ['Transfer-Encoding: chunked, identity', POST('Transfer-Encoding: chunked, identity\r\n', '0\r\n\r\n'), 400, 'BAD_REQUEST'],
  ['duplicated Transfer-Encoding', POST('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 400, 'BAD_REQUEST'],
  ['Transfer-Encoding: Chunked (only exactly "chunked")', POST('Transfer-Encoding: Chunked\r\n', '0\r\n\r\n'), 400, 'BAD_REQUEST'],
  ['Transfer-Encoding on HTTP/1.0', 'POST /payments/v1/sessions HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'BAD_REQUEST'],
  ['obs-fold (a header line starting with a space)', GET('Host: k\r\nX-A: a\r\n b\r\n'), 400, 'BAD_REQUEST'],
  ['a tab-folded header line', GET('Host: k\r\nX-A: a\r\n\tb\r\n'), 400, 'BAD_REQUEST'],
  ['leading space before the first header', GET(' Host: k\r\n'), 400, 'BAD_REQUEST'],
  ['a space before the colon', GET('Host : k\r\n'), 400, 'BAD_REQUEST'],
  ['bare LF line endings', 'GET /kp/lib/v1/api.js HTTP/1.1\nHost: k\n\n', 400, 'BAD_REQUEST'],
  ['NUL in a header value', GET('Host: k\r\nX-A: a\u0000b\r\n'), 400, 'BAD_REQUEST'],
  ['Content-Length: 5, 5', POST('Content-Length: 5, 5\r\n', '{}   '), 400, 'BAD_REQUEST'],
  ['Content-Length: +21', POST('Content-Length: +2\r\n', '{}'), 400, 'BAD_REQUEST'],
  ['Content-Length: -1', POST('Content-Length: -1\r\n', '{}'), 400, 'BAD_REQUEST'],
  ['Content-Length: 0x15', POST('Content-Length: 0x15\r\n', '{}'), 400, 'BAD_REQUEST'],
  ['Content-Length: 2^64', POST('Content-Length: 18446744073709551616\r\n', '{}'), 413, 'REQUEST_TOO_LARGE'],
  ['Content-Length with a trailing space', POST('Content-Length: 2 \r\n', '{}'), 400, 'BAD_REQUEST'],
  ['duplicated Content-Length', POST('Content-Length: 2\r\nContent-Length: 2\r\n', '{}'), 400, 'BAD_REQUEST'],
  ['HTTP/1.1 without Host', GET(), 400, 'BAD_REQUEST'],
  ['two Host headers', GET('Host: a\r\nHost: b\r\n'), 400, 'BAD_REQUEST'],
  ['a 200 KB header block', GET(`Host: k\r\nX-A: ${'a'.repeat(200000)}\r\n`), 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE'],
  ['a 10 KB request line', `GET /${'a'.repeat(10000)} HTTP/1.1\r\nHost: k\r\n\r\n`, 414, 'URI_TOO_LONG'],
  ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: k\r\n\r\n', 505, 'HTTP_VERSION_NOT_SUPPORTED'],
  ['a chunked body over 1 MiB', POST('Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n', `100000\r\n${' '.repeat(0x100000)}\r\n1\r\n \r\n0\r\n\r\n`), 413, 'REQUEST_TOO_LARGE'],
  ['a malformed chunk', POST('Transfer-Encoding: chunked\r\n', 'zz\r\n{}\r\n0\r\n\r\n'), 400, 'BAD_REQUEST'],
  ['Expect other than 100-continue', POST('Expect: magic\r\nContent-Length: 2\r\n', '{}'), 417, 'EXPECTATION_FAILED'],
];

for (const [rule, bytes, status, code] of REFUSED) {
  test(`framing: ${rule} → exactly one ${status} ${code} with the envelope and Klarna-Correlation-Id, then close`, async () => {
    const { text, closedByServer } = await rawConn(bytes);
    assert.deepEqual(heads(text), [`HTTP/1.1 ${status} `], text.slice(0, 300));
    assert.equal(statusLines(text).length, 1, 'nothing after the one reply');
    assert.equal(text.match(/HTTP\/1\.[01] \d{3} /g).length, 1);
    assert.equal(closedByServer, true, 'the connection is closed after the reply');
    assert.match(text, /\r\nConnection: close\r\n/);
    assert.match(text, /\r\nContent-Type: application\/json\r\n/);
    const id = text.match(/\r\nKlarna-Correlation-Id: ([0-9a-f-]{36})\r\n/)?.[1];
    const body = bodyOf(text);
    assert.equal(body.correlation_id, id);
    assert.equal(body.error_code, code);
    assert.equal(Array.isArray(body.error_messages) && body.error_messages.length, 1);
    assert.equal(Number(text.match(/\r\nContent-Length: (\d+)\r\n/)[1]), Buffer.byteLength(text.slice(text.indexOf('\r\n\r\n') + 4), 'latin1'));
  });
}

test('framing: a request smuggled after a TE+CL body never runs (the clock a smuggled POST would move stays)', async () => {
  const before = (await k.get('/kasse/v1/clock')).json.now;
  const smuggled = `POST /kasse/v1/clock HTTP/1.1\r\nHost: k\r\nAuthorization: ${A}\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n{"advance_seconds":864000}`;
  const { text } = await rawConn(`POST /kasse/v1/clock HTTP/1.1\r\nHost: k\r\nAuthorization: ${A}\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`);
  assert.deepEqual(heads(text), ['HTTP/1.1 400 ']);
  const after = (await k.get('/kasse/v1/clock')).json.now;
  assert.ok(Date.parse(after) - Date.parse(before) < 3600_000, `clock moved: ${before} → ${after}`);
});

test('framing: pipelined requests on one connection get one reply each, in order; HTTP/1.0 keep-alive is honoured', async () => {
  const text = await raw('GET /kp/lib/v1/api.js HTTP/1.1\r\nHost: k\r\n\r\nGET /nope HTTP/1.1\r\nHost: k\r\n\r\nGET /kp/lib/v1/api.js HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n');
  assert.deepEqual(statusLines(text), ['HTTP/1.1 200 OK', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 200 OK']);
  const old = await raw('GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /nope HTTP/1.0\r\n\r\n');
  assert.deepEqual(statusLines(old), ['HTTP/1.1 404 Not Found', 'HTTP/1.1 404 Not Found']);
  assert.match(old, /\r\nConnection: keep-alive\r\n/);
});

test('framing: a chunked body with extensions and trailers is read exactly (Expect: 100-continue answered first)', async () => {
  const body = JSON.stringify({ advance_seconds: 0 });
  const chunked = `5;ext=1\r\n${body.slice(0, 5)}\r\n${(body.length - 5).toString(16)}\r\n${body.slice(5)}\r\n0\r\nX-Trailer: t\r\n\r\n`;
  const text = await raw(`POST /kasse/v1/clock HTTP/1.1\r\nHost: k\r\nAuthorization: ${A}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${chunked}`);
  assert.deepEqual(heads(text), ['HTTP/1.1 100 ', 'HTTP/1.1 200 '].slice(text.startsWith('HTTP/1.1 100') ? 0 : 1));
  assert.match(text, /"now":/);
});

test('content type: a body that is not declared JSON (text/plain form post, form encodings, none) → 415 UNSUPPORTED_MEDIA_TYPE; JSON types with parameters and +json are read', async () => {
  const body = JSON.stringify({ advance_seconds: 0 });
  const none = await raw(`POST /kasse/v1/clock HTTP/1.1\r\nHost: k\r\nAuthorization: ${A}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  assert.deepEqual(heads(none), ['HTTP/1.1 415 ']);
  assert.equal(bodyOf(none).error_code, 'UNSUPPORTED_MEDIA_TYPE');
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
    const res = await k.request('POST', '/kasse/v1/clock', { raw: body, headers: { 'content-type': ct } });
    assert.equal(res.status, 415, `${ct}: ${res.text}`);
    assert.equal(res.json.error_code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual(res.json.error_messages, ['Content-Type must be application/json for a request body']);
    assert.equal(res.headers['klarna-correlation-id'], res.json.correlation_id);
  }
  for (const ct of ['application/json', 'Application/JSON; charset=utf-8', 'application/vnd.kasse+json']) {
    const res = await k.request('POST', '/kasse/v1/clock', { raw: body, headers: { 'content-type': ct } });
    assert.equal(res.status, 200, `${ct}: ${res.text}`);
  }
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
