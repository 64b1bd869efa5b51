// Browser tests: Kasse's Klarna.Payments SDK (/kp/lib/v1/api.js) and shopper widget
// (/kp/widget/v1/) driven in Debian's chromium through a merchant page that follows Klarna's
// documented integration (merchant.mjs), against the real Kasse binary.
//
// Kasse listens on 127.0.0.1 with public URL http://localhost:PORT (so the widget's origin is
// not the merchant's http://127.0.0.1:MPORT: every message crosses origins, as in production).
// Screenshots of every step go to tests/browser/artifacts/<test>/.
//
// Run: make build/kasse-debug && npm run test:browser
// Needs /usr/bin/chromium (apt-get install chromium); never downloads a browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { startKasse, MERCHANTS, UUID_RE } from '../api/harness.mjs';
import { startMerchant, cartFor, billingFor, SUBSCRIPTION } from './merchant.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const DECLINED = "This purchase can't be accepted. Choose another payment method.";
const T = { timeout: 60000 };

let kasse;
let merchant;
let classic; // a merchant whose sessions offer several categories (pay_now, pay_later, pay_over_time)
let browser;
let profileDir;

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} missing: apt-get install -y chromium`);
  kasse = await startKasse({ contract: false, merchants: [MERCHANTS.a, MERCHANTS.c] });
  merchant = await startMerchant({
    kasseUrl: kasse.base, sdkUrl: kasse.publicUrl, user: MERCHANTS.a.user, secret: MERCHANTS.a.secret,
  });
  classic = await startMerchant({
    kasseUrl: kasse.base, sdkUrl: kasse.publicUrl, user: MERCHANTS.c.user, secret: MERCHANTS.c.secret,
  });
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
  if (merchant) await merchant.close();
  if (classic) await classic.close();
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  if (kasse) await kasse.stopClean();
});

// ---------- helpers ----------

/** Opens the merchant's checkout; resolves once load()'s callback has run. */
async function checkout(t, query = {}, { viewport, shop = merchant } = {}) {
  const page = await browser.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  // Every request the page and the widget make must succeed (the browser's own favicon probe aside).
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => problems.push(`failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  const dir = path.join(ARTIFACTS, t.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase());
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  const c = {
    page,
    problems,
    widget: page.frameLocator('iframe[title="Payment form"]'),
    async shot(step) {
      n += 1;
      await page.screenshot({ path: path.join(dir, `${String(n).padStart(2, '0')}-${step}.png`), fullPage: true });
    },
    /** The result of the n-th (default: latest) SDK call named `call`, waiting for it. */
    async result(call, nth = 0) {
      await page.waitForFunction(([name, k]) => window.kasseLog.filter((e) => e.call === name).length > k,
        [call, nth], { timeout: 20000 });
      return page.evaluate(([name, k]) => window.kasseLog.filter((e) => e.call === name)[k].result, [call, nth]);
    },
    log() { return page.evaluate(() => window.kasseLog); },
  };
  await page.goto(`${shop.url}/?${new URLSearchParams(query)}`);
  return c;
}

/**
 * The shopper's steps from "Place order" to "Confirm and pay" (the buy button is pressed).
 * choose: the category the shopper picks in the widget's category step (only shown when the
 * widget offers several); null: the dialog must open on the shopper's details.
 */
