// JSON Schema -> GBNF agreement with a real validator: for each schema, the grammar's verdict
// (pocketlm-grammar-check: the matcher takes the whole document and can end) on many valid and
// invalid documents must equal ajv's (draft 2020-12, ajv-formats). Documents are hand-written
// values, generated mutations of them (dropped and extra keys, wrong types, out-of-range numbers,
// edited strings, dropped and added elements), whitespace variants and truncated texts.
//
// The grammar's documented differences from a validator are kept out of the comparison, not
// hidden in it: documents keep the schema's property order (extra keys last), whitespace stays
// within the grammar's bound, numbers within 16 digits, and an object schema with `properties`
// but no `additionalProperties` is validated as closed (llama.cpp's reading); see
// docs/structured-output.md. One test below checks those differences themselves.
//
//   POCKETLM_GRAMMAR_CHECK=build/bin/pocketlm-grammar-check node --test tests/grammar/schema_suite.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules = process.env.POCKETLM_NODE_MODULES ?? path.resolve(here, "../../node_modules");
const require = createRequire(path.join(nodeModules, "index.js"));
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default ?? require("ajv-formats");
const tool = process.env.POCKETLM_GRAMMAR_CHECK ?? path.resolve(here, "../../build/bin/pocketlm-grammar-check");

const ajv = new Ajv2020({ strict: false, allErrors: false });
addFormats(ajv);

