/*! CartAssist console: money and times, for display, in the agent's locale (i18n.js).
 * Pure: no DOM (tests/js/format.test.js). */

import { i18n } from "./i18n.js";

// Money arrives as decimal strings ("74.900"). Arithmetic on integer thousandths
// (BigInt) keeps it exact; nothing here goes through a float: Intl.NumberFormat formats
// the rounded decimal string itself.
export function toMilli(amount) {
  const m = /^(-)?(\d+)(?:\.(\d{1,3}))?$/.exec(String(amount === null ? "" : amount).trim());
  if (!m) return null;
  const v = BigInt(m[2]) * 1000n + BigInt((m[3] || "").padEnd(3, "0"));
  return m[1] ? -v : v;
}

const fractionDigitsCache = {};
export function fractionDigits(currency) {
  if (!(currency in fractionDigitsCache)) {
    try {
      fractionDigitsCache[currency] = new Intl.NumberFormat("en", {
        style: "currency", currency,
      }).resolvedOptions().maximumFractionDigits;
    } catch (e) {
      fractionDigitsCache[currency] = 2;
    }
  }
  return fractionDigitsCache[currency];
}

const numberFormats = new Map();
function numberFormat(currency, digits) {
  const key = i18n.locale + "|" + currency + "|" + digits;
  if (!numberFormats.has(key)) {
    let format;
    try {
      format = currency
        ? new Intl.NumberFormat(i18n.locale, { style: "currency", currency })
        : new Intl.NumberFormat(i18n.locale, { minimumFractionDigits: digits, maximumFractionDigits: digits });
    } catch (e) { // an unknown currency code: the number, then the code
      format = null;
    }
    numberFormats.set(key, format);
  }
  return numberFormats.get(key);
}

/** Thousandths, rounded half up to the currency's minor unit, as a decimal string. */
function minorString(milli, digits) {
  const unit = 10n ** BigInt(3 - digits);
  const negative = milli < 0n;
  const v = negative ? -milli : milli;
  const rounded = (v + unit / 2n) / unit;
  const scale = 10n ** BigInt(digits);
  return (negative ? "-" : "") + (rounded / scale).toString() +
    (digits ? "." + (rounded % scale).toString().padStart(digits, "0") : "");
}

/** "€1,234.50" (en), "1.234,50 €" (de): the agent's locale, the cart's currency. */
export function formatMilli(milli, currency) {
  if (milli === null) return "—";
  const digits = Math.min(fractionDigits(currency || "EUR"), 3);
  const decimal = minorString(milli, digits);
  const format = numberFormat(currency || "", digits);
  if (!format) return numberFormat("", digits).format(decimal) + " " + currency;
  return format.format(decimal);
}

export function money(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "—";
  let milli = toMilli(amount);
  // "48.40 EUR": an amount the server wrote with its code (offer totals)
  const coded = milli === null && /^(-?\d+(?:\.\d{1,3})?) ([A-Z]{3})$/.exec(String(amount).trim());
  if (coded) {
    milli = toMilli(coded[1]);
    currency = coded[2];
  }
  return milli === null ? String(amount) + " " + (currency || "") : formatMilli(milli, currency);
}

// ---------------------------------------------------------------- times

const dateFormats = new Map();
function dateFormat(options) {
  const key = i18n.locale + "|" + options;
  if (!dateFormats.has(key)) {
    const styles = {
      datetime: { dateStyle: "medium", timeStyle: "short" },
      date: { dateStyle: "medium" },
      time: { timeStyle: "short" },
    };
    dateFormats.set(key, new Intl.DateTimeFormat(i18n.locale, styles[options]));
  }
  return dateFormats.get(key);
}

export function parseDate(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !isNaN(d.getTime()) ? d : null;
}

/** A date and time in the agent's locale (its own 12- or 24-hour clock). */
export function formatDateTime(d) {
  return dateFormat("datetime").format(d);
}

export function formatDate(d) {
  return dateFormat("date").format(d);
}

/** The time alone today, with the date otherwise. */
export function formatTime(iso, now) {
  const d = parseDate(iso);
  if (!d) return "";
  const today = now || new Date();
  return d.toDateString() === today.toDateString() ? dateFormat("time").format(d) : formatDateTime(d);
}

const relativeFormats = new Map();
/** "just now" / "3 minutes ago" / "2 hours ago" in the agent's language; a date after a day. */
export function ago(iso, now) {
  const d = parseDate(iso);
  if (!d) return "";
  if (!relativeFormats.has(i18n.locale)) {
    relativeFormats.set(i18n.locale, new Intl.RelativeTimeFormat(i18n.locale, { numeric: "auto" }));
  }
  const relative = relativeFormats.get(i18n.locale);
  const seconds = Math.max(0, Math.round(((now || Date.now()) - d.getTime()) / 1000));
  if (seconds < 60) return relative.format(0, "second");
  if (seconds < 3600) return relative.format(-Math.round(seconds / 60), "minute");
  if (seconds < 86400) return relative.format(-Math.round(seconds / 3600), "hour");
  return formatDate(d);
}
