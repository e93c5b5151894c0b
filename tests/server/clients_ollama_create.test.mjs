// Ollama's model authoring routes on a real `pocketlm serve`: blobs uploaded with HEAD/POST
// /api/blobs/:digest (digest checked, streamed past the 8 MiB body limit, which stays on every
// other route; a full disk is 507 with nothing kept), /api/create from uploaded files (Ollama's
// documented request, plain fetch) and from a model (the official `ollama` npm client), with
// system, template, license, parameters and quantize, /api/push to the local test registry and a
// pull back under the registry name, `pocketlm push`, and the errors of each.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Ollama } from "ollama";
import { setup_fixture, assert_alive, names, store_path } from "./fixture.mjs";
import { env, make_temp_dir, pocketlm, raw, sha256_file, start_server, stories_gguf, store_env } from "./lib.mjs";

const run_file = promisify(execFile);

let fx;
let ollama;
let url;
const stories_hex = sha256_file(stories_gguf());
const sha = (buf) => crypto.createHash("sha256").update(buf).digest("hex");

before(async () => {
  fx = await setup_fixture({ registry: true });
  ollama = new Ollama({ host: fx.server.url });
  url = fx.server.url;
});
after(async () => {
  if (fx) assert_alive(fx);
  await fx?.stop();
});

const head = async (hex, base = url) => (await fetch(`${base}/api/blobs/sha256:${hex}`, { method: "HEAD" })).status;

async function post_blob(digest, body, base = url) {
  const res = await fetch(`${base}/api/blobs/${digest}`, {
    method: "POST", body, headers: { "Content-Type": "application/octet-stream" } });
  const text = await res.text();
  return { status: res.status, text };
}

// POST /api/create as Ollama's docs write it (curl -d): NDJSON progress by default.
async function create_raw(body) {
  const r = await raw(`${url}/api/create`, { body: JSON.stringify(body) });
  const events = r.text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  return { ...r, events };
}

const blob_files = (root) => fs.readdirSync(path.join(root, "blobs"));
const manifest_bytes = (root, rel) => fs.readFileSync(path.join(root, "manifests", rel));

// curl -T FILE -X POST (Ollama's documented upload; Content-Length and Expect: 100-continue).
async function curl_upload(file, digest, base = url) {
  const { stdout } = await run_file("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", file, "-X", "POST",
                                             `${base}/api/blobs/${digest}`]);
  return Number(stdout);
}

function random_file(dir, mib) {
  const data = crypto.randomBytes(mib << 20);
  const file = path.join(dir, `random-${mib}-${sha(data).slice(0, 8)}.bin`);
  fs.writeFileSync(file, data);
  return { file, data, hex: sha(data) };
}

test("blobs: HEAD before and after; a wrong digest is 400 and keeps nothing; then 201, and 200 when present", async () => {
  // The fixture imported stories260K: remove it so that its blob is gone before the upload.
  await ollama.delete({ model: names.stories });
  assert.equal(await head(stories_hex), 404);
  const bytes = fs.readFileSync(stories_gguf());
  const wrong = sha(Buffer.from("not the file"));
  const bad = await post_blob(`sha256:${wrong}`, bytes);
  assert.equal(bad.status, 400, bad.text);
  assert.match(JSON.parse(bad.text).error, /digest mismatch/);
  assert.equal(await head(wrong), 404);
  assert.equal(await head(stories_hex), 404);
  assert.deepEqual(blob_files(store_path(fx)).filter((f) => f.includes(wrong) || f.endsWith("-partial")), []);

  const ok = await post_blob(`sha256:${stories_hex}`, bytes);
  assert.equal(ok.status, 201, ok.text);
  assert.equal(await head(stories_hex), 200);
  assert.ok(fs.readFileSync(path.join(store_path(fx), "blobs", `sha256-${stories_hex}`)).equals(bytes));
  assert.equal((await post_blob(`sha256:${stories_hex}`, bytes)).status, 200);  // already there
  // Ollama's other spelling of a digest, and malformed ones.
  assert.equal((await fetch(`${url}/api/blobs/sha256-${stories_hex}`, { method: "HEAD" })).status, 200);
  assert.equal((await post_blob("sha256:xyz", bytes)).status, 400);
  assert.equal((await fetch(`${url}/api/blobs/md5:${stories_hex.slice(0, 32)}`, { method: "HEAD" })).status, 400);
});

