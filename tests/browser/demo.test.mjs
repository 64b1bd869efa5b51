// Browser tests: the demo shop (/demo/, web/demo/) and the start page (/, web/kasse/start/),
// driven in Debian's chromium against the real Kasse binary (docs/portal.md).
//
// The demo is opened on Kasse's public URL (http://localhost:PORT), where the SDK's widget
// iframe also lives: the page's CSP (default-src 'self') allows it because it is same-origin.
// Every scenario records page errors, CSP reports, failed requests, responses >= 400 (other than
// the ones it expects) and any request leaving Kasse's origin. Screenshots at 1280 and 360 px go
// to tests/browser/artifacts/demo-<test>/. When axe-core is installed (node_modules/axe-core),
// the demo's views and the start page must have no serious or critical violations.
//
// Run: make build/kasse-debug && KASSE_BIN=build/kasse-debug node --test --test-concurrency=1 tests/browser/demo.test.mjs
// Needs /usr/bin/chromium; never downloads a browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { startKasse, MERCHANTS, UUID_RE, repoRoot } from '../api/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const AXE = path.join(repoRoot, 'node_modules/axe-core/axe.min.js');
const T = { timeout: 90000 };
const M = MERCHANTS.a;
const PHONE = '+46701740615';
const WIDTHS = [1280, 360];

