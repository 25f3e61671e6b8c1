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
  const before = chat.outbox.length;
  chat.outbox = chat.outbox.filter((e) => { return e.client_message_id !== clientId; });
  if (chat.outbox.length === before) return false;
  persist(chat);
  return true;
}

/** (Re)send what is still in the outbox, oldest first, with the same ids. */
export function flushOutbox(chat) {
  chat.outbox.forEach((entry) => {
    if (entry.state === "failed") return;
    if (send({ type: "message.send", conversation_id: chat.id, client_message_id: entry.client_message_id, text: entry.text })) {
      entry.state = "sent";
    }
  });
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
  const entry = { client_message_id: uuid(), text, state: "queued" };
  chat.outbox.push(entry);
  chat.draft = "";
  box.value = "";
  updateCounter();
  hideComposerError();
  if (send({ type: "message.send", conversation_id: chat.id, client_message_id: entry.client_message_id, text })) {
    entry.state = "sent";
  }
  persist(chat);
  renderMessages();
  renderChats();
  $("messages").scrollTop = $("messages").scrollHeight;
}

export function retry(chat, entry) {
  entry.state = "queued";
  entry.error = "";
  if (send({ type: "message.send", conversation_id: chat.id, client_message_id: entry.client_message_id, text: entry.text })) {
    entry.state = "sent";
  }
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
