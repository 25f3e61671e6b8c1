// The site editor's live preview of the brand colour (cartassist/admin/site_form.py):
// as the colour picker moves, the launcher and the shopper's bubble take the colour with
// the text colour the widget would use, and the contrast is said in words. The server
// renders the first state and checks the saved colour; this only follows the picker.
import { brandContrast, WHITE } from "./contrast.js";

/** @param {HTMLInputElement} input @param {HTMLElement} preview */
function redraw(input, preview) {
  const colour = input.value.toLowerCase();
  const result = brandContrast(colour);
  if (result === null) return;
  for (const part of preview.querySelectorAll("[data-part=launcher], [data-part=bubble]")) {
    /** @type {HTMLElement} */ (part).style.backgroundColor = colour;
    /** @type {HTMLElement} */ (part).style.color = result.text;
  }
  const ratio = preview.querySelector("[data-part=ratio]");
  if (ratio === null) return;
  const which = result.text === WHITE ? "White" : "Black";
  const needed = preview.dataset.aa || "4.5";
  const verdict = result.passes ? "" : " Too low: choose a darker or lighter shade.";
  ratio.textContent =
    `${which} text on ${colour}: contrast ${result.ratio.toFixed(2)}:1 ` +
    `(WCAG AA needs ${needed}:1).${verdict}`;
  ratio.classList.toggle("brand-preview-fails", !result.passes);
}

function start() {
  const input = /** @type {HTMLInputElement | null} */ (document.getElementById("id_brand_colour"));
  const preview = /** @type {HTMLElement | null} */ (document.querySelector("[data-brand-preview]"));
  if (input === null || preview === null) return;
  input.addEventListener("input", () => redraw(input, preview));
  redraw(input, preview);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
