/*! CartAssist console: the queue, the chat lists (mine, the team's), the selected chat's
 * header (who the shopper is, why it is urgent) and its messages. */

import { claim, reachOut } from "./actions.js";
import { overLimit } from "./composer.js";
import { $, clear, el, focusedKey, restoreFocus, timeEl } from "./dom.js";
import { ago, formatDate, formatTime, money, parseDate } from "./format.js";
import { isOne, t } from "./i18n.js";
import { about, act, baseTitle, closeReason, config, firstChatIndex, label, orderedChats, selectedChat, splitChats, state, unreadCount } from "./state.js";

// ---------------------------------------------------------------- render: status & announcements

/** The agent's own open chats: what counts against their capacity. */
export function myLoad() {
  return state.agent ? splitChats(orderedChats(), state.agent.id).load : 0;
}

export function renderStatus() {
  const agent = state.agent;
  const buttons = document.querySelectorAll(".status-toggle button");
  Array.prototype.forEach.call(buttons, (b) => {
    b.setAttribute("aria-pressed", agent && agent.status === b.dataset.status ? "true" : "false");
    b.disabled = !state.connected;
  });
  if (agent) {
    $("me-name").textContent = agent.display_name;
    $("me-load").textContent = t("me.load", { load: myLoad(), capacity: agent.capacity });
  }
}

function updateTitle() {
  let unread = 0;
  state.chats.forEach((c) => { unread += unreadCount(c); });
  const waiting = state.queue.filter((i) => { return i.kind === "chat"; }).length;
  const prefix = unread ? "(" + unread + ") " : "";
  document.title = prefix + (waiting ? t("title.waiting", { count: waiting }) + " " : "") + baseTitle;
}

// ---------------------------------------------------------------- render: queue

export function kindLabel(kind) {
  if (kind === "chat") return t("queue.kind.chat");
  if (kind === "invitation") return t("queue.kind.invitation");
  return t("queue.kind.stalled_cart");
}

export function queueKey(item) {
  return item.kind + ":" + (item.conversation_id || item.invitation_id || item.cart_id);
}

function queueSub(item) {
  const cart = item.cart || {};
  const sub = [];
  if (cart.stage) sub.push(label("stage", cart.stage));
  if (item.kind === "chat") sub.push(t("queue.waiting_since", { time: formatTime(item.waiting_since) }));
  if (item.kind === "invitation") {
    sub.push(item.status === "delivered" ? t("queue.shown", { when: ago(item.sent_at) }) : t("queue.sent", { when: ago(item.sent_at) }));
    if (item.agent_name) sub.push(t("queue.for_agent", { name: item.agent_name }));
  }
  if (item.kind === "stalled_cart") {
    sub.push(t("queue.not_invited", { reason: label("suppression_reason", item.suppression_reason).toLowerCase() }));
    sub.push(ago(item.decided_at));
  }
  return sub.join(" · ");
}

function queueActions(item, index) {
  const key = queueKey(item);
  const cart = item.cart || {};
  const actions = el("div", { className: "qi-actions" });
  if (item.kind === "chat") {
    actions.appendChild(el("button", {
      type: "button", className: "button primary small", dataset: { focusKey: key + ":claim" },
      "aria-keyshortcuts": index === firstChatIndex() ? "Alt+C" : null,
      onclick: function () { claim(item.conversation_id); },
    }, t("queue.claim")));
  } else if (item.kind === "stalled_cart") {
    actions.appendChild(el("button", {
      type: "button", className: "button small", dataset: { focusKey: key + ":reach" },
      onclick: function () { reachOut(item.cart_id); },
    }, t("queue.reach_out")));
  }
  if (cart.id) {
    actions.appendChild(el("button", {
      type: "button", className: "button subtle small", dataset: { focusKey: key + ":cart" },
      onclick: function () { act.previewCart(item); },
    }, t("queue.show_cart")));
  }
  return actions;
}

