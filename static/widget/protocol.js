/*! CartAssist: the pure logic of the chat socket protocol, shared by the widget's chat
 * (static/widget/chat.js) and the agent console (static/console/). No DOM, no timers,
 * nothing at import: tested with `node --test tests/js/`. docs/REALTIME.md, "Delivery".
 */

/** Where a live message stands against the last seq applied to its chat: "seen" (at or
 * below it: ignore), "next" (apply it), or "gap" (an unseen seq is missing: ask for it
 * with `sync`, never skip it). */
export function seqStep(lastSeq, seq) {
  if (seq <= lastSeq) return "seen";
  return seq === lastSeq + 1 ? "next" : "gap";
}

/**
 * What a client does with a live message of a conversation, given the last seq it
 * applied and whether a `sync` it sent is still unanswered:
 * - "apply": the next seq: show it, then it is the last seq;
 * - "ignore": seen already (a sync reply overlapping live delivery, a resend's answer);
 * - "sync": an earlier seq is missing: ask for everything after the last seq;
 * - "wait": missing too, but the sync under way brings it, in order.
 */
export function seqAction(lastSeq, seq, syncing) {
  const step = seqStep(lastSeq, seq);
  if (step === "next") return "apply";
  if (step === "seen") return "ignore";
  return syncing ? "wait" : "sync";
}

/**
 * Reconnect delays: the step doubles from baseMs up to maxMs, and each wait is a random
 * 50–100 % of its step ("equal jitter"), so that the clients that lost the same server
 * do not all come back in the same instant. reset() after a connection succeeds.
 */
export class Backoff {
  constructor({ baseMs, maxMs, random = Math.random }) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.random = random;
    this.attempts = 0;
  }

  /** The wait before the next attempt, in ms. */
  next() {
    this.attempts += 1;
    const step = Math.min(this.maxMs, this.baseMs * 2 ** (this.attempts - 1));
    return step / 2 + this.random() * (step / 2);
  }

  reset() {
    this.attempts = 0;
  }
}

// The outbox: messages written but not yet confirmed by the server, oldest first, each
// {client_message_id, text, state: "pending" | "failed", error?}. A pending entry is sent
// again with the same id after every reconnect and sync, and the server stores each id
// once, so a resend never duplicates a message. The clients keep the array in
// sessionStorage; these functions change it in place.

/** A new entry for a message the user just wrote. */
export function outboxEntry(clientMessageId, text) {
  return { client_message_id: clientMessageId, text, state: "pending" };
}

/** The server stored the message with this id: drop its entry. True when there was one. */
export function outboxConfirm(outbox, clientMessageId) {
  const index = clientMessageId ? outbox.findIndex((entry) => entry.client_message_id === clientMessageId) : -1;
  if (index === -1) return false;
  outbox.splice(index, 1);
  return true;
}

/** The server refused the message with this id (an `error` frame whose `ref` is it): the
 * entry stays, marked failed with the reason, until retried or discarded. */
export function outboxFail(outbox, clientMessageId, error) {
  const entry = outbox.find((candidate) => candidate.client_message_id === clientMessageId);
  if (!entry) return null;
  entry.state = "failed";
  entry.error = error;
  return entry;
}

/** The user asks to send a failed message again: pending again, with the same id. */
export function outboxRetry(entry) {
  entry.state = "pending";
  delete entry.error;
}

/** What to send after a reconnect and sync, in order: every entry not failed. */
export function outboxResendable(outbox) {
  return outbox.filter((entry) => entry.state !== "failed");
}