// [name, schema, valid values, invalid values]; a value {text} is a raw document text.
const cases = [
  ["person", {
    type: "object",
    properties: {
      name: { type: "string", minLength: 1 }, age: { type: "integer", minimum: 0, maximum: 150 },
      email: { type: "string", format: "email" }, tags: { type: "array", items: { type: "string" }, maxItems: 3 },
    },
    required: ["name", "age"],
  }, [{ name: "Ada", age: 36 }, { name: "Bo", age: 0, email: "bo@example.com", tags: ["a", "b"] }, { name: "x", age: 150, tags: [] }],
  [{ name: "", age: 3 }, { age: 3 }, { name: "Ada", age: 151 }, { name: "Ada", age: -1 }, { name: "A", age: 1, email: "nope" }]],
  ["nested address", {
    type: "object",
    properties: {
      address: {
        type: "object", additionalProperties: false, required: ["street", "zip"],
        properties: { street: { type: "string" }, city: { type: "string" }, zip: { type: "string", pattern: "^\\d{5}$" } },
      },
    },
    required: ["address"], additionalProperties: false,
  }, [{ address: { street: "Main 1", city: "Springfield", zip: "12345" } }, { address: { street: "", zip: "00000" } }],
  [{ address: { street: "Main", zip: "1234" } }, { address: { zip: "12345" } }, {}]],
  ["integer array", { type: "array", items: { type: "integer" }, minItems: 1, maxItems: 4 },
    [[1], [1, -2, 3, 40], [0, 0]], [[], [1, 2, 3, 4, 5], [1.5], ["1"]]],
  ["string enum", { enum: ["red", "green", "blue"] }, ["red", "blue"], ["Red", "", "yellow", 1]],
  ["mixed enum", { enum: [1, "two", null, true, [1, 2], { k: "v" }] }, [1, "two", null, true, [1, 2], { k: "v" }],
    [2, "three", false, [1], [2, 1], { k: "w" }, {}]],
  ["const object", { const: { a: 1, b: [true, null] } }, [{ a: 1, b: [true, null] }], [{ a: 1 }, { a: 2, b: [true, null] }]],
  ["anyOf", { anyOf: [{ type: "string", maxLength: 3 }, { type: "integer", minimum: 10 }] }, ["abc", "", 10, 99999],
    ["abcd", 9, null, 10.5]],
  ["oneOf disjoint", {
    oneOf: [{ type: "boolean" },
      { type: "object", properties: { kind: { const: "a" }, x: { type: "integer" } }, required: ["kind", "x"] }],
  }, [true, false, { kind: "a", x: 1 }], [{ kind: "b", x: 1 }, { kind: "a" }, null, "true"]],
  ["recursive tree", {
    $defs: {
      node: {
        type: "object", required: ["value"],
        properties: { value: { type: "integer" }, children: { type: "array", items: { $ref: "#/$defs/node" } } },
      },
    },
    $ref: "#/$defs/node",
  }, [{ value: 1 }, { value: 1, children: [{ value: 2, children: [{ value: 3 }] }, { value: 4, children: [] }] }],
  [{ value: 1, children: [{}] }, { children: [] }, { value: "1" }]],
  ["linked list", {
    type: "object", required: ["head", "next"],
    properties: { head: { type: "string" }, next: { anyOf: [{ $ref: "#" }, { type: "null" }] } },
  }, [{ head: "a", next: null }, { head: "a", next: { head: "b", next: { head: "c", next: null } } }],
  [{ head: "a" }, { head: "a", next: { head: "b" } }, { head: 1, next: null }]],
  ["pattern code", { type: "string", pattern: "^[A-Z]{3}-\\d{2,4}$" }, ["ABC-12", "XYZ-1234"], ["AB-12", "ABC-1", "abc-12", "ABC-12345"]],
  ["pattern search", { type: "string", pattern: "ab+c" }, ["abc", "xxabbbbcyy", "ab\"bc abc"], ["ac", "", "abbx"]],
  ["pattern alternation", { type: "string", pattern: "^(foo|bar)+$|^baz\\.?$" }, ["foo", "barfoo", "baz", "baz."],
    ["", "fo", "bazz", "foobaz"]],
  ["pattern classes", { type: "string", pattern: "^[^\\s@]+@[^\\s@]+\\.[a-z]{2,}$" }, ["a@b.io", "x\"y@d.com", "é@ü.org"],
    ["a b@c.io", "a@b.c", "@b.io", "a@b.IO"]],
  ["pattern escapes", { type: "string", pattern: "^\\w+\\s?[\\d.]*\\\\?$" }, ["ab", "a_1 2.5", "x\\", "x\t9"], ["a-b", " ab", "ab  1"]],
  ["format date", { type: "string", format: "date" }, ["2024-02-29", "2000-02-29", "1999-12-31", "2023-04-30"],
    ["2023-02-29", "1900-02-29", "2023-04-31", "2023-13-01", "2023-1-01", "20230101"]],
  ["format time", { type: "string", format: "time" }, ["23:59:59Z", "00:00:00+02:00", "12:30:45.123456-05:30", "08:00:00z"],
    ["24:00:00Z", "12:60:00Z", "12:00:00+24:00", "1:00:00Z", "12:00Z"]],
  ["format date-time", { type: "string", format: "date-time" }, ["2024-05-01T10:00:00Z", "2024-05-01t10:00:00.5+01:00"],
    ["2024-05-01", "2024-05-01T25:00:00Z", "2024-02-30T10:00:00Z", "2024-05-01T10:00"]],
  ["format uuid", { type: "string", format: "uuid" }, ["123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000"],
    ["123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g", "{123e4567-e89b-12d3-a456-426614174000}"]],
  ["format email", { type: "string", format: "email" }, ["a@b.co", "first.last+tag@sub.example.org", "x_y-z@a-b.io"],
    ["a@b", "a..b@c.io", ".a@c.io", "a@-b.io", "a@b-.io", "a b@c.io", "a@b_c.io"]],
  ["integer range", { type: "integer", minimum: -50, maximum: 50 }, [-50, -1, 0, 7, 50], [-51, 51, 100, -100, 1.5, "5"]],
  ["integer exclusive", { type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 1000 }, [1, 999, 500], [0, 1000, -1, 1001]],
  ["integer minimum", { type: "integer", minimum: 1000 }, [1000, 1001, 99999999, 123456789012345], [999, 0, -1000]],
  ["string lengths", { type: "string", minLength: 2, maxLength: 5 }, ["ab", "abcde", "a\nb", "éé", "😀x"], ["a", "abcdef", ""]],
  ["additional true", {
    type: "object", properties: { id: { type: "integer" } }, required: ["id"], additionalProperties: true,
  }, [{ id: 1 }, { id: 1, extra: [1, { a: null }], more: "x" }], [{ extra: 1 }, { id: "1" }]],
  ["additional schema", { type: "object", additionalProperties: { type: "integer", minimum: 0 } }, [{}, { a: 1, b: 0 }],
    [{ a: -1 }, { a: "1" }, []]],
  ["additional false", { type: "object", additionalProperties: false }, [{}], [{ a: 1 }, [], null]],
  ["tuple closed", { type: "array", prefixItems: [{ type: "string" }, { type: "integer" }], items: false },
    [[], ["a"], ["a", 1]], [["a", 1, 2], [1], ["a", "b"]]],
  ["tuple with rest", { type: "array", prefixItems: [{ type: "string" }], items: { type: "boolean" }, minItems: 2, maxItems: 4 },
    [["a", true], ["a", true, false, true]], [["a"], ["a", 1], [true, true], ["a", true, true, true, true]]],
  ["type list nullable", { type: ["string", "null"], maxLength: 3 }, ["abc", null, ""], ["abcd", 1, false]],
  ["type list bounded", { type: ["integer", "boolean", "null"], minimum: 3 }, [3, 100, true, null], [2, -3, "3", 3.5]],
  ["allOf objects", {
    allOf: [
      { type: "object", properties: { a: { type: "integer" } }, required: ["a"] },
      { properties: { b: { type: "string" }, c: { type: "boolean" } }, required: ["b"] },
    ],
  }, [{ a: 1, b: "x" }, { a: 1, b: "x", c: true }], [{ a: 1 }, { b: "x" }, { a: 1, b: 2 }],
  // The merged object is closed, as one object with all three properties would be.
  { allOf: [{ type: "object", properties: { a: { type: "integer" } }, required: ["a"] },
    { properties: { b: { type: "string" }, c: { type: "boolean" } }, required: ["b"] }], unevaluatedProperties: false }],
  ["matrix of points", {
    type: "array", maxItems: 3,
    items: { type: "array", items: { type: "object", properties: { x: { type: "number" }, y: { type: "number" } }, required: ["x", "y"] } },
  }, [[], [[{ x: 1, y: 2.5 }], []], [[{ x: -1e21, y: 0 }, { x: 3, y: 4 }]]], [[[{ x: 1 }]], [[{ x: "1", y: 2 }]], [{ x: 1, y: 2 }]]],
  ["all optional", {
    type: "object", properties: { p: { type: "null" }, q: { type: "boolean" }, r: { type: "integer" } },
  }, [{}, { p: null }, { q: true }, { p: null, r: 1 }, { p: null, q: false, r: 2 }], [{ s: 1 }, { p: 1 }]],
  ["any value", {}, [1, "x", null, [1, { a: [] }], { k: { l: true } }], [{ text: "{" }, { text: "[1,]" }, { text: "tru" }]],
];

