/*! CartAssist console: the connection line, screen-reader announcements, toasts. */

import { $, append, clear, el } from "./dom.js";

export function setConnection(kind, text) {
  const node = $("connection");
  node.dataset.state = kind;
  $("connection-text").textContent = text;
  $("reconnect-now").hidden = kind !== "offline";
}

let announceTimer = null;
export function announce(text) {
  const node = $("announcer");
  clearTimeout(announceTimer);
  node.textContent = "";
  // A fresh text node in a new task so screen readers announce repeats too.
  announceTimer = setTimeout(() => { node.textContent = text; }, 50);
}

let toastTimer = null;
export function showToast(text, kind, link) {
  const box = $("toast");
  const p = $("toast-text");
  clear(p);
  append(p, text);
  if (link) {
    append(p, " ");
    append(p, el("a", { href: link.href }, link.text));
  }
  box.dataset.kind = kind || "error";
  box.setAttribute("role", kind === "ok" ? "status" : "alert");
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, kind === "ok" ? 6000 : 15000);
}

export function hideToast() {
  $("toast").hidden = true;
}
