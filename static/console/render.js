/*! CartAssist console: the queue, the chat list and the selected chat's messages. */

import { claim, reachOut } from "./actions.js";
import { overLimit } from "./composer.js";
import { $, clear, el, focusedKey, restoreFocus, timeEl } from "./dom.js";
import { ago, dateFormat, formatTime, money, parseDate } from "./format.js";
import { ABOUT, act, CLOSE_REASONS, baseTitle, config, firstChatIndex, label, orderedChats, selectedChat, state, unreadCount } from "./state.js";

// ---------------------------------------------------------------- render: status & announcements

export function renderStatus() {
  const agent = state.agent;
  const buttons = document.querySelectorAll(".status-toggle button");
  Array.prototype.forEach.call(buttons, (b) => {
    b.setAttribute("aria-pressed", agent && agent.status === b.dataset.status ? "true" : "false");
    b.disabled = !state.connected;
  });
  if (agent) {
    $("me-name").textContent = agent.display_name;
    const active = orderedChats().filter((c) => { return !c.closed && c.meta.agent_id === agent.id; }).length;
    $("me-load").textContent = active + " / " + agent.capacity + " chats";
  }
}

function updateTitle() {
  let unread = 0;
  state.chats.forEach((c) => { unread += unreadCount(c); });
  const waiting = state.queue.filter((i) => { return i.kind === "chat"; }).length;
  const prefix = unread ? "(" + unread + ") " : "";
  document.title = prefix + (waiting ? "[" + waiting + " waiting] " : "") + baseTitle;
}

// ---------------------------------------------------------------- render: queue

export const KIND_LABELS = { chat: "Waiting chat", invitation: "Invited", stalled_cart: "Stalled cart" };

export function queueKey(item) {
  return item.kind + ":" + (item.conversation_id || item.invitation_id || item.cart_id);
}

export function renderQueue() {
  const list = $("queue-list");
  const focus = focusedKey(list);
  clear(list);
  const items = state.queue;
  items.forEach((item, index) => {
    const cart = item.cart || {};
    const currency = cart.currency || "";
    const sub = [];
    if (cart.stage) sub.push(label("stage", cart.stage));
    if (item.kind === "chat") sub.push("waiting since " + formatTime(item.waiting_since));
    if (item.kind === "invitation") {
      sub.push((item.status === "delivered" ? "shown " : "sent ") + ago(item.sent_at));
      if (item.agent_name) sub.push("for " + item.agent_name);
    }
    if (item.kind === "stalled_cart") {
      sub.push("not invited: " + label("suppression_reason", item.suppression_reason).toLowerCase());
      sub.push(ago(item.decided_at));
    }
    const key = queueKey(item);
    const actions = el("div", { className: "qi-actions" });
    if (item.kind === "chat") {
      actions.appendChild(el("button", {
        type: "button", className: "button primary small", dataset: { focusKey: key + ":claim" },
        "aria-keyshortcuts": index === firstChatIndex() ? "Alt+C" : null,
        onclick: function () { claim(item.conversation_id); },
      }, "Claim"));
    } else if (item.kind === "stalled_cart") {
      actions.appendChild(el("button", {
        type: "button", className: "button small", dataset: { focusKey: key + ":reach" },
        onclick: function () { reachOut(item.cart_id); },
      }, "Reach out"));
    }
    if (cart.id) {
      actions.appendChild(el("button", {
        type: "button", className: "button subtle small", dataset: { focusKey: key + ":cart" },
        "aria-label": "Show the cart of this " + KIND_LABELS[item.kind].toLowerCase(),
        onclick: function () { act.previewCart(item); },
      }, "Cart"));
    }
    const selected = state.preview && state.preview.key === queueKey(item);
    list.appendChild(el("li", {
      className: "queue-item kind-" + item.kind + (selected ? " previewing" : ""),
      dataset: { kind: item.kind, key: queueKey(item) },
    },
    el("div", { className: "qi-top" },
      el("span", { className: "kind kind-" + item.kind }, KIND_LABELS[item.kind] || item.kind),
      item.origin === "shopper" ? originPill() : null,
      el("span", { className: "urgency", title: "Urgency (0–100)" }, "urgency " + item.urgency)),
    el("div", { className: "qi-main" },
      el("strong", null, label("stall_reason", item.stall_reason) || "Chat"),
      el("span", { className: "value" }, money(item.cart_value, currency))),
    el("div", { className: "qi-sub muted" }, sub.join(" · ")),
    actions));
  });
  restoreFocus(list, focus);
  $("queue-empty").hidden = items.length > 0;
  $("queue-count").textContent = items.length ? String(items.length) : "";
  updateTitle();
}

