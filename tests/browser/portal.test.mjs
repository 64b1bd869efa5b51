// Browser tests: the merchant portal (web/portal/, served at /portal/; docs/portal.md) driven in
// Debian's chromium against the real Kasse binary. The data is made through the merchant API
// with HTTP Basic (the harness helpers); the portal reads and changes it through /portal/api
// behind its sign-in cookie and CSRF header.
//
// Kasse listens on 127.0.0.1 with public URL http://localhost:PORT; the portal is opened there.
// Screenshots: tests/browser/artifacts/portal-<test>/. axe-core (node_modules/axe-core, test
// tooling only: it is injected into the page, never served) must find no serious or critical
// violation on any view, at 360 px and at 1280 px.
//
// Run: make build/kasse-debug && KASSE_BIN=build/kasse-debug node --test --test-concurrency=1 tests/browser/portal.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { startKasse, MERCHANTS, assertJsonOk, sleep } from '../api/harness.mjs';
import { placeOrder, omCart, seAddress, hppClient, SE_EXAMPLE } from '../api/fixtures.mjs';
import { startReceiver } from '../api/receiver.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const T = { timeout: 90000 };
const A = MERCHANTS.a;
const OM = '/ordermanagement/v1/orders';

let kasse;
let rx;
let browser;
let base;           // the portal's origin (Kasse's public URL)
const ref = `portal-${crypto.randomBytes(4).toString('hex')}`;
let orderA;         // merchant a's order (SEK 85.00) with merchant_reference1 = ref, for capture/refund
let orderFull;      // merchant a's order with a capture and a refund (for the layout views)
let orderB;         // merchant b's order

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} missing: apt-get install -y chromium`);
  kasse = await startKasse({ contract: false, testClock: true, merchants: [MERCHANTS.a, MERCHANTS.b] });
  base = kasse.publicUrl;
  rx = await startReceiver();
  orderA = await placeOrder(kasse, { body: omCart(8500), order: { merchant_reference1: ref, merchant_reference2: 'second-ref' },
    authorize: { billing_address: seAddress(), shipping_address: seAddress({ street_address: 'Karlaplan 3', postal_code: '11460' }) } });
  orderFull = await placeOrder(kasse, { body: omCart(12000), order: { merchant_reference1: `${ref}-full` } });
  const cap = await kasse.post(`${OM}/${orderFull.order_id}/captures`, { captured_amount: 7000 });
  assert.equal(cap.status, 201, cap.text);
  const rf = await kasse.post(`${OM}/${orderFull.order_id}/refunds`, { refunded_amount: 2500 });
  assert.equal(rf.status, 201, rf.text);
  // More than one page of orders (20 a page).
  for (let i = 0; i < 21; i++) await placeOrder(kasse, { body: omCart(1000 + 5 * i), order: { merchant_reference1: `bulk-${i}` } });
  orderB = await placeOrder(kasse, { body: omCart(5000), auth: 'b' });
  // An HPP session with a message (for the HPP and messages views).
  const hpp = hppClient(kasse);
  const hs = await hpp.createOk();
  assert.equal((await hpp.distribute(hs.session_id, { method: 'sms', contact_information: { phone: '07000212345', phone_country: 'SE' } })).status, 201);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  if (rx) await rx.close();
  if (kasse) await kasse.stopClean();
});

// ---------- helpers ----------

/**
 * A fresh browser context (own cookies) on the portal. problems: page errors, console errors
 * (a CSP violation among them) and any request outside Kasse. `csp: false` lets the test inject
 * axe-core (the page's CSP would refuse an injected script).
 */
async function portal(t, { viewport = { width: 1280, height: 800 }, csp = true, dirName } = {}) {
  const context = await browser.newContext({ viewport, bypassCSP: !csp });
  const page = await context.newPage();
  const problems = [];
  const requests = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('request', (r) => {
    requests.push(r);
    if (!r.url().startsWith(base + '/') && !r.url().startsWith('data:')) problems.push(`outside Kasse: ${r.method()} ${r.url()}`);
  });
  const dir = path.join(ARTIFACTS, dirName ?? `portal-${t.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().replace(/^-|-$/g, '')}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  const c = {
    context, page, problems, requests, dir,
    async shot(step) {
      n += 1;
      await page.screenshot({ path: path.join(dir, `${String(n).padStart(2, '0')}-${step}.png`), fullPage: true });
    },
    h1: () => page.locator('h1'),
    async go(hash) {
      await page.evaluate((h) => { location.hash = h; }, hash);
    },
    /** Waits until the view's h1 reads `name` (string or RegExp) and has focus. */
    async view(name) {
      const h1 = page.getByRole('heading', { level: 1, name });
      await h1.waitFor();
      await page.locator('#view:not([aria-busy])').waitFor({ state: 'attached' });
      await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'title', null, { timeout: 10000 })
        .catch(async (e) => {
          const where = await page.evaluate(() => `${document.activeElement?.outerHTML.slice(0, 120)} ${location.hash}`);
          throw new Error(`focus is not on the h1 "${await page.locator('h1').innerText()}": ${where}\n${e.message}`);
        });
      assert.equal(await page.locator('h1').count(), 1, 'one h1');
    },
    async signIn(user = A.user, secret = A.secret) {
      await page.getByLabel('Username').fill(user);
      await page.getByLabel('Secret').fill(secret);
      await page.getByRole('button', { name: 'Sign in' }).click();
    },
    async close() {
      await context.close();
    },
    noProblems() { assert.deepEqual(problems, [], 'no page errors, CSP violations or requests outside Kasse'); },
  };
  return c;
}

