/*! CartAssist console: what the agent may offer, the offers made, approvals. */

import { fetchJson, send } from "./connection.js";
import { $, clear, el, focusedKey, restoreFocus } from "./dom.js";
import { announce, showToast } from "./feedback.js";
import { formatTime, fractionDigits, money, toMilli } from "./format.js";
import { config, finishAction, selectedChat, startAction, state } from "./state.js";

// ---------------------------------------------------------------- remedies & offers

// What the agent may offer in the selected chat (GET …/remedies): each remedy allowed
// with its bound and policy, or not allowed with the reason. The server decides every
// offer again (offer.create); what is checked here only saves a round trip.

const OFFER_STATUS = {
  pending_approval: "Waiting for a supervisor's approval",
  offered: "Offered — waiting for the shopper",
  accepted: "Accepted by the shopper",
  declined: "Declined by the shopper",
  denied: "Denied by a supervisor",
  expired: "Expired",
  refused_on_accept: "Refused at acceptance",
};


export function loadRemedies(chat, opts) {
  opts = opts || {};
  if (chat.closed) return Promise.resolve();
  const panel = $("remedies-panel");
  if (!opts.quiet && chat.id === state.selectedId) panel.setAttribute("aria-busy", "true");
  return fetchJson(config.conversationUrl + chat.id + "/remedies").then((body) => {
    chat.remedies = body;
    if (chat.id === state.selectedId) renderRemedies();
  }).catch((error) => {
    if (chat.id === state.selectedId && !opts.quiet) {
      showRemedyError(chat.id, "Could not load what you can offer: " + error.message);
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
  if (offer.status === "accepted") announce("The shopper accepted the offer in chat " + chat.id + ".");
  else if (offer.status === "declined") announce("The shopper declined the offer in chat " + chat.id + ".");
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
  else showToast("Offer in chat " + chat.id + " refused: " + text, "error");
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
    return "Enter an amount like " + plainAmount(remedy.bound, remedy.currency) + " (digits" +
      (digits ? ", a point and up to " + digits + " decimals" : "") + ").";
  }
  const milli = toMilli(text);
  if (milli <= 0n) return "The amount must be above zero.";
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
  startAction("Offer", { conversationId: chat.id, remedies: true });
  if (!send(frame)) {
    finishAction();
    showRemedyError(chat.id, "Not connected: try again when the console is back online.");
  }
}

function remedyNode(chat, remedy) {
  const key = "remedy:" + remedy.kind;
  if (!remedy.allowed) {
    return el("li", { className: "remedy not-allowed", dataset: { kind: remedy.kind }, "aria-disabled": "true" },
      el("div", { className: "remedy-head" },
        el("span", { className: "remedy-label" }, remedy.label),
        el("span", { className: "pill" }, "not allowed")),
      el("p", { className: "remedy-reason" }, remedy.explanation || "Not allowed here."));
  }
  const facts = [];
  if (remedy.bound !== null && remedy.bound !== undefined) {
    facts.push(remedy.kind === "free_gift"
      ? "Gift worth " + money(remedy.bound, remedy.currency) + (remedy.gift_sku ? " (" + remedy.gift_sku + ")" : "")
      : "Up to " + money(remedy.bound, remedy.currency));
  }
  if (remedy.kind === "hold_stock" && remedy.hold_hours) facts.push("for " + remedy.hold_hours + " hours");
  if (remedy.exclusive) facts.push("exclusive: no other remedy on this cart");
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
  }, "Offer");
  const form = el("form", {
    className: "remedy-form", novalidate: true,
    onsubmit: function (event) {
      event.preventDefault();
      makeOffer(chat, remedy, input);
    },
  },
  input ? el("label", { for: inputId, className: "visually-hidden" }, remedy.label + ": amount in " + remedy.currency) : null,
  input,
  input ? el("span", { className: "muted" }, remedy.currency) : null,
  button);
  return el("li", { className: "remedy allowed", dataset: { kind: remedy.kind } },
    el("div", { className: "remedy-head" },
      el("span", { className: "remedy-label" }, remedy.label),
      el("span", { className: "remedy-bound" }, facts.join(" · "))),
    el("p", { className: "remedy-policy muted" }, "Policy “" + (remedy.policy_name || "") + "”" +
      (remedy.approval_above ? " · needs approval above " + money(remedy.approval_above, remedy.currency) : "")),
    form);
}

