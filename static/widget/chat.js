/*! CartAssist storefront widget: the shopper's live chat. No dependencies, no build step.
 *
 * An ES module, imported by cartassist.js (same folder) once the core has initialised;
 * reaches the core through CartAssist.onReady(fn). Wire protocol: docs/REALTIME.md.
 * Shop-facing events and options: docs/WIDGET.md ("Live chat").
 *
 * Modules: protocol.js (seq order, back-off, outbox; shared with the console) →
 * chat-ui.js (the Shadow DOM) → chat.js: the tab's storage, the visitor token, the
 * socket (connect, back-off, ping), then frames ↔ state ↔ ui.
 *
 * Every piece of text from the server is put into the page with textContent, never as
 * HTML: messages, invitation copy, agent names, offer labels.
 */
import { Backoff, outboxConfirm, outboxEntry, outboxFail, outboxResendable, outboxRetry, seqAction } from "./protocol.js";
import { MAX_LENGTH, buildUi } from "./chat-ui.js";
import { formatMoney, isRtl, languageTag, loadCatalogues, localeFor, pickLanguage, shopLanguages, shopMessagesFor, translator } from "./i18n.js";

const TYPING_SEND_MS = 3000; // send "typing" at most this often
const TYPING_SHOW_MS = 5000; // hide the agent's indicator after this without news
const MAX_CACHED_MESSAGES = 200;
const MAX_LAUNCHER_LABEL = 40;

/**
 * Before anything is shown: the visitor's session (token, the site's branding and the
 * language the server chose), then the catalogues for the widget's language
 * (docs/LOCALISATION.md). Without a session (offline) the widget still starts, in the
 * page's language with the default look, and connects when it can.
 */
function start(core) {
  const options = core.options();
  if (!chatEnabled(options.chat)) return;
  const siteKey = core.siteKey();
  const apiBase = core.apiBase();
  const requested = languageTag(options.language || document.documentElement.getAttribute("lang"));
  const store = createStore(siteKey);
  const session = createSession(core, store, siteKey, apiBase, requested);
  session
    .token()
    .catch((error) => {
      if (error && (error.status === 403 || error.status === 400)) throw error;
      return null; // offline or the server is down: start anyway, connect later
    })
    .then(
      (saved) => {
        const language = pickLanguage(requested, saved && saved.language, shopLanguages(options.messages));
        return loadCatalogues(language, shopMessagesFor(options.messages, language)).then((catalogues) => {
          run(core, store, session, {
            t: translator(catalogues),
            language,
            locale: localeFor(language, requested),
            dir: isRtl(language) ? "rtl" : "ltr",
            site: (saved && saved.site) || {},
            keepVisible: keepVisibleOption(options.keepVisible),
          });
        });
      },
      (error) => {
        core.warn("chat off: the site key or this page's origin was refused (HTTP " + error.status + ").");
      }
    )
    .catch((error) => {
      core.warn("the live chat could not start:", error);
    });
}

