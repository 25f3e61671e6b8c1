/*! CartAssist console: this agent's chats: added, dropped, selected, synced, read. */

import { loadCart, renderCart, renderCartEmpty } from "./cart-panel.js";
import { hideComposerError, updateCounter } from "./composer.js";
import { send } from "./connection.js";
import { $ } from "./dom.js";
import { announce, showToast } from "./feedback.js";
import { t } from "./i18n.js";
import { loadRemedies, renderRemedies } from "./remedies.js";
import { renderChatHead, renderChats, renderComposerState, renderMessages, renderTyping } from "./render.js";
import { config, finishAction, newChat, orderedChats, persist, selectedChat, state, storage } from "./state.js";

// ---------------------------------------------------------------- chats

/** Apply a conversation payload: add it to this agent's chats, update it, or drop it
 * when it left us (transferred, re-queued). */
export function upsertChat(meta, opts) {
  if (!meta || typeof meta.id !== "number") return;
  opts = opts || {};
  let chat = state.chats.get(meta.id);
  const agent = state.agent;
  const mine = agent && (meta.agent_id === agent.id || config.supervisor || agent.is_supervisor);

  if (meta.status === "closed") {
    if (chat) {
      chat.meta = meta;
      chat.closed = true;
      chat.closeReason = meta.close_reason || chat.closeReason;
      renderChats();
      if (chat.id === state.selectedId) renderChat();
    }
    return;
  }
  if (meta.status !== "active" || !mine) {
    if (chat && !chat.closed) {
      const why = meta.status === "queued"
        ? t("chat.requeued", { id: meta.id })
        : t("chat.transferred", { id: meta.id, name: meta.agent_name || t("chat.a_colleague") });
      removeChat(chat.id);
      showToast(why, "ok");
      if (state.pendingAction && state.pendingAction.conversationId === meta.id) finishAction();
    }
    return;
  }
  if (!chat) {
    chat = newChat(meta);
    state.chats.set(chat.id, chat);
    loadCart(chat, { quiet: true });
    loadRemedies(chat, { quiet: true });
    if (!opts.quiet) {
      requestSync(chat, true);
      const claimed = state.claimFocus === meta.id;
      if (claimed) {
        state.claimFocus = null;
        finishAction();
        selectChat(meta.id, { focus: true });
      } else if (agent && meta.agent_id === agent.id) {
        // A colleague's chat (a supervisor's Team list) is neither announced nor opened.
        announce(t("announce.new_chat", { id: meta.id }));
        if (state.selectedId === null) selectChat(meta.id, { focus: false });
      }
    }
  } else {
    chat.meta = meta;
    chat.closed = false;
    chat.visitorReadSeq = Math.max(chat.visitorReadSeq, meta.visitor_read_seq || 0);
    chat.agentReadSeq = Math.max(chat.agentReadSeq, meta.agent_read_seq || 0);
    if (!opts.quiet && chat.lastSeq < (meta.last_seq || 0) && state.connected) requestSync(chat);
  }
  renderChats();
  if (chat.id === state.selectedId) renderChatHead();
}

export function removeChat(id) {
  state.chats.delete(id);
  storage.remove("chat." + id);
  if (state.selectedId === id) {
    state.selectedId = null;
    storage.remove("selected");
    const next = orderedChats()[0];
    if (next) selectChat(next.id, { focus: false });
    else renderChat();
  }
  renderChats();
}

export function requestSync(chat, force) {
  if (chat.syncing && !force) return;
  if (send({ type: "sync", conversation_id: chat.id, after_seq: chat.lastSeq })) chat.syncing = true;
}



export function markRead(chat) {
  if (chat.id !== state.selectedId || document.visibilityState !== "visible") return;
  if (chat.lastSeq > chat.readSent && send({ type: "read", conversation_id: chat.id, seq: chat.lastSeq })) {
    chat.readSent = chat.lastSeq;
    chat.agentReadSeq = Math.max(chat.agentReadSeq, chat.lastSeq);
    renderChats();
  }
}

export function selectChat(id, opts) {
  const chat = state.chats.get(id);
  if (!chat) return;
  const previous = selectedChat();
  if (previous && previous.id !== id) {
    previous.draft = $("composer-text").value;
    persist(previous);
  }
  state.selectedId = id;
  state.preview = null;
  storage.set("selected", id);
  renderChats();
  renderChat();
  if (chat.cart) renderCart(chat.cart, { chat });
  loadCart(chat);
  renderRemedies();
  loadRemedies(chat);
  markRead(chat);
  if (opts && opts.focus) {
    const composer = $("composer-text");
    if (!composer.disabled) composer.focus();
  }
}

export function moveSelection(step) {
  const list = orderedChats();
  if (!list.length) return;
  const index = list.findIndex((c) => { return c.id === state.selectedId; });
  const next = index === -1 ? 0 : (index + step + list.length) % list.length;
  selectChat(list[next].id, { focus: true });
  announce(t("announce.selected", { id: list[next].id }));
}

// ---------------------------------------------------------------- render: the selected chat

export function renderChat() {
  const chat = selectedChat();
  $("chat-empty").hidden = !!chat;
  $("chat").hidden = !chat;
  renderRemedies();
  if (!chat) {
    $("cart-refresh").hidden = !state.preview;
    if (!state.preview) renderCartEmpty();
    return;
  }
  renderChatHead();
  $("composer-text").value = chat.draft || "";
  updateCounter();
  hideComposerError();
  renderMessages();
  renderTyping();
  renderComposerState();
}
