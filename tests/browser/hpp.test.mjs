// Browser tests: Kasse's hosted payment page (web/hpp/v1/, served at /hpp/payments/{page_id})
// driven in Debian's chromium, against the real Kasse binary and a merchant (hpp-merchant.mjs)
// whose backend creates the KP and HPP sessions and whose success/failure/back/cancel pages and
// status_update receiver live on another origin (http://127.0.0.1:MPORT; Kasse's public URL is
// http://localhost:KPORT).
//
// Every test is one scenario with its own sessions. Screenshots of every step go to
// tests/browser/artifacts/<test>/; the QR code PNG too.
//
// Run: make build/kasse-debug && KASSE_BIN=build/kasse-debug node --test --test-concurrency=1 tests/browser/hpp.test.mjs
// Needs /usr/bin/chromium and zbarimg (zbar-tools); never downloads a browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { startKasse, MERCHANTS, UUID_RE } from '../api/harness.mjs';
import { cartFor, billingFor } from './merchant.mjs';
import { startHppMerchant } from './hpp-merchant.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const T = { timeout: 90000 };

const TEXT = {
  completed: 'Payment complete. You can close this page.',
  cancelled: 'Payment cancelled.',
  unavailable: 'This payment link is no longer available.',
  declined: 'Your payment was declined.',
  fallback: 'That payment method was declined. You can choose another one.',
  codeFailed: 'The code wasn\u2019t accepted. Check it and try again.',
};
const PHONE = '+46701740615';

let kasse;
let shop;
let browser;
let profileDir;

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} missing: apt-get install -y chromium`);
  kasse = await startKasse({ contract: false, merchants: [MERCHANTS.a, MERCHANTS.c], testClock: true });
  shop = await startHppMerchant({ kasseUrl: kasse.base, publicUrl: kasse.publicUrl, merchant: MERCHANTS.a });
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasse-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  if (shop) await shop.close();
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  if (kasse) await kasse.stopClean();
});

// ---------- helpers ----------

function artifactsDir(t) {
  const dir = path.join(ARTIFACTS, t.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 80));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Kasse's public URL → the address it listens on (Node's fetch may resolve localhost to ::1). */
function direct(url) {
  return url.replace(kasse.publicUrl, kasse.base);
}

/**
 * A browser tab for one scenario. Records page errors, failed requests and responses >= 400
 * (except `allow`: [{status, path: RegExp}]), every request to an origin other than Kasse's or
 * the merchant's, and the bodies of the page's shopper API calls.
 */
async function tab(t, { viewport, allow = [], allowFailed = null } = {}) {
  const page = await browser.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const problems = [];
  const calls = [];   // { method, path, status, body (request), json (response) }
  const kasseOrigin = new URL(kasse.publicUrl).origin;
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  const requests = [];
  page.on('request', (r) => {
    const u = r.url();
    requests.push(u);
    if (u.startsWith('data:')) return;
    const origin = new URL(u).origin;
    if (origin !== kasseOrigin && origin !== shop.url) problems.push(`outside request: ${r.method()} ${u}`);
  });
  page.on('requestfailed', (r) => {
    // A navigation away aborts what the old page still had in flight.
    if (r.failure()?.errorText === 'net::ERR_ABORTED') return;
    if (allowFailed && allowFailed.test(new URL(r.url()).pathname)) return;
    problems.push(`failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (r.status() >= 400 && !allow.some((a) => a.status === r.status() && a.path.test(u.pathname))) {
      problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
    }
  });
  // The shopper API calls pass through here so their answers are kept even when the page
  // navigates away right after (a response's body is gone with its document).
  await page.route((u) => u.pathname.startsWith('/hpp/shopper/v1/'), async (route) => {
    const req = route.request();
    const call = { method: req.method(), path: new URL(req.url()).pathname, status: null, body: null, json: null };
    try { call.body = req.postDataJSON(); } catch { /* no body */ }
    calls.push(call);
    const res = await route.fetch();
    call.status = res.status();
    const text = await res.text();
    try { call.json = text ? JSON.parse(text) : null; } catch { call.json = { raw: text }; }
    await route.fulfill({ response: res, body: text });
  });
  const dir = artifactsDir(t);
  let n = 0;
  return {
    page,
    problems,
    calls,
    requests,
    dir,
    async shot(step) {
      n += 1;
      // Badges and the logo are part of the picture.
      await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete), null, { timeout: 5000 })
        .catch(() => {});
      await page.screenshot({ path: path.join(dir, `${String(n).padStart(2, '0')}-${step}.png`), fullPage: true });
    },
    /** The shopper API calls to `sub` ('' = state, 'open', 'identify', 'authorize', ...). */
    callsTo(sub) {
      return calls.filter((c) => c.path.replace(/^\/hpp\/shopper\/v1\/[^/]+\/?/, '') === sub);
    },
  };
}

function noProblems(c) {
  assert.deepEqual(c.problems, [], 'no page errors, failed requests or requests outside Kasse and the merchant');
}