function run(core, store, session, env) {
  const options = core.options();
  const apiBase = core.apiBase();
  const t = env.t;

  // ------------------------------------------------------------ socket
  // One WebSocket; reconnects with exponential back-off and jitter; a 4401 close
  // (token expired) fetches a new token; a 4403 (origin not allowed) stops.
  const socket = createSocket(core, session, apiBase);

  // ------------------------------------------------------------ ui
  const ui = buildUi(env);

  // ------------------------------------------------------------ chat state
  const state = {
    conversation: store.get("conversation"), // {id, status, agent_name, last_seq, ...}
    lastSeq: store.get("last_seq") || 0,
    messages: store.get("messages") || [],
    outbox: store.get("outbox") || [],
    offers: store.get("offers") || {},
    readSent: 0,
    agentReadSeq: 0,
    invitation: null,
    dismissed: store.get("dismissed") || [],
    synced: false,
    typingSentAt: 0,
    typingTimer: null,
    announcedOffers: {},
    starting: false, // chat.start sent (or waiting for the socket), no conversation yet
  };
  if (!state.conversation || typeof state.conversation.id !== "number" || isClosed()) {
    clearConversation(); // a chat that ended on an earlier page is not shown again
  }
  state.agentReadSeq = (state.conversation && state.conversation.agent_read_seq) || 0;

  function persist() {
    store.set("conversation", state.conversation);
    store.set("last_seq", state.lastSeq);
    store.set("messages", state.messages.slice(-MAX_CACHED_MESSAGES));
    store.set("outbox", state.outbox);
    store.set("offers", state.offers);
  }

  function clearConversation() {
    state.conversation = null;
    state.lastSeq = 0;
    state.messages = [];
    state.outbox = [];
    state.offers = {};
    state.readSent = 0;
    state.agentReadSeq = 0;
    ["conversation", "last_seq", "messages", "outbox", "offers"].forEach(store.remove);
  }

  function currentId() {
    return state.conversation ? state.conversation.id : null;
  }

  function isClosed() {
    return !!state.conversation && state.conversation.status === "closed";
  }

  // ------------------------------------------------------------ frames in
  const receive = {
    hello: onHello,
    invitation: function (f) {
      showInvitation(f.invitation);
    },
    "invitation.dismissed": function () {},
    conversation: function (f) {
      setConversation(f.conversation);
    },
    message: onMessage,
    synced: onSynced,
    typing: function (f) {
      if (f.conversation_id !== currentId() || f.sender === "visitor") return;
      ui.typing(t("chat.typing", { name: agentName() }));
      window.clearTimeout(state.typingTimer);
      state.typingTimer = window.setTimeout(() => {
        ui.typing(null);
      }, TYPING_SHOW_MS);
    },
    read: function (f) {
      if (f.conversation_id !== currentId() || f.reader !== "agent") return;
      state.agentReadSeq = Math.max(state.agentReadSeq, f.seq);
      renderMessages();
    },
    "conversation.closed": function (f) {
      if (f.conversation_id !== currentId()) return;
      closeLocally(f.reason);
    },
    offer: function (f) {
      onOffer(f.offer);
    },
    grant: function (f) {
      onGrant(f.grant);
    },
    error: onError,
    pong: function () {},
  };

  function onHello(f) {
    const open = Array.isArray(f.conversations) ? f.conversations : [];
    let mine = null;
    open.forEach((c) => {
      if (c.id === currentId()) mine = c;
    });
    if (!mine && open.length) {
      // A conversation opened in another tab or before this tab's storage: adopt it.
      if (state.conversation) clearConversation();
      mine = open[0];
    }
    if (mine) {
      setConversation(mine, { quiet: true });
    } else if (state.conversation) {
      // Closed (here, or while we were away: timed out, closed by the agent): forget it.
      clearConversation();
      ui.hideChat();
    }
    (f.offers || []).forEach(onOffer);
    (f.grants || []).forEach(onGrant);
    const pending = (f.invitations || []).filter((i) => {
      return state.dismissed.indexOf(i.id) === -1;
    });
    if (!state.conversation && pending.length && !state.starting) showInvitation(pending[pending.length - 1]);
    else if (state.invitation && !pending.length) ui.hideInvitation();
    render();
    if (state.starting && !state.conversation) sendStart();
  }

  function setConversation(meta, opts) {
    if (!meta || typeof meta.id !== "number") return;
    const fresh = meta.id !== currentId();
    if (fresh) {
      clearConversation();
      state.conversation = meta;
      state.invitation = null;
      ui.hideInvitation();
    } else {
      state.conversation = meta;
    }
    state.agentReadSeq = Math.max(state.agentReadSeq, meta.agent_read_seq || 0);
    if (meta.status === "closed") {
      closeLocally(meta.close_reason || "closed");
      return;
    }
    persist();
    ui.showChat();
    if (fresh || (opts && opts.quiet)) sync();
    render();
    if (state.starting) {
      state.starting = false;
      ui.focusComposer();
      core.emit("chat-started", { conversation: meta });
    }
  }

  function sync() {
    if (!state.conversation || isClosed()) return;
    state.synced = false;
    socket.send({ type: "sync", conversation_id: state.conversation.id, after_seq: state.lastSeq });
  }

  function onMessage(f) {
    if (f.conversation_id !== currentId() || !f.message) return;
    const m = f.message;
    const action = seqAction(state.lastSeq, m.seq, !state.synced);
    if (action === "ignore") {
      dropFromOutbox(m.client_message_id);
      return;
    }
    if (action === "sync") sync(); // fetch everything after the last seq, in order
    if (action !== "apply") return; // the sync's reply carries this message too
    state.messages.push(m);
    state.lastSeq = m.seq;
    if (m.sender === "visitor") dropFromOutbox(m.client_message_id);
    else {
      ui.typing(null);
      ui.announce(t("message.announce", { name: authorOf(m).name, text: m.text }));
    }
    persist();
    renderMessages();
    markRead();
  }

  function onSynced(f) {
    if (f.conversation_id !== currentId()) return;
    state.synced = true;
    if (typeof f.last_seq === "number" && f.last_seq < state.lastSeq) {
      // The server knows fewer messages than our cache (another database?): trust it.
      state.messages = state.messages.filter((m) => {
        return m.seq <= f.last_seq;
      });
      state.lastSeq = f.last_seq;
    }
    flushOutbox();
    persist();
    renderMessages();
    markRead();
  }

  function onError(f) {
    if (f.ref === "chat.start" && state.starting) {
      state.starting = false;
      ui.starting(f.code === "rate_limited" ? t("start.rate_limited") : t("start.failed"));
      ui.error(errorText(f));
      return;
    }
    const error = f.code === "too_long" ? t("outbox.too_long") : errorText(f, t("outbox.not_sent_reason"));
    if (outboxFail(state.outbox, f.ref, error)) {
      persist();
      renderMessages();
    }
    if (f.code === "closed" && state.conversation) {
      closeLocally("closed");
      return;
    }
    if (f.code === "not_found" && (f.ref === "sync" || f.ref === "message.send") && state.conversation) {
      clearConversation(); // not ours any more (a new visitor id on this browser)
      ui.hideChat();
      return;
    }
    ui.error(f.code === "too_long" ? t("error.too_long") : errorText(f));
  }

  /** The server's error in the shopper's language where the widget knows the code. */
  function errorText(f, fallback) {
    const known = {
      rate_limited: t("error.rate_limited"),
      closed: t("error.closed"),
      not_found: t("error.not_found"),
      too_long: t("error.too_long"),
    };
    return known[f.code] || f.message || fallback || t("error.generic");
  }

  function closeLocally(reason) {
    const wasOpen = state.conversation && state.conversation.status !== "closed";
    state.conversation.status = "closed";
    state.conversation.close_reason = reason;
    state.outbox = [];
    persist();
    ui.typing(null);
    render();
    if (wasOpen) {
      ui.announce(t("status.ended"));
      core.emit("chat-closed", { conversation_id: state.conversation.id, reason });
    }
  }

  // ------------------------------------------------------------ invitations
  function showInvitation(invitation) {
    if (!invitation || typeof invitation.id !== "number") return;
    if (state.dismissed.indexOf(invitation.id) !== -1) return;
    if (state.conversation && !isClosed()) return; // already chatting
    if (state.starting) return; // the shopper is opening a chat of their own
    if (core.isOptedOut()) return;
    if (state.invitation && state.invitation.id === invitation.id) return;
    state.invitation = invitation;
    const agent = agentOf(invitation);
    ui.showInvitation(invitation, agent, verifyUrl(invitation.verify_url), {
      accept: function () {
        acceptInvitation(invitation);
      },
      dismiss: function () {
        dismissInvitation(invitation);
      },
    });
    ui.announce(agent.name ? t("invite.announce", { headline: invitation.headline || "", name: agent.name }) : invitation.headline || "");
    core.emit("invitation-shown", { invitation });
  }

  function acceptInvitation(invitation) {
    if (!socket.send({ type: "invitation.accept", invitation_id: invitation.id })) {
      ui.error(t("error.not_connected"));
      return;
    }
    ui.hideInvitation();
    state.invitation = null;
    ui.showChat();
    ui.focusComposer();
    core.emit("invitation-accepted", { invitation });
  }

  function dismissInvitation(invitation) {
    socket.send({ type: "invitation.dismiss", invitation_id: invitation.id });
    state.dismissed.push(invitation.id);
    store.set("dismissed", state.dismissed.slice(-50));
    state.invitation = null;
    ui.hideInvitation();
    if (!state.conversation) ui.hideChat();
    core.emit("invitation-dismissed", { invitation });
  }

  function verifyUrl(path) {
    const base = core.trimSlash(options.verifyBase || apiBase);
    if (!path) return null;
    if (/^https?:\/\//i.test(path)) return path;
    return base + (path.charAt(0) === "/" ? "" : "/") + path;
  }

  // ------------------------------------------------------------ shopper-started chat
  // The launcher ("Chat with us", off unless the shop enables it) opens the panel and
  // sends chat.start; the server answers with the conversation, as after
  // invitation.accept (an open conversation of this shopper is returned as it is).
  function startChat() {
    if (state.conversation && !isClosed()) {
      ui.showChat();
      ui.focusComposer();
      return;
    }
    if (state.conversation) clearConversation(); // an ended chat: start afresh
    if (state.invitation) {
      ui.hideInvitation();
      state.invitation = null;
    }
    state.starting = true;
    ui.error(null);
    ui.starting(t("status.starting"));
    ui.announce(t("status.starting"));
    if (socket.isOpen()) sendStart();
    else socket.connect(); // hello, then sendStart()
  }

  function sendStart() {
    const frame = { type: "chat.start" };
    if (core.hasCart()) frame.cart_id = core.cartId();
    socket.send(frame);
  }

  if (launcherEnabled(options.launcher)) {
    const label = String(options.launcherLabel || "").trim().slice(0, MAX_LAUNCHER_LABEL);
    ui.enableStart(label, startChat);
  }

  // ------------------------------------------------------------ messages out
  function sendMessage(text) {
    text = String(text || "").trim();
    if (!text || !state.conversation || isClosed()) return false;
    if (text.length > MAX_LENGTH) {
      ui.error(t("error.too_long_count", { count: text.length, max: MAX_LENGTH }));
      return false;
    }
    const entry = outboxEntry("m-" + core.uuid(), text);
    state.outbox.push(entry);
    persist();
    if (state.synced) transmit(entry);
    renderMessages();
    return true;
  }

  function transmit(entry) {
    socket.send({
      type: "message.send",
      conversation_id: currentId(),
      client_message_id: entry.client_message_id,
      text: entry.text,
    });
  }

  /** After (re)connecting and syncing: resend what is unsent, with the same ids. */
  function flushOutbox() {
    outboxResendable(state.outbox).forEach(transmit);
  }

  function dropFromOutbox(clientId) {
    if (outboxConfirm(state.outbox, clientId)) persist();
  }

  function retryEntry(entry) {
    outboxRetry(entry);
    persist();
    if (state.synced) transmit(entry);
    renderMessages();
  }

  function discardEntry(entry) {
    dropFromOutbox(entry.client_message_id);
    renderMessages();
  }

  function typed() {
    if (!state.conversation || isClosed()) return;
    const now = Date.now();
    if (now - state.typingSentAt < TYPING_SEND_MS) return;
    if (socket.send({ type: "typing", conversation_id: currentId() })) state.typingSentAt = now;
  }

  /** Read receipt for what the shopper can see: the panel is open and the tab visible. */
  function markRead() {
    if (!state.conversation || !ui.isOpen() || document.visibilityState === "hidden") return;
    const seq = state.lastSeq;
    const already = Math.max(state.readSent, state.conversation.visitor_read_seq || 0);
    if (seq > already && socket.send({ type: "read", conversation_id: currentId(), seq })) {
      state.readSent = seq;
    }
  }

  // ------------------------------------------------------------ offers and grants
  function onOffer(offer) {
    if (!offer || typeof offer.id !== "number") return;
    if (state.conversation && offer.conversation_id !== currentId()) return;
    const previous = state.offers[offer.id];
    // Where it sits in the conversation: after the last message when it first arrived.
    const record = {};
    Object.keys(offer).forEach((key) => {
      record[key] = offer[key];
    });
    record._after = previous ? previous._after : state.lastSeq;
    state.offers[offer.id] = record;
    persist();
    renderMessages();
    if (offer.status === "offered" && !state.announcedOffers[offer.id] && (!previous || previous.status !== "offered")) {
      state.announcedOffers[offer.id] = true;
      ui.announce(t("offer.announce", { label: offer.label, total: formatMoney(offer.total_after, offer.currency, env.locale) }));
      core.emit("offer-shown", { offer });
    } else if (offer.status === "offered") {
      state.announcedOffers[offer.id] = true;
    }
    if (previous && previous.status !== offer.status) {
      if (offer.status === "accepted") core.emit("offer-accepted", { offer });
      if (offer.status === "declined") core.emit("offer-declined", { offer });
    }
  }

  function answerOffer(offer, accept) {
    if (!socket.send({ type: accept ? "offer.accept" : "offer.decline", offer_id: offer.id })) {
      ui.error(t("error.not_connected"));
    }
  }

  /** Unexpired grants this tab received, newest last. */
  function grants() {
    const all = store.get("grants");
    return (Array.isArray(all) ? all : []).filter((g) => {
      return g && Date.parse(g.expires_at) > Date.now();
    });
  }

  function onGrant(grant) {
    if (!grant || typeof grant.token !== "string") return;
    const kept = grants().filter((g) => {
      return g.token !== grant.token;
    });
    kept.push(grant);
    store.set("grants", kept);
    core.emit("grant", grant);
  }

  CartAssist.grants = grants;

  // ------------------------------------------------------------ render
  function agentName() {
    return agentOf(state.conversation).name || t("agent.fallback");
  }

  /** Who wrote a message, as shoppers see them: the agent's first name and photo. */
  function authorOf(m) {
    if (m.sender === "visitor") return { name: t("message.you"), photo: "" };
    if (m.sender === "agent") {
      const agent = agentOf(m);
      if (agent.name) return agent;
      const current = agentOf(state.conversation);
      return current.name ? current : { name: t("message.agent"), photo: "" };
    }
    return { name: env.site.display_name || t("message.shop"), photo: env.site.logo_url || "" };
  }

  function render() {
    const c = state.conversation;
    if (!c) {
      ui.header(null, null);
      ui.composer(false, "");
      renderMessages();
      return;
    }
    const agent = agentOf(c);
    const status =
      c.status === "closed"
        ? t("status.ended")
        : c.status === "queued"
          ? t("status.queued")
          : agent.name
            ? t("status.with", { name: agent.name })
            : t("status.connected");
    ui.header(agent, status, c.status === "closed");
    ui.composer(c.status !== "closed", c.status === "closed" ? t("status.ended") : "");
    renderMessages();
  }

  function renderMessages() {
    let lastVisitorSeq = 0;
    state.messages.forEach((m) => {
      if (m.sender === "visitor" && m.seq <= state.agentReadSeq) lastVisitorSeq = m.seq;
    });
    ui.messages(
      state.messages,
      state.outbox,
      Object.keys(state.offers).map((id) => {
        return state.offers[id];
      }),
      {
        seenSeq: lastVisitorSeq,
        connected: socket.isOpen() && state.synced && navigator.onLine !== false,
        retry: retryEntry,
        discard: discardEntry,
        answerOffer,
        author: authorOf,
        verifyHref: verifyUrl,
      }
    );
  }

  // ------------------------------------------------------------ wiring
  ui.bind({
    send: sendMessage,
    typed,
    close: function () {
      if (!state.conversation) {
        state.starting = false; // a start that failed or never got an answer
        ui.hideChat();
        return;
      }
      if (isClosed()) {
        clearConversation();
        ui.hideChat();
        return;
      }
      socket.send({ type: "conversation.close", conversation_id: currentId() });
    },
    opened: markRead,
  });

  // ------------------------------------------------------------ connection state
  // What the shopper is told: offline (the browser says so), reconnecting (the socket
  // dropped and is coming back), connected (shown briefly after either).
  let troubled = false;
  function showConnection() {
    const offline = navigator.onLine === false;
    if (offline || (socket.wasOpen() && !socket.isOpen())) {
      troubled = true;
      ui.connection(offline ? "offline" : "reconnecting");
    } else if (socket.isOpen() && troubled) {
      troubled = false;
      ui.connection("connected");
    } else if (!troubled) {
      ui.connection("ok");
    }
    renderMessages();
  }

  socket.on("open", showConnection);
  socket.on("down", () => {
    state.synced = false;
    showConnection();
  });
  socket.on("frame", (frame) => {
    const handler = receive[frame.type];
    if (handler) handler(frame);
  });

  window.addEventListener("online", () => {
    showConnection();
    socket.now();
  });
  window.addEventListener("offline", showConnection);
  if (navigator.onLine === false) showConnection();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") markRead();
  });

  // Show what this tab already knows at once (the conversation continues on this page),
  // then connect: hello + sync bring it up to date.
  if (state.conversation) {
    ui.showChat();
    render();
  }

  function wanted() {
    return options.chat === "always" || !!state.conversation || core.hasCart() || core.resumed();
  }

  if (wanted()) {
    socket.connect();
  } else {
    // The chat is for shoppers with a cart: connect once the shop reports one.
    core.onTracked(() => {
      if (wanted()) socket.connect();
    });
  }

  core.chat = { state }; // for debugging in the browser console only
}

