// `pocketlm serve` driven by the official `ollama` npm client: generate and chat (NDJSON streams
// and single objects, with the final statistics), tags, show, ps (and `pocketlm ps`), embed,
// version, copy, delete, pull with progress from a local registry, and keep_alive loading and
// unloading. Answers are cross-checked against the OpenAI endpoints of the same server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { Ollama } from "ollama";
import { setup_fixture, assert_alive, names, stories_n_embd, bert_n_embd } from "./fixture.mjs";
import { l2_norm, pocketlm, raw, sha256_file, sleep, stories_gguf, store_env } from "./lib.mjs";

let fx;
let ollama;

before(async () => {
  fx = await setup_fixture({ registry: true });
  ollama = new Ollama({ host: fx.server.url });
});
after(async () => {
  if (fx) assert_alive(fx);
  await fx?.stop();
});

const stories_gen = { model: names.stories, prompt: "Once upon a time", options: { temperature: 0, num_predict: 8 } };
const qwen_chat = {
  model: names.qwen, messages: [{ role: "user", content: "Hello! Tell me about the sea." }],
  options: { temperature: 0, seed: 42, num_predict: 12 },
};

// The statistics Ollama puts on a final (done) object.
function assert_final_stats(r, n_predict) {
  assert.equal(r.done, true);
  assert.ok(["stop", "length"].includes(r.done_reason), `done_reason ${r.done_reason}`);
  assert.ok(!Number.isNaN(Date.parse(r.created_at)), `created_at ${r.created_at}`);
  for (const k of ["total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count",
                   "eval_duration"]) {
    assert.ok(Number.isInteger(r[k]) && r[k] >= 0, `${k} = ${r[k]}`);
  }
  assert.ok(r.prompt_eval_count > 0, "prompt_eval_count");
  assert.ok(r.eval_count >= 1 && r.eval_count <= n_predict, `eval_count ${r.eval_count}`);
  if (r.done_reason === "length") assert.equal(r.eval_count, n_predict);
  assert.ok(r.eval_duration > 0, "eval_duration");
  // Nanoseconds: the whole request covers loading, the prompt and the decoding.
  assert.ok(r.total_duration >= r.prompt_eval_duration + r.eval_duration, "total_duration covers the parts");
}

async function collect(iterable, field) {
  const parts = [];
  let text = "";
  let thinking = "";
  for await (const p of iterable) {
    parts.push(p);
    text += field === "response" ? p.response ?? "" : p.message?.content ?? "";
    thinking += (field === "response" ? p.thinking : p.message?.thinking) ?? "";
  }
  return { parts, text, thinking, last: parts.at(-1) };
}

test("version", async () => {
  const v = await ollama.version();
  assert.match(v.version, /^\d+\.\d+\.\d+/);
});

test("list (tags): the store's models with size, digest, modified_at and details", async () => {
  const { models } = await ollama.list();
  const byname = Object.fromEntries(models.map((m) => [m.name, m]));
  const st = byname[names.stories];
  assert.ok(st && byname[names.qwen], `names: ${Object.keys(byname)}`);
  assert.equal(st.model, names.stories);
  assert.ok(st.size >= fs.statSync(stories_gguf()).size, `size ${st.size}`);
  assert.match(st.digest, /^[0-9a-f]{64}$/);
  assert.ok(!Number.isNaN(Date.parse(st.modified_at)));
  assert.equal(st.details.format, "gguf");
  assert.equal(st.details.family, "llama");
  assert.equal(byname[names.qwen].details.family, "qwen2");
});

test("show: details, model_info and the chat template", async () => {
  const s = await ollama.show({ model: names.stories });
  assert.equal(s.details.format, "gguf");
  assert.equal(s.model_info["general.architecture"], "llama");
  assert.equal(s.model_info["llama.embedding_length"], stories_n_embd);
  const q = await ollama.show({ model: names.qwen });
  assert.equal(q.model_info["general.architecture"], "qwen2");
  // Ollama shows the template a GGUF's chat template became; the Jinja text itself will do.
  const template = q.template || q.model_info["tokenizer.chat_template"] || "";
  assert.match(template, /im_start/, "show gives no chat template for qwen2-tiny");
  // Capabilities as Ollama derives them: qwen2-tiny's template (Qwen3's) renders tools and
  // reasons in <think> blocks; stories260K has no template.
  assert.deepEqual(q.capabilities, ["completion", "tools", "thinking"]);
  assert.deepEqual(s.capabilities, ["completion"]);
  await assert.rejects(ollama.show({ model: "nosuch-model:1b" }), (e) => e.status_code === 404);
});

