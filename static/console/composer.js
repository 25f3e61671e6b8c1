/*! CartAssist console: the message box (length limit, errors). */

import { $ } from "./dom.js";
import { t } from "./i18n.js";

// ---------------------------------------------------------------- composer

export function maxLength() {
  return Number($("composer").dataset.maxLength) || 2000;
}

export function overLimit() {
  return $("composer-text").value.trim().length > maxLength();
}

export function updateCounter() {
  const length = $("composer-text").value.trim().length;
  const counter = $("composer-count");
  counter.textContent = t("composer.count", { length, max: maxLength() });
  counter.classList.toggle("over", length > maxLength());
  $("send-button").disabled = $("composer-text").disabled || length > maxLength();
  if (length > maxLength()) {
    showComposerError(t("composer.too_long", { max: maxLength(), over: length - maxLength() }), "length");
  } else if ($("composer-error").dataset.kind === "length") {
    hideComposerError();
  }
}

export function showComposerError(text, kind) {
  const node = $("composer-error");
  node.textContent = text;
  node.dataset.kind = kind || "server";
  node.hidden = false;
}

export function hideComposerError() {
  const node = $("composer-error");
  node.hidden = true;
  node.textContent = "";
  node.dataset.kind = "";
}
