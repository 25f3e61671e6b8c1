/*! CartAssist console: its configuration (read from the page), the per-tab storage, and
 * what this tab knows: the agent, the queue, the chats. */

import { has, t } from "./i18n.js";

export const HEARTBEAT_MS = 15000; // the server marks an agent offline after 45 s of silence
export const TYPING_SEND_MS = 2000; // send at most one `typing` per 2 s
export const TYPING_SHOW_MS = 4000; // "Shopper is typing…" lasts 4 s after the last `typing`
export const RECONNECT_BASE_MS = 1000;
export const RECONNECT_MAX_MS = 30000;
const STORED_MESSAGES = 200; // per chat, in sessionStorage
export const CART_REFRESH_MS = 5000; // at most one automatic cart refresh per chat per 5 s
export const PENDING_ACTION_MS = 10000; // an error within this long answers the last action

export const config = {};
let LABELS = {};
export let baseTitle = "";
let STORE_PREFIX = "";

/** Read the page: the console's data- attributes, its labels and title (main.js, once). */
export function configure(root) {
  Object.assign(config, {
    socketPath: root.dataset.socketPath,
    agentId: Number(root.dataset.agentId),
    supervisor: root.dataset.supervisor === "true",
    cartUrl: root.dataset.cartUrl,
    conversationUrl: root.dataset.conversationUrl,
    savedRepliesUrl: root.dataset.savedRepliesUrl,
    agentsUrl: root.dataset.agentsUrl,
    approvalsUrl: root.dataset.approvalsUrl,
    loginUrl: root.dataset.loginUrl,
    i18nUrl: root.dataset.i18nUrl,
  });
  LABELS = JSON.parse(document.getElementById("console-labels").textContent);
  baseTitle = document.title;
  STORE_PREFIX = "cartassist.console." + config.agentId + ".";
}

/** What the views call when the agent clicks, filled in by main.js: the modules that
 * render import none of the modules that call them, so the graph has no cycle. */
export const act = {};

/** "about the delivery charge": what a stall was about, in a sentence. */
export function about(reason) {
  const key = "about." + reason;
  return has(key) ? t(key) : label("stall_reason", reason).toLowerCase();
}

/** How a chat ended, in a sentence. */
export function closeReason(reason) {
  const key = "close_reason." + reason;
  return has(key) ? t(key) : t("chat.closed");
}

/** A stored value's label in the agent's language (i18n/<lang>.json "<kind>.<value>"),
 * else the server's label, else the value itself in words. */
export function label(kind, value) {
  if (!value) return "";
  const key = kind + "." + value;
  if (has(key)) return t(key);
  const table = LABELS[kind] || {};
  return table[value] || String(value).replace(/_/g, " ");
}

// ---------------------------------------------------------------- storage (sessionStorage, per tab)

export const storage = {
  get: function (key) {
    try {
      const raw = window.sessionStorage.getItem(STORE_PREFIX + key);
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null;
    }
  },
  set: function (key, value) {
    try {
      window.sessionStorage.setItem(STORE_PREFIX + key, JSON.stringify(value));
    } catch (e) {
      /* quota or privacy mode: the in-memory copy still works */
    }
  },
  remove: function (key) {
    try {
      window.sessionStorage.removeItem(STORE_PREFIX + key);
    } catch (e) { /* ignore */ }
  },
  chatKeys: function () {
    const ids = [];
    try {
      for (let i = 0; i < window.sessionStorage.length; i++) {
        const key = window.sessionStorage.key(i);
        if (key && key.indexOf(STORE_PREFIX + "chat.") === 0) {
          ids.push(Number(key.slice((STORE_PREFIX + "chat.").length)));
        }
      }
    } catch (e) { /* ignore */ }
    return ids;
  },
};

// ---------------------------------------------------------------- state

export const state = {
  agent: null,
  queue: [],
  chats: new Map(), // conversation id → chat (below)
  selectedId: null,
  preview: null, // {cartId, item} while a queue item's cart is shown
  socket: null,
  connected: false,
  reconnectTimer: null,
  reconnectAt: 0,
  heartbeatTimer: null,
  refused: false,
  pendingAction: null, // {label, at, conversationId?}
  claimFocus: null, // conversation id to select once its claim is confirmed
  approvals: [], // supervisors: offers waiting for approval
};

/** A chat as this tab knows it. */
export function newChat(meta) {
  const saved = storage.get("chat." + meta.id) || {};
  let messages = Array.isArray(saved.messages) ? saved.messages : [];
  let lastSeq = typeof saved.last_seq === "number" ? saved.last_seq : 0;
  if (messages.length && messages[messages.length - 1].seq !== lastSeq) {
    messages = []; // inconsistent copy: start over from the server
    lastSeq = 0;
  }
  return {
    id: meta.id,
    meta,
    messages,
    lastSeq,
    outbox: Array.isArray(saved.outbox) ? saved.outbox : [],
    draft: typeof saved.draft === "string" ? saved.draft : "",
    visitorReadSeq: meta.visitor_read_seq || 0,
    agentReadSeq: meta.agent_read_seq || 0,
    readSent: meta.agent_read_seq || 0,
    syncing: false,
    typingUntil: 0,
    typingSentAt: 0,
    closed: meta.status === "closed",
    closeReason: meta.close_reason || "",
    cart: null,
    cartLoadedAt: 0,
    remedies: null, // the remedies panel: {remedies, offers, flagged_for_farming, …}
    remedyError: "",
    amountDrafts: {}, // remedy kind → what the agent typed (kept across re-renders)
    stallReason: "",
    currency: "",
  };
}

export function persist(chat) {
  storage.set("chat." + chat.id, {
    last_seq: chat.lastSeq,
    messages: chat.messages.slice(-STORED_MESSAGES),
    outbox: chat.outbox,
    draft: chat.draft,
  });
}

export function unreadCount(chat) {
  let n = 0;
  chat.messages.forEach((m) => {
    if (m.sender === "visitor" && m.seq > chat.agentReadSeq) n++;
  });
  return n;
}

export function orderedChats() {
  return Array.from(state.chats.values()).sort((a, b) => {
    if (a.closed !== b.closed) return a.closed ? 1 : -1;
    return (a.meta.created_at || "").localeCompare(b.meta.created_at || "") || a.id - b.id;
  });
}

/** The agent's own chats and the team's (a supervisor follows every chat of the site):
 * only the agent's own open chats count against their capacity. Pure. */
export function splitChats(chats, agentId) {
  const mine = [];
  const team = [];
  chats.forEach((chat) => {
    const owner = chat.meta.agent_id;
    (owner && owner !== agentId ? team : mine).push(chat);
  });
  return { mine, team, load: mine.filter((c) => { return !c.closed && c.meta.agent_id === agentId; }).length };
}

export function selectedChat() {
  return state.selectedId === null ? null : state.chats.get(state.selectedId) || null;
}

export function startAction(label, extra) {
  state.pendingAction = Object.assign({ label, at: Date.now() }, extra || {});
}

export function finishAction() {
  state.pendingAction = null;
}

export function firstChatIndex() {
  for (let i = 0; i < state.queue.length; i++) if (state.queue[i].kind === "chat") return i;
  return -1;
}