test("plan (pocketlm's extension): a load's memory before it loads, and what the load then takes", async () => {
  const plan = async (body) => raw(`${fx.server.url}/api/plan`, { body: JSON.stringify(body) });
  const at = await plan({ model: names.stories, options: { num_ctx: 256 } });
  assert.equal(at.status, 200, at.text);
  const p = at.json;
  assert.equal(p.context_length, 256);
  assert.equal(p.parallel, 4, "the fixture serves --parallel 4");
  assert.equal(p.total, p.weights + p.kv_cache + p.compute + p.metadata + p.overhead);
  assert.ok(p.budget > 0 && typeof p.fits === "boolean" && p.budget_source.length > 0, at.text);
  // Four times the context: four times the KV caches, nothing else.
  const bigger = (await plan({ model: names.stories, options: { num_ctx: 1024 } })).json;
  assert.equal(bigger.kv_cache, 4 * p.kv_cache);
  assert.equal(bigger.weights, p.weights);
  // Without num_ctx the server's own context per slot (its -c 512).
  assert.equal((await plan({ model: names.stories })).json.context_length, 512);
  assert.equal((await plan({ model: "nosuch-model:1b" })).status, 404);
  for (const bad of [0, -1, 1.5, "big", 1 << 30]) {
    const r = await plan({ model: names.stories, options: { num_ctx: bad } });
    assert.equal(r.status, 400, `num_ctx ${JSON.stringify(bad)}: ${r.text}`);
  }
  assert.equal((await plan({})).status, 400);
});

test("generate: non-streaming greedy answer with the final statistics", async () => {
  const r = await ollama.generate(stories_gen);
  assert.equal(r.model, names.stories);
  assert.match(r.response, /[a-z]{2,}/i);
  assert_final_stats(r, 8);
  assert.equal(r.done_reason, "length");
  const again = await ollama.generate(stories_gen);
  assert.equal(again.response, r.response);
});

test("generate: stream parts add up to the non-streaming answer; only the last is done", async () => {
  const whole = await ollama.generate(stories_gen);
  const s = await collect(await ollama.generate({ ...stories_gen, stream: true }), "response");
  assert.equal(s.text, whole.response);
  assert.ok(s.parts.length >= 2);
  for (const p of s.parts.slice(0, -1)) assert.equal(p.done, false);
  assert_final_stats(s.last, 8);
  assert.equal(s.last.eval_count, whole.eval_count);
  assert.equal(s.last.prompt_eval_count, whole.prompt_eval_count);
});

test("generate (raw) and /v1/completions give the same greedy text", async () => {
  const r = await ollama.generate({ ...stories_gen, raw: true });
  const o = await raw(`${fx.server.url}/v1/completions`, {
    body: JSON.stringify({ model: names.stories, prompt: stories_gen.prompt, temperature: 0, max_tokens: 8 }) });
  assert.equal(o.status, 200, o.text);
  assert.equal(r.response, o.json.choices[0].text);
});

test("chat: non-streaming and streaming agree, with final statistics; same answer as /v1/chat/completions", async () => {
  const r = await ollama.chat(qwen_chat);
  assert.equal(r.message.role, "assistant");
  assert.equal(typeof r.message.content, "string");
  assert_final_stats(r, 12);
  const s = await collect(await ollama.chat({ ...qwen_chat, stream: true }), "message");
  assert.equal(s.text, r.message.content);
  assert.equal(s.thinking, r.message.thinking ?? "");
  assert_final_stats(s.last, 12);
  assert.equal(s.last.eval_count, r.eval_count);
  const o = await raw(`${fx.server.url}/v1/chat/completions`, {
    body: JSON.stringify({ model: names.qwen, messages: qwen_chat.messages, temperature: 0, seed: 42, max_tokens: 12 }) });
  assert.equal(o.status, 200, o.text);
  assert.equal(o.json.choices[0].message.content, r.message.content);
  assert.equal(o.json.choices[0].message.reasoning_content ?? "", r.message.thinking ?? "");
});

test("chat: stop option, multi-turn history and the think option are accepted", async () => {
  const two = await ollama.chat({
    ...qwen_chat, messages: [...qwen_chat.messages, { role: "assistant", content: "The sea is big." },
                             { role: "user", content: "And the sky?" }] });
  assert.ok(two.prompt_eval_count > (await ollama.chat(qwen_chat)).prompt_eval_count, "history is in the prompt");
  const off = await ollama.chat({ ...qwen_chat, think: false });
  assert.equal(off.done, true);
  assert.ok(!off.message.thinking, `think:false gave thinking ${JSON.stringify(off.message.thinking)}`);
  const g = await ollama.generate({ ...stories_gen, options: { ...stories_gen.options, num_predict: 24 } });
  const words = g.response.trim().split(/\s+/);
  assert.ok(words.length >= 3, g.response);
  const stop = words[2];
  const cut = await ollama.generate({ ...stories_gen, options: { ...stories_gen.options, num_predict: 24, stop: [stop] } });
  assert.equal(cut.response, g.response.slice(0, g.response.indexOf(stop)));
  assert.equal(cut.done_reason, "stop");
});

