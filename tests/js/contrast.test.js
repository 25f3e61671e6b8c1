// The site editor's brand-colour preview (static/siteadmin/contrast.js): the same WCAG
// contrast and text colour as the server's check (cartassist/domain/branding.py).
import test from "node:test";
import assert from "node:assert/strict";

import { brandContrast, contrastRatio, INK, textColourOn, WHITE } from "../../static/siteadmin/contrast.js";

test("the ratio is the server's, to four places", () => {
  // values from cartassist.domain.branding.contrast_ratio
  assert.equal(contrastRatio("#1f3a5f", WHITE).toFixed(4), "11.4834");
  assert.equal(contrastRatio("#ffcc00", INK).toFixed(4), "11.7328");
  assert.equal(contrastRatio(WHITE, WHITE), 1);
});

test("the text colour is whichever contrasts more", () => {
  assert.equal(textColourOn("#1f3a5f"), WHITE);
  assert.equal(textColourOn("#ffcc00"), INK);
});

test("a colour below AA with both text colours fails, one above passes", () => {
  assert.deepEqual(brandContrast("#777777")?.passes, false);
  assert.equal(brandContrast("#777777")?.ratio.toFixed(4), "4.4781");
  assert.deepEqual(brandContrast("#2e7d32")?.passes, true);
  assert.equal(brandContrast("navy"), null);
});