// ================================================================ transport

const PING_MS = 25 * 1000;
const RECONNECT_BASE_MS = 1000;
const RECONNECT_MAX_MS = 30 * 1000;
const TOKEN_MARGIN_MS = 60 * 1000; // fetch a new token this long before it expires
const CLOSE_UNAUTHORISED = 4401;
const CLOSE_FORBIDDEN = 4403;

function safe(fn) {
  try {
    return fn();
  } catch (ignored) {
    return null;
  }
}

// ------------------------------------------------------------ store
// The open conversation, its cached messages and unsent ones, in sessionStorage:
// per tab, so the conversation follows the shopper from page to page of the shop.
function createStore(siteKey) {
  const PREFIX = "cartassist:v1:chat:" + siteKey + ":";
  let session = null;
  const memory = {};
  try {
    session = window.sessionStorage;
    session.setItem(PREFIX + "probe", "1");
    session.removeItem(PREFIX + "probe");
  } catch (ignored) {
    session = null;
  }
  function get(name) {
    const raw = session ? safe(() => { return session.getItem(PREFIX + name); }) : memory[name];
    if (raw === null || raw === undefined) return null;
    try {
      return JSON.parse(raw);
    } catch (ignored) {
      return null;
    }
  }
  function set(name, value) {
    const raw = JSON.stringify(value);
    if (session && safe(() => { session.setItem(PREFIX + name, raw); return true; })) return;
    memory[name] = raw;
  }
  function remove(name) {
    delete memory[name];
    if (session) safe(() => { session.removeItem(PREFIX + name); });
  }
  return { get, set, remove };
}

