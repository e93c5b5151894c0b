// `pocketlm serve` driven by the official `openai` npm client: chat completions (non-streaming and
// SSE streaming, include_usage, max_tokens, stop, seed, penalties), completions, models,
// embeddings, and errors as the client's typed exceptions.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI, { NotFoundError, BadRequestError } from "openai";
import { setup_fixture, assert_alive, names, bert_n_embd } from "./fixture.mjs";
import { l2_norm, stop_from } from "./lib.mjs";

let fx;
let client;

before(async () => {
  fx = await setup_fixture();
  // No retries: every status the server sends must reach the assertions as it is.
  client = new OpenAI({ baseURL: `${fx.server.url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 120000 });
});
after(async () => {
  if (fx) assert_alive(fx);
  await fx?.stop();
});

const hello = [{ role: "user", content: "Hello! Tell me about the sea." }];
const greedy = { model: names.qwen, messages: hello, temperature: 0, seed: 42, max_tokens: 12 };

// Reads a chat stream into {content, reasoning, finish (all non-null finish_reasons), usage
// (from the chunk that has it), chunks}.
async function collect_chat(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  const out = { content: "", reasoning: "", finish: [], usage: null, chunks: [] };
  for await (const c of stream) {
    out.chunks.push(c);
    if (c.usage) out.usage = c.usage;
    for (const ch of c.choices) {
      out.content += ch.delta?.content ?? "";
      out.reasoning += ch.delta?.reasoning_content ?? "";
      if (ch.finish_reason) out.finish.push(ch.finish_reason);
    }
  }
  return out;
}

async function collect_completion(params) {
  const stream = await client.completions.create({ ...params, stream: true });
  const out = { text: "", finish: [], usage: null, chunks: [] };
  for await (const c of stream) {
    out.chunks.push(c);
    if (c.usage) out.usage = c.usage;
    for (const ch of c.choices) {
      out.text += ch.text ?? "";
      if (ch.finish_reason) out.finish.push(ch.finish_reason);
    }
  }
  return out;
}

test("models.list lists the store's models as OpenAI model objects", async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, "model");
    assert.equal(typeof m.created, "number");
    assert.equal(typeof m.owned_by, "string");
    ids.push(m.id);
  }
  assert.ok(ids.includes(names.stories), `ids: ${ids}`);
  assert.ok(ids.includes(names.qwen), `ids: ${ids}`);
});

test("chat: non-streaming greedy answer has the chat.completion shape and consistent usage", async () => {
  const r = await client.chat.completions.create(greedy);
  assert.equal(r.object, "chat.completion");
  assert.match(r.id, /\S/);
  assert.equal(typeof r.created, "number");
  assert.match(r.model, /qwen2-tiny/);
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.index, 0);
  assert.equal(c.message.role, "assistant");
  assert.equal(typeof c.message.content, "string");
  assert.ok(["stop", "length"].includes(c.finish_reason), c.finish_reason);
  assert.ok(r.usage.prompt_tokens > 5, `prompt_tokens ${r.usage.prompt_tokens}`);
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 12);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  if (c.finish_reason === "length") assert.equal(r.usage.completion_tokens, 12);
  // Greedy decoding is deterministic: the same request gives the same answer.
  const again = await client.chat.completions.create(greedy);
  assert.equal(again.choices[0].message.content, c.message.content);
  assert.deepEqual(again.usage, r.usage);
});

test("chat: streamed deltas add up to the non-streaming answer; include_usage sends a final usage chunk", async () => {
  const whole = await client.chat.completions.create(greedy);
  const s = await collect_chat({ ...greedy, stream_options: { include_usage: true } });
  assert.equal(s.content, whole.choices[0].message.content);
  assert.equal(s.reasoning, whole.choices[0].message.reasoning_content ?? "");
  assert.deepEqual(s.finish, [whole.choices[0].finish_reason]);
  const ids = new Set(s.chunks.map((c) => c.id));
  assert.equal(ids.size, 1, `chunk ids differ: ${[...ids]}`);
  for (const c of s.chunks) assert.equal(c.object, "chat.completion.chunk");
  assert.equal(s.chunks[0].choices[0].delta.role, "assistant");
  // The usage chunk is the last one, with no choices, and counts what the non-stream answer counts.
  const last = s.chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, whole.usage);
  const with_usage = s.chunks.filter((c) => c.usage);
  assert.equal(with_usage.length, 1, "exactly one chunk carries usage");
});

test("chat: without stream_options no chunk carries usage", async () => {
  const s = await collect_chat(greedy);
  assert.equal(s.usage, null);
  assert.equal(s.finish.length, 1);
});

test("chat: max_tokens and max_completion_tokens cap the answer with finish_reason length", async () => {
  const a = await client.chat.completions.create({ ...greedy, max_tokens: 3 });
  assert.equal(a.choices[0].finish_reason, "length");
  assert.equal(a.usage.completion_tokens, 3);
  const b = await client.chat.completions.create({ ...greedy, max_tokens: undefined, max_completion_tokens: 2 });
  assert.equal(b.choices[0].finish_reason, "length");
  assert.equal(b.usage.completion_tokens, 2);
  // A shorter greedy answer is a prefix of the longer one.
  const full = await client.chat.completions.create(greedy);
  // (An incomplete UTF-8 sequence at the cut may come out as U+FFFD; the rest must match.)
  const short = a.choices[0].message.content.replace(/\uFFFD+$/, "");
  assert.ok(full.choices[0].message.content.startsWith(short), `${JSON.stringify(short)} not a prefix`);
  const s = await collect_chat({ ...greedy, max_tokens: 3, stream_options: { include_usage: true } });
  assert.deepEqual(s.finish, ["length"]);
  assert.equal(s.usage.completion_tokens, 3);
  assert.equal(s.content, a.choices[0].message.content);
});

test("chat: a stop string ends the answer before it, streaming or not", async () => {
  const base = await client.chat.completions.create({ ...greedy, max_tokens: 16 });
  const { stop, expected } = stop_from(base.choices[0].message.content);
  const r = await client.chat.completions.create({ ...greedy, max_tokens: 16, stop: [stop] });
  assert.equal(r.choices[0].message.content, expected, `stop ${JSON.stringify(stop)}`);
  assert.equal(r.choices[0].finish_reason, "stop");
  const s = await collect_chat({ ...greedy, max_tokens: 16, stop });
  assert.equal(s.content, expected, `stop ${JSON.stringify(stop)} (stream)`);
  assert.deepEqual(s.finish, ["stop"]);
});

test("chat: sampling with a seed repeats; penalties and top_p are accepted", async () => {
  const p = { ...greedy, temperature: 1.0, top_p: 0.9, seed: 7, max_tokens: 10 };
  const a = await client.chat.completions.create(p);
  const b = await client.chat.completions.create(p);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  const pen = await client.chat.completions.create({ ...greedy, presence_penalty: 1.5, frequency_penalty: 1.0 });
  assert.equal(pen.choices[0].message.role, "assistant");
  assert.ok(pen.usage.completion_tokens >= 1);
});

test("chat: a model without a chat template (stories260K) still answers", async () => {
  const r = await client.chat.completions.create({
    model: names.stories, messages: [{ role: "user", content: "Once upon a time" }], temperature: 0, max_tokens: 8 });
  assert.equal(r.choices[0].message.role, "assistant");
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8);
});

test("completions: greedy text, stream equal to non-stream, max_tokens gives finish_reason length", async () => {
  const p = { model: names.stories, prompt: "Once upon a time", temperature: 0, max_tokens: 8 };
  const r = await client.completions.create(p);
  assert.equal(r.object, "text_completion");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].index, 0);
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.usage.completion_tokens, 8);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 8);
  // stories260K is trained: its greedy continuation is English words.
  assert.match(r.choices[0].text, /[a-z]{2,}/i);
  const s = await collect_completion({ ...p, stream_options: { include_usage: true } });
  assert.equal(s.text, r.choices[0].text);
  assert.deepEqual(s.finish, ["length"]);
  assert.deepEqual(s.usage, r.usage);
});

test("completions: a stop string cuts the text; seeded sampling repeats", async () => {
  const p = { model: names.stories, prompt: "Once upon a time", temperature: 0, max_tokens: 24 };
  const base = await client.completions.create(p);
  const { stop, expected } = stop_from(base.choices[0].text);
  const r = await client.completions.create({ ...p, stop });
  assert.equal(r.choices[0].text, expected, `stop ${JSON.stringify(stop)}`);
  assert.equal(r.choices[0].finish_reason, "stop");
  const s = await collect_completion({ ...p, stop: [stop, "\u0000never"] });
  assert.equal(s.text, expected);
  const seeded = { ...p, temperature: 0.9, seed: 123 };
  const a = await client.completions.create(seeded);
  const b = await client.completions.create(seeded);
  assert.equal(a.choices[0].text, b.choices[0].text);
});

test("embeddings: n_embd dimensions, unit norm, deterministic, one vector per input; chat models refused", async () => {
  // The client asks for base64 by default and decodes it; an explicit "float" gets numbers.
  const a = await client.embeddings.create({ model: names.bert, input: "The cat sat on the mat." });
  assert.equal(a.object, "list");
  assert.equal(a.data.length, 1);
  assert.equal(a.data[0].object, "embedding");
  assert.equal(a.data[0].index, 0);
  assert.equal(a.data[0].embedding.length, bert_n_embd);
  assert.ok(Math.abs(l2_norm(a.data[0].embedding) - 1) < 1e-3, `norm ${l2_norm(a.data[0].embedding)}`);
  assert.ok(a.usage.prompt_tokens > 0);
  const b = await client.embeddings.create({
    model: names.bert, input: ["A dog ran.", "The cat sat on the mat."], encoding_format: "float" });
  assert.equal(b.data.length, 2);
  assert.deepEqual(b.data.map((d) => d.index), [0, 1]);
  const same = Array.from(a.data[0].embedding);
  b.data[1].embedding.forEach((x, i) => assert.ok(Math.abs(x - same[i]) < 1e-5, `dim ${i}: ${x} vs ${same[i]}`));
  const diff = b.data[0].embedding.reduce((s, x, i) => s + Math.abs(x - same[i]), 0);
  assert.ok(diff > 1e-3, "different inputs gave the same vector");
  // A chat model has no pooling type: refused, as Ollama refuses it.
  await assert.rejects(client.embeddings.create({ model: names.qwen, input: "hello", encoding_format: "float" }),
                       (e) => e instanceof BadRequestError && /does not support embeddings/.test(e.message));
});

test("errors: unknown model is NotFoundError; malformed requests are BadRequestError", async () => {
  await assert.rejects(client.chat.completions.create({ ...greedy, model: "nosuch-model:1b" }), (e) => {
    assert.ok(e instanceof NotFoundError, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.status, 404);
    assert.match(e.message, /nosuch-model/);
    return true;
  });
  await assert.rejects(client.completions.create({ model: "nosuch-model:1b", prompt: "x" }), NotFoundError);
  await assert.rejects(client.embeddings.create({ model: "nosuch-model:1b", input: "x" }), NotFoundError);
  const bad = [
    { ...greedy, messages: "not an array" },
    { ...greedy, temperature: "hot" },
    { ...greedy, max_tokens: -5 },
    { ...greedy, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] },
  ];
  for (const body of bad) {
    await assert.rejects(client.chat.completions.create(body), (e) => {
      assert.ok(e instanceof BadRequestError, `${JSON.stringify(body)} -> ${e.constructor.name}: ${e.message}`);
      assert.equal(e.status, 400);
      assert.equal(typeof e.error?.message, "string", "OpenAI error shape {error:{message}}");
      return true;
    });
  }
});

// Each entry's alternatives: n of them, descending, probabilities summing to at most 1, and the
// chosen token's logprob the one listed for it among them.
function check_entries(entries, n) {
  for (const e of entries) {
    assert.equal(e.top_logprobs.length, n, JSON.stringify(e));
    assert.deepEqual(e.bytes, Array.from(Buffer.from(e.token, "utf8")));
    let sum = 0;
    e.top_logprobs.forEach((t, i) => {
      assert.ok(t.logprob <= 0);
      if (i > 0) assert.ok(t.logprob <= e.top_logprobs[i - 1].logprob);
      sum += Math.exp(t.logprob);
      if (t.token === e.token) assert.equal(t.logprob, e.logprob);
    });
    assert.ok(sum <= 1 + 1e-5, `probabilities sum to ${sum}`);
  }
}

test("chat: logprobs with top_logprobs, whole and streamed, tokens spelling the content", async () => {
  const p = { ...greedy, logprobs: true, top_logprobs: 3 };
  // Warm-up: both requests below then find the prompt cached and evaluate the same way (a cold
  // batched prefill and a cached one round differently in the last digits on some CPUs).
  await client.chat.completions.create(p);
  const r = await client.chat.completions.create(p);
  const lp = r.choices[0].logprobs;
  assert.equal(lp.refusal, null);
  assert.equal(lp.content.length, r.usage.completion_tokens);
  assert.equal(lp.content.map((e) => e.token).join(""), r.choices[0].message.content);
  check_entries(lp.content, 3);
  const s = await collect_chat(p);
  const streamed = s.chunks.flatMap((c) => c.choices[0]?.logprobs?.content ?? []);
  assert.deepEqual(streamed, lp.content);
  const plain = await client.chat.completions.create(greedy);
  assert.equal(plain.choices[0].logprobs, null);
  await assert.rejects(client.chat.completions.create({ ...greedy, top_logprobs: 2 }), BadRequestError);
  await assert.rejects(client.chat.completions.create({ ...greedy, n: 2 }), (e) => {
    assert.ok(e instanceof BadRequestError);
    assert.equal(e.param, "n");
    assert.match(e.message, /send one request per choice/);
    return true;
  });
});

test("completions: legacy logprobs, whole and streamed, with text offsets", async () => {
  const p = { model: names.stories, prompt: "Once upon a time", temperature: 0, max_tokens: 10, logprobs: 3 };
  await client.completions.create(p);  // warm-up, as above
  const r = await client.completions.create(p);
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, 10);
  assert.equal(lp.tokens.join(""), r.choices[0].text);
  let offset = 0;
  lp.tokens.forEach((t, i) => {
    assert.equal(lp.text_offset[i], offset);
    offset += Buffer.byteLength(t, "utf8");
    assert.equal(lp.top_logprobs[i][t], lp.token_logprobs[i]);
    assert.ok(Object.keys(lp.top_logprobs[i]).length <= 4);
  });
  const s = await collect_completion(p);
  assert.deepEqual(s.chunks.flatMap((c) => c.choices[0]?.logprobs?.tokens ?? []), lp.tokens);
  assert.deepEqual(s.chunks.flatMap((c) => c.choices[0]?.logprobs?.token_logprobs ?? []), lp.token_logprobs);
  await assert.rejects(client.completions.create({ ...p, logprobs: 6 }), BadRequestError);
});