async function hppRead(p) {
  const r = await shop.kasse('GET', `/hpp/v1/sessions/${p.hpp.session_id}`, undefined, p.who);
  assert.equal(r.status, 200, `GET /hpp/v1/sessions/{id}: ${r.text}`);
  return r.json;
}

async function hppStatus(p) {
  return (await hppRead(p)).status;
}

/** The radios' values, in page order. */
function radioValues(c) {
  return c.page.locator('#categories input[type="radio"]').evaluateAll((els) => els.map((e) => e.value));
}

/** Waits until the page shows its steps (the payment method step). */
async function flowShown(c) {
  await c.page.locator('#step-category h2').waitFor();
  await c.page.locator('#categories input[type="radio"]').first().waitFor();
}

/** Opens the payment link and waits for the steps. */
async function openLink(c, p) {
  await c.page.goto(p.hpp.redirect_url);
  await flowShown(c);
}

/** From the payment method step to the pay button (pressed unless press is false). */
async function payFlow(c, { email = 'customer@email.se', phone = PHONE, otp = '123456', category, signup = false,
  press = true } = {}) {
  const { page } = c;
  if (category) await page.locator(`#categories input[value="${category}"]`).check();
  await c.shot('category');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Mobile phone').fill(phone);
  await c.shot('identify');
  await page.getByRole('button', { name: 'Continue' }).click();
  const code = page.getByLabel('Six-digit code');
  await code.waitFor();
  await code.fill(otp);
  await c.shot('code');
  await page.getByRole('button', { name: 'Continue' }).click();
  if (signup) {
    await page.getByLabel('Date of birth').fill('1941-03-21');
    await page.getByLabel('I accept the terms').check();
    await c.shot('signup');
    await page.getByRole('button', { name: 'Create account' }).click();
  }
  const pay = page.getByRole('button', { name: /^Buy / });
  await pay.waitFor();
  await c.shot('confirm');
  if (press) await pay.click();
  return pay;
}

/** Waits for the browser to land on the merchant's page `kind`; returns the URL's query. */
async function landedOn(c, kind) {
  await c.page.waitForURL((u) => u.origin === shop.url && u.pathname === `/${kind}`, { timeout: 20000 });
  const u = new URL(c.page.url());
  assert.equal(`${u.origin}${u.pathname}`, `${shop.url}/${kind}`);
  await c.page.getByRole('heading', { name: `Test shop: ${kind}` }).waitFor();
  await c.shot(`landed-${kind}`);
  return Object.fromEntries(u.searchParams);
}

async function finalMessage(c, text) {
  const msg = c.page.locator('#final-message');
  await msg.waitFor();
  assert.equal((await msg.textContent()).trim(), text);
  assert.equal(await c.page.locator('#flow').isVisible(), false, 'no payment steps with a final message');
  assert.equal(await c.page.getByRole('radio').count(), 0, 'no payment method to choose');
  assert.equal(await c.page.getByRole('button', { name: /^Buy / }).count(), 0, 'no pay button');
}

// ---------- scenarios ----------

test('place_order_mode NONE: pay lands on success with sid and token filled ({{order_id}} left as written); the token places the order; HPP COMPLETED with it; one callback per change (IN_PROGRESS, COMPLETED)', T, async (t) => {
  const p = await shop.createPayment();
  assert.match(p.hpp.session_id, UUID_RE);
  assert.equal(await hppStatus(p), 'WAITING');
  const c = await tab(t);
  await openLink(c, p);
  assert.equal(await hppStatus(p), 'IN_PROGRESS', 'opening the page makes it IN_PROGRESS');
  assert.deepEqual(c.callsTo('open').map((x) => x.status), [200]);
  // Opening an IN_PROGRESS page again (a reload) changes nothing: no second callback below.
  await c.page.reload();
  await flowShown(c);
  assert.deepEqual(c.callsTo('open').map((x) => [x.status, x.json.status]), [[200, 'IN_PROGRESS'], [200, 'IN_PROGRESS']]);

  await payFlow(c);
  const q = await landedOn(c, 'success');
  assert.deepEqual(Object.keys(q).sort(), ['order_id', 'sid', 'token']);
  assert.equal(q.sid, p.hpp.session_id);
  assert.match(q.token, UUID_RE);
  assert.equal(q.order_id, '{{order_id}}', 'a placeholder with no value is left as written');
  assert.deepEqual(shop.landings.at(-1).query, q, 'the merchant saw the same URL');

  const auth = c.callsTo('authorize');
  assert.equal(auth.length, 1, 'one authorize call');
  assert.deepEqual(auth[0].body, { payment_method_category: 'klarna', email: 'customer@email.se', phone: PHONE,
    otp: '123456', signup_done: false });
  assert.equal(auth[0].json.result, 'approved');
  assert.equal(auth[0].json.status, 'COMPLETED');

  const order = await shop.kasse('POST', `/payments/v1/authorizations/${q.token}/order`, cartFor(1));
  assert.equal(order.status, 200, `create order: ${order.text}`);
  assert.match(order.json.order_id, UUID_RE);

  const s = await hppRead(p);
  assert.equal(s.status, 'COMPLETED');
  assert.equal(s.session_id, p.hpp.session_id);
  assert.equal(s.authorization_token, q.token);
  assert.equal(s.order_id, undefined, 'mode NONE places no order');

  const cbs = await shop.waitForCallbacks(p.key, 2);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(shop.callbacksFor(p.key).map((x) => x.body.session.status), ['IN_PROGRESS', 'COMPLETED'],
    'one callback per status change');
  for (const cb of cbs) {
    assert.match(cb.body.event_id, UUID_RE);
    assert.equal(cb.body.session.session_id, p.hpp.session_id);
  }
  assert.notEqual(cbs[0].body.event_id, cbs[1].body.event_id);
  assert.equal(cbs[1].body.session.authorization_token, q.token);

  // The link again: the completed payment, not the steps.
  await c.page.goto(p.hpp.redirect_url);
  await finalMessage(c, TEXT.completed);
  await c.shot('link-again');
  assert.equal(await hppStatus(p), 'COMPLETED');
  noProblems(c);
});

