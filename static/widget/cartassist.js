/*! CartAssist storefront widget: cart event tracking. No dependencies, no build step.
 *
 * Integration guide: docs/WIDGET.md. Wire format: docs/API.md ("Events").
 *
 *   <script src="https://cartassist.example/static/widget/cartassist.js"
 *           data-site-key="pk_…" async></script>
 *
 * Layout: small modules inside one closure, each with one job (util → storage →
 * identity → queue → transport → sender → api). This file is a classic script, so that
 * the tag shops paste keeps working as documented; the live chat is ES modules in this
 * folder (chat.js and its imports), imported after init, which reach the core through
 * CartAssist.onReady(fn).
 *
 * Delivery is at-least-once: an event leaves the queue (kept in localStorage, so it
 * survives navigation) only when the server has answered "stored" or "duplicate" for
 * it; the server de-duplicates by event id, so every resend is safe.
 */
(function (window, document) {
  "use strict";

  const previous = window.CartAssist;
  if (previous && previous.__loaded) {
    return; // the script tag is on the page twice: the first copy is in charge
  }

  const VERSION = "1.0.0";
  const ENDPOINT = "/api/v1/widget/events";
  const RESUME_ENDPOINT = "/api/v1/widget/resume";
  // The parameter of an email's link back into the chat (docs/REALTIME.md).
  const RESUME_PARAMETER = "cartassist_resume";

  // Tunables (docs/WIDGET.md, "Delivery").
  const FLUSH_DELAY_MS = 1000; // batch events tracked within this window
  const FLUSH_AT_EVENTS = 20; // ... or send at once when this many are waiting
  const MAX_BATCH = 100; // the server's limit (CARTASSIST_MAX_BATCH_EVENTS)
  const MAX_QUEUE = 1000; // oldest events are dropped beyond this
  const MAX_EVENT_AGE_MS = 71 * 3600 * 1000; // the server refuses events older than 72 h
  const RETRY_BASE_MS = 1000;
  const RETRY_MAX_MS = 60 * 1000;
  const RETRY_AFTER_MAX_MS = 60 * 60 * 1000;
  const BEACON_MAX_BYTES = 60 * 1024; // browsers cap beacon/keepalive bodies at 64 KiB
  const KEEPALIVE_MAX_BYTES = 60 * 1024;

  // ---------------------------------------------------------------- util
  const util = (function () {
    const ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

    function uuid() {
      const c = window.crypto;
      // randomUUID exists only in secure contexts (https, localhost).
      if (c && typeof c.randomUUID === "function") {
        try {
          return c.randomUUID();
        } catch (ignored) {
          /* fall through */
        }
      }
      const bytes = c.getRandomValues(new Uint8Array(16));
      let i;
      bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
      bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
      let hex = "";
      for (i = 0; i < 16; i++) {
        hex += (bytes[i] + 0x100).toString(16).slice(1);
        if (i === 3 || i === 5 || i === 7 || i === 9) hex += "-";
      }
      return hex;
    }

    function isId(value) {
      return typeof value === "string" && ID_PATTERN.test(value);
    }

    function byteLength(text) {
      return new TextEncoder().encode(text).length;
    }

    function warn(...args) {
      console.warn("[CartAssist]", ...args);
    }

    /** Retry-After in ms: delta-seconds or an HTTP date; null when absent or unreadable. */
    function parseRetryAfter(value, now) {
      if (!value) return null;
      let ms;
      if (/^\s*\d+\s*$/.test(value)) {
        ms = parseInt(value, 10) * 1000;
      } else {
        const at = Date.parse(value);
        if (isNaN(at)) return null;
        ms = at - now;
      }
      return Math.max(0, Math.min(ms, RETRY_AFTER_MAX_MS));
    }

    function trimSlash(url) {
      return String(url).replace(/\/+$/, "");
    }

    return {
      uuid,
      isId,
      byteLength,
      warn,
      parseRetryAfter,
      trimSlash,
    };
  })();

  // ---------------------------------------------------------------- storage
  // localStorage under "cartassist:v1:<name>", JSON values. Falls back to memory when
  // localStorage is unavailable (privacy modes, sandboxed frames) or full.
  const storage = (function () {
    const PREFIX = "cartassist:v1:";
    const memory = {};
    let local = null;
    try {
      local = window.localStorage;
      local.setItem(PREFIX + "probe", "1");
      local.removeItem(PREFIX + "probe");
    } catch (ignored) {
      local = null;
    }

    function get(name) {
      let raw = Object.prototype.hasOwnProperty.call(memory, name) ? memory[name] : null;
      if (raw === null && local) {
        try {
          raw = local.getItem(PREFIX + name);
        } catch (ignored) {
          raw = null;
        }
      }
      if (raw === null || raw === undefined) return null;
      try {
        return JSON.parse(raw);
      } catch (ignored) {
        return null;
      }
    }

    function set(name, value) {
      const raw = JSON.stringify(value);
      if (local) {
        try {
          local.setItem(PREFIX + name, raw);
          delete memory[name];
          return true;
        } catch (ignored) {
          /* quota exceeded: keep it for this page at least */
        }
      }
      memory[name] = raw;
      return false;
    }

    function remove(name) {
      delete memory[name];
      if (local) {
        try {
          local.removeItem(PREFIX + name);
        } catch (ignored) {
          /* nothing to do */
        }
      }
    }

    return { get, set, remove, persistent: !!local };
  })();

  // ---------------------------------------------------------------- identity
  // Who is shopping and which cart events belong to. The visitor id is generated once
  // per browser (unless the shop supplies its own); the cart id is the shop's, set with
  // setCart(), or one generated here until the shop sets one.
  const identity = (function () {
    const state = { visitorId: null, cartId: null, customerId: null, customerHmac: null };

    function visitorId() {
      if (state.visitorId) return state.visitorId;
      let stored = storage.get("visitor");
      if (!util.isId(stored)) {
        stored = "v-" + util.uuid();
        storage.set("visitor", stored);
      }
      state.visitorId = stored;
      return stored;
    }

    function setVisitor(id) {
      if (!util.isId(id)) {
        util.warn("visitorId must be 1–64 letters, digits, '.', '_', ':' or '-'; ignored:", id);
        return;
      }
      state.visitorId = id;
      storage.set("visitor", id);
    }

    function cartId() {
      if (state.cartId) return state.cartId;
      let stored = storage.get("cart");
      if (!util.isId(stored)) {
        stored = "c-" + util.uuid();
        storage.set("cart", stored);
      }
      state.cartId = stored;
      return stored;
    }

    function setCart(id) {
      if (id === null || id === undefined || id === "") {
        state.cartId = null;
        storage.remove("cart");
        return;
      }
      id = String(id);
      if (!util.isId(id)) {
        util.warn("setCart: a cart id is 1–64 letters, digits, '.', '_', ':' or '-'; ignored:", id);
        return;
      }
      state.cartId = id;
      storage.set("cart", id);
    }

    /** The cart is finished (order completed): the next event starts a new cart. */
    function forgetCart(id) {
      if (cartId() === id) setCart(null);
    }

    function setCustomer(customerId, customerHmac) {
      if (customerId === null || customerId === undefined || customerId === "") {
        state.customerId = state.customerHmac = null;
        return;
      }
      customerId = String(customerId);
      if (!util.isId(customerId)) {
        util.warn("customerId must be 1–64 letters, digits, '.', '_', ':' or '-'; ignored.");
        return;
      }
      if (!customerHmac) {
        // The server refuses a customer_id without its HMAC, and with it the whole event.
        util.warn("customerId needs customerHmac (computed on your server); events are sent without it.");
        return;
      }
      state.customerId = customerId;
      state.customerHmac = String(customerHmac);
    }

    function customer() {
      return state.customerId ? { id: state.customerId, hmac: state.customerHmac } : null;
    }

    return {
      visitorId,
      setVisitor,
      cartId,
      setCart,
      forgetCart,
      setCustomer,
      customer,
    };
  })();

  // ---------------------------------------------------------------- queue
  // Unsent events, oldest first, in localStorage under "queue:<site key>" so that
  // events survive navigation and are adopted by the next page of the shop.
  const queue = (function () {
    let name = null;

    function bind(siteKey) {
      name = "queue:" + siteKey;
      const now = Date.now();
      const kept = all().filter((event) => {
        const at = Date.parse(event.occurred_at);
        return !isNaN(at) && now - at < MAX_EVENT_AGE_MS;
      });
      storage.set(name, kept);
    }

    function all() {
      const events = name ? storage.get(name) : null;
      return Array.isArray(events) ? events : [];
    }

    function add(event) {
      const events = all();
      events.push(event);
      if (events.length > MAX_QUEUE) {
        const dropped = events.splice(0, events.length - MAX_QUEUE);
        util.warn("queue full: dropped the " + dropped.length + " oldest unsent event(s).");
      }
      storage.set(name, events);
    }

    function remove(ids) {
      if (!ids.length) return;
      const gone = {};
      ids.forEach((id) => {
        gone[id] = true;
      });
      storage.set(
        name,
        all().filter((event) => {
          return !gone[event.id];
        })
      );
    }

    return { bind, all, add, remove };
  })();

  // ---------------------------------------------------------------- transport
  const transport = (function () {
    function body(siteKey, events) {
      return JSON.stringify({ site_key: siteKey, events });
    }

    /** POST a batch; resolves (never rejects) with {status, body, retryAfter}. */
    function post(url, siteKey, events) {
      const text = body(siteKey, events);
      const init = {
        method: "POST",
        // text/plain is a "simple" content type: no CORS preflight round trip.
        headers: { "Content-Type": "text/plain" },
        body: text,
        credentials: "omit",
        mode: "cors",
      };
      // keepalive lets the request finish if the page goes away, but browsers refuse
      // keepalive bodies over 64 KiB outright.
      if (util.byteLength(text) <= KEEPALIVE_MAX_BYTES) init.keepalive = true;
      return window.fetch(url, init).then(
        (response) => {
          return response.text().then(
            (raw) => {
              let parsed;
              try {
                parsed = raw ? JSON.parse(raw) : null;
              } catch (ignored) {
                parsed = null;
              }
              return {
                status: response.status,
                body: parsed,
                retryAfter: response.headers.get("Retry-After"),
              };
            },
            () => {
              return { status: 0, body: null, retryAfter: null };
            }
          );
        },
        (error) => {
          return { status: 0, body: null, retryAfter: null, error };
        }
      );
    }

    /** The longest prefix of ``events`` whose body fits ``maxBytes``. */
    function fitting(siteKey, events, maxBytes) {
      let fit = [];
      for (let i = 0; i < events.length; i++) {
        const candidate = fit.concat([events[i]]);
        if (util.byteLength(body(siteKey, candidate)) > maxBytes) break;
        fit = candidate;
      }
      return fit;
    }

    /** Hand a batch to navigator.sendBeacon; true when the browser accepted it. */
    function beacon(url, siteKey, events) {
      if (!navigator.sendBeacon || typeof Blob !== "function") return false;
      const blob = new Blob([body(siteKey, events)], { type: "text/plain" });
      try {
        return navigator.sendBeacon(url, blob);
      } catch (ignored) {
        return false;
      }
    }

    return { post, beacon, fitting };
  })();

  // ---------------------------------------------------------------- sender
  // One request in flight at a time, so batches arrive oldest first. Retries network
  // errors, 5xx, 408 and 429 with exponential back-off and jitter (Retry-After wins
  // when it is longer); never retries other 4xx.
  const sender = (function () {
    const config = { url: null, siteKey: null };
    let timer = null;
    let timerAt = 0;
    let inFlight = null;
    let attempt = 0;
    let notBefore = 0;
    let batchLimit = MAX_BATCH;
    let halted = false;
    const beaconed = {}; // ids handed to sendBeacon by this page: once is enough

    function configure(url, siteKey) {
      config.url = url;
      config.siteKey = siteKey;
    }

    function schedule(delay) {
      if (halted || !config.url) return;
      const at = Math.max(Date.now() + delay, notBefore);
      if (timer !== null && timerAt <= at) return;
      if (timer !== null) window.clearTimeout(timer);
      timerAt = at;
      timer = window.setTimeout(() => {
        timer = null;
        if (Date.now() < notBefore) {
          // Set before the request in flight failed and asked for a longer back-off.
          schedule(0);
          return;
        }
        sendOnce().then((progress) => {
          if (progress && queue.all().length) schedule(0);
        });
      }, Math.max(0, at - Date.now()));
    }

    function cancelTimer() {
      if (timer !== null) window.clearTimeout(timer);
      timer = null;
    }

    /** A new event was queued: send soon, or now when enough are waiting. */
    function nudge() {
      schedule(queue.all().length >= FLUSH_AT_EVENTS ? 0 : FLUSH_DELAY_MS);
    }

    /** Send one batch. Resolves true when the queue moved (sent, or refused and dropped). */
    function sendOnce() {
      if (inFlight) return inFlight;
      if (halted || !config.url) return Promise.resolve(false);
      const batch = queue.all().slice(0, batchLimit);
      if (!batch.length) return Promise.resolve(false);
      inFlight = transport.post(config.url, config.siteKey, batch).then((outcome) => {
        inFlight = null;
        return handle(batch, outcome);
      });
      return inFlight;
    }

    function handle(batch, outcome) {
      const status = outcome.status;
      const ids = batch.map((event) => {
        return event.id;
      });
      if (status >= 200 && status < 300 && !isAnswer(outcome.body)) {
        backOff(outcome); // a 2xx that is not CartAssist's (a captive portal, a proxy)
        return false;
      }
      if (status >= 200 && status < 300) {
        // The batch is accepted or refused as a whole: 2xx means every id is stored
        // now or was stored before ("duplicates").
        queue.remove(ids);
        attempt = 0;
        notBefore = 0;
        return true;
      }
      if (status === 0 || status === 408 || status === 429 || status >= 500) {
        backOff(outcome);
        return false;
      }
      const errors = outcome.body && outcome.body.errors;
      if ((status === 413 || isBatchLevel(errors)) && batch.length > 1) {
        batchLimit = Math.max(1, Math.floor(batch.length / 2)); // too big: split, resend
        return true;
      }
      if (status === 400 && errors && isObject(errors.events)) {
        let bad = Object.keys(errors.events).map((index) => {
          return batch[Number(index)];
        });
        bad = bad.filter(Boolean);
        if (bad.length && bad.length < batch.length) {
          bad.forEach((event) => {
            util.warn("event refused and dropped:", event.type, event.id, errors.events[batch.indexOf(event)]);
          });
          queue.remove(
            bad.map((event) => {
              return event.id;
            })
          );
          return true; // the rest of the batch was fine: resend it
        }
      }
      util.warn(
        "the server refused " + batch.length + " event(s) (HTTP " + status + "); dropped.",
        (outcome.body && (outcome.body.errors || outcome.body.detail)) || ""
      );
      queue.remove(ids);
      if (status === 401 || status === 403) {
        // Unknown site key or an origin not on the site's allow-list: every later
        // request would be refused the same way.
        halted = true;
        cancelTimer();
        util.warn("sending stopped: check data-site-key and the site's allowed origins in admin.");
      }
      return true;
    }

    function isAnswer(body) {
      return !!body && Array.isArray(body.stored) && Array.isArray(body.duplicates);
    }

    function isObject(value) {
      return value !== null && typeof value === "object" && !Array.isArray(value);
    }

    function isBatchLevel(errors) {
      return !!(errors && Array.isArray(errors.events)); // e.g. "At most N events per batch"
    }

    function backOff(outcome) {
      attempt += 1;
      const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * Math.pow(2, attempt - 1));
      let delay = ceiling / 2 + Math.random() * (ceiling / 2); // "equal jitter"
      const retryAfter = util.parseRetryAfter(outcome.retryAfter, Date.now());
      if (retryAfter !== null) delay = Math.max(delay, retryAfter);
      notBefore = Date.now() + delay;
      schedule(delay);
    }

    /** Send until the queue is empty or a request fails; resolves with the events left. */
    function flush() {
      cancelTimer();
      if (Date.now() < notBefore) {
        // Backing off (the server asked for it, or is failing): keep the schedule.
        schedule(0);
        return Promise.resolve(queue.all().length);
      }
      return new Promise((resolve) => {
        (function step() {
          sendOnce().then((progress) => {
            if (progress && queue.all().length && !halted) step();
            else resolve(queue.all().length);
          });
        })();
      });
    }

    /** The page is going away (or hidden): hand what is unsent to sendBeacon. */
    function beacon() {
      if (halted || !config.url) return;
      const fresh = queue.all().filter((event) => {
        return !beaconed[event.id];
      });
      const batch = transport.fitting(config.siteKey, fresh.slice(0, MAX_BATCH), BEACON_MAX_BYTES);
      if (!batch.length) return;
      if (transport.beacon(config.url, config.siteKey, batch)) {
        // Kept in the queue all the same: a beacon's delivery is never confirmed. The
        // next page resends them and the server answers "duplicates".
        batch.forEach((event) => {
          beaconed[event.id] = true;
        });
      }
    }

    /** The network is back: retry now instead of waiting out the back-off. */
    function online() {
      attempt = 0;
      notBefore = 0;
      if (queue.all().length) schedule(0);
    }

    return {
      configure,
      nudge,
      flush,
      beacon,
      online,
      schedule,
    };
  })();

  // ---------------------------------------------------------------- api
  const site = { siteKey: null, apiBase: null, options: {}, chatSrc: null };
  let early = []; // events tracked before init: stamped and queued by init
  let readyCallbacks = [];
  const trackedCallbacks = [];
  const listeners = {}; // CartAssist.on(name, fn)
  let chatRequested = false;

  function scriptTag() {
    const current = document.currentScript;
    if (current && current.getAttribute("data-site-key") !== null) return current;
    const scripts = document.getElementsByTagName("script");
    for (let i = scripts.length - 1; i >= 0; i--) {
      const src = scripts[i].getAttribute("src") || "";
      if (/cartassist(\.min)?\.js(\?|#|$)/.test(src)) return scripts[i];
    }
    return current || null;
  }

  function optionsFromTag(tag) {
    if (!tag) return {};
    const options = {};
    const attributes = {
      siteKey: "data-site-key",
      apiBase: "data-api-base",
      visitorId: "data-visitor-id",
      customerId: "data-customer-id",
      customerHmac: "data-customer-hmac",
      chat: "data-chat",
      verifyBase: "data-verify-base",
      launcher: "data-launcher",
      launcherLabel: "data-launcher-label",
      language: "data-language",
      keepVisible: "data-keep-visible",
    };
    Object.keys(attributes).forEach((option) => {
      const value = tag.getAttribute(attributes[option]);
      if (value) options[option] = value;
    });
    if (tag.src && /cartassist(\.min)?\.js([?#]|$)/.test(tag.src)) {
      // The chat lives next to this file (docs/WIDGET.md, "Live chat").
      options.chatSrc = tag.src.replace(/cartassist(\.min)?\.js(?=[?#]|$)/, "chat.js").replace(/#.*$/, "");
    }
    if (!options.apiBase && tag.src) {
      try {
        options.apiBase = new URL(tag.src, window.location.href).origin;
      } catch (ignored) {
        /* no URL support: fall back to the page's origin below */
      }
    }
    return options;
  }

  function stamp(event) {
    if (!event.cart_id) event.cart_id = identity.cartId();
    event.visitor_id = identity.visitorId();
    const customer = identity.customer();
    if (customer) {
      event.customer_id = customer.id;
      event.customer_hmac = customer.hmac;
    }
    if (event.type === "order_completed") identity.forgetCart(event.cart_id);
    if (event.type === "opted_out") storage.set("opted_out", event.occurred_at);
    return event;
  }

  function enqueue(event) {
    queue.add(stamp(event));
    sender.nudge();
    trackedCallbacks.forEach((callback) => {
      try {
        callback(event);
      } catch (error) {
        util.warn("a track listener failed:", error);
      }
    });
  }

  /**
   * CartAssist.init({siteKey, apiBase?, visitorId?, customerId?, customerHmac?})
   * Called automatically from the script tag's data-site-key. Calling it again updates
   * the identity (e.g. after the shopper logs in or out).
   */
  function init(options) {
    options = options || {};
    if (site.siteKey) {
      if (options.siteKey && options.siteKey !== site.siteKey) {
        util.warn("already initialised with another site key; ignored:", options.siteKey);
      }
      if (options.visitorId) identity.setVisitor(String(options.visitorId));
      if ("customerId" in options) identity.setCustomer(options.customerId, options.customerHmac);
      return;
    }
    if (typeof options.siteKey !== "string" || !options.siteKey) {
      util.warn("init needs a siteKey (the site's public key from admin).");
      return;
    }
    site.siteKey = options.siteKey;
    site.apiBase = util.trimSlash(options.apiBase || window.location.origin);
    site.options = {
      chat: options.chat,
      verifyBase: options.verifyBase || null,
      launcher: options.launcher,
      launcherLabel: options.launcherLabel || null,
      // docs/LOCALISATION.md: the widget's language (else <html lang>) and the shop's strings.
      language: options.language || null,
      messages: options.messages || null,
      // docs/WIDGET.md, "Keeping the checkout visible": selectors the chat never covers.
      keepVisible: options.keepVisible || null,
    };
    site.chatSrc = options.chatSrc || site.apiBase + "/static/widget/chat.js";
    if (options.visitorId) identity.setVisitor(String(options.visitorId));
    if (options.customerId) identity.setCustomer(options.customerId, options.customerHmac);
    if (options.cartId) identity.setCart(options.cartId);

    queue.bind(site.siteKey);
    sender.configure(site.apiBase + ENDPOINT, site.siteKey);
    const waiting = early;
    early = [];
    waiting.forEach(enqueue);
    if (queue.all().length) sender.schedule(FLUSH_DELAY_MS); // adopted from the last page

    window.addEventListener("pagehide", sender.beacon);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") sender.beacon();
    });
    window.addEventListener("online", sender.online);

    const callbacks = readyCallbacks;
    readyCallbacks = [];
    callbacks.forEach(runReady);
    resumeFromLink().then(loadChat);
  }

  /**
   * docs/REALTIME.md, "Email to a shopper who left": the email's link returns the
   * shopper to the shop with ?cartassist_resume=<token>. The token is exchanged for the
   * visitor the email was sent to; the widget continues as that visitor, and the chat
   * (with its offers) opens. The parameter leaves the address bar at once.
   */
  function resumeFromLink() {
    let token;
    try {
      const url = new URL(window.location.href);
      token = url.searchParams.get(RESUME_PARAMETER);
      if (!token) return Promise.resolve(false);
      url.searchParams.delete(RESUME_PARAMETER);
      window.history.replaceState(window.history.state, "", url.toString());
    } catch (error) {
      return Promise.resolve(false);
    }
    return fetch(site.apiBase + RESUME_ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ site_key: site.siteKey, token }),
    })
      .then((response) => (response.ok ? response.json() : null))
      .then((answer) => {
        if (!answer || !util.isId(answer.visitor_id)) {
          util.warn("the chat link has expired or is not valid");
          return false;
        }
        identity.setVisitor(answer.visitor_id);
        site.resumed = true;
        return true;
      })
      .catch((error) => {
        util.warn("the chat could not be resumed:", error);
        return false;
      });
  }

  /**
   * The live chat is ES modules next to this file (chat.js and what it imports), loaded
   * after init unless switched off (chat: false). This file stays a classic script: it is
   * what shops paste, and it must work synchronously (docs/adr/0014).
   */
  function loadChat() {
    const chat = site.options.chat;
    if (chat === false || chat === "false" || chat === "off" || chat === "0") return;
    if (api.__chatLoaded || chatRequested) return;
    chatRequested = true;
    import(site.chatSrc).catch((error) => {
      util.warn("the live chat could not be loaded:", error);
    });
  }

  /**
   * CartAssist.on(name, fn) → a function that removes the listener.
   * The chat's events (docs/WIDGET.md, "Events for your page"): fn(detail). The same
   * events are dispatched on window as CustomEvents named "cartassist:<name>".
   */
  function on(name, callback) {
    if (typeof name !== "string" || typeof callback !== "function") return function () {};
    (listeners[name] = listeners[name] || []).push(callback);
    return function () {
      listeners[name] = (listeners[name] || []).filter((fn) => {
        return fn !== callback;
      });
    };
  }

  function emit(name, detail) {
    (listeners[name] || []).slice().forEach((callback) => {
      try {
        callback(detail);
      } catch (error) {
        util.warn("a CartAssist.on('" + name + "') callback failed:", error);
      }
    });
    try {
      window.dispatchEvent(new CustomEvent("cartassist:" + name, { detail }));
    } catch (error) {
      util.warn("a cartassist:" + name + " listener failed:", error);
    }
  }

  /**
   * CartAssist.track(type, data, {cartId?}) → the event id.
   * Types and data fields: docs/WIDGET.md. Amounts as decimal strings ("12.50").
   */
  function track(type, data, options) {
    return record(type, data, options, Date.now());
  }

  /** track(), with the time of the call (calls replayed from the stub carry theirs). */
  function record(type, data, options, at) {
    if (typeof type !== "string" || !type) {
      util.warn("track needs an event type such as 'cart_updated'.");
      return null;
    }
    options = options || {};
    const event = {
      id: "e-" + util.uuid(),
      type,
      occurred_at: new Date(at).toISOString(),
      data: data || {},
    };
    if (options.cartId !== undefined && options.cartId !== null && options.cartId !== "") {
      event.cart_id = String(options.cartId);
    }
    if (site.siteKey) {
      enqueue(event);
    } else {
      early.push(event);
      if (early.length > MAX_QUEUE) early.shift();
    }
    return event.id;
  }

  /** CartAssist.setCart(cartId): later events belong to this cart (null: a new one). */
  function setCart(cartId) {
    identity.setCart(cartId);
  }

  /** CartAssist.flush() → Promise of the number of events still unsent. */
  function flush() {
    if (!site.siteKey) return Promise.resolve(early.length);
    return sender.flush();
  }

  /** CartAssist.pending() → events tracked but not yet acknowledged by the server. */
  function pending() {
    return site.siteKey ? queue.all().length : early.length;
  }

  /** For CartAssist's own modules (the chat): fn(core) once init has run. */
  function onReady(callback) {
    if (typeof callback !== "function") return;
    if (site.siteKey) runReady(callback);
    else readyCallbacks.push(callback);
  }

  function runReady(callback) {
    try {
      callback(core);
    } catch (error) {
      util.warn("an onReady callback failed:", error);
    }
  }

  // What the other CartAssist modules may use. Not for shops: it may change.
  const core = {
    version: VERSION,
    siteKey: function () {
      return site.siteKey;
    },
    apiBase: function () {
      return site.apiBase;
    },
    visitorId: identity.visitorId,
    cartId: identity.cartId,
    customer: identity.customer,
    isOptedOut: function () {
      return storage.get("opted_out") !== null;
    },
    /** Options for the chat: {chat, verifyBase, launcher, launcherLabel, language, messages, keepVisible}. */
    options: function () {
      return site.options;
    },
    /** True when this page continues a chat from an email's link (resumeFromLink). */
    resumed: function () {
      return !!site.resumed;
    },
    /** True once the shop has a cart in progress (a cart id is stored). */
    hasCart: function () {
      return util.isId(storage.get("cart"));
    },
    /** fn(event) after each tracked event is queued. */
    onTracked: function (callback) {
      if (typeof callback === "function") trackedCallbacks.push(callback);
    },
    emit,
    trimSlash: util.trimSlash,
    storage,
    uuid: util.uuid,
    warn: util.warn,
  };

  const api = {
    __loaded: true,
    version: VERSION,
    init,
    track,
    setCart,
    flush,
    pending,
    onReady,
    on,
    // The visitor id events carry: what the helpdesk reports follow-up contacts with
    // (docs/API.md, "POST /api/v1/server/follow-ups").
    visitorId: function () {
      return identity.visitorId();
    },
  };

  // ---------------------------------------------------------------- boot
  // Replay what the page queued through the stub (docs/WIDGET.md, "Calling before the
  // script has loaded"): init first (explicit options win over the tag's data
  // attributes), then everything else in the order it was called, with its time.
  const calls = previous && Array.isArray(previous.q) ? previous.q : [];
  window.CartAssist = api;

  const tagOptions = optionsFromTag(scriptTag());
  const initCalls = calls.filter((call) => {
    return call && call[0] === "init";
  });
  if (initCalls.length) {
    initCalls.forEach((call) => {
      const merged = {};
      const given = (call[1] && call[1][0]) || {};
      Object.keys(tagOptions).forEach((key) => {
        merged[key] = tagOptions[key];
      });
      Object.keys(given).forEach((key) => {
        merged[key] = given[key];
      });
      init(merged);
    });
  } else if (tagOptions.siteKey) {
    init(tagOptions);
  }
  calls.forEach((call) => {
    if (!call || call[0] === "init") return;
    const method = call[0];
    const args = Array.prototype.slice.call(call[1] || []);
    if (method === "track") {
      record(args[0], args[1], args[2], typeof call[2] === "number" ? call[2] : Date.now());
    } else if (typeof api[method] === "function" && method !== "init") {
      api[method].apply(api, args);
    } else {
      util.warn("unknown method in the queue:", method);
    }
  });
})(window, document);
