"use strict";

module.exports = {
  spec: ["test/**/*.test.js"],
  timeout: 10000,
  exit: true,
  reporter: "spec",
};
