// A tiny merchant for the browser tests: its own origin, a checkout page that follows Klarna's
// documented Klarna Payments integration (contract 6.1-6.4), and a server side that talks to
// Kasse's merchant API with HTTP Basic.
//
//   page:   window.klarnaAsyncCallback → POST /api/session (server creates the Kasse session)
//           → Klarna.Payments.init({client_token}) → load({container, payment_method_category})
//           → "Place order" → authorize({payment_method_category}, {billing_address, ...})
//           → POST /api/order {authorization_token} → server: create-order → {order_id}
//   cart:   "Add another" changes the cart; the next "Place order" calls reauthorize() with the
//           new cart as data, as Klarna documents for a cart that changed after authorization.
//
// Query parameters of the page (GET /):
//   email=…       the shopper's billing e-mail (default customer@email.se)
//   category=…    payment_method_category (default: the first one the session offers)
//   prescreen=1   also pass billing_address as load() data (pre-screening: +red → show_form false)
//   hold=1        do not place the order right after approval; a "Complete order" button does
//   nocategory=1  load({container}) and authorize({}, data, cb) without payment_method_category
//                 (Klarna marks it optional)
//   intent=tokenize  the session is created with intent tokenize and the line carries a
//                 subscription (SUBSCRIPTION below)
// GET /blank is an empty page that loads api.js without klarnaAsyncCallback.
//
// Everything the page sees from the SDK is kept in window.kasseLog ([{call, result}]) for the tests.
//
// Run it by hand: node tests/browser/merchant.mjs KASSE_URL USER:SECRET [PORT]
import http from 'node:http';
import { fileURLToPath } from 'node:url';

// Klarna's SE example cart, one line: a Battery Power Pack at 100.00 SEK incl. 25 % VAT.
const UNIT_PRICE = 10000;
const TAX_RATE = 2500;

export function cartFor(quantity) {
  const total = UNIT_PRICE * quantity;
  const tax = Math.round(total * TAX_RATE / (10000 + TAX_RATE));
  return {
    purchase_country: 'SE',
    purchase_currency: 'SEK',
    locale: 'en-SE',
    order_amount: total,
    order_tax_amount: tax,
    order_lines: [{
      type: 'physical',
      reference: '19-402',
      name: 'Battery Power Pack',
      quantity,
      unit_price: UNIT_PRICE,
      tax_rate: TAX_RATE,
      total_amount: total,
      total_discount_amount: 0,
      total_tax_amount: tax,
    }],
  };
}

// The order line's subscription in a tokenize session (Klarna's order_line.subscription).
export const SUBSCRIPTION = { name: 'Power Pack Club', interval: 'MONTH', interval_count: 3 };

// Klarna's approved SE playground identity (contract 7.2) with the shopper's e-mail.
export function billingFor(email) {
  return {
    given_name: 'Alice',
    family_name: 'Test',
    email,
    street_address: 'Södra Blasieholmshamnen 2',
    postal_code: '11148',
    city: 'Stockholm',
    phone: '+46701740615',
    country: 'SE',
  };
}

function page(sdkUrl) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test shop checkout</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; margin: 0 auto; padding: 16px; max-width: 640px; }
  button { font: inherit; min-height: 44px; padding: 8px 16px; margin: 4px 0; }
  #klarna-payments-container { margin: 12px 0; }
  .result { font-weight: 600; }
