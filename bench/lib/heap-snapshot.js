"use strict";

// Reads a V8 heap snapshot (v8.writeHeapSnapshot) and sums the self size of its nodes
// three ways:
//  - by kind: what each node is (constructor name, closure name, "(string)", system kinds);
//  - by owner: the nearest object of a named class on the node's retainer path, with the
//    field that leads down to it (`IncomingMessage .rawHeaders` counts the array and its
//    strings; the owner itself counts under its bare name);
//  - by path: the last `depth` steps of the retainer path, e.g.
//    `IncomingMessage .rawHeaders -> Array .[] -> (string)`.
// The retainer path is the shortest one from the GC roots (DevTools' "distance").
// Comparing two snapshots, before and after N sessions opened, tells what one session adds.

const fs = require("fs");

/** What a node is, as a short label. */
function label(type, name) {
  switch (type) {
    case "object":
    case "native":
    case "hidden":
    case "object shape":
      return name;
    case "synthetic":
      return `(synthetic) ${name}`;
    case "closure":
      return `${name || "(anonymous)"}()`;
    case "array":
      return `(array) ${name || "elements"}`;
    case "string":
    case "concatenated string":
    case "sliced string":
      return "(string)";
    case "code":
      // system kinds and "(…)" names say what they are; the others are named after a function
      return `(code) ${name.startsWith("system /") || name.startsWith("(") ? name : "function"}`;
    default:
      return `(${type})`;
  }
}

// Classes of the same name in several libraries, told apart by a field only one of them has.
const HOMONYMS = {
  Socket: [
    ["_readableState", "Socket (net)"],
    ["nsp", "Socket (socket.io)"],
    ["transport", "Socket (engine)"],
  ],
  WebSocket: [
    ["_receiver", "WebSocket (ws)"],
    ["socket", "WebSocket (engine transport)"],
  ],
};

// Objects of these classes are parts of something else, never the owner of what they hold.
const GENERIC = new Set([
  "Object",
  "Array",
  "Map",
  "Set",
  "WeakMap",
  "WeakSet",
  "Promise",
  "ArrayBuffer",
  "Uint8Array",
  "Buffer",
]);

/**
 * Loads `file` and returns `{ nodeCount, totalSize, byKind, byOwner, byPath }`; the maps go
 * from a label to `{ count, size }`.
 */
function summarize(file, depth = 2) {
  const snap = JSON.parse(fs.readFileSync(file, "utf8"));
  const meta = snap.snapshot.meta;
  const { nodes, edges, strings } = snap;
  const nodeFieldCount = meta.node_fields.length;
  const edgeFieldCount = meta.edge_fields.length;
  const TYPE = meta.node_fields.indexOf("type");
  const NAME = meta.node_fields.indexOf("name");
  const SIZE = meta.node_fields.indexOf("self_size");
  const EDGES = meta.node_fields.indexOf("edge_count");
  const EDGE_TYPE = meta.edge_fields.indexOf("type");
  const EDGE_NAME = meta.edge_fields.indexOf("name_or_index");
  const EDGE_TO = meta.edge_fields.indexOf("to_node");
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const WEAK = edgeTypes.indexOf("weak");
  const NAMED = new Set(["context", "property", "internal", "shortcut"].map((t) => edgeTypes.indexOf(t)));
  const nodeCount = nodes.length / nodeFieldCount;

  const OBJECT = nodeTypes.indexOf("object");
  const PROPERTY = edgeTypes.indexOf("property");
  const labels = new Array(nodeCount);
  const isOwner = new Uint8Array(nodeCount);
  const firstEdge = new Uint32Array(nodeCount + 1);
  for (let i = 0; i < nodeCount; i++) {
    const base = i * nodeFieldCount;
    const name = strings[nodes[base + NAME]];
    labels[i] = label(nodeTypes[nodes[base + TYPE]], name);
    firstEdge[i + 1] = firstEdge[i] + nodes[base + EDGES] * edgeFieldCount;
    if (HOMONYMS[name] && nodes[base + TYPE] === OBJECT) {
      const fields = new Set();
      for (let e = firstEdge[i]; e < firstEdge[i + 1]; e += edgeFieldCount) {
        if (edges[e + EDGE_TYPE] === PROPERTY) fields.add(strings[edges[e + EDGE_NAME]]);
      }
      const known = HOMONYMS[name].find(([field]) => fields.has(field));
      if (known) labels[i] = known[1];
    }
    isOwner[i] = nodes[base + TYPE] === OBJECT && /^[A-Z]/.test(name) && !GENERIC.has(name) ? 1 : 0;
  }

  // Breadth-first from the root (node 0), weak edges left out: each node's parent on a
  // shortest path, and the edge that leads to it.
  const parent = new Int32Array(nodeCount).fill(-1);
  const viaEdge = new Int32Array(nodeCount).fill(-1);
  const queue = new Uint32Array(nodeCount);
  let head = 0;
  let tail = 0;
  parent[0] = 0;
  queue[tail++] = 0;
  while (head < tail) {
    const from = queue[head++];
    for (let e = firstEdge[from]; e < firstEdge[from + 1]; e += edgeFieldCount) {
      if (edges[e + EDGE_TYPE] === WEAK) continue;
      const to = edges[e + EDGE_TO] / nodeFieldCount;
      if (parent[to] !== -1) continue;
      parent[to] = from;
      viaEdge[to] = e;
      queue[tail++] = to;
    }
  }
  const edgeLabel = (e) => (NAMED.has(edges[e + EDGE_TYPE]) ? `.${strings[edges[e + EDGE_NAME]]}` : ".[]");

  const byKind = new Map();
  const byOwner = new Map();
  const byPath = new Map();
  const add = (map, key, size) => {
    const entry = map.get(key);
    if (entry) {
      entry.count++;
      entry.size += size;
    } else map.set(key, { count: 1, size });
  };
  let totalSize = 0;
  for (let i = 0; i < nodeCount; i++) {
    const size = nodes[i * nodeFieldCount + SIZE];
    totalSize += size;
    add(byKind, labels[i], size);
    let path = labels[i];
    let node = i;
    for (let step = 0; step < depth && node !== 0 && parent[node] > 0; step++) {
      path = `${labels[parent[node]]} ${edgeLabel(viaEdge[node])} -> ${path}`;
      node = parent[node];
    }
    if (parent[i] === -1) path = `(unreachable) ${path}`;
    add(byPath, path, size);

    let owner = i;
    let down = -1;
    while (!isOwner[owner] && parent[owner] > 0) {
      down = viaEdge[owner];
      owner = parent[owner];
    }
    add(
      byOwner,
      !isOwner[owner] ? "(no owner)" : owner === i ? labels[i] : `${labels[owner]} ${edgeLabel(down)}`,
      size,
    );
  }
  return { nodeCount, totalSize, byKind, byOwner, byPath };
}

/**
 * What `after` has more than `before`, per `sessions`: rows `{ key, count, size }` (count
 * and bytes per session) of at least `minBytes` bytes per session (in absolute value),
 * largest first.
 */
function diff(before, after, sessions, minBytes) {
  const rows = [];
  const keys = new Set([...before.keys(), ...after.keys()]);
  for (const key of keys) {
    const a = before.get(key) || { count: 0, size: 0 };
    const b = after.get(key) || { count: 0, size: 0 };
    const size = (b.size - a.size) / sessions;
    if (Math.abs(size) >= minBytes) rows.push({ key, count: (b.count - a.count) / sessions, size });
  }
  return rows.sort((x, y) => y.size - x.size);
}

module.exports = { summarize, diff };