test('PLACE_ORDER: a double-clicked pay sends one authorize; success URL carries the order_id ({{authorization_token}} left as written); the order is AUTHORIZED; HPP COMPLETED with order_id and klarna_reference', T, async (t) => {
  const p = await shop.createPayment({ options: { place_order_mode: 'PLACE_ORDER' } });
  const c = await tab(t);
  await openLink(c, p);
  const pay = await payFlow(c, { press: false });
  await pay.dblclick(); // the busy state lets one submit through
  const q = await landedOn(c, 'success');
  assert.equal(q.sid, p.hpp.session_id);
  assert.match(q.order_id, UUID_RE);
  assert.equal(q.token, '{{authorization_token}}', 'no token in place-order modes: left as written');
  assert.equal(c.callsTo('authorize').length, 1, 'a double click sends one authorize');

  const om = await shop.kasse('GET', `/ordermanagement/v1/orders/${q.order_id}`);
  assert.equal(om.status, 200, om.text);
  assert.equal(om.json.order_id, q.order_id);
  assert.equal(om.json.status, 'AUTHORIZED');
  assert.equal(om.json.order_amount, 10000);
  assert.equal(om.json.captured_amount, 0);

  const s = await hppRead(p);
  assert.equal(s.status, 'COMPLETED');
  assert.equal(s.order_id, q.order_id);
  assert.equal(typeof s.klarna_reference, 'string');
  assert.equal(s.klarna_reference, om.json.klarna_reference);
  assert.equal(s.authorization_token, undefined);
  noProblems(c);
});

test('CAPTURE_ORDER: the order is placed and fully captured (CAPTURED, captured_amount = order_amount)', T, async (t) => {
  const p = await shop.createPayment({ options: { place_order_mode: 'CAPTURE_ORDER' } });
  const c = await tab(t);
  await openLink(c, p);
  await payFlow(c);
  const q = await landedOn(c, 'success');
  assert.equal(q.sid, p.hpp.session_id);
  assert.match(q.order_id, UUID_RE);

  const om = await shop.kasse('GET', `/ordermanagement/v1/orders/${q.order_id}`);
  assert.equal(om.status, 200, om.text);
  assert.equal(om.json.status, 'CAPTURED');
  assert.equal(om.json.order_amount, 10000);
  assert.equal(om.json.captured_amount, om.json.order_amount);
  assert.equal(om.json.remaining_authorized_amount, 0);

  const s = await hppRead(p);
  assert.equal(s.status, 'COMPLETED');
  assert.equal(s.order_id, q.order_id);
  noProblems(c);
});

test('declined (+denied): the browser lands on the failure URL with sid; HPP status FAILED, no token or order', T, async (t) => {
  const p = await shop.createPayment();
  const c = await tab(t);
  await openLink(c, p);
  await payFlow(c, { email: 'customer+denied@email.se' });
  const q = await landedOn(c, 'failure');
  assert.deepEqual(q, { sid: p.hpp.session_id });
  const auth = c.callsTo('authorize');
  assert.equal(auth.length, 1);
  assert.equal(auth[0].json.result, 'declined');
  assert.equal(auth[0].json.status, 'FAILED');
  assert.equal(auth[0].json.fallback_categories, undefined);

  const s = await hppRead(p);
  assert.equal(s.status, 'FAILED');
  assert.equal(s.authorization_token, undefined);
  assert.equal(s.order_id, undefined);
  noProblems(c);
});

