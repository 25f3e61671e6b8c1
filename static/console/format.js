/*! CartAssist console: money and times, for display. Pure: no DOM (tests/js/format.test.js). */

// Money arrives as decimal strings ("74.900"). Arithmetic on integer thousandths
// (BigInt) keeps it exact; nothing here goes through a float.
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

export function formatMilli(milli, currency) {
  if (milli === null) return "—";
  const digits = Math.min(fractionDigits(currency), 3);
  const unit = 10n ** BigInt(3 - digits);
  const negative = milli < 0n;
  const v = negative ? -milli : milli;
  const rounded = (v + unit / 2n) / unit; // half up, in the currency's minor unit
  const scale = 10n ** BigInt(digits);
  const whole = (rounded / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const text = whole + (digits ? "." + (rounded % scale).toString().padStart(digits, "0") : "");
  return (negative ? "−" : "") + text + (currency ? " " + currency : "");
}

export function money(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "—";
  const milli = toMilli(amount);
  return milli === null ? String(amount) + " " + (currency || "") : formatMilli(milli, currency);
}

export const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

export function parseDate(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !isNaN(d.getTime()) ? d : null;
}

export function formatTime(iso) {
  const d = parseDate(iso);
  if (!d) return "";
  const today = new Date();
  return d.toDateString() === today.toDateString() ? timeFormat.format(d) : dateTimeFormat.format(d);
}

export function ago(iso) {
  const d = parseDate(iso);
  if (!d) return "";
  const seconds = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
  if (seconds < 60) return "just now";
  if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
  if (seconds < 86400) return Math.round(seconds / 3600) + " h ago";
  return dateFormat.format(d);
}
