// A mixed merchant load, shared by the crash test (43-crash.test.mjs) and the soak
// (tools/soak.mjs). One flow: create a session, authorize it headlessly, create the order,
// capture parts of it and refund parts of the captures; or come back to an earlier order and
// capture / refund more. About half the writes carry a Klarna-Idempotency-Key; a few captures
// and refunds ask for more than is left (Klarna's 403, which must change nothing).
//
// The caller supplies `send(method, path, body, headers)` → { status, headers, text, json }, which
// throws when no complete reply arrived (connection refused or reset, timeout). The journal
// records every acknowledged write (a 2xx received) and, when a request fails in flight, that
// request as "in doubt" (it may or may not have been committed), so a test can hold the store
// to it after a crash. An order is worked on by one flow at a time, so an order has at most one
// request in doubt.
import { randomUUID } from 'node:crypto';
import { omCart, orderRequest, orderInvariantErrors, OM } from './fixtures.mjs';

/** The request was in flight when the connection failed: its outcome is unknown. */
export class InFlight extends Error {
  constructor(doubt, cause) {
    super(`in flight: ${doubt.method} ${doubt.path}: ${cause?.message ?? cause}`);
    this.doubt = doubt;
  }
}

/** A reply the flow did not expect (recorded in journal.unexpected; the flow stops). */
export class Unexpected extends Error {}

/** Deterministic random numbers in [0, 1) (mulberry32), so a failing run can be replayed. */
export function makeRng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An empty journal. `keep` (soak) bounds memory: only that many recent orders are remembered
 * for revisits, and acknowledged keyed replies and sessions are not kept.
 */
export function newJournal({ keep = Infinity } = {}) {
  return {
    keep,
    sessions: new Map(),   // session_id → { amount }
    orders: new Map(),     // order_id → order (see newOrder)
    open: [],              // orders that may still be captured or refunded
    keyed: [],             // acknowledged keyed writes: { method, path, body, key, status, headers, text }
    doubts: [],            // requests in flight when the connection failed
    unexpected: [],        // descriptions of replies no flow expected
    acked: 0,              // acknowledged writes
    writes: 0,             // writes sent
  };
}

const sum = (m) => [...m.values()].reduce((s, v) => s + v, 0);
const REPLAY_HEADERS = ['location', 'capture-id', 'refund-id', 'transaction-id', 'content-type'];

/** Capturable and refundable amounts by what the journal knows. */
export function orderLeft(o) {
  const captured = sum(o.captures);
  return { capturable: o.amount - captured, refundable: captured - sum(o.refunds) };
}

function remember(journal, order) {
  journal.orders.set(order.order_id, order);
  journal.open.push(order);
  if (journal.orders.size > journal.keep) {
    const oldest = journal.orders.keys().next().value;
    journal.orders.delete(oldest);
    journal.open = journal.open.filter((o) => o.order_id !== oldest);
  }
}

export function newOrder(fields) {
  return { captures: new Map(), refunds: new Map(), busy: false, doubt: null, ...fields };
}

/**
 * Sends one request. `write` marks it as a write (counted; keyed with probability `keyRate`
 * unless `key` is given). Returns the reply; throws InFlight when it did not arrive whole.
 */
async function call(ctx, method, path, body, { write = false, key, doubt = {} } = {}) {
  const j = ctx.journal;
  const k = key ?? (write && ctx.rng() < (ctx.keyRate ?? 0.5) ? randomUUID() : undefined);
  const headers = k ? { 'klarna-idempotency-key': k } : {};
  const d = { method, path, body, key: k, ...doubt };
  if (write) j.writes++;
  let res;
  try {
    res = await ctx.send(method, path, body, headers);
  } catch (e) {
    if (write) j.doubts.push(d);
    throw new InFlight(d, e);
  }
  if (write && res.status >= 200 && res.status < 300) {
    j.acked++;
    if (k && j.keep === Infinity && (res.text === '' || res.json !== undefined)) {
      const h = {};
      for (const n of REPLAY_HEADERS) if (res.headers[n] !== undefined) h[n] = res.headers[n];
      j.keyed.push({ method, path, body, key: k, status: res.status, headers: h, text: res.text });
    }
  }
  res.doubt = d;
  return res;
}

