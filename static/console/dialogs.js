import { fetchJson, send } from "./connection.js";
import { $, clear, el } from "./dom.js";
import { announce } from "./feedback.js";
import { onComposerInput } from "./outbox.js";
import { config, finishAction, label, selectedChat, startAction } from "./state.js";

// ---------------------------------------------------------------- dialogs

var returnFocus = null;

export function openDialog(id) {
  var dialog = $(id);
  if (dialog.open) return dialog;
  document.querySelectorAll("dialog[open]").forEach(function (d) { d.close(); });
  returnFocus = document.activeElement;
  dialog.showModal();
  return dialog;
}

function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}

export function initDialogs() {
  document.querySelectorAll("dialog").forEach(function (dialog) {
    dialog.addEventListener("close", function () {
      var target = returnFocus;
      returnFocus = null;
      if (target && document.contains(target) && !target.disabled) target.focus();
    });
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close(); // a click on the backdrop
    });
    dialog.querySelectorAll("[data-close]").forEach(function (button) {
      button.addEventListener("click", function () { dialog.close(); });
    });
  });
}

var replies = [];

export function openReplies() {
  var chat = selectedChat();
  if (!chat || chat.closed) return;
  chat.draft = $("composer-text").value;
  var dialog = openDialog("replies-dialog");
  var filter = $("replies-filter");
  filter.value = "";
  replies = [];
  renderReplies("Loading…");
  filter.focus();
  var url = config.savedRepliesUrl + "?stall_reason=" + encodeURIComponent(chat.stallReason || "");
  fetchJson(url).then(function (body) {
    replies = body.saved_replies || [];
    if (dialog.open) renderReplies();
  }).catch(function (error) {
    renderReplies("Could not load saved replies: " + error.message);
  });
}

export function filteredReplies() {
  var q = $("replies-filter").value.trim().toLowerCase();
  return replies.filter(function (r) {
    return !q || r.title.toLowerCase().indexOf(q) !== -1 || r.text.toLowerCase().indexOf(q) !== -1;
  });
}

export function renderReplies(message) {
  var list = $("replies-list");
  var empty = $("replies-empty");
  clear(list);
  var shown = message ? [] : filteredReplies();
  shown.forEach(function (reply) {
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
  var box = $("composer-text");
  closeDialog($("replies-dialog"));
  var start = box.selectionStart;
  var end = box.selectionEnd;
  var before = box.value.slice(0, start);
  var text = (before && !/\s$/.test(before) ? " " : "") + reply.text;
  box.focus();
  box.setRangeText(text, start, end, "end");
  onComposerInput();
  announce("Saved reply “" + reply.title + "” inserted. Edit it, then press Ctrl+Enter to send.");
}

export function openTransfer() {
  var chat = selectedChat();
  if (!chat || chat.closed) return;
  openDialog("transfer-dialog");
  var options = $("transfer-options");
  $("transfer-error").hidden = true;
  clear(options);
  options.appendChild(el("p", { className: "muted" }, "Loading colleagues…"));
  fetchJson(config.agentsUrl).then(function (body) {
    clear(options);
    var colleagues = (body.agents || []).filter(function (a) { return a.id !== chat.meta.agent_id; });
    if (!colleagues.length) {
      options.appendChild(el("p", { className: "muted" }, "No colleagues on this site."));
      return;
    }
    var firstFree = null;
    colleagues.forEach(function (a) {
      var free = a.status === "online" && a.load < a.capacity;
      var why = a.status !== "online" ? a.status : a.load >= a.capacity ? "no free seat" : "online";
      var input = el("input", { type: "radio", name: "transfer-agent", value: String(a.id), id: "transfer-" + a.id, disabled: !free });
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
  }).catch(function (error) {
    clear(options);
    options.appendChild(el("p", { className: "panel-error" }, "Could not load colleagues: " + error.message));
  });
}

export function submitTransfer(event) {
  event.preventDefault();
  var chat = selectedChat();
  var chosen = document.querySelector('input[name="transfer-agent"]:checked');
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
  var chat = selectedChat();
  if (!chat || chat.closed) return;
  openDialog("close-dialog");
  $("close-error").hidden = true;
  $("close-disposition").value = "";
  $("close-disposition").focus();
}

export function submitClose(event) {
  event.preventDefault();
  var chat = selectedChat();
  var disposition = $("close-disposition").value;
  if (!chat) return;
  if (!disposition) {
    $("close-error").textContent = "Choose how the chat ended.";
    $("close-error").hidden = false;
    $("close-disposition").focus();
    return;
  }
  startAction("Closing the chat", { conversationId: chat.id });
  if (!send({ type: "conversation.close", conversation_id: chat.id, disposition: disposition })) {
    finishAction();
    $("close-error").textContent = "Not connected.";
    $("close-error").hidden = false;
    return;
  }
  closeDialog($("close-dialog"));
}
