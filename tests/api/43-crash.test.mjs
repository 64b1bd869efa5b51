// Crash safety (issue 9): a mixed merchant load (sessions, headless authorizations, orders,
// captures, refunds; about half with Klarna-Idempotency-Key) from several concurrent clients
// against the sanitizer build on a file database; `kill -9` at a random moment; restart on the
// same files; repeat. After every restart:
//   - every acknowledged write (a 2xx received) is there, exactly: sessions with their amount,
//     orders with their amount, each capture and refund by id with its amount, captured_amount
//     and refunded_amount the sums, and the Order Management invariants of every order;
//   - a request in flight at the kill either happened or did not, never half: a keyed one
//     retried with its key gets the recorded reply or runs now (once either way); a create-order
//     retried without a key gets the same order; a keyless capture or refund shows up at most
//     once, with its amount;
//   - no order exists that the clients do not know of (the order list's total);
//   - every acknowledged keyed write, sent again, gets its recorded reply (status, body, ids).
// Seeded: KASSE_CRASH_SEED=n replays a run's random choices (the kill moments stay timing).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKasse, tempDir, sleep, assertClean } from './harness.mjs';
import { OM, orderInvariantErrors } from './fixtures.mjs';
import { makeRng, newJournal, newOrder, worker, orderLeft } from './mixed-load.mjs';

const CYCLES = 4;
const CLIENTS = 6;
const SEED = Number(process.env.KASSE_CRASH_SEED ?? Date.now() % 1e9);
const SANITIZER = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:/;

let k;
after(async () => { await k?.kill(); });

