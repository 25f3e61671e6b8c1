/*! CartAssist console: the agent's language. The strings live in message catalogues beside
 * the modules (i18n/<language>.json: a flat object key → text with {name} placeholders),
 * fetched once at start, no build step. The language is the page's <html lang>, which
 * Django's LocaleMiddleware sets from the agent's Accept-Language (en, de, fr, es); a key a
 * catalogue lacks falls back to English. Pure apart from the fetch in loadCatalogues(). */

import { SHIPPED, baseOf, interpolate } from "../widget/i18n.js";

export { SHIPPED };

/** The language of the catalogue (a shipped code) and the BCP 47 locale for Intl. */
export const i18n = { language: "en", locale: "en" };

let strings = {};
let english = {};

/** "de-AT" → "de"; anything not shipped → "en". */
export function pickLanguage(requested) {
  const base = baseOf(requested);
  return SHIPPED.indexOf(base) === -1 ? "en" : base;
}

export function setCatalogues(locale, catalogue, fallback) {
  i18n.locale = locale || "en";
  i18n.language = pickLanguage(locale);
  strings = catalogue || {};
  english = fallback || strings;
}

export function has(key) {
  return Object.prototype.hasOwnProperty.call(strings, key) ||
    Object.prototype.hasOwnProperty.call(english, key);
}

/** The text of `key` in the agent's language, with {name} placeholders filled in. */
export function t(key, params) {
  let text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : english[key];
  if (typeof text !== "string") text = key;
  return params ? interpolate(text, params) : text;
}

const pluralRules = {};
/** "one" or "other" (and the other CLDR categories) for `n` in the agent's language; the
 * caller picks between two literal keys, "….one" and "….other". */
export function isOne(n) {
  if (!pluralRules[i18n.locale]) pluralRules[i18n.locale] = new Intl.PluralRules(i18n.locale);
  return pluralRules[i18n.locale].select(n) === "one";
}

function fetchCatalogue(baseUrl, language) {
  return fetch(baseUrl + language + ".json", { credentials: "same-origin" }).then((r) => {
    return r.ok ? r.json() : {};
  }).catch(() => { return {}; });
}

/** Fetch English and the agent's catalogue (once each), then use them. */
export function loadCatalogues(baseUrl, locale) {
  const language = pickLanguage(locale);
  const wanted = [fetchCatalogue(baseUrl, "en")];
  if (language !== "en") wanted.push(fetchCatalogue(baseUrl, language));
  return Promise.all(wanted).then((found) => {
    setCatalogues(locale, found[1] || found[0], found[0]);
  });
}