test("embed: one unit vector of n_embd floats per input, equal to /v1/embeddings; chat models refused", async () => {
  const inputs = ["The cat sat on the mat.", "A dog ran."];
  const r = await ollama.embed({ model: names.bert, input: inputs });
  assert.equal(r.model, names.bert);
  assert.equal(r.embeddings.length, 2);
  for (const e of r.embeddings) {
    assert.equal(e.length, bert_n_embd);
    assert.ok(Math.abs(l2_norm(e) - 1) < 1e-3);
  }
  const one = await ollama.embed({ model: names.bert, input: inputs[1] });
  one.embeddings[0].forEach((x, i) => assert.ok(Math.abs(x - r.embeddings[1][i]) < 1e-5, `dim ${i}`));
  const o = await raw(`${fx.server.url}/v1/embeddings`, {
    body: JSON.stringify({ model: names.bert, input: inputs[0], encoding_format: "float" }) });
  assert.equal(o.status, 200, o.text);
  o.json.data[0].embedding.forEach((x, i) => assert.ok(Math.abs(x - r.embeddings[0][i]) < 1e-5, `dim ${i}`));
  // Ollama embeds only with models whose GGUF has a pooling type; a chat model is an error.
  await assert.rejects(ollama.embed({ model: names.stories, input: "x" }),
                       (e) => e.status_code === 400 && /does not support embeddings/.test(e.error));
  const legacy = await raw(`${fx.server.url}/api/embeddings`, { body: JSON.stringify({ model: names.stories, prompt: "x" }) });
  assert.equal(legacy.status, 400, legacy.text);
  // And an embedding model only embeds (Ollama's capabilities: ["embedding"]).
  assert.deepEqual((await ollama.show({ model: names.bert })).capabilities, ["embedding"]);
  await assert.rejects(ollama.generate({ model: names.bert, prompt: "hi" }),
                       (e) => e.status_code === 400 && e.error === `"${names.bert}" does not support generate`);
  await assert.rejects(ollama.chat({ model: names.bert, messages: [{ role: "user", content: "hi" }] }),
                       (e) => e.status_code === 400 && e.error === `"${names.bert}" does not support chat`);
  await ollama.embed({ model: names.bert, input: "x", keep_alive: 0 });  // unloaded for the keep_alive test
});

test("ps lists the loaded model, and `pocketlm ps` shows it", async () => {
  await ollama.generate({ ...stories_gen, keep_alive: "10m" });
  const { models } = await ollama.ps();
  const m = models.find((x) => x.name === names.stories);
  assert.ok(m, `ps: ${JSON.stringify(models)}`);
  assert.equal(m.model, names.stories);
  assert.ok(m.size > 0);
  assert.ok(m.context_length > 0 || m.context_length === undefined);
  const minutes = (Date.parse(m.expires_at) - Date.now()) / 60000;
  assert.ok(minutes > 8 && minutes <= 10.5, `expires_at ${m.expires_at} is ${minutes} min away, asked 10m`);
  const { stdout } = await pocketlm(["ps"], { ...store_env(fx.root), POCKETLM_PORT: String(fx.server.port) });
  assert.match(stdout, /NAME/);
  assert.ok(stdout.includes(names.stories), stdout);
});

// Waits (bounded) until ps no longer lists `name`: Ollama unloads after the answer is sent.
async function wait_unloaded(name) {
  for (let i = 0; i < 100; ++i) {
    const { models } = await ollama.ps();
    if (!models.some((x) => x.name === name)) return true;
    await sleep(100);
  }
  return false;
}

test("keep_alive: an empty prompt loads the model; keep_alive 0 unloads it", async () => {
  const loaded = await ollama.generate({ model: names.qwen, prompt: "", keep_alive: -1 });
  assert.equal(loaded.done, true);
  assert.equal(loaded.response, "");
  let { models } = await ollama.ps();
  const q = models.find((x) => x.name === names.qwen);
  assert.ok(q, "empty-prompt generate loads the model");
  assert.ok(Date.parse(q.expires_at) - Date.now() > 3600e3 * 24 * 365, `keep_alive -1: expires_at ${q.expires_at}`);
  const gone = await ollama.generate({ model: names.qwen, prompt: "", keep_alive: 0 });
  assert.equal(gone.done_reason, "unload");
  assert.ok(await wait_unloaded(names.qwen), "keep_alive 0 did not unload the model");
  // A request with keep_alive 0 is answered, then the model goes.
  await ollama.generate({ ...stories_gen, keep_alive: 0 });
  assert.ok(await wait_unloaded(names.stories), "stories still loaded after keep_alive 0");
  ({ models } = await ollama.ps());
  assert.deepEqual(models, []);
});