/** Runs fn over items, `n` at a time. */
async function pool(items, n, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

function sender(server, ctx) {
  return async (method, path, body, headers) => {
    try {
      return await server.request(method, path, { body, headers, direct: true, timeoutMs: 10000 });
    } catch (e) {
      // Before the kill nothing may fail on the wire (a hang or a crash of its own is a bug).
      if (!ctx.killed) ctx.journal.unexpected.push(`${method} ${path}: ${e.message} before the kill`);
      throw e;
    }
  };
}

async function until(cond, ms, what) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const idem = (key) => (key ? { 'klarna-idempotency-key': key } : {});

/** Settles each request that was in flight at the kill (see the top of the file). */
async function settle(server, journal, seen) {
  const doubts = journal.doubts;
  journal.doubts = [];
  for (const d of doubts) {
    const o = d.order_id ? journal.orders.get(d.order_id) : null;
    const again = () => server.request(d.method, d.path, { body: d.body, headers: idem(d.key), direct: true });
    if (d.kind === 'session' && d.key) {
      const r = await again();
      assert.equal(r.status, 200, `keyed session create retried: ${r.text}`);
      journal.sessions.set(r.json.session_id, { amount: d.amount });
    } else if (d.kind === 'authorize' && d.key) {
      const r = await again();
      assert.equal(r.status, 200, `keyed authorize retried: ${r.text}`);
    } else if (d.kind === 'order') {
      // With or without a key: the same create-order again gets the order it made, if any.
      const r = await again();
      assert.equal(r.status, 200, `create order retried (key ${d.key ?? 'none'}): ${r.text}`);
      assert.ok(!journal.orders.has(r.json.order_id), `create order retried: ${r.json.order_id} is an earlier order`);
      const order = newOrder({ order_id: r.json.order_id, session_id: d.session_id, amount: d.amount });
      journal.orders.set(order.order_id, order);
      journal.open.push(order);
    } else if ((d.kind === 'capture' || d.kind === 'refund') && o) {
      const list = d.kind === 'capture' ? o.captures : o.refunds;
      const idField = d.kind === 'capture' ? 'capture_id' : 'refund_id';
      const amountField = d.kind === 'capture' ? 'captured_amount' : 'refunded_amount';
      const read = await server.request('GET', `${OM}/${o.order_id}`, { direct: true });
      assert.equal(read.status, 200, `order ${o.order_id} after restart: ${read.text}`);
      const extra = (read.json[d.kind === 'capture' ? 'captures' : 'refunds'] ?? []).filter((x) => !list.has(x[idField]));
      const where = `order ${o.order_id}, ${d.kind} of ${d.amount} in flight (key ${d.key ?? 'none'}${d.over ? ', over the limit' : ''})`;
      assert.ok(extra.length <= 1, `${where}: ${extra.length} unknown ${d.kind}s: ${read.text}`);
      if (!d.over) { seen.moneyInFlight++; seen.moneyCommitted += extra.length; }
      if (d.over) {
        assert.equal(extra.length, 0, `${where}: a refused request left a ${d.kind}: ${read.text}`);
      } else if (extra.length) {
        assert.equal(extra[0][amountField], d.amount, `${where}: the unknown ${d.kind} has another amount`);
      }
      if (d.key && !d.over) {
        // Retried with its key: the recorded reply if it was committed, else it runs now.
        const r = await again();
        assert.equal(r.status, 201, `${where}: retried with its key → ${r.status} ${r.text}`);
        const id = r.headers[d.kind === 'capture' ? 'capture-id' : 'refund-id'];
        if (extra.length) assert.equal(id, extra[0][idField], `${where}: the retry is not the recorded reply`);
        list.set(id, d.amount);
      } else if (extra.length) {
        list.set(extra[0][idField], d.amount);
      }
      o.doubt = null;
    }
  }
}

/** Holds the store to the journal (see the top of the file). */
async function verify(server, journal, replayFrom) {
  const problems = [];
  await pool([...journal.sessions], 8, async ([id, s]) => {
    const r = await server.request('GET', `/payments/v1/sessions/${id}`, { direct: true });
    if (r.status !== 200 || r.json.order_amount !== s.amount) {
      problems.push(`session ${id}: ${r.status}, order_amount ${r.json?.order_amount} ≠ ${s.amount}`);
    }
  });
  await pool([...journal.orders.values()], 8, async (o) => {
    const r = await server.request('GET', `${OM}/${o.order_id}`, { direct: true });
    if (r.status !== 200) { problems.push(`order ${o.order_id}: ${r.status} ${r.text}`); return; }
    const got = r.json;
    const errs = orderInvariantErrors(got).map((e) => `invariant: ${e}`);
    if (got.order_amount !== o.amount) errs.push(`order_amount ${got.order_amount} ≠ ${o.amount}`);
    const caps = new Map(got.captures.map((c) => [c.capture_id, c.captured_amount]));
    const refs = new Map(got.refunds.map((x) => [x.refund_id, x.refunded_amount]));
    const same = (a, b) => a.size === b.size && [...a].every(([id, v]) => b.get(id) === v);
    if (!same(caps, o.captures)) errs.push(`captures ${JSON.stringify([...caps])} ≠ acknowledged ${JSON.stringify([...o.captures])}`);
    if (!same(refs, o.refunds)) errs.push(`refunds ${JSON.stringify([...refs])} ≠ acknowledged ${JSON.stringify([...o.refunds])}`);
    const left = orderLeft(o);
    if (got.captured_amount !== o.amount - left.capturable) errs.push(`captured_amount ${got.captured_amount} ≠ ${o.amount - left.capturable}`);
    if (got.refunded_amount !== o.amount - left.capturable - left.refundable) {
      errs.push(`refunded_amount ${got.refunded_amount} ≠ ${o.amount - left.capturable - left.refundable}`);
    }
    if (got.remaining_authorized_amount < 0) errs.push(`remaining_authorized_amount ${got.remaining_authorized_amount} < 0`);
    if (errs.length) problems.push(`order ${o.order_id}:\n    ${errs.join('\n    ')}`);
  });
  // No phantom orders: the merchant has exactly the orders the clients know of.
  const list = await server.request('GET', '/kasse/v1/orders?limit=1', { direct: true });
  assert.equal(list.status, 200, list.text);
  if (list.json.total !== journal.orders.size) {
    problems.push(`the merchant has ${list.json.total} orders, the clients know of ${journal.orders.size}`);
  }
  // Acknowledged keyed writes replay their recorded reply.
  await pool(journal.keyed.slice(replayFrom), 8, async (w) => {
    const r = await server.request(w.method, w.path, { body: w.body, headers: idem(w.key), direct: true });
    const h = {};
    for (const n of Object.keys(w.headers)) h[n] = r.headers[n];
    if (r.status !== w.status || r.text !== w.text || JSON.stringify(h) !== JSON.stringify(w.headers)) {
      problems.push(`replay ${w.method} ${w.path} (key ${w.key}): ${r.status} ${r.text.slice(0, 200)} ${JSON.stringify(h)}`
        + `\n    recorded ${w.status} ${w.text.slice(0, 200)} ${JSON.stringify(w.headers)}`);
    }
  });
  return problems;
}

test(`crash: kill -9 under mixed load, ${CYCLES} cycles on one database; acknowledged writes survive exactly (seed ${SEED})`,
  { timeout: 100_000 }, async () => {
    const t0 = Date.now();
    const journal = newJournal();
    const rng = makeRng(SEED);
    k = await startKasse({ dir: tempDir('kasse-crash-'), threads: 8, contract: false });
    let replayFrom = 0;
    const summary = [];
    const seen = { moneyInFlight: 0, moneyCommitted: 0 };   // captures/refunds cut off by a kill
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const ctx = { journal, rng, killed: false, stopping: false };
      ctx.send = sender(k, ctx);
      const acked0 = journal.acked;
      const workers = Array.from({ length: CLIENTS }, () => worker(ctx));
      // Kill at a random moment once some writes went through (a cycle's first writes show the
      // previous crash's recovery; the random part varies what is in flight).
      const early = rng() < 0.25;     // now and then right after the restart, while it warms up
      await until(() => journal.acked - acked0 >= (early ? 1 : 30) || journal.unexpected.length, 30000, 'the first writes');
      await sleep(early ? Math.floor(rng() * 100) : 200 + Math.floor(rng() * 2500));
      ctx.killed = true;
      ctx.stopping = true;
      const dead = await k.stop({ signal: 'SIGKILL' });
      await Promise.all(workers);
      assert.deepEqual(journal.unexpected, [], `unexpected replies in cycle ${cycle} (seed ${SEED}); `
        + `server stderr:\n${dead.stderr.slice(-4000)}`);
      assert.doesNotMatch(dead.stderr, SANITIZER, `sanitizer report before the kill:\n${dead.stderr}`);
      const inFlight = journal.doubts.length;

      k = await k.restart();
      await settle(k, journal, seen);
      const problems = await verify(k, journal, replayFrom);
      assert.deepEqual(problems, [], `after crash ${cycle} (seed ${SEED}):\n  ${problems.join('\n  ')}`);
      replayFrom = journal.keyed.length;
      summary.push(`cycle ${cycle}: ${journal.acked - acked0} writes acknowledged, ${inFlight} in flight at the kill`);
    }
    // The last server stops cleanly (and, sanitizer build, without a report).
    assertClean(await k.stop());
    const caps = [...journal.orders.values()].reduce((n, o) => n + o.captures.size + o.refunds.size, 0);
    console.log(`# seed ${SEED}: ${summary.join('; ')}; ${journal.orders.size} orders, ${caps} captures+refunds,`
      + ` ${journal.keyed.length} keyed replies replayed; of ${seen.moneyInFlight} captures/refunds cut off by a kill`
      + ` ${seen.moneyCommitted} had been committed; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