export function renderQueue() {
  const list = $("queue-list");
  const focus = focusedKey(list);
  clear(list);
  const items = state.queue;
  items.forEach((item, index) => {
    const cart = item.cart || {};
    const selected = state.preview && state.preview.key === queueKey(item);
    list.appendChild(el("li", {
      className: "queue-item kind-" + item.kind + (selected ? " previewing" : ""),
      dataset: { kind: item.kind, key: queueKey(item) },
    },
    el("div", { className: "qi-top" },
      el("span", { className: "kind kind-" + item.kind }, kindLabel(item.kind)),
      item.origin === "shopper" ? originPill() : null,
      el("span", { className: "urgency" }, t("urgency.short", { score: item.urgency }))),
    el("div", { className: "qi-main" },
      el("strong", null, label("stall_reason", item.stall_reason) || t("queue.chat")),
      el("span", { className: "value money" }, money(item.cart_value, cart.currency || ""))),
    el("div", { className: "qi-sub muted" }, queueSub(item)),
    queueActions(item, index)));
  });
  restoreFocus(list, focus);
  $("queue-empty").hidden = items.length > 0;
  $("queue-count").textContent = items.length ? String(items.length) : "";
  updateTitle();
}

/** A chat the shopper opened from the widget's launcher, with no invitation. */
function originPill() {
  return el("span", { className: "pill origin-shopper", dataset: { testid: "origin-shopper" } }, t("chat.started_by_shopper"));
}

// ---------------------------------------------------------------- who the shopper is

/** "Mara Lindqvist", "m•••@example.com", or "Guest 4F2C1A" (the shop did not say). */
export function shopperName(chat) {
  const shopper = chat.cart && chat.cart.shopper;
  if (!shopper) return t("chat.fallback_title", { id: chat.id });
  return shopper.name || shopper.email_hint || t("shopper.guest", { id: shopper.visitor_short_id });
}

/** "Mara Lindqvist · Put off by the delivery charge": the shopper and the stall in words. */
export function chatTitle(chat) {
  const reason = chat.stallReason ? label("stall_reason", chat.stallReason) : "";
  return shopperName(chat) + (reason ? " · " + reason : "");
}

function countText(n, one, other) {
  return isOne(n) ? one : other;
}

/** The facts under the shopper's name: new or returning, orders, outreach. */
function shopperFacts(shopper) {
  const facts = [];
  if (shopper.name && shopper.email_hint) facts.push(el("span", { className: "email-hint" }, shopper.email_hint));
  facts.push(el("span", { className: "pill " + (shopper.returning ? "returning-pill" : "new-pill"), dataset: { testid: "shopper-kind" } },
    shopper.returning ? t("shopper.returning") : t("shopper.new")));
  const n = shopper.earlier_orders;
  facts.push(el("span", { dataset: { testid: "shopper-orders" } },
    countText(n, t("shopper.orders.one", { count: n }), t("shopper.orders.other", { count: n }))));
  const inv = shopper.earlier_invitations;
  facts.push(el("span", { dataset: { testid: "shopper-outreach" } },
    countText(inv, t("shopper.invitations.one", { count: inv }), t("shopper.invitations.other", { count: inv }))));
  if (shopper.follow_ups) {
    const f = shopper.follow_ups;
    facts.push(el("span", null, countText(f, t("shopper.follow_ups.one", { count: f }), t("shopper.follow_ups.other", { count: f }))));
  }
  return facts;
}

/** Urgency, explained: the three parts of the score (cartassist/domain/stalls.py). */
function urgencyNode(chat) {
  const urgency = chat.cart && chat.cart.urgency;
  const score = urgency ? urgency.score : chat.meta.urgency;
  const summary = el("summary", { className: "urgency-badge" }, t("urgency.short", { score }));
  if (!urgency) {
    return el("details", { className: "urgency" }, summary,
      el("p", { className: "urgency-why" }, t("urgency.no_factors")));
  }
  return el("details", { className: "urgency", dataset: { testid: "urgency" } }, summary,
    el("div", { className: "urgency-why", id: "urgency-why" },
      el("p", null, t("urgency.explained")),
      el("ul", null,
        el("li", null, t("urgency.reason", { reason: label("stall_reason", urgency.stall_reason), points: urgency.reason_points })),
        el("li", null, t("urgency.stage", { stage: label("stage", urgency.stage), points: urgency.stage_points })),
        el("li", null, t("urgency.value", { value: money(urgency.cart_value, urgency.currency), points: urgency.value_points })))));
}

function renderShopper(chat) {
  const box = $("chat-shopper");
  clear(box);
  const shopper = chat.cart && chat.cart.shopper;
  if (shopper) box.appendChild(el("span", { className: "shopper-facts" }, shopperFacts(shopper)));
  box.appendChild(urgencyNode(chat));
}

