// Every constrained output of a random model validates: `pocketlm run --format SCHEMA` on a
// generated qwen2-tiny (real Qwen3 vocabulary, random weights) sampled at temperature 1, for
// schemas of varied shape x 3 seeds, each answer checked by ajv (draft 2020-12, ajv-formats).
// A random model goes wherever the grammar lets it, so this finds grammar holes a hand-written
// document would not. Strings are bounded (maxLength, patterns, formats) so answers end within
// the token limit; an answer cut off by the limit is not judged, but most must finish.
//
//   POCKETLM_BIN=build/src/cli/pocketlm POCKETLM_GEN_MODEL=build/bin/pocketlm-gen-model \
//   POCKETLM_SHARED_DIR=../shared node --test tests/grammar/constrained_outputs.test.mjs
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { env, generated_model } from "../server/lib.mjs";

const run_file = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules = process.env.POCKETLM_NODE_MODULES ?? path.resolve(here, "../../node_modules");
const require = createRequire(path.join(nodeModules, "index.js"));
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default ?? require("ajv-formats");

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

const n_predict = 400;
const seeds = [1, 2, 3];
const str = (maxLength, extra = {}) => ({ type: "string", maxLength, ...extra });

const schemas = {
  "nested objects": {
    type: "object",
    properties: {
      user: {
        type: "object",
        properties: {
          name: str(8, { minLength: 1 }),
          address: { type: "object", properties: { city: str(8), zip: { type: "string", pattern: "^\\d{5}$" } },
                     required: ["city", "zip"], additionalProperties: false },
        },
        required: ["name", "address"], additionalProperties: false,
      },
      verified: { type: "boolean" },
    },
    required: ["user", "verified"], additionalProperties: false,
  },
  "array bounds": { type: "array", items: { type: "integer", minimum: -5, maximum: 5 }, minItems: 2, maxItems: 4 },
  "enums": {
    type: "object",
    properties: { color: { enum: ["red", "green", "blue"] }, mixed: { enum: [1, "two", null, true, [3]] },
                  size: { type: "string", enum: ["S", "M", "L", "XL"] } },
    required: ["color", "mixed", "size"], additionalProperties: false,
  },
  "anyOf": {
    type: "object",
    properties: { value: { anyOf: [{ type: "integer", minimum: 0, maximum: 9 }, str(5), { type: "boolean" }, { type: "null" }] },
                  shape: { anyOf: [{ type: "object", properties: { r: { type: "integer", minimum: 1, maximum: 9 } }, required: ["r"], additionalProperties: false },
                                   { type: "object", properties: { w: { type: "integer", minimum: 1, maximum: 9 }, h: { type: "integer", minimum: 1, maximum: 9 } }, required: ["w", "h"], additionalProperties: false }] } },
    required: ["value", "shape"], additionalProperties: false,
  },
  // Recursion through $ref, kept shallow: each node has at most one child.
  "$ref recursion": {
    $defs: {
      node: {
        type: "object",
        properties: { id: { type: "integer", minimum: 0, maximum: 99 },
                      child: { anyOf: [{ $ref: "#/$defs/node" }, { type: "null" }] } },
        required: ["id", "child"], additionalProperties: false,
      },
    },
    $ref: "#/$defs/node",
  },
  "integer ranges": {
    type: "object",
    properties: { month: { type: "integer", minimum: 1, maximum: 12 }, delta: { type: "integer", minimum: -100, maximum: 100 },
                  open: { type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 1000 }, year: { type: "integer", minimum: 1900, maximum: 2100 } },
    required: ["month", "delta", "open", "year"], additionalProperties: false,
  },
  "patterns": {
    type: "object",
    properties: { code: { type: "string", pattern: "^[A-Z]{3}-\\d{2}$" }, hex: { type: "string", pattern: "^#[0-9a-f]{6}$" },
                  word: { type: "string", pattern: "^(yes|no|maybe)$" } },
    required: ["code", "hex", "word"], additionalProperties: false,
  },
  "formats": {
    type: "object",
    properties: { day: { type: "string", format: "date" }, id: { type: "string", format: "uuid" },
                  at: { type: "string", format: "time" }, when: { type: "string", format: "date-time" } },
    required: ["day", "id", "at", "when"], additionalProperties: false,
  },
  "string lengths": {
    type: "object",
    properties: { short: str(3, { minLength: 2 }), exact: str(4, { minLength: 4 }), any: str(10) },
    required: ["short", "exact", "any"], additionalProperties: false,
  },
  "tuple": { type: "array", prefixItems: [str(5), { type: "integer", minimum: 0, maximum: 9 }, { type: "boolean" }], items: false },
  "optional properties": {
    type: "object",
    properties: { a: { type: "integer", minimum: 0, maximum: 9 }, b: str(4), c: { type: "boolean" }, d: { type: "null" } },
    required: ["b"], additionalProperties: false,
  },
  "array of objects": {
    type: "array",
    items: { type: "object", properties: { k: str(3, { minLength: 1 }), v: { type: "integer", minimum: 0, maximum: 50 } },
             required: ["k", "v"], additionalProperties: false },
    minItems: 1, maxItems: 3,
  },
};

let model;
let dir;
const results = [];  // {name, seed, finished, text}

// Runs fn over items, `width` at a time.
async function pool(items, width, fn) {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    while (queue.length) await fn(queue.shift());
  }));
}

before(async () => {
  model = await generated_model("qwen2-tiny");
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pocketlm-constrained-"));
  const jobs = [];
  for (const [name, schema] of Object.entries(schemas)) {
    const file = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, "_")}.json`);
    fs.writeFileSync(file, JSON.stringify(schema));
    for (const seed of seeds) jobs.push({ name, seed, file });
  }
  await pool(jobs, 2, async ({ name, seed, file }) => {
    const args = ["run", model, `Answer with a JSON value for "${name}".`, "--format", file, "--temp", "1",
                  "--seed", String(seed), "-n", String(n_predict), "--no-think", "--verbose", "-t", "1"];
    const { stdout, stderr } = await run_file(env.bin, args, { maxBuffer: 16 << 20 });
    const count = Number(/^eval count:\s*(\d+)/m.exec(stderr)?.[1]);
    assert.ok(Number.isInteger(count), `no eval count in --verbose output: ${stderr}`);
    // The CLI ends the answer with a newline of its own.
    results.push({ name, seed, finished: count < n_predict, text: stdout.replace(/\n$/, "") });
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

for (const [name, schema] of Object.entries(schemas)) {
  test(`finished outputs validate: ${name}`, () => {
    const validate = ajv.compile(schema);
    const finished = results.filter((x) => x.name === name && x.finished);
    assert.ok(finished.length >= 1, `no answer finished in ${n_predict} tokens`);
    for (const r of finished) {
      let doc;
      assert.doesNotThrow(() => { doc = JSON.parse(r.text); }, `seed ${r.seed}: not JSON: ${r.text}`);
      assert.ok(validate(doc), `seed ${r.seed}: ${JSON.stringify(r.text)}: ${ajv.errorsText(validate.errors)}`);
    }
  });
}

test("most outputs finish within the token limit", () => {
  assert.equal(results.length, Object.keys(schemas).length * seeds.length);
  const unfinished = results.filter((r) => !r.finished);
  assert.ok(unfinished.length <= results.length / 4,
            `${unfinished.length}/${results.length} cut off: ${unfinished.map((r) => `${r.name} seed ${r.seed}`).join(", ")}`);
});
