// Callback fairness (issue 9, item 8): callbacks are delivered by a bounded pool of workers
// (8) with at most 2 deliveries in flight per endpoint (scheme://host:port), so a merchant
// whose endpoint accepts the connection and never answers holds at most 2 workers and delays
// nobody else. Asserted by the order of events seen by the receivers, not by a wall-clock bound:
// merchant B's callback arrives while merchant A's first attempts are still hanging.
// At-least-once and the retry rules still hold: A's callbacks are delivered once its endpoint
// answers, and no event is ever in flight twice at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startKasse, assertJsonOk, sleep, runCli } from './harness.mjs';
import { startReceiver } from './receiver.mjs';
import { SE_EXAMPLE, clone } from './fixtures.mjs';

const PER_ENDPOINT = 2; // OUTBOX_PER_ENDPOINT
const WORKERS = 8;      // OUTBOX_WORKERS (kasse serve --callback-workers default)

let k;
let rx;
const endpoints = [];
before(async () => {
  k = await startKasse();
  rx = await startReceiver();
});
after(async () => {
  await k?.kill();
  await rx?.close();
  for (const e of endpoints) await e.close();
});

/**
 * An endpoint (its own port, so its own scheme://host:port) that accepts every connection and
 * reads the request, then never answers it until answer() is called; from then on it answers
 * 200 at once. It logs every request with when it arrived and when its connection closed, and
 * notes any request arriving while another request for the same event is still open.
 */
async function hangingEndpoint({ onOpen } = {}) {
  const log = [];
  const open = new Set();
  const overlaps = [];
  let answering = false;
  let maxOpen = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let json;
      try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { json = undefined; }
      const rec = { event: json?.session_id, openedAt: Date.now(), closedAt: null, answered: false };
      for (const o of open) if (o.event === rec.event) overlaps.push(rec.event);
      log.push(rec);
      open.add(rec);
      maxOpen = Math.max(maxOpen, open.size);
      onOpen?.();
      res.on('close', () => { rec.closedAt = Date.now(); open.delete(rec); });
      if (answering) {
        rec.answered = true;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const e = {
    url: `http://127.0.0.1:${server.address().port}/hang`,
    log,
    open,
    overlaps,
    get maxOpen() { return maxOpen; },
    answer() { answering = true; },
    openAt(t) { return log.filter((r) => r.openedAt <= t && (r.closedAt === null || r.closedAt > t)).length; },
    async waitOpen(n, timeoutMs = 15000) {
      const until = Date.now() + timeoutMs;
      while (open.size < n) {
        if (Date.now() > until) throw new Error(`hanging endpoint: ${open.size} of ${n} request(s) open within ${timeoutMs} ms`);
        await sleep(20);
      }
    },
    async close() {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    },
  };
  endpoints.push(e);
  return e;
}

async function session(url, auth) {
  const body = { ...clone(SE_EXAMPLE), merchant_urls: { authorization: url } };
  return assertJsonOk(await k.post('/payments/v1/sessions', body, { auth })).session_id;
}
const authorize = async (id, auth) => assertJsonOk(await k.post(`/kasse/v1/sessions/${id}/authorize`, {}, { auth }));

async function settled(id, auth, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const list = assertJsonOk(await k.get(`/kasse/v1/callbacks?session_id=${id}`, { auth })).callbacks;
    if (list.length > 0 && list.every((c) => c.status !== 'pending')) return list;
    if (Date.now() > until) assert.fail(`callbacks for ${id} not settled within ${timeoutMs} ms: ${JSON.stringify(list)}`);
    await sleep(100);
  }
}

