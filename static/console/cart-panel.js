/*! CartAssist console: the cart panel (a chat's cart, or a queue item's). */

import { reachOut } from "./actions.js";
import { fetchJson } from "./connection.js";
import { $, clear, el, timeEl } from "./dom.js";
import { ago, dateFormat, formatMilli, money, parseDate, toMilli } from "./format.js";
import { KIND_LABELS, queueKey, renderChatHead, renderChats, renderQueue } from "./render.js";
import { ABOUT, CART_REFRESH_MS, config, label, state } from "./state.js";

// ---------------------------------------------------------------- cart panel


export function loadCart(chat, opts) {
  opts = opts || {};
  chat.cartLoadedAt = Date.now();
  const panel = $("cart-panel");
  if (!opts.quiet && chat.id === state.selectedId) panel.setAttribute("aria-busy", "true");
  return fetchJson(config.conversationUrl + chat.id + "/cart").then((cart) => {
    chat.cart = cart;
    chat.stallReason = cart.stall_reason || chat.stallReason;
    chat.currency = cart.currency || chat.currency;
    renderChats();
    if (chat.id === state.selectedId && !state.preview) {
      renderCart(cart, { chat });
      renderChatHead();
    }
  }).catch((error) => {
    if (chat.id === state.selectedId && !state.preview && !opts.quiet) {
      renderCartError(error.status === 404 ? "This chat has no cart (or is no longer yours)." : error.message);
    }
  }).then(() => {
    panel.setAttribute("aria-busy", "false");
  });
}

export function maybeRefreshCart(chat) {
  if (Date.now() - chat.cartLoadedAt > CART_REFRESH_MS) loadCart(chat, { quiet: true });
}

export function previewCart(item) {
  const cartId = item.cart && item.cart.id;
  if (!cartId) return;
  state.preview = { key: queueKey(item), item, cartId };
  renderQueue();
  $("cart-refresh").hidden = false;
  const panel = $("cart-panel");
  panel.setAttribute("aria-busy", "true");
  fetchJson(config.cartUrl + cartId).then((cart) => {
    if (!state.preview || state.preview.cartId !== cartId) return;
    renderCart(cart, { item });
  }).catch((error) => {
    renderCartError(error.message);
  }).then(() => {
    panel.setAttribute("aria-busy", "false");
    $("cart-heading").focus();
  });
}

export function renderCartEmpty() {
  const panel = $("cart-panel");
  clear(panel);
  panel.appendChild(el("p", { className: "empty-note" }, "Select a chat or a queue item to see its cart."));
}

function renderCartError(text) {
  const panel = $("cart-panel");
  clear(panel);
  panel.appendChild(el("p", { className: "panel-error", role: "alert" }, text));
}

function describeEvent(event, currency) {
  const d = event.data || {};
  switch (event.type) {
    case "cart_updated": {
      const lines = Array.isArray(d.lines) ? d.lines.length : 0;
      return lines + (lines === 1 ? " line" : " lines") + ", subtotal " + money(d.subtotal, d.currency || currency);
    }
    case "checkout_step":
      return "reached " + label("stage", d.step).toLowerCase();
    case "shipping_quoted":
      return money(d.fee, d.currency || currency) + (d.method ? " (" + d.method + ")" : "");
    case "payment_failed":
      return d.reason ? String(d.reason).replace(/_/g, " ") : "";
    case "coupon_rejected":
      return d.code ? "code " + d.code : "";
    case "order_completed":
      return (d.order_id ? "order " + d.order_id + ", " : "") + money(d.total, d.currency || currency);
    default:
      return "";
  }
}

function earlierText(entry) {
  const when = parseDate(entry.decided_at);
  const date = when ? dateFormat.format(when) : "an earlier visit";
  const about = ABOUT[entry.stall_reason] || label("stall_reason", entry.stall_reason).toLowerCase();
  if (entry.decision === "invited") {
    const outcome = entry.invitation_status ? " — " + label("invitation_status", entry.invitation_status).toLowerCase() : "";
    return "Reached out on " + date + " about " + about + outcome;
  }
  const why = entry.decision === "held_out" ? "held out (control group)" : "not contacted";
  return "Stalled on " + date + " over " + about + ", " + why;
}

function dl(rows) {
  const list = el("dl", { className: "facts" });
  rows.forEach((row) => {
    if (!row || row[1] === "" || row[1] === null || row[1] === undefined) return;
    list.appendChild(el("dt", null, row[0]));
    list.appendChild(el("dd", null, row[1]));
  });
  return list;
}