// ------------------------------------------------------------ session (token)
function createSession(core, store, siteKey, apiBase, requested) {
  let inFlight = null;

  function valid(saved) {
    return (
      saved &&
      saved.visitor_id === core.visitorId() &&
      saved.requested === requested &&
      typeof saved.token === "string" &&
      Date.parse(saved.expires_at) - Date.now() > TOKEN_MARGIN_MS
    );
  }

  /** Resolves with {token, socket_url} or rejects with {status}. */
  function token() {
    const saved = store.get("token");
    if (valid(saved)) return Promise.resolve(saved);
    if (inFlight) return inFlight;
    const ask = { site_key: siteKey, visitor_id: core.visitorId() };
    if (requested) ask.language = requested;
    const body = JSON.stringify(ask);
    inFlight = window
      .fetch(apiBase + "/api/v1/widget/session", {
        method: "POST",
        headers: { "Content-Type": "text/plain" }, // a simple request: no preflight
        body,
        credentials: "omit",
        mode: "cors",
      })
      .then(
        (response) => {
          return response.json().then(
            (json) => {
              if (response.status !== 200 || !json || typeof json.token !== "string") {
                throw { status: response.status };
              }
              const saved = {
                token: json.token,
                expires_at: json.expires_at,
                socket_url: json.socket_url || "/ws/widget/",
                visitor_id: core.visitorId(),
                requested,
                language: typeof json.language === "string" ? json.language : "",
                site: json.site && typeof json.site === "object" ? json.site : {},
              };
              store.set("token", saved);
              return saved;
            },
            () => {
              throw { status: response.status };
            }
          );
        },
        () => {
          throw { status: 0 };
        }
      )
      .then(
        (saved) => {
          inFlight = null;
          return saved;
        },
        (error) => {
          inFlight = null;
          throw error;
        }
      );
    return inFlight;
  }

  function forget() {
    store.remove("token");
  }

  return { token, forget };
}

