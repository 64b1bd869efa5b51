// HTTP framing at the socket (issue 9, items 4 and 5): long queries are answered; a %00 in the path must not cut it (it named
// another file), and only HTTP/1.1 and HTTP/1.0 are served. Raw bytes on a socket, exactly one
// reply read back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startKasse } from './harness.mjs';

let k;
before(async () => { k = await startKasse({ contract: false }); });
after(async () => { await k?.kill(); });

/** Sends text, reads until the server closes (or 3 s of quiet); returns the raw reply. */
function raw(text) {
  return new Promise((resolve, reject) => {
    const s = net.connect(k.port, '127.0.0.1', () => s.write(text));
    const chunks = [];
    s.setTimeout(3000, () => s.end());
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
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

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