// Validation as the grammar reads the schema: `properties` without `additionalProperties` is closed.
function closed(schema) {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== "object") return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    out[key] = key === "const" || key === "enum" ? value
      : key === "properties" || key === "$defs" ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, closed(v)]))
        : closed(value);
  }
  if ("properties" in schema && !("additionalProperties" in schema)) out.additionalProperties = false;
  return out;
}

const alternatives = [null, true, 0, -7, 2.5, 1e6, "", "s", [], {}, [1], { z: 1 }];

// Documents near `value`: each subvalue replaced, each key dropped or one added, elements dropped
// or added, numbers moved, strings edited.
function mutations(value) {
  const out = [];
  const walk = (v, set) => {
    for (const alt of alternatives) set(structuredClone(alt));
    if (typeof v === "number") for (const n of [v + 1, v - 1, -v, v * 10, v + 0.5]) if (Math.abs(n) < 1e15) set(n);
    if (typeof v === "string") for (const s of [v + "x", v.slice(1), v.slice(0, -1), v.toUpperCase(), "A" + v, v + v]) set(s);
    if (Array.isArray(v)) {
      if (v.length) set(v.slice(0, -1));
      set([...v, structuredClone(v[0] ?? null)]);
      set([...v, null]);
      v.forEach((item, i) => walk(item, (r) => set(v.map((x, j) => (j === i ? r : x)))));
    } else if (v !== null && typeof v === "object") {
      const keys = Object.keys(v);
      for (const k of keys) set(Object.fromEntries(keys.filter((x) => x !== k).map((x) => [x, v[x]])));
      set({ ...v, zz_extra: 1 });
      for (const k of keys) walk(v[k], (r) => set({ ...v, [k]: r }));
    }
  };
  walk(value, (r) => out.push(r));
  return out;
}

