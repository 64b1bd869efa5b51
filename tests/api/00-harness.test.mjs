// Self-test of the contract check (runs only with KASSE_CONTRACT=1): Prism in front of a fake
// upstream that answers with bodies violating Klarna's OpenAPI must make the harness fail the
// request, and a conforming answer must pass. Proves the contract suite can actually fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Kasse, CONTRACT } from './harness.mjs';

let upstream;
let fake;

before(async () => {
  if (!CONTRACT) return;
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const json = (status, body) => {
        res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' });
        res.end(JSON.stringify(body));
      };
      if (req.url.endsWith('/bad-status')) return json(200, { status: 'paid', expires_at: 'tomorrow' });
      if (req.url.endsWith('/good')) return json(200, { status: 'incomplete', expires_at: '2038-01-19T03:14:07.000Z' });
      if (req.url.endsWith('/teapot')) return json(418, { error_code: 'TEAPOT' });
      if (req.url.endsWith('/unauth')) return json(401, { error_code: 'UNAUTHORIZED', error_messages: [] });
      if (req.method === 'POST' && req.url === '/payments/v1/sessions') return json(200, { session_id: 1 });
      return json(404, {});
    });
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  fake = new Kasse({ dir: null, dbPath: null, port: upstream.address().port, publicUrl: null, proc: null,
    out: { stdout: '', stderr: '' }, exited: Promise.resolve({ code: 0, signal: null }) });
  await fake.startPrism();
});

after(async () => {
  if (fake?.prism) { fake.prism.proc.kill('SIGTERM'); await fake.prism.exited; }
  upstream?.close();
});

test('contract check: a response body violating session_read (status enum, date-time) fails the request', { skip: !CONTRACT }, async () => {
  await assert.rejects(fake.get('/payments/v1/sessions/bad-status', { auth: null }), /OpenAPI response violation/);
});

test('contract check: merchant_session without client_token and a numeric session_id fails', { skip: !CONTRACT }, async () => {
  await assert.rejects(fake.post('/payments/v1/sessions', {}, { auth: null }), /OpenAPI response violation/);
});

test('contract check: a status the spec does not document (418) fails', { skip: !CONTRACT }, async () => {
  await assert.rejects(fake.get('/payments/v1/sessions/teapot', { auth: null }), /OpenAPI response violation/);
});

test('contract check: a conforming response and an undocumented-but-required 401 pass', { skip: !CONTRACT }, async () => {
  const r = await fake.get('/payments/v1/sessions/good', { auth: null });
  assert.equal(r.status, 200);
  assert.equal(r.via, 'prism');
  const u = await fake.get('/payments/v1/sessions/unauth', { auth: null });
  assert.equal(u.status, 401);
});
