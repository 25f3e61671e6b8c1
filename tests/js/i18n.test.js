// The widget's language, catalogue and formatting helpers (static/widget/i18n.js), and the
// panel placement that keeps the shop's total and checkout button visible (layout.js).
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  baseOf,
  formatMoney,
  formatTime,
  interpolate,
  interpolateParts,
  isRtl,
  languageTag,
  localeFor,
  parseMoney,
  pickLanguage,
  pluralOf,
  shopLanguages,
  shopMessagesFor,
  translator,
} from "../../static/widget/i18n.js";
import { heightOnSide, placePanel } from "../../static/widget/layout.js";

const NBSP = "\u00a0";

test("language tags reduce to their language; right-to-left languages are known", () => {
  assert.equal(baseOf("de-AT"), "de");
  assert.equal(baseOf("EN_gb"), "en");
  assert.equal(baseOf(""), "");
  assert.equal(baseOf("1x"), "");
  assert.equal(isRtl("ar-EG"), true);
  assert.equal(isRtl("he"), true);
  assert.equal(isRtl("fa"), true);
  assert.equal(isRtl("ur"), true);
  assert.equal(isRtl("de"), false);
});

test("only well-formed tags are sent to the server", () => {
  assert.equal(languageTag(" de-AT "), "de-AT");
  assert.equal(languageTag("en_GB"), "en_GB");
  assert.equal(languageTag("de AT"), "");
  assert.equal(languageTag("x".repeat(36)), "");
  assert.equal(languageTag(null), "");
});

test("the widget speaks the server's choice, the shop's own language, else the page's, else English", () => {
  assert.equal(pickLanguage("de-AT", "de", []), "de");
  // the site does not speak French: its first language, which the server answered
  assert.equal(pickLanguage("fr", "de", []), "de");
  // the shop brings Arabic strings itself
  assert.equal(pickLanguage("ar", "en", ["ar"]), "ar");
  // offline: no answer from the server
  assert.equal(pickLanguage("es-MX", "", []), "es");
  assert.equal(pickLanguage("it", "", []), "en");
  assert.equal(pickLanguage("", "", []), "en");
});

test("numbers and times follow the page's full tag when it is in the chosen language", () => {
  assert.equal(localeFor("en", "en_GB"), "en-GB");
  assert.equal(localeFor("de", "en-GB"), "de");
  assert.equal(localeFor("de", ""), "de");
});

test("the shop's messages: flat for every language, or per language", () => {
  const messages = { "composer.send": "Go", de: { "composer.send": "Los" }, ar: { "composer.send": "إرسال" } };
  assert.deepEqual(shopMessagesFor(messages, "de"), { "composer.send": "Los" });
  assert.deepEqual(shopMessagesFor(messages, "en"), { "composer.send": "Go" });
  assert.deepEqual(shopLanguages(messages).sort(), ["ar", "de"]);
  assert.deepEqual(shopMessagesFor(null, "de"), {});
});

test("t() takes the most specific catalogue and fills placeholders", () => {
  const t = translator([{ a: "shop {name}" }, { a: "de", b: "nur de" }, { a: "en", b: "en", c: "{name} is typing…" }]);
  assert.equal(t("a", { name: "Alex" }), "shop Alex");
  assert.equal(t("b"), "nur de");
  assert.equal(t("c", { name: "Alex" }), "Alex is typing…");
  assert.equal(t("missing.key"), "missing.key");
  assert.equal(interpolate("{a} and {b}", { a: 1 }), "1 and {b}");
  assert.deepEqual(interpolateParts("Code: {code}.", { code: 42 }), ["Code: ", 42, "."]);
  assert.deepEqual(interpolateParts("{x}", { x: "y" }), ["y"]);
});

test("money: decimal strings with the site's currency, in the shopper's conventions", () => {
  assert.deepEqual(parseMoney("48.40 EUR"), { amount: "48.40", currency: "EUR" });
  assert.deepEqual(parseMoney("9.9", "GBP"), { amount: "9.9", currency: "GBP" });
  assert.equal(parseMoney("€48.40", "EUR"), null);
  assert.equal(formatMoney("48.40 EUR", null, "en"), "€48.40");
  assert.equal(formatMoney("48.40", "EUR", "de"), "48,40" + NBSP + "€");
  assert.equal(formatMoney("48.40", "EUR", "fr"), "48,40" + NBSP + "€");
  assert.equal(formatMoney("1234.5", "EUR", "es"), "1234,50" + NBSP + "€");
  assert.equal(formatMoney("1500", "JPY", "en"), "¥1,500");
  // what is not a decimal amount is shown as it came
  assert.equal(formatMoney("€48.40", "EUR", "de"), "€48.40");
  assert.equal(formatMoney(null, "EUR", "de"), "");
});

