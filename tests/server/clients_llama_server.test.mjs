// llama-server's own endpoints, as its clients (llama.cpp's web UI, PocketPal, Prometheus) read
// them with plain HTTP: /health, /props, /metrics, /slots, /completion (non-streamed and SSE,
// token-id prompts, stop words, n_probs, grammar and json_schema), /embedding and /v1/rerank.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup_fixture, assert_alive, names, ctx, parallel, qwen_n_embd, bert_n_embd } from "./fixture.mjs";
import { raw, l2_norm } from "./lib.mjs";

let fx;

before(async () => {
  fx = await setup_fixture();
});
after(async () => {
  if (fx) assert_alive(fx);
  await fx?.stop();
});

const get = (path) => raw(`${fx.server.url}${path}`, { method: "GET" });
const post = (path, body) => raw(`${fx.server.url}${path}`, { body: JSON.stringify(body) });

const prompt = "Once upon a time";
const greedy = { model: names.qwen, prompt, temperature: 0, seed: 42, n_predict: 8 };

async function completion(body) {
  const r = await post("/completion", body);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// Reads an SSE body: every event must be `data: {json}`; returns the parsed objects.
function sse_events(text) {
  assert.ok(!text.includes("[DONE]"), "llama-server's /completion stream has no [DONE]");
  return text.split("\n\n").filter((e) => e.length > 0).map((e) => {
    assert.match(e, /^data: \{/, `event: ${e}`);
    return JSON.parse(e.slice("data: ".length));
  });
}

async function stream(body) {
  const r = await post("/completion", { ...body, stream: true });
  assert.equal(r.status, 200, r.text);
  assert.match(r.type, /^text\/event-stream/);
  const events = sse_events(r.text);
  const last = events.at(-1);
  const parts = events.slice(0, -1);
  for (const e of parts) assert.equal(e.stop, false, JSON.stringify(e));
  assert.equal(last.stop, true, JSON.stringify(last));
  return { content: parts.map((e) => e.content).join(""), parts, last };
}

// Prometheus text exposition 0.0.4, line by line: {name: {type, help, value}}. Every sample line
// is `name{labels} value` (labels optional) of a metric with a # TYPE line before it.
function parse_prometheus(text) {
  const metrics = {};
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      metrics[m[2]] ??= {};
      metrics[m[2]][m[1].toLowerCase()] = m[3];
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const value = Number(m[3]);
    assert.ok(Number.isFinite(value), `value of ${line}`);
    assert.ok(metrics[m[1]]?.type, `no # TYPE before ${m[1]}`);
    assert.ok(["counter", "gauge"].includes(metrics[m[1]].type), `type of ${m[1]}`);
    metrics[m[1]].value = value;
  }
  return metrics;
}

async function metrics() {
  const r = await get("/metrics");
  assert.equal(r.status, 200, r.text);
  assert.equal(r.type, "text/plain; version=0.0.4");
  return parse_prometheus(r.text);
}

test("/health answers {status: ok}", async () => {
  const r = await get("/health");
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: "ok" });
});

