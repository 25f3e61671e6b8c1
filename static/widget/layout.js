/*! CartAssist storefront widget: where the chat panel may go without hiding the shop's
 * total or checkout button (docs/WIDGET.md, "Keeping the checkout visible"). Pure: rectangles
 * in, a placement out (tests/js/layout.test.js). Nothing runs at import. */

/** Phones and narrow windows get the bottom sheet; wider ones the floating panel. */
export const PHONE_MAX_WIDTH = 480;
const GAP = 12; // between a marked element and the panel

function overlapsColumn(rect, left, right) {
  return rect.right > left - GAP && rect.left < right + GAP;
}

/**
 * The tallest panel on one side that leaves every marked element in that column visible:
 * it hangs from the bottom margin up to just below the lowest marked element in view.
 */
export function heightOnSide(side, { viewport, obstacles, width, full, margin }) {
  const left = side === "left" ? margin : viewport.width - margin - width;
  const right = left + width;
  const bottom = viewport.height - margin;
  let limit = 0;
  obstacles.forEach((rect) => {
    if (rect.bottom <= 0 || rect.top >= bottom || rect.right <= rect.left || rect.bottom <= rect.top) return;
    if (!overlapsColumn(rect, left, right)) return;
    limit = Math.max(limit, rect.bottom + GAP);
  });
  return Math.max(0, Math.min(full, bottom - Math.max(limit, margin)));
}

/**
 * Where the floating panel goes: {side: "left" | "right", height, covers}.
 *
 * sides: the sides to try, the reading direction's end first (["right", "left"] left to
 * right). The current side is kept while it still leaves room for a full panel, so the
 * panel does not jump while the shopper scrolls; otherwise the side with the most room
 * wins. When no side has room for `min`, the panel is compacted to `min` on the roomier
 * side and `covers` is true (the widget then reserves space below the page so that it
 * can be scrolled past).
 */
export function placePanel({ viewport, obstacles, width, full, min, margin, sides, current }) {
  const geometry = { viewport, obstacles, width, full, margin };
  const order = current && sides.indexOf(current) !== -1 ? [current].concat(sides.filter((s) => s !== current)) : sides;
  const heights = order.map((side) => {
    return { side, height: heightOnSide(side, geometry) };
  });
  if (heights[0].height >= full) return { side: heights[0].side, height: full, covers: false };
  let best = heights[0];
  heights.forEach((candidate) => {
    if (candidate.height > best.height) best = candidate;
  });
  // The reading direction's end is the usual place: prefer it when it is as good.
  const preferred = heights.find((candidate) => candidate.side === sides[0]);
  if (preferred && preferred.height >= best.height) best = preferred;
  if (best.height >= min) return { side: best.side, height: best.height, covers: false };
  return { side: best.side, height: Math.min(full, min), covers: true };
}
