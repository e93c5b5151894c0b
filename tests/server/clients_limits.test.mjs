// `pocketlm serve` under concurrency and at its limits: 4 concurrent streaming clients each get
// the answer they get alone; a client that disconnects frees its slot; beyond the slots and the
// queue a request gets 503/429; malformed JSON, an over-long prompt and an oversized body are
// 400/400/413 with messages; --api-key makes every endpoint 401 without the bearer key.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI, { AuthenticationError, BadRequestError } from "openai";
import { Ollama } from "ollama";
import { setup_fixture, assert_alive, names, ctx } from "./fixture.mjs";
import { pocketlm, raw, sleep, start_server, stories_gguf } from "./lib.mjs";

let fx;       // --parallel 4 --ctx 512
let small;    // --parallel 1 --queue 0 --api-key secret: one slot, no queue
const key = "secret-test-key";

before(async () => {
  fx = await setup_fixture();
  small = await start_server({ root: fx.root, args: ["--parallel", "1", "--queue", "0", "--ctx", "8192", "--api-key", key] });
});
after(async () => {
  if (fx) assert_alive(fx);
  await small?.stop();
  await fx?.stop();
});

const openai_for = (server, apiKey = "unused") =>
  new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0, timeout: 120000 });

async function stream_text(client, params) {
  let text = "";
  for await (const c of await client.chat.completions.create({ ...params, stream: true })) {
    text += c.choices[0]?.delta?.content ?? "";
  }
  return text;
}

test("4 concurrent streaming chat clients each get the answer they get alone (greedy)", async () => {
  const client = openai_for(fx.server);
  const prompts = ["Tell me about the sea.", "What is a cat?", "Count to five.", "Write a haiku about rain."];
  const req = (p) => ({ model: names.qwen, messages: [{ role: "user", content: p }], temperature: 0, max_tokens: 16 });
  const alone = [];
  for (const p of prompts) alone.push(await stream_text(client, req(p)));
  assert.equal(new Set(alone).size, prompts.length, "different prompts should give different answers");
  const together = await Promise.all(prompts.map((p) => stream_text(client, req(p))));
  assert.deepEqual(together, alone);
});

test("4 concurrent ollama generate streams on the trained model match their solo answers", async () => {
  const ollama = new Ollama({ host: fx.server.url });
  const prompts = ["Once upon a time", "Lily had a ball", "The sun was", "Tom and his dog"];
  const req = (p) => ({ model: names.stories, prompt: p, stream: true, options: { temperature: 0, num_predict: 24 } });
  const run = async (p) => {
    let text = "";
    for await (const part of await ollama.generate(req(p))) text += part.response;
    return text;
  };
  const alone = [];
  for (const p of prompts) alone.push(await run(p));
  assert.equal(new Set(alone).size, prompts.length, "different prompts should give different answers");
  const together = await Promise.all(prompts.map(run));
  assert.deepEqual(together, alone);
});

// The one-slot server answers `probe` with 200 once the slot is free, 503/429 while it is busy.
async function probe(server) {
  return raw(`${server.url}/v1/chat/completions`, {
    headers: { Authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: names.qwen, messages: [{ role: "user", content: "hi" }], temperature: 0, max_tokens: 2 }) });
}

test("beyond the slot and the queue a request is refused with 503/429; a disconnect frees the slot", async () => {
  const client = openai_for(small, key);
  // A long generation (8000 tokens would take many seconds) that holds the only slot.
  const stream = await client.chat.completions.create({
    model: names.qwen, messages: [{ role: "user", content: "Write a very long story." }], temperature: 0,
    max_tokens: 8000, stream: true });
  let seen = 0;
  let refused = null;
  for await (const c of stream) {
    if (c.choices[0]?.delta?.content) ++seen;
    if (seen === 3) {
      refused = await probe(small);
      break;  // leaving the loop aborts the request: the client disconnects mid-stream
    }
  }
  assert.ok(refused, "the stream ended before 3 content chunks");
  assert.ok([503, 429].includes(refused.status), `busy server answered ${refused.status}: ${refused.text}`);
  assert.equal(typeof refused.json?.error?.message, "string", refused.text);
  // The server notices the disconnect and stops generating: the slot comes free long before the
  // 8000 tokens could have been generated (bounded wait: 100 probes, 100 ms apart).
  let after_abort = null;
  for (let i = 0; i < 100; ++i) {
    after_abort = await probe(small);
    if (after_abort.status === 200) break;
    assert.ok([503, 429].includes(after_abort.status), `${after_abort.status}: ${after_abort.text}`);
    await sleep(100);
  }
  assert.equal(after_abort.status, 200, "the slot stayed busy after the client disconnected");
  assert.equal(after_abort.json.choices[0].message.role, "assistant");
});

