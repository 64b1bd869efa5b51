// Process lifecycle and command line: clean shutdown (idle and with a request in flight),
// restart persistence, merchant creation, first-run merchant, version and --help.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  dbFor, startKasse, runCli, parseCredentials, assertJsonOk, assertClean, assertError, tempDir, MERCHANTS, sleep, decodeJwt,
} from './harness.mjs';
import { SE_EXAMPLE, US_EXAMPLE } from './fixtures.mjs';

const SESSIONS = '/payments/v1/sessions';

test('kasse version prints a version and exits 0', () => {
  const r = runCli(['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\d+\.\d+/);
  assert.doesNotMatch(r.stderr, /Sanitizer|runtime error:/);
});

test('--help on each command prints usage and exits 0', () => {
  for (const args of [['--help'], ['serve', '--help'], ['merchant', '--help'], ['merchant', 'create', '--help'], ['version', '--help']]) {
    const r = runCli(args);
    assert.equal(r.code, 0, `kasse ${args.join(' ')} → ${r.code}\n${r.stderr}`);
    assert.match(r.stdout + r.stderr, /usage/i, `kasse ${args.join(' ')} prints usage`);
  }
});

test('an unknown command exits non-zero without a sanitizer report', () => {
  const r = runCli(['no-such-command']);
  assert.notEqual(r.code, 0);
  assert.equal(r.signal, null);
  assert.doesNotMatch(r.stderr, /Sanitizer|runtime error:/);
});

test('SIGTERM while idle → exit 0, no sanitizer report', async () => {
  const k = await startKasse({ contract: false });
  assertClean(await k.stop());
});

test('SIGINT while idle → exit 0', async () => {
  const k = await startKasse({ contract: false });
  assertClean(await k.stop({ signal: 'SIGINT' }));
});

test('SIGTERM with a request in flight (partial body) and an idle keep-alive connection → exit 0', async () => {
  const k = await startKasse({ contract: false });
  assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE));
  const auth = 'Basic ' + Buffer.from(`${MERCHANTS.a.user}:${MERCHANTS.a.secret}`).toString('base64');
  const body = JSON.stringify(SE_EXAMPLE);
  const sockets = [];
  const open = () => new Promise((resolve, reject) => {
    const s = net.connect(k.port, '127.0.0.1', () => resolve(s));
    s.on('error', () => {});
    s.once('error', reject);
    sockets.push(s);
  });
  const inflight = await open();
  inflight.write(`POST ${SESSIONS} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth}\r\n`
    + `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n` + body.slice(0, 40));
  const idle = await open();
  idle.write(`GET /kasse/assets/badges/klarna.svg HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
  await sleep(300);
  const r = await k.stop({ timeoutMs: 20000 });
  for (const s of sockets) s.destroy();
  assertClean(r);
});

test('SIGTERM during a burst of concurrent creates → exit 0 and acknowledged sessions survive a restart', async () => {
  const dir = tempDir();
  const k = await startKasse({ dir, contract: false });
  const results = [];
  const burst = Array.from({ length: 40 }, () => k.post(SESSIONS, SE_EXAMPLE).then((r) => results.push(r), () => {}));
  await sleep(50);
  const r = await k.stop({ timeoutMs: 20000 });
  await Promise.allSettled(burst);
  assertClean(r);
  const k2 = await startKasse({ dir, port: k.port, contract: false });
  try {
    for (const res of results.filter((x) => x.status === 200)) {
      assertJsonOk(await k2.get(`${SESSIONS}/${res.json.session_id}`));
    }
  } finally {
    assertClean(await k2.stop());
  }
});

test('restart on the same --db: sessions are still there, field for field', async () => {
  const dir = tempDir();
  const k1 = await startKasse({ dir });
  const a = assertJsonOk(await k1.post(SESSIONS, SE_EXAMPLE, { auth: 'a' }));
  const b = assertJsonOk(await k1.post(SESSIONS, US_EXAMPLE, { auth: 'b' }));
  assert.equal((await k1.post(`${SESSIONS}/${a.session_id}`, { merchant_reference1: 'before-restart' })).status, 204);
  const ra = assertJsonOk(await k1.get(`${SESSIONS}/${a.session_id}`, { auth: 'a' }));
  const rb = assertJsonOk(await k1.get(`${SESSIONS}/${b.session_id}`, { auth: 'b' }));
  assertClean(await k1.stop());

  const k2 = await startKasse({ dir, port: k1.port });
  try {
    assert.deepEqual(assertJsonOk(await k2.get(`${SESSIONS}/${a.session_id}`, { auth: 'a' })), ra);
    assert.deepEqual(assertJsonOk(await k2.get(`${SESSIONS}/${b.session_id}`, { auth: 'b' })), rb);
    // Isolation survives the restart too.
    assertError(await k2.get(`${SESSIONS}/${a.session_id}`, { auth: 'b' }), 404, 'NOT_FOUND', ['Invalid session id']);
  } finally {
    assertClean(await k2.stop());
  }
});

test('first run with an empty store and no seed creates one test merchant and prints username:/secret: lines', async () => {
  const dir = tempDir();
  const k1 = await startKasse({ dir, merchants: null, contract: false });
  try {
    const creds = parseCredentials(k1.stdout);
    assert.ok(creds, `no username:/secret: lines on stdout:\n${k1.stdout}`);
    assertJsonOk(await k1.post(SESSIONS, SE_EXAMPLE, { auth: creds }));
    assertError(await k1.post(SESSIONS, SE_EXAMPLE, { auth: { user: creds.user, secret: creds.secret + 'x' } }), 401, 'UNAUTHORIZED', []);
  } finally {
    assertClean(await k1.stop());
  }
  // The second start finds the merchant and does not create another one.
  const k2 = await startKasse({ dir, merchants: null, contract: false });
  try {
    assert.equal(parseCredentials(k2.stdout), null, `second start printed new credentials:\n${k2.stdout}`);
  } finally {
    assertClean(await k2.stop());
  }
});

test('kasse merchant create NAME --db PATH prints credentials that authenticate against serve on that db', async () => {
  const dir = tempDir();
  const db = dbFor(dir);
  const r = runCli(['merchant', 'create', 'Acme Shop', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  const creds = parseCredentials(r.stdout);
  assert.ok(creds, `no credentials in:\n${r.stdout}`);
  const r2 = runCli(['merchant', 'create', 'Other Shop', '--db', db]);
  const creds2 = parseCredentials(r2.stdout);
  assert.ok(creds2);
  assert.notEqual(creds2.user, creds.user);
  assert.notEqual(creds2.secret, creds.secret);

  const k = await startKasse({ dir, merchants: null });
  try {
    assert.equal(parseCredentials(k.stdout), null, 'no test merchant is created when the store has merchants');
    const s = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth: creds }));
    assert.deepEqual(s.payment_method_categories.map((c) => c.identifier), ['klarna']);
    assertError(await k.get(`${SESSIONS}/${s.session_id}`, { auth: creds2 }), 404, 'NOT_FOUND', ['Invalid session id']);
  } finally {
    assertClean(await k.stop());
  }
});

test('display name: shoppers see NAME, or --display-name, never the API username; seeds default to "Kasse Test Merchant" or take a fourth field', async () => {
  const dir = tempDir();
  const db = dbFor(dir);
  const named = parseCredentials(runCli(['merchant', 'create', 'Acme Shop', '--db', db]).stdout);
  const shown = parseCredentials(runCli(['merchant', 'create', 'acme-internal', '--db', db, '--display-name', 'Acme Bikes AB']).stdout);
  assert.ok(named && shown);
  assert.notEqual(runCli(['merchant', 'create', 'x', '--db', db, '--display-name', '']).code, 0);
  const k = await startKasse({ dir, merchants: null });
  try {
    const claim = async (auth) => decodeJwt(assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth })).client_token).claims.merchant_name;
    assert.equal(await claim(named), 'Acme Shop');
    assert.equal(await claim(shown), 'Acme Bikes AB');
  } finally {
    assertClean(await k.stop());
  }
  const seeded = [{ user: 'seed_plain', secret: 'sp_secret_1234567890abcdef' },
    { user: 'seed_named', secret: 'sn_secret_1234567890abcdef', display: 'Named Shop' }];
  const k2 = await startKasse({ merchants: seeded });
  try {
    const claim = async (m) => decodeJwt(assertJsonOk(await k2.post(SESSIONS, SE_EXAMPLE, { auth: m })).client_token).claims.merchant_name;
    assert.equal(await claim(seeded[0]), 'Kasse Test Merchant');
    assert.equal(await claim(seeded[1]), 'Named Shop');
  } finally {
    assertClean(await k2.stop());
  }
});

test('kasse merchant create --categories classic gives pay_now/pay_later/pay_over_time in SE', async () => {
  const dir = tempDir();
  const r = runCli(['merchant', 'create', 'Classic Shop', '--db', dbFor(dir), '--categories', 'classic']);
  assert.equal(r.code, 0, r.stderr);
  const creds = parseCredentials(r.stdout);
  const k = await startKasse({ dir, merchants: null });
  try {
    const s = assertJsonOk(await k.post(SESSIONS, SE_EXAMPLE, { auth: creds }));
    assert.deepEqual(s.payment_method_categories.map((c) => c.identifier).sort(), ['pay_later', 'pay_now', 'pay_over_time']);
  } finally {
    assertClean(await k.stop());
  }
});

test('kasse merchant create with an unknown --categories value exits non-zero', () => {
  const dir = tempDir();
  const r = runCli(['merchant', 'create', 'X', '--db', dbFor(dir), '--categories', 'bogus']);
  assert.notEqual(r.code, 0);
  assert.equal(r.signal, null);
});

test('--threads 1 and --threads 4 both serve requests', async () => {
  for (const threads of [1, 4]) {
    const k = await startKasse({ threads, contract: false });
    try {
      const all = await Promise.all(Array.from({ length: 8 }, () => k.post(SESSIONS, SE_EXAMPLE)));
      for (const r of all) assertJsonOk(r);
    } finally {
      assertClean(await k.stop());
    }
  }
});
