"use strict";

// The layering of ARCHITECTURE.md, checked on the sources: every import of every
// file under lib/ (type-only ones included) must go to a layer its own layer may
// use, and lib/ may only depend on the runtime dependencies the project allows.
// Reads lib/ with TypeScript's own import scanner; the same in both modes
// (REFERENCE=1 has no sources of ours to check against the reference).
const fs = require("fs");
const path = require("path");
const ts = require("typescript");
const { builtinModules } = require("module");
const expect = require("expect.js");

const ROOT = path.join(__dirname, "..");
const LIB = path.join(ROOT, "lib");

// the layer of a file of lib/, from its path: the tree shows the layers
function layerOf(file) {
  const rel = path.relative(LIB, file).split(path.sep);
  if (rel[0] === "errors.ts") return "errors";
  if (rel[0] === "engine") return "engine";
  if (rel[0] === "codec") return "codec";
  if (rel[0] === "adapter") return "adapter";
  if (rel[0] === "types") return "ambient";
  return "server";
}

// what each layer may import, besides itself (see ARCHITECTURE.md)
const ALLOWED = {
  errors: [],
  engine: ["errors"],
  codec: ["errors"],
  adapter: ["codec", "engine", "errors"],
  server: ["adapter", "codec", "engine", "errors", "ambient"],
  ambient: [],
};

const RUNTIME_DEPENDENCIES = ["ws", "debug", "cors", "base64id", "accepts", "cookie"];

function sourceFiles(dir) {
  const files = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(full));
    else if (entry.name.endsWith(".ts")) files.push(full);
  }
  return files;
}

// every module specifier of a file: import, export ... from, require(), import()
function importsOf(file, text = fs.readFileSync(file, "utf8")) {
  return ts.preProcessFile(text, true, true).importedFiles.map((i) => i.fileName);
}

function resolveLocal(from, specifier) {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [base + ".ts", base + ".d.ts", path.join(base, "index.ts")]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

function packageName(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

const files = sourceFiles(LIB);

// each violation as "<file> (<layer>) imports <target> (<layer>)"; `text` stands in for
// the content of a file (the positive control checks a file that does not exist)
function layerViolations(fileList, text) {
  const violations = [];
  for (const file of fileList) {
    const layer = layerOf(file);
    for (const specifier of importsOf(file, text)) {
      if (!specifier.startsWith(".")) continue;
      const target = resolveLocal(file, specifier);
      if (target === null) {
        violations.push(`${path.relative(ROOT, file)} imports ${specifier}, which does not resolve`);
        continue;
      }
      if (!target.startsWith(LIB + path.sep)) {
        violations.push(`${path.relative(ROOT, file)} imports ${path.relative(ROOT, target)} outside lib/`);
        continue;
      }
      const targetLayer = layerOf(target);
      if (targetLayer !== layer && !ALLOWED[layer].includes(targetLayer)) {
        violations.push(
          `${path.relative(ROOT, file)} (${layer}) imports ${path.relative(ROOT, target)} (${targetLayer})`,
        );
      }
    }
  }
  return violations;
}

describe("architecture", () => {
  it("finds the files of every layer", () => {
    const layers = new Set(files.map(layerOf));
    for (const layer of ["errors", "engine", "codec", "adapter", "server"]) {
      expect(layers.has(layer)).to.be(true);
    }
  });

  it("each layer imports only the layers below it", () => {
    expect(layerViolations(files)).to.eql([]);
  });

  it("the check catches a layer importing one above it (positive controls)", () => {
    const fake = path.join(LIB, "engine", "fake.ts");
    const text = 'import { Server } from "../server";\nimport type { Packet } from "../codec";\n';
    expect(layerViolations([fake], text)).to.eql([
      "lib/engine/fake.ts (engine) imports lib/server.ts (server)",
      "lib/engine/fake.ts (engine) imports lib/codec/index.ts (codec)",
    ]);
    const codecFake = path.join(LIB, "codec", "fake.ts");
    expect(layerViolations([codecFake], 'import type { Socket } from "../socket";\n')).to.eql([
      "lib/codec/fake.ts (codec) imports lib/socket.ts (server)",
    ]);
    const adapterFake = path.join(LIB, "adapter", "fake.ts");
    expect(layerViolations([adapterFake], 'import "../namespace";\nimport "../engine";\n')).to.eql([
      "lib/adapter/fake.ts (adapter) imports lib/namespace.ts (server)",
    ]);
  });

  it("lib/ depends on node's modules and the allowed runtime dependencies only", () => {
    const builtins = new Set(builtinModules.flatMap((m) => [m, "node:" + m]));
    const used = new Set();
    const forbidden = [];
    for (const file of files) {
      for (const specifier of importsOf(file)) {
        if (specifier.startsWith(".")) continue;
        if (builtins.has(specifier) || builtins.has(specifier.split("/")[0])) continue;
        const name = packageName(specifier);
        used.add(name);
        if (!RUNTIME_DEPENDENCIES.includes(name))
          forbidden.push(`${path.relative(ROOT, file)} imports ${specifier}`);
      }
    }
    expect(forbidden).to.eql([]);
    const declared = Object.keys(require(path.join(ROOT, "package.json")).dependencies).filter(
      (name) => !name.startsWith("@types/"),
    );
    expect(declared.sort()).to.eql([...RUNTIME_DEPENDENCIES].sort());
    expect([...used].every((name) => declared.includes(name))).to.be(true);
  });
});

describe("declarations", () => {
  const DIST = path.join(ROOT, "dist");
  const read = (file) => fs.readFileSync(path.join(DIST, file), "utf8");
  // `name` declared as a member: at the start of a line of the class body
  const declares = (text, name) => new RegExp(`^\\s+(?:readonly |get )?${name}[(<:!?]`, "m").test(text);

  it("keep the members adapters and tools rely on (adapter contract)", () => {
    const kept = {
      "namespace.d.ts": [
        "_ids",
        "_onServerSideEmit",
        "sockets",
        "adapter",
        "server",
        "name",
        "_preConnectSockets",
      ],
      "server.d.ts": ["encoder", "opts", "_nsps", "engine"],
      "socket.d.ts": ["acks", "notifyOutgoingListeners", "client", "conn", "handshake", "rooms", "data"],
      "client.d.ts": ["writeToEngine", "conn", "id"],
    };
    for (const [file, names] of Object.entries(kept)) {
      const text = read(file);
      for (const name of names) expect([file, name, declares(text, name)]).to.eql([file, name, true]);
    }
  });

  it("leave the internal members out (stripInternal)", () => {
    const internal = {
      "namespace.d.ts": ["_add", "_remove", "_initAdapter", "_fns", "_onNewNamespace"],
      "server.d.ts": ["_parser", "_opts", "_checkNamespace", "_connectTimeout"],
      "socket.d.ts": [
        "_onconnect",
        "_onpacket",
        "_onclose",
        "_cleanup",
        "_error",
        "_onerror",
        "_dispatchEvent",
      ],
      "client.d.ts": ["_packet", "_remove", "_disconnect", "connect"],
      "engine/socket.d.ts": ["_maybeUpgrade", "_closeSlowClient"],
    };
    for (const [file, names] of Object.entries(internal)) {
      const text = read(file);
      for (const name of names) expect([file, name, declares(text, name)]).to.eql([file, name, false]);
    }
    // positive control: the pattern finds a member that is declared
    expect(declares(read("engine/socket.d.ts"), "bufferedAmount")).to.be(true);
  });
});