async function payFlow(c, { email, phone = '+46701740615', otp = '123456', choose = null, signup = false,
  amount = /100[.,]00/, pay: payName = /^Confirm and pay / } = {}) {
  const w = c.widget;
  await c.page.getByRole('button', { name: 'Place order' }).click();
  await w.getByRole('dialog').waitFor();
  if (choose) {
    const radio = w.getByRole('radio', { name: choose });
    await radio.waitFor();
    await radio.check();
    await c.shot('category');
    await w.getByRole('button', { name: 'Continue' }).click();
  } else {
    await w.getByLabel('E-mail').waitFor();
    assert.equal(await w.locator('#step-category').isHidden(), true, 'no category step');
  }
  const emailBox = w.getByLabel('E-mail');
  await emailBox.waitFor();
  if (email) assert.equal(await emailBox.inputValue(), email, 'e-mail prefilled from authorize() data');
  await w.getByLabel('Mobile phone').fill(phone);
  await c.shot('identify');
  await w.getByRole('button', { name: 'Continue' }).click();
  const code = w.getByLabel('Six-digit code');
  await code.waitFor();
  await code.fill(otp);
  await c.shot('code');
  await w.getByRole('button', { name: 'Continue' }).click();
  if (signup) {
    await w.getByLabel('Date of birth').fill('1941-03-21');
    await w.getByLabel('I accept the terms').check();
    await c.shot('signup');
    await w.getByRole('button', { name: 'Create account' }).click();
  }
  const pay = w.getByRole('button', { name: payName });
  await pay.waitFor();
  if (amount) assert.match(await pay.textContent(), amount, 'the buy button shows the amount');
  await c.shot('confirm');
  await pay.click();
}

async function kasseSession(c) {
  const s = await c.result('session');
  const r = await merchant.kasse('GET', `/payments/v1/sessions/${s.session_id}`);
  assert.equal(r.status, 200);
  return r.json;
}

function noProblems(c) {
  assert.deepEqual(c.problems, [], 'no page errors');
}

// ---------- scenarios ----------

test('approved: authorize gives a token and the merchant places the order', T, async (t) => {
  const c = await checkout(t, { email: 'customer@email.se' });
  assert.deepEqual(await c.result('load'), { show_form: true });
  const radio = c.widget.getByRole('radio', { name: 'Pay with Klarna' });
  await radio.waitFor();
  await c.shot('loaded');

  // The iframe is the widget on Kasse's origin; the client_token never travels in its URL.
  const src = await c.page.locator('iframe[title="Payment form"]').getAttribute('src');
  const token = (await c.result('session')).client_token;
  assert.ok(src.startsWith(`${kasse.publicUrl}/kp/widget/v1/index.html#`), src);
  assert.ok(!src.includes('?') && !src.includes(token), 'no client_token in the iframe URL');

  await payFlow(c, { email: 'customer@email.se' });
  const res = await c.result('authorize');
  assert.deepEqual(Object.keys(res).sort(), ['approved', 'authorization_token', 'show_form']);
  assert.equal(res.approved, true);
  assert.equal(res.show_form, true);
  assert.match(res.authorization_token, UUID_RE);

  const order = await c.result('order');
  assert.match(order.order_id, UUID_RE);
  await c.page.getByText(`Order placed: ${order.order_id}`).waitFor();
  await c.widget.getByText(/^Approved\./).waitFor();
  await c.shot('ordered');

  const log = await c.log();
  const calls = log.map((e) => e.call);
  assert.ok(calls.includes('event:fullscreenOverlayShown'), 'fullscreenOverlayShown emitted');
  assert.ok(calls.indexOf('event:fullscreenOverlayHidden') > calls.indexOf('event:fullscreenOverlayShown'),
    'fullscreenOverlayHidden after shown');
  const heights = log.filter((e) => e.call === 'event:heightChanged').map((e) => e.result);
  assert.ok(heights.length > 0 && heights.every((h) => Number.isInteger(h) && h > 0), `heightChanged: ${heights}`);

  const session = await kasseSession(c);
  assert.equal(session.status, 'complete');
  assert.equal(merchant.orders.at(-1).order.order_id, order.order_id);
  noProblems(c);
});

test('denied: +denied gives approved:false, show_form:false and a clear message', T, async (t) => {
  const c = await checkout(t, { email: 'customer+denied@email.se' });
  assert.deepEqual(await c.result('load'), { show_form: true });
  await payFlow(c, { email: 'customer+denied@email.se' });
  assert.deepEqual(await c.result('authorize'), { approved: false, show_form: false });
  const alert = c.widget.getByRole('alert');
  await alert.waitFor();
  assert.equal((await alert.textContent()).trim(), DECLINED);
  assert.equal(await c.widget.getByRole('radio').count(), 0, 'no payment form after a hard decline');
  await c.page.getByText('Payment declined').waitFor();
  await c.shot('declined');
  assert.equal((await c.log()).some((e) => e.call === 'order'), false, 'no order');
  assert.equal((await kasseSession(c)).status, 'incomplete');
  noProblems(c);
});