function unexpected(ctx, res, what) {
  const msg = `${what}: ${res.doubt.method} ${res.doubt.path} → ${res.status} ${res.text.slice(0, 300)}`;
  ctx.journal.unexpected.push(msg);
  throw new Unexpected(msg);
}

/**
 * A 2xx whose body did not arrive whole (the server died while sending it) is committed but
 * unreadable: treat it as in doubt, as if no reply had come.
 */
function readable(ctx, res, ok) {
  if (!ok) {
    ctx.journal.doubts.push(res.doubt);
    throw new InFlight(res.doubt, new Error('incomplete reply'));
  }
}

async function capture(ctx, o) {
  const { capturable } = orderLeft(o);
  if (capturable <= 0) return false;
  const over = ctx.rng() < 0.05;
  const amount = over ? capturable + 5 : Math.min(capturable, 5 * (1 + Math.floor(ctx.rng() * capturable / 5)));
  o.doubt = { kind: 'capture', order_id: o.order_id, amount, over };
  const res = await call(ctx, 'POST', `${OM}/${o.order_id}/captures`, { captured_amount: amount },
    { write: true, doubt: o.doubt });
  if (res.status === 201 && !over) readable(ctx, res, !!res.headers['capture-id']);  // else in doubt
  o.doubt = null;                                        // a whole reply came
  if (over ? res.status !== 403 : res.status !== 201) unexpected(ctx, res, over ? 'over-capture' : 'capture');
  if (!over) o.captures.set(res.headers['capture-id'], amount);
  return true;
}

async function refund(ctx, o) {
  const { refundable } = orderLeft(o);
  if (refundable <= 0) return false;
  const over = ctx.rng() < 0.05;
  const amount = over ? refundable + 5 : Math.min(refundable, 5 * (1 + Math.floor(ctx.rng() * refundable / 5)));
  o.doubt = { kind: 'refund', order_id: o.order_id, amount, over };
  const res = await call(ctx, 'POST', `${OM}/${o.order_id}/refunds`, { refunded_amount: amount },
    { write: true, doubt: o.doubt });
  if (res.status === 201 && !over) readable(ctx, res, !!res.headers['refund-id']);  // else in doubt
  o.doubt = null;                                        // a whole reply came
  if (over ? res.status !== 403 : res.status !== 201) unexpected(ctx, res, over ? 'over-refund' : 'refund');
  if (!over) o.refunds.set(res.headers['refund-id'], amount);
  return true;
}

/** Captures (0-3) and refunds (0-2) on an order; sometimes reads it back. */
async function work(ctx, o) {
  o.busy = true;
  try {
    const nc = Math.floor(ctx.rng() * 4);
    for (let i = 0; i < nc; i++) if (!await capture(ctx, o)) break;
    const nr = Math.floor(ctx.rng() * 3);
    for (let i = 0; i < nr; i++) if (!await refund(ctx, o)) break;
    if (ctx.rng() < (ctx.readRate ?? 0.3)) {
      const res = await call(ctx, 'GET', `${OM}/${o.order_id}`);
      if (res.status !== 200) unexpected(ctx, res, 'read order');
      readable(ctx, res, !!res.json);
      const errs = orderInvariantErrors(res.json);
      if (errs.length) unexpected(ctx, res, `invariants: ${errs.join('; ')}`);
    }
    const left = orderLeft(o);
    if (left.capturable === 0 && left.refundable === 0) ctx.journal.open = ctx.journal.open.filter((x) => x !== o);
  } finally {
    o.busy = false;
  }
}