let kasse;
let browser;
let profileDir;

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} missing: apt-get install -y chromium`);
  kasse = await startKasse({ contract: false, merchants: [M] });
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
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  if (kasse) await kasse.stopClean();
});

// ---------- helpers ----------

/**
 * A fresh browser tab at `width`, signed out (the profile's cookies are cleared); screenshots go
 * to artifacts/demo-<name>-<width>/. allow: [{status, method, path: RegExp}] responses >= 400
 * that the scenario expects.
 */
async function tab(name, width, { allow = [] } = {}) {
  await browser.clearCookies();
  const page = await browser.newPage();
  await page.setViewportSize({ width, height: width < 500 ? 740 : 800 });
  const problems = [];
  const posts = []; // { path, csrf } of every non-GET call to Kasse's JSON APIs
  const origin = new URL(kasse.publicUrl).origin;
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:')) return;
    if (new URL(u).origin !== origin) problems.push(`outside request: ${r.method()} ${u}`);
    const p = new URL(u).pathname;
    if (r.method() !== 'GET' && /^\/(portal|demo)\/api\//.test(p)) posts.push({ method: r.method(), path: p, csrf: r.headers()['x-kasse-csrf'] ?? null });
  });
  page.on('requestfailed', (r) => {
    if (r.failure()?.errorText === 'net::ERR_ABORTED') return; // a navigation away
    problems.push(`failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (r.status() < 400 || u.pathname === '/favicon.ico') return;
    const ok = allow.some((a) => a.status === r.status() && a.method === r.request().method() && a.path.test(u.pathname));
    if (!ok) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  const dir = path.join(ARTIFACTS, `demo-${name}-${width}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  return {
    page,
    problems,
    posts,
    width,
    widget: page.frameLocator('iframe[title="Payment form"]'),
    async shot(step) {
      n += 1;
      await page.screenshot({ path: path.join(dir, `${String(n).padStart(2, '0')}-${step}.png`), fullPage: true });
    },
  };
}

// The first GET /portal/api/session of a signed-out page is a 401, and so is a wrong secret.
const SIGNED_OUT = [
  { status: 401, method: 'GET', path: /^\/portal\/api\/session$/ },
  { status: 401, method: 'POST', path: /^\/portal\/api\/session$/ },
];

const norm = (s) => s.replace(/\s+/g, ' ').trim();

function noProblems(c) {
  assert.deepEqual(c.problems, [], 'no page errors, CSP reports, failed requests or requests outside Kasse');
  const missing = c.posts.filter((p) => !(p.method === 'POST' && p.path === '/portal/api/session') && !p.csrf);
  assert.deepEqual(missing, [], 'every change carries X-Kasse-CSRF');
}

/** The view's h1 is shown and has focus. */
async function viewShown(c, name) {
  const h1 = c.page.getByRole('heading', { level: 1, name });
  await h1.waitFor();
  await c.page.waitForFunction((text) => document.activeElement && document.activeElement.tagName === 'H1' &&
    document.activeElement.textContent.trim() === text, name, { timeout: 5000 });
}

async function noSideScroll(c, what) {
  const fits = await c.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  assert.equal(fits, true, `${what}: no horizontal scroll at ${c.width} px`);
}

/** axe-core (when installed) on the page as it is: no serious or critical violations. */
async function axe(c, what) {
  if (!fs.existsSync(AXE)) return;
  // Evaluated through the DevTools protocol: the page's CSP (no inline script) does not apply.
  if (!(await c.page.evaluate(() => typeof window.axe === 'object'))) {
    await c.page.evaluate(fs.readFileSync(AXE, 'utf8'));
  }
  const violations = await c.page.evaluate(async () => {
    // The widget iframe is Kasse's shopper widget, tested by checkout.test.mjs.
    const r = await window.axe.run(document, { iframes: false, resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  });
  assert.deepEqual(violations, [], `axe on ${what} at ${c.width} px`);
}

/** Opens /demo/ signed out, tries a wrong secret, then signs in; ends on the shop. */
async function signIn(c) {
  const { page } = c;
  await page.goto(`${kasse.publicUrl}/demo/`);
  await viewShown(c, 'Sign in to the demo shop');
  assert.match(norm(await page.locator('#view-signin').textContent()), /uses the merchant portal.s sign-in/);
  await axe(c, 'sign-in');
  await c.shot('signin');
  // Empty fields: the form says so without asking Kasse.
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Enter your merchant username.').waitFor();
  assert.equal(await page.getByLabel('Username').getAttribute('aria-invalid'), 'true');
  // A wrong secret: Kasse's error message, in an alert.
  await page.getByLabel('Username').fill(M.user);
  await page.getByLabel('Secret').fill('not-the-secret');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.locator('#signin-error');
  await alert.filter({ hasText: 'Wrong username or secret' }).waitFor();
  assert.equal(await alert.getAttribute('role'), 'alert');
  await c.shot('signin-wrong');
  await page.getByLabel('Secret').fill(M.secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await viewShown(c, 'Demo shop');
  await page.getByText(`Signed in as ${M.display}`).waitFor();
  assert.equal(await page.evaluate(() => document.cookie.includes('kasse_portal')), false, 'the cookie is HttpOnly');
}

/** The catalog as the page's backend answers it (same sign-in). */
function catalog(c) {
  return c.page.evaluate(async () => (await fetch('/demo/api/catalog')).json());
}

function money(minor, cat) {
  const f = new Intl.NumberFormat(cat.locale, { style: 'currency', currency: cat.purchase_currency });
  return f.format(minor / 10 ** f.resolvedOptions().maximumFractionDigits);
}

/**
 * Fills the cart: the first product twice (Add to cart, then +), the second (when there is
 * one) once, and a third added and taken out again with −. Returns {items, total}.
 */
async function fillCart(c, cat) {
  const { page } = c;
  const [p1, p2, p3] = cat.products;
  assert.ok(p1, 'the catalog has products');
  await page.getByRole('button', { name: `Add to cart: ${p1.name}` }).click();
  await page.getByRole('button', { name: `Add one ${p1.name}` }).click();
  assert.equal(await page.getByRole('button', { name: `Add one ${p1.name}` }).evaluate((b) => b === document.activeElement),
    true, 'focus stays on the + button');
  const items = [{ sku: p1.sku, quantity: 2 }];
  if (p2) {
    await page.getByRole('button', { name: `Add to cart: ${p2.name}` }).click();
    items.push({ sku: p2.sku, quantity: 1 });
  }
  if (p3) {
    await page.getByRole('button', { name: `Add to cart: ${p3.name}` }).click();
    await page.getByRole('button', { name: `Remove one ${p3.name}` }).click();
    assert.equal(await page.getByRole('button', { name: `Remove one ${p3.name}` }).count(), 0, 'the line is gone');
  }
  const total = items.reduce((sum, it) => sum + cat.products.find((p) => p.sku === it.sku).unit_price * it.quantity, 0);
  assert.equal(norm(await page.locator('#cart-total').textContent()), norm(money(total, cat)), 'the cart total');
  await page.locator('#status').filter({ hasText: /in the cart/ }).waitFor();
  return { items, total };
}

/** From "Pay" through the widget's steps to "Confirm and pay" (pressed). */
async function payInWidget(c, { email = 'customer@email.se' } = {}) {
  const w = c.widget;
  await c.page.getByRole('button', { name: 'Pay', exact: true }).click();
  await w.getByRole('dialog').waitFor();
  const emailBox = w.getByLabel('E-mail');
  await emailBox.waitFor();
  assert.equal(await emailBox.inputValue(), email, 'the e-mail comes from authorize() billing_address');
  assert.equal(await w.getByLabel('Mobile phone').inputValue(), PHONE, 'so does the phone');
  await c.shot('widget-identify');
  await w.getByRole('button', { name: 'Continue' }).click();
  const code = w.getByLabel('Six-digit code');
  await code.waitFor();
  await code.fill('123456');
  await w.getByRole('button', { name: 'Continue' }).click();
  const pay = w.getByRole('button', { name: /^Confirm and pay / });
  await pay.waitFor();
  await c.shot('widget-confirm');
  await pay.click();
}

async function merchantGet(p) {
  const r = await kasse.request('GET', p, { auth: 'a' });
  assert.equal(r.status, 200, `GET ${p}: ${r.text}`);
  return r.json;
}

// ---------- the demo shop: the widget ----------

for (const width of WIDTHS) {
  test(`widget checkout at ${width} px: sign in, cart, Klarna widget, confirmation; the order has the cart's amount`, T, async () => {
    const c = await tab('widget', width, { allow: SIGNED_OUT });
    const { page } = c;
    await signIn(c);
    const cat = await catalog(c);
    assert.equal(cat.purchase_currency, 'SEK');
    const cart = await fillCart(c, cat);
    await noSideScroll(c, 'shop');
    await axe(c, 'shop');
    await c.shot('cart');

    await page.getByRole('button', { name: 'Checkout' }).click();
    await viewShown(c, 'Checkout');
    await c.widget.getByRole('radio', { name: 'Pay with Klarna' }).waitFor();
    const pay = page.getByRole('button', { name: 'Pay', exact: true });
    await page.waitForFunction(() => !document.getElementById('pay').disabled);
    assert.equal(norm(await page.locator('#checkout-total').textContent()), norm(money(cart.total, cat)));
    assert.equal(await page.getByLabel('E-mail').inputValue(), 'customer@email.se');
    await page.getByText('+denied').first().waitFor();
    await noSideScroll(c, 'checkout');
    await axe(c, 'checkout');
    await c.shot('checkout');
    assert.equal(await pay.isEnabled(), true);

    await payInWidget(c);
    await viewShown(c, 'Thank you! Your order is placed');
    const orderId = (await page.locator('#done-order').textContent()).trim();
    assert.match(orderId, UUID_RE);
    assert.equal(norm(await page.locator('#done-amount').textContent()), norm(money(cart.total, cat)));
    assert.equal((await page.locator('#done-fraud').textContent()).trim(), 'ACCEPTED');
    assert.equal(await page.getByRole('link', { name: 'See the order in the merchant portal' }).getAttribute('href'),
      `/portal/#/orders/${orderId}`);
    await page.locator('#status').filter({ hasText: orderId }).waitFor();
    await noSideScroll(c, 'confirmation');
    await axe(c, 'confirmation');
    await c.shot('done');

    // The merchant API (HTTP Basic) has the order, with the cart's amount and lines.
    const order = await merchantGet(`/ordermanagement/v1/orders/${orderId}`);
    assert.equal(order.order_id, orderId);
    assert.equal(order.status, 'AUTHORIZED');
    assert.equal(order.order_amount, cart.total);
    assert.equal(order.purchase_currency, 'SEK');
    const quantities = Object.fromEntries(order.order_lines.map((l) => [l.reference ?? l.name, l.quantity]));
    for (const it of cart.items) {
      const p = cat.products.find((x) => x.sku === it.sku);
      assert.equal(quantities[p.sku] ?? quantities[p.name], it.quantity, `${p.name} × ${it.quantity}`);
    }

    // "Shop again": an empty cart.
    await page.getByRole('button', { name: 'Shop again' }).click();
    await viewShown(c, 'Demo shop');
    await page.getByText('Your cart is empty.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Checkout' }).isDisabled(), true);
    noProblems(c);
    await page.close();
  });
}

