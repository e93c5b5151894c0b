// `pocketlm serve`'s Anthropic Messages API (POST /v1/messages, /v1/messages/count_tokens) driven
// by the official `@anthropic-ai/sdk` client: text replies and their usage and stop reasons,
// system prompts, stop_sequences, streaming events, thinking, tools (tool_use blocks validated
// against their input_schema with ajv, then a tool_result turn), and errors as the client's typed
// exceptions. Where an Anthropic request has an OpenAI equivalent, both must give the same
// prompt and the same greedy answer: the conversation reached the template as it should.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import Anthropic, { AuthenticationError, BadRequestError, NotFoundError } from "@anthropic-ai/sdk";
import OpenAI from "openai";
import Ajv2020 from "ajv/dist/2020.js";
import { setup_fixture, assert_alive, names } from "./fixture.mjs";
import { raw, start_server, stop_from } from "./lib.mjs";

let fx, client, openai, keyed;
const key = "anthropic-test-key";
const ajv = new Ajv2020({ allErrors: true, strict: false });

before(async () => {
  fx = await setup_fixture();
  // No retries: every status the server sends must reach the assertions as it is.
  client = new Anthropic({ baseURL: fx.server.url, apiKey: "x", maxRetries: 0, timeout: 120000 });
  openai = new OpenAI({ baseURL: `${fx.server.url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 120000 });
  keyed = await start_server({ root: fx.root, args: ["--parallel", "1", "--ctx", "512", "--api-key", key] });
});
after(async () => {
  if (fx) assert_alive(fx);
  await keyed?.stop();
  await fx?.stop();
});

const hello = [{ role: "user", content: "Hello! Tell me about the sea." }];
// qwen2-tiny has Qwen3's template, which reasons first unless thinking is off; its random weights
// never end a reasoning block, so the text tests turn thinking off.
const greedy = { model: names.qwen, messages: hello, temperature: 0, max_tokens: 12, thinking: { type: "disabled" } };
const openai_greedy = { model: names.qwen, temperature: 0, chat_template_kwargs: { enable_thinking: false } };

const text_of = (m) => m.content.filter((b) => b.type === "text").map((b) => b.text).join("");

function assert_message(m, model = names.qwen) {
  assert.equal(m.type, "message");
  assert.equal(m.role, "assistant");
  assert.match(m.id, /^msg_[A-Za-z0-9]+$/);
  assert.equal(m.model, model);
  assert.ok(Array.isArray(m.content));
  assert.ok(["end_turn", "max_tokens", "stop_sequence", "tool_use"].includes(m.stop_reason), m.stop_reason);
  assert.ok(Number.isInteger(m.usage.input_tokens) && m.usage.input_tokens > 0, `usage ${JSON.stringify(m.usage)}`);
  assert.ok(Number.isInteger(m.usage.output_tokens) && m.usage.output_tokens >= 0);
}

// Streams `params`, returning the events (pings are the SDK's to drop) and the final message.
// Events are copied as they come: the SDK builds its snapshot in message_start's message.
async function stream_events(params) {
  const stream = client.messages.stream(params);
  const events = [];
  for await (const ev of stream) events.push(structuredClone(ev));
  return { events, final: await stream.finalMessage() };
}

// The event grammar: message_start, then each block's start / deltas / stop with its index in
// order, then one message_delta and message_stop. Returns each block's concatenated deltas.
function check_event_order(events) {
  assert.equal(events[0].type, "message_start");
  assert.deepEqual(events[0].message.content, []);
  assert.equal(events.at(-1).type, "message_stop");
  assert.equal(events.at(-2).type, "message_delta");
  const blocks = [];
  let open = -1;
  for (const ev of events.slice(1, -2)) {
    if (ev.type === "content_block_start") {
      assert.equal(open, -1, "a block started before the previous one stopped");
      assert.equal(ev.index, blocks.length);
      open = ev.index;
      blocks.push({ type: ev.content_block.type, text: "" });
    } else if (ev.type === "content_block_delta") {
      assert.equal(ev.index, open);
      const d = ev.delta;
      const want = { text: "text_delta", thinking: "thinking_delta", tool_use: "input_json_delta" }[blocks[open].type];
      assert.equal(d.type, want);
      blocks[open].text += d.text ?? d.thinking ?? d.partial_json;
    } else {
      assert.equal(ev.type, "content_block_stop");
      assert.equal(ev.index, open);
      open = -1;
    }
  }
  assert.equal(open, -1, "a block was left open");
  return blocks;
}

test("text reply: message shape, usage and stop reason; the same answer and prompt as OpenAI's route", async () => {
  const m = await client.messages.create(greedy);
  assert_message(m);
  assert.ok(m.content.every((b) => b.type === "text"), JSON.stringify(m.content));
  assert.ok(m.usage.output_tokens >= 1 && m.usage.output_tokens <= 12);
  if (m.stop_reason === "max_tokens") assert.equal(m.usage.output_tokens, 12);
  else assert.equal(m.stop_reason, "end_turn");
  assert.equal(m.stop_sequence, null);
  const o = await openai.chat.completions.create({ ...openai_greedy, messages: hello, max_tokens: 12 });
  assert.equal(text_of(m), o.choices[0].message.content);
  assert.equal(m.usage.input_tokens, o.usage.prompt_tokens);
  assert.equal(m.usage.output_tokens, o.usage.completion_tokens);
  // A small max_tokens ends the reply with max_tokens.
  const short = await client.messages.create({ ...greedy, max_tokens: 3 });
  assert.equal(short.stop_reason, "max_tokens");
  assert.equal(short.usage.output_tokens, 3);
});

test("a model without a chat template (stories260K) answers in English words", async () => {
  const m = await client.messages.create({
    model: names.stories, max_tokens: 8, temperature: 0, messages: [{ role: "user", content: "Once upon a time" }] });
  assert_message(m, names.stories);
  assert.equal(m.stop_reason, "max_tokens");
  assert.equal(m.usage.output_tokens, 8);
  assert.match(text_of(m), /[a-z]{2,}/i);
});

test("system (a string or text blocks) reaches the prompt; count_tokens counts what the reply used", async () => {
  const system = "You are a sailor who answers in rhymes.";
  const plain = await client.messages.create(greedy);
  const with_system = await client.messages.create({ ...greedy, system });
  const blocks = await client.messages.create({ ...greedy, system: [{ type: "text", text: system }] });
  assert.ok(with_system.usage.input_tokens > plain.usage.input_tokens + 5,
            `${with_system.usage.input_tokens} vs ${plain.usage.input_tokens}`);
  assert.deepEqual(blocks.usage, with_system.usage);
  assert.equal(text_of(blocks), text_of(with_system));
  const o = await openai.chat.completions.create({
    ...openai_greedy, max_tokens: 12, messages: [{ role: "system", content: system }, ...hello] });
  assert.equal(with_system.usage.input_tokens, o.usage.prompt_tokens);
  assert.equal(text_of(with_system), o.choices[0].message.content);
  const counted = await client.messages.countTokens({
    model: names.qwen, system, messages: hello, thinking: { type: "disabled" } });
  assert.equal(counted.input_tokens, with_system.usage.input_tokens);
});

test("stop_sequences end the text before the first one, with stop_reason stop_sequence, streamed or not", async () => {
  const p = { ...greedy, max_tokens: 16 };
  const base = await client.messages.create(p);
  const { stop, expected } = stop_from(text_of(base));
  const m = await client.messages.create({ ...p, stop_sequences: ["\u0000never", stop] });
  assert.equal(text_of(m), expected, `stop ${JSON.stringify(stop)}`);
  assert.equal(m.stop_reason, "stop_sequence");
  assert.equal(m.stop_sequence, stop);
  const s = await stream_events({ ...p, stop_sequences: [stop] });
  assert.equal(text_of(s.final), expected);
  assert.equal(s.final.stop_reason, "stop_sequence");
  assert.equal(s.final.stop_sequence, stop);
  // A sequence that never appears changes nothing.
  const none = await client.messages.create({ ...p, stop_sequences: ["\u0000never"] });
  assert.equal(text_of(none), text_of(base));
  assert.equal(none.stop_sequence, null);
});

test("streaming: events in order, deltas add up to the final message and to the non-streamed one", async () => {
  const whole = await client.messages.create(greedy);
  const { events, final } = await stream_events(greedy);
  const blocks = check_event_order(events);
  assert.equal(blocks.map((b) => b.text).join(""), text_of(final));
  assert.equal(text_of(final), text_of(whole));
  assert.equal(final.stop_reason, whole.stop_reason);
  assert.deepEqual(final.usage.output_tokens, whole.usage.output_tokens);
  assert.equal(events[0].message.usage.input_tokens, whole.usage.input_tokens);
  assert.equal(events.at(-2).delta.stop_reason, whole.stop_reason);
  // On the wire: `event:` lines naming each event, a ping after message_start.
  const r = await raw(`${fx.server.url}/v1/messages`, { body: JSON.stringify({ ...greedy, stream: true }) });
  assert.equal(r.status, 200);
  assert.match(r.type, /text\/event-stream/);
  const names_on_wire = [...r.text.matchAll(/^event: (\w+)$/gm)].map((x) => x[1]);
  assert.deepEqual(names_on_wire.slice(0, 2), ["message_start", "ping"]);
  assert.deepEqual(names_on_wire.slice(-2), ["message_delta", "message_stop"]);
  assert.equal(names_on_wire.length, r.text.match(/^data: /gm).length, "each event has one data line");
});

test("thinking: enabled and disabled reach the template as enable_thinking; blocks stay well-formed", async () => {
  // qwen2-tiny's random weights never open a <think> block, so what thinking changes here is the
  // prompt: Qwen3's template closes an empty block when thinking is off. Both match OpenAI's route.
  const p = { ...greedy, thinking: { type: "enabled", budget_tokens: 1024 } };
  const on = await client.messages.create(p);
  const off = await client.messages.create(greedy);
  assert_message(on);
  const o_on = await openai.chat.completions.create({
    ...openai_greedy, max_tokens: 12, messages: hello, chat_template_kwargs: { enable_thinking: true } });
  const o_off = await openai.chat.completions.create({ ...openai_greedy, max_tokens: 12, messages: hello });
  assert.equal(on.usage.input_tokens, o_on.usage.prompt_tokens);
  assert.equal(off.usage.input_tokens, o_off.usage.prompt_tokens);
  assert.ok(off.usage.input_tokens > on.usage.input_tokens, "thinking off adds the closed <think> block");
  assert.equal(text_of(on), o_on.choices[0].message.content);
  assert.ok(off.content.every((b) => b.type === "text"));
  for (const b of on.content) {
    assert.ok(["thinking", "text"].includes(b.type), JSON.stringify(b));
    if (b.type === "thinking") {
      assert.equal(typeof b.thinking, "string");
      assert.equal(b.signature, "");
    }
  }
  const { events, final } = await stream_events(p);
  check_event_order(events);
  assert.deepEqual(final.content, on.content);
  // An assistant turn's thinking block is accepted in the history; a model that cannot think
  // refuses thinking as Ollama does.
  const history = [...hello, { role: "assistant", content: [{ type: "thinking", thinking: "Waves.", signature: "" },
                                                            { type: "text", text: "The sea is big." }] },
                   { role: "user", content: "And the sky?" }];
  assert_message(await client.messages.create({ ...p, messages: history }));
  await assert.rejects(client.messages.create({ ...p, model: names.stories }), (e) => {
    assert.ok(e instanceof BadRequestError, `${e.constructor.name}: ${e.message}`);
    assert.match(e.error.error.message, /does not support thinking/);
    return true;
  });
});

const weather_schema = {
  type: "object",
  properties: { city: { type: "string", maxLength: 12 }, unit: { type: "string", enum: ["c", "f"] } },
  required: ["city", "unit"],
  additionalProperties: false,
};
const time_schema = {
  type: "object",
  properties: { zone: { type: "string", enum: ["UTC", "CET", "PST"] } },
  required: ["zone"],
  additionalProperties: false,
};
const tools = [
  { name: "get_weather", description: "Weather in a city", input_schema: weather_schema },
  { name: "get_time", description: "Time in a zone", input_schema: time_schema },
];
const schema_of = { get_weather: weather_schema, get_time: time_schema };
const weather_q = [{ role: "user", content: "Weather in Paris?" }];
const tool_req = { ...greedy, max_tokens: 200, messages: weather_q, tools };

function assert_tool_uses(m, allowed = Object.keys(schema_of)) {
  assert.equal(m.stop_reason, "tool_use", JSON.stringify(m.content));
  const uses = m.content.filter((b) => b.type === "tool_use");
  assert.ok(uses.length >= 1, "no tool_use block");
  assert.doesNotMatch(text_of(m), /tool_call/, "call markup leaked into text");
  for (const u of uses) {
    assert.match(u.id, /^toolu_/);
    assert.ok(allowed.includes(u.name), `tool_use names '${u.name}', not one of ${allowed}`);
    const validate = ajv.compile(schema_of[u.name]);
    assert.ok(validate(u.input), `input ${JSON.stringify(u.input)}: ${ajv.errorsText(validate.errors)}`);
  }
  return uses;
}

test("tools with tool_choice any and tool: tool_use blocks whose input validates, streamed and not", async () => {
  const m = await client.messages.create({ ...tool_req, tool_choice: { type: "any" } });
  assert_message(m);
  assert_tool_uses(m);
  const { events, final } = await stream_events({ ...tool_req, tool_choice: { type: "any" } });
  const blocks = check_event_order(events);
  assert_tool_uses(final);
  for (const [i, b] of blocks.entries()) {
    if (b.type === "tool_use") assert.deepEqual(JSON.parse(b.text), final.content[i].input);
  }
  assert.deepEqual(final.content.map((b) => b.input), m.content.map((b) => b.input));
  const named = await client.messages.create({
    ...tool_req, tool_choice: { type: "tool", name: "get_time", disable_parallel_tool_use: true } });
  const uses = assert_tool_uses(named, ["get_time"]);
  assert.equal(uses.length, 1);
  // tool_choice none: the tools stay in the prompt, no call is parsed.
  const none = await client.messages.create({ ...tool_req, max_tokens: 12, tool_choice: { type: "none" } });
  assert.ok(none.content.every((b) => b.type === "text"));
  assert.notEqual(none.stop_reason, "tool_use");
});

test("a tool_result turn is accepted and reaches the prompt as the OpenAI tool message would", async () => {
  const first = await client.messages.create({ ...tool_req, tool_choice: { type: "any" } });
  const use = assert_tool_uses(first)[0];
  const turn = (result) => [
    ...weather_q,
    { role: "assistant", content: first.content },
    { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: result }] },
  ];
  const m = await client.messages.create({ ...tool_req, max_tokens: 8, messages: turn("18 C and sunny") });
  assert_message(m);
  assert.ok(m.usage.input_tokens > first.usage.input_tokens, "the call and its result add to the prompt");
  const blocks = await client.messages.create({
    ...tool_req, max_tokens: 8, messages: turn([{ type: "text", text: "18 C and sunny" }]) });
  assert.equal(blocks.usage.input_tokens, m.usage.input_tokens);
  const longer = await client.messages.countTokens({
    model: names.qwen, tools, thinking: { type: "disabled" }, messages: turn("18 C and sunny, with a light breeze") });
  assert.ok(longer.input_tokens > m.usage.input_tokens, "the result's text is in the prompt");
  // The same conversation in OpenAI's shape renders the same prompt.
  const o = await openai.chat.completions.create({
    ...openai_greedy, max_tokens: 8, tools: tools.map((t) => ({
      type: "function", function: { name: t.name, description: t.description, parameters: t.input_schema } })),
    messages: [...weather_q,
               { role: "assistant", content: "", tool_calls: first.content.filter((b) => b.type === "tool_use").map((u) => ({
                 id: u.id, type: "function", function: { name: u.name, arguments: JSON.stringify(u.input) } })) },
               { role: "tool", tool_call_id: use.id, name: use.name, content: "18 C and sunny" }] });
  assert.equal(m.usage.input_tokens, o.usage.prompt_tokens);
  assert.equal(text_of(m), o.choices[0].message.content);
});

test("errors: missing max_tokens, images, bad fields are invalid_request_error; an unknown model is not_found", async () => {
  const bad = async (params, pattern) => {
    await assert.rejects(client.messages.create(params), (e) => {
      assert.ok(e instanceof BadRequestError, `${e.constructor.name}: ${e.message}`);
      assert.equal(e.status, 400);
      assert.equal(e.error.type, "error");
      assert.equal(e.error.error.type, "invalid_request_error");
      assert.match(e.error.error.message, pattern);
      return true;
    });
  };
  const { max_tokens: _, ...no_max } = greedy;
  await bad(no_max, /max_tokens/);
  await bad({ ...greedy, max_tokens: 0 }, /max_tokens/);
  await bad({ ...greedy, temperature: 1.5 }, /temperature/);
  await bad({ ...greedy, messages: [] }, /messages/);
  await bad({ ...greedy, messages: [{ role: "system", content: "x" }] }, /system/);
  await bad({ ...greedy, messages: [{ role: "user", content: [
    { type: "text", text: "What is this?" },
    { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }] }] },
  /images are not supported/);
  await bad({ ...greedy, messages: [...hello, { role: "assistant", content: "The sea is" }] }, /prefill/);
  await bad({ ...greedy, tool_choice: { type: "any" } }, /tools/);
  await bad({ ...greedy, tools: [{ name: "x" }] }, /input_schema/);
  await assert.rejects(client.messages.create({ ...greedy, model: "no-such-model:latest" }), (e) => {
    assert.ok(e instanceof NotFoundError, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.error.error.type, "not_found_error");
    return true;
  });
  // Streamed requests fail before the stream starts, with the same errors.
  await assert.rejects(stream_events({ ...greedy, model: "no-such-model:latest" }), NotFoundError);
});

test("--api-key: the SDK's x-api-key works; a wrong key is an AuthenticationError", async () => {
  const good = new Anthropic({ baseURL: keyed.url, apiKey: key, maxRetries: 0, timeout: 120000 });
  const m = await good.messages.create({ ...greedy, max_tokens: 2 });
  assert_message(m);
  const wrong = new Anthropic({ baseURL: keyed.url, apiKey: "wrong", maxRetries: 0, timeout: 120000 });
  await assert.rejects(wrong.messages.create({ ...greedy, max_tokens: 2 }), (e) => {
    assert.ok(e instanceof AuthenticationError, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.status, 401);
    assert.equal(e.error.error.type, "authentication_error");
    return true;
  });
});
