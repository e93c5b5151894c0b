// Structured output and tool calls through the official clients, on a chat model whose weights
// are random (qwen2-tiny: real Qwen vocabulary and template): only the grammar can make its output
// valid. Every object is checked with a real JSON Schema validator (ajv); every tool call must
// name a declared tool and carry arguments that validate.
//   openai: chat.completions.parse with a zod schema, json_object, tool_choice required / named
//           (streamed and not); Vercel AI SDK: generateObject, generateText with toolChoice
//           required; LangChain: withStructuredOutput and bindTools (ChatOpenAI, ChatOllama);
//   ollama: format with a schema, tools.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { Ollama } from "ollama";
import { z } from "zod";
import Ajv2020 from "ajv/dist/2020.js";
import { generateObject, generateText, tool, jsonSchema } from "ai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { ChatOpenAI } from "@langchain/openai";
import { ChatOllama } from "@langchain/ollama";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setup_fixture, assert_alive, names } from "./fixture.mjs";

const repo_root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

let fx, openai, ollama;
const ajv = new Ajv2020({ allErrors: true, strict: false });

before(async () => {
  fx = await setup_fixture();
  openai = new OpenAI({ baseURL: `${fx.server.url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 120000 });
  ollama = new Ollama({ host: fx.server.url });
});
after(async () => {
  if (fx) assert_alive(fx);
  await fx?.stop();
});

// Bounded strings and arrays: a random model ends a string only when the grammar's mask makes a
// quote likely enough, so unbounded fields could run into the token limit.
const person = z.object({
  name: z.string().max(16),
  age: z.number().int().min(0).max(120),
  role: z.enum(["admin", "user", "guest"]),
  tags: z.array(z.string().max(8)).max(3),
});
const person_schema = z.toJSONSchema(person);

const weather_params = {
  type: "object",
  properties: { city: { type: "string", maxLength: 12 }, unit: { type: "string", enum: ["c", "f"] } },
  required: ["city", "unit"],
  additionalProperties: false,
};
const time_params = {
  type: "object",
  properties: { zone: { type: "string", enum: ["UTC", "CET", "PST"] } },
  required: ["zone"],
  additionalProperties: false,
};
const openai_tools = [
  { type: "function", function: { name: "get_weather", description: "Weather in a city", parameters: weather_params } },
  { type: "function", function: { name: "get_time", description: "Time in a zone", parameters: time_params } },
];
const params_of = { get_weather: weather_params, get_time: time_params };

const messages = [{ role: "user", content: "Who is Ada? Answer as JSON." }];
// qwen2-tiny carries Qwen3's template, which reasons first; reasoning stays free of the grammar,
// and a random model never ends it, so these requests turn thinking off (each client's way of
// passing chat_template_kwargs / think). tests/unit/runtime/constraint_test.cpp covers reasoning.
const no_thinking = { enable_thinking: false };
const sampling = { model: names.qwen, temperature: 1, max_tokens: 400, chat_template_kwargs: no_thinking };

function assert_valid(schema, value, what) {
  const validate = ajv.compile(schema);
  assert.ok(validate(value), `${what}: ${JSON.stringify(value)} does not validate: ${ajv.errorsText(validate.errors)}`);
}

function assert_call(name, args, allowed = Object.keys(params_of)) {
  assert.ok(allowed.includes(name), `tool call names '${name}', not one of ${allowed}`);
  assert_valid(params_of[name], typeof args === "string" ? JSON.parse(args) : args, `arguments of ${name}`);
}

test("openai chat.completions.parse with a zod schema", async () => {
  for (const seed of [1, 2, 3]) {
    const r = await openai.chat.completions.parse({
      ...sampling, seed, messages, response_format: zodResponseFormat(person, "person"),
    });
    const m = r.choices[0].message;
    assert.equal(r.choices[0].finish_reason, "stop", `seed ${seed}: ${m.content}`);
    assert.ok(m.parsed, `seed ${seed}: not parsed: ${m.content}`);
    assert_valid(person_schema, m.parsed, `seed ${seed}`);
  }
});

test("openai response_format json_object gives a JSON object", async () => {
  // Keys and strings are unbounded here: a random model may still be inside one at the token
  // limit, so seeds are tried until one ends; every answer that ends must be an object.
  let done = 0;
  for (let seed = 1; seed <= 12 && done < 2; ++seed) {
    const r = await openai.chat.completions.create({
      ...sampling, seed, messages, max_tokens: 300, response_format: { type: "json_object" },
    });
    const text = r.choices[0].message.content;
    if (r.choices[0].finish_reason === "length") continue;
    assert.equal(r.choices[0].finish_reason, "stop", text);
    const v = JSON.parse(text);
    assert.ok(typeof v === "object" && v !== null && !Array.isArray(v), text);
    ++done;
  }
  assert.equal(done, 2, "fewer than two seeds of twelve ended their object within 300 tokens");
});

test("openai tool_choice required, streamed and not", async () => {
  for (const stream of [false, true]) {
    const req = { ...sampling, seed: 11, messages: [{ role: "user", content: "Weather in Paris?" }],
                  tools: openai_tools, tool_choice: "required" };
    let calls, finish, content = "";
    if (!stream) {
      const r = await openai.chat.completions.create(req);
      calls = r.choices[0].message.tool_calls;
      finish = r.choices[0].finish_reason;
      content = r.choices[0].message.content ?? "";
    } else {
      const s = await openai.chat.completions.create({ ...req, stream: true });
      const acc = [];
      for await (const c of s) {
        const ch = c.choices[0];
        if (!ch) continue;
        content += ch.delta?.content ?? "";
        for (const d of ch.delta?.tool_calls ?? []) {
          acc[d.index] ??= { id: "", function: { name: "", arguments: "" } };
          if (d.id) acc[d.index].id = d.id;
          if (d.function?.name) acc[d.index].function.name += d.function.name;
          acc[d.index].function.arguments += d.function?.arguments ?? "";
        }
        if (ch.finish_reason) finish = ch.finish_reason;
      }
      calls = acc;
    }
    assert.equal(finish, "tool_calls", `stream=${stream}`);
    assert.ok(calls?.length >= 1, `stream=${stream}: no tool calls`);
    assert.doesNotMatch(content, /tool_call/, "call markup leaked into content");
    for (const c of calls) {
      assert.match(c.id, /^call_/);
      assert_call(c.function.name, c.function.arguments);
    }
  }
});

test("openai tool_choice auto: free text until the model opens a call, then the call's grammar", async () => {
  // Left alone, a random model writes text and never opens a call: content, no calls.
  const free = await openai.chat.completions.create({
    ...sampling, seed: 2, max_tokens: 24, messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: openai_tools, tool_choice: "auto",
  });
  assert.equal(free.choices[0].message.tool_calls, undefined);
  assert.ok(free.choices[0].message.content.length > 0);
  // Biased towards <tool_call> (logit_bias), it opens one at once; from there the grammar holds
  // the call to a declared tool and its schema, and the call ends the answer.
  const { tokens } = await fetch(`${fx.server.url}/tokenize`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: names.qwen, content: "<tool_call>", parse_special: true }),
  }).then((x) => x.json());
  assert.equal(tokens.length, 1);
  for (const stream of [false, true]) {
    const req = { ...sampling, seed: 6, messages: [{ role: "user", content: "Weather in Paris?" }],
                  tools: openai_tools, tool_choice: "auto", parallel_tool_calls: false,
                  logit_bias: { [tokens[0]]: 100 } };
    let calls = [], content = "", finish;
    if (!stream) {
      const r = await openai.chat.completions.create(req);
      calls = r.choices[0].message.tool_calls ?? [];
      content = r.choices[0].message.content ?? "";
      finish = r.choices[0].finish_reason;
    } else {
      for await (const c of await openai.chat.completions.create({ ...req, stream: true })) {
        const ch = c.choices[0];
        if (!ch) continue;
        content += ch.delta?.content ?? "";
        for (const d of ch.delta?.tool_calls ?? []) {
          calls[d.index] ??= { function: { name: "", arguments: "" } };
          if (d.function?.name) calls[d.index].function.name += d.function.name;
          calls[d.index].function.arguments += d.function?.arguments ?? "";
        }
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    assert.equal(finish, "tool_calls", `stream=${stream}: ${content}`);
    assert.equal(calls.length, 1);
    assert.doesNotMatch(content, /tool_call/);
    assert_call(calls[0].function.name, calls[0].function.arguments);
  }
});

test("openai named tool_choice calls that tool", async () => {
  for (const stream of [false, true]) {
    const req = { ...sampling, seed: 5, messages: [{ role: "user", content: "What time is it?" }],
                  tools: openai_tools, tool_choice: { type: "function", function: { name: "get_time" } },
                  parallel_tool_calls: false };
    let calls = [];
    if (!stream) {
      calls = (await openai.chat.completions.create(req)).choices[0].message.tool_calls;
    } else {
      const s = await openai.chat.completions.create({ ...req, stream: true });
      for await (const c of s) {
        for (const d of c.choices[0]?.delta?.tool_calls ?? []) {
          calls[d.index] ??= { function: { name: "", arguments: "" } };
          if (d.function?.name) calls[d.index].function.name += d.function.name;
          calls[d.index].function.arguments += d.function?.arguments ?? "";
        }
      }
    }
    assert.equal(calls.length, 1, `stream=${stream}`);
    assert_call(calls[0].function.name, calls[0].function.arguments, ["get_time"]);
  }
});

test("openai: an unsupported schema is a 400, not an unconstrained answer", async () => {
  await assert.rejects(
    openai.chat.completions.create({
      ...sampling, messages,
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { not: { type: "string" } } } },
    }),
    (e) => e.status === 400 && /not/.test(e.message));
  await assert.rejects(
    openai.chat.completions.create({
      ...sampling, messages, tools: openai_tools, tool_choice: { type: "function", function: { name: "nope" } },
    }),
    (e) => e.status === 400 && /nope/.test(e.message));
});

const ai_options = { pocketlm: { chat_template_kwargs: no_thinking } };
const ai_provider = () =>
  createOpenAICompatible({ name: "pocketlm", baseURL: `${fx.server.url}/v1`, supportsStructuredOutputs: true });

test("Vercel AI SDK generateObject", async () => {
  const { object } = await generateObject({
    model: ai_provider()(names.qwen), schema: person, prompt: "Describe Ada.", temperature: 1, seed: 3,
    maxOutputTokens: 400, maxRetries: 0, providerOptions: ai_options,
  });
  assert_valid(person_schema, object, "generateObject");
});

test("Vercel AI SDK generateText with toolChoice required", async () => {
  const r = await generateText({
    model: ai_provider()(names.qwen), prompt: "Weather in Oslo?", temperature: 1, seed: 4, maxOutputTokens: 300,
    maxRetries: 0, toolChoice: "required", providerOptions: ai_options,
    tools: {
      get_weather: tool({ description: "Weather in a city", inputSchema: jsonSchema(weather_params) }),
      get_time: tool({ description: "Time in a zone", inputSchema: jsonSchema(time_params) }),
    },
  });
  assert.ok(r.toolCalls.length >= 1, `no tool calls: ${r.text}`);
  for (const c of r.toolCalls) assert_call(c.toolName, c.input);
});

test("LangChain withStructuredOutput and bindTools (ChatOpenAI)", async () => {
  const llm = new ChatOpenAI({
    model: names.qwen, temperature: 1, maxTokens: 400, maxRetries: 0, apiKey: "unused",
    configuration: { baseURL: `${fx.server.url}/v1` }, modelKwargs: { seed: 9, chat_template_kwargs: no_thinking },
  });
  const structured = await llm.withStructuredOutput(person, { method: "jsonSchema" }).invoke("Describe Ada.");
  assert_valid(person_schema, structured, "withStructuredOutput");
  const msg = await llm.bindTools(openai_tools, { tool_choice: "required" }).invoke("Weather in Rome?");
  assert.ok(msg.tool_calls.length >= 1, `no tool calls: ${msg.content}`);
  for (const c of msg.tool_calls) assert_call(c.name, c.args);
});

test("LangChain withStructuredOutput and bindTools (ChatOllama)", async () => {
  const llm = new ChatOllama({ model: names.qwen, baseUrl: fx.server.url, temperature: 1, numPredict: 400, seed: 10,
                               think: false });
  const structured = await llm.withStructuredOutput(person, { method: "jsonSchema" }).invoke("Describe Ada.");
  assert_valid(person_schema, structured, "withStructuredOutput");
  // Ollama has no tool_choice: a random model calls a tool only if it wants to; what matters
  // here is that whatever it sends back is well-formed and a call, when made, validates.
  const msg = await llm.bindTools(openai_tools).invoke("Weather in Rome?");
  for (const c of msg.tool_calls ?? []) assert_call(c.name, c.args);
});

test("ollama format with a schema, chat and generate, streamed and not", async () => {
  for (const stream of [false, true]) {
    const chat = await ollama.chat({
      model: names.qwen, messages, format: person_schema, stream, think: false, options: { temperature: 1, seed: 12, num_predict: 400 },
    });
    let text = "";
    if (stream) for await (const part of chat) text += part.message.content;
    else text = chat.message.content;
    assert_valid(person_schema, JSON.parse(text), `chat stream=${stream}`);
  }
  const gen = await ollama.generate({
    model: names.qwen, prompt: "Ada as JSON", format: person_schema, think: false, options: { temperature: 1, seed: 13, num_predict: 400 },
  });
  assert_valid(person_schema, JSON.parse(gen.response), "generate");
  const any = await ollama.generate({
    model: names.qwen, prompt: "JSON please", format: "json", think: false, options: { temperature: 1, seed: 14, num_predict: 480 },
  });
  assert.equal(typeof JSON.parse(any.response), "object");
});

test("ollama tools: calls come back as objects and round-trip as tool messages", async () => {
  // Ollama's API has no tool_choice, and a random model never opens a call by itself;
  // pocketlm reads OpenAI's tool_choice on /api/chat too (the ollama client passes it through).
  for (const stream of [false, true]) {
    const r = await ollama.chat({
      model: names.qwen, messages: [{ role: "user", content: "Weather in Paris?" }], tools: openai_tools,
      tool_choice: "required", think: false, stream, options: { temperature: 1, seed: 3, num_predict: 200 },
    });
    let calls = [];
    if (stream) for await (const part of r) calls.push(...(part.message.tool_calls ?? []));
    else calls = r.message.tool_calls ?? [];
    assert.ok(calls.length >= 1, `stream=${stream}: no tool calls`);
    for (const c of calls) assert_call(c.function.name, c.function.arguments);
  }
  const r = await ollama.chat({
    model: names.qwen, messages: [{ role: "user", content: "Weather in Paris?" }], tools: openai_tools,
    tool_choice: "required", think: false, options: { temperature: 1, seed: 3, num_predict: 200 },
  });
  const call = r.message;
  assert.equal(typeof call.tool_calls[0].function.arguments, "object");
  const next = await ollama.chat({
    model: names.qwen, tools: openai_tools, think: false, options: { temperature: 0, num_predict: 4 },
    messages: [{ role: "user", content: "Weather in Paris?" }, call,
               { role: "tool", content: "18 C, sunny", tool_name: call.tool_calls[0].function.name }],
  });
  assert.equal(next.done, true);
});

// Python's Jinja2 set up as transformers sets it up (tools/chat_template_reference.py) renders
// `messages` with `tools` through `template`.
function jinja_reference(template, messages, tools, special_tokens) {
  const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(path.join(repo_root, "tools"))})
import chat_template_reference as ref
inp = json.load(sys.stdin)
env = ref.make_environment(0)
ctx = ref.context_for({"messages": inp["messages"], "tools": inp["tools"], "add_generation_prompt": True},
                      inp["special_tokens"])
out = ref.render(env.from_string(inp["template"]), ctx)
sys.stdout.write(json.dumps(out))
`;
  const r = spawnSync("python3", ["-c", script], {
    input: JSON.stringify({ template, messages, tools, special_tokens }), encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test("round trip: a tool call and its result render in the next turn as the template does", async () => {
  const user = { role: "user", content: "Weather in Paris?" };
  const r = await openai.chat.completions.create({
    ...sampling, seed: 21, messages: [user], tools: openai_tools, tool_choice: "required",
  });
  const assistant = r.choices[0].message;
  assert.ok(assistant.tool_calls?.length >= 1);
  const result = { role: "tool", tool_call_id: assistant.tool_calls[0].id, content: "{\"temp_c\": 18}" };
  const conversation = [user, { role: "assistant", content: assistant.content, tool_calls: assistant.tool_calls },
                        result];
  const ours = await fetch(`${fx.server.url}/apply-template`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: names.qwen, messages: conversation, tools: openai_tools }),
  }).then((x) => x.json());
  // transformers' callers pass arguments as objects; the OpenAI client sent them as JSON text.
  // Its content null (OpenAI's for a call) is the empty string, as llama.cpp passes it.
  const as_transformers = structuredClone(conversation);
  for (const c of as_transformers[1].tool_calls) c.function.arguments = JSON.parse(c.function.arguments);
  as_transformers[1].content ??= "";
  const show = await ollama.show({ model: names.qwen });
  const expected = jinja_reference(show.template, as_transformers, openai_tools,
                                   { bos_token: "", eos_token: "<|endoftext|>" });
  assert.equal(typeof expected, "string", JSON.stringify(expected));
  assert.equal(ours.prompt, expected);
  assert.match(ours.prompt, /<tool_response>\n\{"temp_c": 18\}\n<\/tool_response>/);
  // And the next turn runs on it.
  const next = await openai.chat.completions.create({ ...sampling, max_tokens: 4, messages: conversation,
                                                      tools: openai_tools });
  assert.ok(next.choices[0].finish_reason);
});
