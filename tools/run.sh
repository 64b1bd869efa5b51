#!/bin/sh
# `make run`: a development server on http://127.0.0.1:8080 with the embedded SQLite store in
# var/. The first run creates a development merchant with `kasse merchant create` and keeps its
# credentials in var/dev-credentials (the store itself holds only an HMAC of the secret), so
# every run can print them.
set -e
mkdir -p var
chmod 700 var
if [ ! -s var/kasse.db ] || [ ! -s var/dev-credentials ]; then
    rm -f var/dev-credentials
    build/kasse merchant create "Kasse Dev Store" --db var/kasse.db > var/dev-credentials.tmp
    mv var/dev-credentials.tmp var/dev-credentials
    chmod 600 var/dev-credentials
fi
user=$(sed -n 's/^username: //p' var/dev-credentials)
secret=$(sed -n 's/^secret: //p' var/dev-credentials)
cat <<MSG

Kasse development server: http://127.0.0.1:8080   (store: var/kasse.db, Ctrl-C stops it)

Test merchant credentials (HTTP Basic, as with Klarna's API):
  username: $user
  secret:   $secret

In a browser (sign in with the credentials above):
  http://127.0.0.1:8080/portal/   the merchant portal: orders, captures, refunds, callbacks, logs
  http://127.0.0.1:8080/demo/     a demo shop: a whole checkout through Kasse's Klarna widget

Create a payment session:
  curl -s -u '$user:$secret' -H 'Content-Type: application/json' \\
    http://127.0.0.1:8080/payments/v1/sessions -d '{
      "purchase_country": "SE", "purchase_currency": "SEK", "locale": "en-SE",
      "order_amount": 9500, "order_tax_amount": 1900,
      "order_lines": [{"type": "physical", "reference": "19-402", "name": "Battery Power Pack",
        "quantity": 1, "unit_price": 10000, "tax_rate": 2500, "total_amount": 9500,
        "total_discount_amount": 500, "total_tax_amount": 1900}]}'

MSG
exec build/kasse serve --listen 127.0.0.1:8080 --db var/kasse.db --public-url http://127.0.0.1:8080