/** Session → authorize → order, then work on it. */
async function checkout(ctx) {
  const { rng, journal } = ctx;
  const amount = 5 * (200 + Math.floor(rng() * 3800));    // 10.00 .. 199.95, tax = amount / 5
  const body = omCart(amount);
  const s = await call(ctx, 'POST', '/payments/v1/sessions', body,
    { write: true, doubt: { kind: 'session', amount } });
  if (s.status !== 200) unexpected(ctx, s, 'create session');
  readable(ctx, s, !!s.json?.session_id);
  const sid = s.json.session_id;
  if (journal.keep === Infinity) journal.sessions.set(sid, { amount });
  if (rng() < (ctx.readRate ?? 0.3)) {
    const r = await call(ctx, 'GET', `/payments/v1/sessions/${sid}`);
    if (r.status !== 200) unexpected(ctx, r, 'read session');
  }
  const a = await call(ctx, 'POST', `/kasse/v1/sessions/${sid}/authorize`, {},
    { write: true, doubt: { kind: 'authorize', session_id: sid } });
  if (a.status !== 200) unexpected(ctx, a, 'authorize');
  readable(ctx, a, !!a.json);
  if (!a.json.approved || !a.json.authorization_token) unexpected(ctx, a, 'authorize (not approved)');
  const token = a.json.authorization_token;
  const req = orderRequest(body);
  const doubt = { kind: 'order', session_id: sid, token, amount };
  const o = await call(ctx, 'POST', `/payments/v1/authorizations/${token}/order`, req, { write: true, doubt });
  if (o.status !== 200) unexpected(ctx, o, 'create order');
  readable(ctx, o, !!o.json?.order_id);
  const order = newOrder({ order_id: o.json.order_id, session_id: sid, amount });
  remember(journal, order);
  await work(ctx, order);
}

/** An idle order with something left to do, or null. */
function pickOpen(ctx) {
  const open = ctx.journal.open;
  for (let i = 0; i < 4 && open.length; i++) {
    const o = open[Math.floor(ctx.rng() * open.length)];
    if (!o.busy && !o.doubt) return o;
  }
  return null;
}

/** Reads a remembered order and its session back (the soak's read-only phase). */
async function readBack(ctx) {
  const ids = ctx.readIds ??= [...ctx.journal.orders.keys()];
  if (!ids.length) return;
  const o = ctx.journal.orders.get(ids[Math.floor(ctx.rng() * ids.length)]);
  const r = await call(ctx, 'GET', `${OM}/${o.order_id}`);
  if (r.status !== 200) unexpected(ctx, r, 'read order');
  const s = await call(ctx, 'GET', `/payments/v1/sessions/${o.session_id}`);
  if (s.status !== 200) unexpected(ctx, s, 'read session');
}

/**
 * One flow: usually a new checkout, sometimes (`revisitRate`, default 0.3) more captures and
 * refunds on an earlier order; in the soak, sometimes (`listRate`) a page of the order list,
 * and with `readOnly` only reads of remembered orders and their sessions.
 */
export async function flow(ctx) {
  if (ctx.listRate && ctx.rng() < ctx.listRate) {
    const r = await call(ctx, 'GET', '/kasse/v1/orders?limit=20');
    if (r.status !== 200) unexpected(ctx, r, 'list orders');
    return;
  }
  if (ctx.readOnly) {
    await readBack(ctx);
    return;
  }
  const again = ctx.rng() < (ctx.revisitRate ?? 0.3) ? pickOpen(ctx) : null;
  if (again) await work(ctx, again);
  else await checkout(ctx);
}

/**
 * Runs flows until ctx.stopping; returns when a request was cut off (InFlight) or when asked
 * to stop. Unexpected replies are recorded in the journal and the next flow starts.
 */
export async function worker(ctx) {
  while (!ctx.stopping) {
    try {
      await flow(ctx);
    } catch (e) {
      if (e instanceof InFlight) return;
      if (!(e instanceof Unexpected)) throw e;
    }
  }
}
