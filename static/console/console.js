/*! CartAssist agent console. Plain JavaScript, no dependencies, no build step.
 *
 * Protocol: docs/REALTIME.md ("Console socket"). The page is a server-rendered shell
 * (agents/templates/agents/console.html); everything live goes over /ws/console/.
 *
 * Layout: one closure, small sections with one job each
 *   util → storage → state → socket → frames → chats → render (queue, chats, messages,
 *   cart panel) → actions → dialogs → keyboard → start.
 *
 * Rules kept here:
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
(function (window, document) {
  "use strict";

  /** Where a live message stands against the last seq applied to its chat (pure; tested
   * with node --test, tests/js/): "seen" (at or below it: ignore), "next" (apply it), or
   * "gap" (an unseen seq is missing: ask for it with `sync`, never skip it). */
  function seqStep(lastSeq, seq) {
    if (seq <= lastSeq) return "seen";
    return seq === lastSeq + 1 ? "next" : "gap";
  }
  if (typeof module === "object" && module && module.exports) module.exports.seqStep = seqStep;

  var root = document.getElementById("console");
  if (!root) return;

  var HEARTBEAT_MS = 15000; // the server marks an agent offline after 45 s of silence
  var TYPING_SEND_MS = 2000; // send at most one `typing` per 2 s
  var TYPING_SHOW_MS = 4000; // "Shopper is typing…" lasts 4 s after the last `typing`
  var RECONNECT_BASE_MS = 1000;
  var RECONNECT_MAX_MS = 30000;
  var STORED_MESSAGES = 200; // per chat, in sessionStorage
  var CART_REFRESH_MS = 5000; // at most one automatic cart refresh per chat per 5 s
  var PENDING_ACTION_MS = 10000; // an error within this long answers the last action

  var config = {
    socketPath: root.dataset.socketPath,
    agentId: Number(root.dataset.agentId),
    supervisor: root.dataset.supervisor === "true",
    cartUrl: root.dataset.cartUrl,
    conversationUrl: root.dataset.conversationUrl,
    savedRepliesUrl: root.dataset.savedRepliesUrl,
    agentsUrl: root.dataset.agentsUrl,
    approvalsUrl: root.dataset.approvalsUrl,
    loginUrl: root.dataset.loginUrl,
  };
  var LABELS = JSON.parse(document.getElementById("console-labels").textContent);
  var ABOUT = {
    shipping_shock: "the delivery charge",
    payment_failed: "a failed payment",
    coupon_rejected: "a rejected coupon",
    idle: "a checkout left idle",
  };
  var CLOSE_REASONS = {
    agent: "closed by an agent",
    visitor: "closed by the shopper",
    visitor_timeout: "the shopper left (timed out)",
  };
  var baseTitle = document.title;

  // ---------------------------------------------------------------- util

  function $(id) {
    return document.getElementById(id);
  }

  /** el("li", {className: "x", dataset: {seq: 3}}, "text", childNode…) — text children
   * become text nodes, so nothing passed here is ever parsed as HTML. */
  function el(tag, props) {
    var node = document.createElement(tag);
    var key;
    if (props) {
      for (key in props) {
        if (!Object.prototype.hasOwnProperty.call(props, key)) continue;
        var value = props[key];
        if (value === undefined || value === null || value === false) continue;
        if (key === "dataset") {
          for (var d in value) node.dataset[d] = value[d];
        } else if (key === "className" || key === "textContent" || key === "type" ||
                   key === "disabled" || key === "hidden" || key === "value" ||
                   key === "checked" || key === "name" || key === "id" || key === "title") {
          node[key] = value;
        } else if (key.indexOf("on") === 0) {
          node.addEventListener(key.slice(2), value);
        } else {
          node.setAttribute(key, value === true ? "" : String(value));
        }
      }
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) { append(node, c); });
    } else if (typeof child === "string" || typeof child === "number") {
      node.appendChild(document.createTextNode(String(child)));
    } else {
      node.appendChild(child);
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /** Lists are rebuilt on every change; keep keyboard focus on the same control. */
  function focusedKey(list) {
    var active = document.activeElement;
    return active && list.contains(active) && active.dataset ? active.dataset.focusKey || null : null;
  }

  function restoreFocus(list, key) {
    if (!key) return;
    var match = Array.prototype.find.call(list.querySelectorAll("[data-focus-key]"), function (n) {
      return n.dataset.focusKey === key;
    });
    if (match) match.focus();
  }

  function label(kind, value) {
    var table = LABELS[kind] || {};
    return table[value] || (value ? String(value).replace(/_/g, " ") : "");
  }

  function uuid() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID();
    // randomUUID needs a secure context; getRandomValues does not.
    var b = c.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  // Money arrives as decimal strings ("74.900"). Arithmetic on integer thousandths
  // (BigInt) keeps it exact; nothing here goes through a float.
  function toMilli(amount) {
    var m = /^(-)?(\d+)(?:\.(\d{1,3}))?$/.exec(String(amount === null ? "" : amount).trim());
    if (!m) return null;
    var v = BigInt(m[2]) * 1000n + BigInt((m[3] || "").padEnd(3, "0"));
    return m[1] ? -v : v;
  }

  var fractionDigitsCache = {};
  function fractionDigits(currency) {
    if (!(currency in fractionDigitsCache)) {
      try {
        fractionDigitsCache[currency] = new Intl.NumberFormat("en", {
          style: "currency", currency: currency,
        }).resolvedOptions().maximumFractionDigits;
      } catch (e) {
        fractionDigitsCache[currency] = 2;
      }
    }
    return fractionDigitsCache[currency];
  }

  function formatMilli(milli, currency) {
    if (milli === null) return "—";
    var digits = Math.min(fractionDigits(currency), 3);
    var unit = 10n ** BigInt(3 - digits);
    var negative = milli < 0n;
    var v = negative ? -milli : milli;
    var rounded = (v + unit / 2n) / unit; // half up, in the currency's minor unit
    var scale = 10n ** BigInt(digits);
    var whole = (rounded / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var text = whole + (digits ? "." + (rounded % scale).toString().padStart(digits, "0") : "");
    return (negative ? "−" : "") + text + (currency ? " " + currency : "");
  }

  function money(amount, currency) {
    if (amount === null || amount === undefined || amount === "") return "—";
    var milli = toMilli(amount);
    return milli === null ? String(amount) + " " + (currency || "") : formatMilli(milli, currency);
  }

  var dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  var dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
  var timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

  function parseDate(iso) {
    var d = iso ? new Date(iso) : null;
    return d && !isNaN(d.getTime()) ? d : null;
  }

  function formatTime(iso) {
    var d = parseDate(iso);
    if (!d) return "";
    var today = new Date();
    return d.toDateString() === today.toDateString() ? timeFormat.format(d) : dateTimeFormat.format(d);
  }

  function ago(iso) {
    var d = parseDate(iso);
    if (!d) return "";
    var seconds = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
    if (seconds < 60) return "just now";
    if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.round(seconds / 3600) + " h ago";
    return dateFormat.format(d);
  }

  function timeEl(iso, text) {
    var d = parseDate(iso);
    return el("time", { datetime: iso || "", title: d ? dateTimeFormat.format(d) : "" },
      text === undefined ? formatTime(iso) : text);
  }

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // ---------------------------------------------------------------- storage (sessionStorage, per tab)

  var STORE_PREFIX = "cartassist.console." + config.agentId + ".";

  var storage = {
    get: function (key) {
      try {
        var raw = window.sessionStorage.getItem(STORE_PREFIX + key);
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
      var ids = [];
      try {
        for (var i = 0; i < window.sessionStorage.length; i++) {
          var key = window.sessionStorage.key(i);
          if (key && key.indexOf(STORE_PREFIX + "chat.") === 0) {
            ids.push(Number(key.slice((STORE_PREFIX + "chat.").length)));
          }
        }
      } catch (e) { /* ignore */ }
      return ids;
    },
  };

  // ---------------------------------------------------------------- state

  var state = {
    agent: null,
    queue: [],
    chats: new Map(), // conversation id → chat (below)
    selectedId: null,
    preview: null, // {cartId, item} while a queue item's cart is shown
    socket: null,
    connected: false,
    attempts: 0,
    reconnectTimer: null,
    reconnectAt: 0,
    heartbeatTimer: null,
    refused: false,
    pendingAction: null, // {label, at, conversationId?}
    claimFocus: null, // conversation id to select once its claim is confirmed
    approvals: [], // supervisors: offers waiting for approval
  };

  /** A chat as this tab knows it. */
  function newChat(meta) {
    var saved = storage.get("chat." + meta.id) || {};
    var messages = Array.isArray(saved.messages) ? saved.messages : [];
    var lastSeq = typeof saved.last_seq === "number" ? saved.last_seq : 0;
    if (messages.length && messages[messages.length - 1].seq !== lastSeq) {
      messages = []; // inconsistent copy: start over from the server
      lastSeq = 0;
    }
    return {
      id: meta.id,
      meta: meta,
      messages: messages,
      lastSeq: lastSeq,
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

  function persist(chat) {
    storage.set("chat." + chat.id, {
      last_seq: chat.lastSeq,
      messages: chat.messages.slice(-STORED_MESSAGES),
      outbox: chat.outbox,
      draft: chat.draft,
    });
  }

  function unreadCount(chat) {
    var n = 0;
    chat.messages.forEach(function (m) {
      if (m.sender === "visitor" && m.seq > chat.agentReadSeq) n++;
    });
    return n;
  }

  function orderedChats() {
    return Array.from(state.chats.values()).sort(function (a, b) {
      if (a.closed !== b.closed) return a.closed ? 1 : -1;
      return (a.meta.created_at || "").localeCompare(b.meta.created_at || "") || a.id - b.id;
    });
  }

  function selectedChat() {
    return state.selectedId === null ? null : state.chats.get(state.selectedId) || null;
  }

  // ---------------------------------------------------------------- socket

  function socketUrl() {
    return (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + config.socketPath;
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    if (state.socket && state.socket.readyState <= 1) return;
    setConnection("connecting", "Connecting…");
    var ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.socket = ws;
    ws.onmessage = function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (frame && typeof frame.type === "string") receive(frame);
    };
    ws.onclose = function (event) {
      if (state.socket !== ws) return;
      state.socket = null;
      state.connected = false;
      clearInterval(state.heartbeatTimer);
      state.chats.forEach(function (chat) { chat.syncing = false; });
      renderComposerState();
      renderStatus();
      if (event.code === 4403 || event.code === 4401) {
        state.refused = true;
        setConnection("refused", "Your session has ended or this account may not use the console.");
        showToast("Disconnected: log in again to keep chatting.", "error", { href: config.loginUrl, text: "Log in" });
        return;
      }
      scheduleReconnect();
    };
  }

  /** Exponential back-off with "equal jitter": half the delay fixed, half random, so many
   * consoles that lost the same server do not all come back in the same instant. */
  function scheduleReconnect() {
    if (state.refused) return;
    var ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * Math.pow(2, state.attempts));
    var delay = ceiling / 2 + Math.random() * (ceiling / 2);
    state.attempts += 1;
    state.reconnectAt = Date.now() + delay;
    state.reconnectTimer = setTimeout(connect, delay);
    updateReconnectCountdown();
  }

  function updateReconnectCountdown() {
    if (!state.reconnectTimer) return;
    var seconds = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
    setConnection("offline", "Disconnected — reconnecting in " + seconds + " s");
  }

  function send(frame) {
    var ws = state.socket;
    if (!ws || ws.readyState !== 1 || !state.connected) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  function startHeartbeat() {
    clearInterval(state.heartbeatTimer);
    state.heartbeatTimer = setInterval(function () {
      send({ type: "presence.heartbeat" });
    }, HEARTBEAT_MS);
  }

  function setConnection(kind, text) {
    var node = $("connection");
    node.dataset.state = kind;
    $("connection-text").textContent = text;
    $("reconnect-now").hidden = kind !== "offline";
  }

  // ---------------------------------------------------------------- frames from the server

  var handlers = {
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
      announce("You are " + f.status + ".");
    },
    "follow_up.classified": onFollowUpClassified,
    "reach_out.sent": function (f) {
      finishAction();
      showToast("Invitation sent to the shopper of cart #" + f.cart_id + ". It shows in the queue until they answer.", "ok");
    },
    offer: onOffer,
    approvals: function (f) {
      if (state.pendingAction && state.pendingAction.review) finishAction();
      state.approvals = Array.isArray(f.approvals) ? f.approvals : [];
      renderApprovals();
    },
    error: onError,
    pong: function () {},
  };

  function receive(frame) {
    var handler = handlers[frame.type];
    if (handler) handler(frame);
  }

  function onHello(f) {
    state.connected = true;
    state.attempts = 0;
    state.agent = f.agent;
    setConnection("online", "Connected");
    startHeartbeat();
    state.queue = Array.isArray(f.queue) ? f.queue : [];

    var current = new Set();
    (f.conversations || []).forEach(function (c) { current.add(c.id); });
    // Chats this tab knew that are no longer active for us (closed, re-queued or
    // transferred while we were away).
    state.chats.forEach(function (chat) {
      if (!current.has(chat.id) && !chat.closed) {
        chat.closed = true;
        chat.closeReason = chat.closeReason || "gone";
      }
    });
    storage.chatKeys().forEach(function (id) {
      if (!current.has(id) && !state.chats.has(id)) storage.remove("chat." + id);
    });
    (f.conversations || []).forEach(function (c) { upsertChat(c, { quiet: true }); });
    // Resume every open chat from its last seq (a fresh tab starts from 0).
    state.chats.forEach(function (chat) {
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
      var remembered = storage.get("selected");
      var first = orderedChats()[0];
      if (remembered && state.chats.has(remembered)) selectChat(remembered, { focus: false });
      else if (first) selectChat(first.id, { focus: false });
      else renderChat();
    } else {
      renderChat();
    }
  }

  function onMessage(f) {
    var chat = state.chats.get(f.conversation_id);
    var m = f.message;
    if (!chat || !m || typeof m.seq !== "number") return;
    var confirmed = m.sender === "agent" && m.client_message_id && removeFromOutbox(chat, m.client_message_id);
    var step = seqStep(chat.lastSeq, m.seq);
    if (step === "seen") {
      if (confirmed && chat.id === state.selectedId) renderMessages();
      return; // already shown (a sync overlapping live delivery, or a retry's answer)
    }
    if (step === "gap") {
      requestSync(chat); // fetch everything after the last seq, in order
      return;
    }
    chat.messages.push(m);
    chat.lastSeq = m.seq;
    persist(chat);
    if (m.sender === "visitor") {
      chat.typingUntil = 0;
      announce("New message from the shopper in chat " + chat.id + ": " + m.text.slice(0, 140));
      maybeRefreshCart(chat);
    } else if (m.sender === "system") {
      announce("Chat " + chat.id + ": " + m.text.slice(0, 140));
    }
    if (chat.id === state.selectedId) {
      appendMessage(chat, m);
      renderTyping();
      markRead(chat);
    }
    renderChats();
  }

  function onSynced(f) {
    var chat = state.chats.get(f.conversation_id);
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
    var chat = state.chats.get(f.conversation_id);
    if (!chat || f.sender !== "visitor") return;
    chat.typingUntil = Date.now() + TYPING_SHOW_MS;
    if (chat.id === state.selectedId) renderTyping();
    setTimeout(function () {
      if (chat.id === state.selectedId) renderTyping();
    }, TYPING_SHOW_MS + 50);
  }

  function onRead(f) {
    var chat = state.chats.get(f.conversation_id);
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
    var chat = state.chats.get(f.conversation_id);
    if (!chat) return;
    chat.closed = true;
    chat.closeReason = f.reason;
    chat.meta.status = "closed";
    chat.typingUntil = 0;
    if (state.pendingAction && state.pendingAction.conversationId === chat.id) finishAction();
    announce("Chat " + chat.id + " was " + (CLOSE_REASONS[f.reason] || "closed") + ".");
    renderChats();
    if (chat.id === state.selectedId) renderChat();
  }

  function onError(f) {
    var ref = f.ref || "";
    var text = f.message || "Something went wrong.";
    var owner = null;
    state.chats.forEach(function (chat) {
      chat.outbox.forEach(function (entry) {
        if (entry.client_message_id === ref) owner = { chat: chat, entry: entry };
      });
    });
    if (owner) {
      owner.entry.state = "failed";
      owner.entry.error = text;
      persist(owner.chat);
      if (owner.chat.id === state.selectedId) {
        renderMessages();
        showComposerError(text);
      } else {
        showToast("A message in chat " + owner.chat.id + " was not sent: " + text, "error");
      }
      return;
    }
    if (ref === "message.send") {
      showComposerError(text);
      return;
    }
    var action = state.pendingAction;
    if (f.code === "offer_refused" || (action && action.remedies && Date.now() - action.at < PENDING_ACTION_MS)) {
      if (action && action.remedies) finishAction();
      showRemedyError(action && action.conversationId, text);
      return;
    }
    if (action && Date.now() - action.at < PENDING_ACTION_MS) {
      finishAction();
      var classified = action.followUp && state.chats.get(action.conversationId);
      if (classified && classified.meta.follow_up && classified.id === state.selectedId) {
        $("follow-up-reason").value = classified.meta.follow_up.reason; // not saved: show what is
      }
      if (action.errorTarget) {
        var target = $(action.errorTarget);
        if (target && target.closest("dialog") && target.closest("dialog").open) {
          target.textContent = text;
          target.hidden = false;
          return;
        }
      }
      showToast(action.label + " failed: " + text, "error");
      return;
    }
    showToast(text, "error");
  }

  function startAction(label, extra) {
    state.pendingAction = Object.assign({ label: label, at: Date.now() }, extra || {});
  }

  function finishAction() {
    state.pendingAction = null;
  }

  // ---------------------------------------------------------------- chats

  /** Apply a conversation payload: add it to this agent's chats, update it, or drop it
   * when it left us (transferred, re-queued). */
  function upsertChat(meta, opts) {
    if (!meta || typeof meta.id !== "number") return;
    opts = opts || {};
    var chat = state.chats.get(meta.id);
    var agent = state.agent;
    var mine = agent && (meta.agent_id === agent.id || config.supervisor || agent.is_supervisor);

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
        var why = meta.status === "queued"
          ? "went back to the queue"
          : "was transferred to " + (meta.agent_name || "a colleague");
        removeChat(chat.id);
        showToast("Chat " + meta.id + " " + why + ".", "ok");
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
        var claimed = state.claimFocus === meta.id;
        if (claimed) {
          state.claimFocus = null;
          finishAction();
          selectChat(meta.id, { focus: true });
        } else {
          announce("New chat " + meta.id + " assigned to you.");
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

  function removeChat(id) {
    state.chats.delete(id);
    storage.remove("chat." + id);
    if (state.selectedId === id) {
      state.selectedId = null;
      storage.remove("selected");
      var next = orderedChats()[0];
      if (next) selectChat(next.id, { focus: false });
      else renderChat();
    }
    renderChats();
  }

  function requestSync(chat, force) {
    if (chat.syncing && !force) return;
    if (send({ type: "sync", conversation_id: chat.id, after_seq: chat.lastSeq })) chat.syncing = true;
  }

  function removeFromOutbox(chat, clientId) {
    var before = chat.outbox.length;
    chat.outbox = chat.outbox.filter(function (e) { return e.client_message_id !== clientId; });
    if (chat.outbox.length === before) return false;
    persist(chat);
    return true;
  }

  /** (Re)send what is still in the outbox, oldest first, with the same ids. */
  function flushOutbox(chat) {
    chat.outbox.forEach(function (entry) {
      if (entry.state === "failed") return;
      if (send({ type: "message.send", conversation_id: chat.id, client_message_id: entry.client_message_id, text: entry.text })) {
        entry.state = "sent";
      }
    });
    persist(chat);
  }

  function markRead(chat) {
    if (chat.id !== state.selectedId || document.visibilityState !== "visible") return;
    if (chat.lastSeq > chat.readSent && send({ type: "read", conversation_id: chat.id, seq: chat.lastSeq })) {
      chat.readSent = chat.lastSeq;
      chat.agentReadSeq = Math.max(chat.agentReadSeq, chat.lastSeq);
      renderChats();
    }
  }

  function selectChat(id, opts) {
    var chat = state.chats.get(id);
    if (!chat) return;
    var previous = selectedChat();
    if (previous && previous.id !== id) {
      previous.draft = $("composer-text").value;
      persist(previous);
    }
    state.selectedId = id;
    state.preview = null;
    storage.set("selected", id);
    renderChats();
    renderChat();
    if (chat.cart) renderCart(chat.cart, { chat: chat });
    loadCart(chat);
    renderRemedies();
    loadRemedies(chat);
    markRead(chat);
    if (opts && opts.focus) {
      var composer = $("composer-text");
      if (!composer.disabled) composer.focus();
    }
  }

  function moveSelection(step) {
    var list = orderedChats();
    if (!list.length) return;
    var index = list.findIndex(function (c) { return c.id === state.selectedId; });
    var next = index === -1 ? 0 : (index + step + list.length) % list.length;
    selectChat(list[next].id, { focus: true });
    announce("Chat " + list[next].id + " selected.");
  }

  // ---------------------------------------------------------------- render: status & announcements

  function renderStatus() {
    var agent = state.agent;
    var buttons = document.querySelectorAll(".status-toggle button");
    Array.prototype.forEach.call(buttons, function (b) {
      b.setAttribute("aria-pressed", agent && agent.status === b.dataset.status ? "true" : "false");
      b.disabled = !state.connected;
    });
    if (agent) {
      $("me-name").textContent = agent.display_name;
      var active = orderedChats().filter(function (c) { return !c.closed && c.meta.agent_id === agent.id; }).length;
      $("me-load").textContent = active + " / " + agent.capacity + " chats";
    }
  }

  var announceTimer = null;
  function announce(text) {
    var node = $("announcer");
    clearTimeout(announceTimer);
    node.textContent = "";
    // A fresh text node in a new task so screen readers announce repeats too.
    announceTimer = setTimeout(function () { node.textContent = text; }, 50);
  }

  var toastTimer = null;
  function showToast(text, kind, link) {
    var box = $("toast");
    var p = $("toast-text");
    clear(p);
    append(p, text);
    if (link) {
      append(p, " ");
      append(p, el("a", { href: link.href }, link.text));
    }
    box.dataset.kind = kind || "error";
    box.setAttribute("role", kind === "ok" ? "status" : "alert");
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, kind === "ok" ? 6000 : 15000);
  }

  function hideToast() {
    $("toast").hidden = true;
  }

  function updateTitle() {
    var unread = 0;
    state.chats.forEach(function (c) { unread += unreadCount(c); });
    var waiting = state.queue.filter(function (i) { return i.kind === "chat"; }).length;
    var prefix = unread ? "(" + unread + ") " : "";
    document.title = prefix + (waiting ? "[" + waiting + " waiting] " : "") + baseTitle;
  }

  // ---------------------------------------------------------------- render: queue

  var KIND_LABELS = { chat: "Waiting chat", invitation: "Invited", stalled_cart: "Stalled cart" };

  function queueKey(item) {
    return item.kind + ":" + (item.conversation_id || item.invitation_id || item.cart_id);
  }

  function renderQueue() {
    var list = $("queue-list");
    var focus = focusedKey(list);
    clear(list);
    var items = state.queue;
    items.forEach(function (item, index) {
      var cart = item.cart || {};
      var currency = cart.currency || "";
      var sub = [];
      if (cart.stage) sub.push(label("stage", cart.stage));
      if (item.kind === "chat") sub.push("waiting since " + formatTime(item.waiting_since));
      if (item.kind === "invitation") {
        sub.push((item.status === "delivered" ? "shown " : "sent ") + ago(item.sent_at));
        if (item.agent_name) sub.push("for " + item.agent_name);
      }
      if (item.kind === "stalled_cart") {
        sub.push("not invited: " + label("suppression_reason", item.suppression_reason).toLowerCase());
        sub.push(ago(item.decided_at));
      }
      var key = queueKey(item);
      var actions = el("div", { className: "qi-actions" });
      if (item.kind === "chat") {
        actions.appendChild(el("button", {
          type: "button", className: "button primary small", dataset: { focusKey: key + ":claim" },
          "aria-keyshortcuts": index === firstChatIndex() ? "Alt+C" : null,
          onclick: function () { claim(item.conversation_id); },
        }, "Claim"));
      } else if (item.kind === "stalled_cart") {
        actions.appendChild(el("button", {
          type: "button", className: "button small", dataset: { focusKey: key + ":reach" },
          onclick: function () { reachOut(item.cart_id); },
        }, "Reach out"));
      }
      if (cart.id) {
        actions.appendChild(el("button", {
          type: "button", className: "button subtle small", dataset: { focusKey: key + ":cart" },
          "aria-label": "Show the cart of this " + KIND_LABELS[item.kind].toLowerCase(),
          onclick: function () { previewCart(item); },
        }, "Cart"));
      }
      var selected = state.preview && state.preview.key === queueKey(item);
      list.appendChild(el("li", {
        className: "queue-item kind-" + item.kind + (selected ? " previewing" : ""),
        dataset: { kind: item.kind, key: queueKey(item) },
      },
      el("div", { className: "qi-top" },
        el("span", { className: "kind kind-" + item.kind }, KIND_LABELS[item.kind] || item.kind),
        item.origin === "shopper" ? originPill() : null,
        el("span", { className: "urgency", title: "Urgency (0–100)" }, "urgency " + item.urgency)),
      el("div", { className: "qi-main" },
        el("strong", null, label("stall_reason", item.stall_reason) || "Chat"),
        el("span", { className: "value" }, money(item.cart_value, currency))),
      el("div", { className: "qi-sub muted" }, sub.join(" · ")),
      actions));
    });
    restoreFocus(list, focus);
    $("queue-empty").hidden = items.length > 0;
    $("queue-count").textContent = items.length ? String(items.length) : "";
    updateTitle();
  }

  /** A chat the shopper opened from the widget's launcher, with no invitation. */
  var SHOPPER_STARTED = "Started by the shopper";

  function originPill() {
    return el("span", { className: "pill origin-shopper", dataset: { testid: "origin-shopper" } }, SHOPPER_STARTED);
  }

  function firstChatIndex() {
    for (var i = 0; i < state.queue.length; i++) if (state.queue[i].kind === "chat") return i;
    return -1;
  }

  // ---------------------------------------------------------------- render: chat list

  function renderChats() {
    var list = $("chat-list");
    var focus = focusedKey(list);
    clear(list);
    var chats = orderedChats();
    chats.forEach(function (chat) {
      var unread = unreadCount(chat);
      var last = chat.messages[chat.messages.length - 1];
      var title = "Chat " + chat.id + (chat.stallReason ? " · " + label("stall_reason", chat.stallReason) : "");
      var status = chat.closed ? "closed" : (chat.outbox.length ? "unsent messages" : "");
      var current = chat.id === state.selectedId;
      list.appendChild(el("li", null,
        el("button", {
          type: "button",
          className: "chat-item" + (chat.closed ? " closed" : "") + (unread ? " unread" : ""),
          dataset: { focusKey: "chat:" + chat.id },
          "aria-current": current ? "true" : null,
          "aria-label": title + (unread ? ", " + unread + " unread" : "") + (status ? ", " + status : ""),
          onclick: function () { selectChat(chat.id, { focus: true }); },
        },
        el("span", { className: "ci-top" },
          el("span", { className: "ci-title" }, title),
          unread ? el("span", { className: "badge", "aria-hidden": "true" }, String(unread)) : null),
        el("span", { className: "ci-sub muted" },
          chat.closed ? "Closed" : [
            chat.cart ? money(chat.cart.subtotal, chat.cart.currency) : money(chat.meta.cart_value, ""),
            config.supervisor && chat.meta.agent_name ? " · " + chat.meta.agent_name : "",
          ].join("")),
        last ? el("span", { className: "ci-preview" }, (last.sender === "agent" ? "You: " : "") + last.text) : null)));
    });
    restoreFocus(list, focus);
    var active = chats.filter(function (c) { return !c.closed; }).length;
    $("chat-list-empty").hidden = chats.length > 0;
    $("chat-count").textContent = state.agent ? active + " / " + state.agent.capacity : "";
    renderStatus();
    updateTitle();
  }

  // ---------------------------------------------------------------- render: the selected chat

  function renderChat() {
    var chat = selectedChat();
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

  function renderChatHead() {
    var chat = selectedChat();
    if (!chat) return;
    $("chat-title").textContent = "Chat " + chat.id + (chat.stallReason ? " · " + label("stall_reason", chat.stallReason) : "");
    var meta = [];
    if (chat.meta.origin === "shopper") meta.push(SHOPPER_STARTED);
    if (chat.closed) {
      meta.push(chat.closeReason === "gone" ? "No longer assigned to you" : "Closed — " + (CLOSE_REASONS[chat.closeReason] || "closed"));
    } else {
      meta.push("Started " + formatTime(chat.meta.created_at));
      if (chat.meta.agent_name) meta.push("with " + (chat.meta.agent_id === config.agentId ? "you" : chat.meta.agent_name));
      meta.push("urgency " + chat.meta.urgency);
    }
    $("chat-meta").textContent = meta.join(" · ");
    $("transfer-button").hidden = chat.closed;
    $("close-button").hidden = chat.closed;
    $("dismiss-button").hidden = !chat.closed;
    renderFollowUp(chat);
  }

  // ---------------------------------------------------------------- follow-ups after outreach

  /** "Follow-up after outreach on 23 Nov 2026 about the delivery charge — invitation
   * accepted, offer accepted, converted": the agent recognises a shopper who comes back. */
  function followUpText(followUp) {
    var outreach = followUp.outreach;
    if (!outreach) return "Follow-up contact after outreach.";
    var when = parseDate(outreach.decided_at);
    var date = when ? dateFormat.format(when) : "an earlier visit";
    var about = ABOUT[outreach.stall_reason] || label("stall_reason", outreach.stall_reason).toLowerCase();
    if (outreach.decision === "held_out") {
      return "Came back after a stall on " + date + " about " + about + " (control group: not contacted).";
    }
    var happened = [];
    if (outreach.invitation_result) happened.push("invitation " + label("invitation_result", outreach.invitation_result).toLowerCase());
    if (outreach.offer_accepted) happened.push("offer accepted");
    happened.push(outreach.converted ? "converted" : "not converted");
    return "Follow-up after outreach on " + date + " about " + about + " — " + happened.join(", ") + ".";
  }

  function renderFollowUp(chat) {
    var box = $("chat-follow-up");
    var followUp = chat && chat.meta.follow_up;
    box.hidden = !followUp;
    if (!followUp) return;
    $("follow-up-text").textContent = followUpText(followUp);
    var select = $("follow-up-reason");
    if (document.activeElement !== select) select.value = followUp.reason;
  }

  function classifyFollowUp() {
    var chat = selectedChat();
    var reason = $("follow-up-reason").value;
    if (!chat || !chat.meta.follow_up || reason === chat.meta.follow_up.reason) return;
    startAction("Classifying the follow-up", { conversationId: chat.id, followUp: true });
    if (!send({ type: "follow_up.classify", conversation_id: chat.id, reason: reason })) {
      finishAction();
      $("follow-up-reason").value = chat.meta.follow_up.reason;
      showToast("Not connected: the follow-up reason was not saved.", "error");
    }
  }

  function onFollowUpClassified(f) {
    var chat = state.chats.get(f.conversation_id);
    if (state.pendingAction && state.pendingAction.conversationId === f.conversation_id) finishAction();
    if (!chat || !f.follow_up) return;
    chat.meta = Object.assign({}, chat.meta, { follow_up: f.follow_up });
    announce("Follow-up reason saved: " + label("follow_up_reason", f.follow_up.reason) + ".");
    if (chat.id === state.selectedId) renderFollowUp(chat);
  }

  function renderComposerState() {
    var chat = selectedChat();
    var disabled = !chat || chat.closed;
    $("composer-text").disabled = disabled;
    $("send-button").disabled = disabled || overLimit();
    $("replies-button").disabled = disabled;
    $("composer-hint").textContent = chat && chat.closed
      ? "This chat is closed."
      : state.connected ? "Ctrl+Enter to send" : "Offline: messages are sent when the connection is back.";
  }

  function messageNode(m) {
    var cls = "msg msg-" + m.sender;
    var author = m.sender === "visitor" ? "Shopper" : m.author_name || (m.sender === "agent" ? "Agent" : "CartAssist");
    return el("li", { className: cls, dataset: { seq: m.seq } },
      el("div", { className: "msg-meta" },
        el("span", { className: "author" }, author),
        timeEl(m.created_at)),
      el("div", { className: "msg-text" }, m.text));
  }

  function pendingNode(chat, entry) {
    var failed = entry.state === "failed";
    return el("li", { className: "msg msg-agent pending" + (failed ? " failed" : ""), dataset: { clientId: entry.client_message_id } },
      el("div", { className: "msg-meta" },
        el("span", { className: "author" }, "You"),
        el("span", null, failed ? "Not sent" : state.connected ? "Sending…" : "Waiting for the connection…")),
      el("div", { className: "msg-text" }, entry.text),
      failed ? el("div", { className: "msg-failed" },
        el("span", null, entry.error || "Not sent."),
        el("button", { type: "button", className: "linklike", onclick: function () { retry(chat, entry); } }, "Retry"),
        el("button", { type: "button", className: "linklike", onclick: function () { discard(chat, entry); } }, "Discard"))
        : null);
  }

  function nearBottom(list) {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function renderMessages() {
    var chat = selectedChat();
    var list = $("messages");
    if (!chat) return;
    var stick = nearBottom(list) || list.dataset.chat !== String(chat.id);
    clear(list);
    list.dataset.chat = String(chat.id);
    if (!chat.messages.length && !chat.outbox.length) {
      list.appendChild(el("li", { className: "msg-empty muted" }, chat.syncing ? "Loading messages…" : "No messages yet."));
    }
    chat.messages.forEach(function (m) { list.appendChild(messageNode(m)); });
    chat.outbox.forEach(function (entry) { list.appendChild(pendingNode(chat, entry)); });
    renderSeen(chat);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function appendMessage(chat, m) {
    var list = $("messages");
    var stick = nearBottom(list);
    var empty = list.querySelector(".msg-empty");
    if (empty) empty.remove();
    Array.prototype.forEach.call(list.querySelectorAll("li.pending"), function (n) {
      if (n.dataset.clientId === m.client_message_id) n.remove(); // now confirmed, with its seq
    });
    var pending = list.querySelector("li.pending");
    var node = messageNode(m);
    if (pending) list.insertBefore(node, pending);
    else list.appendChild(node);
    renderSeen(chat);
    if (stick || m.sender === "agent") list.scrollTop = list.scrollHeight;
  }

  /** "Seen" under the newest agent message the shopper has read. */
  function renderSeen(chat) {
    var list = $("messages");
    Array.prototype.forEach.call(list.querySelectorAll(".seen"), function (n) { n.remove(); });
    var target = null;
    chat.messages.forEach(function (m) {
      if (m.sender === "agent" && m.seq <= chat.visitorReadSeq) target = m;
    });
    if (!target) return;
    var node = list.querySelector('li[data-seq="' + target.seq + '"]');
    if (node) node.appendChild(el("div", { className: "seen", "aria-label": "Seen by the shopper" }, "Seen"));
  }

  function renderTyping() {
    var chat = selectedChat();
    $("typing").hidden = !(chat && !chat.closed && chat.typingUntil > Date.now());
  }

  // ---------------------------------------------------------------- composer

  function maxLength() {
    return Number($("composer").dataset.maxLength) || 2000;
  }

  function overLimit() {
    return $("composer-text").value.trim().length > maxLength();
  }

  function updateCounter() {
    var length = $("composer-text").value.trim().length;
    var counter = $("composer-count");
    counter.textContent = length + " / " + maxLength();
    counter.classList.toggle("over", length > maxLength());
    $("send-button").disabled = $("composer-text").disabled || length > maxLength();
    if (length > maxLength()) {
      showComposerError("Messages are limited to " + maxLength() + " characters (" + (length - maxLength()) + " too many).");
    } else if ($("composer-error").dataset.kind === "length") {
      hideComposerError();
    }
  }

  function showComposerError(text) {
    var node = $("composer-error");
    node.textContent = text;
    node.dataset.kind = /limited to/.test(text) ? "length" : "server";
    node.hidden = false;
  }

  function hideComposerError() {
    var node = $("composer-error");
    node.hidden = true;
    node.textContent = "";
    node.dataset.kind = "";
  }

  function sendMessage() {
    var chat = selectedChat();
    var box = $("composer-text");
    if (!chat || chat.closed) return;
    var text = box.value.trim();
    if (!text) return;
    if (text.length > maxLength()) {
      updateCounter();
      return;
    }
    var entry = { client_message_id: uuid(), text: text, state: "queued" };
    chat.outbox.push(entry);
    chat.draft = "";
    box.value = "";
    updateCounter();
    hideComposerError();
    if (send({ type: "message.send", conversation_id: chat.id, client_message_id: entry.client_message_id, text: text })) {
      entry.state = "sent";
    }
    persist(chat);
    renderMessages();
    renderChats();
    $("messages").scrollTop = $("messages").scrollHeight;
  }

  function retry(chat, entry) {
    entry.state = "queued";
    entry.error = "";
    if (send({ type: "message.send", conversation_id: chat.id, client_message_id: entry.client_message_id, text: entry.text })) {
      entry.state = "sent";
    }
    persist(chat);
    hideComposerError();
    renderMessages();
  }

  function discard(chat, entry) {
    removeFromOutbox(chat, entry.client_message_id);
    hideComposerError();
    renderMessages();
    renderChats();
  }

  function onComposerInput() {
    var chat = selectedChat();
    updateCounter();
    if (!chat) return;
    chat.draft = $("composer-text").value;
    var now = Date.now();
    if (chat.draft.trim() && now - chat.typingSentAt >= TYPING_SEND_MS) {
      if (send({ type: "typing", conversation_id: chat.id })) chat.typingSentAt = now;
    }
  }

  // ---------------------------------------------------------------- cart panel

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) {
          var error = new Error(body.detail || "The server answered " + r.status + ".");
          error.status = r.status;
          throw error;
        }
        return body;
      });
    });
  }

  function loadCart(chat, opts) {
    opts = opts || {};
    chat.cartLoadedAt = Date.now();
    var panel = $("cart-panel");
    if (!opts.quiet && chat.id === state.selectedId) panel.setAttribute("aria-busy", "true");
    return fetchJson(config.conversationUrl + chat.id + "/cart").then(function (cart) {
      chat.cart = cart;
      chat.stallReason = cart.stall_reason || chat.stallReason;
      chat.currency = cart.currency || chat.currency;
      renderChats();
      if (chat.id === state.selectedId && !state.preview) {
        renderCart(cart, { chat: chat });
        renderChatHead();
      }
    }).catch(function (error) {
      if (chat.id === state.selectedId && !state.preview && !opts.quiet) {
        renderCartError(error.status === 404 ? "This chat has no cart (or is no longer yours)." : error.message);
      }
    }).then(function () {
      panel.setAttribute("aria-busy", "false");
    });
  }

  function maybeRefreshCart(chat) {
    if (Date.now() - chat.cartLoadedAt > CART_REFRESH_MS) loadCart(chat, { quiet: true });
  }

  function previewCart(item) {
    var cartId = item.cart && item.cart.id;
    if (!cartId) return;
    state.preview = { key: queueKey(item), item: item, cartId: cartId };
    renderQueue();
    $("cart-refresh").hidden = false;
    var panel = $("cart-panel");
    panel.setAttribute("aria-busy", "true");
    fetchJson(config.cartUrl + cartId).then(function (cart) {
      if (!state.preview || state.preview.cartId !== cartId) return;
      renderCart(cart, { item: item });
    }).catch(function (error) {
      renderCartError(error.message);
    }).then(function () {
      panel.setAttribute("aria-busy", "false");
      $("cart-heading").focus();
    });
  }

  function renderCartEmpty() {
    var panel = $("cart-panel");
    clear(panel);
    panel.appendChild(el("p", { className: "empty-note" }, "Select a chat or a queue item to see its cart."));
  }

  function renderCartError(text) {
    var panel = $("cart-panel");
    clear(panel);
    panel.appendChild(el("p", { className: "panel-error", role: "alert" }, text));
  }

  function describeEvent(event, currency) {
    var d = event.data || {};
    switch (event.type) {
      case "cart_updated":
        var lines = Array.isArray(d.lines) ? d.lines.length : 0;
        return lines + (lines === 1 ? " line" : " lines") + ", subtotal " + money(d.subtotal, d.currency || currency);
      case "checkout_step":
        return "reached " + label("stage", d.step).toLowerCase();
      case "shipping_quoted":
        return money(d.fee, d.currency || currency) + (d.method ? " (" + d.method + ")" : "");
      case "payment_failed":
        return d.reason ? String(d.reason).replace(/_/g, " ") : "";
      case "coupon_rejected":
        return d.code ? "code " + d.code : "";
      case "order_completed":
        return (d.order_id ? "order " + d.order_id + ", " : "") + money(d.total, d.currency || currency);
      default:
        return "";
    }
  }

  function earlierText(entry) {
    var when = parseDate(entry.decided_at);
    var date = when ? dateFormat.format(when) : "an earlier visit";
    var about = ABOUT[entry.stall_reason] || label("stall_reason", entry.stall_reason).toLowerCase();
    if (entry.decision === "invited") {
      var outcome = entry.invitation_status ? " — " + label("invitation_status", entry.invitation_status).toLowerCase() : "";
      return "Reached out on " + date + " about " + about + outcome;
    }
    var why = entry.decision === "held_out" ? "held out (control group)" : "not contacted";
    return "Stalled on " + date + " over " + about + ", " + why;
  }

  function dl(rows) {
    var list = el("dl", { className: "facts" });
    rows.forEach(function (row) {
      if (!row || row[1] === "" || row[1] === null || row[1] === undefined) return;
      list.appendChild(el("dt", null, row[0]));
      list.appendChild(el("dd", null, row[1]));
    });
    return list;
  }

  function renderCart(cart, context) {
    var panel = $("cart-panel");
    var currency = cart.currency || "";
    clear(panel);
    $("cart-refresh").hidden = false;

    var earlier = Array.isArray(cart.earlier_interventions) ? cart.earlier_interventions : [];
    var reachedBefore = earlier.filter(function (e) { return e.decision === "invited"; });
    if (reachedBefore.length) {
      panel.appendChild(el("div", { className: "returning", role: "note" },
        el("strong", null, "Returning shopper. "),
        earlierText(reachedBefore[0]) + "."));
    }
    if (context && context.item) {
      var item = context.item;
      panel.appendChild(el("p", { className: "preview-note muted" },
        "Preview from the queue: " + KIND_LABELS[item.kind].toLowerCase() + "."));
      if (item.kind === "stalled_cart") {
        panel.appendChild(el("button", {
          type: "button", className: "button primary small",
          onclick: function () { reachOut(item.cart_id); },
        }, "Reach out to this shopper"));
      }
    }

    panel.appendChild(el("h3", { className: "cart-title" },
      "Cart " + (cart.external_id || "#" + cart.id),
      cart.status ? el("span", { className: "pill status-" + cart.status }, cart.status) : null));

    panel.appendChild(dl([
      ["Stall reason", label("stall_reason", cart.stall_reason)],
      ["Stage", label("stage", cart.stage)],
      ["Last activity", cart.last_activity_at ? ago(cart.last_activity_at) : ""],
      ["Customer", cart.customer_id ? cart.customer_id + " (verified)" : "Guest"],
      ["Totals", cart.totals_trusted ? "From the shop's server" : "Reported by the browser"],
    ]));

    var lines = Array.isArray(cart.lines) ? cart.lines : [];
    var table = el("table", { className: "lines" },
      el("caption", { className: "visually-hidden" }, "Cart lines"),
      el("thead", null, el("tr", null,
        el("th", { scope: "col" }, "Item"),
        el("th", { scope: "col", className: "num" }, "Qty"),
        el("th", { scope: "col", className: "num" }, "Price"),
        el("th", { scope: "col", className: "num" }, "Total"))));
    var body = el("tbody");
    lines.forEach(function (line) {
      var unit = toMilli(line.unit_price);
      var quantity = Number.isInteger(line.quantity) ? line.quantity : null;
      var total = unit !== null && quantity !== null ? unit * BigInt(quantity) : null;
      body.appendChild(el("tr", null,
        el("td", null, el("span", { className: "line-name" }, line.name || line.sku || "Item"),
          line.sku && line.name ? el("span", { className: "muted sku" }, line.sku) : null),
        el("td", { className: "num" }, quantity === null ? "" : String(quantity)),
        el("td", { className: "num" }, unit === null ? "" : formatMilli(unit, "")),
        el("td", { className: "num" }, total === null ? "" : formatMilli(total, ""))));
    });
    if (!lines.length) body.appendChild(el("tr", null, el("td", { colspan: "4", className: "muted" }, "No lines reported.")));
    table.appendChild(body);
    panel.appendChild(table);

    var subtotal = toMilli(cart.subtotal);
    var fee = cart.shipping_fee === null || cart.shipping_fee === undefined ? null : toMilli(cart.shipping_fee);
    var totals = el("dl", { className: "totals" },
      el("dt", null, "Subtotal"), el("dd", null, formatMilli(subtotal, currency)),
      el("dt", null, "Delivery" + (cart.shipping_method ? " (" + cart.shipping_method + ")" : "")),
      el("dd", { className: fee !== null && subtotal !== null && subtotal > 0n && fee * 5n >= subtotal ? "high-fee" : "" },
        fee === null ? "not quoted yet" : formatMilli(fee, currency)));
    if (subtotal !== null) {
      totals.appendChild(el("dt", { className: "grand" }, "Total"));
      totals.appendChild(el("dd", { className: "grand" }, formatMilli(subtotal + (fee || 0n), currency)));
    }
    panel.appendChild(totals);

    var timeline = Array.isArray(cart.timeline) ? cart.timeline : [];
    panel.appendChild(el("h4", null, "Timeline"));
    var ol = el("ol", { className: "timeline" });
    timeline.forEach(function (event) {
      ol.appendChild(el("li", { className: event.applied === false ? "not-applied" : "" },
        timeEl(event.occurred_at),
        el("span", { className: "ev-type" }, label("event_type", event.type)),
        el("span", { className: "ev-detail muted" }, describeEvent(event, currency)),
        event.applied === false ? el("span", { className: "muted" }, " (arrived late, not applied)") : null));
    });
    if (!timeline.length) ol.appendChild(el("li", { className: "muted" }, "No events."));
    panel.appendChild(ol);

    panel.appendChild(el("h4", null, "Earlier with this shopper"));
    if (earlier.length) {
      var ul = el("ul", { className: "earlier" });
      earlier.forEach(function (entry) { ul.appendChild(el("li", null, earlierText(entry))); });
      panel.appendChild(ul);
    } else {
      panel.appendChild(el("p", { className: "muted" }, "First time we have stepped in for this shopper."));
    }
  }

  // ---------------------------------------------------------------- remedies & offers

  // What the agent may offer in the selected chat (GET …/remedies): each remedy allowed
  // with its bound and policy, or not allowed with the reason. The server decides every
  // offer again (offer.create); what is checked here only saves a round trip.

  var OFFER_STATUS = {
    pending_approval: "Waiting for a supervisor's approval",
    offered: "Offered — waiting for the shopper",
    accepted: "Accepted by the shopper",
    declined: "Declined by the shopper",
    denied: "Denied by a supervisor",
    expired: "Expired",
    refused_on_accept: "Refused at acceptance",
  };

  function loadRemedies(chat, opts) {
    opts = opts || {};
    if (chat.closed) return Promise.resolve();
    var panel = $("remedies-panel");
    if (!opts.quiet && chat.id === state.selectedId) panel.setAttribute("aria-busy", "true");
    return fetchJson(config.conversationUrl + chat.id + "/remedies").then(function (body) {
      chat.remedies = body;
      if (chat.id === state.selectedId) renderRemedies();
    }).catch(function (error) {
      if (chat.id === state.selectedId && !opts.quiet) {
        showRemedyError(chat.id, "Could not load what you can offer: " + error.message);
      }
    }).then(function () {
      panel.setAttribute("aria-busy", "false");
    });
  }

  function onOffer(f) {
    var offer = f.offer;
    if (!offer || typeof offer.id !== "number") return;
    var chat = state.chats.get(offer.conversation_id);
    var action = state.pendingAction;
    if (action && action.remedies && action.conversationId === offer.conversation_id) {
      finishAction();
      if (chat) chat.remedyError = "";
    }
    if (!chat) return;
    if (chat.remedies) {
      var offers = Array.isArray(chat.remedies.offers) ? chat.remedies.offers : [];
      var index = offers.findIndex(function (o) { return o.id === offer.id; });
      if (index === -1) offers.push(offer);
      else offers[index] = offer;
      chat.remedies.offers = offers;
    }
    if (offer.status === "accepted") announce("The shopper accepted the offer in chat " + chat.id + ".");
    else if (offer.status === "declined") announce("The shopper declined the offer in chat " + chat.id + ".");
    if (chat.id === state.selectedId) renderRemedies();
    loadRemedies(chat, { quiet: true }); // budgets and caps moved: fetch fresh bounds
  }

  function showRemedyError(conversationId, text) {
    var chat = (conversationId && state.chats.get(conversationId)) || selectedChat();
    if (!chat) {
      showToast(text, "error");
      return;
    }
    chat.remedyError = text;
    if (chat.id === state.selectedId) renderRemedyError(chat);
    else showToast("Offer in chat " + chat.id + " refused: " + text, "error");
  }

  function renderRemedyError(chat) {
    var node = $("remedies-error");
    node.textContent = chat && chat.remedyError ? chat.remedyError : "";
    node.hidden = !(chat && chat.remedyError);
  }

  /** "9.900" → "9.90" (EUR): the bound, cut (never rounded up) to the currency's digits. */
  function plainAmount(amount, currency) {
    var milli = toMilli(amount);
    if (milli === null) return "";
    var digits = Math.min(fractionDigits(currency), 3);
    var unit = 10n ** BigInt(3 - digits);
    var minor = milli / unit;
    var scale = 10n ** BigInt(digits);
    return (minor / scale).toString() + (digits ? "." + (minor % scale).toString().padStart(digits, "0") : "");
  }

  /** A positive decimal string with at most the currency's digits, within the bound;
   * returns an error text or "". */
  function amountProblem(text, remedy) {
    var digits = Math.min(fractionDigits(remedy.currency), 3);
    var pattern = digits ? new RegExp("^\\d{1,9}(\\.\\d{1," + digits + "})?$") : /^\d{1,9}$/;
    if (!pattern.test(text)) {
      return "Enter an amount like " + plainAmount(remedy.bound, remedy.currency) + " (digits" +
        (digits ? ", a point and up to " + digits + " decimals" : "") + ").";
    }
    var milli = toMilli(text);
    if (milli <= 0n) return "The amount must be above zero.";
    return "";
  }

  function isMonetary(remedy) {
    return remedy.bound !== null && remedy.bound !== undefined && remedy.kind !== "free_gift";
  }

  function makeOffer(chat, remedy, input) {
    var frame = { type: "offer.create", conversation_id: chat.id, kind: remedy.kind };
    if (input) {
      var text = input.value.trim();
      var problem = amountProblem(text, remedy);
      if (problem) {
        showRemedyError(chat.id, problem);
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      input.removeAttribute("aria-invalid");
      frame.amount = text;
    }
    chat.remedyError = "";
    delete chat.amountDrafts[remedy.kind];
    renderRemedyError(chat);
    startAction("Offer", { conversationId: chat.id, remedies: true });
    if (!send(frame)) {
      finishAction();
      showRemedyError(chat.id, "Not connected: try again when the console is back online.");
    }
  }

  function remedyNode(chat, remedy) {
    var key = "remedy:" + remedy.kind;
    if (!remedy.allowed) {
      return el("li", { className: "remedy not-allowed", dataset: { kind: remedy.kind }, "aria-disabled": "true" },
        el("div", { className: "remedy-head" },
          el("span", { className: "remedy-label" }, remedy.label),
          el("span", { className: "pill" }, "not allowed")),
        el("p", { className: "remedy-reason" }, remedy.explanation || "Not allowed here."));
    }
    var facts = [];
    if (remedy.bound !== null && remedy.bound !== undefined) {
      facts.push(remedy.kind === "free_gift"
        ? "Gift worth " + money(remedy.bound, remedy.currency) + (remedy.gift_sku ? " (" + remedy.gift_sku + ")" : "")
        : "Up to " + money(remedy.bound, remedy.currency));
    }
    if (remedy.kind === "hold_stock" && remedy.hold_hours) facts.push("for " + remedy.hold_hours + " hours");
    if (remedy.exclusive) facts.push("exclusive: no other remedy on this cart");
    var inputId = "remedy-amount-" + chat.id + "-" + remedy.kind;
    var input = isMonetary(remedy)
      ? el("input", {
        id: inputId, type: "text", inputmode: "decimal", autocomplete: "off", className: "remedy-amount",
        value: remedy.kind in chat.amountDrafts ? chat.amountDrafts[remedy.kind] : plainAmount(remedy.bound, remedy.currency),
        dataset: { focusKey: key + ":amount" },
        "aria-describedby": "remedies-error",
        oninput: function (event) { chat.amountDrafts[remedy.kind] = event.target.value; },
      })
      : null;
    var button = el("button", {
      type: "submit", className: "button primary small", dataset: { focusKey: key + ":offer" },
      disabled: chat.closed || !state.connected,
    }, "Offer");
    var form = el("form", {
      className: "remedy-form", novalidate: true,
      onsubmit: function (event) {
        event.preventDefault();
        makeOffer(chat, remedy, input);
      },
    },
    input ? el("label", { for: inputId, className: "visually-hidden" }, remedy.label + ": amount in " + remedy.currency) : null,
    input,
    input ? el("span", { className: "muted" }, remedy.currency) : null,
    button);
    return el("li", { className: "remedy allowed", dataset: { kind: remedy.kind } },
      el("div", { className: "remedy-head" },
        el("span", { className: "remedy-label" }, remedy.label),
        el("span", { className: "remedy-bound" }, facts.join(" · "))),
      el("p", { className: "remedy-policy muted" }, "Policy “" + (remedy.policy_name || "") + "”" +
        (remedy.approval_above ? " · needs approval above " + money(remedy.approval_above, remedy.currency) : "")),
      form);
  }

  function offerNode(offer) {
    return el("li", { className: "offer status-" + offer.status, dataset: { offerId: offer.id, status: offer.status } },
      el("div", { className: "remedy-head" },
        el("span", { className: "remedy-label" }, offer.description || offer.label),
        el("span", { className: "pill offer-status" }, OFFER_STATUS[offer.status] || offer.status)),
      el("p", { className: "muted" },
        "Total " + offer.total_before + " → " + offer.total_after +
        (offer.status === "offered" || offer.status === "pending_approval" ? " · until " + formatTime(offer.expires_at) : "")),
      offer.refusal_reason ? el("p", { className: "remedy-reason" }, offer.refusal_reason) : null);
  }

  function renderRemedies() {
    var chat = selectedChat();
    var section = $("remedies");
    var panel = $("remedies-panel");
    section.hidden = !chat;
    if (!chat) return;
    var focus = focusedKey(panel);
    clear(panel);
    renderRemedyError(chat);
    var data = chat.remedies;
    if (!data) {
      panel.appendChild(el("p", { className: "empty-note" }, chat.closed ? "This chat is closed." : "Loading…"));
      return;
    }
    if (data.flagged_for_farming) {
      panel.appendChild(el("p", { className: "farming-flag", role: "note", dataset: { testid: "farming-flag" } },
        el("strong", null, "Careful: "), "This shopper abandoned many carts recently."));
    }
    var remedies = Array.isArray(data.remedies) ? data.remedies : [];
    var allowed = remedies.filter(function (r) { return r.allowed; });
    var refused = remedies.filter(function (r) { return !r.allowed; });
    if (chat.closed) {
      panel.appendChild(el("p", { className: "empty-note" }, "This chat is closed: no new offers."));
    } else {
      var list = el("ul", { className: "list remedy-list", "aria-label": "Remedies you may offer" });
      allowed.forEach(function (r) { list.appendChild(remedyNode(chat, r)); });
      if (!allowed.length) list.appendChild(el("li", { className: "empty-note" }, "No remedy is allowed for this cart right now."));
      panel.appendChild(list);
      if (refused.length) {
        var no = el("ul", { className: "list remedy-list refused", "aria-label": "Remedies not allowed" });
        refused.forEach(function (r) { no.appendChild(remedyNode(chat, r)); });
        panel.appendChild(no);
      }
    }
    var offers = Array.isArray(data.offers) ? data.offers : [];
    if (offers.length) {
      panel.appendChild(el("h4", null, "Offers in this chat"));
      var ol = el("ol", { className: "list offer-list" });
      offers.forEach(function (o) { ol.appendChild(offerNode(o)); });
      panel.appendChild(ol);
    }
    restoreFocus(panel, focus);
  }

  function focusRemedies() {
    var section = $("remedies");
    if (section.hidden) return;
    var first = section.querySelector(".remedy.allowed input, .remedy.allowed button");
    (first || section).focus();
  }

  // ---------------------------------------------------------------- approvals (supervisors)

  function loadApprovals() {
    if (!config.supervisor || !config.approvalsUrl) return;
    fetchJson(config.approvalsUrl).then(function (body) {
      state.approvals = Array.isArray(body.approvals) ? body.approvals : [];
      renderApprovals();
    }).catch(function () { /* the next `approvals` frame brings them */ });
  }

  function review(offer, approve) {
    startAction(approve ? "Approving the offer" : "Denying the offer", { review: true });
    if (!send({ type: approve ? "offer.approve" : "offer.deny", offer_id: offer.id })) {
      finishAction();
      showToast("Not connected.", "error");
    }
  }

  function renderApprovals() {
    var list = $("approvals-list");
    if (!list) return;
    var focus = focusedKey(list);
    clear(list);
    state.approvals.forEach(function (offer) {
      list.appendChild(el("li", { className: "approval", dataset: { offerId: offer.id } },
        el("div", { className: "remedy-head" },
          el("span", { className: "remedy-label" }, offer.description || offer.label),
          el("span", { className: "muted" }, "chat " + offer.conversation_id)),
        el("p", { className: "muted" },
          (offer.agent_name || "An agent") + " · policy “" + (offer.policy_name || "") + "” v" + offer.policy_version +
          " · cart " + (offer.cart_external_id || "") + " · total " + offer.total_before + " → " + offer.total_after),
        el("div", { className: "qi-actions" },
          el("button", {
            type: "button", className: "button primary small", dataset: { focusKey: "approve:" + offer.id },
            onclick: function () { review(offer, true); },
          }, "Approve"),
          el("button", {
            type: "button", className: "button small", dataset: { focusKey: "deny:" + offer.id },
            onclick: function () { review(offer, false); },
          }, "Deny"))));
    });
    restoreFocus(list, focus);
    $("approvals-empty").hidden = state.approvals.length > 0;
    $("approvals-count").textContent = state.approvals.length ? String(state.approvals.length) : "";
  }

  // ---------------------------------------------------------------- actions

  function claim(conversationId) {
    state.claimFocus = conversationId;
    startAction("Claim", { conversationId: conversationId });
    if (!send({ type: "queue.claim", conversation_id: conversationId })) {
      finishAction();
      showToast("Not connected: try again when the console is back online.", "error");
    }
  }

  function claimTop() {
    var index = firstChatIndex();
    if (index === -1) {
      announce("No chat is waiting in the queue.");
      showToast("No chat is waiting in the queue.", "ok");
      return;
    }
    claim(state.queue[index].conversation_id);
  }

  function reachOut(cartId) {
    startAction("Reach out");
    if (!send({ type: "reach_out", cart_id: cartId })) {
      finishAction();
      showToast("Not connected: try again when the console is back online.", "error");
    }
  }

  function setStatus(status) {
    if (!send({ type: "status.set", status: status })) {
      showToast("Not connected.", "error");
    }
  }

  function toggleStatus() {
    setStatus(state.agent && state.agent.status === "online" ? "away" : "online");
  }

  // ---------------------------------------------------------------- dialogs

  var returnFocus = null;

  function openDialog(id) {
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

  var replies = [];

  function openReplies() {
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

  function filteredReplies() {
    var q = $("replies-filter").value.trim().toLowerCase();
    return replies.filter(function (r) {
      return !q || r.title.toLowerCase().indexOf(q) !== -1 || r.text.toLowerCase().indexOf(q) !== -1;
    });
  }

  function renderReplies(message) {
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
  function insertReply(reply) {
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

  function openTransfer() {
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

  function submitTransfer(event) {
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

  function openClose() {
    var chat = selectedChat();
    if (!chat || chat.closed) return;
    openDialog("close-dialog");
    $("close-error").hidden = true;
    $("close-disposition").value = "";
    $("close-disposition").focus();
  }

  function submitClose(event) {
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

  // ---------------------------------------------------------------- keyboard

  function onKeyDown(event) {
    var code = event.code;
    if (event.altKey && !event.ctrlKey && !event.metaKey) {
      // event.code, not event.key: on a Mac, Alt+J types "∆".
      var action = {
        KeyJ: function () { moveSelection(1); },
        KeyK: function () { moveSelection(-1); },
        KeyC: claimTop,
        KeyR: openReplies,
        KeyT: openTransfer,
        KeyX: openClose,
        KeyS: toggleStatus,
        KeyO: focusRemedies,
        KeyM: function () {
          var box = $("composer-text");
          if (!box.disabled && !$("chat").hidden) box.focus();
        },
      }[code];
      if (action) {
        event.preventDefault();
        action();
      }
      return;
    }
    if (event.key === "Escape" && !$("toast").hidden && !document.querySelector("dialog[open]")) {
      hideToast();
      return;
    }
    if (event.key === "?" && !isTyping(event.target) && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      openDialog("help-dialog");
    }
  }

  // ---------------------------------------------------------------- start

  function start() {
    document.addEventListener("keydown", onKeyDown);
    $("composer").addEventListener("submit", function (event) {
      event.preventDefault();
      sendMessage();
    });
    $("composer-text").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        sendMessage();
      }
    });
    $("composer-text").addEventListener("input", onComposerInput);
    $("replies-button").addEventListener("click", openReplies);
    $("replies-filter").addEventListener("input", function () { renderReplies(); });
    $("replies-filter").addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        var first = filteredReplies()[0];
        if (first) insertReply(first);
      } else if (event.key === "ArrowDown") {
        var button = $("replies-list").querySelector("button");
        if (button) {
          event.preventDefault();
          button.focus();
        }
      }
    });
    $("replies-list").addEventListener("keydown", function (event) {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
      var buttons = Array.prototype.slice.call($("replies-list").querySelectorAll("button"));
      var index = buttons.indexOf(document.activeElement);
      var next = buttons[index + (event.key === "ArrowDown" ? 1 : -1)];
      event.preventDefault();
      if (next) next.focus();
      else if (event.key === "ArrowUp") $("replies-filter").focus();
    });
    $("transfer-button").addEventListener("click", openTransfer);
    $("transfer-form").addEventListener("submit", submitTransfer);
    $("close-button").addEventListener("click", openClose);
    $("close-form").addEventListener("submit", submitClose);
    $("follow-up-reason").addEventListener("change", classifyFollowUp);
    $("dismiss-button").addEventListener("click", function () {
      if (state.selectedId !== null) removeChat(state.selectedId);
    });
    $("help-button").addEventListener("click", function () { openDialog("help-dialog"); });
    $("toast-close").addEventListener("click", hideToast);
    $("reconnect-now").addEventListener("click", function () {
      state.attempts = 0;
      connect();
    });
    $("cart-refresh").addEventListener("click", function () {
      var chat = selectedChat();
      if (state.preview) previewCart(state.preview.item);
      else if (chat) loadCart(chat);
    });
    $("cart-heading").setAttribute("tabindex", "-1");
    $("remedies-refresh").addEventListener("click", function () {
      var chat = selectedChat();
      if (chat) loadRemedies(chat);
    });
    document.querySelectorAll(".status-toggle button").forEach(function (button) {
      button.addEventListener("click", function () { setStatus(button.dataset.status); });
    });
    document.addEventListener("visibilitychange", function () {
      var chat = selectedChat();
      if (chat) markRead(chat);
    });
    window.addEventListener("focus", function () {
      var chat = selectedChat();
      if (chat) markRead(chat);
    });
    window.addEventListener("online", function () {
      if (!state.connected && !state.refused) {
        state.attempts = 0;
        connect();
      }
    });
    window.addEventListener("beforeunload", function () {
      var chat = selectedChat();
      if (chat) {
        chat.draft = $("composer-text").value;
        persist(chat);
      }
    });
    // Relative times ("3 min ago"), the reconnect countdown and the typing indicator.
    setInterval(function () {
      updateReconnectCountdown();
      renderTyping();
    }, 1000);
    setInterval(renderQueue, 30000);
    renderStatus();
    updateCounter();
    connect();
  }

  // Exposed for the end-to-end test and for debugging in the browser console.
  window.CartAssistConsole = {
    state: state,
    reconnect: function () {
      if (state.socket) state.socket.close();
    },
  };

  start();
})(window, document);