test('wrong code 999999: approved:false, show_form:true; the shopper can try again', T, async (t) => {
  const c = await checkout(t, { email: 'customer@email.se' });
  await c.result('load');
  await payFlow(c, { email: 'customer@email.se', otp: '999999' });
  assert.deepEqual(await c.result('authorize'), { approved: false, show_form: true });
  await c.widget.getByRole('alert').filter({ hasText: /code wasn.t accepted/ }).waitFor();
  await c.page.getByText('Payment not completed').waitFor();
  await c.shot('code-failed');

  // The form is still there: a second attempt with a good code is approved.
  await payFlow(c, { email: 'customer@email.se', otp: '123456' });
  const res = await c.result('authorize', 1);
  assert.equal(res.approved, true);
  assert.match(res.authorization_token, UUID_RE);
  assert.match((await c.result('order')).order_id, UUID_RE);
  await c.shot('retried');
  noProblems(c);
});

test('+red: load gives show_form:false and authorize does not open the form', T, async (t) => {
  const c = await checkout(t, { email: 'customer+red@email.se', prescreen: '1' });
  assert.deepEqual(await c.result('load'), { show_form: false });
  const box = await c.page.locator('iframe[title="Payment form"]').boundingBox();
  assert.ok(box === null || box.height === 0, `the hidden form takes no room: ${JSON.stringify(box)}`);
  await c.shot('no-form');
  await c.page.getByRole('button', { name: 'Place order' }).click();
  assert.deepEqual(await c.result('authorize'), { approved: false, show_form: false });
  assert.equal((await c.log()).some((e) => e.call === 'event:fullscreenOverlayShown'), false, 'no overlay');
  noProblems(c);
});

test('sign-up: +require_signup adds the account step before confirming', T, async (t) => {
  const c = await checkout(t, { email: 'customer+require_signup@email.se' });
  await c.result('load');
  await payFlow(c, { email: 'customer+require_signup@email.se', signup: true });
  const res = await c.result('authorize');
  assert.equal(res.approved, true);
  assert.match(res.authorization_token, UUID_RE);
  assert.match((await c.result('order')).order_id, UUID_RE);
  noProblems(c);
});

test('reauthorize after a cart change: new token, the order with the new cart succeeds', T, async (t) => {
  const c = await checkout(t, { email: 'customer@email.se', hold: '1' });
  await c.result('load');
  await payFlow(c, { email: 'customer@email.se' });
  const first = await c.result('authorize');
  assert.equal(first.approved, true);
  await c.page.getByText('Authorized').waitFor();

  await c.page.getByRole('button', { name: 'Add another' }).click();
  await c.shot('cart-changed');
  // reauthorize() goes straight to the shopper's details (the category was chosen already).
  await payFlow(c, { email: 'customer@email.se', amount: /200[.,]00/ });
  const second = await c.result('reauthorize');
  assert.deepEqual(Object.keys(second).sort(), ['approved', 'authorization_token', 'show_form']);
  assert.equal(second.approved, true);
  assert.match(second.authorization_token, UUID_RE);
  assert.notEqual(second.authorization_token, first.authorization_token, 'a new token');

  await c.page.getByRole('button', { name: 'Complete order' }).click();
  const order = await c.result('order');
  assert.match(order.order_id, UUID_RE);
  assert.equal(merchant.orders.at(-1).quantity, 2, 'the order has the new cart');
  await c.shot('ordered');

  const session = await kasseSession(c);
  assert.equal(session.order_amount, cartFor(2).order_amount, 'the session has the new cart');
  // The first token was superseded by the re-authorization (contract 2.5).
  const old = await merchant.kasse('POST', `/payments/v1/authorizations/${first.authorization_token}/order`,
    { ...cartFor(1), billing_address: billingFor('customer@email.se') });
  assert.notEqual(old.status, 200, `the superseded token places no order: ${JSON.stringify(old.json)}`);
  noProblems(c);
});

