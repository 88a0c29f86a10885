"use strict";

// `npm run bench`: every bench in turn with its modest defaults (about a minute in all).
// Flags and BENCH_* variables are passed on, e.g. `npm run bench -- --targets=reference,ws`.

const benches = [require("./broadcast"), require("./emit"), require("./memory")];

(async () => {
  for (const bench of benches) await bench();
})();