test("blobs: bodies past 8 MiB stream to disk (curl -T and chunked); every other route keeps the 8 MiB limit", async () => {
  const dir = make_temp_dir("blobs");
  try {
    const big = random_file(dir, 12);
    assert.equal(await head(big.hex), 404);
    assert.equal(await curl_upload(big.file, `sha256:${big.hex}`), 201);
    assert.equal(await head(big.hex), 200);
    assert.equal(sha256_file(path.join(store_path(fx), "blobs", `sha256-${big.hex}`)), big.hex);
    // Chunked (no Content-Length): a stream of 1 MiB pieces.
    const chunked = crypto.randomBytes(10 << 20);
    const body = new ReadableStream({
      start(c) {
        for (let i = 0; i < chunked.length; i += 1 << 20) c.enqueue(chunked.subarray(i, i + (1 << 20)));
        c.close();
      },
    });
    const res = await fetch(`${url}/api/blobs/sha256:${sha(chunked)}`, { method: "POST", body, duplex: "half" });
    assert.equal(res.status, 201, await res.text());
    assert.equal(await head(sha(chunked)), 200);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // The exception is that one route: a 9 MiB JSON body is still 413 on chat and on create.
  const nine = JSON.stringify({ model: names.qwen, messages: [{ role: "user", content: "x".repeat(9 << 20) }] });
  for (const route of ["/api/chat", "/api/create"]) {
    const r = await raw(`${url}${route}`, { body: nine });
    assert.equal(r.status, 413, `${route}: ${r.text.slice(0, 200)}`);
    assert.match(r.json.error, /too large \(limit 8 MiB/);
  }
});

test("create from an uploaded GGUF (`files`): NDJSON progress, then show, generate and chat use its layers", async () => {
  const r = await create_raw({
    model: "stories-up", files: { "stories260K.gguf": `sha256:${stories_hex}` }, system: "You tell short stories.",
    license: "MIT", parameters: { temperature: 0, num_predict: 4, stop: ["<|end|>", "THE END"] } });
  assert.equal(r.status, 200, r.text);
  assert.match(r.type, /application\/x-ndjson/);
  const statuses = r.events.map((e) => e.status);
  assert.equal(statuses[0], "parsing GGUF");
  assert.ok(statuses.includes(`using existing layer sha256:${stories_hex}`), statuses.join(" | "));
  assert.ok(statuses.includes("writing manifest"), statuses.join(" | "));
  assert.equal(statuses.at(-1), "success");

  const s = await ollama.show({ model: "stories-up" });
  assert.equal(s.system, "You tell short stories.");
  assert.equal(s.license, "MIT");
  assert.match(s.parameters, /^temperature 0(\.0)?$/m);
  assert.match(s.parameters, /^num_predict 4$/m);
  assert.match(s.parameters, /^stop <\|end\|>$/m);
  assert.match(s.parameters, /^stop THE END$/m);
  assert.equal(s.details.family, "llama");
  const { models } = await ollama.list();
  assert.ok(models.some((m) => m.name === "stories-up:latest"), models.map((m) => m.name).join(" "));

  // No options: the model's own parameters decide (num_predict 4, greedy).
  const g = await ollama.generate({ model: "stories-up", prompt: "Once upon a time" });
  assert.ok(g.eval_count >= 1 && g.eval_count <= 4, `eval_count ${g.eval_count}`);
  assert.equal((await ollama.generate({ model: "stories-up", prompt: "Once upon a time" })).response, g.response);
  const c = await ollama.chat({ model: "stories-up", messages: [{ role: "user", content: "Once upon a time" }] });
  assert.equal(c.message.role, "assistant");
  assert.ok(c.eval_count >= 1 && c.eval_count <= 4, `eval_count ${c.eval_count}`);
});

test("create from a model with the npm client: system, template and parameters layer over the base", async () => {
  const done = await ollama.create({
    model: "mario", from: "stories-up", system: "You are Mario.", template: "{{ .Prompt }}",
    parameters: { num_predict: 2, top_k: 7 } });
  assert.equal(done.status, "success");
  const m = await ollama.show({ model: "mario" });
  assert.equal(m.system, "You are Mario.");
  assert.match(m.parameters, /^num_predict 2$/m);
  assert.match(m.parameters, /^top_k 7$/m);
  assert.match(m.parameters, /^temperature 0(\.0)?$/m);  // kept from stories-up
  assert.equal(m.license, "MIT");
  const g = await ollama.generate({ model: "mario", prompt: "Once upon a time" });
  assert.ok(g.eval_count >= 1 && g.eval_count <= 2, `eval_count ${g.eval_count}`);
  // The base is unchanged.
  assert.match((await ollama.show({ model: "stories-up" })).parameters, /^num_predict 4$/m);

  const events = [];
  for await (const e of await ollama.create({ model: "mario-copy", from: "mario", stream: true })) events.push(e);
  assert.equal(events[0].status, "reading model metadata");
  assert.equal(events.at(-1).status, "success");
  assert.equal((await ollama.show({ model: "mario-copy" })).system, "You are Mario.");
  // The manifest holds Ollama's template layer (pocketlm renders the GGUF's own template).
  const manifest = JSON.parse(manifest_bytes(store_path(fx), "registry.ollama.ai/library/mario/latest"));
  assert.ok(manifest.layers.some((l) => l.mediaType === "application/vnd.ollama.image.template"));
  await ollama.delete({ model: "mario-copy" });
});

test("create with quantize: progress, a Q8_0 model that generates; already quantized or unknown types are 400", async () => {
  const events = [];
  for await (const e of await ollama.create({ model: "stories-q8", from: "stories-up", quantize: "q8_0", stream: true })) {
    events.push(e);
  }
  const q = events.filter((e) => /^quantizing F32 model to Q8_0$/.test(e.status));
  assert.ok(q.length >= 1, events.map((e) => e.status).join(" | "));
  assert.ok(q.every((e) => e.total > 0 && e.completed <= e.total), JSON.stringify(q));
  assert.ok(events.some((e) => e.status === "verifying conversion"));
  assert.equal(events.at(-1).status, "success");
  const s = await ollama.show({ model: "stories-q8" });
  assert.equal(s.details.quantization_level, "Q8_0");
  assert.match(s.parameters, /^num_predict 4$/m);
  const g = await ollama.generate({ model: "stories-q8", prompt: "Once upon a time" });
  assert.ok(g.eval_count >= 1, `eval_count ${g.eval_count}`);
  assert.deepEqual(blob_files(store_path(fx)).filter((f) => f.includes("quantize")), []);
  await assert.rejects(ollama.create({ model: "x", from: "stories-q8", quantize: "q4_0" }), (e) => {
    assert.equal(e.status_code, 400);
    assert.match(e.error, /only supported for F16, BF16 and F32/);
    return true;
  });
  await assert.rejects(ollama.create({ model: "x", from: "stories-up", quantize: "q3_zz" }),
                       (e) => e.status_code === 400 && /quantization type/.test(e.error));
});

test("create: bad requests are 4xx before anything is written", async () => {
  const before = (await ollama.list()).models.map((m) => m.name).sort();
  const missing = sha(Buffer.from("never uploaded"));
  const cases = [
    [{ model: "e1", files: { "m.gguf": `sha256:${missing}` } }, 400, /not found: upload it first/],
    [{ model: "e1", from: "nosuch:1b" }, 404, /not found/],
    [{ model: "e1" }, 400, /neither 'from' or 'files'/],
    [{ model: "e1", from: "stories-up", adapters: { "a.gguf": `sha256:${stories_hex}` } }, 400, /adapters/],
    [{ model: "e1", from: "stories-up", messages: [{ role: "user", content: "hi" }] }, 400, /messages/],
    [{ model: "e1", from: "stories-up", parameters: { temperature: "hot" } }, 400, /temperature/],
    [{ model: "e1", from: "stories-up", parameters: { no_such_option: 1 } }, 400, /unknown parameter/],
    [{ model: "e1", files: { "a.gguf": `sha256:${stories_hex}`, "b.gguf": `sha256:${stories_hex}` } }, 400, /one GGUF/],
    [{ model: "e1", files: { "../m.gguf": `sha256:${stories_hex}` } }, 400, /relative/],
    [{ model: "e1", files: { "m.gguf": "sha256:1234" } }, 400, /invalid digest/],
    [{ model: "bad name!", from: "stories-up" }, 400, /./],
  ];
  for (const [body, status, message] of cases) {
    const r = await create_raw(body);
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    assert.match(r.json.error, message, JSON.stringify(body));
  }
  // A blob that is not a GGUF file.
  const junk = crypto.randomBytes(4096);
  assert.equal((await post_blob(`sha256:${sha(junk)}`, junk)).status, 201);
  const r = await create_raw({ model: "e1", files: { "m.gguf": `sha256:${sha(junk)}` } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /not in GGUF format/);
  // The npm client gets the same statuses.
  await assert.rejects(ollama.create({ model: "e1", from: "nosuch:1b" }), (e) => e.status_code === 404);
  assert.deepEqual((await ollama.list()).models.map((m) => m.name).sort(), before);
});

test("push to the registry (uploads, then the manifest), pull it back under the registry name: same bytes", async () => {
  const host = new URL(fx.registry.url).host;  // 127.0.0.1:PORT, the host $POCKETLM_REGISTRY lists
  const name = `${host}/test/stories-pushed:v1`;
  const rel = `${host}/test/stories-pushed/v1`;
  const reg_root = path.join(fx.root, "registry");
  const pushlog = async () => (await fetch(`${fx.registry.url}/_pushlog`)).json();
  await ollama.copy({ source: "stories-up", destination: name });
  const local = manifest_bytes(store_path(fx), rel);

  const events = [];
  for await (const e of await ollama.push({ model: name, insecure: true, stream: true })) events.push(e);
  const statuses = events.map((e) => e.status);
  assert.equal(statuses[0], "retrieving manifest");
  assert.ok(statuses.includes("pushing manifest"), statuses.join(" | "));
  assert.equal(statuses.at(-1), "success");
  const model_events = events.filter((e) => e.digest === `sha256:${stories_hex}`);
  assert.ok(model_events.some((e) => e.completed === e.total && e.total === fs.statSync(stories_gguf()).size),
            JSON.stringify(model_events));
  assert.ok(model_events.every((e) => e.status === `pushing ${stories_hex.slice(0, 12)}`));
  assert.ok(manifest_bytes(reg_root, "registry.ollama.ai/test/stories-pushed/v1").equals(local));
  assert.equal(sha256_file(path.join(reg_root, "blobs", `sha256-${stories_hex}`)), stories_hex);
  const first = await pushlog();
  assert.ok(first.some((e) => e.method === "PUT" && e.path.startsWith("/v2/test/stories-pushed/blobs/uploads/")));

  // Again: every blob is there already, so only HEADs and the manifest.
  assert.equal((await ollama.push({ model: name })).status, "success");
  const second = (await pushlog()).slice(first.length);
  assert.ok(second.length > 0 && second.every((e) => e.method === "HEAD" || e.path.includes("/manifests/")),
            JSON.stringify(second));

  // Gone here, then pulled back from the registry: the same manifest, the same weights.
  await ollama.delete({ model: name });
  assert.equal((await ollama.pull({ model: name })).status, "success");
  assert.ok(manifest_bytes(store_path(fx), rel).equals(local));
  const g = await ollama.generate({ model: name, prompt: "Once upon a time" });
  assert.equal(g.response, (await ollama.generate({ model: "stories-up", prompt: "Once upon a time" })).response);

  // The CLI verb, against the same store and registry.
  const { stderr } = await pocketlm(["push", name], { ...store_env(fx.root), POCKETLM_REGISTRY: fx.registry.url });
  assert.match(stderr, /pushing manifest/);
  assert.match(stderr, /success/);

  await assert.rejects(ollama.push({ model: `${host}/test/nosuch:v1` }), (e) => e.status_code === 404);
  await ollama.copy({ source: "stories-up", destination: "example.com/test/x:v1" });
  await assert.rejects(ollama.push({ model: "example.com/test/x:v1" }), (e) => {
    assert.equal(e.status_code, 400);
    assert.match(e.error, /not allowed/);
    return true;
  });
});

test("blobs: a full disk is 507 and leaves nothing behind", async () => {
  const root = make_temp_dir("blobs-full");
  const dir = path.join(root, "data");
  fs.mkdirSync(path.join(root, "models", "blobs"), { recursive: true });
  fs.mkdirSync(dir);
  // RLIMIT_FSIZE of 4 MiB (SIGXFSZ ignored): writes past it fail with EFBIG, as on a full disk.
  const wrapper = path.join(root, "serve.sh");
  fs.writeFileSync(wrapper, `#!/bin/sh\ntrap '' XFSZ\nulimit -f 4096\nexec "${env.bin}" "$@"\n`, { mode: 0o755 });
  const bin = env.bin;
  env.bin = wrapper;
  let server;
  try {
    server = await start_server({ root });
  } finally {
    env.bin = bin;
  }
  try {
    const big = random_file(dir, 6);
    const { stdout } = await run_file("curl", ["-sS", "-w", "\n%{http_code}", "-T", big.file, "-X", "POST",
                                               `${server.url}/api/blobs/sha256:${big.hex}`]);
    const [body, code] = stdout.split("\n");
    assert.equal(Number(code), 507, stdout);
    assert.match(JSON.parse(body).error, /disk full/);
    assert.deepEqual(blob_files(path.join(root, "models")), []);
    assert.equal(await head(big.hex, server.url), 404);
    const small = random_file(dir, 1);  // under the limit: the server is fine
    assert.equal(await curl_upload(small.file, `sha256:${small.hex}`, server.url), 201);
  } finally {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
