/*! CartAssist storefront widget, live chat: the Shadow DOM user interface. */

export const MAX_LENGTH = 2000; // CARTASSIST_MAX_MESSAGE_LENGTH's default; the server has the last word

export function el(tag, props, children) {
  const node = document.createElement(tag);
  if (props) {
    Object.keys(props).forEach((key) => {
      const value = props[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
  }
  (children || []).forEach((child) => {
    if (child === null || child === undefined) return;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  });
  return node;
}

export function formatTime(iso) {
  const at = new Date(iso);
  if (isNaN(at.getTime())) return "";
  const h = at.getHours();
  const m = at.getMinutes();
  return (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
}

const OFFER_STATUS = {
  accepted: "Accepted — it applies to your order.",
  declined: "You declined this offer.",
  expired: "This offer has expired.",
  denied: "This offer is no longer available.",
  refused_on_accept: "This offer could not be applied",
};

// ================================================================ ui (Shadow DOM)

export function buildUi() {
  const host = el("div", { id: "cartassist-chat", "data-cartassist": "chat" });
  // The host only positions itself; everything else lives in the shadow root, out of
  // the shop's CSS (and the shop out of ours).
  host.style.cssText = "all: initial; position: fixed; z-index: 2147483000; right: 0; bottom: 0;";
  const root = host.attachShadow({ mode: "open" });
  const css = el("style", { text: STYLES });
  const live = el("div", { className: "sr-only", role: "status", "aria-live": "polite", "aria-atomic": "true" });

  const launcher = el("button", {
    type: "button",
    className: "launcher",
    "aria-label": "Open chat",
    "data-testid": "chat-launcher",
    hidden: true,
  });
  launcher.appendChild(el("span", { "aria-hidden": "true", text: "💬" }));
  launcher.appendChild(el("span", { className: "launcher-text", text: "Chat" }));
  const badge = el("span", { className: "badge", hidden: true, "aria-hidden": "true" });
  launcher.appendChild(badge);

  // "Chat with us": shown only when the shop enables it, and only while nothing else is.
  const start = el("button", {
    type: "button",
    className: "launcher start",
    "aria-haspopup": "dialog",
    "data-testid": "chat-start",
    hidden: true,
  });
  start.appendChild(el("span", { "aria-hidden": "true", text: "💬" }));
  const startLabel = el("span", { className: "launcher-text", text: "Chat" });
  start.appendChild(startLabel);
  let startEnabled = false;

  const title = el("h2", { className: "title", id: "ca-title", text: "Chat" });
  const subtitle = el("p", { className: "subtitle", "data-testid": "chat-status" });
  const connection = el("p", { className: "connection", hidden: true, text: "Reconnecting…" });
  const minimise = el("button", { type: "button", className: "icon", "aria-label": "Minimise chat", title: "Minimise (Esc)", text: "–" });
  const end = el("button", { type: "button", className: "icon", "aria-label": "End chat", "data-testid": "chat-end", title: "End chat", text: "×" });
  const header = el("header", { className: "head" }, [el("div", { className: "head-text" }, [title, subtitle]), minimise, end]);

  const card = el("section", { className: "card", hidden: true, tabindex: "-1", "aria-labelledby": "ca-invite-title", "data-testid": "chat-invitation" });
  const list = el("ol", { className: "messages", "aria-label": "Messages", tabindex: "0", "data-testid": "chat-messages" });
  const typing = el("p", { className: "typing", hidden: true, "data-testid": "chat-typing" });
  const error = el("p", { className: "error", role: "alert", hidden: true, "data-testid": "chat-error" });
  const textarea = el("textarea", { rows: "2", id: "ca-text", maxlength: String(MAX_LENGTH), placeholder: "Write a message…", "aria-label": "Message" });
  const sendButton = el("button", { type: "submit", className: "primary", text: "Send" });
  const composerNote = el("p", { className: "note", hidden: true });
  const composer = el("form", { className: "composer", novalidate: true }, [textarea, sendButton]);

  const panel = el(
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

  let hooks = {};
  let minimised = false;
  let visible = false; // the widget has something to show (invitation or chat)
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

  minimise.addEventListener("click", () => {
    setMinimised(true);
  });
  launcher.addEventListener("click", () => {
    setMinimised(false);
    if (!card.hidden) card.focus();
    else if (!textarea.disabled) textarea.focus();
  });
  end.addEventListener("click", () => {
    if (hooks.close) hooks.close();
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      setMinimised(true);
    }
  });
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    if (hooks.send && hooks.send(textarea.value)) {
      textarea.value = "";
      showError(null);
    }
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (composer.requestSubmit) composer.requestSubmit();
      else composer.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  textarea.addEventListener("input", () => {
    if (hooks.typed && textarea.value) hooks.typed();
  });

  function showError(text) {
    error.textContent = text || "";
    error.hidden = !text;
  }

  function userIsTyping() {
    const active = document.activeElement;
    if (!active || active === host) return false;
    const tag = active.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || active.isContentEditable;
  }

  let announceTimer = null;

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
      announceTimer = window.setTimeout(() => {
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
      const hadFocus = root.activeElement !== null;
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
      const accept = el("button", { type: "button", className: "primary", text: "Accept", onclick: actions.accept });
      const dismiss = el("button", { type: "button", text: "Not now", onclick: actions.dismiss });
      const code = invitation.verification_code || "";
      const verify = verifyHref
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
      const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
      while (list.firstChild) list.removeChild(list.firstChild);
      // Each offer after the message that was the last one when it arrived.
      const offersAfter = {};
      offers.forEach((offer) => {
        const at = offer._after || 0;
        (offersAfter[at] = offersAfter[at] || []).push(offer);
      });
      function appendOffers(seq) {
        (offersAfter[seq] || []).forEach((offer) => {
          list.appendChild(offerNode(offer, opts.answerOffer));
        });
        delete offersAfter[seq];
      }
      appendOffers(0);
      messages.forEach((m) => {
        list.appendChild(messageNode(m, opts.seenSeq));
        appendOffers(m.seq);
      });
      Object.keys(offersAfter).forEach((seq) => {
        appendOffers(seq);
      });
      outbox.forEach((entry) => {
        list.appendChild(pendingNode(entry, opts));
      });
      if (nearBottom) list.scrollTop = list.scrollHeight;
    },
  };

  function messageNode(m, seenSeq) {
    const who = m.sender === "visitor" ? "You" : m.author_name || (m.sender === "agent" ? "Agent" : "CartAssist");
    const text = el("div", { className: "text" });
    text.textContent = m.text; // plain text, always
    return el("li", { className: "msg " + m.sender, "data-seq": String(m.seq) }, [
      el("div", { className: "meta" }, [el("span", { className: "author", text: who }), " ", el("time", { datetime: m.created_at, text: formatTime(m.created_at) })]),
      text,
      m.sender === "visitor" && m.seq === seenSeq ? el("div", { className: "seen", text: "Seen" }) : null,
    ]);
  }

  function pendingNode(entry, opts) {
    const failed = entry.state === "failed";
    const text = el("div", { className: "text" });
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
    const status = offer.status;
    const expired = status === "offered" && Date.parse(offer.expires_at) <= Date.now();
    const children = [
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
      let text = expired ? OFFER_STATUS.expired : OFFER_STATUS[status] || status;
      if (status === "refused_on_accept") text += offer.refusal_reason ? ": " + offer.refusal_reason : ".";
      children.push(el("p", { className: "offer-status", "data-testid": "offer-status", text }));
    }
    return el("li", { className: "offer " + (expired ? "expired" : status), "data-offer-id": String(offer.id), "data-testid": "chat-offer" }, children);
  }
}

const STYLES = [
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
