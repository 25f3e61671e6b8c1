// The seq logic the widget's chat and the console share (static/widget/protocol.js):
// run with `node --test tests/js/` (tests/test_js.py runs it in the pytest suite). docs/REALTIME.md, "Delivery": a client never drops a seq it has
// not seen; it ignores one it has; after a gap it asks for the missing ones with `sync`.
import test from "node:test";
import assert from "node:assert/strict";

import { seqStep } from "../../static/widget/protocol.js";

/** A client as both scripts are: apply "next", ignore "seen", sync once on a "gap". */
function receive(seqStep, lastSeq, frames) {
  const applied = [];
  let syncs = 0;
  let syncing = false;
  for (const frame of frames) {
    if (frame === "synced") {
      syncing = false;
      continue;
    }
    const step = seqStep(lastSeq, frame);
    if (step === "next") {
      applied.push(frame);
      lastSeq = frame;
    } else if (step === "gap" && !syncing) {
      syncs += 1;
      syncing = true;
    }
  }
  return { applied, syncs, lastSeq };
}

test(`the next seq is applied, a seen one ignored, a later one is a gap`, () => {
  assert.equal(seqStep(79, 80), "next");
  assert.equal(seqStep(79, 79), "seen");
  assert.equal(seqStep(79, 12), "seen");
  assert.equal(seqStep(79, 81), "gap");
  assert.equal(seqStep(0, 1), "next");
});

test(`81 before 80, then 80 and 81 twice: 80 is never dropped`, () => {
  // given: the client saw 79; the frames of the outage report arrive, and the sync the
  // gap asked for replies with 80 and 81
  const frames = [81, 80, 81, 80, 81, 80, 81, "synced"];

  // when
  const result = receive(seqStep, 79, frames);

  // then
  assert.deepEqual(result.applied, [80, 81]);
  assert.equal(result.syncs, 1);
  assert.equal(result.lastSeq, 81);
});

test(`any interleaving of live frames, duplicates and a sync reply applies 1..n once, in order`, () => {
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
    const result = receive(seqStep, 0, [...live, ...reply, "synced"]);
    assert.deepEqual(result.applied, reply);
  }
});