test('payment_fallback: a declined category leaves only the others to choose, declined_categories accumulate, and the last decline lands on failure', T, async (t) => {
  const p = await shop.createPayment({
    who: MERCHANTS.c,
    options: { payment_method_categories: ['pay_later', 'pay_over_time'], payment_fallback: true },
  });
  const c = await tab(t);
  await openLink(c, p);
  assert.deepEqual(await radioValues(c), ['pay_later', 'pay_over_time'], 'only the categories the merchant allowed');
  assert.equal(await c.page.getByRole('radio', { name: 'Pay later.' }).isChecked(), true, 'the first is preselected');
  await c.page.getByRole('radio', { name: 'Slice it.' }).waitFor();

  await payFlow(c, { email: 'customer+denied@email.se', category: 'pay_later' });
  const alert = c.page.getByRole('alert');
  await alert.filter({ hasText: TEXT.fallback }).waitFor();
  assert.equal((await alert.textContent()).trim(), TEXT.fallback);
  assert.deepEqual(await radioValues(c), ['pay_over_time'], 'only what is left');
  assert.equal(await c.page.evaluate(() => document.activeElement.value), 'pay_over_time', 'focus on the choice');
  await c.shot('fallback');
  const first = c.callsTo('authorize');
  assert.equal(first.length, 1);
  assert.equal(first[0].body.payment_method_category, 'pay_later');
  assert.equal(first[0].body.declined_categories, undefined);
  assert.equal(first[0].json.result, 'declined');
  assert.deepEqual(first[0].json.fallback_categories.map((x) => (typeof x === 'string' ? x : x.identifier)), ['pay_over_time']);
  assert.equal(await hppStatus(p), 'IN_PROGRESS', 'a decline with a fallback does not change the status');

  // The shopper is identified already: the other method goes straight to confirm.
  await c.page.getByRole('button', { name: 'Continue' }).click();
  const pay = c.page.getByRole('button', { name: /^Buy / });
  await pay.waitFor();
  assert.equal((await c.page.locator('#confirm-category').textContent()).trim(), 'Slice it.');
  await c.shot('confirm-fallback');
  await pay.click();
  const q = await landedOn(c, 'failure');
  assert.deepEqual(q, { sid: p.hpp.session_id });
  const second = c.callsTo('authorize')[1];
  assert.deepEqual(second.body, { payment_method_category: 'pay_over_time', email: 'customer+denied@email.se',
    phone: PHONE, otp: '123456', signup_done: false, declined_categories: ['pay_later'] });
  assert.equal(second.json.result, 'declined');
  assert.equal(await hppStatus(p), 'FAILED');
  noProblems(c);
});

test('back: with a back URL the page shows Back and no Cancel; Back lands on the back URL, status BACK, and opening the link again makes it IN_PROGRESS', T, async (t) => {
  const p = await shop.createPayment({ urls: ['success', 'failure', 'back', 'cancel', 'status_update'] });
  const c = await tab(t);
  await openLink(c, p);
  const back = c.page.getByRole('button', { name: 'Back', exact: true });
  assert.equal(await back.isVisible(), true);
  assert.equal(await c.page.getByRole('button', { name: 'Cancel', exact: true }).count(), 0, 'never both');
  await c.shot('loaded');
  await back.click();
  const q = await landedOn(c, 'back');
  assert.deepEqual(q, { sid: p.hpp.session_id });
  assert.deepEqual(c.callsTo('back').map((x) => [x.status, x.json.status]), [[200, 'BACK']]);
  assert.equal(await hppStatus(p), 'BACK');

  await openLink(c, p);
  assert.equal(await hppStatus(p), 'IN_PROGRESS');
  await shop.waitForCallbacks(p.key, 3);
  assert.deepEqual(shop.callbacksFor(p.key).map((x) => x.body.session.status), ['IN_PROGRESS', 'BACK', 'IN_PROGRESS']);
  noProblems(c);
});

test('cancel: without a back URL the page shows Cancel and no Back; confirmed Cancel lands on the cancel URL, status CANCELLED, and the link then says "Payment cancelled."', T, async (t) => {
  const p = await shop.createPayment({ urls: ['success', 'failure', 'cancel', 'status_update'] });
  const c = await tab(t);
  await openLink(c, p);
  assert.equal(await c.page.getByRole('button', { name: 'Back', exact: true }).count(), 0, 'never both');
  const cancel = c.page.getByRole('button', { name: 'Cancel', exact: true });
  // Cancelling is final: the page asks first, and "No" changes nothing.
  await cancel.click();
  await c.page.getByRole('button', { name: 'No, continue paying' }).click();
  await flowShown(c);
  assert.deepEqual(c.callsTo('cancel'), []);
  await cancel.click();
  const yes = c.page.getByRole('button', { name: 'Yes, cancel payment' });
  await yes.waitFor();
  await c.shot('cancel-question');
  await yes.click();
  const q = await landedOn(c, 'cancel');
  assert.deepEqual(q, { sid: p.hpp.session_id });
  assert.deepEqual(c.callsTo('cancel').map((x) => [x.status, x.json.status]), [[200, 'CANCELLED']]);
  assert.equal(await hppStatus(p), 'CANCELLED');

  await c.page.goto(p.hpp.redirect_url);
  await finalMessage(c, TEXT.cancelled);
  await c.shot('link-again');
  assert.equal(await hppStatus(p), 'CANCELLED', 'CANCELLED is final');
  noProblems(c);
});

