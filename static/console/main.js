/*! CartAssist agent console. Plain JavaScript, no dependencies, no build step: native
 * ES modules, loaded by agents/templates/agents/console.html with <script type="module">.
 *
 * Protocol: docs/REALTIME.md ("Console socket"). The page is a server-rendered shell;
 * everything live goes over /ws/console/.
 *
 * Modules, one job each; each imports only the ones below it (no cycle, docs/adr/0014):
 *   ../widget/protocol.js  seq ordering (shared with the widget's chat)     pure
 *   ../widget/i18n.js      language tags, {name} placeholders (shared)      pure
 *   i18n.js                the agent's language: catalogues, t()            pure
 *   format.js              money and times in the agent's locale (Intl)     pure
 *   dom.js                 el(), focus keeping                state.js      config, per-tab storage, chats
 *   feedback.js            connection line, announcements, toasts
 *   connection.js          the socket (resume, back-off, heartbeat), JSON GETs
 *   composer.js            the message box           actions.js   claim, reach out, status
 *   render.js              queue, chat list, the selected chat's messages
 *   cart-panel.js          the cart panel            remedies.js  remedies, offers, approvals
 *   outbox.js              unsent messages           chats.js     open, select, sync, read
 *   frames.js              frames from the server    dialogs.js   replies, transfer, close
 *   shortcuts.js           the keyboard              main.js      this file: wiring, start
 *
 * Rules kept here:
 * - Every visible string goes through t() (i18n.js, static/console/i18n/<lang>.json);
 *   money and times through Intl in the agent's locale (format.js).
 * - Text from the server (messages, cart lines, names) is rendered with textContent /
 *   createElement only, never innerHTML.
 * - Each conversation's messages are applied in seq order, exactly once: a message with
 *   seq <= the last one seen is ignored; a gap triggers a `sync` from the last seq.
 * - The last seq and the messages of each open chat are kept in sessionStorage (per tab),
 *   so a reload or a reconnect resumes with `sync {after_seq}` instead of starting over.
 * - Unsent messages stay in an outbox (also in sessionStorage) and are sent again with the
 *   same client_message_id after a reconnect; the server answers a repeat with the stored
 *   message, so nothing is duplicated.
 */
import { classifyFollowUp, emailShopper, setStatus } from "./actions.js";
import { loadCart, previewCart } from "./cart-panel.js";
import { markRead, removeChat, selectChat } from "./chats.js";
import { updateCounter } from "./composer.js";
import { connect, reconnectBackoff, socketHooks, updateReconnectCountdown } from "./connection.js";
import { filteredReplies, initDialogs, insertReply, openClose, openDialog, openReplies, openTransfer, renderReplies, submitClose, submitTransfer } from "./dialogs.js";
import { $ } from "./dom.js";
import { hideToast } from "./feedback.js";
import { loadCatalogues } from "./i18n.js";
import { discard, onComposerInput, retry, sendMessage } from "./outbox.js";
import { loadRemedies } from "./remedies.js";
import { receive } from "./frames.js";
import { renderComposerState, renderQueue, renderStatus, renderTyping } from "./render.js";
import { onKeyDown } from "./shortcuts.js";
import { act, config, configure, label, persist, selectedChat, state } from "./state.js";

// ---------------------------------------------------------------- start

/** The <select>s the page renders carry stored values; their labels in the agent's language. */
function relabelOptions() {
  document.querySelectorAll("option[data-label-kind]").forEach((option) => {
    if (option.value) option.textContent = label(option.dataset.labelKind, option.value);
  });
}

function start() {
  Object.assign(act, { selectChat, retry, discard, previewCart });
  relabelOptions();
  socketHooks.frame = receive;
  socketHooks.down = function () {
    renderComposerState();
    renderStatus();
  };
  initDialogs();
  document.addEventListener("keydown", onKeyDown);
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      sendMessage();
    }
  });
  $("composer-text").addEventListener("input", onComposerInput);
  $("replies-button").addEventListener("click", openReplies);
  $("replies-filter").addEventListener("input", () => { renderReplies(); });
  $("replies-filter").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      const first = filteredReplies()[0];
      if (first) insertReply(first);
    } else if (event.key === "ArrowDown") {
      const button = $("replies-list").querySelector("button");
      if (button) {
        event.preventDefault();
        button.focus();
      }
    }
  });
  $("replies-list").addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const buttons = Array.prototype.slice.call($("replies-list").querySelectorAll("button"));
    const index = buttons.indexOf(document.activeElement);
    const next = buttons[index + (event.key === "ArrowDown" ? 1 : -1)];
    event.preventDefault();
    if (next) next.focus();
    else if (event.key === "ArrowUp") $("replies-filter").focus();
  });
  $("transfer-button").addEventListener("click", openTransfer);
  $("transfer-form").addEventListener("submit", submitTransfer);
  $("close-button").addEventListener("click", openClose);
  $("close-form").addEventListener("submit", submitClose);
  $("email-button").addEventListener("click", emailShopper);
  $("follow-up-reason").addEventListener("change", classifyFollowUp);
  $("dismiss-button").addEventListener("click", () => {
    if (state.selectedId !== null) removeChat(state.selectedId);
  });
  $("help-button").addEventListener("click", () => { openDialog("help-dialog"); });
  $("toast-close").addEventListener("click", hideToast);
  $("reconnect-now").addEventListener("click", () => {
    reconnectBackoff.reset();
    connect();
  });
  $("cart-refresh").addEventListener("click", () => {
    const chat = selectedChat();
    if (state.preview) previewCart(state.preview.item);
    else if (chat) loadCart(chat);
  });
  $("cart-heading").setAttribute("tabindex", "-1");
  $("remedies-refresh").addEventListener("click", () => {
    const chat = selectedChat();
    if (chat) loadRemedies(chat);
  });
  document.querySelectorAll(".status-toggle button").forEach((button) => {
    button.addEventListener("click", () => { setStatus(button.dataset.status); });
  });
  document.addEventListener("visibilitychange", () => {
    const chat = selectedChat();
    if (chat) markRead(chat);
  });
  window.addEventListener("focus", () => {
    const chat = selectedChat();
    if (chat) markRead(chat);
  });
  window.addEventListener("online", () => {
    if (!state.connected && !state.refused) {
      reconnectBackoff.reset();
      connect();
    }
  });
  window.addEventListener("beforeunload", () => {
    const chat = selectedChat();
    if (chat) {
      chat.draft = $("composer-text").value;
      persist(chat);
    }
  });
  // Relative times ("3 min ago"), the reconnect countdown and the typing indicator.
  setInterval(() => {
    updateReconnectCountdown();
    renderTyping();
  }, 1000);
  setInterval(renderQueue, 30000);
  renderStatus();
  updateCounter();
  connect();
}

const root = document.getElementById("console");
if (root) {
  configure(root);
  // Exposed for the end-to-end test and for debugging in the browser console.
  window.CartAssistConsole = {
    state,
    reconnect: function () {
      if (state.socket) state.socket.close();
    },
  };
  loadCatalogues(config.i18nUrl, document.documentElement.lang || "en").then(start);
}
