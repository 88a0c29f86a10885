"use strict";

// The type-compatibility suite: compiles the application code next to this
// file (the server API with typed events, engine options, the official
// adapters, the admin UI, a NestJS gateway, a fastify-socket.io app, a custom
// parser) with `skipLibCheck: false`, once against this package and once
// against the reference (socket.io 4.8, the socket.io-reference dev
// dependency). The compile-time tests of this package's own API (test/types)
// go with the first, and the declarations this package ships must import only
// types its dependencies provide. Exits non-zero on any error.
//
// Which "socket.io" a compile sees: the `paths` compiler option maps the
// module name to one implementation for every import in the program, the
// application's own and those inside the ecosystem packages' .d.ts files
// (@nestjs/platform-socket.io, fastify-socket.io, @socket.io/admin-ui). That
// is what an app gets once this package replaces socket.io in its tree.
// Without the mapping, imports from node_modules would resolve to
// node_modules/socket.io (the reference, installed there as a peer of the
// admin UI, or the copy @nestjs/platform-socket.io pins), and the compile
// would silently test the reference. So after compiling, every file of the
// program that imports "socket.io" is resolved again with the same options
// and must land on the intended implementation, the importers expected from
// the ecosystem packages must be among them, and no declaration file of the
// other implementation may be part of the program.
const path = require("path");
const ts = require("typescript");

const here = __dirname;
const root = path.join(here, "..", "..", "..");

const TARGETS = {
  ours: path.join(root, "dist", "index.d.ts"),
  reference: path.join(root, "node_modules", "socket.io-reference", "dist", "index.d.ts"),
};

// ecosystem declaration files that import "socket.io" and must see the target
const ECOSYSTEM_IMPORTERS = [
  "node_modules/@nestjs/platform-socket.io/adapters/io-adapter.d.ts",
  "node_modules/fastify-socket.io/types/index.d.ts",
  "node_modules/@socket.io/admin-ui/dist/index.d.ts",
];

function format(diagnostics) {
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => "\n",
  });
}

let failed = false;
function fail(message) {
  failed = true;
  console.error(message);
}

function rel(file) {
  return path.relative(root, file).split(path.sep).join("/");
}

const config = ts.getParsedCommandLineOfConfigFile(
  path.join(here, "tsconfig.json"),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => fail(format([d])),
  },
);

// the compile-time tests of this package's own API (test/types, importing
// dist/ directly) share the first program compiled against this package: each
// program with lib checks on costs a full check of @types/node
const ownApi = ts.getParsedCommandLineOfConfigFile(
  path.join(here, "..", "tsconfig.json"),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => fail(format([d])),
  },
);

const GROUPS = [
  { name: "applications", files: config.fileNames, oursOnly: ownApi.fileNames, options: {} },
  // socket.io-msgpack-parser's own index.d.ts does not pass strict checks
  // (TS7010), whichever server is used: that one compile skips lib checks
  { name: "custom parser", files: [path.join(here, "custom-parser.ts")], options: { skipLibCheck: true } },
];

// declaration files are parsed once and shared by the four programs
const sourceFiles = new Map();
const host = ts.createCompilerHost(config.options);
const getSourceFile = host.getSourceFile;
host.getSourceFile = (fileName, languageVersion, ...rest) => {
  const key = fileName + ":" + JSON.stringify(languageVersion);
  if (!sourceFiles.has(key)) {
    sourceFiles.set(key, getSourceFile.call(host, fileName, languageVersion, ...rest));
  }
  return sourceFiles.get(key);
};