/** A chat the shopper opened from the widget's launcher, with no invitation. */
const SHOPPER_STARTED = "Started by the shopper";

function originPill() {
  return el("span", { className: "pill origin-shopper", dataset: { testid: "origin-shopper" } }, SHOPPER_STARTED);
}



// ---------------------------------------------------------------- render: chat list

export function renderChats() {
  const list = $("chat-list");
  const focus = focusedKey(list);
  clear(list);
  const chats = orderedChats();
  chats.forEach((chat) => {
    const unread = unreadCount(chat);
    const last = chat.messages[chat.messages.length - 1];
    const title = "Chat " + chat.id + (chat.stallReason ? " · " + label("stall_reason", chat.stallReason) : "");
    const status = chat.closed ? "closed" : (chat.outbox.length ? "unsent messages" : "");
    const current = chat.id === state.selectedId;
    list.appendChild(el("li", null,
      el("button", {
        type: "button",
        className: "chat-item" + (chat.closed ? " closed" : "") + (unread ? " unread" : ""),
        dataset: { focusKey: "chat:" + chat.id },
        "aria-current": current ? "true" : null,
        "aria-label": title + (unread ? ", " + unread + " unread" : "") + (status ? ", " + status : ""),
        onclick: function () { act.selectChat(chat.id, { focus: true }); },
      },
      el("span", { className: "ci-top" },
        el("span", { className: "ci-title" }, title),
        unread ? el("span", { className: "badge", "aria-hidden": "true" }, String(unread)) : null),
      el("span", { className: "ci-sub muted" },
        chat.closed ? "Closed" : [
          chat.cart ? money(chat.cart.subtotal, chat.cart.currency) : money(chat.meta.cart_value, ""),
          config.supervisor && chat.meta.agent_name ? " · " + chat.meta.agent_name : "",
        ].join("")),
      last ? el("span", { className: "ci-preview" }, (last.sender === "agent" ? "You: " : "") + last.text) : null)));
  });
  restoreFocus(list, focus);
  const active = chats.filter((c) => { return !c.closed; }).length;
  $("chat-list-empty").hidden = chats.length > 0;
  $("chat-count").textContent = state.agent ? active + " / " + state.agent.capacity : "";
  renderStatus();
  updateTitle();
}


export function renderChatHead() {
  const chat = selectedChat();
  if (!chat) return;
  $("chat-title").textContent = "Chat " + chat.id + (chat.stallReason ? " · " + label("stall_reason", chat.stallReason) : "");
  const meta = [];
  if (chat.meta.origin === "shopper") meta.push(SHOPPER_STARTED);
  if (chat.closed) {
    meta.push(chat.closeReason === "gone" ? "No longer assigned to you" : "Closed — " + (CLOSE_REASONS[chat.closeReason] || "closed"));
  } else {
    meta.push("Started " + formatTime(chat.meta.created_at));
    if (chat.meta.agent_name) meta.push("with " + (chat.meta.agent_id === config.agentId ? "you" : chat.meta.agent_name));
    meta.push("urgency " + chat.meta.urgency);
  }
  $("chat-meta").textContent = meta.join(" · ");
  $("transfer-button").hidden = chat.closed;
  $("close-button").hidden = chat.closed;
  $("dismiss-button").hidden = !chat.closed;
  renderFollowUp(chat);
}

// ---------------------------------------------------------------- follow-ups after outreach

/** "Follow-up after outreach on 23 Nov 2026 about the delivery charge — invitation
 * accepted, offer accepted, converted": the agent recognises a shopper who comes back. */
function followUpText(followUp) {
  const outreach = followUp.outreach;
  if (!outreach) return "Follow-up contact after outreach.";
  const when = parseDate(outreach.decided_at);
  const date = when ? dateFormat.format(when) : "an earlier visit";
  const about = ABOUT[outreach.stall_reason] || label("stall_reason", outreach.stall_reason).toLowerCase();
  if (outreach.decision === "held_out") {
    return "Came back after a stall on " + date + " about " + about + " (control group: not contacted).";
  }
  const happened = [];
  if (outreach.invitation_result) happened.push("invitation " + label("invitation_result", outreach.invitation_result).toLowerCase());
  if (outreach.offer_accepted) happened.push("offer accepted");
  happened.push(outreach.converted ? "converted" : "not converted");
  return "Follow-up after outreach on " + date + " about " + about + " — " + happened.join(", ") + ".";
}