function withinWhitespaceBound(text) {
  return text.split("\n").every((line, i) => i === 0 || line.length - line.trimStart().length <= 20);
}

// Texts for a value: compact, spaced, indented; and prefixes of the compact one.
function texts(value, { truncate }) {
  const compact = JSON.stringify(value);
  const out = [compact, JSON.stringify(value, null, 2), JSON.stringify(value, null, "\t"),
    compact.replace(/([,:])/g, "$1 ")].filter(withinWhitespaceBound);
  if (truncate) {
    const chars = Array.from(compact);  // cut between code points: the documents are UTF-8 text
    const step = Math.max(1, Math.floor(chars.length / 12));
    for (let n = 0; n < chars.length; n += step) out.push(chars.slice(0, n).join(""));
  }
  return [...new Set(out)];
}

function ajvVerdict(validate, text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return "reject";
  }
  return validate(value) ? "accept" : "reject";
}

function check(schema, docs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "schema-suite-"));
  try {
    const schemaPath = path.join(dir, "schema.json");
    fs.writeFileSync(schemaPath, JSON.stringify(schema));
    const run = spawnSync(tool, [schemaPath, "--jsonl", "-"], { input: docs.map((d) => JSON.stringify(d)).join("\n") + "\n" });
    if (run.status !== 0) throw new Error(`pocketlm-grammar-check exited ${run.status}: ${run.stderr}`);
    return run.stdout.toString().trim().split("\n").map((line) => line.split("\t")[0]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

for (const [name, schema, valid, invalid, reference] of cases) {
  test(`agrees with ajv: ${name}`, (t) => {
    const validate = ajv.compile(reference ?? closed(schema));
    const docs = [];
    const add = (v, opts) => (v && typeof v === "object" && "text" in v ? docs.push(v.text) : docs.push(...texts(v, opts)));
    for (const v of valid) {
      assert.ok(validate(v), `hand-written valid document fails ajv: ${JSON.stringify(v)}`);
      add(v, { truncate: true });
      for (const m of mutations(v)) add(m, { truncate: false });
    }
    for (const v of invalid) {
      if (!(v && typeof v === "object" && "text" in v)) assert.ok(!validate(v), `hand-written invalid document passes ajv: ${JSON.stringify(v)}`);
      add(v, { truncate: false });
    }
    const unique = [...new Set(docs)];
    const grammar = check(schema, unique);
    assert.equal(grammar.length, unique.length);
    const disagreements = unique
      .map((doc, i) => ({ doc, grammar: grammar[i], ajv: ajvVerdict(validate, doc) }))
      .filter((r) => r.grammar !== r.ajv);
    const accepted = grammar.filter((v) => v === "accept").length;
    t.diagnostic(`${unique.length} documents, ${accepted} accepted`);
    assert.ok(accepted > 0 && accepted < unique.length, `${accepted} of ${unique.length} accepted: the case checks nothing`);
    assert.deepEqual(disagreements, [], `schema ${JSON.stringify(schema)}`);
  });
}

test("documented differences from a validator", () => {
  const obj = { type: "object", properties: { a: { type: "integer" }, b: { type: "integer" } }, required: ["a", "b"] };
  const [inOrder, reordered, wide, longIndent] = check(obj, ['{"a":1,"b":2}', '{"b":2,"a":1}', '{"a":1,  "b":2}',
    `{\n${" ".repeat(21)}"a":1,"b":2}`]);
  assert.deepEqual([inOrder, reordered, wide, longIndent], ["accept", "reject", "reject", "reject"]);
  const unsupported = spawnSync(tool, [path.join(fs.mkdtempSync(path.join(os.tmpdir(), "schema-suite-")), "missing.json")]);
  assert.equal(unsupported.status, 1);
});

test("unsupported schemas exit 2 naming the keyword and where", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "schema-suite-"));
  try {
    const schemaPath = path.join(dir, "schema.json");
    fs.writeFileSync(schemaPath, JSON.stringify({ type: "object", properties: { x: { not: { type: "string" } } } }));
    const run = spawnSync(tool, [schemaPath]);
    assert.equal(run.status, 2);
    assert.match(run.stderr.toString(), /unsupported JSON Schema keyword 'not' at \/properties\/x/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