test('per-endpoint fairness: with 20 of merchant A\'s callbacks hanging on A\'s endpoint, merchant B\'s callback to another endpoint is delivered while A\'s first attempts are still open; A\'s endpoint never has more than 2 deliveries in flight, no event is in flight twice, and A\'s 20 are delivered once A answers', { timeout: 90000 }, async () => {
  const a = await hangingEndpoint();
  const pB = rx.path();
  const sessionB = await session(rx.url(pB), 'b');
  const sessionsA = [];
  for (let i = 0; i < 20; i++) sessionsA.push(await session(a.url, 'a'));
  for (const id of sessionsA) await authorize(id, 'a');
  await a.waitOpen(1);                        // A's deliveries have started and hang

  const startedB = Date.now();
  await authorize(sessionB, 'b');
  const [reqB] = await rx.waitFor(pB, 1, 60000);
  const waitedB = reqB.at - startedB;
  const first = a.log[0];
  assert.ok(a.openAt(reqB.at) >= 1,
    `A's endpoint still held open requests when B's callback arrived (B waited ${waitedB} ms, behind ${a.log.filter((r) => r.openedAt <= reqB.at).length} of A's attempts)`);
  assert.ok(first.closedAt === null || first.closedAt > reqB.at,
    `B's callback arrived after A's first attempt had ended (B waited ${waitedB} ms; A's first attempt ran ${first.openedAt}..${first.closedAt}, B at ${reqB.at})`);
  const [cbB] = await settled(sessionB, 'b', 15000);
  assert.equal(cbB.status, 'delivered');
  assert.equal(cbB.attempts.length, 1);
  assert.equal(a.log.filter((r) => r.openedAt <= reqB.at).length <= 2 * PER_ENDPOINT, true,
    `B waited behind ${a.log.filter((r) => r.openedAt <= reqB.at).length} of A's attempts`);
  console.log(`# merchant B's callback arrived ${waitedB} ms after its authorize, with ${a.openAt(reqB.at)} of A's requests open`);

  // A's endpoint recovers: every one of A's 20 callbacks is delivered at least once.
  await sleep(500);
  a.answer();
  for (const id of sessionsA) {
    const [c] = await settled(id, 'a', 60000);
    assert.equal(c.status, 'delivered', JSON.stringify(c));
    assert.equal(c.attempts.at(-1).http_status, 200);
    for (const x of c.attempts.slice(0, -1)) assert.equal(x.http_status, 0, 'earlier attempts timed out');
  }
  for (const id of sessionsA) {
    assert.ok(a.log.some((r) => r.event === id && r.answered), `A's callback for ${id} was answered`);
  }
  assert.ok(a.maxOpen <= PER_ENDPOINT, `A's endpoint had ${a.maxOpen} deliveries in flight at once (at most ${PER_ENDPOINT})`);
  assert.deepEqual(a.overlaps, [], 'no event was delivered twice concurrently');
});

test(`bounded pool: 6 hanging endpoints (3 callbacks each) never see more than ${WORKERS} deliveries in flight in all, at most ${PER_ENDPOINT} each; every event is delivered once they answer`, { timeout: 90000 }, async () => {
  const eps = [];
  let maxTotal = 0;
  const onOpen = () => { maxTotal = Math.max(maxTotal, eps.reduce((n, e) => n + e.open.size, 0)); };
  for (let i = 0; i < 6; i++) eps.push(await hangingEndpoint({ onOpen }));
  const ids = [];
  for (const e of eps) for (let i = 0; i < 3; i++) ids.push(await session(e.url, 'a'));
  for (const id of ids) await authorize(id, 'a');
  // The pool fills up to its bound (every worker holds a hanging delivery) and stays there.
  const until = Date.now() + 20000;
  while (maxTotal < WORKERS) {
    if (Date.now() > until) assert.fail(`the pool never held ${WORKERS} hanging deliveries (at most ${maxTotal})`);
    await sleep(20);
  }
  await sleep(1000);
  for (const e of eps) e.answer();
  for (const id of ids) assert.equal((await settled(id, 'a', 60000))[0].status, 'delivered');
  assert.ok(maxTotal <= WORKERS, `${maxTotal} deliveries in flight at once (at most ${WORKERS})`);
  for (const e of eps) {
    assert.ok(e.maxOpen <= PER_ENDPOINT, `an endpoint had ${e.maxOpen} in flight`);
    assert.deepEqual(e.overlaps, []);
  }
});

test('SIGTERM while deliveries hang: the server exits 0 with no sanitizer report', { timeout: 60000 }, async () => {
  const e = await hangingEndpoint();
  for (let i = 0; i < 4; i++) await authorize(await session(e.url, 'a'), 'a');
  await e.waitOpen(1);
  await k.stopClean();
});

test('kasse serve --callback-workers takes 1..64; anything else exits 2 with a message', () => {
  for (const bad of ['0', '65', 'x', '8x']) {
    const r = runCli(['serve', '--callback-workers', bad, '--db', '/nonexistent/never-opened.db']);
    assert.equal(r.code, 2, `--callback-workers ${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--callback-workers must be 1\.\.64/);
  }
  assert.match(runCli(['serve', '--help']).stdout, /--callback-workers N/);
});

test('no callback went to an unregistered receiver path', () => {
  assert.deepEqual(rx.unknown.map((r) => r.url), []);
});
