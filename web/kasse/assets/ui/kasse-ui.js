/*
 * Kasse's shopper-facing helpers, shared by the shopper widget (web/kp/widget/v1) and the hosted
 * payment page (web/hpp/v1), each of which loads this file first and finds it as window.KasseUI.
 * Only what both pages do the same way lives here; their steps, texts and views stay their own.
 * The matching look is /kasse/assets/ui/kasse-ui.css.
 */
(function () {
  'use strict';

  // A shopper API call that failed. status 0: no reply (network). path: the field Kasse named
  // in "Bad value: <path>", else null.
  function ApiError(status, body) {
    this.status = status;
    this.body = body;
    var msgs = body && Array.isArray(body.error_messages) ? body.error_messages : [];
    var m = /^Bad value: (.+)$/.exec(msgs[0] || '');
    this.path = m ? m[1] : null;
    this.code = body && body.error_code;
    this.message = msgs[0] || ('HTTP ' + status);
  }

  // fetch() with the caller's init (method, headers, credentials, ...), body (when given) sent as
  // JSON. Resolves with the parsed reply (null when empty or not JSON); rejects with an ApiError.
  function fetchJson(url, init, body) {
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (res) {
      return res.text().then(function (text) {
        var json = null;
        try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
        if (!res.ok) throw new ApiError(res.status, json);
        return json;
      });
    }, function () {
      throw new ApiError(0, null);
    });
  }

  // An amount in minor units, in the currency's own number of decimals (JPY 0, EUR 2, ...).
  function money(minor, currency, locale) {
    if (typeof minor !== 'number') return '';
    try {
      var f = new Intl.NumberFormat(locale || 'en', { style: 'currency', currency: currency });
      var digits = f.resolvedOptions().maximumFractionDigits;
      return f.format(minor / Math.pow(10, digits));
    } catch (e) {
      return (minor / 100).toFixed(2) + ' ' + (currency || '');
    }
  }

  // Shows (or, with no text, clears) the error of a field: the <p id="{inputId}-error"> the input
  // names in aria-describedby, and aria-invalid on the input.
  function fieldError(inputId, text) {
    var input = document.getElementById(inputId);
    var err = document.getElementById(inputId + '-error');
    err.textContent = text || '';
    err.hidden = !text;
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  // A payment method category as a radio button named "category" in a <label class="choice">:
  // the input, the category's badge when it has one (decorative: the name says it), the name.
  // onSelect runs when the shopper picks it.
  function categoryChoice(id, info, checked, onSelect) {
    var label = document.createElement('label');
    label.className = 'choice';
    var input = document.createElement('input');
    input.type = 'radio';
    input.name = 'category';
    input.value = id;
    input.checked = checked;
    input.addEventListener('change', onSelect);
    label.appendChild(input);
    var urls = info.asset_urls || {};
    var src = urls.standard || urls.descriptive;
    if (typeof src === 'string' && src) {
      var img = document.createElement('img');
      img.src = src;
      img.alt = '';
      label.appendChild(img);
    }
    var name = document.createElement('span');
    name.textContent = info.name || id;
    label.appendChild(name);
    return label;
  }

  window.KasseUI = {
    ApiError: ApiError,
    fetchJson: fetchJson,
    money: money,
    fieldError: fieldError,
    categoryChoice: categoryChoice,
  };
}());
