/*! CartAssist console: sending messages; unsent ones wait in the chat's outbox
 * (protocol.js) and go again, with the same id, after a reconnect. */

import { outboxConfirm, outboxEntry, outboxResendable, outboxRetry } from "../widget/protocol.js";
import { hideComposerError, maxLength, updateCounter } from "./composer.js";
import { send } from "./connection.js";
import { $ } from "./dom.js";
import { renderChats, renderMessages } from "./render.js";
import { TYPING_SEND_MS, persist, selectedChat } from "./state.js";

function uuid() {
  const c = window.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not.
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.prototype.map.call(b, (x) => { return (x + 256).toString(16).slice(1); });
  return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
    "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
}


export function removeFromOutbox(chat, clientId) {
  if (!outboxConfirm(chat.outbox, clientId)) return false;
  persist(chat);
  return true;
}

/** Send an entry now if the socket is up; otherwise flushOutbox() sends it after the next
 * sync. */
function transmit(chat, entry) {
  send({ type: "message.send", conversation_id: chat.id, client_message_id: entry.client_message_id, text: entry.text });
}

/** (Re)send what is still in the outbox, oldest first, with the same ids. */
export function flushOutbox(chat) {
  outboxResendable(chat.outbox).forEach((entry) => { transmit(chat, entry); });
  persist(chat);
}

export function sendMessage() {
  const chat = selectedChat();
  const box = $("composer-text");
  if (!chat || chat.closed) return;
  const text = box.value.trim();
  if (!text) return;
  if (text.length > maxLength()) {
    updateCounter();
    return;
  }
  const entry = outboxEntry(uuid(), text);
  chat.outbox.push(entry);
  chat.draft = "";
  box.value = "";
  updateCounter();
  hideComposerError();
  transmit(chat, entry);
  persist(chat);
  renderMessages();
  renderChats();
  $("messages").scrollTop = $("messages").scrollHeight;
}

export function retry(chat, entry) {
  outboxRetry(entry);
  transmit(chat, entry);
  persist(chat);
  hideComposerError();
  renderMessages();
}

export function discard(chat, entry) {
  removeFromOutbox(chat, entry.client_message_id);
  hideComposerError();
  renderMessages();
  renderChats();
}

export function onComposerInput() {
  const chat = selectedChat();
  updateCounter();
  if (!chat) return;
  chat.draft = $("composer-text").value;
  const now = Date.now();
  if (chat.draft.trim() && now - chat.typingSentAt >= TYPING_SEND_MS) {
    if (send({ type: "typing", conversation_id: chat.id })) chat.typingSentAt = now;
  }
}