test('360 px wide: the whole flow fits a small phone', T, async (t) => {
  const c = await checkout(t, { email: 'customer@email.se' }, { viewport: { width: 360, height: 740 } });
  assert.deepEqual(await c.result('load'), { show_form: true });
  await c.widget.getByRole('radio', { name: 'Pay with Klarna' }).waitFor();
  await c.shot('loaded');
  const frame = c.page.frames().find((f) => f.url().startsWith(kasse.publicUrl));
  const fits = () => frame.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  assert.equal(await fits(), true, 'inline widget has no horizontal scroll');

  // Keyboard only: Enter on the merchant's button moves focus into the widget's first step
  // (one category: the shopper's details, rule 20).
  await c.page.getByRole('button', { name: 'Place order' }).focus();
  await c.page.keyboard.press('Enter');
  await c.widget.getByLabel('Mobile phone').waitFor();
  await c.page.waitForFunction(() => document.activeElement && document.activeElement.tagName === 'IFRAME');
  assert.equal(await frame.evaluate(() => document.activeElement.id), 'identify-title',
    'focus is on the first step (e-mail prefilled)');
  const box = await c.page.locator('iframe[title="Payment form"]').boundingBox();
  assert.deepEqual([box.x, box.y, box.width, box.height], [0, 0, 360, 740], 'the overlay covers the screen');
  assert.equal(await fits(), true, 'overlay has no horizontal scroll');
  await c.page.keyboard.press('Tab'); // from the heading (e-mail is prefilled) to the e-mail field
  assert.equal(await frame.evaluate(() => document.activeElement.id), 'email');
  await c.page.keyboard.press('Tab');
  await c.page.keyboard.type('+46701740615');
  await c.page.keyboard.press('Enter');
  await c.widget.getByLabel('Six-digit code').waitFor();
  await c.page.keyboard.type('123456');
  await c.shot('code');
  await c.page.keyboard.press('Enter');
  const pay = c.widget.getByRole('button', { name: /^Confirm and pay / });
  await pay.waitFor();
  const payBox = await pay.boundingBox();
  assert.ok(payBox.x >= 0 && payBox.x + payBox.width <= 360, `buy button within 360 px: ${JSON.stringify(payBox)}`);
  assert.equal(await fits(), true, 'confirm step has no horizontal scroll');
  await c.shot('confirm');
  await c.page.keyboard.press('Enter'); // the buy button has focus
  const res = await c.result('authorize');
  assert.equal(res.approved, true);
  assert.match((await c.result('order')).order_id, UUID_RE);
  await c.shot('ordered');
  noProblems(c);
});