// ------------------------------------------------------------ socket
// One WebSocket; reconnects with exponential back-off and jitter; a 4401 close
// (token expired) fetches a new token; a 4403 (origin not allowed) stops.
function createSocket(core, session, apiBase) {
  let ws = null;
  const backoff = new Backoff({ baseMs: RECONNECT_BASE_MS, maxMs: RECONNECT_MAX_MS });
  let timer = null;
  let pingTimer = null;
  let stopped = false;
  let everOpen = false;
  const handlers = { open: null, frame: null, down: null };

  function on(name, fn) {
    handlers[name] = fn;
  }

  function wsUrl(path, token) {
    const base = apiBase.replace(/^http/i, "ws");
    return base + path + (path.indexOf("?") === -1 ? "?" : "&") + "token=" + encodeURIComponent(token);
  }

  function connect() {
    if (stopped || ws) return;
    session.token().then(
      (saved) => {
        if (stopped || ws) return;
        open(wsUrl(saved.socket_url, saved.token));
      },
      (error) => {
        if (error && (error.status === 403 || error.status === 400)) {
          stop();
          core.warn("chat off: the site key or this page's origin was refused (HTTP " + error.status + ").");
          return;
        }
        retry();
      }
    );
  }

  function open(url) {
    let current;
    try {
      current = new window.WebSocket(url);
    } catch (error) {
      retry();
      return;
    }
    ws = current;
    current.onopen = function () {
      everOpen = true;
      backoff.reset();
      window.clearInterval(pingTimer);
      pingTimer = window.setInterval(() => {
        send({ type: "ping" });
      }, PING_MS);
      if (handlers.open) handlers.open();
    };
    current.onmessage = function (event) {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (ignored) {
        return;
      }
      if (frame && typeof frame.type === "string" && handlers.frame) handlers.frame(frame);
    };
    current.onclose = function (event) {
      if (ws !== current) return;
      ws = null;
      window.clearInterval(pingTimer);
      if (handlers.down) handlers.down();
      if (event.code === CLOSE_FORBIDDEN) {
        stop();
        core.warn("chat off: this page's origin is not allowed for the site (close code 4403).");
        return;
      }
      if (event.code === CLOSE_UNAUTHORISED) session.forget();
      retry();
    };
  }

  function retry() {
    if (stopped || timer !== null) return;
    const delay = backoff.next();
    timer = window.setTimeout(() => {
      timer = null;
      connect();
    }, delay);
  }

  /** Reconnect now (the browser says the network is back). */
  function now() {
    if (stopped || ws) return;
    if (timer !== null) window.clearTimeout(timer);
    timer = null;
    backoff.reset();
    connect();
  }

  function send(frame) {
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch (ignored) {
      return false;
    }
  }

  function stop() {
    stopped = true;
    if (timer !== null) window.clearTimeout(timer);
    window.clearInterval(pingTimer);
    if (ws) {
      const closing = ws;
      ws = null;
      try {
        closing.close(1000);
      } catch (ignored) {
        /* already closed */
      }
    }
  }

  function isOpen() {
    return !!ws && ws.readyState === 1;
  }

  /** The socket has been open at least once (so a drop is a reconnect, not a first try). */
  function wasOpen() {
    return everOpen;
  }

  return { on, connect, send, now, isOpen, wasOpen };
}

