/*! CartAssist console: the frames from the server (docs/REALTIME.md, "Console socket"). */

import { outboxFail, seqAction } from "../widget/protocol.js";
import { loadCart, maybeRefreshCart, renderCart } from "./cart-panel.js";
import { markRead, renderChat, requestSync, selectChat, upsertChat } from "./chats.js";
import { showComposerError } from "./composer.js";
import { reconnectBackoff, startHeartbeat } from "./connection.js";
import { $ } from "./dom.js";
import { announce, setConnection, showToast } from "./feedback.js";
import { t } from "./i18n.js";
import { flushOutbox, removeFromOutbox } from "./outbox.js";
import { loadApprovals, loadRemedies, onOffer, renderApprovals, renderRemedies, showRemedyError } from "./remedies.js";
import { appendMessage, renderChatHead, renderChats, renderFollowUp, renderMessages, renderQueue, renderSeen, renderStatus, renderTyping } from "./render.js";
import { PENDING_ACTION_MS, closeReason, TYPING_SHOW_MS, finishAction, label, orderedChats, persist, state, storage } from "./state.js";

// ---------------------------------------------------------------- frames from the server

const handlers = {
  hello: onHello,
  queue: function (f) {
    state.queue = Array.isArray(f.queue) ? f.queue : [];
    renderQueue();
  },
  conversation: function (f) { upsertChat(f.conversation); },
  message: onMessage,
  synced: onSynced,
  typing: onTyping,
  read: onRead,
  "conversation.closed": onClosed,
  status: function (f) {
    if (state.agent) state.agent.status = f.status;
    renderStatus();
    announce(f.status === "online" ? t("status.now_online") : t("status.now_away"));
  },
  "follow_up.classified": onFollowUpClassified,
  "conversation.emailed": function () {
    finishAction();
    showToast(t("email.queued"), "ok");
  },
  "reach_out.sent": function (f) {
    finishAction();
    showToast(t("reach_out.sent", { cart: f.cart_id }), "ok");
  },
  offer: onOffer,
  approvals: function (f) {
    if (state.pendingAction && state.pendingAction.review) finishAction();
    state.approvals = Array.isArray(f.approvals) ? f.approvals : [];
    renderApprovals();
  },
  cart: onCart,
  grant: onGrant,
  error: onError,
  pong: function () {},
};

export function receive(frame) {
  const handler = handlers[frame.type];
  if (handler) handler(frame);
}

function onHello(f) {
  state.connected = true;
  reconnectBackoff.reset();
  state.agent = f.agent;
  setConnection("online", t("connection.online"));
  startHeartbeat();
  state.queue = Array.isArray(f.queue) ? f.queue : [];

  const current = new Set();
  (f.conversations || []).forEach((c) => { current.add(c.id); });
  // Chats this tab knew that are no longer active for us (closed, re-queued or
  // transferred while we were away).
  state.chats.forEach((chat) => {
    if (!current.has(chat.id) && !chat.closed) {
      chat.closed = true;
      chat.closeReason = chat.closeReason || "gone";
    }
  });
  storage.chatKeys().forEach((id) => {
    if (!current.has(id) && !state.chats.has(id)) storage.remove("chat." + id);
  });
  (f.conversations || []).forEach((c) => { upsertChat(c, { quiet: true }); });
  // Resume every open chat from its last seq (a fresh tab starts from 0).
  state.chats.forEach((chat) => {
    if (!chat.closed) requestSync(chat, true);
  });

  if (Array.isArray(f.approvals)) {
    state.approvals = f.approvals;
    renderApprovals();
  } else {
    loadApprovals();
  }

  renderStatus();
  renderQueue();
  renderChats();
  if (state.selectedId === null || !state.chats.has(state.selectedId)) {
    const remembered = storage.get("selected");
    // The agent's own first chat (a supervisor's console also lists the team's).
    const first = orderedChats().find((c) => { return c.meta.agent_id === f.agent.id; });
    if (remembered && state.chats.has(remembered)) selectChat(remembered, { focus: false });
    else if (first) selectChat(first.id, { focus: false });
    else renderChat();
  } else {
    renderChat();
  }
}

function onMessage(f) {
  const chat = state.chats.get(f.conversation_id);
  const m = f.message;
  if (!chat || !m || typeof m.seq !== "number") return;
  const confirmed = m.sender === "agent" && m.client_message_id && removeFromOutbox(chat, m.client_message_id);
  const action = seqAction(chat.lastSeq, m.seq, chat.syncing);
  if (action === "ignore") {
    if (confirmed && chat.id === state.selectedId) renderMessages();
    return; // already shown (a sync overlapping live delivery, or a retry's answer)
  }
  if (action === "sync") requestSync(chat); // fetch everything after the last seq, in order
  if (action !== "apply") return; // the sync's reply carries this message too
  chat.messages.push(m);
  chat.lastSeq = m.seq;
  persist(chat);
  if (m.sender === "visitor") {
    chat.typingUntil = 0;
    announce(t("announce.shopper_message", { id: chat.id, text: m.text.slice(0, 140) }));
    maybeRefreshCart(chat);
  } else if (m.sender === "system") {
    announce(t("announce.system_message", { id: chat.id, text: m.text.slice(0, 140) }));
  }
  if (chat.id === state.selectedId) {
    appendMessage(chat, m);
    renderTyping();
    markRead(chat);
  }
  renderChats();
}