</style>
</head>
<body>
<h1>Test shop</h1>
<p>Cart: <span id="quantity">1</span> × Battery Power Pack, total <span id="amount">100.00</span> SEK</p>
<button type="button" id="add">Add another</button>
<div id="klarna-payments-container"></div>
<button type="button" id="buy">Place order</button>
<button type="button" id="complete" hidden>Complete order</button>
<p class="result" id="result" role="status"></p>
<script>
  (function () {
    var q = new URLSearchParams(location.search);
    var email = q.get('email') || 'customer@email.se';
    var hold = q.get('hold') === '1';
    var prescreen = q.get('prescreen') === '1';
    var nocategory = q.get('nocategory') === '1';
    var intent = q.get('intent') || 'buy';
    var state = { quantity: 1, category: q.get('category'), token: null, authorizedQuantity: null };
    window.kasseLog = [];
    function log(call, result) { window.kasseLog.push({ call: call, result: result }); }
    function say(text) { document.getElementById('result').textContent = text; }
    function post(path, body) {
      return fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body) }).then(function (r) {
        return r.json().then(function (j) { if (!r.ok) throw new Error(JSON.stringify(j)); return j; });
      });
    }
    var BILLING = ${JSON.stringify(billingFor(''))};
    function billing() { return Object.assign({}, BILLING, { email: email }); }
    var UNIT_PRICE = ${UNIT_PRICE};
    var TAX_RATE = ${TAX_RATE};
    window.shopCart = ${cartFor.toString()};
    function cart() { return window.shopCart(state.quantity); }

    function placeOrder(token) {
      return post('/api/order', { authorization_token: token, quantity: state.quantity, email: email })
        .then(function (o) { log('order', o); say('Order placed: ' + o.order_id); },
              function (e) { log('order-error', String(e.message)); say('Order failed: ' + e.message); });
    }

    function onAuthorized(call, res) {
      log(call, res);
      if (res.approved) {
        state.token = res.authorization_token;
        state.authorizedQuantity = state.quantity;
        if (hold) { say('Authorized'); document.getElementById('complete').hidden = false; }
        else placeOrder(res.authorization_token);
      } else if (!res.show_form) {
        say('Payment declined');
      } else {
        say('Payment not completed');
      }
    }

    document.getElementById('add').addEventListener('click', function () {
      state.quantity += 1;
      document.getElementById('quantity').textContent = String(state.quantity);
      document.getElementById('amount').textContent = (cart().order_amount / 100).toFixed(2);
    });

    document.getElementById('buy').addEventListener('click', function () {
      var options = nocategory ? {} : { payment_method_category: state.category };
      if (state.token && state.authorizedQuantity !== state.quantity) {
        // The cart changed after authorization: re-authorize with the new cart.
        var c = cart();
        Klarna.Payments.reauthorize(options, {
          billing_address: billing(), order_amount: c.order_amount,
          order_tax_amount: c.order_tax_amount, order_lines: c.order_lines,
        }, function (res) { onAuthorized('reauthorize', res); });
      } else {
        Klarna.Payments.authorize(options, { billing_address: billing() },
          function (res) { onAuthorized('authorize', res); });
      }
    });

    document.getElementById('complete').addEventListener('click', function () { placeOrder(state.token); });

    window.klarnaAsyncCallback = function () {
      post('/api/session', { quantity: state.quantity, intent: intent }).then(function (s) {
        log('session', s);
        if (!nocategory) state.category = state.category || s.payment_method_categories[0].identifier;
        Klarna.Payments.init({ client_token: s.client_token });
        ['heightChanged', 'fullscreenOverlayShown', 'fullscreenOverlayHidden'].forEach(function (ev) {
          Klarna.Payments.on(ev, function (v) { log('event:' + ev, v === undefined ? null : v); });
        });
        var opts = { container: '#klarna-payments-container' };
        if (!nocategory) opts.payment_method_category = state.category;
        var cb = function (res) { log('load', res); };
        if (prescreen) Klarna.Payments.load(opts, { billing_address: billing() }, cb);
        else Klarna.Payments.load(opts, cb);
      }, function (e) { log('session-error', String(e.message)); say('Checkout unavailable'); });
    };
  }());
</script>
<script async src="${sdkUrl}/kp/lib/v1/api.js"></script>
</body>
</html>`;
}

/**
 * Start the merchant. kasseUrl: where the merchant's server reaches Kasse's API; sdkUrl: the
 * Kasse origin the browser loads api.js from (defaults to kasseUrl).
 * Resolves to { url, port, orders, close() }.
 */
export async function startMerchant({ kasseUrl, sdkUrl = kasseUrl, user, secret, port = 0, host = '127.0.0.1' }) {
  const auth = 'Basic ' + Buffer.from(`${user}:${secret}`).toString('base64');
  const orders = [];

  async function kasse(method, path, body) {
    const res = await fetch(kasseUrl + path, {
      method,
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = { raw: text }; }
    return { status: res.status, json };
  }

  async function readJson(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
  }

  function send(res, status, body, type = 'application/json') {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(text);
  }

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://merchant');
      if (req.method === 'GET' && url.pathname === '/') return send(res, 200, page(sdkUrl), 'text/html; charset=utf-8');
      if (req.method === 'GET' && url.pathname === '/blank') {
        // The library loaded without klarnaAsyncCallback, for tests that drive it by hand.
        return send(res, 200, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Blank</title></head>
<body><div id="klarna-payments-container"></div><script src="${sdkUrl}/kp/lib/v1/api.js"></script></body></html>`,
        'text/html; charset=utf-8');
      }
      if (req.method === 'POST' && url.pathname === '/api/session') {
        const { quantity = 1, intent = 'buy' } = await readJson(req);
        const cart = cartFor(quantity);
        if (intent === 'tokenize') cart.order_lines[0].subscription = SUBSCRIPTION;
        const r = await kasse('POST', '/payments/v1/sessions', {
          ...cart, intent, acquiring_channel: 'ECOMMERCE',
        });
        if (r.status !== 200) return send(res, 502, { kasse: r });
        return send(res, 200, r.json);
      }
      if (req.method === 'POST' && url.pathname === '/api/order') {
        const { authorization_token: token, quantity = 1, email = 'customer@email.se' } = await readJson(req);
        const r = await kasse('POST', `/payments/v1/authorizations/${encodeURIComponent(token)}/order`, {
          ...cartFor(quantity), billing_address: billingFor(email), merchant_reference1: `test-${orders.length + 1}`,
        });
        if (r.status !== 200) return send(res, 502, { kasse: r });
        orders.push({ token, quantity, email, order: r.json });
        return send(res, 200, r.json);
      }
      return send(res, 404, { error: 'not found' });
    } catch (e) {
      return send(res, 500, { error: String(e && e.stack || e) });
    }
  });

  await new Promise((resolve) => server.listen(port, host, resolve));
  const actualPort = server.address().port;
  return {
    url: `http://${host}:${actualPort}`,
    port: actualPort,
    orders,
    kasse,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [kasseUrl, creds, port] = process.argv.slice(2);
  if (!kasseUrl || !creds) {
    console.error('usage: node tests/browser/merchant.mjs KASSE_URL USER:SECRET [PORT]');
    process.exit(2);
  }
  const i = creds.indexOf(':');
  const m = await startMerchant({ kasseUrl, user: creds.slice(0, i), secret: creds.slice(i + 1), port: Number(port || 0) });
  console.log(`merchant: ${m.url}`);
}
