// WCAG 2.2 contrast of a brand colour with white or ink text: the same rules as
// cartassist/domain/branding.py, for the live preview in the site editor (no DOM here,
// unit-tested in tests/js/contrast.test.js).

export const WHITE = "#ffffff";
export const INK = "#111827";
export const AA_NORMAL_TEXT = 4.5;
const HEX_COLOUR = /^#[0-9a-fA-F]{6}$/;

/** @param {number} value 0–255 */
function channel(value) {
  const c = value / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** @param {string} colour "#rrggbb" */
export function relativeLuminance(colour) {
  if (!HEX_COLOUR.test(colour)) throw new RangeError(`not a colour: ${colour}`);
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

/** @param {string} first @param {string} second @returns {number} 1–21 */
export function contrastRatio(first, second) {
  const [a, b] = [relativeLuminance(first), relativeLuminance(second)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}

/** White or ink, whichever reads better on the background. @param {string} background */
export function textColourOn(background) {
  return contrastRatio(background, WHITE) >= contrastRatio(background, INK) ? WHITE : INK;
}

/**
 * What the preview shows for a colour.
 * @param {string} colour
 * @returns {{text: string, ratio: number, passes: boolean} | null} null: not a colour
 */
export function brandContrast(colour) {
  if (!HEX_COLOUR.test(colour)) return null;
  const text = textColourOn(colour);
  const ratio = contrastRatio(colour, text);
  return { text, ratio, passes: ratio >= AA_NORMAL_TEXT };
}
