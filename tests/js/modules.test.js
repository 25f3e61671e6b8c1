// The browser modules in static/ as a graph: every relative import names a file that
// exists, and no module imports itself through others. A cycle would also stop
// collectstatic (Django's manifest storage hashes the imported files first; it gives up
// on a cycle), and the import order docs/adr/0014 describes would mean nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const STATIC = join(ROOT, "static");

/** Relative specifiers of the static import statements of a module. */
export function importsOf(file) {
  const source = readFileSync(file, "utf8");
  const found = [];
  for (const match of source.matchAll(/^\s*import\s+(?:[^"';]*?\s+from\s+)?["'](\.{1,2}\/[^"']+)["'];/gm)) {
    found.push(resolve(dirname(file), match[1]));
  }
  return found;
}

function modules() {
  const files = [];
  for (const folder of ["console", "widget"]) {
    for (const name of readdirSync(join(STATIC, folder))) {
      if (name.endsWith(".js")) files.push(join(STATIC, folder, name));
    }
  }
  return files;
}

test("every relative import names a module that exists", () => {
  const missing = [];
  for (const file of modules()) {
    for (const target of importsOf(file)) {
      if (!existsSync(target)) missing.push(`${relative(ROOT, file)} -> ${relative(ROOT, target)}`);
    }
  }
  assert.deepEqual(missing, []);
});

test("the module graph has no cycle", () => {
  const state = new Map(); // file -> "visiting" | "done"
  const cycles = [];
  const visit = (file, path) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "visiting") {
      cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(STATIC, f)).join(" -> "));
      return;
    }
    state.set(file, "visiting");
    for (const target of importsOf(file)) visit(target, [...path, file]);
    state.set(file, "done");
  };
  for (const file of modules()) visit(file, []);
  assert.deepEqual(cycles, []);
});

// Everything a shop's page loads for the widget: the tag's cartassist.js, then chat.js and
// what it imports, and the catalogues (English and one more language: i18n/*.json). Each
// file is compressed on its own, as the server sends it. docs/WIDGET.md, "Size": 22,657
// bytes before the modules, 23,784 after; about 36,000 with branding, placement and the
// languages (issue 12).
const WIDGET_BUDGET_BYTES = 38 * 1024;

test("the widget stays within its gzipped size budget", () => {
  const files = new Set([join(STATIC, "widget", "cartassist.js")]);
  const pending = [join(STATIC, "widget", "chat.js")];
  while (pending.length) {
    const file = pending.pop();
    if (files.has(file)) continue;
    files.add(file);
    pending.push(...importsOf(file));
  }
  const size = (file) => gzipSync(readFileSync(file), { level: 9 }).length;
  const catalogues = readdirSync(join(STATIC, "widget", "i18n")).filter((name) => name.endsWith(".json"));
  const largestOther = Math.max(...catalogues.filter((n) => n !== "en.json").map((n) => size(join(STATIC, "widget", "i18n", n))));
  const gzipped = [...files].reduce((sum, file) => sum + size(file), 0) + size(join(STATIC, "widget", "i18n", "en.json")) + largestOther;
  assert.ok(gzipped <= WIDGET_BUDGET_BYTES, `${gzipped} bytes gzipped, budget ${WIDGET_BUDGET_BYTES}`);
  assert.deepEqual(
    [...files].map((file) => relative(STATIC, file)).sort(),
    ["widget/cartassist.js", "widget/chat-ui.js", "widget/chat.js", "widget/i18n.js", "widget/layout.js", "widget/protocol.js"],
  );
});