function checkResolution(program, options, target, other, label) {
  const importers = [];
  for (const sourceFile of program.getSourceFiles()) {
    const imports = ts.preProcessFile(sourceFile.text, true, true).importedFiles;
    if (!imports.some((i) => i.fileName === "socket.io")) continue;
    importers.push(rel(sourceFile.fileName));
    const resolved = ts.resolveModuleName("socket.io", sourceFile.fileName, options, ts.sys).resolvedModule;
    if (!resolved || path.resolve(resolved.resolvedFileName) !== target) {
      fail(
        `${label}: "socket.io" from ${rel(sourceFile.fileName)} resolves to ${resolved ? rel(resolved.resolvedFileName) : "nothing"}, not ${rel(target)}`,
      );
    }
  }
  for (const expected of ECOSYSTEM_IMPORTERS) {
    if (program.getSourceFile(path.join(root, expected)) && !importers.includes(expected)) {
      fail(`${label}: ${expected} is compiled but was not checked`);
    }
  }
  if (!program.getSourceFile(target)) {
    fail(`${label}: ${rel(target)} is not part of the program`);
  }
  const otherDir = path.dirname(other) + path.sep;
  const strays = program
    .getSourceFiles()
    .map((f) => path.resolve(f.fileName))
    .filter((f) => f.startsWith(otherDir) || /[\\/]node_modules[\\/]socket\.io[\\/]/.test(f));
  if (strays.length) {
    fail(`${label}: declarations of another socket.io are compiled: ${strays.map(rel).join(", ")}`);
  }
  return importers;
}

// The declarations this package ships may only import types that its own
// dependencies provide: a user's app has nothing else (a type taken from a
// dev dependency such as @types/cookie fails with TS7016 there).
const dependencies = Object.keys(require(path.join(root, "package.json")).dependencies);
function checkShippedImports(program, options) {
  const dist = path.join(root, "dist") + path.sep;
  const seen = new Set();
  // node's modules ("http", "events"...) are ambient modules of @types/node
  const ambient = new Map();
  for (const symbol of program.getTypeChecker().getAmbientModules()) {
    const declaration = symbol.declarations && symbol.declarations[0];
    if (declaration) ambient.set(symbol.name.replace(/^"|"$/g, ""), declaration.getSourceFile().fileName);
  }
  for (const sourceFile of program.getSourceFiles()) {
    if (!path.resolve(sourceFile.fileName).startsWith(dist)) continue;
    for (const { fileName } of ts.preProcessFile(sourceFile.text, true, true).importedFiles) {
      if (fileName.startsWith(".")) continue;
      const resolved = ts.resolveModuleName(fileName, sourceFile.fileName, options, ts.sys).resolvedModule;
      const declaredIn = resolved ? resolved.resolvedFileName : ambient.get(fileName) || "";
      const match = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(declaredIn);
      const pkg = match ? match[1].replace(/\\/g, "/") : null;
      seen.add(`${fileName} (${pkg})`);
      if (!pkg || !dependencies.includes(pkg)) {
        fail(
          `${rel(sourceFile.fileName)} imports "${fileName}", whose types (${pkg || "unresolved"}) are not a dependency`,
        );
      }
    }
  }
  return seen;
}

const allImporters = new Set();
for (const [name, target] of Object.entries(TARGETS)) {
  const other = name === "ours" ? TARGETS.reference : TARGETS.ours;
  for (const group of GROUPS) {
    const label = `${name} / ${group.name}`;
    const options = {
      ...config.options,
      ...group.options,
      paths: { "socket.io": [target.replace(/\.d\.ts$/, "")] },
    };
    const started = Date.now();
    const rootNames = name === "ours" && group.oursOnly ? group.files.concat(group.oursOnly) : group.files;
    const program = ts.createProgram({ rootNames, options, host });
    const diagnostics = ts.getPreEmitDiagnostics(program);
    if (diagnostics.length) {
      fail(`${label}: ${diagnostics.length} error(s)\n${format(diagnostics)}`);
    }
    const importers = checkResolution(program, options, target, other, label);
    if (name === "ours" && group === GROUPS[0]) {
      const shipped = checkShippedImports(program, options);
      console.log(`${label}: the shipped declarations import ${[...shipped].sort().join(", ")}`);
    }
    importers.forEach((f) => allImporters.add(f));
    console.log(
      `${label}: ${rootNames.length} file(s), ${diagnostics.length} error(s), ` +
        `"socket.io" imported by ${importers.length} file(s), expected ${rel(target)} (${Date.now() - started} ms)`,
    );
  }
}

for (const expected of ECOSYSTEM_IMPORTERS) {
  if (!allImporters.has(expected)) {
    fail(`${expected} was never compiled: the suite no longer covers it`);
  }
}

process.exit(failed ? 1 : 0);
