"use strict";

// Bench settings come from `--name=value` / `--name value` flags, or from the
// BENCH_NAME environment variable, or from the bench's own default, in that order.

const argv = process.argv.slice(2);

function raw(name) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return process.env[`BENCH_${name.toUpperCase().replace(/-/g, "_")}`];
}

/** A positive integer setting; exits with a message when the value is not one. */
function int(name, fallback) {
  const value = raw(name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`--${name} must be a positive integer, got "${value}"`);
    process.exit(2);
  }
  return n;
}

/** A string setting, or undefined when not given. */
function str(name) {
  return raw(name);
}

/** A comma-separated list setting. */
function list(name, fallback) {
  const value = raw(name);
  return value === undefined
    ? fallback
    : value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
}

/** A boolean flag: present (or BENCH_NAME=1) means true. */
function flag(name) {
  if (argv.includes(`--${name}`)) return true;
  const value = process.env[`BENCH_${name.toUpperCase().replace(/-/g, "_")}`];
  return value === "1" || value === "true";
}

module.exports = { int, str, list, flag };
