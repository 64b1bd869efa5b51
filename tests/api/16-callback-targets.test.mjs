// --callbacks-public-only (issue 9, item 6): callback deliveries to loopback, private,
// link-local and other non-public addresses are refused, checked on the address each connection
// resolves to; every refused attempt is recorded with its reason and the receiver hears nothing.
// Without the option (every other file) loopback callbacks are delivered, as a developer needs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKasse, assertJsonOk, sleep } from './harness.mjs';
import { startReceiver } from './receiver.mjs';
import { SE_EXAMPLE, clone } from './fixtures.mjs';

let k;
let rx;
before(async () => {
  k = await startKasse({ args: ['--callbacks-public-only'], contract: false });
  rx = await startReceiver();
});
after(async () => {
  await k?.kill();
  await rx?.close();
});

async function settled(sessionId, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const list = assertJsonOk(await k.get(`/kasse/v1/callbacks?session_id=${sessionId}`)).callbacks;
    if (list.length > 0 && list.every((c) => c.status !== 'pending')) return list;
    if (Date.now() > until) assert.fail(`callbacks not settled: ${JSON.stringify(list)}`);
    await sleep(100);
  }
}

test('--callbacks-public-only: an authorization callback to 127.0.0.1 and one to localhost are refused on every attempt ("refused: the address is not public"); the receiver gets nothing', async () => {
  for (const host of ['127.0.0.1', 'localhost']) {
    const p = rx.path();
    const body = { ...clone(SE_EXAMPLE), merchant_urls: { authorization: rx.url(p).replace('127.0.0.1', host) } };
    const s = assertJsonOk(await k.post('/payments/v1/sessions', body));
    assertJsonOk(await k.post(`/kasse/v1/sessions/${s.session_id}/authorize`, {}));
    const [cb] = await settled(s.session_id);
    assert.equal(cb.status, 'failed');
    assert.equal(cb.attempts.length, 3);
    for (const a of cb.attempts) {
      assert.equal(a.http_status, 0);
      assert.equal(a.error, 'refused: the address is not public (--callbacks-public-only)');
    }
    assert.equal(rx.requests(p).length, 0, `${host}: nothing reached the receiver`);
  }
});

test('the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
