// Request bodies from Klarna's documentation and builders for valid carts.

export const clone = (o) => JSON.parse(JSON.stringify(o));

// Klarna Payments docs, step 1 "Initiate a payment": one-time purchase, SE/SEK, 25 % VAT, discount.
export const SE_EXAMPLE = Object.freeze({
  acquiring_channel: 'ECOMMERCE',
  intent: 'buy',
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'en-SE',
  order_amount: 9500,
  order_tax_amount: 1900,
  order_lines: [{
    type: 'physical',
    reference: '19-402',
    name: 'Battery Power Pack',
    quantity: 1,
    unit_price: 10000,
    tax_rate: 2500,
    total_amount: 9500,
    total_discount_amount: 500,
    total_tax_amount: 1900,
    image_url: 'https://www.exampleobjects.com/logo.png',
    product_url: 'https://www.estore.com/products/f2a8d7e34',
  }],
  merchant_urls: { authorization: 'https://example-url.com/authorization' },
});

// The same docs page, recurring purchase: a subscription line with intent tokenize / buy_and_tokenize.
export function subscriptionExample(intent) {
  return {
    acquiring_channel: 'ECOMMERCE',
    intent,
    purchase_country: 'SE',
    purchase_currency: 'SEK',
    locale: 'en-SE',
    order_amount: 9500,
    order_tax_amount: 1900,
    order_lines: [{
      type: 'digital',
      reference: '19-402',
      name: 'Streaming subscription',
      quantity: 1,
      unit_price: 10000,
      tax_rate: 2500,
      total_amount: 9500,
      total_discount_amount: 500,
      total_tax_amount: 1900,
      subscription: { name: 'Streaming subscription', interval: 'MONTH', interval_count: 1 },
    }],
    merchant_urls: { authorization: 'https://example-url.com/authorization' },
  };
}

// Klarna "Tax handling" docs, US model: tax in a separate sales_tax line; order_amount 21000 =
// 20000 + 1000, order_tax_amount = the sales tax line's total.
export const US_EXAMPLE = Object.freeze({
  purchase_country: 'US',
  purchase_currency: 'USD',
  locale: 'en-US',
  order_amount: 21000,
  order_tax_amount: 1000,
  order_lines: [
    { type: 'physical', reference: '19-402-USA', name: 'Red T-Shirt', quantity: 2,
      unit_price: 10000, tax_rate: 0, total_amount: 20000, total_discount_amount: 0, total_tax_amount: 0 },
    { type: 'sales_tax', name: 'Tax', quantity: 1, unit_price: 1000, tax_rate: 0,
      total_amount: 1000, total_discount_amount: 0, total_tax_amount: 0 },
  ],
});

// Klarna "Tax handling" docs, global model worked example (20 % VAT), accepted.
export const GB_TAX_EXAMPLE = Object.freeze({
  purchase_country: 'GB',
  purchase_currency: 'GBP',
  locale: 'en-GB',
  order_amount: 62400,
  order_tax_amount: 10400,
  order_lines: [
    { name: 'Item one', quantity: 1, unit_price: 59500, total_amount: 59500, tax_rate: 2000, total_tax_amount: 9917 },
    { name: 'Item two', quantity: 1, unit_price: 2900, total_amount: 2900, tax_rate: 2000, total_tax_amount: 483 },
  ],
});

