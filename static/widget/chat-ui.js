/*! CartAssist storefront widget, live chat: the Shadow DOM user interface.
 *
 * Every visible string comes from t() (i18n.js, catalogues in i18n/); shop data (names,
 * copy, messages) is put in with textContent, never as HTML. docs/WIDGET.md, "Live chat". */
import { formatMoney, formatTime, interpolateParts } from "./i18n.js";
import { PHONE_MAX_WIDTH, placePanel } from "./layout.js";

export const MAX_LENGTH = 2000; // CARTASSIST_MAX_MESSAGE_LENGTH's default; the server has the last word
const GROUP_MS = 5 * 60 * 1000; // one author's messages within this are one group
const MARGIN = 16;
const PANEL_WIDTH = 360;
const PANEL_FULL = 560;
const PANEL_MIN = 240;
const CONNECTED_SHOWN_MS = 2500;
const DEFAULT_BRAND = { colour: "#1f4e79", text: "#ffffff" };
const KEEP_VISIBLE = "[data-cartassist-keep-visible]";
const SVG = "http://www.w3.org/2000/svg";

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

/** An inline SVG icon (no icon font, no emoji: both can render as empty boxes). */
function icon(paths, size) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size || 22));
  svg.setAttribute("height", String(size || 22));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  paths.forEach((d) => {
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
  });
  return svg;
}
const ICON_CHAT = ["M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"];
const ICON_MINIMISE = ["M5 12h14"];
const ICON_CLOSE = ["M6 6l12 12", "M18 6L6 18"];

/** A #rrggbb colour, or the fallback. */
function colour(value, fallback) {
  return /^#[0-9a-f]{6}$/i.test(String(value || "")) ? value : fallback;
}

/** Things a shop's page marks as never to be covered: selectors and the attribute. */
function keepVisibleElements(selectors) {
  const found = [];
  [KEEP_VISIBLE].concat(selectors || []).forEach((selector) => {
    try {
      document.querySelectorAll(selector).forEach((node) => {
        if (found.indexOf(node) === -1) found.push(node);
      });
    } catch (ignored) {
      /* an invalid selector from the shop: skipped */
    }
  });
  return found;
}

// ================================================================ ui (Shadow DOM)

/**
 * env: {t, locale, language, dir, site: {display_name, brand_colour, text_colour, logo_url,
 * currency}, keepVisible: [selectors]}.
 */
