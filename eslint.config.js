// ESLint (flat config) for the browser code in static/ and its Node tests in tests/js/.
// No build step: what is linted here is what browsers load. docs/adr/0014.
import js from "@eslint/js";
import globals from "globals";

// Text from the server goes into the page with textContent / createElement only.
const NO_HTML_SINKS = [
  { selector: "MemberExpression[property.name=/^(innerHTML|outerHTML)$/]", message: "Use textContent or el(): never parse server text as HTML." },
  { selector: "CallExpression[callee.property.name=/^(insertAdjacentHTML|createContextualFragment|write|writeln)$/]", message: "Use textContent or el(): never parse server text as HTML." },
];

export default [
  { ignores: ["node_modules/", ".venv/", "var/", "build/"] },
  js.configs.recommended,
  {
    rules: {
      "no-var": "error",
      "prefer-const": "error",
      "object-shorthand": ["error", "properties"],
      "prefer-arrow-callback": "error",
      eqeqeq: ["error", "always"],
      "no-unused-vars": ["error", { caughtErrors: "none" }],
    },
  },
  {
    files: ["static/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.browser } },
    rules: { "no-restricted-syntax": ["error", ...NO_HTML_SINKS] },
  },
  {
    // Classic scripts: the widget's entry, which shops paste as a plain <script src> tag
    // (it then imports the chat's modules), and the demo shop's own script.
    files: ["static/widget/cartassist.js", "static/demo/demo.js"],
    languageOptions: { sourceType: "script" },
  },
  {
    // The django-oscar integration's page script: a classic script in the shop's pages.
    files: ["cartassist/integrations/oscar/static/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: { ...globals.browser } },
    rules: { "no-restricted-syntax": ["error", ...NO_HTML_SINKS] },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node } },
  },
];
