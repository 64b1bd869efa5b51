/*
 * Kasse's merchant portal (docs/portal.md): one page, hash routes, every datum read through
 * /portal/api/... (the merchant API behind the portal's sign-in cookie). No framework, nothing
 * from outside Kasse; the page's text is built with textContent only (no innerHTML).
 *
 * Sign-in: GET /portal/api/session on load; 401 → the sign-in form. The CSRF token lives in this
 * closure only (never in storage or a cookie written from here) and goes in X-Kasse-CSRF on
 * every request other than GET. Any 401 from a call → the sign-in form again, and after signing
 * in the same route is shown.
 *
 * Lists never fetch more than one page: orders by limit/offset (the server counts the total),
 * the others by the server's next_before cursor.
 */
(function () {
  'use strict';

  var API = '/portal/api';
  var PAGE = 20;
  var UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  var ORDER_STATUSES = ['AUTHORIZED', 'PART_CAPTURED', 'CAPTURED', 'CANCELLED', 'EXPIRED', 'CLOSED'];
  var SVG_NS = 'http://www.w3.org/2000/svg';

  // In page memory only.
  var auth = null;        // {merchant: {username, name}, csrf_token, expires_at, test_clock}
  var renderSeq = 0;      // a newer navigation makes older replies stale

  var $ = function (id) { return document.getElementById(id); };
  var titleEl = $('title');
  var viewEl = $('view');
  var alertEl = $('alert');
  var statusEl = $('status');

  // ---------------------------------------------------------------- DOM helpers

  // h('p', {class: 'x', text: 'hi', on: {click: fn}}, child, 'text', [children]...)
  function h(tag, attrs) {
    var el = document.createElement(tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function s(tag, attrs) {
    var el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function setAttrs(el, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') el.textContent = String(v);
      else if (k === 'on') Object.keys(v).forEach(function (ev) { el.addEventListener(ev, v[ev]); });
      else if (k === 'class') el.setAttribute('class', v);
      else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'hidden' || k === 'disabled') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    });
  }
  function append(el, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { append(el, x); }); return; }
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  function link(href, text, attrs) {
    var a = h('a', attrs);
    a.href = href;
    a.textContent = text;
    return a;
  }

  // A table in a wrapper that scrolls sideways on narrow screens (a labelled, focusable region,
  // so keyboard users can scroll it too).
  function table(label, headers, rows, opts) {
    opts = opts || {};
    var thead = h('thead', null, h('tr', null, headers.map(function (t) { return h('th', { scope: 'col', text: t }); })));
    var tbody = h('tbody');
    rows.forEach(function (cells) {
      var tr = h('tr');
      cells.forEach(function (c, i) {
        var td = h(i === 0 && opts.rowHeader ? 'th' : 'td', i === 0 && opts.rowHeader ? { scope: 'row' } : null);
        if (c && typeof c === 'object' && c.num !== undefined) { td.className = 'num'; append(td, c.num); }
        else append(td, c);
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    var t = h('table', { class: 'data' }, h('caption', { class: opts.showCaption ? '' : 'sr-only', text: label }), thead, tbody);
    return h('div', { class: 'table-wrap', role: 'region', 'aria-label': label + ' table', tabindex: '0' }, t);
  }

  // A <dl> of [term, value] pairs; values null/undefined/'' are left out.
  function dl(pairs, cls) {
    var d = h('dl', { class: 'facts' + (cls ? ' ' + cls : '') });
    pairs.forEach(function (p) {
      if (p[1] === undefined || p[1] === null || p[1] === '') return;
      d.appendChild(h('div', { class: 'fact' }, h('dt', { text: p[0] }), h('dd', null, p[1])));
    });
    return d;
  }

  function section(title, id) {
    var hid = 'sec-' + (id || title.toLowerCase().replace(/[^a-z0-9]+/g, '-'));
    var sec = h('section', { class: 'panel', 'aria-labelledby': hid }, h('h2', { id: hid, text: title }));
    return sec;
  }

  function badge(status) {
    var st = String(status || '').toLowerCase().replace(/[^a-z_]+/g, '');
    return h('span', { class: 'badge badge-' + st, text: status || '—' });
  }

  // ---------------------------------------------------------------- formatting

  function fmtTime(iso) {
    if (!iso) return '';
    var m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso);
    var t = h('time', { datetime: iso, text: m ? m[1] + ' ' + m[2] + ' UTC' : iso });
    return t;
  }
  function timeText(iso) {
    var m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso || '');
    return m ? m[1] + ' ' + m[2] + ' UTC' : (iso || 'an unknown time');
  }

  function digitsOf(currency) {
    try {
      return new Intl.NumberFormat('en', { style: 'currency', currency: currency }).resolvedOptions().maximumFractionDigits;
    } catch (e) {
      return 2;
    }
  }
  function money(minor, currency) {
    if (typeof minor !== 'number') return '';
    if (window.KasseUI && window.KasseUI.money) return window.KasseUI.money(minor, currency, 'en');
    var d = digitsOf(currency);
    return (minor / Math.pow(10, d)).toFixed(d) + ' ' + (currency || '');
  }
  // Minor units → the major-unit text an input shows ("85.00").
  function toMajorText(minor, currency) {
    var d = digitsOf(currency);
    var neg = minor < 0;
    var a = String(Math.abs(minor));
    if (d === 0) return (neg ? '-' : '') + a;
    while (a.length <= d) a = '0' + a;
    return (neg ? '-' : '') + a.slice(0, a.length - d) + '.' + a.slice(a.length - d);
  }
  // Major-unit text ("12.5", "12,50", "12") → minor units, exactly (no floating point); null if
  // it is not a positive amount with at most the currency's decimals.
  function toMinor(text, currency) {
    var d = digitsOf(currency);
    var t = String(text || '').trim().replace(/\s/g, '');
    var m = /^(\d+)(?:[.,](\d*))?$/.exec(t);
    if (!m) return null;
    var frac = m[2] || '';
    if (frac.length > d) return null;
    while (frac.length < d) frac += '0';
    var n = Number(m[1] + frac);
    if (!Number.isSafeInteger(n) || n <= 0) return null;
    return n;
  }

  function prettyBody(text) {
    if (text === undefined || text === null || text === '') return '(empty)';
    if (typeof text !== 'string') return JSON.stringify(text, null, 2);
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  // ---------------------------------------------------------------- API

  function ApiError(status, body, cid) {
    this.status = status;
    this.body = body;
    this.code = body && body.error_code;
    this.messages = body && Array.isArray(body.error_messages) ? body.error_messages : [];
    this.correlationId = (body && body.correlation_id) || cid || null;
  }

  // One call: resolves {status, json, headers, correlationId} for 2xx, rejects with an ApiError
  // (status 0: no reply). A 401 from anything but the sign-in itself signs the page out.
  function call(method, path, body) {
    var init = { method: method, headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET' && method !== 'HEAD' && auth) init.headers['X-Kasse-CSRF'] = auth.csrf_token;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(API + path, init).then(function (res) {
      return res.text().then(function (text) {
        var json = null;
        try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
        var cid = res.headers.get('Klarna-Correlation-Id');
        if (!res.ok) {
          var err = new ApiError(res.status, json, cid);
          err.retryAfter = res.headers.get('Retry-After');
          if (res.status === 401 && path !== '/session') {
            auth = null;
            showSignIn('Your session has ended. Sign in again.');
            err.handled = true;
          }
          throw err;
        }
        return { status: res.status, json: json, headers: res.headers, correlationId: cid };
      });
    }, function () {
      throw new ApiError(0, null, null);
    });
  }
  var get = function (path) { return call('GET', path).then(function (r) { return r.json; }); };

  function qs(params) {
    var p = new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
    });
    var t = p.toString();
    return t ? '?' + t : '';
  }

  // ---------------------------------------------------------------- messages

  function setStatus(content) {
    clear(statusEl);
    append(statusEl, content);
  }
  function clearMessages() {
    clear(alertEl);
    clear(statusEl);
  }
  // An API error in words: the envelope's code and messages, and its correlation id linking to
  // the request in the log.
  function errorContent(err, what) {
    var parts = [];
    if (err.status === 0) {
      parts.push(h('p', { text: (what ? what + ': ' : '') + 'Kasse did not answer. Check the connection and try again.' }));
      return parts;
    }
    var head = (what ? what + ' failed' : 'Request failed') + ' (HTTP ' + err.status + (err.code ? ', ' + err.code : '') + ')';
    parts.push(h('p', { class: 'err-head', text: head + (err.messages.length ? ':' : '.') }));
    if (err.messages.length) parts.push(h('ul', { class: 'err-list' }, err.messages.map(function (m) { return h('li', { text: m }); })));
    if (err.correlationId) {
      parts.push(h('p', { class: 'err-cid' }, 'Correlation id: ',
        link('#/logs/' + encodeURIComponent(err.correlationId), err.correlationId, { class: 'mono' })));
    }
    return parts;
  }
  function showError(err, what) {
    if (err && err.handled) return;
    clear(alertEl);
    append(alertEl, errorContent(err, what));
  }

  // ---------------------------------------------------------------- confirmation dialog

  function confirmAction(text, yesLabel) {
    var dlg = $('confirm');
    var yes = $('confirm-yes');
    var no = $('confirm-no');
    $('confirm-text').textContent = text;
    yes.textContent = yesLabel;
    return new Promise(function (resolve) {
      function done(v) {
        yes.removeEventListener('click', onYes);
        no.removeEventListener('click', onNo);
        dlg.removeEventListener('cancel', onNo);
        if (dlg.open) dlg.close();
        resolve(v);
      }
      function onYes() { done(true); }
      function onNo(e) { if (e) e.preventDefault(); done(false); }
      yes.addEventListener('click', onYes);
      no.addEventListener('click', onNo);
      dlg.addEventListener('cancel', onNo);
      dlg.showModal();
      no.focus();
    });
  }

  // ---------------------------------------------------------------- shell: sign-in, nav

  function setTitle(text) {
    titleEl.textContent = text;
    document.title = text + ' · Kasse merchant portal';
  }

  function showShell(signedIn) {
    $('nav').hidden = !signedIn;
    $('sign-out').hidden = !signedIn;
    $('menu-toggle').hidden = !signedIn;
    $('who').hidden = !signedIn;
    if (signedIn) {
      var m = auth.merchant || {};
      $('who').textContent = m.name ? m.name + ' (' + m.username + ')' : (m.username || '');
      $('nav-clock').hidden = !auth.test_clock;
    }
  }

  function setMenu(open) {
    $('menu-toggle').setAttribute('aria-expanded', open ? 'true' : 'false');
    $('nav').classList.toggle('open', open);
  }

  function markNav(key) {
    Array.prototype.forEach.call(document.querySelectorAll('#nav a'), function (a) {
      if (a.getAttribute('data-nav') === key) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
  }

  function showSignIn(notice) {
    renderSeq++;
    showShell(false);
    markNav(null);
    setTitle('Sign in');
    clearMessages();
    if (notice) setStatus(notice);
    clear(viewEl);
    viewEl.removeAttribute('aria-busy');
    var user = h('input', { id: 'signin-username', name: 'username', type: 'text', autocomplete: 'username', required: true,
      autocapitalize: 'none', spellcheck: 'false' });
    var secret = h('input', { id: 'signin-secret', name: 'secret', type: 'password', autocomplete: 'current-password', required: true });
    var btn = h('button', { type: 'submit', class: 'btn primary-btn', text: 'Sign in' });
    var form = h('form', { class: 'signin', novalidate: true },
      h('p', { class: 'muted', text: 'Sign in with your merchant API username and secret. The secret is sent once and never stored in the browser.' }),
      h('div', { class: 'field' }, h('label', { for: 'signin-username', text: 'Username' }), user),
      h('div', { class: 'field' }, h('label', { for: 'signin-secret', text: 'Secret' }), secret),
      btn);
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      clear(alertEl);
      if (!user.value.trim() || !secret.value) {
        append(alertEl, h('p', { text: 'Enter both your username and your secret.' }));
        (user.value.trim() ? secret : user).focus();
        return;
      }
      btn.disabled = true;
      call('POST', '/session', { username: user.value.trim(), secret: secret.value }).then(function (r) {
        auth = r.json;
        secret.value = '';
        clearMessages();
        route();
      }, function (err) {
        btn.disabled = false;
        secret.value = '';
        clear(alertEl);
        if (err.status === 401 || err.status === 429) {
          var msgs = err.messages.length ? err.messages : ['Sign-in failed.'];
          msgs.forEach(function (m) { append(alertEl, h('p', { text: m })); });
          if (err.status === 429 && err.retryAfter && !err.messages.length) {
            var sec = Number(err.retryAfter);
            var when = sec >= 60 ? Math.ceil(sec / 60) + ' minute' + (Math.ceil(sec / 60) === 1 ? '' : 's') : sec + ' second' + (sec === 1 ? '' : 's');
            append(alertEl, h('p', { text: 'Try again in ' + when + '.' }));
          }
        } else {
          showError(err, 'Sign-in');
        }
        secret.focus();
      });
    });
    viewEl.appendChild(form);
    titleEl.focus();
  }

  function signOut() {
    var btn = $('sign-out');
    btn.disabled = true;
    call('DELETE', '/session').then(function () {
      auth = null;
      btn.disabled = false;
      showSignIn('You are signed out.');
    }, function (err) {
      btn.disabled = false;
      if (err.status === 401) { auth = null; showSignIn('You are signed out.'); return; }
      showError(err, 'Sign-out');
    });
  }

  // ---------------------------------------------------------------- router

  // '#/orders/abc?x=1' → {parts: ['orders', 'abc'], query: URLSearchParams}
  function parseHash() {
    var raw = location.hash.replace(/^#\/?/, '');
    var q = raw.indexOf('?');
    var path = q >= 0 ? raw.slice(0, q) : raw;
    var query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
    var parts = path.split('/').filter(Boolean).map(function (p) {
      try { return decodeURIComponent(p); } catch (e) { return p; }
    });
    return { parts: parts, query: query };
  }

  // route → [list view, detail view (#/route/<id>), the title while loading or after an error]
  var VIEWS = {
    orders: [viewOrders, viewOrder, 'Orders', 'Order'],
    sessions: [viewSessions, viewSession, 'Payment sessions', 'Payment session'],
    hpp: [viewHppList, viewHpp, 'Hosted payment pages', 'Hosted payment page'],
    callbacks: [viewCallbacks, null, 'Callbacks'],
    messages: [viewMessages, null, 'Messages'],
    logs: [viewLogs, viewLog, 'Request log', 'Request'],
    clock: [viewClock, null, 'Test clock'],
  };

  function route() {
    if (!auth) return;
    var r = parseHash();
    if (!r.parts.length || !VIEWS[r.parts[0]] || (r.parts[0] === 'clock' && !auth.test_clock)) {
      location.replace('#/orders');   // a hashchange routes again
      return;
    }
    var key = r.parts[0];
    var v = VIEWS[key];
    var fn = r.parts.length > 1 ? v[1] : v[0];
    if (!fn) { location.replace('#/' + key); return; }
    showShell(true);
    setMenu(false);
    markNav(key);
    clearMessages();
    var detail = r.parts.length > 1;
    setTitle(detail ? v[3] + ' ' + r.parts[1] : v[2]);
    clear(viewEl);
    viewEl.setAttribute('aria-busy', 'true');
    viewEl.appendChild(h('p', { class: 'muted', text: 'Loading…' }));
    var seq = ++renderSeq;
    var ctx = {
      seq: seq,
      query: r.query,
      id: r.parts[1],
      live: function () { return seq === renderSeq; },
    };
    var res = fn(ctx);
    Promise.resolve(res).then(null, function (err) {
      if (!ctx.live() || (err && err.handled)) return;
      if (!(err instanceof ApiError)) { err = new ApiError(0, null, null); }
      clear(viewEl);
      viewEl.removeAttribute('aria-busy');
      setTitle((detail ? v[3] : v[2]) + ': could not load');
      showError(err, 'Loading');
      focusTitle();
    });
  }

  function focusTitle() { titleEl.focus(); }

  // Replaces the view's content and moves focus to the h1 (the view's title).
  function render(ctx, title, content, keepFocus) {
    if (!ctx.live()) return false;
    setTitle(title);
    clear(viewEl);
    viewEl.removeAttribute('aria-busy');
    append(viewEl, content);
    if (!keepFocus) focusTitle();
    return true;
  }

  function notFound(ctx, title, text) {
    render(ctx, title, [h('p', { class: 'notfound', text: text })]);
  }

  // Cursor paging controls: "Newest" (back to the first page) and "Older" (next_before).
  function cursorPager(base, query, nextBefore, label) {
    var nav = h('nav', { class: 'pager', 'aria-label': label + ' pages' });
    if (query.get('before')) {
      var q0 = new URLSearchParams(query);
      q0.delete('before');
      var t0 = q0.toString();
      nav.appendChild(link(base + (t0 ? '?' + t0 : ''), '« Newest', { class: 'btn secondary-btn' }));
    }
    if (nextBefore) {
      var q1 = new URLSearchParams(query);
      q1.set('before', nextBefore);
      nav.appendChild(link(base + '?' + q1.toString(), 'Older »', { class: 'btn secondary-btn' }));
    }
    return nav.childNodes.length ? nav : null;
  }

  // ---------------------------------------------------------------- orders

  function viewOrders(ctx) {
    var q = ctx.query;
    var search = q.get('q') || '';
    var status = q.get('status') || '';
    var from = q.get('from') || '';
    var to = q.get('to') || '';
    var offset = Math.max(0, parseInt(q.get('offset') || '0', 10) || 0);
    var params = { limit: PAGE, offset: offset, status: status, reference: search };
    if (/^\d{4}-\d\d-\d\d$/.test(from)) params.created_after = from + 'T00:00:00.000Z';
    if (/^\d{4}-\d\d-\d\d$/.test(to)) {
      var d = new Date(to + 'T00:00:00.000Z');
      d.setUTCDate(d.getUTCDate() + 1);
      params.created_before = d.toISOString();
    }

    var searchIn = h('input', { id: 'order-search', type: 'search', name: 'q', value: search, 'aria-describedby': 'order-search-hint',
      autocomplete: 'off', spellcheck: 'false' });
    var statusIn = h('select', { id: 'order-status', name: 'status' },
      h('option', { value: '', text: 'Any status' }),
      ORDER_STATUSES.map(function (st) { return h('option', { value: st, text: st, selected: st === status }); }));
    var fromIn = h('input', { id: 'order-from', type: 'date', name: 'from', value: from });
    var toIn = h('input', { id: 'order-to', type: 'date', name: 'to', value: to });
    var form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Find orders', novalidate: true },
      h('div', { class: 'field grow' }, h('label', { for: 'order-search', text: 'Order id or merchant reference' }), searchIn,
        h('p', { class: 'hint', id: 'order-search-hint', text: 'An order id opens that order; anything else finds orders whose merchant reference 1 or 2 is exactly that.' })),
      h('div', { class: 'field' }, h('label', { for: 'order-status', text: 'Status' }), statusIn),
      h('div', { class: 'field' }, h('label', { for: 'order-from', text: 'Created from' }), fromIn),
      h('div', { class: 'field' }, h('label', { for: 'order-to', text: 'Created to' }), toIn),
      h('div', { class: 'field buttons' }, h('button', { type: 'submit', class: 'btn primary-btn', text: 'Search' })));
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var term = searchIn.value.trim();
      if (UUID_RE.test(term)) { location.hash = '#/orders/' + term.toLowerCase(); return; }
      var nq = qs({ q: term, status: statusIn.value, from: fromIn.value, to: toIn.value });
      var target = '#/orders' + nq;
      if (location.hash === target) route(); else location.hash = target;
    });

    return get('/kasse/v1/orders' + qs(params)).then(function (page) {
      var orders = page.orders || [];
      var total = page.total || 0;
      var content = [form];
      var a = orders.length ? offset + 1 : 0;
      var b = offset + orders.length;
      var summary = orders.length
        ? 'Showing ' + a + '–' + b + ' of ' + total
        : (offset > 0 && total > 0 ? 'No orders on this page (' + total + ' in all).' : 'No orders found.');
      content.push(h('p', { class: 'count', id: 'orders-count', text: summary }));
      if (orders.length) {
        content.push(table('Orders', ['Order', 'Status', 'Amount', 'Captured', 'Refunded', 'Reference', 'Created'],
          orders.map(function (o) {
            var cur = o.purchase_currency;
            return [
              link('#/orders/' + o.order_id, o.order_id, { class: 'mono' }),
              badge(o.status),
              { num: money(o.order_amount, cur) },
              { num: money(o.captured_amount, cur) },
              { num: money(o.refunded_amount, cur) },
              [o.merchant_reference1 || '', o.merchant_reference2 ? h('span', { class: 'muted block', text: o.merchant_reference2 }) : null],
              fmtTime(o.created_at),
            ];
          })));
      }
      var pager = h('nav', { class: 'pager', 'aria-label': 'Order pages' });
      var pq = function (off) { return '#/orders' + qs({ q: search, status: status, from: from, to: to, offset: off || '' }); };
      if (offset > 0) pager.appendChild(link(pq(Math.max(0, offset - PAGE)), '« Previous', { class: 'btn secondary-btn', rel: 'prev' }));
      if (b < total) pager.appendChild(link(pq(offset + PAGE), 'Next »', { class: 'btn secondary-btn', rel: 'next' }));
      if (pager.childNodes.length) content.push(pager);
      render(ctx, search ? 'Orders with reference ' + search : 'Orders', content);
    });
  }

  // The order's story from GET /kasse/v1/orders/{id}/timeline (oldest first, each dated), plus,
  // while the authorization is open, when it expires (a pending marker).
  function timelineEvents(tl, o) {
    var cur = o.purchase_currency;
    var ev = [];
    (tl.events || []).forEach(function (e) {
      var x = { kind: e.type, at: e.at };
      switch (e.type) {
        case 'authorized':
          x.label = 'Authorized'; x.amount = e.amount; x.text = 'Authorized ' + money(e.amount, cur); break;
        case 'capture':
          x.label = 'Captured'; x.amount = e.amount; x.text = 'Captured ' + money(e.amount, cur); break;
        case 'refund':
          x.label = 'Refunded'; x.amount = -e.amount; x.text = 'Refunded ' + money(e.amount, cur); break;
        case 'cancelled':
          x.label = 'Cancelled'; x.text = 'Cancelled'; break;
        case 'released':
          x.label = 'Released'; x.amount = e.amount;
          x.text = 'Remaining authorization released' + (typeof e.amount === 'number' ? ' (' + money(e.amount, cur) + ')' : ''); break;
        case 'authorization_extended':
          x.label = 'Extended';
          x.text = 'Authorization time extended' + (e.expires_at_ms ? ' to ' + timeText(new Date(e.expires_at_ms).toISOString()) : ''); break;
        case 'authorization_updated':
          x.label = 'Amount updated'; x.amount = e.amount; x.text = 'Order amount updated to ' + money(e.amount, cur); break;
        case 'expired':
          x.label = 'Expired'; x.text = 'Authorization expired'; break;
        case 'fraud_accepted':
          x.label = 'Fraud: accepted'; x.text = 'Fraud review accepted'; break;
        case 'fraud_rejected':
          x.label = 'Fraud: rejected'; x.text = 'Fraud review rejected'; break;
        default:
          x.label = String(e.type || 'event').replace(/_/g, ' '); x.text = x.label;
          if (typeof e.amount === 'number') { x.amount = e.amount; x.text += ' ' + money(e.amount, cur); }
      }
      ev.push(x);
    });
    if (o.status === 'AUTHORIZED' || o.status === 'PART_CAPTURED') {
      ev.push({ kind: 'expires', label: 'Expires', at: o.expires_at, pending: true,
        text: 'Authorization of ' + money(o.remaining_authorized_amount, cur) + ' expires' });
    } else if (o.status === 'CLOSED' && !ev.some(function (e) { return e.kind === 'closed'; })) {
      ev.push({ kind: 'closed', label: 'Closed', text: 'Closed' });
    }
    return ev;
  }

  // Without the timeline (an older Kasse): the same story from the order object alone.
  function orderEvents(o) {
    var cur = o.purchase_currency;
    var ev = [{ kind: 'authorized', label: 'Authorized', at: o.created_at, amount: o.order_amount,
      text: 'Authorized ' + money(o.original_order_amount || o.order_amount, cur) }];
    var mid = [];
    (o.captures || []).forEach(function (c) {
      mid.push({ kind: 'capture', label: 'Captured', at: c.captured_at, amount: c.captured_amount,
        text: 'Captured ' + money(c.captured_amount, cur) });
    });
    (o.refunds || []).forEach(function (r) {
      mid.push({ kind: 'refund', label: 'Refunded', at: r.refunded_at, amount: -r.refunded_amount,
        text: 'Refunded ' + money(r.refunded_amount, cur) });
    });
    mid.sort(function (x, y) { return String(x.at).localeCompare(String(y.at)); });
    ev = ev.concat(mid);
    var end = null;
    switch (o.status) {
      case 'CANCELLED':
        end = { kind: 'cancelled', label: 'Cancelled', text: 'Cancelled; nothing was captured' };
        break;
      case 'EXPIRED':
        end = { kind: 'expired', label: 'Expired', at: o.expires_at, text: 'Authorization expired' };
        break;
      case 'CLOSED':
        end = { kind: 'closed', label: 'Closed', text: 'Closed' };
        break;
      case 'CAPTURED':
        if (o.captured_amount < o.order_amount) {
          end = { kind: 'released', label: 'Released', amount: o.order_amount - o.captured_amount,
            text: 'Remaining authorization released (' + money(o.order_amount - o.captured_amount, cur) + ')' };
        }
        break;
      default:
        end = { kind: 'expires', label: 'Expires', at: o.expires_at, pending: true,
          text: 'Authorization of ' + money(o.remaining_authorized_amount, cur) + ' expires' };
    }
    if (end) ev.push(end);
    return ev;
  }

  // The timeline as inline SVG: one marker per event, evenly spaced (time order), each with its
  // name, amount and time. role="img" with a summary label; the list beside it is for screen
  // readers.
  function timeline(o, tl) {
    var cur = o.purchase_currency;
    var ev = tl ? timelineEvents(tl, o) : orderEvents(o);
    var step = 150;
    var pad = 70;
    var W = pad * 2 + step * Math.max(1, ev.length - 1);
    var H = 132;
    var y = 58;
    var summary = 'Order timeline: ' + ev.map(function (e) {
      return e.text + (e.at ? ' at ' + timeText(e.at) : '');
    }).join('; ') + '.';
    var svg = s('svg', { class: 'timeline', role: 'img', 'aria-label': summary, viewBox: '0 0 ' + W + ' ' + H,
      width: W, height: H, focusable: 'false' });
    svg.appendChild(s('line', { class: 'tl-axis', x1: pad, y1: y, x2: W - pad, y2: y }));
    ev.forEach(function (e, i) {
      var x = pad + i * step;
      var g = s('g', { class: 'tl-event tl-' + e.kind + (e.pending ? ' tl-pending' : ''), 'data-kind': e.kind,
        'data-amount': typeof e.amount === 'number' ? String(e.amount) : null });
      if (e.kind === 'refund') {
        g.appendChild(s('rect', { class: 'tl-marker', x: x - 8, y: y - 8, width: 16, height: 16, transform: 'rotate(45 ' + x + ' ' + y + ')' }));
      } else if (e.kind === 'cancelled' || e.kind === 'expired' || e.kind === 'released' || e.kind === 'closed') {
        g.appendChild(s('rect', { class: 'tl-marker', x: x - 8, y: y - 8, width: 16, height: 16 }));
      } else {
        g.appendChild(s('circle', { class: 'tl-marker', cx: x, cy: y, r: e.kind === 'capture' ? 9 : 8 }));
      }
      g.appendChild(s('text', { class: 'tl-label', x: x, y: y - 20, 'text-anchor': 'middle', text: e.label }));
      if (typeof e.amount === 'number') {
        var amt = e.kind === 'refund' ? '−' + money(-e.amount, cur) : (e.kind === 'capture' ? '+' : '') + money(e.amount, cur);
        g.appendChild(s('text', { class: 'tl-amount', x: x, y: y + 28, 'text-anchor': 'middle', text: amt }));
      }
      if (e.at) {
        var m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)/.exec(e.at);
        g.appendChild(s('text', { class: 'tl-time', x: x, y: y + 46, 'text-anchor': 'middle', text: m ? m[1] : e.at }));
        g.appendChild(s('text', { class: 'tl-time', x: x, y: y + 62, 'text-anchor': 'middle', text: m ? m[2] + ' UTC' : '' }));
      }
      svg.appendChild(g);
    });
    var list = h('ol', { class: 'sr-only', id: 'timeline-events' }, ev.map(function (e) {
      return h('li', { text: e.text + (e.at ? (e.pending ? ' at ' : ', ') + timeText(e.at) : '') });
    }));
    // The wrapper scrolls sideways on narrow screens: focusable, so the keyboard can scroll it.
    return [h('div', { class: 'tl-wrap', role: 'group', tabindex: '0', 'aria-label': 'Timeline, scrolls sideways' }, svg), h('p', { class: 'sr-only', text: 'Events in order:' }), list];
  }

  // Captured, refunded and remaining as bars of the order amount, with the numbers.
  function bars(o) {
    var cur = o.purchase_currency;
    var total = o.order_amount || 0;
    var rows = [
      ['captured', 'Captured', o.captured_amount],
      ['refunded', 'Refunded', o.refunded_amount],
      ['remaining', 'Remaining authorized', o.remaining_authorized_amount],
    ];
    return h('ul', { class: 'bars', id: 'order-bars' }, rows.map(function (r) {
      var v = r[2] || 0;
      var pct = total > 0 ? Math.min(100, Math.max(0, (v / total) * 100)) : 0;
      var pctText = Math.round(pct) + '%';
      var svg = s('svg', { class: 'bar bar-' + r[0], viewBox: '0 0 100 12', preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' },
        s('rect', { class: 'bar-bg', x: 0, y: 0, width: 100, height: 12, rx: 2 }),
        s('rect', { class: 'bar-fill', x: 0, y: 0, width: pct.toFixed(2), height: 12, rx: 2 }));
      return h('li', { class: 'bar-row', 'data-bar': r[0], 'data-value': String(v), 'data-total': String(total) },
        h('span', { class: 'bar-name', text: r[1] }),
        svg,
        h('span', { class: 'bar-value', text: money(v, cur) + ' of ' + money(total, cur) + ' (' + pctText + ')' }));
    }));
  }

  function address(a) {
    if (!a) return h('p', { class: 'muted', text: 'None given.' });
    var lines = [
      [a.title, a.given_name, a.family_name].filter(Boolean).join(' '),
      a.organization_name,
      a.street_address, a.street_address2,
      [a.postal_code, a.city].filter(Boolean).join(' '),
      [a.region, a.country].filter(Boolean).join(', '),
      a.email, a.phone,
    ].filter(Boolean);
    return h('address', null, lines.map(function (l, i) { return [i ? h('br') : null, l]; }));
  }

  function orderLinesTable(lines, cur, label) {
    return table(label || 'Order lines', ['Name', 'Reference', 'Qty', 'Unit price', 'Tax rate', 'Discount', 'Tax', 'Total'],
      (lines || []).map(function (l) {
        return [
          l.name || '', l.reference || '', { num: String(l.quantity) }, { num: money(l.unit_price, cur) },
          { num: typeof l.tax_rate === 'number' ? (l.tax_rate / 100) + '%' : '' },
          { num: money(l.total_discount_amount || 0, cur) }, { num: money(l.total_tax_amount, cur) },
          { num: money(l.total_amount, cur) },
        ];
      }));
  }

  function viewOrder(ctx) {
    var id = ctx.id;
    if (!UUID_RE.test(id)) {
      notFound(ctx, 'Order not found', 'There is no order with id ' + id + '. Order ids look like 0c4b9f0e-1c2d-4e5f-8a9b-0123456789ab.');
      return null;
    }
    return readOrder(id).then(function (r) {
      drawOrder(ctx, r.order, r.timeline, false);
    }, function (err) {
      if (err.status === 404 || err.status === 400) {
        notFound(ctx, 'Order not found', 'Order ' + id + ' was not found. It may belong to another merchant or the id may be wrong.');
        return;
      }
      throw err;
    });
  }

  // The order (Klarna's read) and its dated timeline, side by side; the page works without the
  // timeline (it then draws what the order object tells).
  function readOrder(id) {
    var enc = encodeURIComponent(id);
    var tl = get('/kasse/v1/orders/' + enc + '/timeline').then(null, function (err) {
      if (err.handled) throw err;
      return null;
    });
    return Promise.all([get('/ordermanagement/v1/orders/' + enc), tl]).then(function (r) {
      return { order: r[0], timeline: r[1] };
    });
  }

  function drawOrder(ctx, o, tl, keepFocus) {
    var cur = o.purchase_currency;
    var content = [];
    content.push(h('p', { class: 'crumbs' }, link('#/orders', '« All orders')));
    content.push(dl([
      ['Order id', h('span', { class: 'mono', text: o.order_id })],
      ['Status', badge(o.status)],
      ['Fraud status', o.fraud_status],
      ['Order amount', money(o.order_amount, cur)],
      ['Original amount', o.original_order_amount !== o.order_amount ? money(o.original_order_amount, cur) : null],
      ['Currency', cur],
      ['Country', o.purchase_country],
      ['Created', fmtTime(o.created_at)],
      ['Authorization expires', fmtTime(o.expires_at)],
      ['Merchant reference 1', o.merchant_reference1],
      ['Merchant reference 2', o.merchant_reference2],
      ['Klarna reference', o.klarna_reference],
      ['Payment method', o.initial_payment_method && (o.initial_payment_method.description || o.initial_payment_method.type)],
    ], 'order-facts'));

    var money_ = section('Amounts', 'amounts');
    money_.appendChild(bars(o));
    content.push(money_);

    var tlSec = section('Timeline', 'timeline');
    append(tlSec, timeline(o, tl));
    content.push(tlSec);

    content.push(orderActions(ctx, o));

    var caps = section('Captures', 'captures');
    if ((o.captures || []).length) {
      caps.appendChild(table('Captures', ['Capture id', 'Captured', 'Amount', 'Refunded'], o.captures.map(function (c) {
        return [h('span', { class: 'mono', text: c.capture_id }), fmtTime(c.captured_at), { num: money(c.captured_amount, cur) },
          { num: money(c.refunded_amount, cur) }];
      })));
    } else caps.appendChild(h('p', { class: 'muted', text: 'Nothing captured yet.' }));
    content.push(caps);

    var refs = section('Refunds', 'refunds');
    if ((o.refunds || []).length) {
      refs.appendChild(table('Refunds', ['Refund id', 'Refunded', 'Amount', 'Description'], o.refunds.map(function (r) {
        return [h('span', { class: 'mono', text: r.refund_id }), fmtTime(r.refunded_at), { num: money(r.refunded_amount, cur) },
          r.description || ''];
      })));
    } else refs.appendChild(h('p', { class: 'muted', text: 'Nothing refunded.' }));
    content.push(refs);

    var lines = section('Order lines', 'lines');
    lines.appendChild(orderLinesTable(o.order_lines, cur));
    content.push(lines);

    var addr = section('Addresses', 'addresses');
    addr.appendChild(h('div', { class: 'addresses' },
      h('div', null, h('h3', { text: 'Billing address' }), address(o.billing_address)),
      h('div', null, h('h3', { text: 'Shipping address' }), address(o.shipping_address))));
    content.push(addr);

    var more = section('More', 'more');
    more.appendChild(h('ul', { class: 'links' },
      h('li', null, link('#/callbacks?order_id=' + encodeURIComponent(o.order_id), 'Callbacks for this order'))));
    content.push(more);

    render(ctx, 'Order ' + (o.merchant_reference1 || o.order_id), content, keepFocus);
  }

  // Capture, refund, cancel, release, extend: the ones the order's state allows.
  function orderActions(ctx, o) {
    var cur = o.purchase_currency;
    var open = o.status === 'AUTHORIZED' || o.status === 'PART_CAPTURED';
    var refundable = (o.captured_amount || 0) - (o.refunded_amount || 0);
    var sec = section('Actions', 'actions');
    var path = '/ordermanagement/v1/orders/' + encodeURIComponent(o.order_id);
    var any = false;

    // After an action: the result in the status region, the order read again and redrawn.
    function run(btns, what, method, sub, body, okText) {
      btns.forEach(function (b) { b.disabled = true; });
      clear(alertEl);
      setStatus(what + '…');
      return call(method, path + sub, body).then(function (r) {
        return readOrder(o.order_id).then(function (fresh) {
          if (!ctx.live()) return;
          drawOrder(ctx, fresh.order, fresh.timeline, true);
          setStatus([okText + ' ', r.correlationId ? h('span', null, '(request ',
            link('#/logs/' + r.correlationId, r.correlationId, { class: 'mono', 'data-cid': r.correlationId }), ')') : null]);
          statusEl.setAttribute('tabindex', '-1');
          statusEl.focus();
        });
      }, function (err) {
        btns.forEach(function (b) { b.disabled = false; });
        clear(statusEl);
        showError(err, what);
        if (!err.handled) alertEl.focus();
      });
    }

    if (open && o.remaining_authorized_amount > 0) {
      any = true;
      var capIn = h('input', { id: 'capture-amount', type: 'text', inputmode: 'decimal', autocomplete: 'off',
        value: toMajorText(o.remaining_authorized_amount, cur), 'aria-describedby': 'capture-hint capture-error' });
      var capErr = h('p', { class: 'field-error', id: 'capture-error', hidden: true });
      var capBtn = h('button', { type: 'submit', class: 'btn primary-btn', text: 'Capture' });
      var capForm = h('form', { class: 'action', id: 'capture-form', novalidate: true },
        h('h3', { text: 'Capture' }),
        h('div', { class: 'field' }, h('label', { for: 'capture-amount', text: 'Amount to capture (' + cur + ')' }), capIn,
          h('p', { class: 'hint', id: 'capture-hint', text: 'The full remaining ' + money(o.remaining_authorized_amount, cur) + ' unless you change it.' }),
          capErr),
        capBtn);
      capForm.addEventListener('submit', function (e) {
        e.preventDefault();
        var minor = toMinor(capIn.value, cur);
        if (minor === null) { fieldError(capIn, capErr, 'Enter an amount above zero, like ' + toMajorText(o.remaining_authorized_amount, cur) + '.'); return; }
        fieldError(capIn, capErr, '');
        run([capBtn], 'Capture', 'POST', '/captures', { captured_amount: minor }, 'Captured ' + money(minor, cur) + '.');
      });
      sec.appendChild(capForm);
    }

    if (refundable > 0) {
      any = true;
      var refIn = h('input', { id: 'refund-amount', type: 'text', inputmode: 'decimal', autocomplete: 'off',
        value: toMajorText(refundable, cur), 'aria-describedby': 'refund-hint refund-error' });
      var refErr = h('p', { class: 'field-error', id: 'refund-error', hidden: true });
      var refBtn = h('button', { type: 'submit', class: 'btn primary-btn', text: 'Refund' });
      var refForm = h('form', { class: 'action', id: 'refund-form', novalidate: true },
        h('h3', { text: 'Refund' }),
        h('div', { class: 'field' }, h('label', { for: 'refund-amount', text: 'Amount to refund (' + cur + ')' }), refIn,
          h('p', { class: 'hint', id: 'refund-hint', text: money(refundable, cur) + ' captured and not yet refunded.' }),
          refErr),
        refBtn);
      refForm.addEventListener('submit', function (e) {
        e.preventDefault();
        var minor = toMinor(refIn.value, cur);
        if (minor === null) { fieldError(refIn, refErr, 'Enter an amount above zero, like ' + toMajorText(refundable, cur) + '.'); return; }
        fieldError(refIn, refErr, '');
        confirmAction('Refund ' + money(minor, cur) + ' to the customer? A refund cannot be undone.', 'Yes, refund ' + money(minor, cur))
          .then(function (yes) {
            if (yes) run([refBtn], 'Refund', 'POST', '/refunds', { refunded_amount: minor }, 'Refunded ' + money(minor, cur) + '.');
            else refBtn.focus();
          });
      });
      sec.appendChild(refForm);
    }

    var more = h('div', { class: 'action-buttons' });
    function simple(id, label, confirmText, yesLabel, sub, okText) {
      var b = h('button', { type: 'button', class: 'btn secondary-btn', id: id, text: label });
      b.addEventListener('click', function () {
        var go = confirmText ? confirmAction(confirmText, yesLabel) : Promise.resolve(true);
        go.then(function (yes) {
          if (yes) run([b], label, 'POST', sub, undefined, okText);
          else b.focus();
        });
      });
      more.appendChild(b);
    }
    if (o.status === 'AUTHORIZED') {
      simple('cancel-order', 'Cancel order', 'Cancel this order? The whole authorization of ' + money(o.order_amount, cur) +
        ' is given up and nothing can be captured afterwards.', 'Yes, cancel order', '/cancel', 'Order cancelled.');
    }
    if (o.status === 'PART_CAPTURED') {
      simple('release-order', 'Release remaining authorization', 'Release the remaining ' + money(o.remaining_authorized_amount, cur) +
        '? It can no longer be captured afterwards.', 'Yes, release', '/release-remaining-authorization', 'Remaining authorization released.');
    }
    if (open) {
      simple('extend-order', 'Extend authorization time', null, null, '/extend-authorization-time', 'Authorization time extended.');
    }
    if (more.childNodes.length) { any = true; sec.appendChild(more); }
    if (!any) sec.appendChild(h('p', { class: 'muted', text: 'No actions are possible on a ' + String(o.status).toLowerCase().replace('_', ' ') + ' order with nothing left to refund.' }));
    return sec;
  }

  function fieldError(input, errEl, text) {
    errEl.textContent = text;
    errEl.hidden = !text;
    if (text) { input.setAttribute('aria-invalid', 'true'); input.focus(); } else input.removeAttribute('aria-invalid');
  }

  // ---------------------------------------------------------------- payment sessions

  function viewSessions(ctx) {
    var before = ctx.query.get('before');
    return get('/kasse/v1/sessions' + qs({ limit: PAGE, before: before })).then(function (page) {
      var rows = page.sessions || [];
      var content = [];
      if (!rows.length) content.push(h('p', { class: 'count', text: 'No payment sessions' + (before ? ' older than these.' : ' yet.') }));
      else {
        content.push(table('Payment sessions', ['Session', 'Status', 'Amount', 'Country', 'Intent', 'Created', 'Expires'],
          rows.map(function (x) {
            return [link('#/sessions/' + x.session_id, x.session_id, { class: 'mono' }), badge(x.status),
              { num: money(x.order_amount, x.purchase_currency) }, x.purchase_country || '', x.intent || '',
              fmtTime(x.created_at), fmtTime(x.expires_at)];
          })));
      }
      content.push(cursorPager('#/sessions', ctx.query, page.next_before, 'Payment session'));
      render(ctx, 'Payment sessions', content);
    });
  }

  function viewSession(ctx) {
    var id = ctx.id;
    return get('/kasse/v1/sessions/' + encodeURIComponent(id)).then(function (x) {
      var ks = x.session || {};
      var cur = ks.purchase_currency;
      var content = [h('p', { class: 'crumbs' }, link('#/sessions', '« All payment sessions'))];
      content.push(dl([
        ['Session id', h('span', { class: 'mono', text: x.session_id })],
        ['Status', badge(x.status)],
        ['Intent', ks.intent],
        ['Amount', money(ks.order_amount, cur)],
        ['Tax', money(ks.order_tax_amount, cur)],
        ['Country', ks.purchase_country],
        ['Locale', ks.locale],
        ['Created', fmtTime(x.created_at)],
        ['Expires', fmtTime(x.expires_at)],
        ['Merchant reference 1', ks.merchant_reference1],
        ['Merchant reference 2', ks.merchant_reference2],
      ]));
      var a = section('Authorization', 'authorization');
      if (x.authorization) {
        a.appendChild(dl([
          ['State', badge(x.authorization.state)],
          ['Authorization token', x.authorization.authorization_token ? h('span', { class: 'mono wrap', text: x.authorization.authorization_token }) : null],
          ['Payment method', x.authorization.payment_method_category],
          ['Issued', fmtTime(x.authorization.issued_at)],
          ['Expires', fmtTime(x.authorization.expires_at)],
        ]));
      } else a.appendChild(h('p', { class: 'muted', text: 'Not authorized.' }));
      content.push(a);
      var cart = section('Cart', 'cart');
      if ((ks.order_lines || []).length) cart.appendChild(orderLinesTable(ks.order_lines, cur, 'Cart lines'));
      else cart.appendChild(h('p', { class: 'muted', text: 'No order lines.' }));
      content.push(cart);
      var mu = ks.merchant_urls || {};
      var urlKeys = Object.keys(mu).filter(function (k) { return typeof mu[k] === 'string' && mu[k]; });
      if (urlKeys.length) {
        var us = section('Merchant URLs', 'merchant-urls');
        us.appendChild(dl(urlKeys.map(function (k) { return [k, h('span', { class: 'mono wrap', text: mu[k] })]; })));
        content.push(us);
      }
      var hs = section('Hosted payment pages', 'hpp-of-session');
      if ((x.hpp_sessions || []).length) {
        hs.appendChild(h('ul', { class: 'links' }, x.hpp_sessions.map(function (p) {
          return h('li', null, link('#/hpp/' + p.session_id, p.session_id, { class: 'mono' }), ' ', badge(p.status));
        })));
      } else hs.appendChild(h('p', { class: 'muted', text: 'None.' }));
      content.push(hs);
      var m = section('More', 'more');
      m.appendChild(h('ul', { class: 'links' },
        h('li', null, link('#/callbacks?session_id=' + encodeURIComponent(x.session_id), 'Callbacks for this session')),
        h('li', null, link('#/messages?session_id=' + encodeURIComponent(x.session_id), 'Messages for this session'))));
      content.push(m);
      render(ctx, 'Payment session ' + x.session_id, content);
    }, function (err) {
      if (err.status === 404 || err.status === 400) {
        notFound(ctx, 'Payment session not found', 'Payment session ' + id + ' was not found.');
        return;
      }
      throw err;
    });
  }

  // ---------------------------------------------------------------- hosted payment pages

  function viewHppList(ctx) {
    var before = ctx.query.get('before');
    return get('/kasse/v1/hpp-sessions' + qs({ limit: PAGE, before: before })).then(function (page) {
      var rows = page.hpp_sessions || [];
      var content = [];
      if (!rows.length) content.push(h('p', { class: 'count', text: 'No hosted payment page sessions' + (before ? ' older than these.' : ' yet.') }));
      else {
        content.push(table('Hosted payment page sessions', ['HPP session', 'Status', 'Payment session', 'Created', 'Updated', 'Expires'],
          rows.map(function (x) {
            return [link('#/hpp/' + x.session_id, x.session_id, { class: 'mono' }), badge(x.status),
              x.kp_session_id ? link('#/sessions/' + x.kp_session_id, x.kp_session_id, { class: 'mono' }) : '',
              fmtTime(x.created_at), fmtTime(x.updated_at), fmtTime(x.expires_at)];
          })));
      }
      content.push(cursorPager('#/hpp', ctx.query, page.next_before, 'HPP session'));
      render(ctx, 'Hosted payment pages', content);
    });
  }

  function viewHpp(ctx) {
    var id = ctx.id;
    return get('/hpp/v1/sessions/' + encodeURIComponent(id)).then(function (x) {
      var content = [h('p', { class: 'crumbs' }, link('#/hpp', '« All hosted payment pages'))];
      var c = x.customer || {};
      content.push(dl([
        ['HPP session id', h('span', { class: 'mono', text: x.session_id || id })],
        ['Status', badge(x.status)],
        ['Updated', fmtTime(x.updated_at)],
        ['Expires', fmtTime(x.expires_at)],
        ['Order', x.order_id ? link('#/orders/' + x.order_id, x.order_id, { class: 'mono' }) : null],
        ['Klarna reference', x.klarna_reference],
        ['Authorization token', x.authorization_token ? h('span', { class: 'mono', text: x.authorization_token }) : null],
        ['Customer', [c.title, c.given_name, c.family_name].filter(Boolean).join(' ') || null],
        ['Date of birth', c.date_of_birth],
      ]));
      var m = section('More', 'more');
      m.appendChild(h('ul', { class: 'links' },
        h('li', null, link('#/callbacks?session_id=' + encodeURIComponent(x.session_id || id), 'Status callbacks for this page')),
        h('li', null, link('#/messages?session_id=' + encodeURIComponent(x.session_id || id), 'Messages for this page'))));
      content.push(m);
      var raw = section('As the API answers', 'raw');
      raw.appendChild(h('pre', { class: 'code', tabindex: '0', 'aria-label': 'HPP session JSON', text: JSON.stringify(x, null, 2) }));
      content.push(raw);
      render(ctx, 'Hosted payment page ' + (x.session_id || id), content);
    }, function (err) {
      if (err.status === 404 || err.status === 400) {
        notFound(ctx, 'Hosted payment page not found', 'HPP session ' + id + ' was not found.');
        return;
      }
      throw err;
    });
  }

  // ---------------------------------------------------------------- callbacks

  function viewCallbacks(ctx) {
    var q = ctx.query;
    var sid = q.get('session_id');
    var oid = q.get('order_id');
    var filtered = !!(sid || oid);
    var before = q.get('before');
    var url = filtered ? '/kasse/v1/callbacks' + qs({ session_id: sid, order_id: oid })
      : '/kasse/v1/callbacks' + qs({ limit: 25, before: before });
    return get(url).then(function (page) {
      var events = page.callbacks || page.events || [];
      var content = [];
      if (filtered) {
        content.push(h('p', { class: 'crumbs' }, 'For ' + (sid ? 'session ' : 'order '),
          link(sid ? '#/sessions/' + sid : '#/orders/' + oid, sid || oid, { class: 'mono' }),
          ' (oldest first). ', link('#/callbacks', 'All callbacks')));
      }
      if (!events.length) content.push(h('p', { class: 'count', text: 'No callbacks' + (filtered ? ' for this.' : before ? ' older than these.' : ' yet.') }));
      var list = h('ol', { class: 'events', 'aria-label': 'Callback events' });
      events.forEach(function (ev) { list.appendChild(callbackEvent(ctx, ev)); });
      if (events.length) content.push(list);
      if (!filtered) content.push(cursorPager('#/callbacks', q, page.next_before, 'Callback'));
      render(ctx, filtered ? 'Callbacks for ' + (sid ? 'session' : 'order') : 'Callbacks', content);
    });
  }

  function callbackEvent(ctx, ev) {
    var hid = 'cb-' + ev.id;
    var item = h('li', { class: 'event panel', 'data-event': String(ev.id), 'aria-labelledby': hid });
    item.appendChild(h('h2', { id: hid }, 'Event ' + ev.id + ': ' + (ev.kind || 'callback') + ' ', badge(ev.status)));
    item.appendChild(dl([
      ['URL', h('span', { class: 'mono wrap', text: ev.url })],
      ['Created', fmtTime(ev.created_at)],
      ['Due', ev.status === 'pending' ? fmtTime(ev.due_at) : null],
      ['Session', ev.session_id ? link('#/sessions/' + ev.session_id, ev.session_id, { class: 'mono' }) : null],
      ['Order', ev.order_id ? link('#/orders/' + ev.order_id, ev.order_id, { class: 'mono' }) : null],
      ['Sent again from', ev.resent_from !== undefined && ev.resent_from !== null ? 'event ' + ev.resent_from : null],
    ]));
    var atts = ev.attempts || [];
    if (atts.length) {
      item.appendChild(table('Delivery attempts of event ' + ev.id, ['#', 'Time', 'HTTP status', 'Latency (ms)', 'Answer or error'],
        atts.map(function (a, i) {
          var said = [a.error, a.response].filter(Boolean).join(' — ');
          return [{ num: String(i + 1) }, fmtTime(a.at), { num: a.http_status ? String(a.http_status) : '—' },
            { num: a.duration_ms !== undefined && a.duration_ms !== null ? String(a.duration_ms) : '' },
            said ? h('span', { class: 'excerpt', text: said }) : ''];
        })));
    } else item.appendChild(h('p', { class: 'muted', text: 'Not attempted yet.' }));
    var body = h('details', { class: 'body' }, h('summary', { text: 'Body' }),
      h('pre', { class: 'code', tabindex: '0', 'aria-label': 'Body of event ' + ev.id, text: prettyBody(ev.body) }));
    item.appendChild(body);
    var btn = h('button', { type: 'button', class: 'btn secondary-btn', 'data-resend': String(ev.id), text: 'Send again' });
    btn.setAttribute('aria-label', 'Send again: event ' + ev.id);
    btn.addEventListener('click', function () {
      btn.disabled = true;
      clear(alertEl);
      call('POST', '/kasse/v1/callbacks/' + encodeURIComponent(ev.id) + '/resend').then(function (r) {
        var nid = r.json && r.json.id;
        route();
        setStatus('Event ' + ev.id + ' will be sent again' + (nid !== undefined ? ' as event ' + nid : '') + '.');
      }, function (err) {
        btn.disabled = false;
        showError(err, 'Send again');
      });
    });
    item.appendChild(h('div', { class: 'action-buttons' }, btn));
    return item;
  }

  // ---------------------------------------------------------------- messages

  function viewMessages(ctx) {
    var sid = ctx.query.get('session_id');
    return get('/kasse/v1/messages' + qs({ session_id: sid })).then(function (page) {
      var msgs = (page.messages || []).slice().reverse();
      var content = [h('p', { class: 'muted', text: 'What the hosted payment page\'s distribution would have sent by SMS or e-mail. Kasse sends nothing; this is the record. Newest first.' })];
      if (sid) content.push(h('p', { class: 'crumbs' }, 'For session ', h('span', { class: 'mono', text: sid }), '. ', link('#/messages', 'All messages')));
      if (!msgs.length) content.push(h('p', { class: 'count', text: 'No messages.' }));
      var list = h('ol', { class: 'events', 'aria-label': 'Messages' });
      msgs.forEach(function (m) {
        var hid = 'msg-' + m.message_id;
        var kind = m.method === 'sms' ? 'SMS' : m.method === 'email' ? 'E-mail' : (m.method || 'Message');
        var li = h('li', { class: 'event panel', 'aria-labelledby': hid },
          h('h2', { id: hid, text: kind + ' to ' + (m.to || 'nobody') }),
          dl([
            ['Subject', m.subject],
            ['Sent', fmtTime(m.created_at)],
            ['HPP session', m.session_id ? link('#/hpp/' + m.session_id, m.session_id, { class: 'mono' }) : null],
            ['Link', m.link ? h('span', { class: 'mono wrap', text: m.link }) : null],
          ]),
          h('pre', { class: 'message-text', tabindex: '0', 'aria-label': kind + ' text', text: m.text || '' }));
        list.appendChild(li);
      });
      if (msgs.length) content.push(list);
      render(ctx, 'Messages', content);
    });
  }

  // ---------------------------------------------------------------- request log

  function lookupForm(value) {
    var input = h('input', { id: 'log-cid', type: 'text', name: 'cid', value: value || '', autocomplete: 'off', spellcheck: 'false',
      'aria-describedby': 'log-cid-hint' });
    var form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Look up a request', novalidate: true },
      h('div', { class: 'field grow' }, h('label', { for: 'log-cid', text: 'Correlation id' }), input,
        h('p', { class: 'hint', id: 'log-cid-hint', text: 'From an error\'s correlation_id or the Klarna-Correlation-Id header of any reply.' })),
      h('div', { class: 'field buttons' }, h('button', { type: 'submit', class: 'btn primary-btn', text: 'Look up' })));
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var v = input.value.trim();
      if (!v) { input.focus(); return; }
      location.hash = '#/logs/' + encodeURIComponent(v);
    });
    return form;
  }

  function viewLogs(ctx) {
    var before = ctx.query.get('before');
    return get('/kasse/v1/logs' + qs({ limit: 25, before: before })).then(function (page) {
      var rows = page.requests || [];
      var content = [lookupForm('')];
      var latest = section('Latest requests', 'latest');
      latest.appendChild(h('p', { class: 'muted', text: 'Your API traffic and the portal\'s changes, newest first (the portal\'s own reads are not logged).' }));
      if (!rows.length) latest.appendChild(h('p', { class: 'count', text: 'No requests' + (before ? ' older than these.' : ' yet.') }));
      else {
        latest.appendChild(table('Latest requests', ['Time', 'Method', 'Path', 'Status', 'Duration (ms)', 'Correlation id'],
          rows.map(function (x) {
            return [fmtTime(x.received_at), x.method, h('span', { class: 'mono wrap', text: x.path }), { num: String(x.status) },
              { num: String(x.duration_ms) }, link('#/logs/' + x.correlation_id, x.correlation_id, { class: 'mono' })];
          })));
      }
      append(latest, cursorPager('#/logs', ctx.query, page.next_before, 'Request log'));
      content.push(latest);
      render(ctx, 'Request log', content);
    });
  }

  function viewLog(ctx) {
    var id = ctx.id;
    return get('/kasse/v1/logs/' + encodeURIComponent(id)).then(function (x) {
      var content = [h('p', { class: 'crumbs' }, link('#/logs', '« Request log')), lookupForm(id)];
      content.push(dl([
        ['Correlation id', h('span', { class: 'mono', text: x.correlation_id })],
        ['Method', x.method],
        ['Path', h('span', { class: 'mono wrap', text: x.path })],
        ['Status', String(x.status)],
        ['Received', fmtTime(x.received_at)],
        ['Duration', x.duration_ms + ' ms'],
      ], 'log-facts'));
      var rq = section('Request body', 'request-body');
      rq.appendChild(h('pre', { class: 'code', id: 'log-request-body', tabindex: '0', 'aria-label': 'Request body', text: prettyBody(x.request_body) }));
      content.push(rq);
      var rs = section('Response body', 'response-body');
      rs.appendChild(h('pre', { class: 'code', id: 'log-response-body', tabindex: '0', 'aria-label': 'Response body', text: prettyBody(x.response_body) }));
      content.push(rs);
      render(ctx, 'Request ' + x.method + ' ' + x.path, content);
    }, function (err) {
      if (err.status === 404 || err.status === 400) {
        notFound(ctx, 'Request not found', 'No request of yours has correlation id ' + id + '.');
        viewEl.insertBefore(lookupForm(id), viewEl.firstChild);
        return;
      }
      throw err;
    });
  }

  // ---------------------------------------------------------------- test clock

  function viewClock(ctx) {
    return get('/kasse/v1/clock').then(function (c) {
      var now = h('p', { class: 'clock-now', id: 'clock-now' }, 'Kasse\'s time now: ', fmtTime(c.now));
      var amount = h('input', { id: 'clock-amount', type: 'number', min: '1', step: '1', value: '1', inputmode: 'numeric',
        'aria-describedby': 'clock-error' });
      var unit = h('select', { id: 'clock-unit' },
        [['seconds', 1], ['minutes', 60], ['hours', 3600], ['days', 86400]].map(function (u) {
          return h('option', { value: String(u[1]), text: u[0], selected: u[0] === 'days' });
        }));
      var err = h('p', { class: 'field-error', id: 'clock-error', hidden: true });
      var btn = h('button', { type: 'submit', class: 'btn primary-btn', text: 'Advance' });
      var form = h('form', { class: 'filters', 'aria-label': 'Advance the clock', novalidate: true },
        h('div', { class: 'field' }, h('label', { for: 'clock-amount', text: 'Advance by' }), amount, err),
        h('div', { class: 'field' }, h('label', { for: 'clock-unit', text: 'Unit' }), unit),
        h('div', { class: 'field buttons' }, btn));
      form.addEventListener('submit', function (e) {
        e.preventDefault();
        var n = Number(amount.value);
        if (!Number.isInteger(n) || n < 1) { fieldError(amount, err, 'Enter a whole number of 1 or more.'); return; }
        fieldError(amount, err, '');
        var secs = n * Number(unit.value);
        btn.disabled = true;
        clear(alertEl);
        call('POST', '/kasse/v1/clock', { advance_seconds: secs }).then(function (r) {
          btn.disabled = false;
          clear(now);
          append(now, ['Kasse\'s time now: ', fmtTime(r.json.now)]);
          setStatus('The clock moved forward ' + n + ' ' + unit.options[unit.selectedIndex].text + '. It is now ' + timeText(r.json.now) + '.');
        }, function (e2) {
          btn.disabled = false;
          showError(e2, 'Advancing the clock');
        });
      });
      render(ctx, 'Test clock', [
        h('p', { class: 'muted', text: 'Kasse runs with --test-clock: moving its clock forward lets authorizations and sessions expire without waiting. It never moves back.' }),
        now, form]);
    });
  }

  // ---------------------------------------------------------------- start

  $('sign-out').addEventListener('click', signOut);
  $('menu-toggle').addEventListener('click', function () {
    setMenu($('menu-toggle').getAttribute('aria-expanded') !== 'true');
  });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && $('nav').classList.contains('open')) { setMenu(false); $('menu-toggle').focus(); }
  });
  window.addEventListener('hashchange', function () { if (auth) route(); });
  // The current view's own nav link loads it again (fresh data, focus on its title).
  $('nav').addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[href^="#/"]');
    if (a && a.getAttribute('href') === location.hash) { e.preventDefault(); route(); }
  });

  call('GET', '/session').then(function (r) {
    auth = r.json;
    route();
  }, function (err) {
    if (err.status === 401) showSignIn();
    else {
      showSignIn();
      showError(err, 'Checking your sign-in');
    }
  });
}());