export function renderCart(cart, context) {
  const panel = $("cart-panel");
  const currency = cart.currency || "";
  clear(panel);
  $("cart-refresh").hidden = false;

  const earlier = Array.isArray(cart.earlier_interventions) ? cart.earlier_interventions : [];
  const reachedBefore = earlier.filter((e) => { return e.decision === "invited"; });
  if (reachedBefore.length) {
    panel.appendChild(el("div", { className: "returning", role: "note" },
      el("strong", null, "Returning shopper. "),
      earlierText(reachedBefore[0]) + "."));
  }
  if (context && context.item) {
    const item = context.item;
    panel.appendChild(el("p", { className: "preview-note muted" },
      "Preview from the queue: " + KIND_LABELS[item.kind].toLowerCase() + "."));
    if (item.kind === "stalled_cart") {
      panel.appendChild(el("button", {
        type: "button", className: "button primary small",
        onclick: function () { reachOut(item.cart_id); },
      }, "Reach out to this shopper"));
    }
  }

  panel.appendChild(el("h3", { className: "cart-title" },
    "Cart " + (cart.external_id || "#" + cart.id),
    cart.status ? el("span", { className: "pill status-" + cart.status }, cart.status) : null));

  panel.appendChild(dl([
    ["Stall reason", label("stall_reason", cart.stall_reason)],
    ["Stage", label("stage", cart.stage)],
    ["Last activity", cart.last_activity_at ? ago(cart.last_activity_at) : ""],
    ["Customer", cart.customer_id ? cart.customer_id + " (verified)" : "Guest"],
    ["Totals", cart.totals_trusted ? "From the shop's server" : "Reported by the browser"],
  ]));

  const lines = Array.isArray(cart.lines) ? cart.lines : [];
  const table = el("table", { className: "lines" },
    el("caption", { className: "visually-hidden" }, "Cart lines"),
    el("thead", null, el("tr", null,
      el("th", { scope: "col" }, "Item"),
      el("th", { scope: "col", className: "num" }, "Qty"),
      el("th", { scope: "col", className: "num" }, "Price"),
      el("th", { scope: "col", className: "num" }, "Total"))));
  const body = el("tbody");
  lines.forEach((line) => {
    const unit = toMilli(line.unit_price);
    const quantity = Number.isInteger(line.quantity) ? line.quantity : null;
    const total = unit !== null && quantity !== null ? unit * BigInt(quantity) : null;
    body.appendChild(el("tr", null,
      el("td", null, el("span", { className: "line-name" }, line.name || line.sku || "Item"),
        line.sku && line.name ? el("span", { className: "muted sku" }, line.sku) : null),
      el("td", { className: "num" }, quantity === null ? "" : String(quantity)),
      el("td", { className: "num" }, unit === null ? "" : formatMilli(unit, "")),
      el("td", { className: "num" }, total === null ? "" : formatMilli(total, ""))));
  });
  if (!lines.length) body.appendChild(el("tr", null, el("td", { colspan: "4", className: "muted" }, "No lines reported.")));
  table.appendChild(body);
  panel.appendChild(table);

  const subtotal = toMilli(cart.subtotal);
  const fee = cart.shipping_fee === null || cart.shipping_fee === undefined ? null : toMilli(cart.shipping_fee);
  const totals = el("dl", { className: "totals" },
    el("dt", null, "Subtotal"), el("dd", null, formatMilli(subtotal, currency)),
    el("dt", null, "Delivery" + (cart.shipping_method ? " (" + cart.shipping_method + ")" : "")),
    el("dd", { className: fee !== null && subtotal !== null && subtotal > 0n && fee * 5n >= subtotal ? "high-fee" : "" },
      fee === null ? "not quoted yet" : formatMilli(fee, currency)));
  if (subtotal !== null) {
    totals.appendChild(el("dt", { className: "grand" }, "Total"));
    totals.appendChild(el("dd", { className: "grand" }, formatMilli(subtotal + (fee || 0n), currency)));
  }
  panel.appendChild(totals);

  const timeline = Array.isArray(cart.timeline) ? cart.timeline : [];
  panel.appendChild(el("h4", null, "Timeline"));
  const ol = el("ol", { className: "timeline" });
  timeline.forEach((event) => {
    ol.appendChild(el("li", { className: event.applied === false ? "not-applied" : "" },
      timeEl(event.occurred_at),
      el("span", { className: "ev-type" }, label("event_type", event.type)),
      el("span", { className: "ev-detail muted" }, describeEvent(event, currency)),
      event.applied === false ? el("span", { className: "muted" }, " (arrived late, not applied)") : null));
  });
  if (!timeline.length) ol.appendChild(el("li", { className: "muted" }, "No events."));
  panel.appendChild(ol);

  panel.appendChild(el("h4", null, "Earlier with this shopper"));
  if (earlier.length) {
    const ul = el("ul", { className: "earlier" });
    earlier.forEach((entry) => { ul.appendChild(el("li", null, earlierText(entry))); });
    panel.appendChild(ul);
  } else {
    panel.appendChild(el("p", { className: "muted" }, "First time we have stepped in for this shopper."));
  }
}