test('disabled mid-flow: after the merchant DELETEs the HPP session, pay shows "This payment link is no longer available." and no order is placed', T, async (t) => {
  const p = await shop.createPayment({ options: { place_order_mode: 'PLACE_ORDER' } });
  const c = await tab(t, { allow: [{ status: 410, path: /^\/hpp\/shopper\/v1\/[^/]+\/authorize$/ }] });
  await openLink(c, p);
  const { page } = c;
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('E-mail').fill('customer@email.se');
  await page.getByLabel('Mobile phone').fill(PHONE);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Six-digit code').fill('123456');
  await c.shot('code');
  // The merchant disables the link while the shopper is at the code step.
  const del = await shop.kasse('DELETE', `/hpp/v1/sessions/${p.hpp.session_id}`);
  assert.equal(del.status, 204, del.text);
  assert.equal(await hppStatus(p), 'DISABLED');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('button', { name: /^Buy / }).click();
  const msg = c.page.locator('#final-message');
  await msg.waitFor();
  assert.equal((await msg.textContent()).trim(), TEXT.unavailable);
  assert.equal(await c.page.evaluate(() => document.activeElement.id), 'final-message', 'focus on the message');
  assert.equal(await c.page.getByRole('button', { name: /^Buy / }).count(), 0);
  await c.shot('unavailable');
  const auth = c.callsTo('authorize');
  assert.equal(auth.length, 1);
  assert.equal(auth[0].status, 410);
  assert.equal(auth[0].json.error_code, 'SESSION_DISABLED');
  assert.equal(new URL(c.page.url()).pathname, new URL(p.hpp.redirect_url).pathname, 'the browser stays on the page');

  const s = await hppRead(p);
  assert.equal(s.status, 'DISABLED');
  assert.equal(s.order_id, undefined, 'no order');
  const kp = await shop.kasse('GET', `/payments/v1/sessions/${p.kp.session_id}`);
  assert.equal(kp.status, 200);
  assert.equal(kp.json.status, 'incomplete', 'the KP session was not authorized');

  await c.page.goto(p.hpp.redirect_url);
  await finalMessage(c, TEXT.unavailable);
  noProblems(c);
});

test('no success or failure URL: a decline shows "Your payment was declined." on the page, Try again reopens it (IN_PROGRESS), and an approval shows "Payment complete."', T, async (t) => {
  const p = await shop.createPayment({ urls: ['status_update'] });
  const c = await tab(t);
  await openLink(c, p);
  await payFlow(c, { email: 'customer+denied@email.se' });
  await finalMessage(c, TEXT.declined);
  assert.equal(new URL(c.page.url()).pathname, new URL(p.hpp.redirect_url).pathname, 'sent to the page itself');
  const declined = c.callsTo('authorize')[0].json;
  assert.equal(declined.result, 'declined');
  assert.equal(new URL(declined.redirect_url).pathname, new URL(p.hpp.redirect_url).pathname);
  assert.equal(await hppStatus(p), 'FAILED');
  await c.shot('declined');

  await c.page.getByRole('button', { name: 'Try again' }).click();
  await flowShown(c);
  assert.equal(await hppStatus(p), 'IN_PROGRESS', 'Try again reopens the session');
  await payFlow(c, { email: 'customer@email.se' });
  await finalMessage(c, TEXT.completed);
  await c.shot('completed');
  const s = await hppRead(p);
  assert.equal(s.status, 'COMPLETED');
  assert.match(s.authorization_token, UUID_RE);
  noProblems(c);
});

test('two tabs: once one tab has paid, the other tab\'s next step says "Payment complete." (410 SESSION_COMPLETED) and pays nothing', T, async (t) => {
  const p = await shop.createPayment();
  const a = await tab(t);
  const b = await tab(t, { allow: [{ status: 410, path: /^\/hpp\/shopper\/v1\/[^/]+\/identify$/ }] });
  await openLink(a, p);
  await openLink(b, p);
  await b.page.getByRole('button', { name: 'Continue' }).click();
  await b.page.getByLabel('E-mail').fill('customer@email.se');
  await b.page.getByLabel('Mobile phone').fill(PHONE);

  await payFlow(a);
  const q = await landedOn(a, 'success');
  assert.equal(q.sid, p.hpp.session_id);

  await b.page.getByRole('button', { name: 'Continue' }).click();
  await finalMessage(b, TEXT.completed);
  assert.equal(await b.page.evaluate(() => document.activeElement.id), 'final-message');
  await b.shot('other-tab');
  assert.deepEqual(b.callsTo('identify').map((x) => [x.status, x.json.error_code]), [[410, 'SESSION_COMPLETED']]);
  assert.deepEqual(b.callsTo('authorize'), []);
  const s = await hppRead(p);
  assert.equal(s.status, 'COMPLETED');
  assert.equal(s.authorization_token, q.token);
  noProblems(a);
  noProblems(b);
});

