/*! CartAssist console: what the agent may offer, the offers made, approvals. */

import { fetchJson, send } from "./connection.js";
import { $, clear, el, focusedKey, restoreFocus } from "./dom.js";
import { announce, showToast } from "./feedback.js";
import { formatTime, fractionDigits, money, toMilli } from "./format.js";
import { t } from "./i18n.js";
import { act, config, finishAction, label, selectedChat, startAction, state } from "./state.js";

// ---------------------------------------------------------------- remedies & offers

// What the agent may offer in the selected chat (GET …/remedies): each remedy allowed
// with its bound and policy, or not allowed with the reason. The server decides every
// offer again (offer.create); what is checked here only saves a round trip.

function offerStatus(status) {
  return label("offer_status", status);
}

export function loadRemedies(chat, opts) {
  opts = opts || {};
  if (chat.closed) return Promise.resolve();
  const panel = $("remedies-panel");
  if (!opts.quiet && chat.id === state.selectedId) panel.setAttribute("aria-busy", "true");
  return fetchJson(config.conversationUrl + chat.id + "/remedies").then((body) => {
    // Unchanged remedies are not drawn again: a redraw while the agent types an amount
    // would replace the field under their cursor (live cart frames reload often).
    const changed = JSON.stringify(body) !== JSON.stringify(chat.remedies);
    chat.remedies = body;
    if (changed && chat.id === state.selectedId) renderRemedies();
  }).catch((error) => {
    if (chat.id === state.selectedId && !opts.quiet) {
      showRemedyError(chat.id, t("remedies.load_failed", { error: error.message }));
    }
  }).then(() => {
    panel.setAttribute("aria-busy", "false");
  });
}

export function onOffer(f) {
  const offer = f.offer;
  if (!offer || typeof offer.id !== "number") return;
  const chat = state.chats.get(offer.conversation_id);
  const action = state.pendingAction;
  if (action && action.remedies && action.conversationId === offer.conversation_id) {
    finishAction();
    if (chat) chat.remedyError = "";
  }
  if (!chat) return;
  if (chat.remedies) {
    const offers = Array.isArray(chat.remedies.offers) ? chat.remedies.offers : [];
    const index = offers.findIndex((o) => { return o.id === offer.id; });
    if (index === -1) offers.push(offer);
    else offers[index] = offer;
    chat.remedies.offers = offers;
  }
  if (offer.status === "accepted") announce(t("offer.accepted_announce", { id: chat.id }));
  else if (offer.status === "declined") announce(t("offer.declined_announce", { id: chat.id }));
  if (chat.id === state.selectedId) renderRemedies();
  loadRemedies(chat, { quiet: true }); // budgets and caps moved: fetch fresh bounds
}

export function showRemedyError(conversationId, text) {
  const chat = (conversationId && state.chats.get(conversationId)) || selectedChat();
  if (!chat) {
    showToast(text, "error");
    return;
  }
  chat.remedyError = text;
  if (chat.id === state.selectedId) renderRemedyError(chat);
  else showToast(t("offer.refused_in_chat", { id: chat.id, reason: text }), "error");
}

function renderRemedyError(chat) {
  const node = $("remedies-error");
  node.textContent = chat && chat.remedyError ? chat.remedyError : "";
  node.hidden = !(chat && chat.remedyError);
}

/** "9.900" → "9.90" (EUR): the bound, cut (never rounded up) to the currency's digits. */
function plainAmount(amount, currency) {
  const milli = toMilli(amount);
  if (milli === null) return "";
  const digits = Math.min(fractionDigits(currency), 3);
  const unit = 10n ** BigInt(3 - digits);
  const minor = milli / unit;
  const scale = 10n ** BigInt(digits);
  return (minor / scale).toString() + (digits ? "." + (minor % scale).toString().padStart(digits, "0") : "");
}

/** A positive decimal string with at most the currency's digits, within the bound;
 * returns an error text or "". */
function amountProblem(text, remedy) {
  const digits = Math.min(fractionDigits(remedy.currency), 3);
  const pattern = digits ? new RegExp("^\\d{1,9}(\\.\\d{1," + digits + "})?$") : /^\d{1,9}$/;
  if (!pattern.test(text)) {
    const example = plainAmount(remedy.bound, remedy.currency);
    return digits ? t("remedies.amount_format", { example, digits }) : t("remedies.amount_format_whole", { example });
  }
  const milli = toMilli(text);
  if (milli <= 0n) return t("remedies.amount_positive");
  return "";
}

function isMonetary(remedy) {
  return remedy.bound !== null && remedy.bound !== undefined && remedy.kind !== "free_gift";
}

