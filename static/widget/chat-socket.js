/*! CartAssist storefront widget, live chat: the visitor token and the socket. */

import { Backoff } from "./protocol.js";

const PING_MS = 25 * 1000;
const RECONNECT_BASE_MS = 1000;
const RECONNECT_MAX_MS = 30 * 1000;
const TOKEN_MARGIN_MS = 60 * 1000; // fetch a new token this long before it expires
const CLOSE_UNAUTHORISED = 4401;
const CLOSE_FORBIDDEN = 4403;

// ------------------------------------------------------------ session (token)
export function createSession(core, store, siteKey, apiBase) {
  let inFlight = null;

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
    const saved = store.get("token");
    if (valid(saved)) return Promise.resolve(saved);
    if (inFlight) return inFlight;
    const body = JSON.stringify({ site_key: siteKey, visitor_id: core.visitorId() });
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
export function createSocket(core, session, apiBase) {
  let ws = null;
  const backoff = new Backoff({ baseMs: RECONNECT_BASE_MS, maxMs: RECONNECT_MAX_MS });
  let timer = null;
  let pingTimer = null;
  let stopped = false;
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

  return { on, connect, send, now, isOpen };
}