test("/props?model= describes that model: the server's context per slot, its template, the slots", async () => {
  const show = await post("/api/show", { model: names.qwen });
  assert.equal(show.status, 200, show.text);
  for (const loaded of [false, true]) {  // from its file, then loaded
    if (loaded) await completion({ ...greedy, n_predict: 1 });
    const r = await get(`/props?model=${encodeURIComponent(names.qwen)}`);
    assert.equal(r.status, 200, r.text);
    const p = r.json;
    assert.equal(p.default_generation_settings.n_ctx, ctx);
    assert.equal(p.default_generation_settings.is_processing, false);
    for (const k of ["temperature", "top_k", "top_p", "min_p", "n_predict", "seed"]) {
      assert.equal(typeof p.default_generation_settings.params[k], "number", k);
    }
    assert.equal(p.total_slots, parallel);
    assert.equal(p.model_alias, names.qwen);
    assert.match(p.model_path, /\//);
    assert.ok(show.json.template.includes("<|im_start|>"), "qwen's template");
    assert.equal(p.chat_template, show.json.template);
    assert.deepEqual(p.modalities, { vision: false, audio: false });
    assert.equal(typeof p.build_info, "string");
  }
  assert.equal((await get("/props?model=nope:1")).status, 404);
  const change = await post("/props", {});
  assert.equal(change.status, 501);
  assert.match(change.json.error.message, /does not support/);
});

test("without a model name, /props and /completion use the model last used", async () => {
  for (const name of [names.stories, names.qwen]) {
    await completion({ ...greedy, model: name, n_predict: 1 });
    const p = (await get("/props")).json;
    assert.equal(p.model_alias, name);
    assert.equal(p.default_generation_settings.n_ctx, ctx);
    const c = await completion({ prompt, n_predict: 1, temperature: 0 });
    assert.equal(c.model, name);
  }
  assert.equal((await get("/props")).json.chat_template, (await post("/api/show", { model: names.qwen })).json.template);
});

test("/completion: n_predict reached is stop_type limit, with llama-server's fields", async () => {
  const r = await completion(greedy);
  assert.equal(typeof r.content, "string");
  assert.ok(r.content.length > 0);
  assert.equal(r.stop, true);
  assert.equal(r.tokens_predicted, greedy.n_predict);
  assert.equal(r.stop_type, "limit");
  assert.equal(r.stopping_word, "");
  assert.equal(r.model, names.qwen);
  assert.equal(r.truncated, false);
  assert.ok(r.tokens_evaluated > 0);
  assert.equal(r.generation_settings.n_predict, greedy.n_predict);
  assert.equal(r.generation_settings.temperature, 0);
  const t = r.timings;
  assert.equal(t.predicted_n, greedy.n_predict);
  assert.ok(t.prompt_n >= 0 && t.prompt_n <= r.tokens_evaluated);
  for (const k of ["prompt_ms", "predicted_ms", "prompt_per_second", "predicted_per_second"]) {
    assert.equal(typeof t[k], "number", k);
  }
  // Deterministic at temperature 0, and /completions is the same route.
  const again = await post("/completions", greedy);
  assert.equal(again.json.content, r.content);
});

test("/completion streamed: SSE chunks whose contents join to the non-streamed answer", async () => {
  const whole = await completion(greedy);
  const s = await stream(greedy);
  assert.ok(s.parts.length >= 1);
  for (const e of s.parts) assert.equal(typeof e.content, "string");
  assert.equal(s.content, whole.content);
  assert.equal(s.last.content, "");
  assert.equal(s.last.stop_type, "limit");
  assert.equal(s.last.tokens_predicted, greedy.n_predict);
  assert.equal(s.last.timings.predicted_n, greedy.n_predict);
});

test("/completion: a prompt of token ids (and ids mixed with text) runs as the text does", async () => {
  const tok = await post("/tokenize", { model: names.qwen, content: prompt, add_special: true });
  assert.equal(tok.status, 200, tok.text);
  const ids = tok.json.tokens;
  assert.ok(ids.length > 1);
  const text = await completion(greedy);
  const by_ids = await completion({ ...greedy, prompt: ids });
  assert.equal(by_ids.tokens_evaluated, ids.length);
  assert.equal(by_ids.content, text.content);
  // Mixed: the text tokenized (with BOS where the model adds one), then the ids as given.
  const nl = (await post("/tokenize", { model: names.qwen, content: "\n" })).json.tokens;
  const mixed = await completion({ ...greedy, prompt: [prompt, ...nl] });
  assert.equal(mixed.tokens_evaluated, ids.length + nl.length);
  assert.equal(mixed.prompt, `${prompt}\n`);
  const bad = await post("/completion", { ...greedy, prompt: [1, 10_000_000] });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /not in the vocabulary/);
  assert.equal((await post("/completion", { ...greedy, prompt: ["a", "b"] })).status, 400);
  assert.equal((await post("/completion", { model: names.qwen })).status, 400);
});

test("/completion: a stop word ends it as stop_type word, streamed too", async () => {
  const whole = await completion({ ...greedy, n_predict: 16 });
  const cps = Array.from(whole.content);
  assert.ok(cps.length >= 4, `answer too short to cut: ${JSON.stringify(whole.content)}`);
  const stop = cps.slice(cps.length >> 1, (cps.length >> 1) + 2).join("");
  const expected = whole.content.slice(0, whole.content.indexOf(stop));
  const body = { ...greedy, n_predict: 16, stop: [stop] };
  const r = await completion(body);
  assert.equal(r.content, expected);
  assert.equal(r.stop_type, "word");
  assert.equal(r.stopping_word, stop);
  const s = await stream(body);
  assert.equal(s.content, expected);
  assert.equal(s.last.stop_type, "word");
});

test("/metrics: Prometheus text whose counters grow by exactly what a /completion did", async () => {
  const before = await metrics();
  for (const name of ["llamacpp:prompt_tokens_total", "llamacpp:tokens_predicted_total", "llamacpp:prompt_tokens_seconds",
                      "llamacpp:predicted_tokens_seconds", "llamacpp:requests_processing", "llamacpp:requests_deferred",
                      "llamacpp:n_decode_total"]) {
    assert.ok(before[name], `${name} missing`);
    assert.ok(before[name].help, `${name} has no # HELP`);
  }
  assert.equal(before["llamacpp:tokens_predicted_total"].type, "counter");
  assert.equal(before["llamacpp:requests_processing"].type, "gauge");
  for (const gauge of ["llamacpp:requests_processing", "llamacpp:requests_deferred"]) {
    assert.ok(Number.isInteger(before[gauge].value) && before[gauge].value >= 0, gauge);
  }
  const r = await completion({ ...greedy, prompt: "A new prompt for the metrics", n_predict: 5 });
  const after = await metrics();
  const grew = (name) => after[name].value - before[name].value;
  assert.equal(grew("llamacpp:tokens_predicted_total"), r.tokens_predicted);
  assert.equal(grew("llamacpp:prompt_tokens_total"), r.timings.prompt_n);
  assert.ok(grew("llamacpp:n_decode_total") >= r.tokens_predicted);
  assert.ok(after["llamacpp:predicted_tokens_seconds"].value > 0);
});

