/*! CartAssist: the chat socket protocol's pure logic, shared by the widget's chat and
 * the agent console. No DOM, nothing runs at import (tests/js/protocol.test.js).
 * docs/REALTIME.md, "Delivery". */

/** A live message's seq against the last one applied: "seen" (ignore it), "next" (apply
 * it) or "gap" (one before it is missing: never skip it). */
export function seqStep(lastSeq, seq) {
  if (seq <= lastSeq) return "seen";
  return seq === lastSeq + 1 ? "next" : "gap";
}

/** What to do with a live message: "apply", "ignore" (seen), "sync" (a gap: ask for all
 * after lastSeq) or "wait" (a gap, but the unanswered sync brings it, in order). */
export function seqAction(lastSeq, seq, syncing) {
  const step = seqStep(lastSeq, seq);
  if (step === "next") return "apply";
  if (step === "seen") return "ignore";
  return syncing ? "wait" : "sync";
}

/** Reconnect waits: the step doubles from baseMs to maxMs; each wait is a random 50–100 %
 * of it, so clients that lost the same server do not all return at once. */
export class Backoff {
  constructor({ baseMs, maxMs, random = Math.random }) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.random = random;
    this.attempts = 0;
  }

  next() {
    this.attempts += 1;
    const step = Math.min(this.maxMs, this.baseMs * 2 ** (this.attempts - 1));
    return step / 2 + this.random() * (step / 2);
  }

  reset() {
    this.attempts = 0;
  }
}

// The outbox: messages not yet confirmed, oldest first, as {client_message_id, text,
// state: "pending" | "failed", error?}, changed in place. Pending ones are sent again
// with the same id after each reconnect and sync; the server stores an id once.

export function outboxEntry(clientMessageId, text) {
  return { client_message_id: clientMessageId, text, state: "pending" };
}

/** The server stored this id: drop its entry. True when there was one. */
export function outboxConfirm(outbox, clientMessageId) {
  const index = clientMessageId ? outbox.findIndex((entry) => entry.client_message_id === clientMessageId) : -1;
  if (index === -1) return false;
  outbox.splice(index, 1);
  return true;
}

/** The server refused this id: the entry stays, failed, until retried or discarded. */
export function outboxFail(outbox, clientMessageId, error) {
  const entry = outbox.find((candidate) => candidate.client_message_id === clientMessageId);
  if (!entry) return null;
  entry.state = "failed";
  entry.error = error;
  return entry;
}

export function outboxRetry(entry) {
  entry.state = "pending";
  delete entry.error;
}

/** What to send after a reconnect and sync, in order. */
export function outboxResendable(outbox) {
  return outbox.filter((entry) => entry.state !== "failed");
}
