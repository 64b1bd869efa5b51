/*
 * Kasse shopper widget: runs in the iframe the Klarna.Payments SDK (/kp/lib/v1/api.js) puts in
 * the merchant's page, on Kasse's origin, and calls Kasse's shopper API (/kp/shopper/v1/*) with
 * the session's client_token as a Bearer token.
 *
 * Messages (window.postMessage, both sides check the other's origin and name it as target):
 *   widget -> SDK  {source:'kasse-widget', id, type:'ready'|'height'|'categories'|'overlay'|'result', ...}
 *   SDK -> widget  {source:'kasse-sdk', type:'init'|'load'|'flow'|'review', request_id, ...}
 * The merchant page's origin and the instance id arrive in the URL fragment; the client_token
 * only by message.
 *
 * Steps of authorize(): payment method → e-mail and phone → six-digit code → (sign-up, when the
 * shopper API says so) → confirm → POST /kp/shopper/v1/authorize → the result goes to the SDK.
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  // Helpers shared with the hosted payment page (/kasse/assets/ui/kasse-ui.js, loaded first).
  var ui = window.KasseUI;
  var money = ui.money;
  var fieldError = ui.fieldError;
  var params = new URLSearchParams(window.location.hash.slice(1));
  var parentOrigin = params.get('origin') || '';
  var instanceId = params.get('id') || '';

  var state = {
    token: null,
    session: null,
    categories: [],       // identifiers this instance offers
    selected: null,
    showForm: null,
    flow: null,           // {request_id, kind, data}
    email: '',
    phone: '',
    otp: '',
    signupRequired: false,
    signupDone: false,
    overlay: false,
    busy: false,
  };

  // ---- talking to the SDK ----
  function validParent() {
    if (window.parent === window || !/^https?:\/\/[^/]+$/.test(parentOrigin)) return false;
    // Where the browser tells us who embeds us, it must be the origin we were given.
    var ao = window.location.ancestorOrigins;
    if (ao && ao.length && ao[0] !== parentOrigin) return false;
    return true;
  }

  function post(type, extra) {
    var msg = extra || {};
    msg.source = 'kasse-widget';
    msg.id = instanceId;
    msg.type = type;
    window.parent.postMessage(msg, parentOrigin);
  }

  function reply(requestId, kind, result) {
    post('result', { request_id: requestId, kind: kind, result: result });
  }

  // ---- shopper API (errors are KasseUI.ApiError) ----
  function api(method, path, body) {
    return ui.fetchJson('/kp/shopper/v1/' + path, {
      method: method,
      headers: { Authorization: 'Bearer ' + state.token, Accept: 'application/json' },
      credentials: 'omit',
      cache: 'no-store',
    }, body);
  }

  // ---- formatting ----
  function session() { return state.session || {}; }

  // The cart the shopper is paying for: the flow's data (a changed cart) over the session's.
  function cart() {
    var s = session();
    var d = (state.flow && state.flow.data) || {};
    return {
      amount: typeof d.order_amount === 'number' ? d.order_amount : s.order_amount,
      lines: Array.isArray(d.order_lines) ? d.order_lines : (s.order_lines || []),
      currency: d.purchase_currency || s.purchase_currency,
      locale: d.locale || s.locale,
    };
  }

  function total() {
    var c = cart();
    return money(c.amount, c.currency, c.locale);
  }

  function categoryName(id) {
    var list = session().payment_method_categories || [];
    for (var i = 0; i < list.length; i++) if (list[i].identifier === id) return list[i].name || id;
    return id;
  }

  // ---- view ----
  var STEPS = ['step-category', 'step-identify', 'step-code', 'step-signup', 'step-confirm', 'review'];

  function show(stepId) {
    STEPS.forEach(function (id) { $(id).hidden = id !== stepId; });
    var focus = {
      'step-category': function () { var r = document.querySelector('#categories input:checked'); return r; },
      'step-identify': function () { return $('email').value ? $('identify-title') : $('email'); },
      'step-code': function () { return $('otp'); },
      'step-signup': function () { return $('dob'); },
      'step-confirm': function () { return $('confirm-pay'); },
    }[stepId];
    if (state.overlay && focus) {
      var el = focus();
      if (el) el.focus();
    }
    reportHeight();
  }

  function setStatus(text) {
    $('status').textContent = text || '';
    $('status').hidden = !text;
    reportHeight();
  }

  function setAlert(text) {
    $('alert').textContent = text || '';
    $('alert').hidden = !text;
    reportHeight();
  }

  function clearErrors() {
    ['email', 'phone', 'otp', 'dob', 'terms'].forEach(function (id) { fieldError(id, ''); });
    setAlert('');
  }

  function setBusy(busy) {
    state.busy = busy;
    Array.prototype.forEach.call(document.querySelectorAll('button[type="submit"]'), function (b) {
      b.disabled = busy;
    });
    document.body.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  function renderCategories() {
    var box = $('categories');
    box.textContent = '';
    var offered = session().payment_method_categories || [];
    state.categories.forEach(function (id) {
      var info = null;
      for (var i = 0; i < offered.length; i++) if (offered[i].identifier === id) info = offered[i];
      if (!info) return;
      var label = ui.categoryChoice(id, info, id === state.selected, function () { state.selected = id; });
      var img = label.querySelector('img');
      if (img) img.addEventListener('load', reportHeight);
      box.appendChild(label);
    });
  }

  function inlineView() {
    document.body.classList.remove('overlay');
    $('app').removeAttribute('role');
    $('app').removeAttribute('aria-modal');
    $('app').removeAttribute('aria-labelledby');
    $('bar').hidden = true;
    $('foot').hidden = true;
    $('category-continue').hidden = true;
    $('category-form').removeAttribute('aria-label');
    if (state.showForm === false) {
      STEPS.forEach(function (id) { $(id).hidden = true; });
      reportHeight();
    } else {
      show('step-category');
    }
  }

  function overlayView() {
    document.body.classList.add('overlay');
    var app = $('app');
    app.setAttribute('role', 'dialog');
    app.setAttribute('aria-modal', 'true');
    app.setAttribute('aria-labelledby', 'dialog-title');
    $('bar').hidden = false;
    $('foot').hidden = false;
    $('bar-verb').textContent = isTokenize() ? 'Subscribe with' : 'Pay';
    $('bar-merchant').textContent = session().merchant_name || '';
    $('category-continue').hidden = false;
    $('category-continue').textContent = 'Continue';
    var c = cart();
    var totalEl = $('category-total');
    totalEl.textContent = '';
    if (typeof c.amount === 'number') {
      totalEl.appendChild(document.createTextNode('Total'));
      var strong = document.createElement('strong');
      strong.textContent = total();
      totalEl.appendChild(strong);
    }
  }

  // Height of the inline view, for the SDK's heightChanged (only while inline).
  var lastHeight = -1;
  function reportHeight() {
    if (state.overlay || !validParent()) return;
    var h = state.showForm === false && $('alert').hidden && $('status').hidden
      ? 0 : Math.ceil($('app').getBoundingClientRect().height);
    if (h !== lastHeight) {
      lastHeight = h;
      post('height', { height: h });
    }
  }

  // ---- load ----
  // load() without a category (msg.categories null) offers every category of the session.
  function onLoad(msg) {
    var named = Array.isArray(msg.categories) && msg.categories.length > 0;
    state.categories = named ? msg.categories.slice() : [];
    state.selected = msg.preferred || state.categories[0] || null;
    var data = msg.data && typeof msg.data === 'object' ? msg.data : undefined;
    api('GET', 'session').then(function (s) {
      state.session = s;
      var offered = (s.payment_method_categories || []).map(function (c) { return c.identifier; });
      post('categories', { categories: offered });
      if (!named) {
        state.categories = offered.slice();
        if (offered.indexOf(state.selected) === -1) state.selected = offered[0] || null;
      }
      var unknown = state.categories.filter(function (c) { return offered.indexOf(c) === -1; });
      if (unknown.length || !state.categories.length) {
        return { show_form: false, error: { invalid_fields: ['payment_method_category'] } };
      }
      var body = { payment_method_category: state.selected };
      if (data) body.data = data;
      return api('POST', 'load', body).then(function (r) {
        // data may have changed the cart: read the session again
        return data ? api('GET', 'session').then(function (s2) { state.session = s2; return r; }) : r;
      });
    }).then(function (r) {
      var result = { show_form: r.show_form === true };
      if (r.error && Array.isArray(r.error.invalid_fields)) {
        result.error = { invalid_fields: r.error.invalid_fields.slice() };
      }
      state.showForm = result.show_form;
      document.documentElement.lang = (session().locale || 'en').split('-')[0];
      renderCategories();
      prefill();
      inlineView();
      reply(msg.request_id, 'load', result);
    }).catch(function (e) {
      state.showForm = false;
      var result = { show_form: false };
      if (e.path) result.error = { invalid_fields: [e.path] };
      inlineView();
      reply(msg.request_id, 'load', result);
    });
  }

  function billing(from) {
    return from && typeof from === 'object' && from.billing_address && typeof from.billing_address === 'object'
      ? from.billing_address : {};
  }

  function prefill() {
    var fromFlow = billing(state.flow && state.flow.data);
    var fromSession = billing(state.session);
    var email = fromFlow.email || fromSession.email || state.email || '';
    var phone = fromFlow.phone || fromSession.phone || state.phone || '';
    if (email && !$('email').value) $('email').value = email;
    if (phone && !$('phone').value) $('phone').value = phone;
  }

  // ---- the shopper's steps ----
  function startFlow(msg) {
    if (state.flow) {
      // A new call replaces one still open: the old caller learns the shopper did not finish.
      reply(state.flow.request_id, state.flow.kind, { approved: false, show_form: true });
    }
    state.flow = {
      request_id: msg.request_id,
      kind: msg.kind || 'authorize',
      data: msg.data && typeof msg.data === 'object' ? msg.data : null,
    };
    if (msg.category && state.categories.indexOf(msg.category) !== -1) state.selected = msg.category;
    else if (msg.category) {
      state.categories.push(msg.category);
      state.selected = msg.category;
      renderCategories();
    }
    state.otp = '';
    state.signupDone = false;
    $('otp').value = '';
    clearErrors();
    setStatus('');
    prefill();
    state.overlay = true;
    post('overlay', { shown: true });
    overlayView();
    renderCategories();
    // The shopper chooses only when there is a choice: one category is not asked again.
    if (state.flow.kind === 'authorize' && state.categories.length > 1 && !msg.category) show('step-category');
    else show('step-identify');
  }

  function finish(result, inlineMessage, isAlert) {
    var flow = state.flow;
    state.flow = null;
    state.overlay = false;
    setBusy(false);
    if (result.show_form === false) state.showForm = false;
    clearErrors();
    setStatus('');
    inlineView();
    if (isAlert) setAlert(inlineMessage);
    else setStatus(inlineMessage);
    post('overlay', { shown: false });
    if (flow) reply(flow.request_id, flow.kind, result);
  }

  function cancel() {
    if (!state.flow) return;
    finish({ approved: false, show_form: true }, 'Payment not completed. You can try again.', false);
  }

  $('cancel').addEventListener('click', cancel);
  // The focusable controls of the open dialog, in document order (hidden steps excluded).
  function focusables() {
    var all = $('app').querySelectorAll('button, input, select, textarea, a[href], [tabindex]:not([tabindex="-1"])');
    return Array.prototype.filter.call(all, function (el) {
      return !el.disabled && el.getClientRects().length > 0 && !el.closest('[hidden]') &&
        !(el.type === 'radio' && !el.checked && document.querySelector('input[type="radio"][name="' + el.name + '"]:checked'));
    });
  }

  // A modal dialog keeps focus: Tab and Shift-Tab cycle through its controls and never reach
  // the merchant's page behind the overlay.
  function trapTab(e) {
    var list = focusables();
    if (!list.length) { e.preventDefault(); return; }
    var active = document.activeElement;
    var i = list.indexOf(active);
    var next;
    if (i !== -1) {
      next = e.shiftKey ? (i === 0 ? list[list.length - 1] : null) : (i === list.length - 1 ? list[0] : null);
    } else if (!active || active === document.body || !$('app').contains(active)) {
      next = e.shiftKey ? list[list.length - 1] : list[0];
    } else {
      // Focus on a non-tabbable element (a step's heading): the neighbour in document order.
      var after = list.filter(function (el) { return active.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING; });
      var before = list.filter(function (el) { return active.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_PRECEDING; });
      next = e.shiftKey ? (before.length ? null : list[list.length - 1]) : (after.length ? null : list[0]);
    }
    if (next) {
      e.preventDefault();
      next.focus();
    }
  }

  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && state.overlay && !state.busy) cancel();
    else if (e.key === 'Tab' && state.overlay) trapTab(e);
  });

  $('category-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (!state.overlay) return;
    var r = document.querySelector('#categories input:checked');
    if (r) state.selected = r.value;
    show('step-identify');
  });

  $('identify-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (state.busy) return;
    clearErrors();
    var email = $('email').value.trim();
    var phone = $('phone').value.trim();
    var bad = false;
    if (!email) { fieldError('email', 'Enter your e-mail address.'); bad = true; }
    if (!phone) { fieldError('phone', 'Enter your mobile phone number.'); bad = true; }
    if (bad) {
      $(email ? 'phone' : 'email').focus();
      return;
    }
    setBusy(true);
    api('POST', 'identify', { email: email, phone: phone }).then(function (r) {
      setBusy(false);
      state.email = email;
      state.phone = phone;
      state.signupRequired = !!(r && r.signup_required);
      $('code-sent').textContent = 'We sent a code to ' + phone + '.';
      show('step-code');
    }, function (err) {
      setBusy(false);
      if (err.path && /email$/.test(err.path)) {
        fieldError('email', 'Check your e-mail address.');
        $('email').focus();
      } else if (err.path && /phone$/.test(err.path)) {
        fieldError('phone', 'Check your phone number.');
        $('phone').focus();
      } else {
        failRequest(err);
      }
    });
  });

  $('code-back').addEventListener('click', function () { show('step-identify'); });

  $('code-form').addEventListener('submit', function (e) {
    e.preventDefault();
    clearErrors();
    var otp = $('otp').value.trim();
    if (!/^[0-9]{6}$/.test(otp)) {
      fieldError('otp', 'Enter the six digits of the code.');
      $('otp').focus();
      return;
    }
    state.otp = otp;
    if (state.signupRequired && !state.signupDone) show('step-signup');
    else toConfirm();
  });

  $('signup-form').addEventListener('submit', function (e) {
    e.preventDefault();
    clearErrors();
    var dob = $('dob').value;
    var ok = true;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(dob)) { fieldError('dob', 'Enter your date of birth.'); ok = false; }
    if (!$('terms').checked) { fieldError('terms', 'Accept the terms to create an account.'); ok = false; }
    if (!ok) {
      (dob ? $('terms') : $('dob')).focus();
      return;
    }
    state.signupDone = true;
    toConfirm();
  });

  // A tokenize session saves the payment method for a subscription: nothing is paid now.
  function isTokenize() {
    var d = (state.flow && state.flow.data) || {};
    return String(d.intent || session().intent || '').toLowerCase() === 'tokenize';
  }

  var INTERVALS = { DAY: ['day', 'days'], WEEK: ['week', 'weeks'], MONTH: ['month', 'months'], YEAR: ['year', 'years'] };

  // "Coffee club, every month" / "Coffee club, every 2 weeks" from an order line's subscription.
  function subscriptionText(sub) {
    var n = typeof sub.interval_count === 'number' && sub.interval_count > 1 ? sub.interval_count : 1;
    var words = INTERVALS[String(sub.interval || '').toUpperCase()];
    var every = words ? 'every ' + (n > 1 ? n + ' ' + words[1] : words[0]) : '';
    return [sub.name || '', every].filter(Boolean).join(', ');
  }

  function toConfirm() {
    var s = session();
    var c = cart();
    var tokenize = isTokenize();
    var subs = c.lines.filter(function (l) { return l && l.subscription && typeof l.subscription === 'object'; })
      .map(function (l) { return subscriptionText(l.subscription); });
    $('confirm-title').textContent = tokenize ? 'Confirm your subscription' : 'Confirm your purchase';
    $('confirm-subscription-term').hidden = !tokenize || !subs.length;
    $('confirm-subscription').hidden = !tokenize || !subs.length;
    $('confirm-subscription').textContent = tokenize ? subs.join('; ') : '';
    $('confirm-lines').hidden = tokenize;
    $('confirm-total-row').hidden = tokenize;
    $('confirm-note').hidden = !tokenize;
    $('confirm-note').textContent = tokenize
      ? 'Nothing is charged now. ' + (s.merchant_name || 'The store') + ' charges you later, as the subscription says.'
      : '';
    $('confirm-merchant').textContent = s.merchant_name || '';
    $('confirm-category').textContent = categoryName(state.selected);
    $('confirm-email').textContent = state.email;
    var ul = $('confirm-lines');
    ul.textContent = '';
    c.lines.forEach(function (line) {
      var li = document.createElement('li');
      var name = document.createElement('span');
      name.textContent = (line.quantity > 1 ? line.quantity + ' × ' : '') + (line.name || '');
      var amount = document.createElement('span');
      amount.textContent = money(line.total_amount, c.currency, c.locale);
      li.appendChild(name);
      li.appendChild(amount);
      ul.appendChild(li);
    });
    $('confirm-total').textContent = total();
    $('confirm-pay').textContent = tokenize ? 'Confirm subscription' : 'Confirm and pay ' + total();
    show('step-confirm');
  }

  $('confirm-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (state.busy || !state.flow) return;
    clearErrors();
    var body = {
      payment_method_category: state.selected,
      email: state.email,
      phone: state.phone,
      otp: state.otp,
      signup_done: state.signupDone,
    };
    // The sign-up answers stay in the widget: they are not the merchant's data, and create-order
    // must match what the merchant sent.
    if (state.flow.data) body.data = state.flow.data;
    setBusy(true);
    setStatus(isTokenize() ? 'Checking your details…' : 'Checking your purchase…');
    api('POST', 'authorize', body).then(function (r) {
      setStatus('');
      handleResult(r || {});
    }, function (err) {
      setStatus('');
      setBusy(false);
      if (err.path === 'otp') {
        show('step-code');
        fieldError('otp', 'Enter the six digits of the code.');
        $('otp').focus();
      } else if (err.path && /(^|\.)email$/.test(err.path)) {
        show('step-identify');
        fieldError('email', 'Check your e-mail address.');
        $('email').focus();
      } else if (err.path && /(^|\.)phone$/.test(err.path)) {
        show('step-identify');
        fieldError('phone', 'Check your phone number.');
        $('phone').focus();
      } else if (err.path) {
        finish({ approved: false, show_form: true, error: { invalid_fields: [err.path] } },
          'Some details need correcting: ' + err.path + '.', true);
      } else {
        failRequest(err);
      }
    });
  });

  function handleResult(r) {
    var result = { approved: r.approved === true, show_form: r.show_form === true };
    if (typeof r.authorization_token === 'string') result.authorization_token = r.authorization_token;
    if (r.finalize_required === true) result.finalize_required = true;
    if (r.error && Array.isArray(r.error.invalid_fields)) result.error = { invalid_fields: r.error.invalid_fields.slice() };
    if (result.approved) {
      finish(result, 'Approved. ' + (session().merchant_name || 'The store') +
        (isTokenize() ? ' is setting up your subscription.' : ' is completing your order.'), false);
    } else if (!result.show_form) {
      finish(result, "This purchase can't be accepted. Choose another payment method.", true);
    } else if (result.error) {
      finish(result, 'Some details need correcting: ' + result.error.invalid_fields.join(', ') + '.', true);
    } else {
      finish(result, 'The code wasn\u2019t accepted, so the payment did not go through. You can try again.', true);
    }
  }

  // A request that failed for another reason than the shopper's input.
  function failRequest(err) {
    setBusy(false);
    if (err.status === 404 || err.status === 401 || err.status === 403) {
      finish({ approved: false, show_form: false }, 'This payment session is no longer available.', true);
    } else {
      setAlert(err.status === 0
        ? 'Kasse could not be reached. Check your connection and try again.'
        : 'Something went wrong (' + err.message + '). Try again.');
    }
  }

  // ---- payment review (loadPaymentReview, US) ----
  function onReview(msg) {
    api('GET', 'session').then(function (s) {
      state.session = s;
      $('review-category').textContent = s.payment_method_categories && s.payment_method_categories[0]
        ? s.payment_method_categories[0].name : '';
      $('review-email').textContent = billing(s).email || '';
      $('review-total').textContent = money(s.order_amount, s.purchase_currency, s.locale);
      show('review');
      reply(msg.request_id, 'review', { show_form: true });
    }, function () {
      reply(msg.request_id, 'review', { show_form: false });
    });
  }

  // ---- wiring ----
  window.addEventListener('message', function (event) {
    if (event.source !== window.parent || event.origin !== parentOrigin) return;
    var msg = event.data;
    if (!msg || typeof msg !== 'object' || msg.source !== 'kasse-sdk') return;
    switch (msg.type) {
      case 'init':
        if (typeof msg.client_token === 'string') state.token = msg.client_token;
        break;
      case 'load':
        if (state.token) onLoad(msg);
        break;
      case 'flow':
        if (state.token) startFlow(msg);
        break;
      case 'review':
        if (state.token) onReview(msg);
        break;
      default:
        break;
    }
  });

  if (window.ResizeObserver) new ResizeObserver(reportHeight).observe($('app'));
  window.addEventListener('resize', reportHeight);

  if (validParent()) {
    post('ready');
  } else {
    setAlert('This payment form opens from a store\u2019s checkout.');
  }
}());
