/*! CartAssist console: what the agent does that is one frame: claim, reach out, status,
 * classify a follow-up. */

import { send } from "./connection.js";
import { $ } from "./dom.js";
import { announce, showToast } from "./feedback.js";
import { t } from "./i18n.js";
import { finishAction, firstChatIndex, selectedChat, startAction, state } from "./state.js";

// ---------------------------------------------------------------- actions

export function claim(conversationId) {
  state.claimFocus = conversationId;
  startAction(t("action.claim"), { conversationId });
  if (!send({ type: "queue.claim", conversation_id: conversationId })) {
    finishAction();
    showToast(t("error.not_connected_retry"), "error");
  }
}

export function claimTop() {
  const index = firstChatIndex();
  if (index === -1) {
    announce(t("queue.nothing_to_claim"));
    showToast(t("queue.nothing_to_claim"), "ok");
    return;
  }
  claim(state.queue[index].conversation_id);
}

export function reachOut(cartId) {
  startAction(t("action.reach_out"));
  if (!send({ type: "reach_out", cart_id: cartId })) {
    finishAction();
    showToast(t("error.not_connected_retry"), "error");
  }
}

export function setStatus(status) {
  if (!send({ type: "status.set", status })) {
    showToast(t("error.not_connected"), "error");
  }
}

export function toggleStatus() {
  setStatus(state.agent && state.agent.status === "online" ? "away" : "online");
}

/** Email the shopper who left the selected chat its last message and open offers. */
export function emailShopper() {
  const chat = selectedChat();
  if (!chat) return;
  startAction(t("action.email"), { conversationId: chat.id });
  if (!send({ type: "conversation.email", conversation_id: chat.id })) {
    finishAction();
    showToast(t("error.not_connected_retry"), "error");
  }
}

export function classifyFollowUp() {
  const chat = selectedChat();
  const reason = $("follow-up-reason").value;
  if (!chat || !chat.meta.follow_up || reason === chat.meta.follow_up.reason) return;
  startAction(t("action.classify"), { conversationId: chat.id, followUp: true });
  if (!send({ type: "follow_up.classify", conversation_id: chat.id, reason })) {
    finishAction();
    $("follow-up-reason").value = chat.meta.follow_up.reason;
    showToast(t("error.follow_up_not_saved"), "error");
  }
}
