/*! CartAssist console: the socket (back-off from protocol.js, heartbeat) and JSON GETs. */

import { Backoff } from "../widget/protocol.js";
import { setConnection, showToast } from "./feedback.js";
import { t } from "./i18n.js";
import { HEARTBEAT_MS, RECONNECT_BASE_MS, RECONNECT_MAX_MS, config, state } from "./state.js";

// ---------------------------------------------------------------- socket

/** What the socket reports, set by main.js: a frame arrived; the connection went down. */
export const socketHooks = { frame: null, down: null };

function socketUrl() {
  return (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + config.socketPath;
}

export function connect() {
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = null;
  if (state.socket && state.socket.readyState <= 1) return;
  setConnection("connecting", t("connection.connecting"));
  let ws;
  try {
    ws = new WebSocket(socketUrl());
  } catch (e) {
    scheduleReconnect();
    return;
  }
  state.socket = ws;
  ws.onmessage = function (event) {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (frame && typeof frame.type === "string") socketHooks.frame(frame);
  };
  ws.onclose = function (event) {
    if (state.socket !== ws) return;
    state.socket = null;
    state.connected = false;
    clearInterval(state.heartbeatTimer);
    state.chats.forEach((chat) => { chat.syncing = false; });
    socketHooks.down();
    if (event.code === 4403 || event.code === 4401) {
      state.refused = true;
      setConnection("refused", t("connection.refused"));
      showToast(t("connection.log_in_again"), "error", { href: config.loginUrl, text: t("connection.log_in") });
      return;
    }
    scheduleReconnect();
  };
}

/** Exponential back-off with "equal jitter" (protocol.js), so that the consoles that lost
 * the same server do not all come back in the same instant; reset by `hello`. */
export const reconnectBackoff = new Backoff({ baseMs: RECONNECT_BASE_MS, maxMs: RECONNECT_MAX_MS });

function scheduleReconnect() {
  if (state.refused) return;
  const delay = reconnectBackoff.next();
  state.reconnectAt = Date.now() + delay;
  state.reconnectTimer = setTimeout(connect, delay);
  updateReconnectCountdown();
}

export function updateReconnectCountdown() {
  if (!state.reconnectTimer) return;
  const seconds = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
  setConnection("offline", t("connection.reconnecting", { seconds }));
}

export function send(frame) {
  const ws = state.socket;
  if (!ws || ws.readyState !== 1 || !state.connected) return false;
  ws.send(JSON.stringify(frame));
  return true;
}

export function startHeartbeat() {
  clearInterval(state.heartbeatTimer);
  state.heartbeatTimer = setInterval(() => {
    send({ type: "presence.heartbeat" });
  }, HEARTBEAT_MS);
}


export function fetchJson(url) {
  return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then((r) => {
    return r.json().catch(() => { return {}; }).then((body) => {
      if (!r.ok) {
        const error = new Error(body.detail || t("error.http", { status: r.status }));
        error.status = r.status;
        throw error;
      }
      return body;
    });
  });
}