test("/slots lists every slot of the loaded models", async () => {
  await completion({ ...greedy, n_predict: 1 });
  const r = await get("/slots");
  assert.equal(r.status, 200, r.text);
  const mine = r.json.filter((s) => s.model === names.qwen);
  assert.equal(mine.length, parallel);
  assert.deepEqual(mine.map((s) => s.id).sort(), [...Array(parallel).keys()]);
  for (const s of mine) {
    assert.equal(s.n_ctx, ctx);
    assert.equal(s.is_processing, false);
    assert.equal(typeof s.params.temperature, "number");
  }
  assert.equal((await get("/slots?fail_on_no_slot=1")).status, 200);
});

test("/completion: json_schema and grammar constrain the output", async () => {
  const schema = {
    type: "object",
    properties: { name: { type: "string", maxLength: 8 }, age: { type: "integer", minimum: 0, maximum: 99 } },
    required: ["name", "age"],
    additionalProperties: false,
  };
  // Sampled (a random model's greedy choice can repeat whitespace to the limit), bounded fields.
  const r = await completion({ ...greedy, temperature: 1, seed: 1, n_predict: 400, json_schema: schema });
  const v = JSON.parse(r.content);
  assert.equal(typeof v.name, "string");
  assert.ok(v.name.length <= 8);
  assert.ok(Number.isInteger(v.age) && v.age >= 0 && v.age <= 99);
  assert.equal(r.stop_type, "eos");
  const g = await completion({ ...greedy, grammar: 'root ::= "yes" | "no"' });
  assert.ok(["yes", "no"].includes(g.content), g.content);
  const bad = await post("/completion", { ...greedy, grammar: "root ::= (" });
  assert.equal(bad.status, 400);
});

test("/completion: n_probs reports each token with its alternatives", async () => {
  // No penalties: greedy decoding then takes the most likely token, the first alternative.
  const r = await completion({ ...greedy, n_predict: 4, n_probs: 3, repeat_penalty: 1 });
  assert.equal(r.completion_probabilities.length, r.tokens_predicted);
  for (const p of r.completion_probabilities) {
    assert.equal(typeof p.id, "number");
    assert.equal(typeof p.token, "string");
    assert.ok(Array.isArray(p.bytes));
    assert.ok(p.logprob <= 0);
    assert.equal(p.top_logprobs.length, 3);
    assert.equal(p.top_logprobs[0].id, p.id);
    assert.ok(p.top_logprobs[0].logprob >= p.top_logprobs[2].logprob);
  }
});

test("/embedding: one pooled row of n_embd per content", async () => {
  const r = await post("/embedding", { model: names.bert, content: "hello world" });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.length, 1);
  assert.equal(r.json[0].index, 0);
  assert.equal(r.json[0].embedding.length, 1);
  assert.equal(r.json[0].embedding[0].length, bert_n_embd);
  assert.ok(Math.abs(l2_norm(r.json[0].embedding[0]) - 1) < 1e-3);
  const v1 = await post("/v1/embeddings", { model: names.bert, input: "hello world" });
  assert.deepEqual(r.json[0].embedding[0], v1.json.data[0].embedding);
  const two = await post("/embedding", { model: names.bert, content: ["a", "b"] });
  assert.deepEqual(two.json.map((e) => e.index), [0, 1]);
  assert.equal((await post("/embedding", { model: names.bert })).status, 400);
  const chat = await post("/embedding", { model: names.qwen, content: "hello" });
  assert.equal(chat.status, 400, chat.text);
});

test("/v1/rerank and /rerank: 400, no model here reranks (after checking the body)", async () => {
  const body = { model: names.qwen, query: "What is a panda?", documents: ["hi", "it is a bear"] };
  for (const path of ["/v1/rerank", "/rerank"]) {
    const r = await post(path, body);
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, /not a reranking model/);
  }
  const no_query = await post("/v1/rerank", { ...body, query: undefined });
  assert.equal(no_query.status, 400);
  assert.match(no_query.json.error.message, /query/);
  const no_docs = await post("/v1/rerank", { ...body, documents: [] });
  assert.equal(no_docs.status, 400);
  assert.match(no_docs.json.error.message, /documents/);
  assert.equal((await post("/v1/rerank", { ...body, model: "nope:1" })).status, 404);
});
