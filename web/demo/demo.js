/*
 * Kasse's demo shop (served at /demo/): a merchant's web shop integrated the way Klarna's guides
 * tell a merchant to. The browser never holds the merchant's credentials: it signs in with the
 * portal's sign-in (HttpOnly cookie; the CSRF token only in this page's memory) and Kasse's demo
 * backend (src/api/demo.c) makes the merchant's server calls. Contract: docs/portal.md.
 *
 *   GET  /portal/api/session          who is signed in (401: the sign-in form)
 *   POST /portal/api/session          {username, secret} -> {merchant, csrf_token, ...}
 *   DELETE /portal/api/session        sign out
 *   GET  /demo/api/catalog            {products: [{sku, name, unit_price, tax_rate}], purchase_currency, locale}
 *   POST /demo/api/checkout           {items: [{sku, quantity}]} -> the KP session {session_id, client_token,
 *                                     payment_method_categories, order_amount, order_lines}
 *   POST /demo/api/orders             {session_id, authorization_token} -> {order_id, redirect_url, fraud_status};
 *                                     the browser then follows redirect_url to /demo/?order_id=...
 *   POST /demo/api/hpp                {items} -> {redirect_url} (Kasse's hosted payment page)
 *   GET  /portal/api/hpp/v1/sessions/{id}   the HPP session, back from the hosted page
 *
 * Every request other than GET carries X-Kasse-CSRF. The Klarna side is the documented one:
 * window.klarnaAsyncCallback, Klarna.Payments.init({client_token}),
 * load({container, payment_method_category}), authorize({payment_method_category},
 * {billing_address}, callback). The hosted page sends the shopper back to
 * /demo/?hpp=success|failure|cancel|back|error&sid=... (the backend's merchant_urls).
 *
 * Views: sign-in, shop (catalog and cart), checkout (widget and billing details), done (the
 * order), hpp (back from the hosted page). Each view's h1 gets focus when it is shown; what
 * happens is said in the status region, what went wrong in the alert region.
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var ui = window.KasseUI;
  var CART_KEY = 'kasse-demo-cart';
  var VIEWS = ['signin', 'shop', 'checkout', 'done', 'hpp'];
  var TITLES = {
    signin: 'Sign in', shop: 'Shop', checkout: 'Checkout', done: 'Order placed', hpp: 'Payment result',
  };

  var state = {
    csrf: null,          // the sign-in session's CSRF token (memory only)
    merchant: null,
    catalog: null,       // {products, purchase_currency, locale, ...}
    cart: {},            // sku -> quantity
    session: null,       // the KP session of the current checkout
    category: null,      // its payment_method_category
    busy: false,
  };

  // ---- the Klarna.Payments SDK (loaded async after this file) ----
  var sdkResolve;
  var sdkReject;
  var sdkReady = new Promise(function (resolve, reject) { sdkResolve = resolve; sdkReject = reject; });
  sdkReady.catch(function () { /* reported where it is used */ });
  window.klarnaAsyncCallback = function () { sdkResolve(window.Klarna.Payments); };
  if (window.Klarna && window.Klarna.Payments) sdkResolve(window.Klarna.Payments);
  // A script that failed to load reports on window (capture phase), not on window.onerror.
  window.addEventListener('error', function (ev) {
    var t = ev.target;
    if (t && t.tagName === 'SCRIPT' && /\/kp\/lib\/v1\/api\.js$/.test(t.src)) {
      sdkReject(new Error('the Klarna.Payments SDK (/kp/lib/v1/api.js) did not load'));
    }
  }, true);

  // ---- helpers ----
  function money(minor) {
    var c = state.catalog || {};
    return ui.money(minor, c.purchase_currency || 'SEK', c.locale || 'sv-SE');
  }

  function say(text) { $('status').textContent = text || ''; }

  function alertText(text) {
    $('alert').textContent = text || '';
    $('alert').hidden = !text;
  }

  function errorText(err, fallback) {
    if (err && err.status === 0) return 'Kasse did not answer. Check that it is running and try again.';
    return (err && err.body && Array.isArray(err.body.error_messages) && err.body.error_messages[0]) ||
      fallback || (err && err.message) || 'Something went wrong.';
  }

  // A Kasse call: same origin, the sign-in cookie, the CSRF header on every change.
  function api(method, path, body) {
    var headers = { Accept: 'application/json' };
    if (method !== 'GET' && method !== 'HEAD' && state.csrf) headers['X-Kasse-CSRF'] = state.csrf;
    return ui.fetchJson(path, { method: method, headers: headers, credentials: 'same-origin' }, body)
      .catch(function (err) {
        // The sign-in expired (or was ended elsewhere): sign in again, keeping the cart.
        if (err.status === 401 && path !== '/portal/api/session') signedOut('Your sign-in has ended. Sign in again.');
        throw err;
      });
  }

  function show(name) {
    $('loading').hidden = true;
    VIEWS.forEach(function (v) { $('view-' + v).hidden = v !== name; });
    document.title = TITLES[name] + ' \u2013 Kasse demo shop';
    var h = $('view-' + name).querySelector('h1');
    if (h) h.focus();
  }

  function isPlaceholder(v) { return !v || /^\{\{.*\}\}$/.test(v); }

  // ---- the cart (kept in sessionStorage, so it survives a trip to the hosted page) ----
  function saveCart() {
    try { window.sessionStorage.setItem(CART_KEY, JSON.stringify(state.cart)); } catch (e) { /* private mode */ }
  }

  function loadCart() {
    try {
      var c = JSON.parse(window.sessionStorage.getItem(CART_KEY) || '{}');
      if (c && typeof c === 'object') state.cart = c;
    } catch (e) { state.cart = {}; }
  }

  function product(sku) {
    var list = (state.catalog && state.catalog.products) || [];
    for (var i = 0; i < list.length; i++) if (list[i].sku === sku) return list[i];
    return null;
  }

  function cartItems() {
    var list = (state.catalog && state.catalog.products) || [];
    return list.filter(function (p) { return state.cart[p.sku] > 0; })
      .map(function (p) { return { sku: p.sku, quantity: state.cart[p.sku] }; });
  }

  // Klarna's arithmetic: prices include tax; a line's tax is total * rate / (10000 + rate).
  function cartTotals() {
    var total = 0;
    var tax = 0;
    cartItems().forEach(function (it) {
      var p = product(it.sku);
      var line = p.unit_price * it.quantity;
      total += line;
      tax += Math.round(line * p.tax_rate / (10000 + p.tax_rate));
    });
    return { total: total, tax: tax, count: cartItems().reduce(function (n, it) { return n + it.quantity; }, 0) };
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function button(id, cls, text, label, onClick) {
    var b = el('button', cls, text);
    b.type = 'button';
    b.id = id;
    if (label) b.setAttribute('aria-label', label);
    b.addEventListener('click', onClick);
    return b;
  }

  function renderCatalog() {
    var ul = $('products');
    ul.textContent = '';
    state.catalog.products.forEach(function (p, i) {
      var li = el('li', 'product');
      var info = el('div', 'product-info');
      info.appendChild(el('span', 'product-name', p.name));
      info.appendChild(el('span', 'product-price', money(p.unit_price)));
      li.appendChild(info);
      // The name starts with what the button shows, then says which product.
      var add = button('add-' + i, 'secondary add', 'Add to cart', 'Add to cart: ' + p.name,
        function () { change(p.sku, 1, add.id); });
      li.appendChild(add);
      ul.appendChild(li);
    });
  }

  function renderCart() {
    var ul = $('cart-lines');
    ul.textContent = '';
    var list = state.catalog.products;
    list.forEach(function (p, i) {
      var q = state.cart[p.sku] || 0;
      if (q <= 0) return;
      var li = el('li', 'cart-line');
      var name = el('span', 'line-name', p.name);
      name.id = 'line-' + i;
      li.appendChild(name);
      var qty = el('span', 'qty');
      qty.appendChild(button('dec-' + i, 'step', '\u2212', 'Remove one ' + p.name, function () { change(p.sku, -1, 'dec-' + i); }));
      var out = el('output', 'count', String(q));
      out.setAttribute('aria-label', 'Quantity of ' + p.name);
      qty.appendChild(out);
      qty.appendChild(button('inc-' + i, 'step', '+', 'Add one ' + p.name, function () { change(p.sku, 1, 'inc-' + i); }));
      li.appendChild(qty);
      li.appendChild(el('span', 'line-total', money(p.unit_price * q)));
      ul.appendChild(li);
    });
    var t = cartTotals();
    $('cart-empty').hidden = t.count > 0;
    $('cart-totals').hidden = t.count === 0;
    $('cart-total').textContent = money(t.total);
    $('cart-tax').textContent = money(t.tax);
    $('checkout').disabled = t.count === 0 || state.busy;
    $('hpp').disabled = t.count === 0 || state.busy;
  }

  // One more (+1) or one less (-1) of a product; focusId: the button pressed, focused again
  // after the cart is drawn anew (or the product's Add button when its line is gone).
  function change(sku, delta, focusId) {
    var p = product(sku);
    if (!p) return;
    var q = Math.max(0, Math.min(99, (state.cart[sku] || 0) + delta));
    if (q) state.cart[sku] = q;
    else delete state.cart[sku];
    saveCart();
    renderCart();
    var again = $(focusId);
    if (!again) again = $('add-' + state.catalog.products.indexOf(p));
    if (again && again !== document.activeElement) again.focus();
    var t = cartTotals();
    say(p.name + ': ' + q + ' in the cart. Cart total ' + money(t.total) + '.');
  }

  // ---- sign-in ----
  function signedIn(s) {
    state.csrf = s.csrf_token;
    state.merchant = s.merchant || {};
    $('who-name').textContent = state.merchant.name || state.merchant.username || '';
    $('who').hidden = false;
  }

  function signedOut(message) {
    state.csrf = null;
    state.merchant = null;
    $('who').hidden = true;
    $('secret').value = '';
    showSigninError(message || '');
    alertText('');
    say('');
    show('signin');
  }

  function showSigninError(text) {
    $('signin-error').textContent = text;
    $('signin-error').hidden = !text;
  }

  $('signin-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (state.busy) return;
    var username = $('username').value.trim();
    var secret = $('secret').value;
    ui.fieldError('username', username ? '' : 'Enter your merchant username.');
    ui.fieldError('secret', secret ? '' : 'Enter your merchant secret.');
    showSigninError('');
    if (!username || !secret) {
      $(username ? 'secret' : 'username').focus();
      return;
    }
    state.busy = true;
    $('signin-submit').disabled = true;
    say('Signing in\u2026');
    api('POST', '/portal/api/session', { username: username, secret: secret }).then(function (s) {
      $('secret').value = '';
      signedIn(s);
      say('Signed in.');
      return start();
    }, function (err) {
      var text = errorText(err, 'Signing in did not work.');
      if (err.status === 429) text += ' Wait a few minutes before trying again.';
      say('');
      showSigninError(text);
      $('secret').focus();
    }).then(function () {
      state.busy = false;
      $('signin-submit').disabled = false;
    });
  });

  $('sign-out').addEventListener('click', function () {
    api('DELETE', '/portal/api/session').catch(function () { /* signed out anyway */ }).then(function () {
      signedOut('');
      say('Signed out.');
    });
  });

  // ---- the shop ----
  function start() {
    var again = state.catalog ? Promise.resolve(state.catalog) : api('GET', '/demo/api/catalog');
    return again.then(function (c) {
      state.catalog = c;
      // Only what the catalog still has stays in the cart.
      Object.keys(state.cart).forEach(function (sku) {
        if (!product(sku) || !(state.cart[sku] > 0)) delete state.cart[sku];
      });
      renderCatalog();
      renderCart();
      var q = new URLSearchParams(window.location.search);
      if (q.get('hpp')) hppResult(q);
      else if (q.get('order_id') && !isPlaceholder(q.get('order_id'))) return confirmation(q.get('order_id'));
      else show('shop');
    }, function (err) {
      if (err.status === 401) return;
      $('loading').hidden = true;
      alertText('The catalog could not be loaded: ' + errorText(err));
    });
  }

  function toShop() {
    if (window.location.search) window.history.replaceState(null, '', window.location.pathname);
    alertText('');
    say('');
    renderCart();
    show('shop');
  }

  function setBusy(on) {
    state.busy = on;
    renderCart();
  }

  // ---- checkout through the widget ----
  $('checkout').addEventListener('click', function () {
    if (state.busy || !cartItems().length) return;
    setBusy(true);
    alertText('');
    say('Starting the checkout\u2026');
    api('POST', '/demo/api/checkout', { items: cartItems() }).then(function (s) {
      state.session = s;
      var cats = s.payment_method_categories || [];
      state.category = cats.length ? cats[0].identifier : null;
      $('checkout-total').textContent = money(s.order_amount);
      $('pay').disabled = true;
      $('widget-loading').hidden = false;
      say('');
      show('checkout');
      return sdkReady.then(function (P) { loadWidget(P, s); });
    }).catch(function (err) {
      if (err && err.status === 401) return;
      say('');
      alertText('The checkout could not start: ' + errorText(err));
    }).then(function () { setBusy(false); });
  });

  function loadWidget(P, s) {
    try {
      P.init({ client_token: s.client_token });
      var options = { container: '#klarna-payments-container' };
      if (state.category) options.payment_method_category = state.category;
      P.load(options, function (res) {
        $('widget-loading').hidden = true;
        if (res && res.show_form) {
          $('pay').disabled = false;
          say('Klarna is ready. Check your details and press Pay.');
        } else {
          alertText('Klarna cannot offer a payment for this purchase. Go back to the cart to change it.');
        }
      });
    } catch (e) {
      $('widget-loading').hidden = true;
      alertText('The payment form could not be shown: ' + (e && e.message ? e.message : String(e)));
    }
  }

  var BILLING_FIELDS = ['given_name', 'family_name', 'email', 'street_address', 'postal_code', 'city', 'phone'];
  var MISSING = {
    given_name: 'Enter the first name.', family_name: 'Enter the last name.', email: 'Enter the e-mail address.',
    street_address: 'Enter the street address.', postal_code: 'Enter the postal code.', city: 'Enter the city.',
    phone: 'Enter the mobile phone number.',
  };

  function billingAddress() {
    var a = { country: 'SE' };
    var first = null;
    BILLING_FIELDS.forEach(function (f) {
      var v = $(f).value.trim();
      var bad = !v ? MISSING[f] : (f === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v) ? 'Check the e-mail address.' : '');
      ui.fieldError(f, bad);
      if (bad && !first) first = f;
      a[f] = v;
    });
    if (first) {
      $(first).focus();
      return null;
    }
    return a;
  }

  $('billing-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (state.busy || !state.session || $('pay').disabled) return;
    var billing = billingAddress();
    if (!billing) return;
    alertText('');
    $('pay').disabled = true;
    state.busy = true;
    say('Waiting for Klarna\u2026');
    var options = state.category ? { payment_method_category: state.category } : {};
    sdkReady.then(function (P) {
      P.authorize(options, { billing_address: billing }, function (res) { authorized(res || {}); });
    }).catch(function (e) {
      state.busy = false;
      $('pay').disabled = false;
      say('');
      alertText('The payment could not start: ' + (e && e.message ? e.message : String(e)));
    });
  });

  function authorized(res) {
    if (res.approved && res.authorization_token) {
      say('Approved by Klarna. Placing the order\u2026');
      api('POST', '/demo/api/orders', { session_id: state.session.session_id, authorization_token: res.authorization_token })
        .then(function (o) {
          state.busy = false;
          orderPlaced(o);
        }, function (err) {
          state.busy = false;
          if (err.status === 401) return;
          say('');
          alertText('Klarna approved the payment but the order could not be placed: ' + errorText(err));
        });
      return;
    }
    state.busy = false;
    if (res.show_form === false) {
      say('');
      alertText('Klarna declined this purchase. Go back to the cart to try again, for example with an e-mail without +denied.');
      $('back-to-cart').focus();
    } else {
      $('pay').disabled = false;
      say('The payment was not completed. You can press Pay to try again.');
    }
  }

  // As Klarna's guide says: once the order is placed, the browser goes to the order's
  // redirect_url, which brings it back to the merchant's confirmation page
  // (merchant_urls.confirmation: /demo/?order_id={order.id}).
  function orderPlaced(o) {
    state.cart = {};
    saveCart();
    state.session = null;
    say('Order ' + o.order_id + ' placed. On to the confirmation\u2026');
    window.location.href = o.redirect_url;
  }

  // The confirmation page: the order as the merchant's backend reads it.
  function confirmation(orderId) {
    say('Loading order ' + orderId + '\u2026');
    return api('GET', '/portal/api/ordermanagement/v1/orders/' + encodeURIComponent(orderId)).then(function (o) {
      $('done-order').textContent = o.order_id;
      $('done-amount').textContent = money(o.order_amount);
      $('done-fraud').textContent = o.fraud_status || '\u2013';
      $('done-portal').href = '/portal/#/orders/' + encodeURIComponent(o.order_id);
      alertText('');
      say('Order ' + o.order_id + ' placed.');
      show('done');
    }, function (err) {
      if (err.status === 401) return;
      say('');
      alertText('The order could not be loaded: ' + errorText(err));
      show('shop');
    });
  }

  $('back-to-cart').addEventListener('click', function () {
    state.session = null;
    $('klarna-payments-container').textContent = '';
    toShop();
  });

  $('done-again').addEventListener('click', toShop);
  $('hpp-again').addEventListener('click', toShop);

  // ---- Klarna's hosted payment page ----
  $('hpp').addEventListener('click', function () {
    if (state.busy || !cartItems().length) return;
    setBusy(true);
    alertText('');
    say('Opening the hosted payment page\u2026');
    saveCart();
    api('POST', '/demo/api/hpp', { items: cartItems() }).then(function (r) {
      window.location.href = r.redirect_url;
    }, function (err) {
      setBusy(false);
      if (err.status === 401) return;
      say('');
      alertText('The hosted payment page could not be opened: ' + errorText(err));
    });
  });

  var HPP_RESULTS = {
    success: ['Payment complete', 'Klarna\u2019s hosted payment page approved the payment. Thank you for your order!'],
    failure: ['Payment declined', 'The payment on the hosted payment page was declined. Your cart is still here.'],
    cancel: ['Payment cancelled', 'You cancelled the payment on the hosted payment page. Your cart is still here.'],
    back: ['Back from the payment page', 'You left the hosted payment page without paying. Your cart is still here.'],
    error: ['Something went wrong', 'The hosted payment page could not complete the payment. Your cart is still here.'],
  };

  function hppResult(q) {
    var kind = HPP_RESULTS[q.get('hpp')] ? q.get('hpp') : 'error';
    var sid = q.get('sid');
    var order = q.get('order_id') || q.get('order');
    if (isPlaceholder(sid)) sid = null;
    if (isPlaceholder(order)) order = null;
    $('hpp-title').textContent = HPP_RESULTS[kind][0];
    $('hpp-text').textContent = HPP_RESULTS[kind][1];
    $('hpp-sid').textContent = sid || '\u2013';
    showHppOrder(order);
    if (kind === 'success') {
      state.cart = {};
      saveCart();
      renderCart();
    }
    show('hpp');
    say(HPP_RESULTS[kind][0] + '.');
    // The order id, when the return URL did not carry it: the HPP session knows it.
    if (kind === 'success' && sid && !order) {
      api('GET', '/portal/api/hpp/v1/sessions/' + encodeURIComponent(sid)).then(function (h) {
        if (h && h.order_id) showHppOrder(h.order_id);
      }, function () { /* the session id is shown; the portal has the rest */ });
    }
  }

  function showHppOrder(order) {
    $('hpp-order').textContent = order || '';
    Array.prototype.forEach.call(document.querySelectorAll('.hpp-order'), function (e) { e.hidden = !order; });
    $('hpp-portal-row').hidden = !order;
    if (order) $('hpp-portal').href = '/portal/#/orders/' + encodeURIComponent(order);
  }

  // ---- start: who is signed in? ----
  loadCart();
  api('GET', '/portal/api/session').then(function (s) {
    signedIn(s);
    return start();
  }, function (err) {
    if (err.status === 401) { signedOut(''); return; }
    $('loading').hidden = true;
    alertText('Kasse could not be reached: ' + errorText(err));
  });
}());