test('SDK: documented errors, callbacks before throws, and loading without klarnaAsyncCallback', T, async () => {
  const page = await browser.newPage();
  await page.goto(`${merchant.url}/blank`);
  const out = await page.evaluate(async () => {
    const P = window.Klarna.Payments;
    const res = {};
    const catchName = (fn) => { try { fn(); return 'no error'; } catch (e) { return e.name; } };
    const calls = [];
    res.loadBeforeInit = catchName(() => P.load({ container: '#klarna-payments-container', payment_method_category: 'klarna' },
      (r) => calls.push(['load', r])));
    res.authorizeBeforeInit = catchName(() => P.authorize({ payment_method_category: 'klarna' }, {},
      (r) => calls.push(['authorize', r])));
    res.initNotJwt = catchName(() => P.init({ client_token: 'not-a-jwt' }));
    res.badEvent = catchName(() => P.on('somethingElse', () => {}));
    res.goodEvent = catchName(() => P.on('heightChanged', () => {}));
    const s = await (await fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
    P.init({ client_token: s.client_token });
    res.badContainer = catchName(() => P.load({ container: '#nope', payment_method_category: 'klarna' }, (r) => calls.push(['load2', r])));
    res.notLoadedNoCategory = catchName(() => P.authorize({}, {}, (r) => calls.push(['authorize1', r])));
    res.notLoaded = catchName(() => P.authorize({ payment_method_category: 'klarna' }, {}, (r) => calls.push(['authorize2', r])));
    res.reviewOutsideUS = catchName(() => P.loadPaymentReview({ container: '#klarna-payments-container' }, (r) => calls.push(['review', r])));
    res.load = await new Promise((resolve) => P.load({ container: '#klarna-payments-container', payment_method_category: 'klarna' }, resolve));
    res.unsupported = catchName(() => P.authorize({ payment_method_category: 'pay_over_time' }, {}, (r) => calls.push(['authorize3', r])));
    res.calls = calls;
    return res;
  });
  assert.deepEqual(out, {
    loadBeforeInit: 'ApplicationNotInitializedError',
    authorizeBeforeInit: 'ApplicationNotInitializedError',
    initNotJwt: 'InvalidClientTokenError',
    badEvent: 'EventNotSupportedError',
    goodEvent: 'no error',
    badContainer: 'InvalidContainerSelectorError',
    notLoadedNoCategory: 'ApplicationNotLoadedError',
    notLoaded: 'ApplicationNotLoadedError',
    reviewOutsideUS: 'OperationNotSupportedError',
    load: { show_form: true },
    unsupported: 'PaymentMethodCategoryNotSupportedError',
    calls: [
      ['load', { show_form: false }],
      ['authorize', { show_form: false, approved: false }],
      ['load2', { show_form: false }],
      ['authorize1', { show_form: false, approved: false }],
      ['authorize2', { show_form: false, approved: false }],
      ['review', { show_form: false }],
      ['authorize3', { show_form: false, approved: false }],
    ],
  });
  await page.close();
});

// ---------- issue 8: Klarna's observed behaviour ----------

test('rule 10: load({container}) and authorize({}) without a category use the only category offered', T, async (t) => {
  const c = await checkout(t, { email: 'customer@email.se', nocategory: '1' });
  assert.deepEqual(await c.result('load'), { show_form: true });
  const radio = c.widget.getByRole('radio', { name: 'Pay with Klarna' });
  await radio.waitFor();
  assert.equal(await radio.isChecked(), true, 'the only category is selected');
  await c.shot('loaded');
  await payFlow(c, { email: 'customer@email.se' });
  const res = await c.result('authorize');
  assert.deepEqual(Object.keys(res).sort(), ['approved', 'authorization_token', 'show_form']);
  assert.equal(res.approved, true);
  assert.equal(res.show_form, true);
  assert.match(res.authorization_token, UUID_RE);
  assert.match((await c.result('order')).order_id, UUID_RE);
  assert.equal((await c.log()).some((e) => /-error$/.test(e.call)), false, 'no errors logged');
  noProblems(c);
});

test('rule 10: without a category and several offered, the shopper chooses inside the widget', T, async (t) => {
  const c = await checkout(t, { email: 'customer@email.se', nocategory: '1' }, { shop: classic });
  assert.deepEqual(await c.result('load'), { show_form: true });
  await c.widget.getByRole('radio').first().waitFor();
  const names = await c.widget.getByRole('radio').evaluateAll((els) => els.map((e) => e.parentElement.textContent.trim()));
  assert.deepEqual(names, ['Pay now.', 'Pay later.', 'Slice it.'], 'every category of the session is offered');
  await payFlow(c, { email: 'customer@email.se', choose: 'Pay later.' });
  assert.equal(await c.widget.locator('#confirm-category').textContent(), 'Pay later.');
  const res = await c.result('authorize');
  assert.equal(res.approved, true);
  assert.match(res.authorization_token, UUID_RE);
  const order = await c.result('order');
  assert.match(order.order_id, UUID_RE);
  noProblems(c);
});

test('rule 18: focus stays in the widget dialog (Tab and Shift-Tab cycle) and returns to the page on close', T, async (t) => {
  const c = await checkout(t, { email: 'customer@email.se' });
  await c.result('load');
  const frame = c.page.frames().find((f) => f.url().startsWith(kasse.publicUrl));
  const focused = async () => {
    const onPage = await c.page.evaluate(() => document.activeElement.tagName);
    if (onPage !== 'IFRAME') return `page:${onPage}`;
    return frame.evaluate(() => {
      const el = document.activeElement;
      return el.id || el.textContent.trim();
    });
  };
  await c.page.getByRole('button', { name: 'Place order' }).focus();
  await c.page.keyboard.press('Enter');
  await c.widget.getByLabel('Mobile phone').waitFor();
  await c.page.waitForFunction(() => document.activeElement && document.activeElement.tagName === 'IFRAME');
  assert.equal(await focused(), 'identify-title');
  const forward = [];
  for (let i = 0; i < 6; i += 1) {
    await c.page.keyboard.press('Tab');
    forward.push(await focused());
  }
  assert.deepEqual(forward, ['email', 'phone', 'Continue', 'cancel', 'email', 'phone'], 'Tab cycles in the dialog');
  const backward = [];
  for (let i = 0; i < 5; i += 1) {
    await c.page.keyboard.press('Shift+Tab');
    backward.push(await focused());
  }
  assert.deepEqual(backward, ['email', 'cancel', 'Continue', 'phone', 'email'], 'Shift-Tab cycles in the dialog');
  await c.shot('dialog');
  await c.page.keyboard.press('Escape');
  assert.deepEqual(await c.result('authorize'), { approved: false, show_form: true });
  await c.page.waitForFunction(() => document.activeElement && document.activeElement.id === 'buy');
  assert.equal(await c.page.evaluate(() => document.activeElement.textContent), 'Place order',
    'focus is back on the merchant\u2019s button');
  noProblems(c);
});

test('rule 19: a tokenize session confirms the subscription and says nothing is charged now', T, async (t) => {
  const c = await checkout(t, { email: 'customer@email.se', intent: 'tokenize', hold: '1' });
  assert.deepEqual(await c.result('load'), { show_form: true });
  await payFlow(c, { email: 'customer@email.se', amount: null, pay: 'Confirm subscription' });
  const w = c.widget;
  // payFlow pressed the button: what the confirm step said is still in the (now hidden) step.
  assert.equal(await w.locator('#confirm-title').textContent(), 'Confirm your subscription');
  assert.equal(await w.locator('#dialog-title').textContent(), `Subscribe with ${await w.locator('#confirm-merchant').textContent()}`);
  assert.equal(await w.locator('#confirm-subscription').textContent(), `${SUBSCRIPTION.name}, every 3 months`);
  const store = await w.locator('#confirm-merchant').textContent();
  assert.ok(store, 'the store is named');
  assert.equal(await w.locator('#confirm-note').textContent(),
    `Nothing is charged now. ${store} charges you later, as the subscription says.`);
  assert.equal(await w.locator('#confirm-total-row').isHidden(), true, 'no total to pay');
  assert.equal(await w.locator('#confirm-lines').isHidden(), true, 'no payment lines');
  assert.equal(await w.locator('#confirm-pay').textContent(), 'Confirm subscription');
  const res = await c.result('authorize');
  assert.equal(res.approved, true);
  assert.match(res.authorization_token, UUID_RE);
  await w.getByText(/^Approved\. .+ is setting up your subscription\.$/).waitFor();
  noProblems(c);
});

test('rule 20: with one category the authorize flow does not ask the shopper to choose it again', T, async (t) => {
  const c = await checkout(t, { email: 'customer@email.se' });
  assert.deepEqual(await c.result('load'), { show_form: true });
  await c.page.getByRole('button', { name: 'Place order' }).click();
  await c.widget.getByRole('dialog').waitFor();
  await c.widget.getByLabel('E-mail').waitFor();
  await c.shot('dialog');
  assert.equal(await c.widget.locator('#step-category').isHidden(), true, 'the category step is not shown');
  assert.equal(await c.widget.getByRole('radio').count(), 0, 'no category to choose in the dialog');
  assert.equal(await c.widget.locator('#step-identify').isVisible(), true, 'the dialog opens on the shopper\u2019s details');
  noProblems(c);
});