test('code 999999 sends the shopper back to the code step with an error; +require_signup adds the sign-up step; then the payment is approved', T, async (t) => {
  const p = await shop.createPayment();
  const c = await tab(t);
  await openLink(c, p);
  await payFlow(c, { email: 'customer+require_signup@email.se', otp: '999999', signup: true });
  const err = c.page.locator('#otp-error');
  await err.waitFor();
  assert.equal((await err.textContent()).trim(), TEXT.codeFailed);
  assert.equal(await c.page.getByLabel('Six-digit code').getAttribute('aria-invalid'), 'true');
  assert.equal(await c.page.evaluate(() => document.activeElement.id), 'otp', 'focus on the code');
  assert.equal(c.callsTo('authorize')[0].json.result, 'otp_failed');
  assert.equal(await hppStatus(p), 'IN_PROGRESS');
  await c.shot('code-failed');

  await c.page.getByLabel('Six-digit code').fill('123456');
  await c.page.getByRole('button', { name: 'Continue' }).click();
  const pay = c.page.getByRole('button', { name: /^Buy / });
  await pay.waitFor();
  await pay.click();
  const q = await landedOn(c, 'success');
  assert.equal(q.sid, p.hpp.session_id);
  assert.match(q.token, UUID_RE);
  const auth = c.callsTo('authorize');
  assert.equal(auth.length, 2);
  assert.deepEqual(auth[1].body, { payment_method_category: 'klarna', email: 'customer+require_signup@email.se',
    phone: PHONE, otp: '123456', signup_done: true });
  assert.equal(await hppStatus(p), 'COMPLETED');
  noProblems(c);
});

test('presentation: merchant name, logo only when logo_url, page_title as h1 (default "Complete your purchase"), lines with subtotal and tax unless HIDE, pay label from the state, lang from the locale', T, async (t) => {
  const c = await tab(t);

  // Defaults, en-SE, a background image served by Kasse.
  const background = `${kasse.publicUrl}/kasse/assets/descriptive/klarna.svg`;
  const plain = await shop.createPayment({ options: { background_images: [{ url: background, width: 1600 }] } });
  await openLink(c, plain);
  const state = c.callsTo('open')[0].json;
  assert.deepEqual(state.background_images, [{ url: background, width: 1600 }]);
  assert.equal(await c.page.locator('#page').evaluate((e) => getComputedStyle(e).backgroundImage), `url("${background}")`);
  assert.equal(state.status, 'IN_PROGRESS');
  assert.equal(state.merchant_name, MERCHANTS.a.display);
  assert.equal(await c.page.evaluate(() => document.documentElement.lang), 'en-SE');
  assert.equal((await c.page.locator('#merchant-name').textContent()).trim(), state.merchant_name);
  assert.equal(await c.page.locator('#logo').isVisible(), false, 'no logo without logo_url');
  assert.equal(await c.page.getByRole('heading', { level: 1 }).textContent(), 'Complete your purchase');
  assert.deepEqual(await c.page.locator('#lines li').allTextContents(), ['Battery Power Pack100,00\u00a0kr']);
  assert.equal(await c.page.locator('#subtotal').textContent(), '80,00\u00a0kr');
  assert.equal(await c.page.locator('#tax').textContent(), '20,00\u00a0kr');
  assert.equal(await c.page.locator('#total').textContent(), '100,00\u00a0kr');
  const badge = c.page.locator('#categories img');
  assert.equal(await badge.getAttribute('src'), state.categories[0].asset_urls.standard);
  assert.equal(await c.page.evaluate(() => document.querySelector('#categories img').naturalWidth > 0), true, 'badge loads');
  assert.equal(state.pay_label, 'Buy');
  const pay = await payFlow(c, { press: false });
  assert.equal((await pay.textContent()).trim(), 'Buy 100,00\u00a0kr');
  assert.deepEqual(await c.page.evaluate(() => document.querySelector('meta[name="referrer"]').content), 'no-referrer');
  await c.shot('plain');

  // Swedish, the merchant's title and logo, show_subtotal_detail HIDE.
  const logo = 'data:image/svg+xml,' + encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32">'
    + '<rect width="120" height="32" fill="#222"/><text x="8" y="22" fill="#fff" font-size="16">Test shop</text></svg>');
  const sv = await shop.createPayment({
    cart: { ...cartFor(1), locale: 'sv-SE', billing_address: billingFor('customer@email.se') },
    options: { page_title: 'Betala din beställning', logo_url: logo, show_subtotal_detail: 'HIDE', purchase_type: 'BUY' },
  });
  await openLink(c, sv);
  const svState = c.callsTo('open').at(-1).json;
  assert.equal(svState.order_lines, undefined, 'HIDE: no order lines in the state');
  assert.equal(await c.page.evaluate(() => document.documentElement.lang), 'sv-SE');
  assert.equal(await c.page.getByRole('heading', { level: 1 }).textContent(), 'Betala din beställning');
  assert.equal(await c.page.locator('#logo').isVisible(), true);
  assert.equal(await c.page.locator('#logo').getAttribute('src'), logo);
  assert.equal(await c.page.locator('#lines li').count(), 0, 'HIDE: no lines');
  assert.equal(await c.page.locator('#subtotal').isVisible(), false, 'HIDE: no subtotal');
  assert.equal(await c.page.locator('#tax').isVisible(), false, 'HIDE: no tax');
  assert.equal(await c.page.locator('#total').textContent(), '100,00\u00a0kr');
  await c.page.getByRole('heading', { level: 2, name: 'Hur vill du betala?' }).waitFor();
  assert.equal(svState.pay_label, 'Köp');
  assert.deepEqual(svState.prefill, { email: 'customer@email.se', phone: PHONE });
  await c.page.getByRole('button', { name: 'Fortsätt' }).click();
  // What the KP session knows fills the form in; focus goes to the step's heading then.
  assert.equal(await c.page.getByLabel('E-post').inputValue(), 'customer@email.se');
  assert.equal(await c.page.getByLabel('Mobilnummer').inputValue(), PHONE);
  assert.equal(await c.page.evaluate(() => document.activeElement.id), 'identify-title');
  await c.page.getByRole('button', { name: 'Fortsätt' }).click();
  await c.page.getByLabel('Sexsiffrig kod').fill('123456');
  await c.page.getByRole('button', { name: 'Fortsätt' }).click();
  const köp = c.page.getByRole('button', { name: /^Köp / });
  await köp.waitFor();
  assert.equal((await köp.textContent()).trim(), 'Köp 100,00\u00a0kr');
  await c.shot('swedish-hide');

  // A logo on the merchant's own host: the page loads nothing from outside Kasse.
  const outside = `${shop.url}/logo.svg`;
  const far = await shop.createPayment({ options: { logo_url: outside } });
  await openLink(c, far);
  assert.equal(c.callsTo('open').at(-1).json.logo_url, undefined);
  assert.equal(await c.page.locator('#logo').isVisible(), false);
  assert.equal(c.requests.includes(outside), false, 'the outside logo is never requested');
  noProblems(c);
});