// ---------------------------------------------------------------- render: chat lists

function chatItem(chat) {
  const unread = unreadCount(chat);
  const last = chat.messages[chat.messages.length - 1];
  const status = chat.closed ? t("chat.closed") : (chat.outbox.length ? t("chat.unsent") : "");
  const current = chat.id === state.selectedId;
  const mine = state.agent && chat.meta.agent_id === state.agent.id;
  const value = chat.cart ? money(chat.cart.subtotal, chat.cart.currency) : money(chat.meta.cart_value, "");
  const lastText = last ? (last.kind === "invitation" ? t("message.invitation_preview") : last.text) : "";
  // The button's name is its visible text (WCAG 2.5.3): no aria-label that differs.
  return el("li", null,
    el("button", {
      type: "button",
      className: "chat-item" + (chat.closed ? " closed" : "") + (unread ? " unread" : ""),
      dataset: { focusKey: "chat:" + chat.id, conversationId: chat.id },
      "aria-current": current ? "true" : null,
      onclick: function () { act.selectChat(chat.id, { focus: true }); },
    },
    el("span", { className: "ci-top" },
      el("span", { className: "ci-title" }, chatTitle(chat)),
      unread ? el("span", { className: "badge" }, String(unread),
        el("span", { className: "visually-hidden" }, " " + t("chat.unread"))) : null),
    el("span", { className: "ci-sub muted" },
      status ? el("span", null, status) : el("span", { className: "money" }, value),
      !mine && chat.meta.agent_name ? " · " + t("chat.owner", { name: chat.meta.agent_name }) : ""),
    lastText ? el("span", { className: "ci-preview" }, (last.sender === "agent" && mine ? t("chat.you_prefix") + " " : "") + lastText) : null));
}

export function renderChats() {
  const agent = state.agent;
  const split = splitChats(orderedChats(), agent ? agent.id : null);
  const mine = split.mine;
  const team = split.team;
  [["chat-list", mine], ["team-list", team]].forEach((pair) => {
    const list = $(pair[0]);
    if (!list) return;
    const focus = focusedKey(list);
    clear(list);
    pair[1].forEach((chat) => { list.appendChild(chatItem(chat)); });
    restoreFocus(list, focus);
  });
  $("chat-list-empty").hidden = mine.length > 0;
  $("chat-count").textContent = agent ? t("chats.count", { load: split.load, capacity: agent.capacity }) : "";
  const teamSection = $("team");
  if (teamSection) {
    teamSection.hidden = !team.length;
    $("team-count").textContent = team.length ? String(team.filter((c) => { return !c.closed; }).length) : "";
  }
  renderStatus();
  updateTitle();
}

export function renderChatHead() {
  const chat = selectedChat();
  if (!chat) return;
  $("chat-title").textContent = chatTitle(chat);
  const meta = [];
  if (chat.meta.origin === "shopper") meta.push(t("chat.started_by_shopper"));
  if (chat.closed) {
    meta.push(chat.closeReason === "gone" ? t("chat.gone") : t("chat.closed_because", { reason: closeReason(chat.closeReason) }));
  } else {
    meta.push(t("chat.started_at", { time: formatTime(chat.meta.created_at) }));
    if (chat.meta.agent_name) {
      meta.push(chat.meta.agent_id === config.agentId ? t("chat.with_you") : t("chat.with_agent", { name: chat.meta.agent_name }));
    }
  }
  $("chat-meta").textContent = meta.join(" · ");
  renderShopper(chat);
  $("transfer-button").hidden = chat.closed;
  $("close-button").hidden = chat.closed;
  $("dismiss-button").hidden = !chat.closed;
  // docs/REALTIME.md, "Email to a shopper who left": a chat from an invitation, open or
  // timed out; the server checks the rest (the shopper left, an address, the limits).
  $("email-button").hidden = chat.meta.origin !== "invitation" || (chat.closed && chat.closeReason !== "visitor_timeout");
  renderFollowUp(chat);
}

// ---------------------------------------------------------------- follow-ups after outreach

/** "Follow-up after outreach on 23 Nov 2026 about the delivery charge — invitation
 * accepted, offer accepted, converted": the agent recognises a shopper who comes back. */
