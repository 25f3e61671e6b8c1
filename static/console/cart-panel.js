/*! CartAssist console: the cart panel (a chat's cart, or a queue item's): its lines and
 * totals (above the remedies), and its history (below them). Live: the `cart` and `grant`
 * frames update it without a refresh (frames.js). */

import { reachOut } from "./actions.js";
import { fetchJson } from "./connection.js";
import { $, clear, el, timeEl } from "./dom.js";
import { ago, formatDate, formatMilli, money, parseDate, toMilli } from "./format.js";
import { isOne, t } from "./i18n.js";
import { kindLabel, queueKey, renderChatHead, renderChats, renderQueue } from "./render.js";
import { about, CART_REFRESH_MS, config, label, state } from "./state.js";

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
      renderCartError(error.status === 404 ? t("cart.not_found") : error.message);
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
  clear($("cart-history"));
  panel.appendChild(el("p", { className: "empty-note" }, t("cart.select")));
}

function renderCartError(text) {
  const panel = $("cart-panel");
  clear(panel);
  panel.appendChild(el("p", { className: "panel-error", role: "alert" }, text));
}

function linesText(n) {
  return isOne(n) ? t("event.lines.one", { count: n }) : t("event.lines.other", { count: n });
}

function describeEvent(event, currency) {
  const d = event.data || {};
  switch (event.type) {
    case "cart_updated":
      return t("event.cart_updated_detail", {
        lines: linesText(Array.isArray(d.lines) ? d.lines.length : 0),
        subtotal: money(d.subtotal, d.currency || currency),
      });
    case "checkout_step":
      return t("event.reached", { stage: label("stage", d.step).toLowerCase() });
    case "shipping_quoted":
      return money(d.fee, d.currency || currency) + (d.method ? " (" + d.method + ")" : "");
    case "payment_failed":
      return d.reason ? String(d.reason).replace(/_/g, " ") : "";
    case "coupon_rejected":
      return d.code ? t("event.code", { code: d.code }) : "";
    case "order_completed":
      return (d.order_id ? t("event.order", { order: d.order_id }) + ", " : "") + money(d.total, d.currency || currency);
    default:
      return "";
  }
}

