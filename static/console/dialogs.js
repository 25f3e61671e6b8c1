/*! CartAssist console: the dialogs: saved replies, transfer, close. */

import { fetchJson, send } from "./connection.js";
import { $, clear, el } from "./dom.js";
import { announce } from "./feedback.js";
import { onComposerInput } from "./outbox.js";
import { config, finishAction, label, selectedChat, startAction } from "./state.js";

// ---------------------------------------------------------------- dialogs

let returnFocus = null;

export function openDialog(id) {
  const dialog = $(id);
  if (dialog.open) return dialog;
  document.querySelectorAll("dialog[open]").forEach((d) => { d.close(); });
  returnFocus = document.activeElement;
  dialog.showModal();
  return dialog;
}

function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}

export function initDialogs() {
  document.querySelectorAll("dialog").forEach((dialog) => {
    dialog.addEventListener("close", () => {
      const target = returnFocus;
      returnFocus = null;
      if (target && document.contains(target) && !target.disabled) target.focus();
    });
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close(); // a click on the backdrop
    });
    dialog.querySelectorAll("[data-close]").forEach((button) => {
      button.addEventListener("click", () => { dialog.close(); });
    });
  });
}

let replies = [];

export function openReplies() {
  const chat = selectedChat();
  if (!chat || chat.closed) return;
  chat.draft = $("composer-text").value;
  const dialog = openDialog("replies-dialog");
  const filter = $("replies-filter");
  filter.value = "";
  replies = [];
  renderReplies("Loading…");
  filter.focus();
  const url = config.savedRepliesUrl + "?stall_reason=" + encodeURIComponent(chat.stallReason || "");
  fetchJson(url).then((body) => {
    replies = body.saved_replies || [];
    if (dialog.open) renderReplies();
  }).catch((error) => {
    renderReplies("Could not load saved replies: " + error.message);
  });
}

export function filteredReplies() {
  const q = $("replies-filter").value.trim().toLowerCase();
  return replies.filter((r) => {
    return !q || r.title.toLowerCase().indexOf(q) !== -1 || r.text.toLowerCase().indexOf(q) !== -1;
  });
}

export function renderReplies(message) {
  const list = $("replies-list");
  const empty = $("replies-empty");
  clear(list);
  const shown = message ? [] : filteredReplies();
  shown.forEach((reply) => {
    list.appendChild(el("li", null, el("button", {
      type: "button", className: "reply-option",
      onclick: function () { insertReply(reply); },
    },
    el("span", { className: "reply-title" }, reply.title,
      reply.stall_reason ? el("span", { className: "pill" }, label("stall_reason", reply.stall_reason)) : null),
    el("span", { className: "reply-text muted" }, reply.text))));
  });
  empty.hidden = shown.length > 0;
  empty.textContent = message || (replies.length ? "No reply matches the filter." : "No saved replies for this site yet (Admin → Saved replies).");
}

/** Put the reply into the message box at the cursor; the agent edits, then sends. */
export function insertReply(reply) {
  const box = $("composer-text");
  closeDialog($("replies-dialog"));
  const start = box.selectionStart;
  const end = box.selectionEnd;
  const before = box.value.slice(0, start);
  const text = (before && !/\s$/.test(before) ? " " : "") + reply.text;
  box.focus();
  box.setRangeText(text, start, end, "end");
  onComposerInput();
  announce("Saved reply “" + reply.title + "” inserted. Edit it, then press Ctrl+Enter to send.");
}

export function openTransfer() {
  const chat = selectedChat();
  if (!chat || chat.closed) return;
  openDialog("transfer-dialog");
  const options = $("transfer-options");
  $("transfer-error").hidden = true;
  clear(options);
  options.appendChild(el("p", { className: "muted" }, "Loading colleagues…"));
  fetchJson(config.agentsUrl).then((body) => {
    clear(options);
    const colleagues = (body.agents || []).filter((a) => { return a.id !== chat.meta.agent_id; });
    if (!colleagues.length) {
      options.appendChild(el("p", { className: "muted" }, "No colleagues on this site."));
      return;
    }
    let firstFree = null;
    colleagues.forEach((a) => {
      const free = a.status === "online" && a.load < a.capacity;
      const why = a.status !== "online" ? a.status : a.load >= a.capacity ? "no free seat" : "online";
      const input = el("input", { type: "radio", name: "transfer-agent", value: String(a.id), id: "transfer-" + a.id, disabled: !free });
      if (free && !firstFree) firstFree = input;
      options.appendChild(el("div", { className: "option" + (free ? "" : " unavailable") },
        input,
        el("label", { for: "transfer-" + a.id },
          el("span", null, a.display_name),
          el("span", { className: "muted" }, " — " + why + ", " + a.load + "/" + a.capacity + " chats"))));
    });
    if (firstFree) {
      firstFree.checked = true;
      firstFree.focus();
    } else {
      options.appendChild(el("p", { className: "muted" }, "Nobody can take a chat right now."));
    }
  }).catch((error) => {
    clear(options);
    options.appendChild(el("p", { className: "panel-error" }, "Could not load colleagues: " + error.message));
  });
}

export function submitTransfer(event) {
  event.preventDefault();
  const chat = selectedChat();
  const chosen = document.querySelector('input[name="transfer-agent"]:checked');
  if (!chat || !chosen) {
    $("transfer-error").textContent = "Choose a colleague first.";
    $("transfer-error").hidden = false;
    return;
  }
  startAction("Transfer", { conversationId: chat.id, errorTarget: "transfer-error" });
  if (!send({ type: "transfer", conversation_id: chat.id, agent_id: Number(chosen.value) })) {
    finishAction();
    $("transfer-error").textContent = "Not connected.";
    $("transfer-error").hidden = false;
    return;
  }
  closeDialog($("transfer-dialog"));
}

export function openClose() {
  const chat = selectedChat();
  if (!chat || chat.closed) return;
  openDialog("close-dialog");
  $("close-error").hidden = true;
  $("close-disposition").value = "";
  $("close-disposition").focus();
}

export function submitClose(event) {
  event.preventDefault();
  const chat = selectedChat();
  const disposition = $("close-disposition").value;
  if (!chat) return;
  if (!disposition) {
    $("close-error").textContent = "Choose how the chat ended.";
    $("close-error").hidden = false;
    $("close-disposition").focus();
    return;
  }
  startAction("Closing the chat", { conversationId: chat.id });
  if (!send({ type: "conversation.close", conversation_id: chat.id, disposition })) {
    finishAction();
    $("close-error").textContent = "Not connected.";
    $("close-error").hidden = false;
    return;
  }
  closeDialog($("close-dialog"));
}