test("copy and delete", async () => {
  const copy = "stories-copy:latest";
  await ollama.copy({ source: names.stories, destination: copy });
  let { models } = await ollama.list();
  const a = models.find((m) => m.name === names.stories);
  const b = models.find((m) => m.name === copy);
  assert.ok(b, `copy missing: ${models.map((m) => m.name)}`);
  assert.equal(b.digest, a.digest);
  assert.equal(b.size, a.size);
  const g = await ollama.generate({ ...stories_gen, model: copy });
  assert.equal(g.response, (await ollama.generate(stories_gen)).response);
  await ollama.delete({ model: copy });
  ({ models } = await ollama.list());
  assert.ok(!models.some((m) => m.name === copy));
  assert.ok(models.some((m) => m.name === names.stories), "delete of the copy removed the original");
  await assert.rejects(ollama.delete({ model: copy }), (e) => e.status_code === 404);
  await assert.rejects(ollama.copy({ source: "nosuch-model:1b", destination: "x:1" }), (e) => e.status_code === 404);
});

test("pull: progress stream from the registry, then the model serves", async () => {
  const hex = sha256_file(stories_gguf());
  const total = fs.statSync(stories_gguf()).size;
  const events = [];
  for await (const e of await ollama.pull({ model: names.pulled, stream: true })) events.push(e);
  assert.equal(events[0].status, "pulling manifest");
  assert.equal(events.at(-1).status, "success");
  const layer = events.filter((e) => e.digest === `sha256:${hex}`);
  assert.ok(layer.length >= 1, `no progress for the model blob: ${JSON.stringify(events)}`);
  assert.ok(layer.every((e) => e.total === total && (e.completed ?? 0) <= total), JSON.stringify(layer));
  assert.ok(layer.some((e) => e.completed === total), "the blob never reached completed == total");
  const statuses = events.map((e) => e.status);
  assert.ok(statuses.includes("verifying sha256 digest"), statuses.join(" | "));
  assert.ok(statuses.includes("writing manifest"), statuses.join(" | "));
  const { models } = await ollama.list();
  assert.ok(models.some((m) => m.name === names.pulled));
  const g = await ollama.generate({ ...stories_gen, model: names.pulled });
  assert.equal(g.response, (await ollama.generate(stories_gen)).response);
  // Already present: a non-streaming pull just succeeds.
  assert.equal((await ollama.pull({ model: names.pulled, stream: false })).status, "success");
  await assert.rejects(async () => {
    for await (const e of await ollama.pull({ model: "nosuch:1b", stream: true })) void e;
  });
});

test("unknown model: chat and generate are 404", async () => {
  await assert.rejects(ollama.chat({ ...qwen_chat, model: "nosuch-model:1b" }), (e) => {
    assert.equal(e.status_code, 404);
    assert.match(e.error, /nosuch-model/);
    return true;
  });
  await assert.rejects(ollama.generate({ ...stories_gen, model: "nosuch-model:1b", stream: true }),
                       (e) => e.status_code === 404);
});

test("logprobs: chat and generate carry each token's logprob and alternatives, streamed or whole", async () => {
  const ask = { ...qwen_chat, logprobs: true, top_logprobs: 3 };
  // Warm-up: whole and streamed below then both find the prompt cached (a cold batched prefill
  // and a cached prompt round the first token's logits differently in the last digits on AVX2).
  await ollama.chat(ask);
  const r = await ollama.chat(ask);
  assert.equal(r.logprobs.length, r.eval_count);
  assert.equal(r.logprobs.map((e) => e.token).join(""), r.message.content);
  for (const e of r.logprobs) {
    assert.equal(e.top_logprobs.length, 3);
    assert.ok(e.top_logprobs.every((t, i) => i === 0 || t.logprob <= e.top_logprobs[i - 1].logprob));
    assert.ok(e.top_logprobs.reduce((sum, t) => sum + Math.exp(t.logprob), 0) <= 1 + 1e-5);
  }
  const s = await collect(await ollama.chat({ ...ask, stream: true }), "message");
  assert.deepEqual(s.parts.flatMap((p) => p.logprobs ?? []), r.logprobs);
  // Greedy without penalties: each chosen token is the most likely one.
  const g = await ollama.generate({ ...stories_gen, logprobs: true, top_logprobs: 2,
                                    options: { ...stories_gen.options, repeat_penalty: 1 } });
  assert.equal(g.logprobs.map((e) => e.token).join(""), g.response);
  for (const e of g.logprobs) assert.deepEqual(e.top_logprobs[0], { token: e.token, logprob: e.logprob, bytes: e.bytes });
  const plain = await ollama.generate(stories_gen);
  assert.equal(plain.logprobs, undefined);
  await assert.rejects(ollama.generate({ ...stories_gen, logprobs: true, top_logprobs: 21 }), (e) => e.status_code === 400);
});
