/*! CartAssist: the socket protocol's pure logic, shared by the widget's chat
 * (static/widget/chat.js) and the agent console (static/console/). No DOM: tested with
 * `node --test tests/js/`. docs/REALTIME.md, "Delivery".
 */

/** Where a live message stands against the last seq applied to its chat (pure; tested
 * with node --test, tests/js/): "seen" (at or below it: ignore), "next" (apply it), or
 * "gap" (an unseen seq is missing: ask for it with `sync`, never skip it). */
export function seqStep(lastSeq, seq) {
  if (seq <= lastSeq) return "seen";
  return seq === lastSeq + 1 ? "next" : "gap";
}