test('field errors: empty fields and an e-mail Kasse refuses are marked aria-invalid, described by their message, and focused', T, async (t) => {
  const p = await shop.createPayment();
  const c = await tab(t, { allow: [{ status: 400, path: /^\/hpp\/shopper\/v1\/[^/]+\/identify$/ }] });
  const { page } = c;
  await openLink(c, p);
  await page.getByRole('button', { name: 'Continue' }).click();
  const email = page.getByLabel('E-mail');
  await email.waitFor();
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.equal(await email.getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByLabel('Mobile phone').getAttribute('aria-invalid'), 'true');
  assert.equal(await email.getAttribute('aria-describedby'), 'email-error');
  assert.equal((await page.locator('#email-error').textContent()).trim(), 'Enter your e-mail address.');
  assert.equal((await page.locator('#phone-error').textContent()).trim(), 'Enter your mobile phone number.');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'email', 'focus on the first field in error');
  assert.deepEqual(c.callsTo('identify'), [], 'nothing sent');
  await c.shot('empty');

  await email.fill('not-an-e-mail');
  await page.getByLabel('Mobile phone').fill(PHONE);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#email-error').filter({ hasText: 'Check your e-mail address.' }).waitFor();
  assert.equal(await email.getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByLabel('Mobile phone').getAttribute('aria-invalid'), null);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'email');
  const identify = c.callsTo('identify');
  assert.equal(identify.length, 1);
  assert.equal(identify[0].status, 400);
  assert.equal(identify[0].json.error_code, 'BAD_VALUE');
  await c.shot('refused');

  await email.fill('customer@email.se');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Six-digit code').fill('12345');
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.equal((await page.locator('#otp-error').textContent()).trim(), 'Enter the six digits of the code.');
  assert.equal(await page.getByLabel('Six-digit code').getAttribute('aria-describedby'), 'otp-hint otp-error');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'otp');
  assert.equal(await hppStatus(p), 'IN_PROGRESS');
  noProblems(c);
});

test('360 px and 1280 px: the page fits without horizontal scroll, and the keyboard alone pays at 360 px', T, async (t) => {
  const p = await shop.createPayment();
  const c = await tab(t);
  const { page } = c;
  const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  await openLink(c, p);
  assert.equal(await fits(), true, '1280 px: no horizontal scroll');
  await c.shot('1280');
  await page.setViewportSize({ width: 360, height: 740 });
  assert.equal(await fits(), true, '360 px: no horizontal scroll');
  await c.shot('360');

  const active = () => page.evaluate(() => {
    const e = document.activeElement;
    return e.id || e.getAttribute('name') || e.tagName;
  });
  await page.keyboard.press('Tab');
  assert.equal(await active(), 'cancel', 'first stop: Cancel in the merchant bar');
  await page.keyboard.press('Tab');
  assert.equal(await active(), 'category', 'then the preselected payment method');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter'); // Continue
  await page.getByLabel('E-mail').waitFor();
  assert.equal(await active(), 'email', 'focus moves to the first field');
  await page.keyboard.type('customer@email.se');
  await page.keyboard.press('Tab');
  assert.equal(await active(), 'phone');
  await page.keyboard.type(PHONE);
  await c.shot('identify');
  await page.keyboard.press('Enter');
  await page.getByLabel('Six-digit code').waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'otp');
  await page.keyboard.type('123456');
  await c.shot('code');
  await page.keyboard.press('Enter');
  const pay = page.getByRole('button', { name: /^Buy / });
  await pay.waitFor();
  assert.equal(await active(), 'confirm-title', 'focus on the confirm heading');
  const box = await pay.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 360, `pay button within 360 px: ${JSON.stringify(box)}`);
  assert.equal(await fits(), true, 'confirm step: no horizontal scroll');
  await c.shot('confirm');
  await page.keyboard.press('Tab');
  assert.equal(await active(), 'pay');
  await page.keyboard.press('Enter');
  const q = await landedOn(c, 'success');
  assert.equal(q.sid, p.hpp.session_id);
  assert.match(q.token, UUID_RE);
  assert.equal(await hppStatus(p), 'COMPLETED');
  noProblems(c);
});

