/*! CartAssist console: the dialogs: saved replies, transfer, close. */

import { fetchJson, send } from "./connection.js";
import { $, clear, el } from "./dom.js";
import { announce } from "./feedback.js";
import { t } from "./i18n.js";
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
  renderReplies(t("replies.loading"));
  filter.focus();
  const url = config.savedRepliesUrl + "?stall_reason=" + encodeURIComponent(chat.stallReason || "");
  fetchJson(url).then((body) => {
    replies = body.saved_replies || [];
    if (dialog.open) renderReplies();
  }).catch((error) => {
    renderReplies(t("replies.load_failed", { error: error.message }));
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
  empty.textContent = message || (replies.length ? t("replies.no_match") : t("replies.none"));
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
  announce(t("replies.inserted", { title: reply.title }));
}

export function openTransfer() {
  const chat = selectedChat();
  if (!chat || chat.closed) return;
  openDialog("transfer-dialog");
  const options = $("transfer-options");
  $("transfer-error").hidden = true;
  clear(options);
  options.appendChild(el("p", { className: "muted" }, t("transfer.loading")));
  fetchJson(config.agentsUrl).then((body) => {
    clear(options);
    const colleagues = (body.agents || []).filter((a) => { return a.id !== chat.meta.agent_id; });
    if (!colleagues.length) {
      options.appendChild(el("p", { className: "muted" }, t("transfer.no_colleagues")));
      return;
    }
    let firstFree = null;
    colleagues.forEach((a) => {
      const free = a.status === "online" && a.load < a.capacity;
      let why = t("transfer.online");
      if (a.status !== "online") why = label("agent_status", a.status);
      else if (a.load >= a.capacity) why = t("transfer.no_seat");
      const input = el("input", { type: "radio", name: "transfer-agent", value: String(a.id), id: "transfer-" + a.id, disabled: !free });
      if (free && !firstFree) firstFree = input;
      options.appendChild(el("div", { className: "option" + (free ? "" : " unavailable") },
        input,
        el("label", { for: "transfer-" + a.id },
          el("span", null, a.display_name),
          el("span", { className: "muted" }, " — " + t("transfer.load", { why, load: a.load, capacity: a.capacity })))));
    });
    if (firstFree) {
      firstFree.checked = true;
      firstFree.focus();
    } else {
      options.appendChild(el("p", { className: "muted" }, t("transfer.nobody")));
    }
  }).catch((error) => {
    clear(options);
    options.appendChild(el("p", { className: "panel-error" }, t("transfer.load_failed", { error: error.message })));
  });
}

export function submitTransfer(event) {
  event.preventDefault();
  const chat = selectedChat();
  const chosen = document.querySelector('input[name="transfer-agent"]:checked');
  if (!chat || !chosen) {
    $("transfer-error").textContent = t("transfer.choose");
    $("transfer-error").hidden = false;
    return;
  }
  startAction(t("action.transfer"), { conversationId: chat.id, errorTarget: "transfer-error" });
  if (!send({ type: "transfer", conversation_id: chat.id, agent_id: Number(chosen.value) })) {
    finishAction();
    $("transfer-error").textContent = t("error.not_connected");
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
    $("close-error").textContent = t("close.choose");
    $("close-error").hidden = false;
    $("close-disposition").focus();
    return;
  }
  startAction(t("action.close"), { conversationId: chat.id });
  if (!send({ type: "conversation.close", conversation_id: chat.id, disposition })) {
    finishAction();
    $("close-error").textContent = t("error.not_connected");
    $("close-error").hidden = false;
    return;
  }
  closeDialog($("close-dialog"));
}