async function openSignedIn(t, opts = {}, hash = '#/orders') {
  const c = await portal(t, opts);
  await c.page.goto(`${base}/portal/${hash}`);
  await c.view('Sign in');
  await c.signIn();
  return c;
}

/** Text with the no-break spaces Intl.NumberFormat puts in amounts ("SEK\u00a085.00") as plain spaces. */
const plain = (s) => String(s ?? '').replace(/[\u00a0\u202f]/g, ' ');
const text = async (locator) => plain(await locator.innerText());
const attr = async (locator, name) => plain(await locator.getAttribute(name));

/** Bar values (minor units) by bar name: captured, refunded, remaining. */
async function barValues(page) {
  return page.$$eval('#order-bars [data-bar]', (rows) => Object.fromEntries(rows.map((r) => [r.dataset.bar, Number(r.dataset.value)])));
}
/** Timeline markers by kind. */
async function markers(page) {
  return page.$$eval('svg.timeline [data-kind]', (gs) => gs.reduce((acc, g) => {
    acc[g.dataset.kind] = (acc[g.dataset.kind] ?? 0) + 1;
    return acc;
  }, {}));
}

async function axe(c, label) {
  if (!(await c.page.evaluate(() => typeof window.axe === 'object'))) await c.page.addScriptTag({ path: AXE });
  const violations = await c.page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  fs.writeFileSync(path.join(c.dir, `axe-${label}.json`), JSON.stringify(violations, null, 2));
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({ view: label, ...v }));
}

async function apiOrder(id, auth = 'a') {
  return assertJsonOk(await kasse.get(`${OM}/${id}`, { auth }));
}

// ---------- tests ----------