export function renderFollowUp(chat) {
  const box = $("chat-follow-up");
  const followUp = chat && chat.meta.follow_up;
  box.hidden = !followUp;
  if (!followUp) return;
  $("follow-up-text").textContent = followUpText(followUp);
  const select = $("follow-up-reason");
  if (document.activeElement !== select) select.value = followUp.reason;
}

export function renderComposerState() {
  const chat = selectedChat();
  const disabled = !chat || chat.closed;
  $("composer-text").disabled = disabled;
  $("send-button").disabled = disabled || overLimit();
  $("replies-button").disabled = disabled;
  $("composer-hint").textContent = chat && chat.closed
    ? "This chat is closed."
    : state.connected ? "Ctrl+Enter to send" : "Offline: messages are sent when the connection is back.";
}

function messageNode(m) {
  const cls = "msg msg-" + m.sender;
  const author = m.sender === "visitor" ? "Shopper" : m.author_name || (m.sender === "agent" ? "Agent" : "CartAssist");
  return el("li", { className: cls, dataset: { seq: m.seq } },
    el("div", { className: "msg-meta" },
      el("span", { className: "author" }, author),
      timeEl(m.created_at)),
    el("div", { className: "msg-text" }, m.text));
}

function pendingNode(chat, entry) {
  const failed = entry.state === "failed";
  return el("li", { className: "msg msg-agent pending" + (failed ? " failed" : ""), dataset: { clientId: entry.client_message_id } },
    el("div", { className: "msg-meta" },
      el("span", { className: "author" }, "You"),
      el("span", null, failed ? "Not sent" : state.connected ? "Sending…" : "Waiting for the connection…")),
    el("div", { className: "msg-text" }, entry.text),
    failed ? el("div", { className: "msg-failed" },
      el("span", null, entry.error || "Not sent."),
      el("button", { type: "button", className: "linklike", onclick: function () { act.retry(chat, entry); } }, "Retry"),
      el("button", { type: "button", className: "linklike", onclick: function () { act.discard(chat, entry); } }, "Discard"))
      : null);
}

function nearBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
}

export function renderMessages() {
  const chat = selectedChat();
  const list = $("messages");
  if (!chat) return;
  const stick = nearBottom(list) || list.dataset.chat !== String(chat.id);
  clear(list);
  list.dataset.chat = String(chat.id);
  if (!chat.messages.length && !chat.outbox.length) {
    list.appendChild(el("li", { className: "msg-empty muted" }, chat.syncing ? "Loading messages…" : "No messages yet."));
  }
  chat.messages.forEach((m) => { list.appendChild(messageNode(m)); });
  chat.outbox.forEach((entry) => { list.appendChild(pendingNode(chat, entry)); });
  renderSeen(chat);
  if (stick) list.scrollTop = list.scrollHeight;
}

export function appendMessage(chat, m) {
  const list = $("messages");
  const stick = nearBottom(list);
  const empty = list.querySelector(".msg-empty");
  if (empty) empty.remove();
  Array.prototype.forEach.call(list.querySelectorAll("li.pending"), (n) => {
    if (n.dataset.clientId === m.client_message_id) n.remove(); // now confirmed, with its seq
  });
  const pending = list.querySelector("li.pending");
  const node = messageNode(m);
  if (pending) list.insertBefore(node, pending);
  else list.appendChild(node);
  renderSeen(chat);
  if (stick || m.sender === "agent") list.scrollTop = list.scrollHeight;
}

/** "Seen" under the newest agent message the shopper has read. */
export function renderSeen(chat) {
  const list = $("messages");
  Array.prototype.forEach.call(list.querySelectorAll(".seen"), (n) => { n.remove(); });
  let target = null;
  chat.messages.forEach((m) => {
    if (m.sender === "agent" && m.seq <= chat.visitorReadSeq) target = m;
  });
  if (!target) return;
  const node = list.querySelector('li[data-seq="' + target.seq + '"]');
  if (node) node.appendChild(el("div", { className: "seen", "aria-label": "Seen by the shopper" }, "Seen"));
}

export function renderTyping() {
  const chat = selectedChat();
  $("typing").hidden = !(chat && !chat.closed && chat.typingUntil > Date.now());
}