function onSynced(f) {
  const chat = state.chats.get(f.conversation_id);
  if (!chat) return;
  chat.syncing = false;
  persist(chat);
  flushOutbox(chat);
  if (chat.id === state.selectedId) {
    renderMessages();
    markRead(chat);
  }
  renderChats();
}

function onTyping(f) {
  const chat = state.chats.get(f.conversation_id);
  if (!chat || f.sender !== "visitor") return;
  chat.typingUntil = Date.now() + TYPING_SHOW_MS;
  if (chat.id === state.selectedId) renderTyping();
  setTimeout(() => {
    if (chat.id === state.selectedId) renderTyping();
  }, TYPING_SHOW_MS + 50);
}

function onRead(f) {
  const chat = state.chats.get(f.conversation_id);
  if (!chat) return;
  if (f.reader === "visitor") {
    chat.visitorReadSeq = Math.max(chat.visitorReadSeq, f.seq);
    if (chat.id === state.selectedId) renderSeen(chat);
  } else if (f.reader === "agent") {
    chat.agentReadSeq = Math.max(chat.agentReadSeq, f.seq); // read in another tab
    chat.readSent = Math.max(chat.readSent, f.seq);
    renderChats();
  }
}

function onClosed(f) {
  const chat = state.chats.get(f.conversation_id);
  if (!chat) return;
  chat.closed = true;
  chat.closeReason = f.reason;
  chat.meta.status = "closed";
  chat.typingUntil = 0;
  if (state.pendingAction && state.pendingAction.conversationId === chat.id) finishAction();
  announce(t("announce.closed", { id: chat.id, reason: closeReason(f.reason) }));
  renderChats();
  if (chat.id === state.selectedId) renderChat();
}

function onError(f) {
  const ref = f.ref || "";
  const text = f.message || t("error.generic");
  let owner = null;
  state.chats.forEach((chat) => {
    if (!owner && outboxFail(chat.outbox, ref, text)) owner = { chat };
  });
  if (owner) {
    persist(owner.chat);
    if (owner.chat.id === state.selectedId) {
      renderMessages();
      showComposerError(text);
    } else {
      showToast(t("error.message_not_sent", { id: owner.chat.id, error: text }), "error");
    }
    return;
  }
  if (ref === "message.send") {
    showComposerError(text);
    return;
  }
  const action = state.pendingAction;
  if (f.code === "offer_refused" || (action && action.remedies && Date.now() - action.at < PENDING_ACTION_MS)) {
    if (action && action.remedies) finishAction();
    showRemedyError(action && action.conversationId, text);
    return;
  }
  if (action && Date.now() - action.at < PENDING_ACTION_MS) {
    finishAction();
    const classified = action.followUp && state.chats.get(action.conversationId);
    if (classified && classified.meta.follow_up && classified.id === state.selectedId) {
      $("follow-up-reason").value = classified.meta.follow_up.reason; // not saved: show what is
    }
    if (action.errorTarget) {
      const target = $(action.errorTarget);
      if (target && target.closest("dialog") && target.closest("dialog").open) {
        target.textContent = text;
        target.hidden = false;
        return;
      }
    }
    showToast(t("error.action_failed", { action: action.label, error: text }), "error");
    return;
  }
  showToast(text, "error");
}


function onFollowUpClassified(f) {
  const chat = state.chats.get(f.conversation_id);
  if (state.pendingAction && state.pendingAction.conversationId === f.conversation_id) finishAction();
  if (!chat || !f.follow_up) return;
  chat.meta = Object.assign({}, chat.meta, { follow_up: f.follow_up });
  announce(t("announce.follow_up_saved", { reason: label("follow_up_reason", f.follow_up.reason) }));
  if (chat.id === state.selectedId) renderFollowUp(chat);
}


/** A cart changed (ingested events: the order, say): the chats about it show it now, and
 * their remedies are asked for again (a converted cart offers nothing). */
function onCart(f) {
  const ids = Array.isArray(f.conversation_ids) ? f.conversation_ids : [];
  ids.forEach((id) => {
    const chat = state.chats.get(id);
    if (!chat || !f.cart) return;
    const wasConverted = chat.cart && chat.cart.status === "converted";
    chat.cart = Object.assign({}, chat.cart || {}, f.cart);
    chat.currency = f.cart.currency || chat.currency;
    if (f.cart.status === "converted" && !wasConverted) {
      announce(f.cart.order_id
        ? t("announce.order_placed_id", { id: chat.id, order: f.cart.order_id })
        : t("announce.order_placed", { id: chat.id }));
    }
    const converted = f.cart.status === "converted" && !wasConverted;
    if (chat.id === state.selectedId && !state.preview) {
      renderCart(chat.cart, { chat });
      renderChatHead();
      // Nothing is offered once the order is placed; other changes redraw the remedies
      // only if the server's answer (loaded below) differs.
      if (converted) renderRemedies();
    }
    renderChats();
    loadCart(chat, { quiet: true }); // the timeline and history, fresh
    loadRemedies(chat, { quiet: true });
  });
}

/** A grant issued or redeemed for an offer in one of this console's chats. */
function onGrant(f) {
  const grant = f.grant;
  const chat = grant && state.chats.get(grant.conversation_id);
  if (!chat) return;
  const grants = Array.isArray(chat.grants) ? chat.grants.filter((g) => { return g.id !== grant.id; }) : [];
  grants.push(grant);
  chat.grants = grants;
  if (chat.id === state.selectedId && chat.cart && !state.preview) renderCart(chat.cart, { chat });
  loadRemedies(chat, { quiet: true });
}
