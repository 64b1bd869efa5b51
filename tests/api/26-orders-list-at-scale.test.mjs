// GET /kasse/v1/orders at scale (issue 9 item 9): more than 10,000 orders, so `total` must be
// exact past 10,000, offset=10000 must page, filters and deep pages must equal a full scan, and
// the counts must follow status changes (Order Management, expiry on Kasse's clock).
//
// Seeding: three orders are made through the API (an AUTHORIZED and a CAPTURED one for merchant
// A, an AUTHORIZED one for B), Kasse is stopped, and the sqlite3 shell copies them into 10,800
// more rows of the same database (new ids, creation times spread over 18 days, several in the
// same second), as a migration or an import would write them. The schema's triggers keep the
// list's counts for rows written by any program; nothing in Kasse is test-only. Then Kasse runs
// again on that file. The expected answers come from the seed itself (a full scan in JS).
// In PostgreSQL mode (KASSE_TEST_PG) psql seeds the same rows into the test's database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startKasse, tempDir, assertJsonOk, assertNoContent, PG } from './harness.mjs';
import { omCart, omClient } from './fixtures.mjs';

const LIST = '/kasse/v1/orders';
const SEED_A = 10500;          // merchant A: every 5th a copy of the CAPTURED order
const SEED_B = 300;
const DAY = 86400000;

let k;
let om;
const orders = [];             // { id, merchant, created, kind: 'AUTHORIZED' | 'CAPTURED' }

