"use strict";

// Removes dist/ before a build: a module renamed or moved in lib/ would otherwise
// leave its old compiled copy behind, shipped in the package and still loadable
// by a test that was not updated.
const fs = require("fs");
const path = require("path");

fs.rmSync(path.join(__dirname, "..", "dist"), { recursive: true, force: true });