test('sign-in: the form on load; a wrong secret (401) and too many failures (429) are refused in words; the CSRF token is kept in page memory only', T, async (t) => {
  const c = await portal(t);
  await c.page.goto(`${base}/portal/`);
  await c.view('Sign in');
  assert.equal(await c.page.locator('#nav').isHidden(), true, 'no nav before sign-in');
  await c.shot('sign-in');
  await c.signIn(A.user, 'not-the-secret');
  await c.page.locator('#alert', { hasText: 'Wrong username or secret' }).waitFor();
  assert.equal(await c.page.getByLabel('Secret').inputValue(), '', 'the secret field is emptied');
  await c.shot('wrong-secret');
  // More than 5 failures for one username: 429, Kasse's words shown (merchant b is not used in
  // the portal elsewhere).
  for (let i = 0; i < 6; i++) {
    const answered = c.page.waitForResponse((r) => r.url().endsWith('/portal/api/session') && r.request().method() === 'POST');
    await c.signIn(MERCHANTS.b.user, `wrong-${i}`);
    await answered;
    await c.page.getByRole('button', { name: 'Sign in' }).and(c.page.locator(':enabled')).waitFor();
  }
  await c.page.locator('#alert', { hasText: 'Too many failed sign-ins' }).waitFor();
  await c.shot('too-many');
  await c.signIn();
  await c.view('Orders');
  assert.match(c.page.url(), /#\/orders$/);
  assert.match(await c.page.locator('#who').innerText(), new RegExp(A.user));
  assert.equal(await c.page.locator('#nav a[aria-current="page"]').innerText(), 'Orders');
  await c.shot('orders');
  // Nothing of the sign-in in storage the page could read: the cookie is HttpOnly, the token in memory.
  const stored = await c.page.evaluate(() => ({ ls: localStorage.length, ss: sessionStorage.length, cookie: document.cookie }));
  assert.deepEqual(stored, { ls: 0, ss: 0, cookie: '' });
  const cookies = await c.context.cookies(base);
  const pc = cookies.find((x) => x.name === 'kasse_portal');
  assert.ok(pc, 'kasse_portal cookie set');
  assert.equal(pc.httpOnly, true);
  assert.equal(pc.sameSite, 'Strict');
  // A reload keeps the sign-in (GET /portal/api/session gives the token back).
  await c.page.reload();
  await c.view('Orders');
  c.noProblems();
  await c.close();
});

test('orders: 20 a page with "Showing a–b of total", next and previous pages; a reference finds its order', T, async (t) => {
  const c = await openSignedIn(t);
  await c.view('Orders');
  const total = assertJsonOk(await kasse.get('/kasse/v1/orders?limit=1')).total;
  assert.ok(total > 20, `more than a page of orders (${total})`);
  assert.equal(await c.page.locator('#orders-count').innerText(), `Showing 1–20 of ${total}`);
  assert.equal(await c.page.locator('table.data tbody tr').count(), 20);
  await c.page.getByRole('link', { name: 'Next »' }).click();
  await c.view('Orders');
  await c.page.locator('#orders-count', { hasText: `Showing 21–${Math.min(40, total)} of ${total}` }).waitFor();
  await c.shot('page-2');
  await c.page.getByRole('link', { name: '« Previous' }).click();
  await c.page.locator('#orders-count', { hasText: `Showing 1–20 of ${total}` }).waitFor();
  // Server-side paging only: every list request asked for one page.
  const lists = c.requests.filter((r) => r.url().includes('/portal/api/kasse/v1/orders'));
  assert.ok(lists.length >= 3);
  for (const r of lists) assert.equal(new URL(r.url()).searchParams.get('limit'), '20', r.url());

  // Status filter: nothing of a's is CANCELLED yet.
  await c.page.getByLabel('Status').selectOption('CAPTURED');
  await c.page.getByRole('button', { name: 'Search' }).click();
  await c.page.locator('#orders-count', { hasText: /^No orders found\.$/ }).waitFor();
  assert.equal(new URL(c.requests.at(-1).url()).searchParams.get('status'), 'CAPTURED');
  await c.page.getByLabel('Status').selectOption('');

  // The reference (exact match) → one order; its link opens it.
  await c.page.getByLabel('Order id or merchant reference').fill(ref);
  await c.page.getByRole('button', { name: 'Search' }).click();
  await c.view(`Orders with reference ${ref}`);
  assert.equal(await c.page.locator('#orders-count').innerText(), 'Showing 1–1 of 1');
  await c.shot('by-reference');
  await c.page.getByRole('link', { name: orderA.order_id }).click();
  await c.view(`Order ${ref}`);
  assert.match(await c.page.locator('.order-facts').innerText(), /second-ref/);

  // An order id typed in the search box opens that order.
  await c.go('#/orders');
  await c.view('Orders');
  await c.page.getByLabel('Order id or merchant reference').fill(orderFull.order_id);
  await c.page.getByRole('button', { name: 'Search' }).click();
  await c.view(`Order ${ref}-full`);

  // Date range: created today (Kasse's clock) → all; from tomorrow → none.
  const now = new Date(assertJsonOk(await kasse.get('/kasse/v1/clock')).now);
  const day = (d) => d.toISOString().slice(0, 10);
  await c.go('#/orders');
  await c.view('Orders');
  await c.page.getByLabel('Created from').fill(day(now));
  await c.page.getByLabel('Created to').fill(day(now));
  await c.page.getByRole('button', { name: 'Search' }).click();
  await c.page.locator('#orders-count', { hasText: `Showing 1–20 of ${total}` }).waitFor();
  const q = new URL(c.requests.at(-1).url()).searchParams;
  assert.equal(q.get('created_after'), `${day(now)}T00:00:00.000Z`);
  await c.page.getByLabel('Created from').fill(day(new Date(now.getTime() + 86400e3)));
  await c.page.getByLabel('Created to').fill('');
  await c.page.getByRole('button', { name: 'Search' }).click();
  await c.page.locator('#orders-count', { hasText: 'No orders found.' }).waitFor();
  c.noProblems();
  await c.close();
});

test('order: partial capture and refund from the portal redraw the timeline and the bars; an error names its code and request', T, async (t) => {
  const c = await openSignedIn(t, {}, `#/orders/${orderA.order_id}`);
  await c.view(`Order ${ref}`);
  assert.deepEqual(await markers(c.page), { authorized: 1, expires: 1 });
  assert.deepEqual(await barValues(c.page), { captured: 0, refunded: 0, remaining: 8500 });
  assert.equal(await c.page.getByLabel('Amount to capture (SEK)').inputValue(), '85.00', 'full capture by default');
  const svg = c.page.locator('svg.timeline');
  assert.equal(await svg.getAttribute('role'), 'img');
  assert.match(await attr(svg, 'aria-label'), /^Order timeline: Authorized SEK 85\.00 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; Authorization of SEK 85\.00 expires at /);
  await c.shot('authorized');

  // Partial capture: 30.00 (major units) → 3000 minor units.
  await c.page.getByLabel('Amount to capture (SEK)').fill('30');
  await c.page.getByRole('button', { name: 'Capture', exact: true }).click();
  await c.page.locator('#status', { hasText: 'Captured SEK 30.00.' }).waitFor();
  assert.deepEqual(await markers(c.page), { authorized: 1, capture: 1, expires: 1 });
  assert.deepEqual(await barValues(c.page), { captured: 3000, refunded: 0, remaining: 5500 });
  assert.match(await text(c.page.locator('[data-bar="captured"]')), /SEK 30\.00 of SEK 85\.00 \(35%\)/);
  assert.equal(await c.page.locator('svg.timeline [data-kind="capture"]').getAttribute('data-amount'), '3000');
  assert.match(await attr(svg, 'aria-label'), /Captured SEK 30\.00 at /);
  assert.equal(await c.page.locator('#timeline-events li').count(), 3);
  let o = await apiOrder(orderA.order_id);
  assert.equal(o.status, 'PART_CAPTURED');
  assert.equal(o.captured_amount, 3000);
  await c.shot('captured');

  // Refund 10.50, confirmed in the dialog (a "No" first changes nothing).
  await c.page.getByLabel('Amount to refund (SEK)').fill('10,50');
  await c.page.getByRole('button', { name: 'Refund', exact: true }).click();
  const dialog = c.page.getByRole('dialog');
  await dialog.waitFor();
  assert.match(await text(dialog), /Refund SEK 10\.50 to the customer\?/);
  await c.shot('refund-confirm');
  await dialog.getByRole('button', { name: 'No, go back' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal((await apiOrder(orderA.order_id)).refunded_amount, 0, 'no refund without confirming');
  await c.page.getByRole('button', { name: 'Refund', exact: true }).click();
  await dialog.getByRole('button', { name: 'Yes, refund SEK 10.50' }).click();
  await c.page.locator('#status', { hasText: 'Refunded SEK 10.50.' }).waitFor();
  assert.deepEqual(await markers(c.page), { authorized: 1, capture: 1, refund: 1, expires: 1 });
  assert.deepEqual(await barValues(c.page), { captured: 3000, refunded: 1050, remaining: 5500 });
  assert.equal(await c.page.locator('svg.timeline [data-kind="refund"]').getAttribute('data-amount'), '-1050');
  assert.match(await attr(svg, 'aria-label'), /Refunded SEK 10\.50 at /);
  o = await apiOrder(orderA.order_id);
  assert.equal(o.refunded_amount, 1050);
  await c.shot('refunded');

  // A second capture of the rest: two capture markers.
  await c.page.getByLabel('Amount to capture (SEK)').fill('20.00');
  await c.page.getByRole('button', { name: 'Capture', exact: true }).click();
  await c.page.locator('#status', { hasText: 'Captured SEK 20.00.' }).waitFor();
  assert.deepEqual(await markers(c.page), { authorized: 1, capture: 2, refund: 1, expires: 1 });
  assert.deepEqual(await barValues(c.page), { captured: 5000, refunded: 1050, remaining: 3500 });

  // More than remains: Kasse's error in words, with its code and correlation id (→ the request log).
  await c.page.getByLabel('Amount to capture (SEK)').fill('999');
  await c.page.getByRole('button', { name: 'Capture', exact: true }).click();
  const alert = c.page.locator('#alert');
  await alert.locator('.err-cid a').waitFor();
  assert.match(await text(alert), /Capture failed \(HTTP 403, [A-Z_]+\)/);
  assert.equal((await apiOrder(orderA.order_id)).captured_amount, 5000, 'nothing captured');
  await c.shot('capture-error');
  const cid = await alert.locator('.err-cid a').innerText();
  await alert.locator('.err-cid a').click();
  await c.view(/^Request POST /);
  assert.match(await c.page.locator('.log-facts').innerText(), new RegExp(`${orderA.order_id}/captures`));
  assert.match(await c.page.locator('.log-facts').innerText(), /403/);
  assert.match(await c.page.locator('#log-request-body').innerText(), /"captured_amount": 99900/);
  assert.match(await c.page.locator('#log-response-body').innerText(), new RegExp(`"correlation_id": "${cid}"`));

  // Release the remaining authorization (confirmed): the timeline ends with "Released".
  await c.go(`#/orders/${orderA.order_id}`);
  await c.view(`Order ${ref}`);
  await c.page.getByRole('button', { name: 'Release remaining authorization' }).click();
  await c.page.getByRole('dialog').getByRole('button', { name: 'Yes, release' }).click();
  await c.page.locator('#status', { hasText: 'Remaining authorization released.' }).waitFor();
  assert.deepEqual(await markers(c.page), { authorized: 1, capture: 2, refund: 1, released: 1 });
  assert.deepEqual(await barValues(c.page), { captured: 5000, refunded: 1050, remaining: 0 });
  assert.equal((await apiOrder(orderA.order_id)).status, 'CAPTURED');
  await c.shot('released');
  c.noProblems();
  await c.close();
});

test('order: cancel (confirmed) and extend authorization time', T, async (t) => {
  const o = await placeOrder(kasse, { body: omCart(4000), order: { merchant_reference1: `${ref}-cancel` } });
  const c = await openSignedIn(t, {}, `#/orders/${o.order_id}`);
  await c.view(`Order ${ref}-cancel`);
  const before_ = (await apiOrder(o.order_id)).expires_at;
  await kasse.post('/kasse/v1/clock', { advance_seconds: 3600 });
  await c.page.getByRole('button', { name: 'Extend authorization time' }).click();
  await c.page.locator('#status', { hasText: 'Authorization time extended.' }).waitFor();
  assert.notEqual((await apiOrder(o.order_id)).expires_at, before_, 'expires_at moved');
  await c.page.getByRole('button', { name: 'Cancel order' }).click();
  await c.page.getByRole('dialog').getByRole('button', { name: 'Yes, cancel order' }).click();
  await c.page.locator('#status', { hasText: 'Order cancelled.' }).waitFor();
  assert.deepEqual(await markers(c.page), { authorized: 1, authorization_extended: 1, cancelled: 1 });
  assert.deepEqual(await barValues(c.page), { captured: 0, refunded: 0, remaining: 0 });
  assert.equal((await apiOrder(o.order_id)).status, 'CANCELLED');
  await c.shot('cancelled');
  c.noProblems();
  await c.close();
});

test('callbacks: an authorization callback with both its attempts (500, then 200); "Send again" delivers it once more', T, async (t) => {
  const p = rx.path({ fail: 1 });
  const url = rx.url(p);
  const s = assertJsonOk(await kasse.post('/payments/v1/sessions', { ...omCart(2500), merchant_urls: { authorization: url } }));
  const a = await kasse.post(`/kasse/v1/sessions/${s.session_id}/authorize`, {});
  assert.equal(a.status, 200, a.text);
  await rx.waitFor(p, 2, 15000);
  // Until Kasse has recorded the second attempt.
  for (let i = 0; i < 100; i++) {
    const l = assertJsonOk(await kasse.get(`/kasse/v1/callbacks?session_id=${s.session_id}`));
    if (l.callbacks.some((e) => e.url === url && e.status === 'delivered')) break;
    await sleep(100);
  }
  const c = await openSignedIn(t, {}, '#/callbacks');
  await c.view('Callbacks');
  const ev = c.page.locator('li.event', { hasText: url });
  await ev.first().waitFor();
  assert.equal(await ev.count(), 1);
  assert.match(await ev.locator('h2').innerText(), /authorization/);
  assert.match(await ev.locator('h2 .badge').innerText(), /delivered/);
  const rows = ev.locator('tbody tr');
  assert.equal(await rows.count(), 2, 'two attempts');
  const cells = async (i) => rows.nth(i).locator('td').allInnerTexts();
  const [first, second] = [await cells(0), await cells(1)];
  assert.equal(first[0], '1');
  assert.match(first[1], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  assert.equal(first[2], '500');
  assert.match(first[3], /^\d+$/, 'latency in ms');
  assert.equal(second[2], '200');
  // the start of each answer's body (tests/api/receiver.mjs answers 'fail', then 'ok')
  assert.deepEqual([first[4], second[4]], ['HTTP 500 — fail', 'ok']);
  await c.shot('callbacks');

  await ev.getByRole('button', { name: /^Send again: event \d+$/ }).click();
  await c.page.locator('#status', { hasText: /will be sent again/ }).waitFor();
  await rx.waitFor(p, 3, 15000);
  await c.page.locator('li.event', { hasText: url }).nth(1).waitFor();
  assert.equal(await c.page.locator('li.event', { hasText: url }).count(), 2, 'the resent event is listed');
  await c.shot('sent-again');

  // The session's page links to its callbacks (oldest first, by session_id).
  await c.go(`#/sessions/${s.session_id}`);
  await c.view(`Payment session ${s.session_id}`);
  assert.match(await c.page.locator('#sec-authorization').locator('..').innerText(), /klarna|pay_|approved|AUTHORIZED|State/i);
  await c.page.getByRole('link', { name: 'Callbacks for this session' }).click();
  await c.view('Callbacks for session');
  assert.ok(await c.page.locator('li.event', { hasText: url }).count() >= 1);
  c.noProblems();
  await c.close();
});

test('request log: a merchant API request found by its correlation id, bodies pretty-printed', T, async (t) => {
  const res = await kasse.post('/payments/v1/sessions', SE_EXAMPLE);
  assert.equal(res.status, 200, res.text);
  const cid = res.headers['klarna-correlation-id'];
  assert.ok(cid);
  const c = await openSignedIn(t, {}, '#/logs');
  await c.view('Request log');
  // In the latest requests, newest first.
  await c.page.getByRole('link', { name: cid }).waitFor();
  await c.page.getByLabel('Correlation id').fill(cid);
  await c.page.getByRole('button', { name: 'Look up' }).click();
  await c.view('Request POST /payments/v1/sessions');
  const facts = await c.page.locator('.log-facts').innerText();
  assert.match(facts, new RegExp(cid));
  assert.match(facts, /200/);
  assert.match(await c.page.locator('#log-request-body').innerText(), /\n {2}"purchase_country": "SE",\n/);
  assert.match(await c.page.locator('#log-response-body').innerText(), /\n {2}"session_id": "/);
  await c.shot('request');
  // An unknown id: "not found", the form still there.
  await c.go(`#/logs/${crypto.randomUUID()}`);
  await c.view('Request not found');
  assert.equal(await c.page.getByLabel('Correlation id').count(), 1);
  c.noProblems();
  await c.close();
});

test('isolation: another merchant\'s order id in the URL shows "not found"', T, async (t) => {
  const c = await openSignedIn(t, {}, `#/orders/${orderB.order_id}`);
  await c.view('Order not found');
  assert.match(await c.page.locator('.notfound').innerText(), /not found/);
  assert.equal(await c.page.locator('svg.timeline').count(), 0);
  assert.ok(!(await text(c.page.locator('main'))).includes('SEK 50.00'), 'nothing of B\'s order shown');
  await c.shot('not-found');
  await c.close();
});

test('CSRF: a POST without the token (same cookie) is refused with 403; a cross-site POST changes nothing', T, async (t) => {
  const o = await placeOrder(kasse, { body: omCart(3000) });
  const c = await openSignedIn(t, {}, '#/orders');
  await c.view('Orders');
  const url = `${base}/portal/api${OM}/${o.order_id}/captures`;
  const noToken = await c.page.request.post(url, { data: { captured_amount: 100 }, headers: { 'content-type': 'application/json' } });
  assert.equal(noToken.status(), 403, await noToken.text());
  const env = await noToken.json();
  assert.equal(env.error_code, 'FORBIDDEN');
  assert.deepEqual(env.error_messages, ['Missing or wrong CSRF token']);
  const wrong = await c.page.request.post(url, { data: { captured_amount: 100 },
    headers: { 'content-type': 'application/json', 'x-kasse-csrf': 'not-the-token' } });
  assert.equal(wrong.status(), 403);
  // The same request from a page on another origin (the receiver's), with credentials.
  const other = await c.context.newPage();
  await other.goto(rx.url('/elsewhere'));
  await other.evaluate(async (u) => {
    try {
      await fetch(u, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'Content-Type': 'text/plain' },
        body: '{"captured_amount":100}' });
    } catch { /* refused */ }
  }, url);
  await other.close();
  const after_ = await apiOrder(o.order_id);
  assert.equal(after_.captured_amount, 0);
  assert.equal(after_.status, 'AUTHORIZED');
  // The portal's own capture (with the token) works on the same order.
  await c.go(`#/orders/${o.order_id}`);
  await c.page.getByLabel('Amount to capture (SEK)').fill('1');
  await c.page.getByRole('button', { name: 'Capture', exact: true }).click();
  await c.page.locator('#status', { hasText: 'Captured SEK 1.00.' }).waitFor();
  const sent = c.requests.filter((r) => r.method() === 'POST' && r.url().endsWith('/captures'));
  assert.equal(sent.length, 1);
  assert.ok(sent[0].headers()['x-kasse-csrf'], 'X-Kasse-CSRF sent');
  assert.equal(sent[0].headers()['content-type'], 'application/json');
  assert.equal((await apiOrder(o.order_id)).captured_amount, 100);
  await c.close();
});

test('test clock: Kasse\'s time shown and advanced by an amount of a unit', T, async (t) => {
  const c = await openSignedIn(t, {}, '#/clock');
  await c.view('Test clock');
  assert.equal(await c.page.locator('#nav-clock').isVisible(), true, 'the nav item shows with --test-clock');
  const before_ = new Date(assertJsonOk(await kasse.get('/kasse/v1/clock')).now);
  await c.page.getByLabel('Advance by').fill('2');
  await c.page.getByLabel('Unit').selectOption({ label: 'hours' });
  await c.page.getByRole('button', { name: 'Advance' }).click();
  await c.page.locator('#status', { hasText: 'The clock moved forward 2 hours.' }).waitFor();
  const now = new Date(assertJsonOk(await kasse.get('/kasse/v1/clock')).now);
  assert.ok(now - before_ >= 2 * 3600e3, `clock advanced: ${before_.toISOString()} → ${now.toISOString()}`);
  const shown = await c.page.locator('#clock-now time').getAttribute('datetime');
  assert.ok(Math.abs(new Date(shown) - now) < 60e3, `shown ${shown}, Kasse ${now.toISOString()}`);
  await c.shot('advanced');
  c.noProblems();
  await c.close();
});

test('lists paged by next_before: payment sessions (20 a page) and the request log (25 a page)', T, async (t) => {
  const c = await openSignedIn(t, {}, '#/sessions');
  await c.view('Payment sessions');
  const first = assertJsonOk(await kasse.get('/kasse/v1/sessions?limit=20'));
  assert.ok(first.next_before, 'more than one page of sessions');
  const rows = c.page.locator('table.data tbody tr');
  assert.equal(await rows.count(), 20);
  assert.equal(await rows.first().locator('a').innerText(), first.sessions[0].session_id, 'newest first');
  await c.page.getByRole('link', { name: 'Older »' }).click();
  await c.view('Payment sessions');
  const second = assertJsonOk(await kasse.get(`/kasse/v1/sessions?limit=20&before=${first.next_before}`));
  assert.equal(await rows.count(), second.sessions.length);
  assert.equal(await rows.first().locator('a').innerText(), second.sessions[0].session_id);
  assert.equal(new URL(c.requests.filter((r) => r.url().includes('/kasse/v1/sessions')).at(-1).url()).searchParams.get('before'),
    first.next_before);
  await c.shot('sessions-older');
  await c.page.getByRole('link', { name: '« Newest' }).click();
  await c.view('Payment sessions');
  assert.equal(await rows.first().locator('a').innerText(), first.sessions[0].session_id);
  // A session's page: its cart and its authorization.
  await rows.first().locator('a').click();
  await c.view(`Payment session ${first.sessions[0].session_id}`);
  assert.equal(await c.page.getByRole('table', { name: 'Cart lines' }).count(), 1);

  await c.go('#/logs');
  await c.view('Request log');
  const logs = assertJsonOk(await kasse.get('/kasse/v1/logs?limit=25'));
  assert.ok(logs.next_before, 'more than one page of requests');
  assert.equal(await rows.count(), 25);
  await c.page.getByRole('link', { name: 'Older »' }).click();
  await c.view('Request log');
  assert.ok(await rows.count() >= 1);
  for (const r of c.requests.filter((x) => /\/kasse\/v1\/(sessions|logs)\?/.test(x.url()))) {
    assert.ok(['20', '25'].includes(new URL(r.url()).searchParams.get('limit')), r.url());
  }
  c.noProblems();
  await c.close();
});

test('without --test-clock: no test clock in the nav, #/clock shows the orders', T, async (t) => {
  const plainKasse = await startKasse({ contract: false, merchants: [MERCHANTS.a] });
  const saved = base;
  base = plainKasse.publicUrl;
  try {
    const c = await openSignedIn(t, {}, '#/clock');
    await c.view('Orders');
    assert.equal(await c.page.locator('#nav-clock').isHidden(), true);
    assert.match(c.page.url(), /#\/orders$/);
    c.noProblems();
    await c.close();
  } finally {
    base = saved;
    await plainKasse.stopClean();
  }
});

for (const width of [360, 1280]) {
  test(`layout at ${width} px: every view, screenshots, keyboard navigation, no serious or critical axe-core finding`, T, async (t) => {
    const c = await portal(t, { viewport: { width, height: width === 360 ? 740 : 800 }, csp: false, dirName: `portal-${width}` });
    await c.page.goto(`${base}/portal/`);
    await c.view('Sign in');
    const found = [];
    await c.shot('sign-in');
    found.push(...await axe(c, 'sign-in'));
    await c.signIn();
    await c.view('Orders');

    const nav = c.page.locator('#nav');
    const toggle = c.page.getByRole('button', { name: 'Menu' });
    if (width === 360) {
      assert.equal(await nav.isVisible(), false, 'the nav is folded at 360 px');
      assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    } else {
      assert.equal(await nav.isVisible(), true);
      assert.equal(await toggle.isVisible(), false, 'no menu button at 1280 px');
    }
    const sessions = assertJsonOk(await kasse.get('/kasse/v1/sessions?limit=1')).sessions;
    const hppList = assertJsonOk(await kasse.get('/kasse/v1/hpp-sessions?limit=1')).hpp_sessions;
    const logs = assertJsonOk(await kasse.get('/kasse/v1/logs?limit=1')).requests;
    const views = [
      ['orders', '#/orders', 'Orders'],
      ['order', `#/orders/${orderFull.order_id}`, `Order ${ref}-full`],
      ['sessions', '#/sessions', 'Payment sessions'],
      ['session', `#/sessions/${sessions[0].session_id}`, `Payment session ${sessions[0].session_id}`],
      ['hpp', '#/hpp', 'Hosted payment pages'],
      ['hpp-session', `#/hpp/${hppList[0].session_id}`, `Hosted payment page ${hppList[0].session_id}`],
      ['callbacks', '#/callbacks', 'Callbacks'],
      ['messages', '#/messages', 'Messages'],
      ['logs', '#/logs', 'Request log'],
      ['log', `#/logs/${logs[0].correlation_id}`, /^Request [A-Z]+ \//],
      ['clock', '#/clock', 'Test clock'],
      ['not-found', `#/orders/${orderB.order_id}`, 'Order not found'],
    ];
    for (const [name, hash, title] of views) {
      const navKey = hash.split('/')[1].split('?')[0];
      const link = c.page.locator(`#nav a[data-nav="${navKey}"]`);
      if (!hash.slice(2).includes('/')) {
        // Through the nav, with the keyboard (the menu first at 360 px).
        if (width === 360) {
          await toggle.focus();
          await c.page.keyboard.press('Enter');
          assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
          await link.waitFor();
        }
        await link.focus();
        await c.page.keyboard.press('Enter');
      } else {
        await c.go(hash);
      }
      await c.view(title);
      assert.equal(await c.page.locator('#nav a[aria-current="page"]').getAttribute('data-nav'), navKey);
      if (width === 360) assert.equal(await nav.isVisible(), false, 'the menu folds after navigating');
      const overflow = await c.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name}: the page scrolls sideways by ${overflow} px (only tables and the timeline may, inside their wrappers)`);
      await c.shot(name);
      found.push(...await axe(c, name));
    }
    // The confirmation dialog.
    await c.go(`#/orders/${orderFull.order_id}`);
    await c.view(`Order ${ref}-full`);
    await c.page.getByRole('button', { name: 'Refund', exact: true }).click();
    await c.page.getByRole('dialog').waitFor();
    await c.shot('dialog');
    found.push(...await axe(c, 'dialog'));
    await c.page.keyboard.press('Escape');
    await c.page.getByRole('dialog').waitFor({ state: 'hidden' });
    if (width === 360) {
      await toggle.click();
      await c.shot('menu-open');
      found.push(...await axe(c, 'menu-open'));
    }
    assert.deepEqual(found, [], 'no serious or critical axe-core violations');
    c.noProblems();
    await c.close();
  });
}

test('sign-out: back to the sign-in form; the session is gone on the server; another call shows the form', T, async (t) => {
  const c = await openSignedIn(t, {}, '#/orders');
  await c.view('Orders');
  await c.page.getByRole('button', { name: 'Sign out' }).click();
  await c.view('Sign in');
  assert.match(await c.page.locator('#status').innerText(), /signed out/i);
  assert.equal(await c.page.locator('#nav').isHidden(), true);
  const del = c.requests.find((r) => r.method() === 'DELETE' && r.url().endsWith('/portal/api/session'));
  assert.ok(del && del.headers()['x-kasse-csrf'], 'DELETE session with the CSRF header');
  const s = await c.page.request.get(`${base}/portal/api/session`);
  assert.equal(s.status(), 401);
  assert.equal(s.headers()['www-authenticate'], undefined, 'no Basic dialog');
  await c.page.reload();
  await c.view('Sign in');
  await c.shot('signed-out');

  // Signed in in one tab, signed out from another: the first tab's next call shows the form.
  await c.signIn();
  await c.view('Orders');
  const other = await c.context.newPage();
  await other.goto(`${base}/portal/#/orders`);
  await other.getByRole('heading', { level: 1, name: 'Orders' }).waitFor();
  await other.getByRole('button', { name: 'Sign out' }).click();
  await other.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await c.go('#/sessions');
  await c.view('Sign in');
  assert.match(await c.page.locator('#status').innerText(), /Sign in again/);
  // Signing in again returns to the view asked for.
  await c.signIn();
  await c.view('Payment sessions');
  c.noProblems();
  await c.close();
});
