/*! CartAssist storefront widget: languages, catalogues, money and time. docs/LOCALISATION.md.
 *
 * Pure helpers (tests/js/i18n.test.js) plus loadCatalogue(), which fetches the JSON
 * catalogues that sit beside this module (i18n/<lang>.json): no build step. Nothing runs
 * at import. */

/** The languages the widget ships a catalogue for (static/widget/i18n/<code>.json). */
export const SHIPPED = ["en", "de", "fr", "es"];
/** Written right to left: the widget sets dir="rtl" and its logical CSS mirrors. */
export const RTL = ["ar", "he", "fa", "ur", "yi", "ps", "sd", "ug", "dv", "ckb"];

/** "de-AT" → "de"; "" or junk → "". */
export function baseOf(tag) {
  const match = /^([a-z]{2,3})(?:[-_]|$)/i.exec(String(tag || "").trim());
  return match ? match[1].toLowerCase() : "";
}

export function isRtl(language) {
  return RTL.indexOf(baseOf(language)) !== -1;
}

/**
 * The widget's language. The server resolves the page's language (init option `language`,
 * else <html lang>) to one of the site's languages and writes invitations in it, so the
 * widget speaks that too — unless the shop's `messages` option brings the page's own
 * language (a language CartAssist does not ship, e.g. Arabic). Without an answer from the
 * server (offline): the page's language when shipped, else English.
 */
export function pickLanguage(requested, sessionLanguage, shopLanguages) {
  const own = baseOf(requested);
  if (own && (shopLanguages || []).indexOf(own) !== -1) return own;
  const known = SHIPPED.concat(shopLanguages || []);
  for (const candidate of [sessionLanguage, requested]) {
    const base = baseOf(candidate);
    if (base && known.indexOf(base) !== -1) return base;
  }
  return "en";
}

/** A BCP 47-looking tag the server accepts ("de-AT", "en_GB"), else "" (not sent). */
export function languageTag(value) {
  const tag = String(value || "").trim();
  return tag.length <= 35 && /^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$/.test(tag) ? tag : "";
}

/**
 * The locale for numbers and times: the page's full tag when it is in the chosen
 * language ("en-GB" keeps its 24-hour clock, "en-US" its 12-hour one), else the language.
 */
export function localeFor(language, requested) {
  const tag = String(requested || "").trim().replace(/_/g, "-");
  if (tag && baseOf(tag) === language) {
    try {
      return Intl.getCanonicalLocales(tag)[0];
    } catch (ignored) {
      return language;
    }
  }
  return language;
}

/**
 * The shop's `messages` option for one language: a flat object (every language) or one
 * per language code ({"de": {...}, "ar": {...}}), merged flat-then-specific.
 */
export function shopMessagesFor(messages, language) {
  const out = {};
  if (!messages || typeof messages !== "object") return out;
  Object.keys(messages).forEach((key) => {
    if (typeof messages[key] === "string") out[key] = messages[key];
  });
  const own = messages[language];
  if (own && typeof own === "object") {
    Object.keys(own).forEach((key) => {
      if (typeof own[key] === "string") out[key] = own[key];
    });
  }
  return out;
}

/** Language codes the shop's `messages` option provides strings for. */
export function shopLanguages(messages) {
  if (!messages || typeof messages !== "object") return [];
  return Object.keys(messages).filter((key) => {
    return messages[key] && typeof messages[key] === "object" && /^[a-z]{2,3}$/.test(key);
  });
}

/** "{name} is typing…" with {name: "Alex"} → "Alex is typing…"; unknown names stay. */
export function interpolate(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (whole, name) => {
    return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
  });
}

/**
 * A template split around its placeholders, for text with elements inside it:
 * ("Code: {code}", {code: node}) → ["Code: ", node]. Strings stay strings.
 */
export function interpolateParts(template, values) {
  const parts = [];
  let last = 0;
  const pattern = /\{(\w+)\}/g;
  let match;
  const text = String(template);
  while ((match = pattern.exec(text)) !== null) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    const name = match[1];
    parts.push(values && Object.prototype.hasOwnProperty.call(values, name) ? values[name] : match[0]);
    last = pattern.lastIndex;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** t(key, values) over catalogues, most specific first; a missing key shows the key. */
export function translator(catalogues) {
  return function t(key, values) {
    for (const catalogue of catalogues) {
      if (catalogue && typeof catalogue[key] === "string") return interpolate(catalogue[key], values);
    }
    return key;
  };
}

/** "48.40 EUR" or "48.40" (+ currency) → {amount: "48.40", currency: "EUR"}; else null. */
export function parseMoney(value, currency) {
  const text = String(value === null || value === undefined ? "" : value).trim();
  const match = /^(-?\d+(?:\.\d+)?)(?:\s+([A-Z]{3}))?$/.exec(text);
  if (!match) return null;
  const code = match[2] || currency;
  return code ? { amount: match[1], currency: code } : null;
}

/**
 * Money in the shopper's language with the site's currency, e.g. ("48.40", "EUR", "de")
 * → "48,40 €". What cannot be parsed is shown as it came (server text).
 */
export function formatMoney(value, currency, locale) {
  const money = parseMoney(value, currency);
  if (!money) return value === null || value === undefined ? "" : String(value);
  try {
    return new Intl.NumberFormat(locale || "en", { style: "currency", currency: money.currency }).format(Number(money.amount));
  } catch (ignored) {
    return money.amount + " " + money.currency;
  }
}

/**
 * A time of day in the shopper's own time zone (the browser's, unless timeZone is given),
 * with the locale's clock: "10:01" in de, "10:01 AM" in en-US. A date is added when it is
 * not today there.
 */
export function formatTime(iso, locale, options) {
  const at = new Date(iso);
  if (isNaN(at.getTime())) return "";
  const zone = options && options.timeZone;
  const now = options && options.now ? new Date(options.now) : new Date();
  const base = { hour: "numeric", minute: "2-digit" };
  if (zone) base.timeZone = zone;
  try {
    const day = new Intl.DateTimeFormat(locale || "en", { year: "numeric", month: "numeric", day: "numeric", timeZone: zone });
    if (day.format(at) !== day.format(now)) {
      base.month = "short";
      base.day = "numeric";
    }
    return new Intl.DateTimeFormat(locale || "en", base).format(at);
  } catch (ignored) {
    return at.toISOString().slice(11, 16);
  }
}

/** Plural category for count in the locale ("one", "other", …), for keys like x.one / x.other. */
export function pluralOf(count, locale) {
  try {
    return new Intl.PluralRules(locale || "en").select(count);
  } catch (ignored) {
    return count === 1 ? "one" : "other";
  }
}

/**
 * The catalogues for a language, most specific first: the shop's own strings, the
 * language's catalogue, then English for anything missing. Fetched from i18n/ beside
 * this module; a catalogue that cannot be fetched is skipped (English still loads).
 */
export function loadCatalogues(language, shopStrings, base) {
  const folder = new URL("i18n/", base || import.meta.url);
  const wanted = language !== "en" && SHIPPED.indexOf(language) !== -1 ? [language, "en"] : ["en"];
  return Promise.all(
    wanted.map((code) => {
      return window
        .fetch(new URL(code + ".json", folder).href, { credentials: "omit", mode: "cors" })
        .then((response) => {
          return response.ok ? response.json() : {};
        })
        .catch(() => {
          return {};
        });
    })
  ).then((loaded) => {
    return [shopStrings || {}].concat(loaded);
  });
}