test('Kasse unreachable: on load the page says "The payment could not be loaded." with Try again; at pay it alerts, re-enables pay with focus on it, and a second press pays', T, async (t) => {
  const p = await shop.createPayment();
  const c = await tab(t, { allowFailed: /^\/hpp\/shopper\/v1\// });
  const { page } = c;
  // Registered after tab()'s own route, so it is asked first; once, then tab()'s route answers.
  let failState = true;
  await page.route((u) => /^\/hpp\/shopper\/v1\/[^/]+$/.test(u.pathname), (route) => {
    if (failState) {
      failState = false;
      return route.abort('connectionrefused');
    }
    return route.fallback();
  });
  await page.goto(p.hpp.redirect_url);
  const msg = page.locator('#final-message');
  await msg.waitFor();
  assert.equal((await msg.textContent()).trim(), 'The payment could not be loaded.');
  await c.shot('not-loaded');
  assert.equal(await hppStatus(p), 'WAITING', 'nothing opened');
  await page.getByRole('button', { name: 'Try again' }).click();
  await flowShown(c);
  assert.equal(await hppStatus(p), 'IN_PROGRESS');

  let failPay = true;
  await page.route((u) => u.pathname.endsWith('/authorize'), (route) => {
    if (failPay) {
      failPay = false;
      return route.abort('connectionrefused');
    }
    return route.fallback();
  });
  const pay = await payFlow(c);
  const alert = page.getByRole('alert');
  await alert.filter({ hasText: 'Kasse could not be reached' }).waitFor();
  assert.equal((await alert.textContent()).trim(), 'Kasse could not be reached. Check your connection and try again.');
  assert.equal(await pay.isEnabled(), true, 'pay is enabled again');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'pay', 'focus back on pay');
  assert.equal(await hppStatus(p), 'IN_PROGRESS');
  await c.shot('unreachable');
  await page.keyboard.press('Enter');
  const q = await landedOn(c, 'success');
  assert.equal(q.sid, p.hpp.session_id);
  assert.equal(await hppStatus(p), 'COMPLETED');
  noProblems(c);
});

test('QR: qr_code_url is a PNG whose code (zbarimg) is the redirect_url', T, async (t) => {
  const p = await shop.createPayment();
  assert.equal(p.hpp.qr_code_url, `${p.hpp.redirect_url}/qr`);
  const res = await fetch(direct(p.hpp.qr_code_url), { signal: AbortSignal.timeout(15000) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  const png = Buffer.from(await res.arrayBuffer());
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  const file = path.join(artifactsDir(t), 'qr.png');
  fs.writeFileSync(file, png);
  const z = spawnSync('zbarimg', ['--raw', '-q', file], { encoding: 'utf8' });
  assert.equal(z.error, undefined, 'zbarimg missing: apt-get install -y zbar-tools');
  assert.equal(z.status, 0, `zbarimg: ${z.stderr}`);
  assert.equal(z.stdout.trim(), p.hpp.redirect_url);
  assert.equal(await hppStatus(p), 'WAITING', 'fetching the QR code does not open the page');
});

test('unknown page id: 404 with the page, which says "This payment link is no longer available."', T, async (t) => {
  const c = await tab(t, { allow: [{ status: 404, path: /^\/hpp\/(payments|shopper\/v1)\// }] });
  const res = await c.page.goto(`${kasse.publicUrl}/hpp/payments/7f1d4c1e-9a41-4c55-8f0e-2b1b8f3d6a10`);
  assert.equal(res.status(), 404);
  await finalMessage(c, TEXT.unavailable);
  await c.shot('unknown');
  noProblems(c);
});

// Last: it moves Kasse's clock past every session's expiry.
test('expired: once the HPP session is past expires_at (KP expiry - 1 h), the link says "This payment link is no longer available."', T, async (t) => {
  const p = await shop.createPayment();
  const c = await tab(t, { allow: [{ status: 410, path: /^\/hpp\/shopper\/v1\// }, { status: 404, path: /^\/hpp\/shopper\/v1\// }] });
  await openLink(c, p);
  const left = Date.parse(p.hpp.expires_at) - Date.parse((await shop.kasse('GET', '/kasse/v1/clock')).json.now);
  assert.ok(left > 46 * 3600e3 && left <= 47 * 3600e3, `expires_at = KP expiry - 1 h: ${left} ms left`);
  const adv = await shop.kasse('POST', '/kasse/v1/clock', { advance_seconds: Math.ceil(left / 1000) + 1 });
  assert.equal(adv.status, 200, adv.text);
  await c.page.reload();
  await finalMessage(c, TEXT.unavailable);
  await c.shot('expired');
  const r = await shop.kasse('GET', `/hpp/v1/sessions/${p.hpp.session_id}`);
  assert.equal(r.status, 404);
  assert.deepEqual(r.json.error_messages, ['HPP session has expired']);
  noProblems(c);
});