// Market table, contract section 8: country → [currency, locales].
export const MARKETS = {
  AU: ['AUD', ['en-AU']],
  AT: ['EUR', ['de-AT', 'en-AT']],
  BE: ['EUR', ['nl-BE', 'fr-BE', 'en-BE']],
  CA: ['CAD', ['en-CA', 'fr-CA']],
  CZ: ['CZK', ['cs-CZ', 'en-CZ']],
  DK: ['DKK', ['da-DK', 'en-DK']],
  FI: ['EUR', ['fi-FI', 'sv-FI', 'en-FI']],
  FR: ['EUR', ['fr-FR', 'en-FR']],
  DE: ['EUR', ['de-DE', 'en-DE']],
  GR: ['EUR', ['el-GR', 'en-GR']],
  HU: ['HUF', ['hu-HU', 'en-HU']],
  IE: ['EUR', ['en-IE']],
  IT: ['EUR', ['it-IT', 'en-IT']],
  MX: ['MXN', ['en-MX', 'es-MX']],
  NL: ['EUR', ['nl-NL', 'en-NL']],
  NZ: ['NZD', ['en-NZ']],
  NO: ['NOK', ['nb-NO', 'en-NO']],
  PL: ['PLN', ['pl-PL', 'en-PL']],
  PT: ['EUR', ['pt-PT', 'en-PT']],
  RO: ['RON', ['ro-RO', 'en-RO']],
  SK: ['EUR', ['sk-SK', 'en-SK']],
  ES: ['EUR', ['es-ES', 'en-ES']],
  SE: ['SEK', ['sv-SE', 'en-SE']],
  CH: ['CHF', ['de-CH', 'fr-CH', 'it-CH', 'en-CH']],
  GB: ['GBP', ['en-GB']],
  US: ['USD', ['en-US', 'es-US']],
};

// Countries where a classic merchant is offered pay_now.
export const PAY_NOW_COUNTRIES = ['SE', 'DE', 'AT', 'NL', 'FI', 'CH', 'BE', 'DK', 'NO', 'GB'];

/** A valid one-line cart (25 % VAT, or no tax in the US) for a market. */
export function cart(country = 'SE', overrides = {}) {
  const [currency, locales] = MARKETS[country];
  const us = country === 'US';
  const body = {
    purchase_country: country,
    purchase_currency: currency,
    locale: locales[0],
    order_amount: 10000,
    order_tax_amount: us ? 0 : 2000,
    order_lines: [{
      type: 'physical', reference: 'SKU-1', name: 'Widget', quantity: 2, unit_price: 5000,
      tax_rate: us ? 0 : 2500, total_amount: 10000, total_discount_amount: 0, total_tax_amount: us ? 0 : 2000,
    }],
  };
  return { ...body, ...overrides };
}

/** A line with tax at `rate`, priced so tax is exact: total = n*(10000+rate), tax = n*rate. */
export function line(total, rate, tax, extra = {}) {
  return { type: 'physical', name: 'Line', quantity: 1, unit_price: total, total_amount: total,
    tax_rate: rate, total_tax_amount: tax, total_discount_amount: 0, ...extra };
}

// ---------- checkout (authorize → order / customer token) ----------

/** The playground's approved e-mail for a market (contract 7.1/7.2); GB uses .uk. */
export function email(country = 'SE', tag = '') {
  const cc = country === 'GB' ? 'uk' : country.toLowerCase();
  return `customer${tag ? '+' + tag : ''}@email.${cc}`;
}

/** Contract 7.2 approved identity for SE as a billing address (e-mail replaceable). */
export function seAddress(extra = {}) {
  return { given_name: 'Alice', family_name: 'Test', email: 'customer@email.se',
    street_address: 'Södra Blasieholmshamnen 2', postal_code: '11148', city: 'Stockholm',
    phone: '+46701740615', country: 'SE', ...extra };
}

/** A create_order_request (contract 2.5) for a session body: the cart and market fields only. */
export function orderRequest(sessionBody, overrides = {}) {
  const out = {};
  for (const k of ['purchase_country', 'purchase_currency', 'locale', 'order_amount', 'order_tax_amount',
    'order_lines']) {
    if (sessionBody[k] !== undefined) out[k] = clone(sessionBody[k]);
  }
  return { ...out, ...overrides };
}

/** A customer_token_creation_request (contract 2.7) for a session body. */
export function customerTokenRequest(sessionBody, overrides = {}) {
  return { purchase_country: sessionBody.purchase_country, purchase_currency: sessionBody.purchase_currency,
    locale: sessionBody.locale, description: 'Streaming subscription', intended_use: 'SUBSCRIPTION', ...overrides };
}
