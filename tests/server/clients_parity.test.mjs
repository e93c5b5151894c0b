// What Ollama's own docs and its strictest clients expect of the Ollama routes, beyond the basics
// clients_ollama.test.mjs covers: bodies sent the way `curl -d` sends them (a form content type,
// any size up to the 8 MiB limit), the deprecated `context` of /api/generate, thinking refused
// for a model that cannot think (Ollama's 400), /api/show's full answer (model_info keys,
// verbose vocabulary, tensors, a Modelfile with TEMPLATE/SYSTEM/PARAMETER lines, capabilities),
// /api/ps details, and /api/tags as Enchanted's decoder (OllamaKit) reads it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { setup_fixture, assert_alive, names } from "./fixture.mjs";
import { pocketlm, store_env } from "./lib.mjs";

const run_file = promisify(execFile);
let fx, ollama, openai;

before(async () => {
  fx = await setup_fixture();
  ollama = new Ollama({ host: fx.server.url });
  openai = new OpenAI({ baseURL: `${fx.server.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  if (fx) assert_alive(fx);
  await fx?.stop();
});

// `curl URL -d @FILE`, as Ollama's docs write their examples (curl then sends
// application/x-www-form-urlencoded). Returns {status, body}.
async function curl_d(route, body) {
  const file = path.join(fx.root, `body-${process.hrtime.bigint()}.json`);
  fs.writeFileSync(file, typeof body === "string" ? body : JSON.stringify(body));
  try {
    const { stdout } = await run_file("curl", ["-s", "-w", "\n%{http_code}", `${fx.server.url}${route}`, "-d", `@${file}`],
                                      { maxBuffer: 64 << 20 });
    const cut = stdout.lastIndexOf("\n");
    return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

test("curl -d: Ollama's documented generate line streams NDJSON", async () => {
  const r = await curl_d("/api/generate", { model: names.stories, prompt: "Why is the sky blue?",
                                            options: { num_predict: 4 } });
  assert.equal(r.status, 200, r.body);
  const lines = r.body.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.at(-1).done, true);
  assert.ok(lines.length >= 2, "several NDJSON objects");
});

test("curl -d: a 1 MB body is read whole (not the 8 KB form cap)", async () => {
  // A short prompt and a large ignored field: the whole megabyte must be read and parsed.
  const padded = { model: names.stories, prompt: "Once upon a time", stream: false, options: { num_predict: 4 },
                   padding: "x".repeat(1 << 20) };
  const ok = await curl_d("/api/generate", padded);
  assert.equal(ok.status, 200, ok.body.slice(0, 300));
  assert.equal(JSON.parse(ok.body).done, true);
  // A 1 MB prompt reaches the tokenizer: the answer is the context check, with its token count.
  const big = await curl_d("/api/generate", { model: names.stories, prompt: "a b ".repeat(1 << 18), stream: false });
  assert.equal(big.status, 400, big.body.slice(0, 300));
  const m = /prompt is (\d+) tokens, context is 512/.exec(JSON.parse(big.body).error);
  assert.ok(m && Number(m[1]) > 500000, big.body.slice(0, 300));
});

test("curl -d: a 9 MB body is a 413 that names 8 MiB", async () => {
  const r = await curl_d("/api/generate", { model: names.stories, prompt: "x".repeat(9 << 20) });
  assert.equal(r.status, 413, r.body.slice(0, 300));
  assert.match(JSON.parse(r.body).error, /limit 8 MiB/);
});

test("/api/generate context: returned with the answer, continued by the next request", async () => {
  const first = await ollama.generate({ model: names.stories, prompt: "Once upon a time",
                                        options: { temperature: 0, num_predict: 8 } });
  assert.ok(Array.isArray(first.context) && first.context.every(Number.isInteger), "context is token ids");
  assert.equal(first.context.length, first.prompt_eval_count + first.eval_count);
  const alone = await ollama.generate({ model: names.stories, prompt: " there", options: { num_predict: 1 } });
  const next = await ollama.generate({ model: names.stories, prompt: " there", context: first.context,
                                       options: { temperature: 0, num_predict: 4 } });
  // The earlier tokens, then this prompt's own tokens without its BOS.
  assert.equal(next.prompt_eval_count, first.context.length + alone.prompt_eval_count - 1);
  assert.deepEqual(next.context.slice(0, first.context.length), first.context);
  // Streamed: the final object carries it too.
  let last;
  for await (const p of await ollama.generate({ model: names.stories, prompt: "Once upon a time", stream: true,
                                                options: { temperature: 0, num_predict: 8 } })) last = p;
  assert.deepEqual(last.context, first.context);
  const bad = await curl_d("/api/generate", { model: names.stories, prompt: "x", context: [1, "two"] });
  assert.equal(bad.status, 400);
  const outside = await curl_d("/api/generate", { model: names.stories, prompt: "x", context: [1 << 30] });
  assert.equal(outside.status, 400);
  assert.match(JSON.parse(outside.body).error, /not in the model's vocabulary/);
});

test("thinking on a model that cannot think is a 400, as Ollama answers", async () => {
  await assert.rejects(ollama.chat({ model: names.stories, messages: [{ role: "user", content: "hi" }], think: true }),
                       (e) => e.status_code === 400 && /"stories:260k" does not support thinking/.test(e.error));
  await assert.rejects(ollama.generate({ model: names.stories, prompt: "hi", think: true }),
                       (e) => e.status_code === 400 && /does not support thinking/.test(e.error));
  await assert.rejects(openai.chat.completions.create({ model: names.stories, reasoning_effort: "high",
                                                        messages: [{ role: "user", content: "hi" }] }),
                       (e) => e instanceof OpenAI.BadRequestError && /does not support thinking/.test(e.message));
  // think: false is always fine; a thinking model takes think: true.
  const off = await ollama.chat({ model: names.stories, messages: [{ role: "user", content: "hi" }], think: false,
                                 options: { num_predict: 2 } });
  assert.equal(off.done, true);
  const on = await ollama.chat({ model: names.qwen, messages: [{ role: "user", content: "hi" }], think: true,
                                options: { num_predict: 2 } });
  assert.equal(on.done, true);
});

test("/api/show: capabilities, every metadata key, verbose vocabulary and tensors, a full Modelfile", async () => {
  const modelfile = path.join(fx.root, "Modelfile");
  fs.writeFileSync(modelfile, `FROM ${names.qwen}\nSYSTEM """You are terse."""\nPARAMETER temperature 0.25\n` +
                              `PARAMETER stop "<|im_end|>"\nPARAMETER stop "END"\n`);
  await pocketlm(["create", "derived:1", "-f", modelfile], store_env(fx.root));
  const s = await ollama.show({ model: "derived:1" });
  assert.deepEqual([...s.capabilities].sort(), ["completion", "thinking", "tools"]);
  assert.equal(s.system, "You are terse.");
  assert.match(s.modelfile, /^FROM \//m);
  assert.match(s.modelfile, /^TEMPLATE """[\s\S]*<\|im_start\|>[\s\S]*"""$/m);
  assert.match(s.modelfile, /^SYSTEM """You are terse."""$/m);
  assert.match(s.modelfile, /^PARAMETER temperature 0.25$/m);
  assert.match(s.modelfile, /^PARAMETER stop <\|im_end\|>$/m);
  assert.match(s.modelfile, /^PARAMETER stop END$/m);
  const info = s.model_info;
  assert.equal(info["general.architecture"], "qwen2");
  for (const k of ["qwen2.context_length", "qwen2.embedding_length", "qwen2.rope.freq_base",
                   "qwen2.attention.layer_norm_rms_epsilon", "tokenizer.ggml.model", "tokenizer.ggml.pre"]) {
    assert.ok(k in info, `model_info has ${k}`);
  }
  assert.ok(!("tokenizer.chat_template" in info), "the template is sent as 'template', not in model_info");
  assert.deepEqual(info["tokenizer.ggml.tokens"], [], "the vocabulary only when verbose");
  const v = await ollama.show({ model: "derived:1", verbose: true });
  assert.ok(v.model_info["tokenizer.ggml.tokens"].length > 150000, "Qwen's vocabulary");
  assert.ok(v.model_info["tokenizer.ggml.tokens"].includes("<|im_end|>"));
  assert.ok(Array.isArray(v.tensors) && v.tensors.some((t) => t.name === "token_embd.weight"));
  for (const t of v.tensors) assert.ok(typeof t.type === "string" && Array.isArray(t.shape), JSON.stringify(t));
  const plain = await ollama.show({ model: names.stories });
  assert.deepEqual(plain.capabilities, ["completion"], "no template: no tools, no thinking");
  assert.equal(plain.details.quantization_level, "F32", "an F32 file without general.file_type");
});

test("/api/ps: a loaded model's full details", async () => {
  await ollama.generate({ model: names.qwen, prompt: "hi", options: { num_predict: 1 } });
  const ps = await ollama.ps();
  const m = ps.models.find((x) => x.name === names.qwen);
  assert.ok(m, JSON.stringify(ps));
  assert.equal(m.details.format, "gguf");
  assert.equal(m.details.family, "qwen2");
  assert.deepEqual(m.details.families, ["qwen2"]);
  assert.match(m.details.parameter_size, /^\d+(\.\d)?[KMB]$/);
  assert.equal(m.details.quantization_level, "F16");
  assert.equal(m.details.parent_model, "");
});

test("/api/tags decodes as Enchanted's OllamaKit does (dates with 9 fractional digits, typed details)", async () => {
  const r = await fetch(`${fx.server.url}/api/tags`).then((x) => x.json());
  assert.ok(r.models.length >= 2);
  // OllamaKit: DateFormatter "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSZZZZZ", keys converted from snake case.
  const date = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$/;
  for (const m of r.models) {
    assert.equal(typeof m.name, "string");
    assert.equal(typeof m.digest, "string");
    assert.ok(Number.isInteger(m.size) && m.size > 0);
    assert.match(m.modified_at, date);
    for (const k of ["format", "family", "parameter_size", "quantization_level"]) {
      assert.ok(typeof m.details[k] === "string" && m.details[k].length > 0, `${m.name}: details.${k}`);
    }
    assert.ok(m.details.families === null || m.details.families.every((f) => typeof f === "string"));
  }
});
