// `pocketlm serve`'s OpenAI Responses API (POST /v1/responses, stateless) and GET /v1/models/{id},
// driven by the official `openai` npm client: models.retrieve, responses.create (text,
// instructions, max_output_tokens, reasoning, text.format json_schema, function tools and their
// results as input items), responses.stream (the typed events, their order and numbering), and
// errors as the client's typed exceptions. Greedy decoding throughout, so each answer can be
// compared with the chat completions answer to the same conversation.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI, { NotFoundError, BadRequestError } from "openai";
import { zodTextFormat } from "openai/helpers/zod";
import { z } from "zod";
import Ajv2020 from "ajv/dist/2020.js";
import { setup_fixture, assert_alive, names } from "./fixture.mjs";

let fx;
let client;
const ajv = new Ajv2020({ allErrors: true, strict: false });

before(async () => {
  fx = await setup_fixture();
  client = new OpenAI({ baseURL: `${fx.server.url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 120000 });
});
after(async () => {
  if (fx) assert_alive(fx);
  await fx?.stop();
});

// stories260K has no chat template and is trained: its greedy continuation is English text.
const story = { model: names.stories, input: "Once upon a time", temperature: 0, max_output_tokens: 16 };
// qwen2-tiny carries Qwen3's template, which reasons first (a random model never ends its
// reasoning); effort "none" turns thinking off.
const no_think = { model: names.qwen, temperature: 0, reasoning: { effort: "none" } };
const chat_no_think = { model: names.qwen, temperature: 0, reasoning_effort: "none",
                        chat_template_kwargs: { enable_thinking: false } };

function assert_valid(schema, value, what) {
  const validate = ajv.compile(schema);
  assert.ok(validate(value), `${what}: ${JSON.stringify(value)} does not validate: ${ajv.errorsText(validate.errors)}`);
}

function assert_usage(r) {
  const u = r.usage;
  assert.ok(u.input_tokens > 0 && u.output_tokens > 0, JSON.stringify(u));
  assert.equal(u.total_tokens, u.input_tokens + u.output_tokens);
  assert.equal(typeof u.input_tokens_details.cached_tokens, "number");
  assert.equal(typeof u.output_tokens_details.reasoning_tokens, "number");
}

// The message items' text, as the client's output_text joins it.
const message_text = (r) => r.output.filter((i) => i.type === "message")
  .flatMap((i) => i.content).filter((c) => c.type === "output_text").map((c) => c.text).join("");

// Streams a request; returns {events, response (finalResponse())}.
async function collect_stream(params) {
  const stream = client.responses.stream(params);
  const events = [];
  for await (const e of stream) events.push(e);
  return { events, response: await stream.finalResponse() };
}

// Event types with runs of one delta type collapsed into one entry.
function shape(events) {
  const out = [];
  for (const e of events) if (!(e.type.endsWith(".delta") && out.at(-1) === e.type)) out.push(e.type);
  return out;
}

function assert_numbered(events) {
  events.forEach((e, i) => assert.equal(e.sequence_number, i, `event ${i} (${e.type})`));
}

test("models.retrieve answers a listed model as its GET /v1/models entry, by any spelling of its name", async () => {
  const listed = [];
  for await (const m of client.models.list()) listed.push(m);
  for (const id of [names.qwen, names.stories]) {
    const m = await client.models.retrieve(id);
    assert.deepEqual({ ...m }, { ...listed.find((x) => x.id === id) });
  }
  // Ids hold ':' and '/' (the client sends '/' as %2F).
  assert.equal((await client.models.retrieve("qwen2-tiny")).id, names.qwen);
  assert.equal((await client.models.retrieve("registry.ollama.ai/library/qwen2-tiny:latest")).id, names.qwen);
});

test("models.retrieve of an unknown model is NotFoundError with code model_not_found", async () => {
  for (const id of ["nosuch-model:1b", "registry.ollama.ai/library/nosuch:1"]) {
    await assert.rejects(client.models.retrieve(id), (e) => {
      assert.ok(e instanceof NotFoundError, `${e.constructor.name}: ${e.message}`);
      assert.equal(e.code, "model_not_found");
      assert.equal(e.error.type, "invalid_request_error");
      assert.match(e.message, /nosuch/);
      return true;
    });
  }
});

test("responses.create: a text answer as a message item, the same as chat completions gives", async () => {
  const r = await client.responses.create(story);
  assert.match(r.id, /^resp_/);
  assert.equal(r.object, "response");
  assert.equal(typeof r.created_at, "number");
  assert.equal(r.model, names.stories);
  assert.equal(r.error, null);
  assert.equal(r.output.length, 1);
  const m = r.output[0];
  assert.equal(m.type, "message");
  assert.equal(m.role, "assistant");
  assert.match(m.id, /\S/);
  assert.equal(m.content.length, 1);
  assert.equal(m.content[0].type, "output_text");
  assert.deepEqual(m.content[0].annotations, []);
  assert.match(r.output_text, /[a-z]{2,}/i, `not words: ${JSON.stringify(r.output_text)}`);
  assert.equal(r.output_text, m.content[0].text);
  assert_usage(r);
  assert.ok(["completed", "incomplete"].includes(r.status), r.status);
  assert.equal(m.status, r.status);
  const chat = await client.chat.completions.create({
    model: names.stories, messages: [{ role: "user", content: story.input }], temperature: 0, max_tokens: 16 });
  assert.equal(r.output_text, chat.choices[0].message.content);
  assert.equal(r.usage.input_tokens, chat.usage.prompt_tokens);
  assert.equal(r.usage.output_tokens, chat.usage.completion_tokens);
  assert.equal(r.status, chat.choices[0].finish_reason === "length" ? "incomplete" : "completed");
});

test("responses.create: max_output_tokens ends the answer as incomplete with reason max_output_tokens", async () => {
  const r = await client.responses.create({ ...story, max_output_tokens: 5 });
  assert.equal(r.status, "incomplete");
  assert.deepEqual(r.incomplete_details, { reason: "max_output_tokens" });
  assert.equal(r.usage.output_tokens, 5);
  assert.equal(r.output[0].status, "incomplete");
  assert.equal(r.max_output_tokens, 5);
  const longer = await client.responses.create({ ...story, max_output_tokens: 12 });
  assert.ok(longer.output_text.startsWith(r.output_text), `${r.output_text} | ${longer.output_text}`);
});

test("responses.create: instructions are the system message, input items the turns", async () => {
  const instructions = "You are a pirate. Answer in one line.";
  const r = await client.responses.create({ ...no_think, instructions, input: "Tell me about the sea.",
                                            max_output_tokens: 12 });
  const chat = await client.chat.completions.create({ ...chat_no_think, max_tokens: 12, messages: [
    { role: "system", content: instructions }, { role: "user", content: "Tell me about the sea." }] });
  assert.equal(r.instructions, instructions);
  assert.equal(r.usage.input_tokens, chat.usage.prompt_tokens);
  assert.equal(r.output_text, chat.choices[0].message.content);
  assert.equal(r.output.filter((i) => i.type === "reasoning").length, 0);
  const bare = await client.responses.create({ ...no_think, input: "Tell me about the sea.", max_output_tokens: 12 });
  assert.ok(r.usage.input_tokens > bare.usage.input_tokens);
  // The same conversation as message items: developer is the system turn, parts are joined.
  const items = await client.responses.create({ ...no_think, max_output_tokens: 12, input: [
    { role: "developer", content: instructions },
    { type: "message", role: "user", content: [{ type: "input_text", text: "Tell me about " },
                                               { type: "input_text", text: "the sea." }] }] });
  assert.equal(items.usage.input_tokens, r.usage.input_tokens);
  assert.equal(items.output_text, r.output_text);
});

test("reasoning.effort: 'none' turns thinking off as enable_thinking false does; other levels leave it on", async () => {
  const input = "Why is the sky blue?";
  const messages = [{ role: "user", content: input }];
  const on = await client.responses.create({ model: names.qwen, temperature: 0, input, max_output_tokens: 10,
                                             reasoning: { effort: "high" } });
  const off = await client.responses.create({ ...no_think, input, max_output_tokens: 10 });
  const chat_on = await client.chat.completions.create({ model: names.qwen, temperature: 0, max_tokens: 10, messages });
  const chat_off = await client.chat.completions.create({ ...chat_no_think, max_tokens: 10, messages });
  // Qwen3's template closes an empty think block when thinking is off: a longer prompt.
  assert.ok(chat_off.usage.prompt_tokens > chat_on.usage.prompt_tokens);
  assert.equal(on.usage.input_tokens, chat_on.usage.prompt_tokens);
  assert.equal(off.usage.input_tokens, chat_off.usage.prompt_tokens);
  assert.equal(off.output_text, chat_off.choices[0].message.content);
  assert.equal(on.reasoning.effort, "high");
  // A random model rarely opens <think> itself; when it did, its reasoning is a reasoning item.
  const reasoning = chat_on.choices[0].message.reasoning_content ?? "";
  const items = on.output.filter((i) => i.type === "reasoning");
  assert.deepEqual(items.map((i) => i.content[0].text), reasoning ? [reasoning] : []);
  assert.equal(on.output_text, chat_on.choices[0].message.content ?? "");
  assert.equal(off.usage.output_tokens_details.reasoning_tokens, 0);
});

test("responses.stream: typed events in order, numbered from 0; the deltas are the answer", async () => {
  const whole = await client.responses.create(story);
  const { events, response } = await collect_stream(story);
  assert_numbered(events);
  const final = whole.status === "completed" ? "response.completed" : "response.incomplete";
  assert.deepEqual(shape(events), [
    "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
    "response.output_text.delta", "response.output_text.done", "response.content_part.done",
    "response.output_item.done", final]);
  const deltas = events.filter((e) => e.type === "response.output_text.delta");
  const text = deltas.map((e) => e.delta).join("");
  assert.equal(text, whole.output_text);
  assert.equal(events.find((e) => e.type === "response.output_text.done").text, text);
  assert.equal(response.output_text, text);
  assert.equal(response.status, whole.status);
  assert.deepEqual(response.usage, whole.usage);
  const item = events.find((e) => e.type === "response.output_item.added").item;
  assert.equal(item.type, "message");
  for (const e of deltas) {
    assert.equal(e.item_id, item.id);
    assert.equal(e.output_index, 0);
    assert.equal(e.content_index, 0);
  }
  assert.equal(events[0].response.status, "in_progress");
  assert.equal(events.at(-1).response.id, events[0].response.id);
  assert.equal(events.at(-1).response.output[0].id, item.id);
});

test("responses.create({stream: true}) yields the same events as responses.stream", async () => {
  const events = [];
  for await (const e of await client.responses.create({ ...story, stream: true })) events.push(e);
  assert_numbered(events);
  const { events: helper } = await collect_stream(story);
  assert.deepEqual(events.map((e) => e.type), helper.map((e) => e.type));
  const text = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
  assert.equal(message_text(events.at(-1).response), text);
});

test("text.format json_schema: the answer parses and validates (responses.create and responses.parse)", async () => {
  const person = z.object({
    name: z.string().max(16),
    age: z.number().int().min(0).max(120),
    role: z.enum(["admin", "user", "guest"]),
    tags: z.array(z.string().max(8)).max(3),
  });
  const schema = z.toJSONSchema(person);
  const req = { ...no_think, input: "Who is Ada? Answer as JSON.", max_output_tokens: 400 };
  const r = await client.responses.create({
    ...req, text: { format: { type: "json_schema", name: "person", schema, strict: true } } });
  assert.equal(r.status, "completed", r.output_text);
  assert_valid(schema, JSON.parse(r.output_text), "json_schema");
  assert.equal(r.text.format.type, "json_schema");
  const parsed = await client.responses.parse({ ...req, text: { format: zodTextFormat(person, "person") } });
  assert.ok(parsed.output_parsed, parsed.output_text);
  assert_valid(schema, parsed.output_parsed, "responses.parse");
  const obj = await client.responses.create({ ...req, text: { format: { type: "json_object" } } });
  if (obj.status === "completed") {
    const v = JSON.parse(obj.output_text);
    assert.ok(typeof v === "object" && v !== null && !Array.isArray(v), obj.output_text);
  }
});

const weather = {
  type: "function", name: "get_weather", description: "Weather in a city", strict: true,
  parameters: {
    type: "object",
    properties: { city: { type: "string", maxLength: 12 }, unit: { type: "string", enum: ["c", "f"] } },
    required: ["city", "unit"], additionalProperties: false,
  },
};

test("function tools: a required call is a function_call item, streamed as argument deltas", async () => {
  const req = { ...no_think, input: "Weather in Paris?", tools: [weather], tool_choice: "required",
                max_output_tokens: 200 };
  const r = await client.responses.create(req);
  const calls = r.output.filter((i) => i.type === "function_call");
  assert.ok(calls.length >= 1, JSON.stringify(r.output));
  for (const c of calls) {
    assert.equal(c.name, "get_weather");
    assert.match(c.call_id, /\S/);
    assert_valid(weather.parameters, JSON.parse(c.arguments), "arguments");
  }
  const { events, response } = await collect_stream(req);
  assert_numbered(events);
  const added = events.filter((e) => e.type === "response.output_item.added" && e.item.type === "function_call");
  assert.equal(added.length, calls.length);
  const args = events.filter((e) => e.type === "response.function_call_arguments.delta" &&
                                    e.item_id === added[0].item.id).map((e) => e.delta).join("");
  assert.equal(args, calls[0].arguments);
  assert.equal(events.find((e) => e.type === "response.function_call_arguments.done").arguments, args);
  assert.deepEqual(response.output.filter((i) => i.type === "function_call").map((i) => [i.name, i.arguments]),
                   calls.map((c) => [c.name, c.arguments]));
  // A named tool_choice is the same call.
  const named = await client.responses.create({ ...req, tool_choice: { type: "function", name: "get_weather" } });
  assert.equal(named.output.find((i) => i.type === "function_call").arguments, calls[0].arguments);
});

// A Responses function tool as a chat tool's function: the same fields, in the same order.
const function_of = ({ type, ...fn }) => fn;

test("function tools: calls and their outputs as input items are the chat turns", async () => {
  const call = { type: "function_call", call_id: "call_1", name: "get_weather",
                 arguments: JSON.stringify({ city: "Paris", unit: "c" }) };
  const r = await client.responses.create({ ...no_think, tools: [weather], max_output_tokens: 8, input: [
    { role: "user", content: "Weather in Paris?" }, call,
    { type: "function_call_output", call_id: "call_1", output: "18 degrees and sunny" }] });
  const chat = await client.chat.completions.create({ ...chat_no_think, max_tokens: 8, messages: [
    { role: "user", content: "Weather in Paris?" },
    { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function",
      function: { name: call.name, arguments: call.arguments } }] },
    { role: "tool", tool_call_id: "call_1", content: "18 degrees and sunny" }],
    tools: [{ type: "function", function: function_of(weather) }] });
  assert.equal(r.usage.input_tokens, chat.usage.prompt_tokens);
  assert.equal(r.output_text, chat.choices[0].message.content ?? "");
});

test("previous_response_id and conversation are 400s: the API is stateless", async () => {
  for (const extra of [{ previous_response_id: "resp_123" }, { conversation: "conv_123" }]) {
    await assert.rejects(client.responses.create({ ...story, ...extra }), (e) => {
      assert.ok(e instanceof BadRequestError, `${e.constructor.name}: ${e.message}`);
      assert.equal(e.param, Object.keys(extra)[0]);
      assert.match(e.message, /stateless/);
      return true;
    });
  }
});

test("malformed requests are BadRequestError naming the field; unknown models NotFoundError", async () => {
  const bad = [
    [{ ...story, input: 42 }, "input"],
    [{ ...story, input: undefined }, "input"],
    [{ ...story, input: [] }, "input"],
    [{ ...story, input: [{ role: "user", content: [{ type: "input_image", image_url: "http://x/y.png" }] }] },
     "input[0].content[0]"],
    [{ ...story, input: [{ type: "web_search_call", id: "ws_1" }] }, "input[0].type"],
    [{ ...story, input: [{ role: "robot", content: "hi" }] }, "input[0].role"],
    [{ ...story, max_output_tokens: 0 }, "max_output_tokens"],
    [{ ...story, temperature: "hot" }, "temperature"],
    [{ ...story, tools: [{ type: "web_search" }] }, "tools[0]"],
    [{ ...story, text: { format: { type: "yaml" } } }, "text.format"],
  ];
  for (const [body, param] of bad) {
    await assert.rejects(client.responses.create(body), (e) => {
      assert.ok(e instanceof BadRequestError, `${JSON.stringify(body)} -> ${e.constructor.name}: ${e.message}`);
      assert.equal(e.param, param, e.message);
      return true;
    });
  }
  await assert.rejects(client.responses.create({ ...story, model: "nosuch-model:1b" }), NotFoundError);
  await assert.rejects(client.responses.stream({ ...story, model: "nosuch-model:1b" }).finalResponse(),
                       NotFoundError);
});