test("an aborted ollama stream does not disturb the next request", async () => {
  const ollama = new Ollama({ host: small.url, headers: { Authorization: `Bearer ${key}` } });
  const req = { model: names.qwen, prompt: "Write a very long story.", stream: true, options: { temperature: 0, num_predict: 8000 } };
  const it = await ollama.generate(req);
  let n = 0;
  try {
    for await (const part of it) {
      void part;
      // Stop reading at once: parts already buffered would still be yielded after abort().
      if (++n === 3) {
        it.abort();
        break;
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") throw e;
  }
  assert.equal(n, 3, "the stream ended before the abort");
  const solo = { model: names.qwen, prompt: "hi", options: { temperature: 0, num_predict: 4 } };
  let r = null;
  for (let i = 0; i < 100 && !r; ++i) {
    try {
      r = await ollama.generate(solo);
    } catch (e) {
      assert.ok([503, 429].includes(e.status_code), `${e.status_code}: ${e.message}`);
      await sleep(100);
    }
  }
  assert.ok(r, "the slot stayed busy after the ollama client aborted");
  assert.equal(r.done, true);
  assert.equal(r.eval_count, 4);
});

test("--api-key: no or wrong bearer key is 401 on every API; the right key works", async () => {
  for (const [method, path] of [["GET", "/v1/models"], ["GET", "/api/tags"], ["POST", "/v1/chat/completions"],
                                ["POST", "/api/chat"], ["GET", "/api/ps"], ["POST", "/api/show"]]) {
    const body = method === "POST" ? JSON.stringify({ model: names.qwen, messages: [] }) : undefined;
    const r = await raw(`${small.url}${path}`, { method, body });
    assert.equal(r.status, 401, `${method} ${path} without a key: ${r.status} ${r.text}`);
    const w = await raw(`${small.url}${path}`, { method, body, headers: { Authorization: "Bearer wrong" } });
    assert.equal(w.status, 401, `${method} ${path} with a wrong key: ${w.status}`);
  }
  await assert.rejects(openai_for(small, "wrong").models.list(), AuthenticationError);
  const ids = [];
  for await (const m of openai_for(small, key).models.list()) ids.push(m.id);
  assert.ok(ids.includes(names.qwen));
  await assert.rejects(new Ollama({ host: small.url }).list(), (e) => e.status_code === 401);
  const { models } = await new Ollama({ host: small.url, headers: { Authorization: `Bearer ${key}` } }).list();
  assert.ok(models.some((m) => m.name === names.stories));
});

test("malformed JSON is 400 with a JSON error in each API's shape", async () => {
  const bad = '{"model": "stories:260k", "messages": [';
  const o = await raw(`${fx.server.url}/v1/chat/completions`, { body: bad });
  assert.equal(o.status, 400, o.text);
  assert.match(o.type, /application\/json/);
  assert.equal(typeof o.json?.error?.message, "string", `OpenAI shape {error:{message}}: ${o.text}`);
  assert.ok(o.json.error.message.length > 0);
  for (const path of ["/api/chat", "/api/generate", "/api/embed", "/api/show"]) {
    const r = await raw(`${fx.server.url}${path}`, { body: bad });
    assert.equal(r.status, 400, `${path}: ${r.status} ${r.text}`);
    assert.equal(typeof r.json?.error, "string", `Ollama shape {error:"..."} on ${path}: ${r.text}`);
  }
  const not_object = await raw(`${fx.server.url}/v1/completions`, { body: "[1,2,3]" });
  assert.equal(not_object.status, 400, not_object.text);
  const empty = await raw(`${fx.server.url}/api/generate`, { body: "" });
  assert.equal(empty.status, 400, empty.text);
});

test("a prompt longer than the context is 400 naming the token count and the context size", async () => {
  const prompt = "Once upon a time there was a little dog. ".repeat(150);
  const { stdout } = await pocketlm(["tokenize", "-m", stories_gguf(), "-p", prompt]);
  const n_tokens = JSON.parse(stdout).length;
  assert.ok(n_tokens > ctx, `test prompt has only ${n_tokens} tokens`);
  const client = openai_for(fx.server);
  await assert.rejects(client.completions.create({ model: names.stories, prompt, max_tokens: 4 }), (e) => {
    assert.ok(e instanceof BadRequestError, `${e.constructor.name}: ${e.message}`);
    assert.ok(e.message.includes(String(ctx)), `message lacks the context size ${ctx}: ${e.message}`);
    const numbers = (e.message.match(/\d+/g) ?? []).map(Number);
    assert.ok(numbers.some((n) => Math.abs(n - n_tokens) <= 1), `message lacks the prompt's ${n_tokens} tokens: ${e.message}`);
    return true;
  });
  const ollama = new Ollama({ host: fx.server.url });
  await assert.rejects(ollama.generate({ model: names.stories, prompt, raw: true, options: { num_predict: 4 } }), (e) => {
    assert.equal(e.status_code, 400, e.message);
    assert.ok(e.message.includes(String(ctx)), e.message);
    return true;
  });
  // The server is fine afterwards.
  const ok = await client.completions.create({ model: names.stories, prompt: "Once", max_tokens: 2, temperature: 0 });
  assert.equal(ok.usage.completion_tokens, 2);
});

test("a body over 8 MiB is 413", async () => {
  const big = JSON.stringify({ model: names.stories, prompt: "a ".repeat(4.5 * 1024 * 1024), max_tokens: 1 });
  let status;
  try {
    status = (await raw(`${fx.server.url}/v1/completions`, { body: big })).status;
  } catch (e) {
    assert.fail(`the server dropped the connection instead of answering 413: ${e.cause?.code ?? e.message}`);
  }
  assert.equal(status, 413);
  const ok = await raw(`${fx.server.url}/api/version`, { method: "GET" });
  assert.equal(ok.status, 200);
});