export function buildUi(env) {
  const t = env.t;
  const site = env.site || {};
  const shopName = site.display_name || "";
  const host = el("div", { id: "cartassist-chat", "data-cartassist": "chat" });
  // The host only positions itself; everything else lives in the shadow root, out of
  // the shop's CSS (and the shop out of ours).
  host.style.cssText = "all: initial; position: fixed; z-index: 2147483000; right: 0; bottom: 0;";
  const shadow = host.attachShadow({ mode: "open" });
  const root = el("div", { className: "root", dir: env.dir, lang: env.language, "data-testid": "chat-root" });
  root.style.setProperty("--ca-brand", colour(site.brand_colour, DEFAULT_BRAND.colour));
  root.style.setProperty("--ca-on-brand", colour(site.text_colour, DEFAULT_BRAND.text));
  const live = el("div", { className: "sr-only", role: "status", "aria-live": "polite", "aria-atomic": "true" });

  const launcher = el("button", { type: "button", className: "launcher", "aria-label": t("launcher.open"), "data-testid": "chat-launcher", hidden: true }, [
    icon(ICON_CHAT),
    el("span", { className: "launcher-text", text: t("launcher.text"), "aria-hidden": "true" }),
  ]);
  const badge = el("span", { className: "badge", hidden: true, "aria-hidden": "true" });
  launcher.appendChild(badge);

  // "Chat with us": shown only when the shop enables it, and only while nothing else is.
  const startLabel = el("span", { className: "launcher-text", text: t("launcher.start") });
  const start = el("button", { type: "button", className: "launcher start", "aria-haspopup": "dialog", "data-testid": "chat-start", hidden: true }, [icon(ICON_CHAT), startLabel]);
  let startEnabled = false;

  const avatar = el("span", { className: "avatar head-avatar", "aria-hidden": "true" });
  const title = el("h2", { className: "title", id: "ca-title", text: shopName || t("chat.title"), "data-testid": "chat-title" });
  const subtitle = el("p", { className: "subtitle", "data-testid": "chat-status" });
  const connection = el("p", { className: "connection", role: "status", "aria-live": "polite", "data-testid": "chat-connection" });
  const minimise = el("button", { type: "button", className: "icon", "aria-label": t("head.minimise"), title: t("head.minimise_hint") }, [icon(ICON_MINIMISE, 20)]);
  const end = el("button", { type: "button", className: "icon", "aria-label": t("head.end"), "data-testid": "chat-end", title: t("head.end") }, [icon(ICON_CLOSE, 20)]);
  // A plain div: a <header> here would be a second "banner" landmark on the shop's page.
  const head = el("div", { className: "head" }, [avatar, el("div", { className: "head-text" }, [title, subtitle]), minimise, end]);

  const card = el("section", { className: "card", hidden: true, tabindex: "-1", "aria-labelledby": "ca-invite-title", "data-testid": "chat-invitation" });
  const list = el("ol", { className: "messages", "aria-label": t("messages.label"), tabindex: "0", "data-testid": "chat-messages" });
  const typing = el("p", { className: "typing", hidden: true, "data-testid": "chat-typing" });
  const error = el("p", { className: "error", role: "alert", hidden: true, "data-testid": "chat-error" });
  const textarea = el("textarea", { rows: "2", id: "ca-text", maxlength: String(MAX_LENGTH), placeholder: t("composer.placeholder"), "aria-label": t("composer.label") });
  const sendButton = el("button", { type: "submit", className: "primary", text: t("composer.send") });
  const composerNote = el("p", { className: "note", hidden: true });
  const composer = el("form", { className: "composer", novalidate: true }, [textarea, sendButton]);

  const panel = el("section", { className: "panel", hidden: true, role: "dialog", "aria-modal": "false", "aria-labelledby": "ca-title", "data-testid": "chat-panel" }, [
    head,
    connection,
    card,
    list,
    typing,
    error,
    composerNote,
    composer,
  ]);
  shadow.appendChild(el("style", { text: STYLES }));
  root.appendChild(live);
  root.appendChild(panel);
  root.appendChild(launcher);
  root.appendChild(start);
  shadow.appendChild(root);
  setAvatar(avatar, { name: shopName, photo: site.logo_url });

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
    if (!minimised) showBadge(false);
    panel.classList.toggle("inviting", !card.hidden);
    place();
  }

  function showBadge(on) {
    badge.hidden = !on;
    launcher.setAttribute("aria-label", on ? t("launcher.open_unread") : t("launcher.open"));
  }

  // ------------------------------------------------------------ placement
  // Never over the shop's total or checkout button (docs/WIDGET.md): on wide screens the
  // panel takes the side and height that leave the marked elements visible; on phones it
  // is a bottom sheet (a compact bar for invitations) and the page gets room below its
  // content to scroll past the widget.
  let side = null;
  let reserved = null; // the body's own inline padding-bottom, while we add to it
  let placing = 0;

  function isPhone() {
    return window.innerWidth <= PHONE_MAX_WIDTH;
  }

  function place() {
    const phone = isPhone();
    // A shorter panel keeps the latest message in view.
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    root.classList.toggle("phone", phone);
    panel.style.removeProperty("left");
    panel.style.removeProperty("right");
    panel.style.removeProperty("max-height");
    let covers = false;
    if (!phone && !panel.hidden) {
      const sides = env.dir === "rtl" ? ["left", "right"] : ["right", "left"];
      const marked = keepVisibleElements(env.keepVisible);
      watch(marked);
      const obstacles = marked.map((node) => {
        return node.getBoundingClientRect();
      });
      const full = Math.min(PANEL_FULL, window.innerHeight - 2 * MARGIN);
      const width = Math.min(PANEL_WIDTH, window.innerWidth - 2 * MARGIN);
      const at = placePanel({
        viewport: { width: window.innerWidth, height: window.innerHeight },
        obstacles,
        width,
        full,
        min: Math.min(PANEL_MIN, full),
        margin: MARGIN,
        sides,
        current: side,
      });
      side = at.side;
      covers = at.covers;
      panel.style.setProperty(side, MARGIN + "px");
      panel.style.setProperty(side === "left" ? "right" : "left", "auto");
      panel.style.setProperty("max-height", at.height + "px");
      panel.dataset.side = side;
    }
    reserve(phone || covers || panel.hidden ? footprint() : 0);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  /** How far the widget reaches up from the bottom of the window, in CSS pixels. */
  function footprint() {
    let top = window.innerHeight;
    [panel, launcher, start].forEach((node) => {
      if (node.hidden) return;
      const rect = node.getBoundingClientRect();
      if (rect.height) top = Math.min(top, rect.top);
    });
    return Math.max(0, Math.ceil(window.innerHeight - top));
  }

  /** Room below the page's content, so that it can be scrolled above the widget. */
  let ownPadding = 0;
  let reservedPixels = 0;
  function reserve(pixels) {
    const body = document.body;
    if (pixels === reservedPixels) return;
    reservedPixels = pixels;
    if (!pixels) {
      if (reserved !== null) body.style.paddingBottom = reserved;
      reserved = null;
      body.removeAttribute("data-cartassist-reserved");
      return;
    }
    if (reserved === null) {
      reserved = body.style.paddingBottom;
      ownPadding = parseFloat(window.getComputedStyle(body).paddingBottom) || 0;
    }
    body.style.paddingBottom = ownPadding + pixels + MARGIN + "px";
    body.setAttribute("data-cartassist-reserved", String(pixels + MARGIN));
  }

  function placeSoon() {
    if (placing) return;
    placing = window.requestAnimationFrame(() => {
      placing = 0;
      if (visible || startEnabled) place();
    });
  }
  window.addEventListener("resize", placeSoon);
  window.addEventListener("scroll", placeSoon, { passive: true });
  // The shop's page changes too (a grant row appears above the total): place again when
  // the page or a marked element changes size.
  const watcher = typeof window.ResizeObserver === "function" ? new window.ResizeObserver(placeSoon) : null;
  const watched = [];
  function watch(nodes) {
    if (!watcher) return;
    nodes.concat([document.body]).forEach((node) => {
      if (watched.indexOf(node) !== -1) return;
      watched.push(node);
      watcher.observe(node);
    });
  }

  // ------------------------------------------------------------ behaviour
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
    else if (!textarea.disabled && !composer.hidden) textarea.focus();
    else minimise.focus();
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
  let connectedTimer = null;

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
      if (minimised && visible) showBadge(true);
    },
    /** "offline" | "reconnecting" | "connected" (shown briefly) | "ok" (nothing shown). */
    connection: function (stateName) {
      window.clearTimeout(connectedTimer);
      const text = {
        offline: t("connection.offline"),
        reconnecting: t("connection.reconnecting"),
        connected: t("connection.connected"),
      }[stateName];
      connection.className = "connection " + stateName;
      connection.dataset.state = stateName;
      connection.textContent = text || "";
      connection.hidden = !text;
      if (stateName === "connected") {
        connectedTimer = window.setTimeout(() => {
          connection.hidden = true;
          connection.textContent = "";
          connection.dataset.state = "ok";
        }, CONNECTED_SHOWN_MS);
      }
      placeSoon();
    },
    showChat: function () {
      mount();
      visible = true;
      layout();
    },
    hideChat: function () {
      const hadFocus = shadow.activeElement !== null;
      visible = false;
      layout();
      if (hadFocus && startEnabled) start.focus(); // keep keyboard users in the widget
    },
    enableStart: function (label, onStart) {
      if (label) startLabel.textContent = label;
      start.addEventListener("click", onStart);
      startEnabled = true;
      mount();
      layout();
    },
    /** The panel while a shopper-started chat opens (or failed to): status only. */
    starting: function (status) {
      mount();
      card.hidden = true;
      subtitle.textContent = status;
      subtitle.hidden = false;
      end.hidden = false;
      end.setAttribute("aria-label", t("head.close"));
      list.hidden = true;
      composer.hidden = true;
      composerNote.hidden = true;
      visible = true;
      minimised = false;
      layout();
      minimise.focus();
    },
    /** agent: {name, photo} or null; status: the line under the shop's name. */
    header: function (agent, status, ended) {
      setAvatar(avatar, agent && agent.name ? agent : { name: shopName, photo: site.logo_url });
      subtitle.textContent = status || "";
      subtitle.hidden = !status;
      end.hidden = !status;
      end.setAttribute("aria-label", ended ? t("head.close") : t("head.end"));
      end.setAttribute("title", ended ? t("head.close") : t("head.end"));
      list.hidden = !status;
      composer.hidden = !status;
      placeSoon();
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
    showInvitation: function (invitation, agent, verifyHref, actions) {
      mount();
      while (card.firstChild) card.removeChild(card.firstChild);
      const accept = el("button", { type: "button", className: "primary", text: t("invite.accept"), onclick: actions.accept });
      const dismiss = el("button", { type: "button", text: t("invite.dismiss"), onclick: actions.dismiss });
      card.appendChild(el("h3", { id: "ca-invite-title", text: invitation.headline || t("invite.heading") }));
      if (invitation.body) card.appendChild(el("p", { className: "body", text: invitation.body }));
      const who = agent && agent.name ? el("p", { className: "agent", "data-testid": "chat-agent" }, interpolateParts(t("invite.will_answer"), { name: el("strong", { text: agent.name }) })) : null;
      card.appendChild(el("div", { className: "from" }, [agent && agent.name ? avatarNode(agent) : null, el("div", { className: "from-text" }, [who, el("p", { className: "verify" }, [verifyNode(invitation.verification_code, verifyHref)])])]));
      card.appendChild(el("div", { className: "actions" }, [accept, dismiss]));
      card.hidden = false;
      visible = true;
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
      layout();
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
      let previous = null; // the last message shown, for grouping
      function appendOffers(seq) {
        (offersAfter[seq] || []).forEach((offer) => {
          list.appendChild(offerNode(offer, opts.answerOffer));
          previous = null;
        });
        delete offersAfter[seq];
      }
      appendOffers(0);
      messages.forEach((m) => {
        const who = opts.author(m);
        const grouped = !!previous && m.kind !== "invitation" && previous.kind !== "invitation" && previous.sender === m.sender && previous.who.name === who.name && Date.parse(m.created_at) - Date.parse(previous.created_at) < GROUP_MS;
        list.appendChild(m.kind === "invitation" ? invitationMessageNode(m, who, opts) : messageNode(m, who, opts.seenSeq, grouped));
        previous = { sender: m.sender, kind: m.kind, who, created_at: m.created_at };
        appendOffers(m.seq);
      });
      Object.keys(offersAfter).forEach((seq) => {
        appendOffers(seq);
      });
      outbox.forEach((entry) => {
        list.appendChild(pendingNode(entry, opts, !!previous && previous.sender === "visitor"));
        previous = { sender: "visitor", who: { name: "" }, created_at: new Date().toISOString() };
      });
      if (nearBottom) list.scrollTop = list.scrollHeight;
      placeSoon();
    },
  };

  // ------------------------------------------------------------ nodes
  function time(iso) {
    return el("time", { datetime: iso, text: formatTime(iso, env.locale) });
  }

  function metaNode(m, who, grouped) {
    const children = [m.sender === "visitor" ? null : avatarNode(who), el("span", { className: "author", text: who.name }), " ", time(m.created_at)];
    // A grouped message shows no name: screen readers still hear who and when.
    return el("div", { className: grouped ? "meta sr-only" : "meta" }, children);
  }

  function messageNode(m, who, seenSeq, grouped) {
    const text = el("div", { className: "text" });
    text.textContent = m.text; // plain text, always
    return el("li", { className: "msg " + m.sender + (grouped ? " grouped" : ""), "data-seq": String(m.seq) }, [
      metaNode(m, who, grouped),
      text,
      m.sender === "visitor" && m.seq === seenSeq ? el("div", { className: "seen", text: t("message.seen") }) : null,
    ]);
  }

  /** Why an accepted offer could not be applied, in the shopper's language: the server's
   * code worded by the catalogue (its English text is for the agent). */
  function refusalText(offer) {
    const reasons = {
      cart_changed: t("offer.refused.cart_changed"),
      currency_changed: t("offer.refused.currency_changed"),
      delivery_changed: t("offer.refused.delivery_changed"),
      total_below_discount: t("offer.refused.total_below_discount"),
    };
    const reason = reasons[offer.refusal_code];
    return reason ? t("offer.status.refused_because", { reason }) : t("offer.status.refused");
  }

  /** The invitation the chat began with: who sent it, its copy and its verification code. */
  function invitationMessageNode(m, who, opts) {
    const meta = m.meta || {};
    const parts = [metaNode(m, who, false)];
    const body = el("div", { className: "invite", "data-testid": "chat-invitation-message" }, [
      el("p", { className: "invite-from", text: t("invite.from", { name: who.name }) }),
      // The copy, as the message's text: headline, then body.
      el("div", { className: "text invite-text" }, [
        meta.headline ? el("strong", { className: "invite-headline", text: meta.headline }) : null,
        meta.headline && meta.body ? "\n" : null, // read as two lines when copied or compared
        meta.body ? el("p", { className: "invite-body", text: meta.body }) : null,
        !meta.headline && !meta.body ? el("p", { className: "invite-body", text: m.text }) : null,
      ]),
      meta.verification_code ? el("p", { className: "verify" }, [verifyNode(meta.verification_code, opts.verifyHref(meta.verify_url))]) : null,
    ]);
    parts.push(body);
    return el("li", { className: "msg " + m.sender + " invitation", "data-seq": String(m.seq) }, parts);
  }

  function verifyNode(code, href) {
    const strong = el("strong", { className: "code", text: code || "" });
    return href
      ? el("a", { href, target: "_blank", rel: "noopener noreferrer", "data-testid": "chat-verify" }, interpolateParts(t("invite.verify"), { code: strong }))
      : el("span", { "data-testid": "chat-verify" }, interpolateParts(t("invite.code"), { code: strong }));
  }

  function pendingNode(entry, opts, grouped) {
    const failed = entry.state === "failed";
    const text = el("div", { className: "text" });
    text.textContent = entry.text;
    const state = failed ? t("outbox.not_sent") : opts.connected ? t("outbox.sending") : t("outbox.waiting");
    return el("li", { className: "msg visitor pending" + (failed ? " failed" : "") + (grouped ? " grouped" : ""), "data-client-id": entry.client_message_id }, [
      el("div", { className: "meta" }, [el("span", { className: "author" + (grouped ? " sr-only" : ""), text: t("message.you") }), " ", el("span", { className: "state", "data-testid": "chat-pending-state", text: state })]),
      text,
      failed
        ? el("div", { className: "failed-note" }, [
            el("span", { text: entry.error || t("outbox.not_sent_reason") }),
            " ",
            el("button", { type: "button", className: "link", text: t("outbox.retry"), onclick: function () { opts.retry(entry); } }),
            " ",
            el("button", { type: "button", className: "link", text: t("outbox.discard"), onclick: function () { opts.discard(entry); } }),
          ])
        : null,
    ]);
  }

  function offerTexts(offer) {
    const amount = formatMoney(offer.amount, offer.currency, env.locale);
    const labels = {
      waive_delivery: t("offer.label.waive_delivery"),
      reduce_delivery: t("offer.label.reduce_delivery"),
      discount: t("offer.label.discount"),
      free_gift: t("offer.label.free_gift"),
      hold_stock: t("offer.label.hold_stock"),
    };
    const descriptions = offer.amount
      ? {
          waive_delivery: t("offer.description.waive_delivery", { amount }),
          reduce_delivery: t("offer.description.reduce_delivery", { amount }),
          discount: t("offer.description.discount", { amount }),
        }
      : {};
    return { label: labels[offer.kind] || offer.label, description: descriptions[offer.kind] || offer.description };
  }

  function offerNode(offer, answer) {
    const status = offer.status;
    const expired = status === "offered" && Date.parse(offer.expires_at) <= Date.now();
    const texts = offerTexts(offer);
    const money = (value) => {
      return formatMoney(value, offer.currency, env.locale);
    };
    const children = [
      el("h3", { text: texts.label }),
      el("p", { text: texts.description }),
      el("p", { className: "totals", "data-testid": "offer-totals" }, interpolateParts(t("offer.totals"), { before: el("s", { text: money(offer.total_before) }), after: el("strong", { text: money(offer.total_after) }) })),
    ];
    if (status === "offered" && !expired) {
      children.push(el("p", { className: "expiry" }, interpolateParts(t("offer.valid_until"), { time: time(offer.expires_at) })));
      children.push(
        el("div", { className: "actions" }, [
          el("button", { type: "button", className: "primary", text: t("offer.accept"), onclick: function () { answer(offer, true); } }),
          el("button", { type: "button", text: t("offer.decline"), onclick: function () { answer(offer, false); } }),
        ])
      );
    } else {
      const statuses = {
        accepted: t("offer.status.accepted"),
        declined: t("offer.status.declined"),
        expired: t("offer.status.expired"),
        denied: t("offer.status.denied"),
        refused_on_accept: refusalText(offer),
      };
      const text = expired ? statuses.expired : statuses[status] || status;
      children.push(el("p", { className: "offer-status", "data-testid": "offer-status", text }));
    }
    return el("li", { className: "offer " + (expired ? "expired" : status), "data-offer-id": String(offer.id), "data-testid": "chat-offer" }, children);
  }
}

