/*
 * Kasse's Klarna.Payments browser SDK (Klarna Payments JS SDK v1 surface, contract 6).
 *
 * Load it like Klarna's:
 *   <script>window.klarnaAsyncCallback = function () { Klarna.Payments.init({client_token}); ... };</script>
 *   <script async src="https://KASSE/kp/lib/v1/api.js"></script>
 *
 * How it works: init() decodes the client_token (a JWT) and reads its `base_url` claim, the
 * Kasse server that issued it. load() renders an iframe of `${base_url}/kp/widget/v1/index.html`
 * in the merchant's container; the SDK and the widget talk only with postMessage, each checking
 * the other's origin and naming it as targetOrigin. The client_token is handed to the widget by
 * postMessage (never in a URL). authorize() turns the iframe into a full-window overlay with the
 * shopper's steps; the callback gets the object Kasse's shopper API answered.
 *
 * Kasse-specific behaviour (documented differences from Klarna's SDK):
 *  - auto_finalize:false is accepted, but Kasse always finalizes during authorize(): the callback
 *    never has finalize_required, and finalize() runs the same shopper flow as authorize().
 *  - reauthorize() and finalize() need a prior load() of the category (ApplicationNotLoadedError).
 *  - PaymentMethodCategoryNotSupportedError can only be thrown once the widget has told the SDK
 *    the session's categories (after the first load); before that an unknown category makes the
 *    load callback {show_form:false, error:{invalid_fields:["payment_method_category"]}}.
 *  - payment_method_category is optional, as in Klarna's SDK: load({container}) shows every
 *    category the session offers, and authorize({}, data, cb) uses the category of the only
 *    instance loaded (one category: no choice; several: the shopper chooses in the widget).
 *    Several instances loaded and none named: PaymentMethodCategoryNotProvidedError.
 *  - While the shopper's steps cover the page, focus stays in the widget's dialog; when it
 *    closes, focus returns to the element that had it (the merchant's button).
 *
 * Dependency-free ES2019, one file.
 */
