// The console's money formatting (static/console/format.js): exact decimal strings in,
// text out, never through a float.
import test from "node:test";
import assert from "node:assert/strict";

import { formatMilli, money, toMilli } from "../../static/console/format.js";

test("decimal strings become exact thousandths", () => {
  assert.equal(toMilli("74.9"), 74900n);
  assert.equal(toMilli("0.001"), 1n);
  assert.equal(toMilli("-12.50"), -12500n);
  assert.equal(toMilli("1e3"), null);
  assert.equal(toMilli(null), null);
});

test("amounts are shown in the currency's minor unit, rounded half up", () => {
  assert.equal(money("74.900", "EUR"), "74.90 EUR");
  assert.equal(money("0.105", "EUR"), "0.11 EUR");
  assert.equal(money("1234567.5", "EUR"), "1,234,567.50 EUR");
  assert.equal(money("1500", "JPY"), "1,500 JPY");
  assert.equal(formatMilli(-9900n, "EUR"), "−9.90 EUR");
});

test("nothing to show is a dash; what is not a number is shown as it came", () => {
  assert.equal(money(null, "EUR"), "—");
  assert.equal(money("", "EUR"), "—");
  assert.equal(money("n/a", "EUR"), "n/a EUR");
});