/** A round avatar: the photo or logo, else the name's first letter on the brand colour. */
function avatarNode(who) {
  const node = el("span", { className: "avatar", "aria-hidden": "true" });
  setAvatar(node, who);
  return node;
}

function setAvatar(node, who) {
  while (node.firstChild) node.removeChild(node.firstChild);
  const name = (who && who.name) || "";
  const initial = el("span", { className: "initial", text: name ? Array.from(name.trim())[0].toUpperCase() : "" });
  const photo = who && typeof who.photo === "string" && /^(https?:\/\/|\/)/i.test(who.photo) ? who.photo : "";
  node.hidden = !name && !photo;
  if (!photo) {
    node.appendChild(initial);
    return;
  }
  const img = el("img", { src: photo, alt: "", loading: "lazy", referrerpolicy: "no-referrer" });
  img.addEventListener("error", () => {
    if (img.parentNode === node) node.replaceChild(initial, img);
  });
  node.appendChild(img);
}

// Logical properties (inset-inline-end, margin-inline-start, text-align: start) so that
// dir="rtl" mirrors the layout. Brand colour and its text colour come from the site.
const STYLES = [
  ":host { all: initial; }",
  "*, *::before, *::after { box-sizing: border-box; }",
  "[hidden] { display: none !important; }",
  ".sr-only { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }",
  ".root { --ca-ink: #1d232b; --ca-muted: #55606d; --ca-line: #d5dae1; }",
  ".panel, .launcher { font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: var(--ca-ink); text-align: start; }",
  ".panel { position: fixed; inset-inline-end: 16px; bottom: 16px; width: 360px; max-width: calc(100vw - 32px);",
  "  max-height: min(560px, calc(100vh - 32px)); display: flex; flex-direction: column; background: #fff;",
  "  border: 1px solid var(--ca-line); border-radius: 12px; box-shadow: 0 8px 30px rgba(20, 30, 45, .22); overflow: hidden; }",
  ".head { display: flex; align-items: center; gap: 8px; padding-block: 10px; padding-inline: 12px 6px; background: var(--ca-brand); color: var(--ca-on-brand); flex: none; }",
  ".head-text { flex: 1; min-width: 0; }",
  ".title { margin: 0; font-size: 16px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: inherit; }",
  ".subtitle { margin: 2px 0 0; font-size: 13px; color: inherit; }",
  ".avatar { flex: none; display: inline-grid; place-items: center; width: 32px; height: 32px; border-radius: 50%; overflow: hidden;",
  "  background: var(--ca-brand); color: var(--ca-on-brand); font-weight: 600; font-size: 14px; }",
  ".head .avatar { width: 36px; height: 36px; background: #fff; color: var(--ca-ink); box-shadow: 0 0 0 2px rgba(255,255,255,.6); }",
  ".avatar img { width: 100%; height: 100%; object-fit: cover; background: #fff; }",
  "button { font: inherit; cursor: pointer; border-radius: 8px; border: 1px solid #7b8794; background: #fff; color: var(--ca-ink); padding: 8px 14px; min-height: 40px; min-width: 40px; }",
  "button:disabled { opacity: .55; cursor: default; }",
  "button.primary { background: var(--ca-brand); border-color: var(--ca-brand); color: var(--ca-on-brand); }",
  "button.icon { display: inline-grid; place-items: center; background: transparent; border: 0; color: inherit; padding: 0; width: 40px; height: 40px; }",
  "svg { fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }",
  "button.link { background: none; border: 0; padding: 2px 4px; min-height: 24px; min-width: 24px; color: var(--ca-ink); text-decoration: underline; }",
  "button:focus-visible, a:focus-visible, textarea:focus-visible, .card:focus-visible, .messages:focus-visible {",
  "  outline: 3px solid #111827; outline-offset: 2px; box-shadow: 0 0 0 2px #fff; }",
  ".connection { margin: 0; padding: 6px 16px; font-size: 13px; background: #fff4d6; color: #3f2d00; flex: none; }",
  ".connection.offline { background: #fde8e8; color: #7a1a1a; }",
  ".connection.connected { background: #e6f4ea; color: #14532d; }",
  ".card { padding: 16px; border-bottom: 1px solid #e3e7ec; overflow-y: auto; }",
  ".card h3 { margin: 0 0 6px; font-size: 17px; }",
  ".card p { margin: 0 0 6px; }",
  ".from { display: flex; gap: 10px; align-items: center; margin-top: 8px; }",
  ".from-text p { margin: 0; }",
  ".verify { font-size: 13px; }",
  ".verify a, .invite a { color: var(--ca-ink); }",
  ".code { font-family: ui-monospace, Menlo, Consolas, monospace; letter-spacing: .08em; }",
  ".actions { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 10px; }",
  ".messages { list-style: none; margin: 0; padding: 12px 12px 4px; overflow-y: auto; flex: 1; min-height: 80px; }",
  ".msg { margin: 10px 0 0; max-width: 85%; }",
  ".msg.grouped { margin-top: 3px; }",
  ".msg:first-child { margin-top: 0; }",
  ".msg .meta { display: flex; align-items: center; gap: 6px; font-size: 12px; color: var(--ca-muted); margin-bottom: 3px; }",
  ".msg .meta .avatar { width: 24px; height: 24px; font-size: 12px; }",
  ".msg .author { font-weight: 600; color: var(--ca-ink); }",
  ".msg .text { padding: 8px 12px; border-radius: 12px; background: #eef1f5; white-space: pre-wrap; overflow-wrap: anywhere; }",
  ".msg.visitor { margin-inline-start: auto; }",
  ".msg.visitor .meta { justify-content: flex-end; }",
  ".msg.visitor .text { background: var(--ca-brand); color: var(--ca-on-brand); }",
  ".msg.system .text { background: transparent; color: var(--ca-muted); font-style: italic; padding: 0; }",
  ".msg.pending .text { opacity: .8; }",
  ".msg.failed .text { background: #a4262c; color: #fff; }",
  ".msg.invitation { max-width: 92%; }",
  ".invite { padding: 10px 12px; border-radius: 12px; border: 1px solid var(--ca-line); border-inline-start: 4px solid var(--ca-brand); background: #fafbfc; }",
  ".invite p { margin: 4px 0 0; }",
  ".msg .invite .text { padding: 0; background: none; border-radius: 0; white-space: normal; }",
  ".invite-from { font-size: 12px; color: var(--ca-muted); margin: 0 0 4px !important; }",
  ".failed-note, .error { color: #a4262c; font-size: 13px; }",
  ".seen { font-size: 12px; color: var(--ca-muted); text-align: end; }",
  ".offer { margin: 10px 0 0; padding: 12px; border: 2px solid #2e7d32; border-radius: 12px; background: #f3faf3; }",
  ".offer h3 { margin: 0 0 4px; font-size: 15px; }",
  ".offer p { margin: 0 0 6px; }",
  ".offer.declined, .offer.expired, .offer.refused_on_accept, .offer.denied { border-color: #7b8794; background: #f6f7f9; }",
  ".totals strong { font-size: 16px; }",
  ".expiry, .offer-status { font-size: 13px; color: #3d4752; }",
  ".typing { margin: 0; padding: 0 16px 6px; font-size: 13px; color: var(--ca-muted); font-style: italic; }",
  ".error { margin: 0; padding: 0 16px 6px; }",
  ".note { margin: 0; padding: 8px 16px; font-size: 13px; color: var(--ca-muted); }",
  ".composer { display: flex; gap: 8px; padding: 10px 12px 12px; border-top: 1px solid #e3e7ec; flex: none; }",
  "textarea { flex: 1; font: inherit; resize: none; border: 1px solid #7b8794; border-radius: 8px; padding: 8px; min-height: 40px; color: var(--ca-ink); }",
  ".launcher { position: fixed; inset-inline-end: 16px; bottom: 16px; display: inline-flex; align-items: center; gap: 8px; padding: 10px 18px;",
  "  border-radius: 999px; border: 0; background: var(--ca-brand); color: var(--ca-on-brand); box-shadow: 0 4px 16px rgba(20, 30, 45, .25); min-height: 48px; }",
  ".badge { width: 10px; height: 10px; border-radius: 50%; background: #f5a623; box-shadow: 0 0 0 2px #fff; }",
  // Phones: a bottom sheet that leaves the top of the page visible; invitations are a
  // compact bar (headline, who, code, two buttons). The page scrolls past either.
  ".phone .panel { inset-inline: 0; bottom: 0; width: 100%; max-width: 100%; max-height: 62vh; border-radius: 14px 14px 0 0; border-width: 1px 0 0; }",
  ".phone .panel.inviting { max-height: 45vh; }",
  ".phone .panel.inviting .head, .phone .card .body { display: none; }",
  ".phone .card { padding: 10px 12px; border: 0; }",
  ".phone .card h3 { font-size: 15px; margin: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }",
  ".phone .from { margin-top: 2px; }",
  ".phone .from .avatar { display: none; }",
  ".phone .from-text { display: flex; flex-wrap: wrap; gap: 0 8px; font-size: 13px; }",
  ".phone .actions { margin-top: 6px; flex-wrap: nowrap; }",
  ".phone .actions button { flex: 1; min-height: 40px; padding-block: 6px; }",
  ".phone .launcher { inset-inline-end: 12px; bottom: 12px; }",
  "@media (prefers-reduced-motion: no-preference) { .panel { animation: ca-in .15s ease-out; } }",
  "@keyframes ca-in { from { transform: translateY(12px); opacity: 0; } to { transform: none; opacity: 1; } }",
].join("\n");