function earlierText(entry) {
  const when = parseDate(entry.decided_at);
  const date = when ? formatDate(when) : t("follow_up.earlier_visit");
  if (entry.decision === "invited") {
    const outcome = entry.invitation_status ? " — " + label("invitation_status", entry.invitation_status).toLowerCase() : "";
    return t("earlier.reached_out", { date, about: about(entry.stall_reason) }) + outcome;
  }
  const why = entry.decision === "held_out" ? t("earlier.held_out") : t("earlier.not_contacted");
  return t("earlier.stalled", { date, about: about(entry.stall_reason), why });
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

function previewNote(item) {
  const nodes = [el("p", { className: "preview-note muted" }, t("cart.preview", { kind: kindLabel(item.kind).toLowerCase() }))];
  if (item.kind === "stalled_cart") {
    nodes.push(el("button", {
      type: "button", className: "button primary small",
      onclick: function () { reachOut(item.cart_id); },
    }, t("cart.reach_out")));
  }
  return nodes;
}

/** "Order ORD-7 placed — €38.50": the cart converted (live, from the `cart` frame). */
function orderBanner(cart) {
  if (cart.status !== "converted") return null;
  return el("p", { className: "order-banner", role: "status", dataset: { testid: "order-banner" } },
    el("strong", null, cart.order_id ? t("cart.order_placed_id", { order: cart.order_id }) : t("cart.order_placed")),
    cart.order_total ? el("span", { className: "money" }, " " + money(cart.order_total, cart.currency)) : null);
}

function grantText(grant) {
  const what = label("remedy", grant.kind);
  const amount = grant.amount ? " " + money(grant.amount, grant.currency) : "";
  if (grant.redeemed_at) return t("grant.redeemed", { what: what + amount, order: grant.order_id });
  return t("grant.issued", { what: what + amount });
}

function grantsNode(grants) {
  if (!grants || !grants.length) return null;
  const ul = el("ul", { className: "grants", dataset: { testid: "grants" } });
  grants.forEach((grant) => { ul.appendChild(el("li", null, grantText(grant))); });
  return ul;
}

function linesTable(lines) {
  const table = el("table", { className: "lines" },
    el("caption", { className: "visually-hidden" }, t("cart.lines")),
    el("thead", null, el("tr", null,
      el("th", { scope: "col" }, t("cart.item")),
      el("th", { scope: "col", className: "num" }, t("cart.qty")),
      el("th", { scope: "col", className: "num" }, t("cart.price")),
      el("th", { scope: "col", className: "num" }, t("cart.total")))));
  const body = el("tbody");
  lines.forEach((line) => {
    const unit = toMilli(line.unit_price);
    const quantity = Number.isInteger(line.quantity) ? line.quantity : null;
    const total = unit !== null && quantity !== null ? unit * BigInt(quantity) : null;
    body.appendChild(el("tr", null,
      el("td", null, el("span", { className: "line-name" }, line.name || line.sku || t("cart.item")),
        line.sku && line.name ? el("span", { className: "muted sku" }, line.sku) : null),
      el("td", { className: "num" }, quantity === null ? "" : String(quantity)),
      el("td", { className: "num money" }, unit === null ? "" : formatMilli(unit, lines.currency)),
      el("td", { className: "num money" }, total === null ? "" : formatMilli(total, lines.currency))));
  });
  if (!lines.length) body.appendChild(el("tr", null, el("td", { colspan: "4", className: "muted" }, t("cart.no_lines"))));
  table.appendChild(body);
  return table;
}

function totalsNode(cart) {
  const currency = cart.currency || "";
  const subtotal = toMilli(cart.subtotal);
  const fee = cart.shipping_fee === null || cart.shipping_fee === undefined ? null : toMilli(cart.shipping_fee);
  const high = fee !== null && subtotal !== null && subtotal > 0n && fee * 5n >= subtotal;
  const totals = el("dl", { className: "totals" },
    el("dt", null, t("cart.subtotal")), el("dd", { className: "money" }, formatMilli(subtotal, currency)),
    el("dt", null, cart.shipping_method ? t("cart.delivery_method", { method: cart.shipping_method }) : t("cart.delivery")),
    el("dd", { className: "money" + (high ? " high-fee" : "") }, fee === null ? t("cart.not_quoted") : formatMilli(fee, currency)));
  if (subtotal !== null) {
    totals.appendChild(el("dt", { className: "grand" }, t("cart.total")));
    totals.appendChild(el("dd", { className: "grand money" }, formatMilli(subtotal + (fee || 0n), currency)));
  }
  return totals;
}

function renderHistory(cart) {
  const box = $("cart-history");
  clear(box);
  const currency = cart.currency || "";
  box.appendChild(dl([
    [t("cart.stall_reason"), label("stall_reason", cart.stall_reason)],
    [t("cart.stage"), label("stage", cart.stage)],
    [t("cart.last_activity"), cart.last_activity_at ? ago(cart.last_activity_at) : ""],
    [t("cart.customer"), cart.customer_id ? t("cart.customer_verified", { id: cart.customer_id }) : t("cart.guest")],
    [t("cart.totals_from"), cart.totals_trusted ? t("cart.totals_server") : t("cart.totals_browser")],
  ]));
  const timeline = Array.isArray(cart.timeline) ? cart.timeline : [];
  box.appendChild(el("h3", { className: "subhead" }, t("cart.timeline")));
  const ol = el("ol", { className: "timeline" });
  timeline.forEach((event) => {
    ol.appendChild(el("li", { className: event.applied === false ? "not-applied" : "" },
      timeEl(event.occurred_at),
      el("span", { className: "ev-type" }, label("event_type", event.type)),
      el("span", { className: "ev-detail muted" }, describeEvent(event, currency)),
      event.applied === false ? el("span", { className: "muted" }, " " + t("cart.not_applied")) : null));
  });
  if (!timeline.length) ol.appendChild(el("li", { className: "muted" }, t("cart.no_events")));
  box.appendChild(ol);
  const earlier = Array.isArray(cart.earlier_interventions) ? cart.earlier_interventions : [];
  box.appendChild(el("h3", { className: "subhead" }, t("cart.earlier")));
  if (earlier.length) {
    const ul = el("ul", { className: "earlier" });
    earlier.forEach((entry) => { ul.appendChild(el("li", null, earlierText(entry))); });
    box.appendChild(ul);
  } else {
    box.appendChild(el("p", { className: "muted" }, t("cart.first_time")));
  }
}

export function renderCart(cart, context) {
  const panel = $("cart-panel");
  clear(panel);
  $("cart-refresh").hidden = false;
  if (context && context.item) previewNote(context.item).forEach((node) => { panel.appendChild(node); });
  panel.appendChild(el("p", { className: "cart-title" },
    el("strong", null, t("cart.title", { id: cart.external_id || "#" + cart.id })),
    cart.status ? el("span", { className: "pill status-" + cart.status }, label("cart_status", cart.status)) : null));
  const banner = orderBanner(cart);
  if (banner) panel.appendChild(banner);
  const lines = Array.isArray(cart.lines) ? cart.lines.slice() : [];
  lines.currency = cart.currency || "";
  panel.appendChild(linesTable(lines));
  panel.appendChild(totalsNode(cart));
  const chat = context && context.chat;
  const grants = grantsNode(chat ? chat.grants : null);
  if (grants) panel.appendChild(grants);
  renderHistory(cart);
}