function followUpText(followUp) {
  const outreach = followUp.outreach;
  if (!outreach) return t("follow_up.no_outreach");
  const when = parseDate(outreach.decided_at);
  const date = when ? formatDate(when) : t("follow_up.earlier_visit");
  if (outreach.decision === "held_out") {
    return t("follow_up.held_out", { date, about: about(outreach.stall_reason) });
  }
  const happened = [];
  if (outreach.invitation_result) happened.push(t("follow_up.invitation", { result: label("invitation_result", outreach.invitation_result).toLowerCase() }));
  if (outreach.offer_accepted) happened.push(t("follow_up.offer_accepted"));
  happened.push(outreach.converted ? t("follow_up.converted") : t("follow_up.not_converted"));
  return t("follow_up.after_outreach", { date, about: about(outreach.stall_reason), happened: happened.join(", ") });
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
  let hint = t("composer.hint");
  if (chat && chat.closed) hint = t("composer.closed");
  else if (!state.connected) hint = t("composer.offline");
  $("composer-hint").textContent = hint;
}

// ---------------------------------------------------------------- messages

function authorOf(m) {
  if (m.sender === "visitor") return t("message.shopper");
  if (m.author_name) return m.author_name;
  return m.sender === "agent" ? t("message.agent") : t("message.system");
}

/** The invitation the shopper answered, as the chat's first message: who sent it, what
 * it said, and the code the shopper can verify it with (docs/REALTIME.md, ``kind``). */
function invitationNode(m) {
  const meta = m.meta || {};
  const code = meta.verification_code || "";
  return el("li", { className: "msg msg-invitation", dataset: { seq: m.seq, kind: "invitation" } },
    el("div", { className: "msg-meta" },
      el("span", { className: "author" }, m.author_name
        ? t("message.invitation_from", { name: m.author_name })
        : t("message.invitation")),
      timeEl(m.created_at)),
    meta.headline ? el("p", { className: "inv-headline" }, meta.headline) : null,
    el("p", { className: "msg-text" }, meta.body || (meta.headline ? "" : m.text)),
    code ? el("p", { className: "inv-code", dataset: { testid: "invitation-code" } },
      t("message.verification_code") + " ",
      meta.verify_url
        ? el("a", { href: meta.verify_url, target: "_blank", rel: "noopener", className: "code" }, code)
        : el("code", { className: "code" }, code)) : null);
}

function messageNode(m) {
  if (m.kind === "invitation") return invitationNode(m);
  return el("li", { className: "msg msg-" + m.sender, dataset: { seq: m.seq } },
    el("div", { className: "msg-meta" },
      el("span", { className: "author" }, authorOf(m)),
      timeEl(m.created_at)),
    el("div", { className: "msg-text" }, m.text));
}

function pendingState(entry) {
  if (entry.state === "failed") return t("message.not_sent");
  return state.connected ? t("message.sending") : t("message.waiting_connection");
}

function pendingNode(chat, entry) {
  const failed = entry.state === "failed";
  return el("li", { className: "msg msg-agent pending" + (failed ? " failed" : ""), dataset: { clientId: entry.client_message_id } },
    el("div", { className: "msg-meta" },
      el("span", { className: "author" }, t("message.you")),
      el("span", null, pendingState(entry))),
    el("div", { className: "msg-text" }, entry.text),
    failed ? el("div", { className: "msg-failed" },
      el("span", null, entry.error || t("message.not_sent")),
      el("button", { type: "button", className: "linklike", onclick: function () { act.retry(chat, entry); } }, t("message.retry")),
      el("button", { type: "button", className: "linklike", onclick: function () { act.discard(chat, entry); } }, t("message.discard")))
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
    list.appendChild(el("li", { className: "msg-empty muted" }, chat.syncing ? t("messages.loading") : t("messages.none")));
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
    if (m.sender === "agent" && m.kind !== "invitation" && m.seq <= chat.visitorReadSeq) target = m;
  });
  if (!target) return;
  const node = list.querySelector('li[data-seq="' + target.seq + '"]');
  if (node) node.appendChild(el("div", { className: "seen" }, t("message.seen")));
}

export function renderTyping() {
  const chat = selectedChat();
  $("typing").hidden = !(chat && !chat.closed && chat.typingUntil > Date.now());
}