// ================================================================ helpers

/** The agent named by a frame, as shoppers see them: {name: first name, photo}. The
 * contract's `agent` object (docs/REALTIME.md) wins over the older `agent_name`. */
function agentOf(frame) {
  if (!frame) return { name: "", photo: "" };
  const agent = frame.agent && typeof frame.agent === "object" ? frame.agent : null;
  const name = (agent && agent.first_name) || frame.agent_name || frame.author_name || "";
  return { name: String(name), photo: (agent && agent.photo_url) || "" };
}

/** keepVisible: an array of selectors, or one comma-separated string (data-keep-visible). */
function keepVisibleOption(value) {
  if (Array.isArray(value)) return value.map(String);
  return value ? [String(value)] : [];
}

function chatEnabled(value) {
  if (value === undefined || value === null || value === "") return true;
  if (value === false || value === "false" || value === "off" || value === "0") return false;
  return true;
}

/** The launcher is opt-in: true, "true", "on" or "1" (data-launcher="true"). */
function launcherEnabled(value) {
  return value === true || value === "true" || value === "on" || value === "1";
}

const CartAssist = window.CartAssist;
if (CartAssist && typeof CartAssist.onReady === "function" && !CartAssist.__chatLoaded) {
  CartAssist.__chatLoaded = true;
  if (typeof window.WebSocket === "function" && document.body && document.body.attachShadow) {
    CartAssist.onReady(start);
  }
}
