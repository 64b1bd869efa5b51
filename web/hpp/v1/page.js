/*
 * Kasse hosted payment page (HPP): served at /hpp/payments/{page_id}; the page id in the path is
 * the shopper's only key. Talks to the shopper API (docs/hpp.md), same origin, JSON:
 *
 *   GET  /hpp/shopper/v1/{page_id}             the page's state
 *   POST /hpp/shopper/v1/{page_id}/open        WAITING/BACK/FAILED/ERROR -> IN_PROGRESS
 *   POST /hpp/shopper/v1/{page_id}/identify    {email, phone} -> {code_sent, signup_required}
 *   POST /hpp/shopper/v1/{page_id}/authorize   -> {result, status, redirect_url?, fallback_categories?}
 *   POST /hpp/shopper/v1/{page_id}/back|cancel -> {status, redirect_url}
 *
 * Steps (as the KP widget, web/kp/widget/v1): payment method -> e-mail and phone -> six-digit
 * code -> (sign-up, when identify or authorize says so) -> confirm -> pay. Final statuses, an
 * unknown or disabled link (404/410) and a decline that sent the browser back here show a
 * message instead of the steps.
 *
 * Texts: English and Swedish. <html lang> is the state's locale when the page has texts in its
 * language; otherwise the page speaks English (lang="en") and only what comes localized from
 * Kasse or the merchant (title, pay label) carries the locale.
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  // Helpers shared with the KP widget (/kasse/assets/ui/kasse-ui.js, loaded first).
  var ui = window.KasseUI;
  var fieldError = ui.fieldError;

  var TEXTS = {
    en: {
      loading: 'Loading your payment\u2026',
      defaultTitle: 'Complete your purchase',
      pageTitleFallback: 'Payment',
      orderHeading: 'Your order',
      subtotal: 'Subtotal excl. tax',
      tax: 'Tax',
      total: 'Total',
      categoryHeading: 'How do you want to pay?',
      continue: 'Continue',
      identifyHeading: 'Your details',
      email: 'E-mail',
      phone: 'Mobile phone',
      emailMissing: 'Enter your e-mail address.',
      phoneMissing: 'Enter your mobile phone number.',
      emailBad: 'Check your e-mail address.',
      phoneBad: 'Check your phone number.',
      codeHeading: 'Enter the code',
      codeLabel: 'Six-digit code',
      codeHint: 'Test mode: no code is really sent. Any six digits work, except 999999, which makes the code check fail.',
      codeSent: 'We sent a code to {phone}.',
      codeMissing: 'Enter the six digits of the code.',
      codeFailed: 'The code wasn\u2019t accepted. Check it and try again.',
      changeDetails: 'Change e-mail or phone',
      signupHeading: 'Create your account',
      signupText: 'This is your first purchase with Kasse. Create an account to continue.',
      dob: 'Date of birth',
      terms: 'I accept the terms',
      dobMissing: 'Enter your date of birth.',
      termsMissing: 'Accept the terms to create an account.',
      createAccount: 'Create account',
      confirmHeading: 'Confirm your purchase',
      store: 'Store',
      method: 'Payment method',
      confirmEmail: 'E-mail',
      checking: 'Checking your purchase\u2026',
      approved: 'Payment approved. One moment\u2026',
      leaving: 'One moment\u2026',
      fallback: 'That payment method was declined. You can choose another one.',
      completed: 'Payment complete. You can close this page.',
      cancelled: 'Payment cancelled.',
      unavailable: 'This payment link is no longer available.',
      declined: 'Your payment was declined.',
      errorFinal: 'Something went wrong with your payment.',
      errorAgain: 'Something went wrong with your payment. You can try again.',
      loadFailed: 'The payment could not be loaded.',
      tryAgain: 'Try again',
      back: 'Back',
      cancel: 'Cancel',
      cancelQuestion: 'Cancel this payment? You will not be able to pay with this link afterwards.',
      cancelYes: 'Yes, cancel payment',
      cancelNo: 'No, continue paying',
      unreachable: 'Kasse could not be reached. Check your connection and try again.',
      failed: 'Something went wrong. Try again.',
      noCategories: 'No payment method is available for this purchase.',
      foot: 'Payments by Kasse. Test mode: no money moves.',
    },
    sv: {
      loading: 'Laddar din betalning\u2026',
      defaultTitle: 'Slutför ditt köp',
      pageTitleFallback: 'Betalning',
      orderHeading: 'Din beställning',
      subtotal: 'Delsumma exkl. moms',
      tax: 'Moms',
      total: 'Totalt',
      categoryHeading: 'Hur vill du betala?',
      continue: 'Fortsätt',
      identifyHeading: 'Dina uppgifter',
      email: 'E-post',
      phone: 'Mobilnummer',
      emailMissing: 'Ange din e-postadress.',
      phoneMissing: 'Ange ditt mobilnummer.',
      emailBad: 'Kontrollera din e-postadress.',
      phoneBad: 'Kontrollera ditt mobilnummer.',
      codeHeading: 'Ange koden',
      codeLabel: 'Sexsiffrig kod',
      codeHint: 'Testläge: ingen kod skickas på riktigt. Alla sex siffror fungerar utom 999999, som får kodkontrollen att misslyckas.',
      codeSent: 'Vi har skickat en kod till {phone}.',
      codeMissing: 'Ange kodens sex siffror.',
      codeFailed: 'Koden godkändes inte. Kontrollera den och försök igen.',
      changeDetails: 'Ändra e-post eller mobilnummer',
      signupHeading: 'Skapa ditt konto',
      signupText: 'Det här är ditt första köp med Kasse. Skapa ett konto för att fortsätta.',
      dob: 'Födelsedatum',
      terms: 'Jag godkänner villkoren',
      dobMissing: 'Ange ditt födelsedatum.',
      termsMissing: 'Godkänn villkoren för att skapa ett konto.',
      createAccount: 'Skapa konto',
      confirmHeading: 'Bekräfta ditt köp',
      store: 'Butik',
      method: 'Betalsätt',
      confirmEmail: 'E-post',
      checking: 'Vi kontrollerar ditt köp\u2026',
      approved: 'Betalningen är godkänd. Ett ögonblick\u2026',
      leaving: 'Ett ögonblick\u2026',
      fallback: 'Det betalsättet nekades. Du kan välja ett annat.',
      completed: 'Betalningen är klar. Du kan stänga den här sidan.',
      cancelled: 'Betalningen avbröts.',
      unavailable: 'Den här betalningslänken är inte längre tillgänglig.',
      declined: 'Din betalning nekades.',
      errorFinal: 'Något gick fel med din betalning.',
      errorAgain: 'Något gick fel med din betalning. Du kan försöka igen.',
      loadFailed: 'Betalningen kunde inte laddas.',
      tryAgain: 'Försök igen',
      back: 'Tillbaka',
      cancel: 'Avbryt',
      cancelQuestion: 'Avbryta betalningen? Du kan inte betala med den här länken efteråt.',
      cancelYes: 'Ja, avbryt betalningen',
      cancelNo: 'Nej, fortsätt betala',
      unreachable: 'Kasse kunde inte nås. Kontrollera din anslutning och försök igen.',
      failed: 'Något gick fel. Försök igen.',
      noCategories: 'Inget betalsätt är tillgängligt för det här köpet.',
      foot: 'Betalningar via Kasse. Testläge: inga pengar flyttas.',
    },
  };

  var t = TEXTS.en;

  // /hpp/payments/{page_id}
  var match = /^\/hpp\/payments\/([^/]+)\/?$/.exec(window.location.pathname);
  var pageId = null;
  if (match) {
    try { pageId = decodeURIComponent(match[1]); } catch (e) { pageId = null; }
  }

  var st = {
    state: null,          // the last state the shopper API answered
    offered: [],          // category identifiers the shopper may choose now
    selected: null,
    declined: [],         // categories declined with a fallback, sent with later authorize calls
    email: '',
    phone: '',
    otp: '',
    signupRequired: false,
    signupDone: false,
    busy: false,
    leaving: false,       // the browser is being sent elsewhere: nothing more to do here
    step: null,
    retry: null,          // what "Try again" does
  };

  // ---- shopper API (errors are KasseUI.ApiError) ----
  function api(method, sub, body) {
    var url = '/hpp/shopper/v1/' + encodeURIComponent(pageId) + (sub ? '/' + sub : '');
    return ui.fetchJson(url, {
      method: method,
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    }, body).then(function (json) {
      return json || {};
    });
  }

  // 404 (unknown page) or 410 (disabled, cancelled, expired): the link cannot be paid.
  function gone(err) {
    return err instanceof ui.ApiError && (err.status === 404 || err.status === 410);
  }

  // ---- formatting ----
  function locale() { return (st.state && st.state.locale) || 'en'; }

  // An amount in the state's currency and locale.
  function money(minor) {
    return ui.money(minor, (st.state || {}).purchase_currency, locale());
  }

  function fill(text, vars) {
    return text.replace(/\{(\w+)\}/g, function (all, k) { return vars[k] !== undefined ? vars[k] : all; });
  }

  // Chooses the page's texts from the state's locale and writes every data-t text.
  function applyLocale(s) {
    var loc = s && typeof s.locale === 'string' && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(s.locale)
      ? s.locale : null;
    var lang = loc ? loc.split('-')[0].toLowerCase() : 'en';
    t = TEXTS[lang] || TEXTS.en;
    document.documentElement.lang = TEXTS[lang] ? (loc || 'en') : 'en';
    Array.prototype.forEach.call(document.querySelectorAll('[data-t]'), function (el) {
      var k = el.getAttribute('data-t');
      if (t[k]) el.textContent = t[k];
    });
    // Texts Kasse or the merchant localized keep their own language when the page has none.
    var own = loc && !TEXTS[lang] ? loc : null;
    ['title', 'pay-label'].forEach(function (id) {
      if (own) $(id).setAttribute('lang', own);
      else $(id).removeAttribute('lang');
    });
  }

  // Is this URL the page itself (a decline or approval with no merchant URL)?
  function pointsHere(url) {
    if (typeof url !== 'string' || !url) return false;
    try {
      var u = new URL(url, window.location.href);
      return u.pathname.replace(/\/+$/, '') === window.location.pathname.replace(/\/+$/, '');
    } catch (e) {
      return false;
    }
  }

  // ---- view ----
  var STEPS = ['cancel-confirm', 'step-category', 'step-identify', 'step-code', 'step-signup', 'step-confirm'];

  function focusFor(stepId) {
    switch (stepId) {
      case 'cancel-confirm': return $('cancel-question');
      case 'step-category':
        return document.querySelector('#categories input:checked') ||
          document.querySelector('#categories input') || $('category-title');
      case 'step-identify': return $('email').value ? $('identify-title') : $('email');
      case 'step-code': return $('otp');
      case 'step-signup': return $('dob');
      case 'step-confirm': return $('confirm-title');
      default: return null;
    }
  }

  // Shows one step; moves focus to it when the shopper got there by acting (not on first load).
  function show(stepId, focus) {
    st.step = stepId;
    STEPS.forEach(function (id) { $(id).hidden = id !== stepId; });
    if (focus) {
      var el = focusFor(stepId);
      if (el) el.focus();
    }
  }

  function setStatus(text) { $('status').textContent = text || ''; }
  function setAlert(text) { $('alert').textContent = text || ''; }

  function clearErrors() {
    ['email', 'phone', 'otp', 'dob', 'terms'].forEach(function (id) { fieldError(id, ''); });
    setAlert('');
  }

  // While a call is out every action button is disabled (no double submit); after it, focus
  // returns to the button that had it when the browser dropped it.
  var busyFocus = null;
  function setBusy(busy) {
    st.busy = busy;
    if (busy) busyFocus = document.activeElement;
    Array.prototype.forEach.call(document.querySelectorAll('#main button'), function (b) {
      b.disabled = busy;
    });
    if (!busy && busyFocus && (document.activeElement === document.body || !document.activeElement) &&
        document.contains(busyFocus) && busyFocus.offsetParent !== null) {
      busyFocus.focus();
    }
    if (!busy) busyFocus = null;
  }

  function categoryInfo(id) {
    var list = (st.state && st.state.categories) || [];
    for (var i = 0; i < list.length; i++) if (list[i] && list[i].identifier === id) return list[i];
    return null;
  }

  function categoryName(id) {
    var info = categoryInfo(id);
    return (info && info.name) || id;
  }

  function renderHeader(s) {
    $('merchant').hidden = false;
    $('merchant-name').textContent = s.merchant_name || '';
    var logo = $('logo');
    if (typeof s.logo_url === 'string' && s.logo_url) {
      if (logo.getAttribute('src') !== s.logo_url) logo.src = s.logo_url;
      logo.hidden = false;
    } else {
      logo.removeAttribute('src');
      logo.hidden = true;
    }
    var title = typeof s.page_title === 'string' && s.page_title ? s.page_title : t.defaultTitle;
    $('title').textContent = title;
    document.title = s.merchant_name ? title + ' \u2013 ' + s.merchant_name : title;
    renderBackground(s.background_images);
  }

  // The merchant's background image whose width best fits the window (the smallest at least as
  // wide, else the widest). Kasse's state offers only images the page may load.
  function renderBackground(images) {
    var list = Array.isArray(images) ? images.filter(function (b) {
      return b && typeof b.url === 'string' && /^(https?:|data:image\/)/i.test(b.url) && typeof b.width === 'number';
    }) : [];
    var page = $('page');
    if (!list.length) {
      page.style.backgroundImage = '';
      page.classList.remove('has-background');
      return;
    }
    var need = Math.ceil(window.innerWidth * (window.devicePixelRatio || 1));
    list.sort(function (a, b) { return a.width - b.width; });
    var best = list[list.length - 1];
    for (var i = 0; i < list.length; i++) if (list[i].width >= need) { best = list[i]; break; }
    var css = best.url.replace(/["\\\n\r\f]/g, function (c) { return '\\' + c.charCodeAt(0).toString(16) + ' '; });
    page.style.backgroundImage = 'url("' + css + '")';
    page.classList.add('has-background');
  }

  function renderOrder(s) {
    var ul = $('lines');
    ul.textContent = '';
    var lines = Array.isArray(s.order_lines) ? s.order_lines : null;
    if (lines) {
      lines.forEach(function (line) {
        if (!line || line.type === 'sales_tax') return;   // tax has its own row
        var li = document.createElement('li');
        var name = document.createElement('span');
        name.className = 'line-name';
        name.textContent = (typeof line.quantity === 'number' && line.quantity !== 1 ? line.quantity + ' \u00d7 ' : '') +
          (line.name || '');
        var amount = document.createElement('span');
        amount.className = 'line-amount';
        amount.textContent = money(line.total_amount);
        li.appendChild(name);
        li.appendChild(amount);
        ul.appendChild(li);
      });
    }
    // With show_subtotal_detail HIDE the state has no order_lines: only the total.
    ul.hidden = !lines || !ul.children.length;
    var detail = !!lines && typeof s.order_tax_amount === 'number';
    $('row-subtotal').hidden = !detail;
    $('row-tax').hidden = !detail;
    if (detail) {
      $('subtotal').textContent = money(s.order_amount - s.order_tax_amount);
      $('tax').textContent = money(s.order_tax_amount);
    }
    $('total').textContent = money(s.order_amount);
    $('order').hidden = false;
  }

  function renderNav(s) {
    // Never both: a back URL means Back; otherwise Cancel when it is offered.
    $('back').hidden = !s.back_available;
    $('cancel').hidden = !!s.back_available || !s.cancel_available;
  }

  function renderCategories() {
    var box = $('categories');
    box.textContent = '';
    st.offered.forEach(function (id) {
      var info = categoryInfo(id) || { identifier: id, name: id };
      box.appendChild(ui.categoryChoice(id, info, id === st.selected, function () { st.selected = id; }));
    });
  }

  function hideAll() {
    $('loading').hidden = true;
    $('final').hidden = true;
    $('flow').hidden = true;
    $('order').hidden = true;
  }

  // A message instead of the steps. kind: completed | cancelled | unavailable | declined | error
  // | loadFailed. "Try again" is offered after a decline or error that came back here, and when
  // the state could not be read.
  function showFinal(kind, s, focus) {
    st.leaving = false;
    st.retry = null;
    setBusy(false);
    setStatus('');
    setAlert('');
    if (s) {
      st.state = s;
      applyLocale(s);
      renderHeader(s);
      $('back').hidden = true;
      $('cancel').hidden = true;
    } else if (!st.state) {
      $('title').textContent = t.pageTitleFallback;
      document.title = t.pageTitleFallback;
    } else {
      $('back').hidden = true;
      $('cancel').hidden = true;
    }
    hideAll();
    var text = {
      completed: t.completed,
      cancelled: t.cancelled,
      unavailable: t.unavailable,
      declined: t.declined,
      error: t.errorFinal,
      loadFailed: t.loadFailed,
    }[kind] || t.unavailable;
    $('final-message').textContent = text;
    $('final').setAttribute('data-kind', kind);
    if (kind === 'declined' || kind === 'error') st.retry = reopen;
    else if (kind === 'loadFailed') st.retry = start;
    $('retry').hidden = !st.retry;
    $('final').hidden = false;
    if (focus) $('final-message').focus();
  }

  // 410 says why (SESSION_DISABLED, SESSION_EXPIRED, SESSION_CANCELLED, SESSION_COMPLETED: paid
  // in another tab); 404: an unknown link.
  function finalFromError(err, focus) {
    var code = err && err.status === 410 ? err.code : null;
    if (code === 'SESSION_CANCELLED') showFinal('cancelled', null, focus);
    else if (code === 'SESSION_COMPLETED') showFinal('completed', null, focus);
    else showFinal('unavailable', null, focus);
  }

  // The steps, from the start, for a state that can be paid.
  function renderFlow(s, focus) {
    st.state = s;
    st.leaving = false;
    applyLocale(s);
    setBusy(false);
    setStatus('');
    clearErrors();
    hideAll();
    renderHeader(s);
    renderOrder(s);
    renderNav(s);
    st.offered = (Array.isArray(s.categories) ? s.categories : [])
      .map(function (c) { return c && c.identifier; })
      .filter(function (id) { return typeof id === 'string' && id; });
    st.selected = st.offered[0] || null;
    st.declined = [];
    st.otp = '';
    st.signupRequired = false;
    st.signupDone = false;
    $('otp').value = '';
    var prefill = s.prefill || {};
    if (prefill.email && !$('email').value) $('email').value = prefill.email;
    if (prefill.phone && !$('phone').value) $('phone').value = prefill.phone;
    $('pay-label').textContent = s.pay_label || 'Buy';
    $('pay-total').textContent = money(s.order_amount);
    renderCategories();
    $('flow').hidden = false;
    show('step-category', focus);
    if (!st.offered.length) setAlert(t.noCategories);
  }

  // Sends the browser where the shopper API said (the merchant's page, or this page again,
  // which then shows the outcome).
  function go(url, message) {
    st.leaving = true;
    setBusy(true);
    setStatus(message || t.leaving);
    if (typeof url === 'string' && url) {
      window.location.assign(url);
    } else {
      start(true);   // no URL: read the state again and show what it says
    }
  }

  // A call that failed for another reason than the shopper's input.
  function failRequest(err) {
    setStatus('');
    if (gone(err)) {
      finalFromError(err, true);
      return;
    }
    setBusy(false);
    setAlert(err && err.status === 0 ? t.unreachable : t.failed);
  }

  // ---- load ----
  function start(focus) {
    if (!pageId) {
      showFinal('unavailable', null, focus);
      return;
    }
    api('GET', '').then(function (s) {
      switch (s.status) {
        case 'COMPLETED': showFinal('completed', s, focus); return null;
        case 'CANCELLED': showFinal('cancelled', s, focus); return null;
        case 'DISABLED': showFinal('unavailable', s, focus); return null;
        case 'FAILED':
        case 'ERROR':
          // Sent back here after a decline or error (no merchant URL for it): say so, and
          // reopen only when the shopper asks.
          if (pointsHere(s.redirect_url)) {
            showFinal(s.status === 'FAILED' ? 'declined' : 'error', s, focus);
            return null;
          }
          // An error with no URL of its own (the state names none): the steps again, saying why.
          return open(focus).then(function () {
            if (s.status === 'ERROR' && !s.redirect_url && !$('flow').hidden) setAlert(t.errorAgain);
          });
        default:
          return open(focus);
      }
    }).catch(function (err) {
      if (gone(err)) finalFromError(err, focus);
      else showFinal('loadFailed', null, focus);
    });
  }

  function open(focus) {
    return api('POST', 'open').then(function (s) {
      switch (s.status) {
        case 'COMPLETED': showFinal('completed', s, focus); break;
        case 'CANCELLED': showFinal('cancelled', s, focus); break;
        case 'DISABLED': showFinal('unavailable', s, focus); break;
        default: renderFlow(s, focus);
      }
    });
  }

  // "Try again" after a decline or error: reopen the session and start the steps again.
  function reopen() {
    setBusy(true);
    open(true).catch(function (err) {
      if (gone(err)) finalFromError(err, true);
      else {
        setBusy(false);
        setAlert(err && err.status === 0 ? t.unreachable : t.failed);
      }
    });
  }

  $('retry').addEventListener('click', function () {
    if (st.busy || !st.retry) return;
    var fn = st.retry;
    if (fn === start) {
      setBusy(true);
      start(true);
    } else {
      fn();
    }
  });

  // ---- back and cancel ----
  function leaveWith(call) {
    if (st.busy || st.leaving) return;
    clearErrors();
    setBusy(true);
    api('POST', call).then(function (r) {
      go(r.redirect_url);
    }, failRequest);
  }

  $('back').addEventListener('click', function () { leaveWith('back'); });

  var stepBeforeCancel = null;
  $('cancel').addEventListener('click', function () {
    if (st.busy || st.leaving) return;
    if (st.step !== 'cancel-confirm') stepBeforeCancel = st.step;
    clearErrors();
    show('cancel-confirm', true);
  });
  $('cancel-yes').addEventListener('click', function () { leaveWith('cancel'); });
  $('cancel-no').addEventListener('click', function () {
    if (st.busy) return;
    show(stepBeforeCancel || 'step-category', true);
  });

  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && st.step === 'cancel-confirm' && !st.busy) {
      show(stepBeforeCancel || 'step-category', true);
    }
  });

  // ---- the shopper's steps ----
  $('category-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (st.busy || st.leaving) return;
    var r = document.querySelector('#categories input:checked');
    if (!r) {
      setAlert(st.offered.length ? t.failed : t.noCategories);
      return;
    }
    st.selected = r.value;
    clearErrors();
    // After a decline with a fallback the shopper is identified already: straight to confirm.
    if (st.otp) toConfirm();
    else show('step-identify', true);
  });

  $('identify-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (st.busy || st.leaving) return;
    clearErrors();
    var email = $('email').value.trim();
    var phone = $('phone').value.trim();
    var bad = false;
    if (!email) { fieldError('email', t.emailMissing); bad = true; }
    if (!phone) { fieldError('phone', t.phoneMissing); bad = true; }
    if (bad) {
      $(email ? 'phone' : 'email').focus();
      return;
    }
    setBusy(true);
    api('POST', 'identify', { email: email, phone: phone }).then(function (r) {
      setBusy(false);
      st.email = email;
      st.phone = phone;
      st.otp = '';
      st.signupRequired = !!(r && r.signup_required);
      st.signupDone = false;
      $('otp').value = '';
      $('code-sent').textContent = fill(t.codeSent, { phone: phone });
      show('step-code', true);
    }, function (err) {
      if (err.path && /(^|\.)email$/.test(err.path)) {
        setBusy(false);
        fieldError('email', t.emailBad);
        $('email').focus();
      } else if (err.path && /(^|\.)phone$/.test(err.path)) {
        setBusy(false);
        fieldError('phone', t.phoneBad);
        $('phone').focus();
      } else {
        failRequest(err);
      }
    });
  });

  $('code-back').addEventListener('click', function () {
    if (st.busy) return;
    clearErrors();
    show('step-identify', true);
  });

  $('code-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (st.busy || st.leaving) return;
    clearErrors();
    var otp = $('otp').value.trim();
    if (!/^[0-9]{6}$/.test(otp)) {
      fieldError('otp', t.codeMissing);
      $('otp').focus();
      return;
    }
    st.otp = otp;
    if (st.signupRequired && !st.signupDone) show('step-signup', true);
    else toConfirm();
  });

  $('signup-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (st.busy || st.leaving) return;
    clearErrors();
    var dob = $('dob').value;
    var ok = true;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(dob)) { fieldError('dob', t.dobMissing); ok = false; }
    if (!$('terms').checked) { fieldError('terms', t.termsMissing); ok = false; }
    if (!ok) {
      (dob ? $('terms') : $('dob')).focus();
      return;
    }
    st.signupDone = true;
    toConfirm();
  });

  function toConfirm() {
    var s = st.state || {};
    $('confirm-merchant').textContent = s.merchant_name || '';
    $('confirm-category').textContent = categoryName(st.selected);
    $('confirm-email').textContent = st.email;
    $('pay-label').textContent = s.pay_label || 'Buy';
    $('pay-total').textContent = money(s.order_amount);
    show('step-confirm', true);
  }

  $('confirm-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (st.busy || st.leaving) return;
    clearErrors();
    var body = {
      payment_method_category: st.selected,
      email: st.email,
      phone: st.phone,
      otp: st.otp,
      signup_done: st.signupDone,
    };
    if (st.declined.length) body.declined_categories = st.declined.slice();
    setBusy(true);
    setStatus(t.checking);
    api('POST', 'authorize', body).then(function (r) {
      outcome(r || {});
    }, function (err) {
      setStatus('');
      if (err.path === 'otp') {
        setBusy(false);
        show('step-code', true);
        fieldError('otp', t.codeMissing);
        $('otp').focus();
      } else if (err.path && /(^|\.)email$/.test(err.path)) {
        setBusy(false);
        show('step-identify', true);
        fieldError('email', t.emailBad);
        $('email').focus();
      } else if (err.path && /(^|\.)phone$/.test(err.path)) {
        setBusy(false);
        show('step-identify', true);
        fieldError('phone', t.phoneBad);
        $('phone').focus();
      } else {
        failRequest(err);
      }
    });
  });

  function outcome(r) {
    switch (r.result) {
      case 'approved':
        go(r.redirect_url, t.approved);
        return;
      case 'declined': {
        var fallback = Array.isArray(r.fallback_categories) ? r.fallback_categories.map(function (c) {
          return typeof c === 'string' ? c : c && c.identifier;
        }).filter(function (id) { return typeof id === 'string' && id; }) : [];
        if (!fallback.length) {
          go(r.redirect_url);
          return;
        }
        if (st.declined.indexOf(st.selected) === -1) st.declined.push(st.selected);
        st.offered = fallback;
        st.selected = fallback[0];
        setStatus('');
        setBusy(false);
        renderCategories();
        show('step-category', true);
        setAlert(t.fallback);
        return;
      }
      case 'otp_failed':
        setStatus('');
        setBusy(false);
        st.otp = '';
        $('otp').value = '';
        show('step-code', true);
        fieldError('otp', t.codeFailed);
        $('otp').focus();
        return;
      case 'signup_required':
        setStatus('');
        setBusy(false);
        st.signupRequired = true;
        st.signupDone = false;
        show('step-signup', true);
        return;
      case 'error':
        go(r.redirect_url);
        return;
      default:
        setStatus('');
        setBusy(false);
        setAlert(t.failed);
    }
  }

  // Back from the merchant's page through the browser's history: the page may come from the
  // back/forward cache with its buttons disabled; read the state again.
  window.addEventListener('pageshow', function (e) {
    if (e.persisted) start(false);
  });

  start(false);
}());