(function (window, document) {
  'use strict';

  var Klarna = window.Klarna = window.Klarna || {};
  if (Klarna.Payments && Klarna.Payments.kasse) {
    return; // loaded twice: keep the first instance (and its state)
  }

  // ---- errors (thrown; each has its documented name) ----
  function defineError(name) {
    var E = class extends Error {
      constructor(message) {
        super(message || name);
        this.name = name;
      }
    };
    Object.defineProperty(E, 'name', { value: name });
    return E;
  }
  var errors = {};
  [
    'InvalidClientTokenError', 'ApplicationNotInitializedError', 'InvalidContainerSelectorError',
    'PaymentMethodCategoryNotProvidedError', 'PreferredPaymentMethodNotSupportedError',
    'PaymentMethodCategoryNotSupportedError', 'ApplicationNotLoadedError',
    'OperationNotSupportedError', 'EventNotSupportedError',
  ].forEach(function (n) { errors[n] = defineError(n); });

  var EVENTS = ['heightChanged', 'fullscreenOverlayShown', 'fullscreenOverlayHidden'];
  var WIDGET_PATH = '/kp/widget/v1/index.html';
  var SDK_SOURCE = 'kasse-sdk';
  var WIDGET_SOURCE = 'kasse-widget';

  // ---- state ----
  var app = null;            // {token, claims, baseUrl, origin}
  var instances = {};        // key -> instance (see createInstance)
  var handlers = {};         // event name -> [fn]
  var knownCategories = null; // identifiers from the session, once a widget has read it
  var nextId = 1;
  var overlayInstance = null;

  // ---- helpers ----
  function b64urlDecode(s) {
    if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('not base64url');
    var b64 = s.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) b64 += '=';
    var bin = window.atob(b64);
    // UTF-8 decode
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  }

  function decodeToken(token) {
    if (typeof token !== 'string') throw new errors.InvalidClientTokenError('client_token must be a string');
    var parts = token.split('.');
    if (parts.length !== 3 || !parts[0] || !parts[1]) {
      throw new errors.InvalidClientTokenError('client_token is not a JWT');
    }
    var header;
    var claims;
    try {
      header = JSON.parse(b64urlDecode(parts[0]));
      claims = JSON.parse(b64urlDecode(parts[1]));
    } catch (e) {
      throw new errors.InvalidClientTokenError('client_token is not a JWT');
    }
    if (!header || typeof header !== 'object' || !claims || typeof claims !== 'object') {
      throw new errors.InvalidClientTokenError('client_token is not a JWT');
    }
    var url;
    try {
      url = new URL(claims.base_url);
    } catch (e) {
      throw new errors.InvalidClientTokenError('client_token has no usable base_url');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new errors.InvalidClientTokenError('client_token base_url must be http(s)');
    }
    return {
      token: token,
      claims: claims,
      baseUrl: url.href.replace(/\/+$/, ''),
      origin: url.origin,
    };
  }

  function isFunction(f) { return typeof f === 'function'; }

  // Klarna's rule: when a call throws, its callback has already been called.
  function fail(callback, result, error) {
    if (isFunction(callback)) {
      try { callback(result); } catch (e) { setTimeout(function () { throw e; }, 0); }
    }
    throw error;
  }

  // (options, data, callback) and (options, callback) are both valid.
  function args3(options, data, callback) {
    if (isFunction(data) && callback === undefined) return { options: options || {}, data: undefined, callback: data };
    return { options: options || {}, data: data, callback: callback };
  }

  function emit(name, value) {
    (handlers[name] || []).slice().forEach(function (fn) {
      try { fn(value); } catch (e) { setTimeout(function () { throw e; }, 0); }
    });
  }

  function findContainer(container) {
    if (container && typeof container === 'object' && container.nodeType === 1) return container;
    if (typeof container === 'string' && container) {
      try {
        return document.querySelector(container);
      } catch (e) {
        return null;
      }
    }
    return null;
  }

  function categoriesOf(options) {
    if (Array.isArray(options.payment_method_categories) && options.payment_method_categories.length) {
      return options.payment_method_categories.filter(function (c) { return typeof c === 'string' && c; });
    }
    if (typeof options.payment_method_category === 'string' && options.payment_method_category) {
      return [options.payment_method_category];
    }
    return [];
  }

  function keyOf(options) {
    if (options.instance_id !== undefined && options.instance_id !== null && options.instance_id !== '') {
      return 'i:' + String(options.instance_id);
    }
    var cats = categoriesOf(options);
    return cats.length ? 'c:' + cats.join(',') : null;
  }

  var ALL_KEY = 'all'; // the instance loaded without a category: every category the session offers

  // The instance an authorize-like call refers to: by instance_id, else by category.
  function instanceFor(options) {
    var key = keyOf(options);
    if (key && instances[key]) return instances[key];
    if (options.instance_id) return null;
    var cat = options.payment_method_category;
    var keys = Object.keys(instances).filter(function (k) { return k !== 'review'; });
    if (!key) {
      // No category named: the instance loaded without one, else the only one loaded.
      if (instances[ALL_KEY]) return instances[ALL_KEY];
      return keys.length === 1 ? instances[keys[0]] : null;
    }
    for (var i = 0; i < keys.length; i++) {
      if (instances[keys[i]].categories.indexOf(cat) !== -1) return instances[keys[i]];
    }
    return null;
  }

  // ---- the widget iframe ----
  function send(inst, message) {
    message.source = SDK_SOURCE;
    inst.iframe.contentWindow.postMessage(message, app.origin);
  }

  function whenReady(inst, fn) {
    if (inst.ready) fn();
    else inst.queue.push(fn);
  }

  function setInlineHeight(inst, height) {
    inst.height = height;
    if (!inst.overlay) inst.iframe.style.height = height + 'px';
  }

  function showOverlay(inst) {
    if (inst.overlay) return;
    inst.overlay = true;
    overlayInstance = inst;
    var s = inst.iframe.style;
    s.position = 'fixed';
    s.top = '0';
    s.left = '0';
    s.width = '100%';
    s.height = '100%';
    s.zIndex = '2147483647';
    s.background = 'rgba(23, 20, 31, 0.5)';
    emit('fullscreenOverlayShown');
  }

  function hideOverlay(inst) {
    if (!inst.overlay) return;
    inst.overlay = false;
    if (overlayInstance === inst) overlayInstance = null;
    var back = inst.returnFocus;
    inst.returnFocus = null;
    var s = inst.iframe.style;
    s.position = '';
    s.top = '';
    s.left = '';
    s.zIndex = '';
    s.background = '';
    s.width = '100%';
    s.height = inst.height + 'px';
    // Focus goes back where it was before the dialog opened (the merchant's button).
    if (back && back.isConnected && typeof back.focus === 'function') {
      try { back.focus(); } catch (e) { /* not focusable any more */ }
    }
    emit('fullscreenOverlayHidden');
  }

  function createInstance(key, container, categories) {
    var old = instances[key];
    if (old) destroyInstance(old);
    var id = 'kasse-' + (nextId++);
    var iframe = document.createElement('iframe');
    iframe.id = 'klarna-' + id;
    iframe.name = 'klarna-' + id;
    iframe.title = 'Payment form';
    iframe.setAttribute('scrolling', 'no');
    iframe.style.cssText = 'display:block;border:0;width:100%;height:0;max-width:100%;color-scheme:normal;';
    // Only the merchant page's origin and our id travel in the URL (fragment): the widget needs
    // the origin to check messages and to address its replies.
    iframe.src = app.baseUrl + WIDGET_PATH + '#' + new URLSearchParams({
      origin: window.location.origin,
      id: id,
    }).toString();
    var inst = {
      key: key,
      id: id,
      iframe: iframe,
      container: container,
      categories: categories,
      ready: false,
      queue: [],
      pending: {},     // request id -> callback
      overlay: false,
      height: 0,
      showForm: null,  // last load's show_form
      returnFocus: null, // the page element focused before the overlay opened
    };
    instances[key] = inst;
    container.innerHTML = '';
    container.appendChild(iframe);
    return inst;
  }

  function destroyInstance(inst) {
    hideOverlay(inst);
    if (inst.iframe.parentNode) inst.iframe.parentNode.removeChild(inst.iframe);
    delete instances[inst.key];
  }

  function request(inst, message, callback) {
    var rid = inst.id + ':' + (nextId++);
    message.request_id = rid;
    inst.pending[rid] = callback;
    whenReady(inst, function () { send(inst, message); });
    return rid;
  }

  function instanceByWindow(win) {
    var keys = Object.keys(instances);
    for (var i = 0; i < keys.length; i++) {
      if (instances[keys[i]].iframe.contentWindow === win) return instances[keys[i]];
    }
    return null;
  }

  window.addEventListener('message', function (event) {
    if (!app || event.origin !== app.origin) return;
    var msg = event.data;
    if (!msg || typeof msg !== 'object' || msg.source !== WIDGET_SOURCE) return;
    var inst = instanceByWindow(event.source);
    if (!inst || msg.id !== inst.id) return;
    switch (msg.type) {
      case 'ready':
        if (inst.ready) return;
        inst.ready = true;
        send(inst, { type: 'init', client_token: app.token });
        inst.queue.splice(0).forEach(function (fn) { fn(); });
        break;
      case 'height':
        if (typeof msg.height === 'number' && msg.height >= 0) {
          var h = Math.ceil(msg.height);
          if (h !== inst.height) {
            setInlineHeight(inst, h);
            emit('heightChanged', h);
          }
        }
        break;
      case 'categories':
        if (Array.isArray(msg.categories)) {
          knownCategories = msg.categories.slice();
          if (inst.key === ALL_KEY) inst.categories = msg.categories.slice();
        }
        break;
      case 'overlay':
        if (msg.shown) showOverlay(inst);
        else hideOverlay(inst);
        break;
      case 'result': {
        var cb = inst.pending[msg.request_id];
        delete inst.pending[msg.request_id];
        if (msg.kind === 'load' && msg.result) inst.showForm = msg.result.show_form;
        if (msg.kind !== 'load') hideOverlay(inst);
        if (isFunction(cb)) cb(msg.result);
        break;
      }
      default:
        break;
    }
  });

  // ---- the public API ----
  function init(options) {
    options = options || {};
    var decoded = decodeToken(options.client_token);
    // A new token (a new session) starts over.
    Object.keys(instances).forEach(function (k) { destroyInstance(instances[k]); });
    knownCategories = null;
    app = decoded;
  }

  function load(options, data, callback) {
    var a = args3(options, data, callback);
    var noForm = { show_form: false };
    if (!app) fail(a.callback, noForm, new errors.ApplicationNotInitializedError('Call Klarna.Payments.init first'));
    var container = findContainer(a.options.container);
    if (!container) fail(a.callback, noForm, new errors.InvalidContainerSelectorError('No element for container ' + String(a.options.container)));
    var cats = categoriesOf(a.options);
    var preferred = a.options.preferred_payment_method;
    // Without a category the widget offers every category of the session (known after a load).
    var among = cats.length ? cats : knownCategories;
    if (preferred !== undefined && among && among.indexOf(preferred) === -1) {
      fail(a.callback, noForm, new errors.PreferredPaymentMethodNotSupportedError('preferred_payment_method is not among the categories'));
    }
    if (knownCategories) {
      var unknown = cats.filter(function (c) { return knownCategories.indexOf(c) === -1; });
      if (unknown.length) {
        fail(a.callback, noForm, new errors.PaymentMethodCategoryNotSupportedError('Not offered for this session: ' + unknown.join(', ')));
      }
    }
    var inst = createInstance(keyOf(a.options) || ALL_KEY, container, cats);
    request(inst, {
      type: 'load',
      categories: cats.length ? cats : null,
      preferred: preferred || cats[0] || null,
      data: a.data === undefined ? null : a.data,
    }, a.callback);
  }

  function flow(kind, options, data, callback) {
    var a = args3(options, data, callback);
    var denied = { show_form: false, approved: false };
    if (!app) fail(a.callback, denied, new errors.ApplicationNotInitializedError('Call Klarna.Payments.init first'));
    var inst = instanceFor(a.options);
    var category = a.options.payment_method_category;
    if (!category && inst && inst.categories.length === 1) category = inst.categories[0];
    // No category and several instances loaded: which widget is meant cannot be told.
    if (!category && !inst && !a.options.instance_id && Object.keys(instances).filter(function (k) { return k !== 'review'; }).length > 1) {
      fail(a.callback, denied, new errors.PaymentMethodCategoryNotProvidedError('Several categories are loaded: name one in payment_method_category'));
    }
    if (category && knownCategories && knownCategories.indexOf(category) === -1) {
      fail(a.callback, denied, new errors.PaymentMethodCategoryNotSupportedError('Not offered for this session: ' + category));
    }
    if (!inst) fail(a.callback, denied, new errors.ApplicationNotLoadedError('Call Klarna.Payments.load for this category first'));
    // A form that was not shown cannot be authorized (e.g. pre-screened away: +red).
    if (inst.showForm === false) {
      setTimeout(function () { if (isFunction(a.callback)) a.callback(denied); }, 0);
      return;
    }
    if (overlayInstance && overlayInstance !== inst) hideOverlay(overlayInstance);
    var active = document.activeElement;
    if (!inst.overlay) inst.returnFocus = active && active !== document.body && active !== inst.iframe ? active : null;
    // Shown now, inside the merchant's click handler, so focus may move into the widget.
    showOverlay(inst);
    try { inst.iframe.focus(); } catch (e) { /* not focusable yet */ }
    request(inst, {
      type: 'flow',
      kind: kind,
      category: category || null,
      auto_finalize: a.options.auto_finalize !== false,
      data: a.data === undefined ? null : a.data,
    }, a.callback);
  }

  function authorize(options, data, callback) { flow('authorize', options, data, callback); }
  function reauthorize(options, data, callback) { flow('reauthorize', options, data, callback); }
  function finalize(options, data, callback) { flow('finalize', options, data, callback); }

  function loadPaymentReview(options, callback) {
    options = options || {};
    var noForm = { show_form: false };
    if (!app) fail(callback, noForm, new errors.ApplicationNotInitializedError('Call Klarna.Payments.init first'));
    var country = String(app.claims.purchase_country || '').toUpperCase();
    if (country !== 'US') {
      fail(callback, noForm, new errors.OperationNotSupportedError('loadPaymentReview is only available in the US'));
    }
    var container = findContainer(options.container);
    if (!container) fail(callback, noForm, new errors.InvalidContainerSelectorError('No element for container ' + String(options.container)));
    var inst = createInstance('review', container, []);
    request(inst, { type: 'review' }, callback);
  }

  function on(name, handler) {
    if (EVENTS.indexOf(name) === -1) throw new errors.EventNotSupportedError('Unknown event: ' + name);
    if (!isFunction(handler)) return;
    (handlers[name] = handlers[name] || []).push(handler);
  }

  function off(name, handler) {
    if (EVENTS.indexOf(name) === -1) throw new errors.EventNotSupportedError('Unknown event: ' + name);
    if (handler === undefined) {
      delete handlers[name];
      return;
    }
    handlers[name] = (handlers[name] || []).filter(function (h) { return h !== handler; });
  }

  Klarna.Payments = {
    init: init,
    load: load,
    loadPaymentReview: loadPaymentReview,
    authorize: authorize,
    reauthorize: reauthorize,
    finalize: finalize,
    on: on,
    off: off,
    errors: errors,
    kasse: true,
    version: '1',
  };

  if (isFunction(window.klarnaAsyncCallback)) {
    try {
      window.klarnaAsyncCallback();
    } catch (e) {
      setTimeout(function () { throw e; }, 0);
    }
  }
}(window, document));
