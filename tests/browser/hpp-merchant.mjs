// A merchant for the hosted payment page (HPP) browser tests, on its own origin
// (http://127.0.0.1:PORT, Kasse is http://localhost:KPORT):
//
//   backend:  createPayment() creates a KP session (POST /payments/v1/sessions) and then an HPP
//             session on it (POST /hpp/v1/sessions) whose merchant_urls point here and carry
//             the {{session_id}}, {{authorization_token}} and {{order_id}} placeholders;
//             kasse() is the merchant API with HTTP Basic (any of the seeded merchants).
//   pages:    GET /success, /failure, /error, /back, /cancel: where the browser is sent; every
//             landing is recorded with its query string (landings).
//   callback: POST /status?key=…: merchant_urls.status_update; every request is recorded
//             (callbacks) and answered 200.
//
// Run it by hand: node tests/browser/hpp-merchant.mjs KASSE_URL USER:SECRET [PORT]
// (prints the merchant's URL and the redirect_url of a new HPP session).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { cartFor } from './merchant.mjs';

export const PAGES = ['success', 'failure', 'error', 'back', 'cancel'];

/** The merchant_urls this merchant sends for the given keys (status_update included by default). */
export function merchantUrlsFor(base, keys, key) {
  const templates = {
    success: `${base}/success?sid={{session_id}}&token={{authorization_token}}&order_id={{order_id}}`,
    failure: `${base}/failure?sid={{session_id}}`,
    error: `${base}/error?sid={{session_id}}`,
    back: `${base}/back?sid={{session_id}}`,
    cancel: `${base}/cancel?sid={{session_id}}`,
    status_update: `${base}/status?key=${key}`,
  };
  const out = {};
  for (const k of keys) out[k] = templates[k];
  return out;
}

function landingPage(kind, query) {
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const rows = [...query].map(([k, v]) => `<li><code>${esc(k)}</code>: <code>${esc(v)}</code></li>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Test shop: ${kind}</title>
<style>body { font: 16px/1.4 system-ui, sans-serif; margin: 0 auto; padding: 16px; max-width: 640px; }</style>
</head><body><h1>Test shop: ${kind}</h1><ul>${rows}</ul></body></html>`;
}

/**
 * Start the merchant. kasseUrl: where the merchant's server reaches Kasse (http://127.0.0.1:P);
 * publicUrl: Kasse's public URL (the host of payment_session_url).
 * Resolves to { url, landings, callbacks, kasse(), createPayment(), waitForCallbacks(), close() }.
 */
export async function startHppMerchant({ kasseUrl, publicUrl = kasseUrl, merchant, port = 0, host = '127.0.0.1' }) {
  const landings = [];   // { kind, path, query: {..}, raw: req.url }
  const callbacks = [];  // { key, body, raw }
  const sockets = new Set();

  async function kasse(method, path, body, who = merchant) {
    const res = await fetch(kasseUrl + path, {
      method,
      headers: {
        authorization: 'Basic ' + Buffer.from(`${who.user}:${who.secret}`).toString('base64'),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15000),
    });
    const text = await res.text();
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = { raw: text }; }
    return { status: res.status, json, text };
  }

  /**
   * The merchant's checkout: KP session, then HPP session. urls: which merchant_urls to send
   * (keys of merchantUrlsFor). Resolves to { kp, hpp (the 201 body), key, cart, who }.
   */
  async function createPayment({ who = merchant, cart = cartFor(1), urls = ['success', 'failure', 'cancel', 'status_update'],
    options, extra = {} } = {}) {
    const kp = await kasse('POST', '/payments/v1/sessions', { ...cart, intent: 'buy', acquiring_channel: 'ECOMMERCE' }, who);
    if (kp.status !== 200) throw new Error(`KP session: ${kp.status} ${kp.text}`);
    const key = randomUUID();
    const body = {
      payment_session_url: `${publicUrl}/payments/v1/sessions/${kp.json.session_id}`,
      merchant_urls: merchantUrlsFor(url, urls, key),
      ...extra,
    };
    if (options) body.options = options;
    const hpp = await kasse('POST', '/hpp/v1/sessions', body, who);
    if (hpp.status !== 201) throw new Error(`HPP session: ${hpp.status} ${hpp.text}`);
    return { kp: kp.json, hpp: hpp.json, key, cart, who };
  }

  /** Status callbacks sent to this payment's status_update URL. */
  function callbacksFor(key) {
    return callbacks.filter((c) => c.key === key);
  }

  /** Resolves once `n` callbacks for the payment arrived (rejects after timeoutMs). */
  async function waitForCallbacks(key, n, timeoutMs = 15000) {
    const end = Date.now() + timeoutMs;
    while (callbacksFor(key).length < n) {
      if (Date.now() > end) {
        throw new Error(`${callbacksFor(key).length} of ${n} status callbacks arrived: ${JSON.stringify(callbacksFor(key))}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return callbacksFor(key);
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url, 'http://merchant');
      const kind = u.pathname.slice(1);
      if (req.method === 'GET' && PAGES.includes(kind)) {
        landings.push({ kind, path: u.pathname, query: Object.fromEntries(u.searchParams), raw: req.url });
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(landingPage(kind, u.searchParams));
        return;
      }
      if (req.method === 'POST' && u.pathname === '/status') {
        const text = Buffer.concat(chunks).toString('utf8');
        let body;
        try { body = JSON.parse(text); } catch { body = { raw: text }; }
        callbacks.push({ key: u.searchParams.get('key'), body, raw: req.url, at: Date.now() });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const url = `http://${host}:${server.address().port}`;
  return {
    url,
    landings,
    callbacks,
    kasse,
    createPayment,
    callbacksFor,
    waitForCallbacks,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [kasseUrl, creds, port] = process.argv.slice(2);
  if (!kasseUrl || !creds) {
    console.error('usage: node tests/browser/hpp-merchant.mjs KASSE_URL USER:SECRET [PORT]');
    process.exit(2);
  }
  const i = creds.indexOf(':');
  const m = await startHppMerchant({ kasseUrl, merchant: { user: creds.slice(0, i), secret: creds.slice(i + 1) },
    port: Number(port || 0) });
  const p = await m.createPayment({ urls: ['success', 'failure', 'back', 'status_update'] });
  console.log(`merchant: ${m.url}`);
  console.log(`pay at:   ${p.hpp.redirect_url}`);
}
