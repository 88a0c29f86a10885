"use strict";

// Tests run against our build by default. With REFERENCE=1 they run against the
// reference packages (dev dependencies) instead, which is how a test is shown to
// assert the reference's behaviour and not merely ours.
const path = require("path");

const REFERENCE = process.env.REFERENCE === "1";
const dist = path.join(__dirname, "..", "..", "dist");

exports.REFERENCE = REFERENCE;

// socket.io/engine (the engine.io server API)
exports.engine = () => (REFERENCE ? require("engine.io") : require(path.join(dist, "engine")));

// socket.io (the Socket.IO server API, callable CommonJS export)
exports.sio = () => (REFERENCE ? require("socket.io-reference") : require(dist));
