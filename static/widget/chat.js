/*! CartAssist storefront widget: the shopper's live chat. No dependencies, no build step.
 *
 * Loaded by cartassist.js (same folder) once the core has initialised; reaches the core
 * through CartAssist.onReady(fn). Wire protocol: docs/REALTIME.md. Shop-facing events
 * and options: docs/WIDGET.md ("Live chat").
 *
 * Layout, one job each: config → store (sessionStorage) → session (visitor token) →
 * socket (connect, back-off, ping) → ui (Shadow DOM) → chat (frames ↔ state ↔ ui).
 *
 * Every piece of text from the server is put into the page with textContent, never as
 * HTML: messages, invitation copy, agent names, offer labels.
 */
(function (window, document) {
  "use strict";

  /** Where a live message stands against the last seq this tab applied (pure; tested
   * with node --test, tests/js/): "seen" (at or below it: ignore), "next" (apply it), or
   * "gap" (an unseen seq is missing: ask for it with `sync`, never skip it). */
  function seqStep(lastSeq, seq) {
    if (seq <= lastSeq) return "seen";
    return seq === lastSeq + 1 ? "next" : "gap";
  }
  if (typeof module === "object" && module && module.exports) module.exports.seqStep = seqStep;

  var CartAssist = window.CartAssist;
  if (!CartAssist || typeof CartAssist.onReady !== "function" || CartAssist.__chatLoaded) return;
  CartAssist.__chatLoaded = true;
  if (typeof window.WebSocket !== "function" || !document.body || !document.body.attachShadow) return;

  var PING_MS = 25 * 1000;
  var RECONNECT_BASE_MS = 1000;
  var RECONNECT_MAX_MS = 30 * 1000;
  var TYPING_SEND_MS = 3000; // send "typing" at most this often
  var TYPING_SHOW_MS = 5000; // hide the agent's indicator after this without news
  var TOKEN_MARGIN_MS = 60 * 1000; // fetch a new token this long before it expires
  var MAX_CACHED_MESSAGES = 200;
  var MAX_LENGTH = 2000; // CARTASSIST_MAX_MESSAGE_LENGTH's default; the server has the last word
  var CLOSE_UNAUTHORISED = 4401;
  var CLOSE_FORBIDDEN = 4403;
  var LAUNCHER_LABEL = "Chat with us"; // data-launcher-label overrides it
  var MAX_LAUNCHER_LABEL = 40;

  /** Runs once the core has initialised (CartAssist.onReady, at the end of this file). */
  function start(core) {
    var options = core.options();
    if (!chatEnabled(options.chat)) return;
    var siteKey = core.siteKey();
    var apiBase = core.apiBase();

    // ------------------------------------------------------------ store
    // The open conversation, its cached messages and unsent ones, in sessionStorage:
    // per tab, so the conversation follows the shopper from page to page of the shop.
    var store = (function () {
      var PREFIX = "cartassist:v1:chat:" + siteKey + ":";
      var session = null;
      var memory = {};
      try {
        session = window.sessionStorage;
        session.setItem(PREFIX + "probe", "1");
        session.removeItem(PREFIX + "probe");
      } catch (ignored) {
        session = null;
      }
      function get(name) {
        var raw = session ? safe(function () { return session.getItem(PREFIX + name); }) : memory[name];
        if (raw === null || raw === undefined) return null;
        try {
          return JSON.parse(raw);
        } catch (ignored) {
          return null;
        }
      }
      function set(name, value) {
        var raw = JSON.stringify(value);
        if (session && safe(function () { session.setItem(PREFIX + name, raw); return true; })) return;
        memory[name] = raw;
      }
      function remove(name) {
        delete memory[name];
        if (session) safe(function () { session.removeItem(PREFIX + name); });
      }
      return { get: get, set: set, remove: remove };
    })();

    // ------------------------------------------------------------ session (token)
    var session = (function () {
      var inFlight = null;

      function valid(saved) {
        return (
          saved &&
          saved.visitor_id === core.visitorId() &&
          typeof saved.token === "string" &&
          Date.parse(saved.expires_at) - Date.now() > TOKEN_MARGIN_MS
        );
      }

      /** Resolves with {token, socket_url} or rejects with {status}. */
      function token() {
        var saved = store.get("token");
        if (valid(saved)) return Promise.resolve(saved);
        if (inFlight) return inFlight;
        var body = JSON.stringify({ site_key: siteKey, visitor_id: core.visitorId() });
        inFlight = window
          .fetch(apiBase + "/api/v1/widget/session", {
            method: "POST",
            headers: { "Content-Type": "text/plain" }, // a simple request: no preflight
            body: body,
            credentials: "omit",
            mode: "cors",
          })
          .then(
            function (response) {
              return response.json().then(
                function (json) {
                  if (response.status !== 200 || !json || typeof json.token !== "string") {
                    throw { status: response.status };
                  }
                  var saved = {
                    token: json.token,
                    expires_at: json.expires_at,
                    socket_url: json.socket_url || "/ws/widget/",
                    visitor_id: core.visitorId(),
                  };
                  store.set("token", saved);
                  return saved;
                },
                function () {
                  throw { status: response.status };
                }
              );
            },
            function () {
              throw { status: 0 };
            }
          )
          .then(
            function (saved) {
              inFlight = null;
              return saved;
            },
            function (error) {
              inFlight = null;
              throw error;
            }
          );
        return inFlight;
      }

      function forget() {
        store.remove("token");
      }

      return { token: token, forget: forget };
    })();

    // ------------------------------------------------------------ socket
    // One WebSocket; reconnects with exponential back-off and jitter; a 4401 close
    // (token expired) fetches a new token; a 4403 (origin not allowed) stops.
    var socket = (function () {
      var ws = null;
      var attempt = 0;
      var timer = null;
      var pingTimer = null;
      var stopped = false;
      var handlers = { open: null, frame: null, down: null };

      function on(name, fn) {
        handlers[name] = fn;
      }

      function wsUrl(path, token) {
        var base = apiBase.replace(/^http/i, "ws");
        return base + path + (path.indexOf("?") === -1 ? "?" : "&") + "token=" + encodeURIComponent(token);
      }

      function connect() {
        if (stopped || ws) return;
        session.token().then(
          function (saved) {
            if (stopped || ws) return;
            open(wsUrl(saved.socket_url, saved.token));
          },
          function (error) {
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
        var current;
        try {
          current = new window.WebSocket(url);
        } catch (error) {
          retry();
          return;
        }
        ws = current;
        current.onopen = function () {
          attempt = 0;
          window.clearInterval(pingTimer);
          pingTimer = window.setInterval(function () {
            send({ type: "ping" });
          }, PING_MS);
          if (handlers.open) handlers.open();
        };
        current.onmessage = function (event) {
          var frame;
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
        attempt += 1;
        var ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * Math.pow(2, attempt - 1));
        var delay = ceiling / 2 + Math.random() * (ceiling / 2); // equal jitter
        timer = window.setTimeout(function () {
          timer = null;
          connect();
        }, delay);
      }

      /** Reconnect now (the browser says the network is back). */
      function now() {
        if (stopped || ws) return;
        if (timer !== null) window.clearTimeout(timer);
        timer = null;
        attempt = 0;
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
          var closing = ws;
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

      return { on: on, connect: connect, send: send, now: now, isOpen: isOpen };
    })();

    // ------------------------------------------------------------ ui
    var ui = buildUi(options);

    // ------------------------------------------------------------ chat state
    var state = {
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
    var receive = {
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
        ui.typing(agentName() + " is typing…");
        window.clearTimeout(state.typingTimer);
        state.typingTimer = window.setTimeout(function () {
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
      var open = Array.isArray(f.conversations) ? f.conversations : [];
      var mine = null;
      open.forEach(function (c) {
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
      var pending = (f.invitations || []).filter(function (i) {
        return state.dismissed.indexOf(i.id) === -1;
      });
      if (!state.conversation && pending.length && !state.starting) showInvitation(pending[pending.length - 1]);
      else if (state.invitation && !pending.length) ui.hideInvitation();
      render();
      if (state.starting && !state.conversation) sendStart();
    }

    function setConversation(meta, opts) {
      if (!meta || typeof meta.id !== "number") return;
      var fresh = meta.id !== currentId();
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
      var m = f.message;
      var step = seqStep(state.lastSeq, m.seq);
      if (step === "seen") {
        dropFromOutbox(m.client_message_id);
        return;
      }
      if (step === "gap") {
        // Something before it has not arrived: fetch everything after the last seq, in
        // order (once: the reply carries this message too).
        if (state.synced) sync();
        return;
      }
      state.messages.push(m);
      state.lastSeq = m.seq;
      if (m.sender === "visitor") dropFromOutbox(m.client_message_id);
      else {
        ui.typing(null);
        ui.announce((m.author_name || agentName()) + ": " + m.text);
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
        state.messages = state.messages.filter(function (m) {
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
        ui.starting(f.code === "rate_limited" ? "Please wait a moment before starting another chat." : "The chat could not be started.");
        ui.error(f.message || "Something went wrong.");
        return;
      }
      var entry = null;
      state.outbox.forEach(function (e) {
        if (e.client_message_id === f.ref) entry = e;
      });
      if (entry) {
        entry.state = "failed";
        entry.error = f.code === "too_long" ? "Too long: shorten your message." : f.message || "Not sent.";
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
      ui.error(f.code === "too_long" ? "Your message is too long." : f.message || "Something went wrong.");
    }

    function closeLocally(reason) {
      var wasOpen = state.conversation && state.conversation.status !== "closed";
      state.conversation.status = "closed";
      state.conversation.close_reason = reason;
      state.outbox = [];
      persist();
      ui.typing(null);
      render();
      if (wasOpen) {
        ui.announce("The chat has ended.");
        core.emit("chat-closed", { conversation_id: state.conversation.id, reason: reason });
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
      ui.showInvitation(invitation, verifyUrl(invitation.verify_url), {
        accept: function () {
          acceptInvitation(invitation);
        },
        dismiss: function () {
          dismissInvitation(invitation);
        },
      });
      ui.announce(invitation.headline + " " + (invitation.agent_name ? invitation.agent_name + " can help." : ""));
      core.emit("invitation-shown", { invitation: invitation });
    }

    function acceptInvitation(invitation) {
      if (!socket.send({ type: "invitation.accept", invitation_id: invitation.id })) {
        ui.error("Not connected yet; try again in a moment.");
        return;
      }
      ui.hideInvitation();
      state.invitation = null;
      ui.showChat();
      ui.focusComposer();
      core.emit("invitation-accepted", { invitation: invitation });
    }

    function dismissInvitation(invitation) {
      socket.send({ type: "invitation.dismiss", invitation_id: invitation.id });
      state.dismissed.push(invitation.id);
      store.set("dismissed", state.dismissed.slice(-50));
      state.invitation = null;
      ui.hideInvitation();
      if (!state.conversation) ui.hideChat();
      core.emit("invitation-dismissed", { invitation: invitation });
    }

    function verifyUrl(path) {
      var base = core.trimSlash(options.verifyBase || apiBase);
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
      ui.starting("Starting a chat…");
      ui.announce("Starting a chat…");
      if (socket.isOpen()) sendStart();
      else socket.connect(); // hello, then sendStart()
    }

    function sendStart() {
      var frame = { type: "chat.start" };
      if (core.hasCart()) frame.cart_id = core.cartId();
      socket.send(frame);
    }

    if (launcherEnabled(options.launcher)) {
      var label = String(options.launcherLabel || "").trim().slice(0, MAX_LAUNCHER_LABEL) || LAUNCHER_LABEL;
      ui.enableStart(label, startChat);
    }

    // ------------------------------------------------------------ messages out
    function sendMessage(text) {
      text = String(text || "").trim();
      if (!text || !state.conversation || isClosed()) return false;
      if (text.length > MAX_LENGTH) {
        ui.error("Your message is too long (" + text.length + " / " + MAX_LENGTH + " characters).");
        return false;
      }
      var entry = { client_message_id: "m-" + core.uuid(), text: text, state: "pending" };
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
      state.outbox.forEach(function (entry) {
        if (entry.state !== "failed") transmit(entry);
      });
    }

    function dropFromOutbox(clientId) {
      if (!clientId) return;
      var before = state.outbox.length;
      state.outbox = state.outbox.filter(function (e) {
        return e.client_message_id !== clientId;
      });
      if (state.outbox.length !== before) persist();
    }

    function retryEntry(entry) {
      entry.state = "pending";
      delete entry.error;
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
      var now = Date.now();
      if (now - state.typingSentAt < TYPING_SEND_MS) return;
      if (socket.send({ type: "typing", conversation_id: currentId() })) state.typingSentAt = now;
    }

    /** Read receipt for what the shopper can see: the panel is open and the tab visible. */
    function markRead() {
      if (!state.conversation || !ui.isOpen() || document.visibilityState === "hidden") return;
      var seq = state.lastSeq;
      var already = Math.max(state.readSent, state.conversation.visitor_read_seq || 0);
      if (seq > already && socket.send({ type: "read", conversation_id: currentId(), seq: seq })) {
        state.readSent = seq;
      }
    }

    // ------------------------------------------------------------ offers and grants
    function onOffer(offer) {
      if (!offer || typeof offer.id !== "number") return;
      if (state.conversation && offer.conversation_id !== currentId()) return;
      var previous = state.offers[offer.id];
      // Where it sits in the conversation: after the last message when it first arrived.
      var record = {};
      Object.keys(offer).forEach(function (key) {
        record[key] = offer[key];
      });
      record._after = previous ? previous._after : state.lastSeq;
      state.offers[offer.id] = record;
      persist();
      renderMessages();
      if (offer.status === "offered" && !state.announcedOffers[offer.id] && (!previous || previous.status !== "offered")) {
        state.announcedOffers[offer.id] = true;
        ui.announce("Offer: " + offer.label + ". " + offer.description + ". New total " + offer.total_after + ".");
        core.emit("offer-shown", { offer: offer });
      } else if (offer.status === "offered") {
        state.announcedOffers[offer.id] = true;
      }
      if (previous && previous.status !== offer.status) {
        if (offer.status === "accepted") core.emit("offer-accepted", { offer: offer });
        if (offer.status === "declined") core.emit("offer-declined", { offer: offer });
      }
    }

    function answerOffer(offer, accept) {
      if (!socket.send({ type: accept ? "offer.accept" : "offer.decline", offer_id: offer.id })) {
        ui.error("Not connected yet; try again in a moment.");
      }
    }

    /** Unexpired grants this tab received, newest last. */
    function grants() {
      var all = store.get("grants");
      return (Array.isArray(all) ? all : []).filter(function (g) {
        return g && Date.parse(g.expires_at) > Date.now();
      });
    }

    function onGrant(grant) {
      if (!grant || typeof grant.token !== "string") return;
      var kept = grants().filter(function (g) {
        return g.token !== grant.token;
      });
      kept.push(grant);
      store.set("grants", kept);
      core.emit("grant", grant);
    }

    CartAssist.grants = grants;

    // ------------------------------------------------------------ render
    function agentName() {
      return (state.conversation && state.conversation.agent_name) || "The agent";
    }

    function render() {
      var c = state.conversation;
      if (!c) {
        ui.header(null, null);
        ui.composer(false, "");
        renderMessages();
        return;
      }
      var status =
        c.status === "closed"
          ? "This chat has ended."
          : c.status === "queued"
            ? "Waiting for an agent…"
            : c.agent_name
              ? "You're chatting with " + c.agent_name
              : "Connected";
      ui.header(c.agent_name || "Chat", status);
      ui.composer(c.status !== "closed", c.status === "closed" ? "This chat has ended." : "");
      renderMessages();
    }

    function renderMessages() {
      var lastVisitorSeq = 0;
      state.messages.forEach(function (m) {
        if (m.sender === "visitor" && m.seq <= state.agentReadSeq) lastVisitorSeq = m.seq;
      });
      ui.messages(
        state.messages,
        state.outbox,
        Object.keys(state.offers).map(function (id) {
          return state.offers[id];
        }),
        {
          seenSeq: lastVisitorSeq,
          connected: socket.isOpen(),
          retry: retryEntry,
          discard: discardEntry,
          answerOffer: answerOffer,
        }
      );
    }

    // ------------------------------------------------------------ wiring
    ui.bind({
      send: sendMessage,
      typed: typed,
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

    socket.on("open", function () {
      ui.connection(true);
      renderMessages();
    });
    socket.on("down", function () {
      state.synced = false;
      ui.connection(false);
      renderMessages();
    });
    socket.on("frame", function (frame) {
      var handler = receive[frame.type];
      if (handler) handler(frame);
    });

    window.addEventListener("online", socket.now);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") markRead();
    });

    // Show what this tab already knows at once (the conversation continues on this page),
    // then connect: hello + sync bring it up to date.
    if (state.conversation) {
      ui.showChat();
      render();
    }

    function wanted() {
      return options.chat === "always" || !!state.conversation || core.hasCart();
    }

    if (wanted()) {
      socket.connect();
    } else {
      // The chat is for shoppers with a cart: connect once the shop reports one.
      core.onTracked(function () {
        if (wanted()) socket.connect();
      });
    }

    core.chat = { state: state }; // for debugging in the browser console only
  }

  // ================================================================ helpers

  function chatEnabled(value) {
    if (value === undefined || value === null || value === "") return true;
    if (value === false || value === "false" || value === "off" || value === "0") return false;
    return true;
  }

  /** The launcher is opt-in: true, "true", "on" or "1" (data-launcher="true"). */
  function launcherEnabled(value) {
    return value === true || value === "true" || value === "on" || value === "1";
  }

  function safe(fn) {
    try {
      return fn();
    } catch (ignored) {
      return null;
    }
  }

  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (key) {
        var value = props[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") node.textContent = value;
        else if (key === "className") node.className = value;
        else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : value);
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function formatTime(iso) {
    var at = new Date(iso);
    if (isNaN(at.getTime())) return "";
    var h = at.getHours();
    var m = at.getMinutes();
    return (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
  }

  var OFFER_STATUS = {
    accepted: "Accepted — it applies to your order.",
    declined: "You declined this offer.",
    expired: "This offer has expired.",
    denied: "This offer is no longer available.",
    refused_on_accept: "This offer could not be applied",
  };

  // ================================================================ ui (Shadow DOM)

  function buildUi(options) {
    var host = el("div", { id: "cartassist-chat", "data-cartassist": "chat" });
    // The host only positions itself; everything else lives in the shadow root, out of
    // the shop's CSS (and the shop out of ours).
    host.style.cssText = "all: initial; position: fixed; z-index: 2147483000; right: 0; bottom: 0;";
    var root = host.attachShadow({ mode: "open" });
    var css = el("style", { text: STYLES });
    var live = el("div", { className: "sr-only", role: "status", "aria-live": "polite", "aria-atomic": "true" });

    var launcher = el("button", {
      type: "button",
      className: "launcher",
      "aria-label": "Open chat",
      "data-testid": "chat-launcher",
      hidden: true,
    });
    launcher.appendChild(el("span", { "aria-hidden": "true", text: "💬" }));
    launcher.appendChild(el("span", { className: "launcher-text", text: "Chat" }));
    var badge = el("span", { className: "badge", hidden: true, "aria-hidden": "true" });
    launcher.appendChild(badge);

    // "Chat with us": shown only when the shop enables it, and only while nothing else is.
    var start = el("button", {
      type: "button",
      className: "launcher start",
      "aria-haspopup": "dialog",
      "data-testid": "chat-start",
      hidden: true,
    });
    start.appendChild(el("span", { "aria-hidden": "true", text: "💬" }));
    var startLabel = el("span", { className: "launcher-text", text: "Chat" });
    start.appendChild(startLabel);
    var startEnabled = false;

    var title = el("h2", { className: "title", id: "ca-title", text: "Chat" });
    var subtitle = el("p", { className: "subtitle", "data-testid": "chat-status" });
    var connection = el("p", { className: "connection", hidden: true, text: "Reconnecting…" });
    var minimise = el("button", { type: "button", className: "icon", "aria-label": "Minimise chat", title: "Minimise (Esc)", text: "–" });
    var end = el("button", { type: "button", className: "icon", "aria-label": "End chat", "data-testid": "chat-end", title: "End chat", text: "×" });
    var header = el("header", { className: "head" }, [el("div", { className: "head-text" }, [title, subtitle]), minimise, end]);

    var card = el("section", { className: "card", hidden: true, tabindex: "-1", "aria-labelledby": "ca-invite-title", "data-testid": "chat-invitation" });
    var list = el("ol", { className: "messages", "aria-label": "Messages", tabindex: "0", "data-testid": "chat-messages" });
    var typing = el("p", { className: "typing", hidden: true, "data-testid": "chat-typing" });
    var error = el("p", { className: "error", role: "alert", hidden: true, "data-testid": "chat-error" });
    var textarea = el("textarea", { rows: "2", id: "ca-text", maxlength: String(MAX_LENGTH), placeholder: "Write a message…", "aria-label": "Message" });
    var sendButton = el("button", { type: "submit", className: "primary", text: "Send" });
    var composerNote = el("p", { className: "note", hidden: true });
    var composer = el("form", { className: "composer", novalidate: true }, [textarea, sendButton]);

    var panel = el(
      "section",
      { className: "panel", hidden: true, role: "dialog", "aria-modal": "false", "aria-labelledby": "ca-title", "data-testid": "chat-panel" },
      [header, connection, card, list, typing, error, composerNote, composer]
    );
    root.appendChild(css);
    root.appendChild(live);
    root.appendChild(panel);
    root.appendChild(launcher);
    root.appendChild(start);

    function mount() {
      if (!host.isConnected) document.body.appendChild(host);
    }

    var hooks = {};
    var minimised = false;
    var visible = false; // the widget has something to show (invitation or chat)
    try {
      minimised = window.sessionStorage.getItem("cartassist:v1:chat-minimised") === "1";
    } catch (ignored) {
      minimised = false;
    }

    function layout() {
      panel.hidden = !visible || minimised;
      launcher.hidden = !visible || !minimised;
      start.hidden = !startEnabled || visible;
      if (!minimised) badge.hidden = true;
    }

    function setMinimised(value) {
      minimised = value;
      try {
        window.sessionStorage.setItem("cartassist:v1:chat-minimised", value ? "1" : "0");
      } catch (ignored) {
        /* memory only */
      }
      layout();
      if (value) launcher.focus();
      else if (hooks.opened) hooks.opened();
    }

    minimise.addEventListener("click", function () {
      setMinimised(true);
    });
    launcher.addEventListener("click", function () {
      setMinimised(false);
      if (!card.hidden) card.focus();
      else if (!textarea.disabled) textarea.focus();
    });
    end.addEventListener("click", function () {
      if (hooks.close) hooks.close();
    });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.stopPropagation();
        setMinimised(true);
      }
    });
    composer.addEventListener("submit", function (event) {
      event.preventDefault();
      if (hooks.send && hooks.send(textarea.value)) {
        textarea.value = "";
        showError(null);
      }
    });
    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (composer.requestSubmit) composer.requestSubmit();
        else composer.dispatchEvent(new Event("submit", { cancelable: true }));
      }
    });
    textarea.addEventListener("input", function () {
      if (hooks.typed && textarea.value) hooks.typed();
    });

    function showError(text) {
      error.textContent = text || "";
      error.hidden = !text;
    }

    function userIsTyping() {
      var active = document.activeElement;
      if (!active || active === host) return false;
      var tag = active.tagName;
      return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || active.isContentEditable;
    }

    var announceTimer = null;

    return {
      bind: function (given) {
        hooks = given;
      },
      isOpen: function () {
        return visible && !minimised;
      },
      announce: function (text) {
        // Cleared first, then set: screen readers announce a change, not a repeat.
        live.textContent = "";
        window.clearTimeout(announceTimer);
        announceTimer = window.setTimeout(function () {
          live.textContent = text;
        }, 50);
        if (minimised && visible) badge.hidden = false;
      },
      connection: function (up) {
        connection.hidden = up;
        sendButton.disabled = false;
      },
      showChat: function () {
        mount();
        visible = true;
        layout();
      },
      hideChat: function () {
        var hadFocus = root.activeElement !== null;
        visible = false;
        layout();
        if (hadFocus && startEnabled) start.focus(); // keep keyboard users in the widget
      },
      enableStart: function (label, onStart) {
        startLabel.textContent = label;
        start.addEventListener("click", onStart);
        startEnabled = true;
        mount();
        layout();
      },
      /** The panel while a shopper-started chat opens (or failed to): status only. */
      starting: function (status) {
        mount();
        card.hidden = true;
        title.textContent = "Chat";
        subtitle.textContent = status;
        subtitle.hidden = false;
        end.hidden = false;
        end.setAttribute("aria-label", "Close chat window");
        list.hidden = true;
        composer.hidden = true;
        composerNote.hidden = true;
        visible = true;
        minimised = false;
        layout();
        minimise.focus();
      },
      header: function (name, status) {
        title.textContent = name || "Chat";
        subtitle.textContent = status || "";
        subtitle.hidden = !status;
        end.hidden = !status;
        end.setAttribute("aria-label", status === "This chat has ended." ? "Close chat window" : "End chat");
        list.hidden = !status;
        composer.hidden = !status;
      },
      composer: function (enabled, note) {
        textarea.disabled = !enabled;
        sendButton.disabled = !enabled;
        composerNote.textContent = note || "";
        composerNote.hidden = !note;
      },
      focusComposer: function () {
        if (!textarea.disabled) textarea.focus();
      },
      typing: function (text) {
        typing.textContent = text || "";
        typing.hidden = !text;
      },
      error: showError,
      showInvitation: function (invitation, verifyHref, actions) {
        mount();
        while (card.firstChild) card.removeChild(card.firstChild);
        var accept = el("button", { type: "button", className: "primary", text: "Accept", onclick: actions.accept });
        var dismiss = el("button", { type: "button", text: "Not now", onclick: actions.dismiss });
        var code = invitation.verification_code || "";
        var verify = verifyHref
          ? el("a", { href: verifyHref, target: "_blank", rel: "noopener noreferrer", "data-testid": "chat-verify" }, [
              "Verify this invitation: ",
              el("strong", { className: "code", text: code }),
            ])
          : el("span", { "data-testid": "chat-verify" }, ["Verification code: ", el("strong", { className: "code", text: code })]);
        card.appendChild(el("h3", { id: "ca-invite-title", text: invitation.headline || "Can we help?" }));
        if (invitation.body) card.appendChild(el("p", { text: invitation.body }));
        if (invitation.agent_name) {
          card.appendChild(el("p", { className: "agent", "data-testid": "chat-agent" }, [el("strong", { text: invitation.agent_name }), " will answer."]));
        }
        card.appendChild(el("p", { className: "verify" }, [verify]));
        card.appendChild(el("div", { className: "actions" }, [accept, dismiss]));
        card.hidden = false;
        visible = true;
        title.textContent = "Chat";
        subtitle.hidden = true;
        list.hidden = true;
        composer.hidden = true;
        end.hidden = true;
        minimised = false;
        layout();
        if (!userIsTyping()) card.focus();
      },
      hideInvitation: function () {
        card.hidden = true;
        while (card.firstChild) card.removeChild(card.firstChild);
      },
      messages: function (messages, outbox, offers, opts) {
        var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
        while (list.firstChild) list.removeChild(list.firstChild);
        // Each offer after the message that was the last one when it arrived.
        var offersAfter = {};
        offers.forEach(function (offer) {
          var at = offer._after || 0;
          (offersAfter[at] = offersAfter[at] || []).push(offer);
        });
        function appendOffers(seq) {
          (offersAfter[seq] || []).forEach(function (offer) {
            list.appendChild(offerNode(offer, opts.answerOffer));
          });
          delete offersAfter[seq];
        }
        appendOffers(0);
        messages.forEach(function (m) {
          list.appendChild(messageNode(m, opts.seenSeq));
          appendOffers(m.seq);
        });
        Object.keys(offersAfter).forEach(function (seq) {
          appendOffers(seq);
        });
        outbox.forEach(function (entry) {
          list.appendChild(pendingNode(entry, opts));
        });
        if (nearBottom) list.scrollTop = list.scrollHeight;
      },
    };

    function messageNode(m, seenSeq) {
      var who = m.sender === "visitor" ? "You" : m.author_name || (m.sender === "agent" ? "Agent" : "CartAssist");
      var text = el("div", { className: "text" });
      text.textContent = m.text; // plain text, always
      return el("li", { className: "msg " + m.sender, "data-seq": String(m.seq) }, [
        el("div", { className: "meta" }, [el("span", { className: "author", text: who }), " ", el("time", { datetime: m.created_at, text: formatTime(m.created_at) })]),
        text,
        m.sender === "visitor" && m.seq === seenSeq ? el("div", { className: "seen", text: "Seen" }) : null,
      ]);
    }

    function pendingNode(entry, opts) {
      var failed = entry.state === "failed";
      var text = el("div", { className: "text" });
      text.textContent = entry.text;
      return el("li", { className: "msg visitor pending" + (failed ? " failed" : ""), "data-client-id": entry.client_message_id }, [
        el("div", { className: "meta" }, [el("span", { className: "author", text: "You" }), " ", el("span", { text: failed ? "Not sent" : opts.connected ? "Sending…" : "Waiting for the connection…" })]),
        text,
        failed
          ? el("div", { className: "failed-note" }, [
              el("span", { text: entry.error || "Not sent." }),
              " ",
              el("button", { type: "button", className: "link", text: "Retry", onclick: function () { opts.retry(entry); } }),
              " ",
              el("button", { type: "button", className: "link", text: "Discard", onclick: function () { opts.discard(entry); } }),
            ])
          : null,
      ]);
    }

    function offerNode(offer, answer) {
      var status = offer.status;
      var expired = status === "offered" && Date.parse(offer.expires_at) <= Date.now();
      var children = [
        el("h3", { text: offer.label }),
        el("p", { text: offer.description }),
        el("p", { className: "totals", "data-testid": "offer-totals" }, [
          "Total before: ",
          el("s", { text: offer.total_before }),
          " → now: ",
          el("strong", { text: offer.total_after }),
        ]),
      ];
      if (status === "offered" && !expired) {
        children.push(el("p", { className: "expiry", text: "Valid until " + formatTime(offer.expires_at) }));
        children.push(
          el("div", { className: "actions" }, [
            el("button", { type: "button", className: "primary", text: "Accept offer", onclick: function () { answer(offer, true); } }),
            el("button", { type: "button", text: "Decline", onclick: function () { answer(offer, false); } }),
          ])
        );
      } else {
        var text = expired ? OFFER_STATUS.expired : OFFER_STATUS[status] || status;
        if (status === "refused_on_accept") text += offer.refusal_reason ? ": " + offer.refusal_reason : ".";
        children.push(el("p", { className: "offer-status", "data-testid": "offer-status", text: text }));
      }
      return el("li", { className: "offer " + (expired ? "expired" : status), "data-offer-id": String(offer.id), "data-testid": "chat-offer" }, children);
    }
  }

  var STYLES = [
    ":host { all: initial; }",
    "*, *::before, *::after { box-sizing: border-box; }",
    "[hidden] { display: none !important; }",
    ".sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }",
    ".panel, .launcher { font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d232b; }",
    ".panel { position: fixed; right: 16px; bottom: 16px; width: 360px; max-width: calc(100vw - 32px);",
    "  max-height: min(560px, calc(100vh - 32px)); display: flex; flex-direction: column; background: #fff;",
    "  border: 1px solid #d5dae1; border-radius: 12px; box-shadow: 0 8px 30px rgba(20, 30, 45, .22); overflow: hidden; }",
    ".head { display: flex; align-items: flex-start; gap: 4px; padding: 12px 12px 10px 16px; background: #1f4e79; color: #fff; }",
    ".head-text { flex: 1; min-width: 0; }",
    ".title { margin: 0; font-size: 16px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }",
    ".subtitle { margin: 2px 0 0; font-size: 13px; opacity: .9; }",
    "button { font: inherit; cursor: pointer; border-radius: 8px; border: 1px solid #9aa5b1; background: #fff; color: #1d232b; padding: 8px 14px; min-height: 40px; }",
    "button:disabled { opacity: .5; cursor: default; }",
    "button.primary { background: #1f4e79; border-color: #1f4e79; color: #fff; }",
    "button.icon { background: transparent; border: 0; color: #fff; font-size: 22px; line-height: 1; padding: 4px 10px; min-height: 36px; }",
    "button.link { background: none; border: 0; padding: 0; min-height: 0; color: #1f4e79; text-decoration: underline; }",
    "button:focus-visible, a:focus-visible, textarea:focus-visible, .card:focus-visible, .messages:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }",
    ".connection { margin: 0; padding: 6px 16px; background: #fff4d6; font-size: 13px; }",
    ".card { padding: 16px; border-bottom: 1px solid #e3e7ec; }",
    ".card h3 { margin: 0 0 6px; font-size: 17px; }",
    ".card p { margin: 0 0 8px; }",
    ".verify a { color: #1f4e79; }",
    ".code { font-family: ui-monospace, Menlo, Consolas, monospace; letter-spacing: .08em; }",
    ".actions { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 10px; }",
    ".messages { list-style: none; margin: 0; padding: 12px 12px 4px; overflow-y: auto; flex: 1; min-height: 120px; }",
    ".msg { margin: 0 0 10px; max-width: 85%; }",
    ".msg .meta { font-size: 12px; color: #5b6673; margin-bottom: 2px; }",
    ".msg .text { padding: 8px 12px; border-radius: 12px; background: #eef1f5; white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".msg.visitor { margin-left: auto; text-align: right; }",
    ".msg.visitor .text { background: #1f4e79; color: #fff; text-align: left; }",
    ".msg.system .text { background: transparent; color: #5b6673; font-style: italic; padding: 0; }",
    ".msg.pending .text { opacity: .7; }",
    ".msg.failed .text { background: #a4262c; }",
    ".failed-note, .error { color: #a4262c; font-size: 13px; }",
    ".seen { font-size: 12px; color: #5b6673; }",
    ".offer { margin: 0 0 10px; padding: 12px; border: 2px solid #2e7d32; border-radius: 12px; background: #f3faf3; }",
    ".offer h3 { margin: 0 0 4px; font-size: 15px; }",
    ".offer p { margin: 0 0 6px; }",
    ".offer.declined, .offer.expired, .offer.refused_on_accept, .offer.denied { border-color: #9aa5b1; background: #f6f7f9; }",
    ".totals strong { font-size: 16px; }",
    ".expiry, .offer-status { font-size: 13px; color: #3d4752; }",
    ".typing { margin: 0; padding: 0 16px 6px; font-size: 13px; color: #5b6673; font-style: italic; }",
    ".error { margin: 0; padding: 0 16px 6px; }",
    ".note { margin: 0; padding: 8px 16px; font-size: 13px; color: #5b6673; }",
    ".composer { display: flex; gap: 8px; padding: 10px 12px 12px; border-top: 1px solid #e3e7ec; }",
    "textarea { flex: 1; font: inherit; resize: none; border: 1px solid #9aa5b1; border-radius: 8px; padding: 8px; min-height: 40px; }",
    ".launcher { position: fixed; right: 16px; bottom: 16px; display: inline-flex; align-items: center; gap: 6px; padding: 10px 16px;",
    "  border-radius: 999px; border: 0; background: #1f4e79; color: #fff; box-shadow: 0 4px 16px rgba(20, 30, 45, .25); min-height: 48px; }",
    ".badge { width: 10px; height: 10px; border-radius: 50%; background: #f5a623; }",
    "@media (max-width: 480px) {",
    "  .panel { left: 0; right: 0; bottom: 0; width: 100%; max-width: 100%; max-height: 85vh; border-radius: 14px 14px 0 0; border-width: 1px 0 0; }",
    "  .launcher { right: 12px; bottom: 12px; }",
    "}",
    "@media (prefers-reduced-motion: no-preference) { .panel { animation: ca-in .15s ease-out; } }",
    "@keyframes ca-in { from { transform: translateY(12px); opacity: 0; } to { transform: none; opacity: 1; } }",
  ].join("\n");

  // Last: start() uses the constants above, and onReady may call it at once.
  CartAssist.onReady(start);
})(window, document);