test('widget checkout declined: +denied in the e-mail, no order, the cart is kept', T, async () => {
  const c = await tab('declined', 1280, { allow: SIGNED_OUT });
  const { page } = c;
  await signIn(c);
  const cat = await catalog(c);
  await page.getByRole('button', { name: `Add to cart: ${cat.products[0].name}` }).click();
  await page.getByRole('button', { name: 'Checkout' }).click();
  await viewShown(c, 'Checkout');
  await page.waitForFunction(() => !document.getElementById('pay').disabled);
  await page.getByLabel('E-mail').fill('customer+denied@email.se');
  await payInWidget(c, { email: 'customer+denied@email.se' });
  const alert = page.locator('#alert');
  await alert.filter({ hasText: 'Klarna declined this purchase' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Pay', exact: true }).isDisabled(), true);
  await c.shot('declined');
  assert.equal(c.posts.some((p) => p.path === '/demo/api/orders'), false, 'no order placed');
  await page.getByRole('button', { name: 'Back to the cart' }).click();
  await viewShown(c, 'Demo shop');
  assert.equal((await page.locator('.cart-line .count').first().textContent()).trim(), '1', 'the cart is kept');
  noProblems(c);
  await page.close();
});

// ---------- the demo shop: the hosted payment page ----------

for (const width of WIDTHS) {
  test(`HPP at ${width} px: the button reaches the hosted page; paying returns to the demo's success view`, T, async () => {
    const c = await tab('hpp', width, { allow: SIGNED_OUT });
    const { page } = c;
    await signIn(c);
    const cat = await catalog(c);
    const cart = await fillCart(c, cat);
    await page.getByRole('button', { name: "Pay on Klarna's hosted page (HPP)" }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/hpp/payments/'), { timeout: 20000 });
    // Kasse's hosted page, in the session's locale (the catalog's sv-SE): by element ids.
    await page.locator('#step-category h2').waitFor();
    await c.shot('hpp');
    await page.locator('#category-form button[type="submit"]').click();
    await page.locator('#email').fill('customer@email.se');
    await page.locator('#phone').fill(PHONE);
    await page.locator('#identify-form button[type="submit"]').click();
    await page.locator('#otp').fill('123456');
    await page.locator('#code-form button[type="submit"]').click();
    await page.locator('#pay').waitFor();
    await c.shot('hpp-confirm');
    await page.locator('#pay').click();

    await page.waitForURL((u) => u.origin === new URL(kasse.publicUrl).origin && u.pathname === '/demo/', { timeout: 20000 });
    const q = new URL(page.url()).searchParams;
    assert.equal(q.get('hpp'), 'success');
    await viewShown(c, 'Payment complete');
    const sid = (await page.locator('#hpp-sid').textContent()).trim();
    assert.match(sid, UUID_RE);
    const hpp = await merchantGet(`/hpp/v1/sessions/${sid}`);
    assert.equal(hpp.status, 'COMPLETED');
    if (hpp.order_id) {
      // An order placed by the hosted page: shown (from the URL or the HPP session), with a link.
      await page.locator('#hpp-order').filter({ hasText: hpp.order_id }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'See the order in the merchant portal' }).getAttribute('href'),
        `/portal/#/orders/${hpp.order_id}`);
      const order = await merchantGet(`/ordermanagement/v1/orders/${hpp.order_id}`);
      assert.equal(order.order_amount, cart.total);
    }
    await noSideScroll(c, 'HPP result');
    await axe(c, 'HPP result');
    await c.shot('hpp-success');
    await page.getByRole('button', { name: 'Back to the shop' }).click();
    await viewShown(c, 'Demo shop');
    assert.equal(new URL(page.url()).search, '', 'the result is gone from the URL');
    await page.getByText('Your cart is empty.').waitFor();
    noProblems(c);
    await page.close();
  });
}

test('HPP left without paying (Back or Cancel): the demo says so and keeps the cart', T, async () => {
  const c = await tab('hpp-left', 1280, { allow: SIGNED_OUT });
  const { page } = c;
  await signIn(c);
  const cat = await catalog(c);
  await fillCart(c, cat);
  await page.locator('#hpp').click();
  await page.waitForURL((u) => u.pathname.startsWith('/hpp/payments/'), { timeout: 20000 });
  await page.locator('#step-category h2').waitFor();
  // The hosted page offers Back when the merchant gave a back URL, else Cancel (and asks).
  let kind;
  if (await page.locator('#back').isVisible()) {
    kind = 'back';
    await page.locator('#back').click();
  } else {
    kind = 'cancel';
    await page.locator('#cancel').click();
    await page.locator('#cancel-yes').click();
  }
  await page.waitForURL((u) => u.pathname === '/demo/' && u.searchParams.get('hpp') === kind, { timeout: 20000 });
  await viewShown(c, kind === 'back' ? 'Back from the payment page' : 'Payment cancelled');
  await page.getByText('Your cart is still here.').waitFor();
  await c.shot(`hpp-${kind}`);
  await page.getByRole('button', { name: 'Back to the shop' }).click();
  await viewShown(c, 'Demo shop');
  assert.equal((await page.locator('.cart-line .count').first().textContent()).trim(), '2', 'the cart survived the trip');
  noProblems(c);
  await page.close();
});

test('a reload keeps the sign-in (GET /portal/api/session gives the CSRF token back); Sign out ends it', T, async () => {
  const c = await tab('reload', 1280, { allow: SIGNED_OUT });
  const { page } = c;
  await signIn(c);
  await page.reload();
  await viewShown(c, 'Demo shop');
  const cat = await catalog(c);
  await page.getByRole('button', { name: `Add to cart: ${cat.products[0].name}` }).click();
  await page.getByRole('button', { name: 'Checkout' }).click(); // a POST with the CSRF token of the reloaded page
  await viewShown(c, 'Checkout');
  await page.getByRole('link', { name: 'Kasse demo shop' }).click();
  await viewShown(c, 'Demo shop');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await viewShown(c, 'Sign in to the demo shop');
  await page.reload();
  await viewShown(c, 'Sign in to the demo shop');
  assert.ok(c.posts.some((p) => p.method === 'DELETE' && p.path === '/portal/api/session' && p.csrf));
  noProblems(c);
  await page.close();
});

// ---------- the start page ----------

for (const width of WIDTHS) {
  test(`start page at ${width} px: what Kasse is, its version, the base URLs, a first curl and the links`, T, async () => {
    const c = await tab('start', width);
    const { page } = c;
    const res = await page.goto(`${kasse.publicUrl}/`);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/html/);
    await page.getByRole('heading', { level: 1 }).waitFor();
    const text = await page.locator('body').innerText();
    assert.doesNotMatch(text, /\{\{|\}\}/, 'every placeholder is filled');
    assert.match(text, /self-hosted/);
    for (const p of ['/payments/v1', '/ordermanagement/v1', '/hpp/v1', '/customer-token/v1', '/kp/lib/v1/api.js']) {
      assert.ok(text.includes(`${kasse.publicUrl}${p}`), `base URL ${p}`);
    }
    assert.match(text, new RegExp(`curl -u USER:SECRET[\\s\\S]*${kasse.publicUrl.replace(/[.:/]/g, '\\$&')}/payments/v1/sessions`));
    const version = (await kasse.request('GET', '/', { auth: null, headers: { accept: 'application/json' } })).json?.version;
    if (version) assert.ok(text.includes(version), `the version ${version} is shown`);
    for (const [name, href] of [['Merchant portal', '/portal/'], ['Demo shop', '/demo/'], ['Health check', '/kasse/v1/health']]) {
      assert.equal(await page.getByRole('link', { name, exact: true }).first().getAttribute('href'), href, name);
    }
    assert.match(text, /README\.md/);
    assert.match(text, /docs\//);
    const outside = await page.evaluate(() => Array.from(document.links).map((a) => a.href)
      .filter((h) => new URL(h).origin !== location.origin));
    assert.deepEqual(outside, [], 'no links outside Kasse');
    await noSideScroll(c, 'start page');
    await axe(c, 'start page');
    await c.shot('start');
    noProblems(c);
    await page.close();
  });
}

test('start page: a JSON client (Accept: application/json) gets JSON, a browser HTML', T, async () => {
  const json = await kasse.request('GET', '/', { auth: null, headers: { accept: 'application/json' } });
  assert.equal(json.status, 200);
  assert.match(json.headers['content-type'], /^application\/json/);
  assert.equal(typeof json.json, 'object');
  assert.ok(json.json !== null);
  const html = await kasse.request('GET', '/', { auth: null, headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  assert.equal(html.status, 200);
  assert.match(html.headers['content-type'], /^text\/html/);
  assert.match(html.text, /<html lang="en">/);
  assert.doesNotMatch(html.text, /\{\{(version|public_url)\}\}/);
});
