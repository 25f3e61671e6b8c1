// The console's money and time formatting (static/console/format.js): exact decimal
// strings in, text in the agent's locale out, never through a float.
import test from "node:test";
import assert from "node:assert/strict";

import { ago, formatMilli, formatTime, money, toMilli } from "../../static/console/format.js";
import { isOne, pickLanguage, setCatalogues, t } from "../../static/console/i18n.js";

const NBSP = /[\u00a0\u202f]/g;

test("decimal strings become exact thousandths", () => {
  assert.equal(toMilli("74.9"), 74900n);
  assert.equal(toMilli("0.001"), 1n);
  assert.equal(toMilli("-12.50"), -12500n);
  assert.equal(toMilli("1e3"), null);
  assert.equal(toMilli(null), null);
});

test("amounts are shown in the agent's locale and the currency's minor unit, rounded half up", () => {
  setCatalogues("en", {}, {});
  assert.equal(money("74.900", "EUR"), "€74.90");
  assert.equal(money("0.105", "EUR"), "€0.11");
  assert.equal(money("1234567.5", "EUR"), "€1,234,567.50");
  assert.equal(money("1500", "JPY"), "¥1,500");
  assert.equal(formatMilli(-9900n, "EUR"), "-€9.90");
  assert.equal(money("48.40 EUR", "EUR"), "€48.40");
  // exact beyond a float's precision
  assert.equal(money("12345678901234.565", "EUR"), "€12,345,678,901,234.57");
  setCatalogues("de", {}, {});
  assert.equal(money("1234567.5", "EUR").replace(NBSP, " "), "1.234.567,50 €");
  setCatalogues("fr", {}, {});
  assert.equal(money("9.9", "EUR").replace(NBSP, " "), "9,90 €");
  setCatalogues("en", {}, {});
});

test("nothing to show is a dash; what is not a number is shown as it came", () => {
  assert.equal(money(null, "EUR"), "—");
  assert.equal(money("", "EUR"), "—");
  assert.equal(money("n/a", "EUR"), "n/a EUR");
});

test("times follow the locale's own clock", () => {
  const now = new Date("2026-11-23T18:30:00");
  setCatalogues("en", {}, {});
  assert.match(formatTime("2026-11-23T18:05:00", now), /^6:05\sPM$/);
  setCatalogues("de", {}, {});
  assert.equal(formatTime("2026-11-23T18:05:00", now), "18:05");
  assert.equal(ago("2026-11-23T18:27:00", now.getTime()), "vor 3 Minuten");
  setCatalogues("en", {}, {});
  assert.equal(ago("2026-11-23T18:27:00", now.getTime()), "3 minutes ago");
});

test("t() fills placeholders and falls back to English, then to the key", () => {
  setCatalogues("de", { hello: "Hallo {name}" }, { hello: "Hello {name}", bye: "Bye" });
  assert.equal(t("hello", { name: "Ada" }), "Hallo Ada");
  assert.equal(t("bye"), "Bye");
  assert.equal(t("missing.key"), "missing.key");
  assert.equal(pickLanguage("de-AT"), "de");
  assert.equal(pickLanguage("ar"), "en");
  assert.equal(isOne(1), true);
  assert.equal(isOne(2), false);
  setCatalogues("en", {}, {});
});