function makeOffer(chat, remedy, input) {
  const frame = { type: "offer.create", conversation_id: chat.id, kind: remedy.kind };
  if (input) {
    const text = input.value.trim();
    const problem = amountProblem(text, remedy);
    if (problem) {
      showRemedyError(chat.id, problem);
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    frame.amount = text;
  }
  chat.remedyError = "";
  delete chat.amountDrafts[remedy.kind];
  renderRemedyError(chat);
  startAction(t("action.offer"), { conversationId: chat.id, remedies: true });
  if (!send(frame)) {
    finishAction();
    showRemedyError(chat.id, t("error.not_connected_retry"));
  }
}

function remedyLabel(remedy) {
  return label("remedy", remedy.kind) || remedy.label;
}

function remedyFacts(remedy) {
  const facts = [];
  if (remedy.bound !== null && remedy.bound !== undefined) {
    const amount = money(remedy.bound, remedy.currency);
    facts.push(remedy.kind === "free_gift"
      ? t("remedies.gift_worth", { amount }) + (remedy.gift_sku ? " (" + remedy.gift_sku + ")" : "")
      : t("remedies.up_to", { amount }));
  }
  if (remedy.kind === "hold_stock" && remedy.hold_hours) facts.push(t("remedies.hold_hours", { hours: remedy.hold_hours }));
  if (remedy.exclusive) facts.push(t("remedies.exclusive"));
  return facts.join(" · ");
}

function remedyNode(chat, remedy) {
  const key = "remedy:" + remedy.kind;
  if (!remedy.allowed) {
    return el("li", { className: "remedy not-allowed", dataset: { kind: remedy.kind }, "aria-disabled": "true" },
      el("div", { className: "remedy-head" },
        el("span", { className: "remedy-label" }, remedyLabel(remedy)),
        el("span", { className: "pill" }, t("remedies.not_allowed"))),
      el("p", { className: "remedy-reason" }, remedy.explanation || t("remedies.not_allowed_here")));
  }
  const inputId = "remedy-amount-" + chat.id + "-" + remedy.kind;
  const input = isMonetary(remedy)
    ? el("input", {
      id: inputId, type: "text", inputmode: "decimal", autocomplete: "off", className: "remedy-amount",
      value: remedy.kind in chat.amountDrafts ? chat.amountDrafts[remedy.kind] : plainAmount(remedy.bound, remedy.currency),
      dataset: { focusKey: key + ":amount" },
      "aria-describedby": "remedies-error",
      oninput: function (event) { chat.amountDrafts[remedy.kind] = event.target.value; },
    })
    : null;
  const button = el("button", {
    type: "submit", className: "button primary small", dataset: { focusKey: key + ":offer" },
    disabled: chat.closed || !state.connected,
  }, t("remedies.offer"));
  const form = el("form", {
    className: "remedy-form", novalidate: true,
    onsubmit: function (event) {
      event.preventDefault();
      makeOffer(chat, remedy, input);
    },
  },
  input ? el("label", { for: inputId, className: "visually-hidden" }, t("remedies.amount_label", { remedy: remedyLabel(remedy), currency: remedy.currency })) : null,
  input,
  input ? el("span", { className: "muted" }, remedy.currency) : null,
  button);
  const policy = t("remedies.policy", { policy: remedy.policy_name || "" }) +
    (remedy.approval_above ? " · " + t("remedies.approval_above", { amount: money(remedy.approval_above, remedy.currency) }) : "");
  return el("li", { className: "remedy allowed", dataset: { kind: remedy.kind } },
    el("div", { className: "remedy-head" },
      el("span", { className: "remedy-label" }, remedyLabel(remedy)),
      el("span", { className: "remedy-bound" }, remedyFacts(remedy))),
    el("p", { className: "remedy-policy muted" }, policy),
    form);
}

/** "Delivery charge waived: −€9.90", in the agent's language. */
export function offerDescription(offer) {
  const amount = money(offer.amount, offer.currency);
  switch (offer.kind) {
    case "waive_delivery": return t("offer.desc.waive_delivery", { amount });
    case "reduce_delivery": return t("offer.desc.reduce_delivery", { amount });
    case "discount": return t("offer.desc.discount", { amount });
    case "free_gift": return t("offer.desc.free_gift", { sku: offer.gift_sku || "" });
    case "hold_stock": return t("offer.desc.hold_stock");
    default: return offer.description || offer.label;
  }
}

function offerNode(offer) {
  const live = offer.status === "offered" || offer.status === "pending_approval";
  return el("li", { className: "offer status-" + offer.status, dataset: { offerId: offer.id, status: offer.status } },
    el("div", { className: "remedy-head" },
      el("span", { className: "remedy-label" }, offerDescription(offer)),
      el("span", { className: "pill offer-status" }, offerStatus(offer.status))),
    el("p", { className: "muted" },
      t("offer.totals", { before: money(offer.total_before, offer.currency), after: money(offer.total_after, offer.currency) }) +
      (live ? " · " + t("offer.until", { time: formatTime(offer.expires_at) }) : "")),
    offer.refusal_reason ? el("p", { className: "remedy-reason" }, offer.refusal_reason) : null);
}

/** Nothing to offer: the order is placed (the server says so, or a live `cart` frame
 * said so before the remedies were fetched again). */
function nothingToOffer(chat, data) {
  const converted = (data && data.unavailable && data.unavailable.code === "order_placed") ||
    (chat.cart && chat.cart.status === "converted");
  if (!converted) return null;
  return el("p", { className: "nothing-to-offer", role: "status", dataset: { testid: "nothing-to-offer" } },
    t("remedies.order_placed"));
}

function remedyLists(chat, remedies) {
  const allowed = remedies.filter((r) => { return r.allowed; });
  const refused = remedies.filter((r) => { return !r.allowed; });
  const nodes = [];
  const list = el("ul", { className: "list remedy-list", "aria-label": t("remedies.allowed_list") });
  allowed.forEach((r) => { list.appendChild(remedyNode(chat, r)); });
  if (!allowed.length) list.appendChild(el("li", { className: "empty-note" }, t("remedies.none_allowed")));
  nodes.push(list);
  if (refused.length) {
    const no = el("ul", { className: "list remedy-list refused", "aria-label": t("remedies.refused_list") });
    refused.forEach((r) => { no.appendChild(remedyNode(chat, r)); });
    nodes.push(no);
  }
  return nodes;
}

export function renderRemedies() {
  const chat = selectedChat();
  const section = $("remedies");
  const panel = $("remedies-panel");
  section.hidden = !chat;
  if (!chat) return;
  const focus = focusedKey(panel);
  clear(panel);
  renderRemedyError(chat);
  const data = chat.remedies;
  const placed = nothingToOffer(chat, data);
  if (!data && !placed) {
    panel.appendChild(el("p", { className: "empty-note" }, chat.closed ? t("chat.closed_note") : t("remedies.loading")));
    return;
  }
  if (data && data.flagged_for_farming) {
    panel.appendChild(el("p", { className: "farming-flag", role: "note", dataset: { testid: "farming-flag" } },
      el("strong", null, t("remedies.careful")), " ", t("remedies.farming")));
  }
  if (placed) panel.appendChild(placed);
  else if (chat.closed) panel.appendChild(el("p", { className: "empty-note" }, t("remedies.chat_closed")));
  else remedyLists(chat, Array.isArray(data.remedies) ? data.remedies : []).forEach((n) => { panel.appendChild(n); });
  const offers = data && Array.isArray(data.offers) ? data.offers : [];
  if (offers.length) {
    panel.appendChild(el("h3", { className: "subhead" }, t("remedies.offers")));
    const ol = el("ol", { className: "list offer-list" });
    offers.forEach((o) => { ol.appendChild(offerNode(o)); });
    panel.appendChild(ol);
  }
  restoreFocus(panel, focus);
}

export function focusRemedies() {
  const section = $("remedies");
  if (section.hidden) return;
  const first = section.querySelector(".remedy.allowed input, .remedy.allowed button");
  (first || section).focus();
}

// ---------------------------------------------------------------- approvals (supervisors)

export function loadApprovals() {
  if (!config.supervisor || !config.approvalsUrl) return;
  fetchJson(config.approvalsUrl).then((body) => {
    state.approvals = Array.isArray(body.approvals) ? body.approvals : [];
    renderApprovals();
  }).catch(() => { /* the next `approvals` frame brings them */ });
}

function review(offer, approve) {
  startAction(approve ? t("action.approving") : t("action.denying"), { review: true });
  if (!send({ type: approve ? "offer.approve" : "offer.deny", offer_id: offer.id })) {
    finishAction();
    showToast(t("error.not_connected"), "error");
  }
}

/** The approval card's chat, opened in the console (a supervisor follows every chat). */
function openApprovalChat(offer) {
  if (state.chats.has(offer.conversation_id)) {
    act.selectChat(offer.conversation_id, { focus: true });
  } else {
    showToast(t("approval.chat_gone", { id: offer.conversation_id }), "error");
  }
}

export function renderApprovals() {
  const list = $("approvals-list");
  if (!list) return;
  const focus = focusedKey(list);
  clear(list);
  state.approvals.forEach((offer) => {
    const details = t("approval.details", {
      agent: offer.agent_name || t("approval.an_agent"),
      policy: offer.policy_name || "",
      version: offer.policy_version,
      cart: offer.cart_external_id || "",
      before: money(offer.total_before, offer.currency),
      after: money(offer.total_after, offer.currency),
    });
    list.appendChild(el("li", { className: "approval", dataset: { offerId: offer.id } },
      el("div", { className: "remedy-head" },
        el("span", { className: "remedy-label" }, offerDescription(offer)),
        el("button", {
          type: "button", className: "linklike open-chat", dataset: { focusKey: "open:" + offer.id, testid: "approval-open-chat" },
          onclick: function () { openApprovalChat(offer); },
        }, t("approval.open_chat", { id: offer.conversation_id }))),
      el("p", { className: "muted" }, details),
      el("div", { className: "qi-actions" },
        el("button", {
          type: "button", className: "button primary small", dataset: { focusKey: "approve:" + offer.id },
          onclick: function () { review(offer, true); },
        }, t("approval.approve")),
        el("button", {
          type: "button", className: "button small", dataset: { focusKey: "deny:" + offer.id },
          onclick: function () { review(offer, false); },
        }, t("approval.deny")))));
  });
  restoreFocus(list, focus);
  $("approvals-empty").hidden = state.approvals.length > 0;
  $("approvals-count").textContent = state.approvals.length ? String(state.approvals.length) : "";
}
