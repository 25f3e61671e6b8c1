/*! CartAssist console: building and updating the page. Server text only ever goes in
 * through text nodes (el(), append()), never as HTML. */

import { formatDateTime, formatTime, parseDate } from "./format.js";

export function $(id) {
  return document.getElementById(id);
}

/** el("li", {className: "x", dataset: {seq: 3}}, "text", childNode…) — text children
 * become text nodes, so nothing passed here is ever parsed as HTML. */
export function el(tag, props) {
  const node = document.createElement(tag);
  let key;
  if (props) {
    for (key in props) {
      if (!Object.prototype.hasOwnProperty.call(props, key)) continue;
      const value = props[key];
      if (value === undefined || value === null || value === false) continue;
      if (key === "dataset") {
        for (const d in value) node.dataset[d] = value[d];
      } else if (key === "className" || key === "textContent" || key === "type" ||
                 key === "disabled" || key === "hidden" || key === "value" ||
                 key === "checked" || key === "name" || key === "id" || key === "title") {
        node[key] = value;
      } else if (key.indexOf("on") === 0) {
        node.addEventListener(key.slice(2), value);
      } else {
        node.setAttribute(key, value === true ? "" : String(value));
      }
    }
  }
  for (let i = 2; i < arguments.length; i++) append(node, arguments[i]);
  return node;
}

export function append(node, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    child.forEach((c) => { append(node, c); });
  } else if (typeof child === "string" || typeof child === "number") {
    node.appendChild(document.createTextNode(String(child)));
  } else {
    node.appendChild(child);
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** Lists are rebuilt on every change; keep keyboard focus on the same control. */
export function focusedKey(list) {
  const active = document.activeElement;
  return active && list.contains(active) && active.dataset ? active.dataset.focusKey || null : null;
}

export function restoreFocus(list, key) {
  if (!key) return;
  const match = Array.prototype.find.call(list.querySelectorAll("[data-focus-key]"), (n) => {
    return n.dataset.focusKey === key;
  });
  if (match) match.focus();
}

export function timeEl(iso, text) {
  const d = parseDate(iso);
  return el("time", { datetime: iso || "", title: d ? formatDateTime(d) : "" },
    text === undefined ? formatTime(iso) : text);
}

export function isTyping(target) {
  if (!target || !target.tagName) return false;
  const tag = target.tagName.toLowerCase();
  return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
}