function psql(db, sql) {
  const r = spawnSync('psql', [db, '-qAtX', '-v', 'ON_ERROR_STOP=1'], { input: sql, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

// The same copies in PostgreSQL's SQL (the body rewritten through jsonb: key order is not
// kept, which no reader depends on).
function seedPgSql(template, first, n, where) {
  const iso = (col) => `to_char(to_timestamp((${col}) / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '.' || lpad(((${col}) % 1000)::text, 3, '0') || 'Z'`;
  return `
WITH c AS (SELECT i, lpad(to_hex(i), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(i), 12, '0') AS id,
                  i::bigint * 97 + (i % 10) * ${2 * DAY}::bigint AS d
           FROM generate_series(${first}, ${first + n - 1}) AS i WHERE ${where})
INSERT INTO orders(id, merchant_id, session_id, status, fraud_status, order_amount,
                   captured_amount, refunded_amount, created_at, expires_at, body,
                   list_status, list_until, list_after)
SELECT c.id, t.merchant_id, t.session_id, t.status, t.fraud_status, t.order_amount,
       t.captured_amount, t.refunded_amount, t.created_at - c.d, t.expires_at - c.d,
       (t.body::jsonb || jsonb_build_object('order_id', c.id,
          'created_at', ${iso('t.created_at - c.d')}, 'expires_at', ${iso('t.expires_at - c.d')}))::text,
       t.list_status, t.list_until - c.d, t.list_after
FROM c, orders t WHERE t.id = '${template}';`;
}

function sqlite(db, sql) {
  const r = spawnSync('sqlite3', ['-bail', db], { input: sql, encoding: 'utf8', timeout: 60000 });
  if (r.error?.code === 'ENOENT') {
    throw new Error('the sqlite3 shell is needed to seed this test (Debian package sqlite3; tools/deps.sh installs it)');
  }
  assert.equal(r.status, 0, `sqlite3 failed: ${r.stderr}`);
  return r.stdout.trim();
}

// n copies of the template order: id n-th, created `step`·i ms earlier plus (i mod 10)·2 days,
// expiry and list instant shifted alike, the body's order_id/created_at/expires_at rewritten.
function seedSql(template, first, n) {
  const iso = (col) => `strftime('%Y-%m-%dT%H:%M:%S', ${col} / 1000, 'unixepoch') || printf('.%03dZ', ${col} % 1000)`;
  return `
WITH RECURSIVE s(i) AS (SELECT ${first} UNION ALL SELECT i + 1 FROM s WHERE i < ${first + n - 1}),
c AS (SELECT i, printf('%08x-0000-7000-8000-%012x', i, i) AS id, i * 97 + (i % 10) * ${2 * DAY} AS d FROM s)
INSERT INTO orders(id, merchant_id, session_id, status, fraud_status, order_amount,
                   captured_amount, refunded_amount, created_at, expires_at, body,
                   list_status, list_until, list_after)
SELECT c.id, t.merchant_id, t.session_id, t.status, t.fraud_status, t.order_amount,
       t.captured_amount, t.refunded_amount, t.created_at - c.d, t.expires_at - c.d,
       json_set(t.body, '$.order_id', c.id, '$.created_at', ${iso('(t.created_at - c.d)')},
                '$.expires_at', ${iso('(t.expires_at - c.d)')}),
       t.list_status, t.list_until - c.d, t.list_after
FROM c, orders t WHERE t.id = '${template}';`;
}

const dbQuery = (db, sql) => (PG ? psql(db, sql) : sqlite(db, sql));

const seedId = (i) => `${i.toString(16).padStart(8, '0')}-0000-7000-8000-${i.toString(16).padStart(12, '0')}`;

// What a full scan answers: the merchant's matches, newest first (created_at, then id).
function expected({ merchant = 'a', status, from = -Infinity, to = Infinity, statusOf }) {
  return orders
    .filter((o) => o.merchant === merchant && o.created >= from && o.created < to
      && (!status || statusOf(o) === status))
    .sort((x, y) => (y.created - x.created) || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0))
    .map((o) => o.id);
}

const list = async (q = {}, auth = 'a') => {
  const qs = new URLSearchParams(q).toString();
  const body = assertJsonOk(await k.get(qs ? `${LIST}?${qs}` : LIST, { auth, timeoutMs: 30000 }));
  assert.deepEqual(Object.keys(body).sort(), ['limit', 'offset', 'orders', 'total']);
  return body;
};

// The list answers exactly what the full scan does: total, and the page at offset.
async function assertPage(q, statusOf, auth = 'a') {
  const want = expected({ merchant: auth, status: q.status, statusOf,
    from: q.created_after ? Date.parse(q.created_after) : -Infinity,
    to: q.created_before ? Date.parse(q.created_before) : Infinity });
  const limit = q.limit ?? 20;
  const offset = q.offset ?? 0;
  const b = await list(q, auth);
  assert.equal(b.total, want.length, `total for ${JSON.stringify(q)}`);
  assert.equal(b.offset, offset);
  assert.deepEqual(b.orders.map((o) => o.order_id), want.slice(offset, offset + limit),
    `page for ${JSON.stringify(q)}`);
  for (const o of b.orders) {
    const st = statusOf(orders.find((x) => x.id === o.order_id));
    assert.equal(o.status, st, `status of ${o.order_id}`);
  }
  return b;
}

const initial = (o) => o.kind;
const changed = new Map();     // id → status set through Order Management
const now0 = (o) => changed.get(o.id) ?? o.kind;

before(async () => {
  const dir = tempDir();
  k = await startKasse({ testClock: true, dir });
  om = omClient(k);
  const a = (await om.place({ body: omCart(8500) })).order_id;
  const c = (await om.place({ body: omCart(8500) })).order_id;
  await om.captureOk(c, 8500);
  const b = (await om.place({ body: omCart(8500), auth: 'b' })).order_id;
  const created = {};
  for (const [id, auth] of [[a, 'a'], [c, 'a'], [b, 'b']]) created[id] = Date.parse((await om.read(id, auth)).created_at);
  await k.stopClean();

  const db = k.dbPath;
  const started = Date.now();
  // One INSERT per template: ids 1..SEED_A from A's AUTHORIZED order except every 5th, which
  // copies A's CAPTURED order; then B's.
  let count;
  if (PG) {
    psql(db, 'BEGIN;' + seedPgSql(a, 1, SEED_A, 'i % 5 <> 0') + seedPgSql(c, 1, SEED_A, 'i % 5 = 0')
      + seedPgSql(b, SEED_A + 1, SEED_B, 'true') + 'COMMIT;');
    count = Number(psql(db, 'SELECT count(*) FROM orders;'));
  } else {
    const sql = 'BEGIN;'
      + seedSql(a, 1, SEED_A).replace('FROM s)', 'FROM s WHERE i % 5 <> 0)')
      + seedSql(c, 1, SEED_A).replace('FROM s)', 'FROM s WHERE i % 5 = 0)')
      + seedSql(b, SEED_A + 1, SEED_B)
      + 'COMMIT;';
    sqlite(db, sql);
    count = Number(sqlite(db, 'SELECT count(*) FROM orders;'));
  }
  assert.equal(count, SEED_A + SEED_B + 3);
  const took = Date.now() - started;
  assert.ok(took < 20000, `seeding took ${took} ms`);

  orders.push({ id: a, merchant: 'a', created: created[a], kind: 'AUTHORIZED' });
  orders.push({ id: c, merchant: 'a', created: created[c], kind: 'CAPTURED' });
  orders.push({ id: b, merchant: 'b', created: created[b], kind: 'AUTHORIZED' });
  for (let i = 1; i <= SEED_A + SEED_B; i++) {
    const isA = i <= SEED_A;
    const t = !isA ? b : i % 5 === 0 ? c : a;
    orders.push({ id: seedId(i), merchant: isA ? 'a' : 'b', created: created[t] - (i * 97 + (i % 10) * 2 * DAY),
      kind: t === c ? 'CAPTURED' : 'AUTHORIZED' });
  }
  k = await startKasse({ testClock: true, dir });
  om = omClient(k);
});
after(async () => { await k?.kill(); });

test('at scale: total is exact past 10,000 and offset=10000 pages on (merchant A: 10,502 orders)', async () => {
  const all = await assertPage({}, initial);
  assert.equal(all.total, SEED_A + 2);
  const deep = await assertPage({ offset: 10000, limit: 100 }, initial);
  assert.equal(deep.orders.length, 100);
  const last = await assertPage({ offset: SEED_A + 1, limit: 100 }, initial);
  assert.equal(last.orders.length, 1);
  const past = await assertPage({ offset: SEED_A + 2 }, initial);
  assert.deepEqual(past.orders, []);
  await assertPage({ offset: 2147483647 }, initial);
});

test('at scale: merchant B counts only its own 301 orders', async () => {
  const b = await assertPage({ limit: 100, offset: 250 }, initial, 'b');
  assert.equal(b.total, SEED_B + 1);
});

test('at scale: status and created_after/created_before filters count and page like a full scan, at any offset', async () => {
  const newest = Math.max(...orders.map((o) => o.created));
  const iso = (ms) => new Date(ms).toISOString();
  const windows = [
    {},
    { created_after: iso(newest - 5 * DAY) },
    { created_before: iso(newest - 9 * DAY) },
    { created_after: iso(newest - 12 * DAY - 4321), created_before: iso(newest - 3 * DAY + 17) },
    { created_after: iso(newest - 600000), created_before: iso(newest - 1000) },
  ];
  for (const w of windows) {
    for (const status of [undefined, 'AUTHORIZED', 'CAPTURED', 'CANCELLED']) {
      const q = { ...w, ...(status ? { status } : {}) };
      const first = await assertPage({ ...q, limit: 100 }, initial);
      for (const offset of [99, 1001, Math.floor(first.total / 2), first.total - 3]) {
        if (offset > 0) await assertPage({ ...q, offset, limit: 7 }, initial);
      }
    }
  }
});

test('at scale: counts follow capture and cancel through Order Management', async () => {
  const before = {
    AUTHORIZED: (await list({ status: 'AUTHORIZED' })).total,
    CAPTURED: (await list({ status: 'CAPTURED' })).total,
    CANCELLED: (await list({ status: 'CANCELLED' })).total,
  };
  const authorized = expected({ status: 'AUTHORIZED', statusOf: initial });
  const toCapture = [authorized[0], authorized[5000], authorized.at(-1)];
  const toCancel = [authorized[1], authorized[8000]];
  for (const id of toCapture) {
    await om.captureOk(id, 8500);
    changed.set(id, 'CAPTURED');
  }
  for (const id of toCancel) {
    assertNoContent(await k.post(om.path(id, '/cancel')));
    changed.set(id, 'CANCELLED');
  }
  assertNoContent(await k.post(om.path(toCancel[0], '/cancel')));   // again: changes nothing
  assert.equal((await list({ status: 'AUTHORIZED' })).total, before.AUTHORIZED - 5);
  assert.equal((await list({ status: 'CAPTURED' })).total, before.CAPTURED + 3);
  assert.equal((await list({ status: 'CANCELLED' })).total, before.CANCELLED + 2);
  assert.equal((await list()).total, SEED_A + 2);
  await assertPage({ status: 'CANCELLED' }, now0);
  await assertPage({ status: 'CAPTURED', offset: 2000, limit: 100 }, now0);
  await assertPage({ status: 'AUTHORIZED', offset: 8000, limit: 100 }, now0);
  for (const id of [...toCapture, ...toCancel]) await om.read(id);
});

test('at scale: past the authorization window every uncaptured order is EXPIRED at once, before and after the sweep files them', async () => {
  const nowMs = Date.parse(await om.advance(28 * 86400 + 1));
  const expiredOf = (o) => { const s = now0(o); return s === 'AUTHORIZED' ? 'EXPIRED' : s; };
  // Right after the jump most of the 8,400 are due and not yet filed: the read corrects for them.
  await assertPage({ status: 'EXPIRED', limit: 100 }, expiredOf);
  await assertPage({ status: 'EXPIRED', offset: 5000, limit: 100 }, expiredOf);
  assert.equal((await list({ status: 'AUTHORIZED' })).total, 0);
  // The outbox thread files them (batches of 256; those due a minute ago, so a request received
  // just before an instant never finds its order filed ahead of it); wait until it has, ask again.
  const deadline = Date.now() + 20000;
  let due;
  for (;;) {
    due = Number(dbQuery(k.dbPath, `SELECT count(*) FROM orders WHERE list_until <= ${nowMs - 60000};`));
    if (due === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(due, 0, 'the sweep files every order due a minute ago');
  const filed = Number(dbQuery(k.dbPath, "SELECT count(*) FROM orders WHERE list_status = 'EXPIRED';"));
  assert.ok(filed > 8000, `${filed} orders filed as EXPIRED by the sweep`);
  await assertPage({ status: 'EXPIRED', limit: 100 }, expiredOf);
  await assertPage({ status: 'EXPIRED', offset: 8000, limit: 100 }, expiredOf);
  await assertPage({ status: 'CAPTURED', offset: 1500, limit: 100 }, expiredOf);
  assert.equal((await list({ status: 'AUTHORIZED' })).total, 0);
  await assertPage({ status: 'EXPIRED', limit: 100 }, (o) => (o.merchant === 'b' ? 'EXPIRED' : expiredOf(o)), 'b');
});

test('at scale: the server exits 0 on SIGTERM with no sanitizer report', async () => {
  await k.stopClean();
});
