import { fetchJson, send } from "./connection.js";
import { $, clear, el, focusedKey, restoreFocus } from "./dom.js";
import { announce, showToast } from "./feedback.js";
import { formatTime, fractionDigits, money, toMilli } from "./format.js";
import { config, finishAction, selectedChat, startAction, state } from "./state.js";

// ---------------------------------------------------------------- remedies & offers

// What the agent may offer in the selected chat (GET …/remedies): each remedy allowed
// with its bound and policy, or not allowed with the reason. The server decides every
// offer again (offer.create); what is checked here only saves a round trip.

var OFFER_STATUS = {
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
  var panel = $("remedies-panel");
  if (!opts.quiet && chat.id === state.selectedId) panel.setAttribute("aria-busy", "true");
  return fetchJson(config.conversationUrl + chat.id + "/remedies").then(function (body) {
    chat.remedies = body;
    if (chat.id === state.selectedId) renderRemedies();
  }).catch(function (error) {
    if (chat.id === state.selectedId && !opts.quiet) {
      showRemedyError(chat.id, "Could not load what you can offer: " + error.message);
    }
  }).then(function () {
    panel.setAttribute("aria-busy", "false");
  });
}

export function onOffer(f) {
  var offer = f.offer;
  if (!offer || typeof offer.id !== "number") return;
  var chat = state.chats.get(offer.conversation_id);
  var action = state.pendingAction;
  if (action && action.remedies && action.conversationId === offer.conversation_id) {
    finishAction();
    if (chat) chat.remedyError = "";
  }
  if (!chat) return;
  if (chat.remedies) {
    var offers = Array.isArray(chat.remedies.offers) ? chat.remedies.offers : [];
    var index = offers.findIndex(function (o) { return o.id === offer.id; });
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
  var chat = (conversationId && state.chats.get(conversationId)) || selectedChat();
  if (!chat) {
    showToast(text, "error");
    return;
  }
  chat.remedyError = text;
  if (chat.id === state.selectedId) renderRemedyError(chat);
  else showToast("Offer in chat " + chat.id + " refused: " + text, "error");
}

function renderRemedyError(chat) {
  var node = $("remedies-error");
  node.textContent = chat && chat.remedyError ? chat.remedyError : "";
  node.hidden = !(chat && chat.remedyError);
}

/** "9.900" → "9.90" (EUR): the bound, cut (never rounded up) to the currency's digits. */
function plainAmount(amount, currency) {
  var milli = toMilli(amount);
  if (milli === null) return "";
  var digits = Math.min(fractionDigits(currency), 3);
  var unit = 10n ** BigInt(3 - digits);
  var minor = milli / unit;
  var scale = 10n ** BigInt(digits);
  return (minor / scale).toString() + (digits ? "." + (minor % scale).toString().padStart(digits, "0") : "");
}

/** A positive decimal string with at most the currency's digits, within the bound;
 * returns an error text or "". */
function amountProblem(text, remedy) {
  var digits = Math.min(fractionDigits(remedy.currency), 3);
  var pattern = digits ? new RegExp("^\\d{1,9}(\\.\\d{1," + digits + "})?$") : /^\d{1,9}$/;
  if (!pattern.test(text)) {
    return "Enter an amount like " + plainAmount(remedy.bound, remedy.currency) + " (digits" +
      (digits ? ", a point and up to " + digits + " decimals" : "") + ").";
  }
  var milli = toMilli(text);
  if (milli <= 0n) return "The amount must be above zero.";
  return "";
}

function isMonetary(remedy) {
  return remedy.bound !== null && remedy.bound !== undefined && remedy.kind !== "free_gift";
}

function makeOffer(chat, remedy, input) {
  var frame = { type: "offer.create", conversation_id: chat.id, kind: remedy.kind };
  if (input) {
    var text = input.value.trim();
    var problem = amountProblem(text, remedy);
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
  var key = "remedy:" + remedy.kind;
  if (!remedy.allowed) {
    return el("li", { className: "remedy not-allowed", dataset: { kind: remedy.kind }, "aria-disabled": "true" },
      el("div", { className: "remedy-head" },
        el("span", { className: "remedy-label" }, remedy.label),
        el("span", { className: "pill" }, "not allowed")),
      el("p", { className: "remedy-reason" }, remedy.explanation || "Not allowed here."));
  }
  var facts = [];
  if (remedy.bound !== null && remedy.bound !== undefined) {
    facts.push(remedy.kind === "free_gift"
      ? "Gift worth " + money(remedy.bound, remedy.currency) + (remedy.gift_sku ? " (" + remedy.gift_sku + ")" : "")
      : "Up to " + money(remedy.bound, remedy.currency));
  }
  if (remedy.kind === "hold_stock" && remedy.hold_hours) facts.push("for " + remedy.hold_hours + " hours");
  if (remedy.exclusive) facts.push("exclusive: no other remedy on this cart");
  var inputId = "remedy-amount-" + chat.id + "-" + remedy.kind;
  var input = isMonetary(remedy)
    ? el("input", {
      id: inputId, type: "text", inputmode: "decimal", autocomplete: "off", className: "remedy-amount",
      value: remedy.kind in chat.amountDrafts ? chat.amountDrafts[remedy.kind] : plainAmount(remedy.bound, remedy.currency),
      dataset: { focusKey: key + ":amount" },
      "aria-describedby": "remedies-error",
      oninput: function (event) { chat.amountDrafts[remedy.kind] = event.target.value; },
    })
    : null;
  var button = el("button", {
    type: "submit", className: "button primary small", dataset: { focusKey: key + ":offer" },
    disabled: chat.closed || !state.connected,
  }, "Offer");
  var form = el("form", {
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
  var chat = selectedChat();
  var section = $("remedies");
  var panel = $("remedies-panel");
  section.hidden = !chat;
  if (!chat) return;
  var focus = focusedKey(panel);
  clear(panel);
  renderRemedyError(chat);
  var data = chat.remedies;
  if (!data) {
    panel.appendChild(el("p", { className: "empty-note" }, chat.closed ? "This chat is closed." : "Loading…"));
    return;
  }
  if (data.flagged_for_farming) {
    panel.appendChild(el("p", { className: "farming-flag", role: "note", dataset: { testid: "farming-flag" } },
      el("strong", null, "Careful: "), "This shopper abandoned many carts recently."));
  }
  var remedies = Array.isArray(data.remedies) ? data.remedies : [];
  var allowed = remedies.filter(function (r) { return r.allowed; });
  var refused = remedies.filter(function (r) { return !r.allowed; });
  if (chat.closed) {
    panel.appendChild(el("p", { className: "empty-note" }, "This chat is closed: no new offers."));
  } else {
    var list = el("ul", { className: "list remedy-list", "aria-label": "Remedies you may offer" });
    allowed.forEach(function (r) { list.appendChild(remedyNode(chat, r)); });
    if (!allowed.length) list.appendChild(el("li", { className: "empty-note" }, "No remedy is allowed for this cart right now."));
    panel.appendChild(list);
    if (refused.length) {
      var no = el("ul", { className: "list remedy-list refused", "aria-label": "Remedies not allowed" });
      refused.forEach(function (r) { no.appendChild(remedyNode(chat, r)); });
      panel.appendChild(no);
    }
  }
  var offers = Array.isArray(data.offers) ? data.offers : [];
  if (offers.length) {
    panel.appendChild(el("h4", null, "Offers in this chat"));
    var ol = el("ol", { className: "list offer-list" });
    offers.forEach(function (o) { ol.appendChild(offerNode(o)); });
    panel.appendChild(ol);
  }
  restoreFocus(panel, focus);
}

export function focusRemedies() {
  var section = $("remedies");
  if (section.hidden) return;
  var first = section.querySelector(".remedy.allowed input, .remedy.allowed button");
  (first || section).focus();
}

// ---------------------------------------------------------------- approvals (supervisors)

export function loadApprovals() {
  if (!config.supervisor || !config.approvalsUrl) return;
  fetchJson(config.approvalsUrl).then(function (body) {
    state.approvals = Array.isArray(body.approvals) ? body.approvals : [];
    renderApprovals();
  }).catch(function () { /* the next `approvals` frame brings them */ });
}

function review(offer, approve) {
  startAction(approve ? "Approving the offer" : "Denying the offer", { review: true });
  if (!send({ type: approve ? "offer.approve" : "offer.deny", offer_id: offer.id })) {
    finishAction();
    showToast("Not connected.", "error");
  }
}

export function renderApprovals() {
  var list = $("approvals-list");
  if (!list) return;
  var focus = focusedKey(list);
  clear(list);
  state.approvals.forEach(function (offer) {
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
