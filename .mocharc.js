"use strict";

// `npx mocha test/some/file.test.js` runs that file alone: the whole tree is the default
// only when no test file is named on the command line.
const named = process.argv.slice(2).some((arg) => /\.test\.js$/.test(arg) || arg.endsWith("/"));

module.exports = {
  ...(named ? {} : { spec: ["test/**/*.test.js"] }),
  timeout: 10000,
  exit: true,
  reporter: "spec",
};