function offerNode(offer) {
  return el("li", { className: "offer status-" + offer.status, dataset: { offerId: offer.id, status: offer.status } },
    el("div", { className: "remedy-head" },
      el("span", { className: "remedy-label" }, offer.description || offer.label),
      el("span", { className: "pill offer-status" }, OFFER_STATUS[offer.status] || offer.status)),
    el("p", { className: "muted" },
      "Total " + offer.total_before + " → " + offer.total_after +
      (offer.status === "offered" || offer.status === "pending_approval" ? " · until " + formatTime(offer.expires_at) : "")),
    offer.refusal_reason ? el("p", { className: "remedy-reason" }, offer.refusal_reason) : null);
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
  if (!data) {
    panel.appendChild(el("p", { className: "empty-note" }, chat.closed ? "This chat is closed." : "Loading…"));
    return;
  }
  if (data.flagged_for_farming) {
    panel.appendChild(el("p", { className: "farming-flag", role: "note", dataset: { testid: "farming-flag" } },
      el("strong", null, "Careful: "), "This shopper abandoned many carts recently."));
  }
  const remedies = Array.isArray(data.remedies) ? data.remedies : [];
  const allowed = remedies.filter((r) => { return r.allowed; });
  const refused = remedies.filter((r) => { return !r.allowed; });
  if (chat.closed) {
    panel.appendChild(el("p", { className: "empty-note" }, "This chat is closed: no new offers."));
  } else {
    const list = el("ul", { className: "list remedy-list", "aria-label": "Remedies you may offer" });
    allowed.forEach((r) => { list.appendChild(remedyNode(chat, r)); });
    if (!allowed.length) list.appendChild(el("li", { className: "empty-note" }, "No remedy is allowed for this cart right now."));
    panel.appendChild(list);
    if (refused.length) {
      const no = el("ul", { className: "list remedy-list refused", "aria-label": "Remedies not allowed" });
      refused.forEach((r) => { no.appendChild(remedyNode(chat, r)); });
      panel.appendChild(no);
    }
  }
  const offers = Array.isArray(data.offers) ? data.offers : [];
  if (offers.length) {
    panel.appendChild(el("h4", null, "Offers in this chat"));
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
  startAction(approve ? "Approving the offer" : "Denying the offer", { review: true });
  if (!send({ type: approve ? "offer.approve" : "offer.deny", offer_id: offer.id })) {
    finishAction();
    showToast("Not connected.", "error");
  }
}

export function renderApprovals() {
  const list = $("approvals-list");
  if (!list) return;
  const focus = focusedKey(list);
  clear(list);
  state.approvals.forEach((offer) => {
    list.appendChild(el("li", { className: "approval", dataset: { offerId: offer.id } },
      el("div", { className: "remedy-head" },
        el("span", { className: "remedy-label" }, offer.description || offer.label),
        el("span", { className: "muted" }, "chat " + offer.conversation_id)),
      el("p", { className: "muted" },
        (offer.agent_name || "An agent") + " · policy “" + (offer.policy_name || "") + "” v" + offer.policy_version +
        " · cart " + (offer.cart_external_id || "") + " · total " + offer.total_before + " → " + offer.total_after),
      el("div", { className: "qi-actions" },
        el("button", {
          type: "button", className: "button primary small", dataset: { focusKey: "approve:" + offer.id },
          onclick: function () { review(offer, true); },
        }, "Approve"),
        el("button", {
          type: "button", className: "button small", dataset: { focusKey: "deny:" + offer.id },
          onclick: function () { review(offer, false); },
        }, "Deny"))));
  });
  restoreFocus(list, focus);
  $("approvals-empty").hidden = state.approvals.length > 0;
  $("approvals-count").textContent = state.approvals.length ? String(state.approvals.length) : "";
}
