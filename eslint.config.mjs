// ESLint (flat config): typescript-eslint for lib/, the recommended rules for the
// JavaScript of the tests, benchmarks, demo, scripts and fuzzer. Formatting is
// prettier's business (npm run format:check), not the linter's.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  {
    ignores: ["dist/", "client-dist/", "node_modules/", "coverage/", ".scratch/", "fuzz-results/"],
  },
  {
    files: ["**/*.js", "**/*.cjs"],
    languageOptions: { sourceType: "commonjs", ecmaVersion: 2022, globals: { ...globals.node } },
  },
  {
    files: ["**/*.mjs"],
    languageOptions: { sourceType: "module", ecmaVersion: 2022, globals: { ...globals.node } },
  },
  {
    files: ["**/*.js", "**/*.cjs", "**/*.mjs"],
    ...js.configs.recommended,
  },
  {
    files: ["**/*.js", "**/*.cjs", "**/*.mjs"],
    rules: {
      "no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true },
      ],
      // the Engine.IO payload separator is a control character
      "no-control-regex": "off",
    },
  },
  {
    files: ["test/**/*.js"],
    languageOptions: { globals: { ...globals.mocha } },
  },
  {
    // the page functions run in the browser
    files: ["test/browser.test.js"],
    languageOptions: { globals: { window: "readonly" } },
  },
  {
    files: ["demo/public/**/*.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.browser, io: "readonly" } },
  },
  {
    files: ["lib/**/*.ts", "test/types/**/*.ts"],
    extends: [tseslint.configs.recommended],
    rules: {
      // the typed-event helpers and the reference's loosely typed API need `any`;
      // the boundaries between layers are typed (ARCHITECTURE.md)
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // `import x = require("x")`: the CommonJS modules without a default export
      "@typescript-eslint/no-require-imports": ["error", { allowAsImport: true }],
    },
  },
  {
    // compile-time tests: their variables exist to be type-checked, not read
    files: ["test/types/**/*.ts"],
    rules: { "@typescript-eslint/no-unused-vars": "off" },
  },
);
