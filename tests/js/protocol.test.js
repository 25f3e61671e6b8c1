// The socket protocol's pure logic that the widget's chat and the console share
// (static/widget/protocol.js), imported as the browsers import it. Run with
// `node --test tests/js/` (tests/test_js.py runs it in the pytest suite; CI runs it too).
// docs/REALTIME.md, "Delivery": a client never drops a seq it has not seen; it ignores
// one it has; after a gap it asks for the missing ones with `sync`, once; unsent
// messages are sent again with the same id after every reconnect.
import test from "node:test";
import assert from "node:assert/strict";

import {
  Backoff,
  outboxConfirm,
  outboxEntry,
  outboxFail,
  outboxResendable,
  outboxRetry,
  seqAction,
  seqStep,
} from "../../static/widget/protocol.js";

/** A client as both are: frames in, what it applied and the syncs it sent out. The
 * string "synced" stands for the sync's reply ending. */
function receive(lastSeq, frames) {
  const applied = [];
  let syncs = 0;
  let syncing = false;
  for (const frame of frames) {
    if (frame === "synced") {
      syncing = false;
      continue;
    }
    const action = seqAction(lastSeq, frame, syncing);
    if (action === "apply") {
      applied.push(frame);
      lastSeq = frame;
    } else if (action === "sync") {
      syncs += 1;
      syncing = true;
    }
  }
  return { applied, syncs, lastSeq };
}

// --- seq ordering and gap fill -----------------------------------------------------------

test("the next seq is applied, a seen one ignored, a later one is a gap", () => {
  assert.equal(seqStep(79, 80), "next");
  assert.equal(seqStep(79, 79), "seen");
  assert.equal(seqStep(79, 12), "seen");
  assert.equal(seqStep(79, 81), "gap");
  assert.equal(seqStep(0, 1), "next");
});

test("a gap asks for a sync, unless a sync is already under way", () => {
  assert.equal(seqAction(79, 80, false), "apply");
  assert.equal(seqAction(79, 80, true), "apply");
  assert.equal(seqAction(79, 79, false), "ignore");
  assert.equal(seqAction(79, 81, false), "sync");
  assert.equal(seqAction(79, 81, true), "wait");
});

test("81 before 80, then 80 and 81 twice: 80 is never dropped and one sync is sent", () => {
  // given: the client saw 79; the frames of the outage report arrive, and the sync the
  // gap asked for replies with 80 and 81
  const frames = [81, 80, 81, 80, 81, 80, 81, "synced"];

  // when
  const result = receive(79, frames);

  // then
  assert.deepEqual(result.applied, [80, 81]);
  assert.equal(result.syncs, 1);
  assert.equal(result.lastSeq, 81);
});

test("a gap after the sync's reply asks again", () => {
  // given: 80 was lost; the sync's reply ends before 82 arrives live, and 83 is lost too
  const frames = [81, 80, 81, "synced", 83, 82, 83, "synced"];

  // when
  const result = receive(79, frames);

  // then
  assert.deepEqual(result.applied, [80, 81, 82, 83]);
  assert.equal(result.syncs, 2);
});

test("any interleaving of live frames, duplicates and a sync reply applies 1..n once, in order", () => {
  let seed = 9;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let round = 0; round < 200; round++) {
    const n = 1 + Math.floor(random() * 20);
    const live = [];
    for (let seq = 1; seq <= n; seq++) {
      if (random() < 0.8) live.push(seq); // some are lost on the way
      if (random() < 0.2) live.push(Math.max(1, seq - 1)); // some come twice
    }
    live.sort(() => random() - 0.5); // and out of order
    const reply = [];
    for (let seq = 1; seq <= n; seq++) reply.push(seq); // the sync: everything after 0
    const result = receive(0, [...live, ...reply, "synced"]);
    assert.deepEqual(result.applied, reply);
  }
});

// --- back-off ------------------------------------------------------------------------------

test("the reconnect step doubles from the base up to the cap; each wait is 50-100 % of it", () => {
  // given: the chat's and the console's socket (1 s doubling to 30 s)
  const shortest = new Backoff({ baseMs: 1000, maxMs: 30000, random: () => 0 });
  const longest = new Backoff({ baseMs: 1000, maxMs: 30000, random: () => 1 });

  // when
  const low = Array.from({ length: 7 }, () => shortest.next());
  const high = Array.from({ length: 7 }, () => longest.next());

  // then
  assert.deepEqual(low, [500, 1000, 2000, 4000, 8000, 15000, 15000]);
  assert.deepEqual(high, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.equal(shortest.attempts, 7);
});

test("after a connection succeeds, the back-off starts from the base again", () => {
  // given: three failed attempts
  const backoff = new Backoff({ baseMs: 1000, maxMs: 30000, random: () => 0.5 });
  backoff.next();
  backoff.next();
  backoff.next();

  // when
  backoff.reset();

  // then
  assert.equal(backoff.attempts, 0);
  assert.equal(backoff.next(), 750);
});

// --- outbox and retry ---------------------------------------------------------------------

test("unsent messages are sent again after a reconnect, in order, with the same ids", () => {
  // given: two messages written while the socket was down
  const outbox = [outboxEntry("m-1", "Hello"), outboxEntry("m-2", "Are you there?")];

  // when: the socket is back and the sync answered
  const resend = outboxResendable(outbox);

  // then
  assert.deepEqual(
    resend.map((entry) => [entry.client_message_id, entry.text]),
    [["m-1", "Hello"], ["m-2", "Are you there?"]],
  );
  assert.equal(outbox.length, 2); // still unconfirmed
});

test("a message the server stored leaves the outbox; an unknown id changes nothing", () => {
  // given
  const outbox = [outboxEntry("m-1", "Hello"), outboxEntry("m-2", "Bye")];

  // when
  const confirmed = outboxConfirm(outbox, "m-1");
  const again = outboxConfirm(outbox, "m-1");
  const none = outboxConfirm(outbox, undefined);

  // then
  assert.deepEqual([confirmed, again, none], [true, false, false]);
  assert.deepEqual(outbox.map((entry) => entry.client_message_id), ["m-2"]);
});

test("a refused message is kept, marked failed, and not resent until retried", () => {
  // given
  const outbox = [outboxEntry("m-1", "x".repeat(2001)), outboxEntry("m-2", "Hi")];

  // when: the server refuses m-1
  const failed = outboxFail(outbox, "m-1", "Too long: shorten your message.");

  // then
  assert.deepEqual(failed, {
    client_message_id: "m-1",
    text: "x".repeat(2001),
    state: "failed",
    error: "Too long: shorten your message.",
  });
  assert.deepEqual(outboxResendable(outbox).map((entry) => entry.client_message_id), ["m-2"]);
  assert.equal(outboxFail(outbox, "m-9", "nope"), null);
});

test("a retried message is pending again with the same id, and resent in its place", () => {
  // given
  const outbox = [outboxEntry("m-1", "Hello"), outboxEntry("m-2", "Bye")];
  const failed = outboxFail(outbox, "m-1", "Not sent.");

  // when
  outboxRetry(failed);

  // then
  assert.deepEqual(outbox[0], { client_message_id: "m-1", text: "Hello", state: "pending" });
  assert.deepEqual(outboxResendable(outbox).map((entry) => entry.client_message_id), ["m-1", "m-2"]);
});