test("times: the shopper's time zone and the locale's clock, with the date when not today", () => {
  const now = "2026-01-05T12:00:00Z";
  assert.equal(formatTime("2026-01-05T10:01:00Z", "de", { timeZone: "Europe/Berlin", now }), "11:01");
  // ICU versions differ in the space before AM (U+202F or U+0020)
  assert.match(formatTime("2026-01-05T10:01:00Z", "en-US", { timeZone: "America/New_York", now }), /^5:01\sAM$/);
  assert.equal(formatTime("2026-01-05T10:01:00Z", "en-GB", { timeZone: "UTC", now }), "10:01");
  assert.match(formatTime("2026-01-03T10:01:00Z", "en-GB", { timeZone: "UTC", now }), /^3 Jan(,)? 10:01$/);
  assert.equal(formatTime("not a time", "de"), "");
});

test("plural categories come from the locale", () => {
  assert.equal(pluralOf(1, "en"), "one");
  assert.equal(pluralOf(2, "en"), "other");
  assert.equal(pluralOf(0, "fr"), "one");
});

test("every shipped catalogue has the keys and placeholders of English", () => {
  const load = (lang) => JSON.parse(readFileSync(new URL(`../../static/widget/i18n/${lang}.json`, import.meta.url), "utf8"));
  const english = load("en");
  for (const lang of ["de", "fr", "es"]) {
    const other = load(lang);
    for (const key of Object.keys(english)) {
      const names = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      assert.deepEqual(names(other[key]), names(english[key]), `${lang} ${key}`);
    }
  }
});

// ------------------------------------------------------------ placement

const VIEW = { width: 1280, height: 800 };
const GEOMETRY = { viewport: VIEW, width: 360, full: 560, min: 240, margin: 16, sides: ["right", "left"] };
const rect = (left, top, right, bottom) => ({ left, top, right, bottom });

test("with nothing marked the panel takes its usual place at full height", () => {
  assert.deepEqual(placePanel({ ...GEOMETRY, obstacles: [] }), { side: "right", height: 560, covers: false });
  assert.deepEqual(placePanel({ ...GEOMETRY, sides: ["left", "right"], obstacles: [] }), { side: "left", height: 560, covers: false });
});

test("a total in the right column keeps the panel below it, or sends it left", () => {
  // the total at y 380–410 in the right column: room below it for 784 − 422 = 362 px
  const total = rect(900, 380, 1180, 410);
  assert.equal(heightOnSide("right", { ...GEOMETRY, obstacles: [total] }), 362);
  // the left column is free: the panel goes there at full height
  assert.deepEqual(placePanel({ ...GEOMETRY, obstacles: [total] }), { side: "left", height: 560, covers: false });
  // a button in the left column near the bottom: the right side, shortened
  const button = rect(100, 740, 800, 790);
  assert.deepEqual(placePanel({ ...GEOMETRY, obstacles: [total, button] }), { side: "right", height: 362, covers: false });
});

test("the current side is kept while it has room, so the panel does not jump", () => {
  assert.deepEqual(placePanel({ ...GEOMETRY, obstacles: [rect(100, 740, 300, 790)], current: "right" }).side, "right");
  assert.deepEqual(placePanel({ ...GEOMETRY, obstacles: [], current: "left" }), { side: "left", height: 560, covers: false });
});

test("marked elements out of view or in another column do not count", () => {
  const above = rect(900, -200, 1180, -20);
  const below = rect(900, 900, 1180, 950);
  const middle = rect(500, 100, 800, 700);
  assert.deepEqual(placePanel({ ...GEOMETRY, obstacles: [above, below, middle] }), { side: "right", height: 560, covers: false });
});

test("no room anywhere: compact, and say that it covers", () => {
  const right = rect(900, 700, 1180, 780);
  const left = rect(20, 700, 400, 780);
  assert.deepEqual(placePanel({ ...GEOMETRY, obstacles: [right, left] }), { side: "right", height: 240, covers: true });
});
