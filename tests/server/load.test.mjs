// Load test of `pocketlm serve` (loopback only, bounded in time and in requests): 32 connections
// each loop requests for LOAD_SECONDS (default 60) against --parallel 2 with a small queue on
// stories260K: streaming OpenAI chat, streaming Ollama generate, non-streaming Ollama chat, tags
// and ps. Every answer must be 200 or a deliberate 503/429, and every stream must end properly.
// The server's RSS is sampled each second; the average of the last 20 s must not exceed that of
// the first 20 s after warm-up by more than 10%. A summary table goes to stdout and to
// $POCKETLM_TEST_OUT/load-summary.txt.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { env, make_store, make_temp_dir, rss_kib, sleep, start_server, stories_gguf } from "./lib.mjs";

const seconds = Number.parseInt(process.env.LOAD_SECONDS ?? "60", 10);
const n_conn = Number.parseInt(process.env.LOAD_CONNECTIONS ?? "32", 10);
const max_requests = 500000;  // a bound on the count even when every answer is a fast 503
const model = "stories:260k";

let root;
let server;

before(async () => {
  root = make_temp_dir("server-load");
  await make_store(root, [{ file: stories_gguf(), name: model }]);
  server = await start_server({ root, args: ["--parallel", "2", "--queue", "4", "--ctx", "512"] });
});
after(async () => {
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

// Reads a streamed body line by line; returns the lines (without the SSE "data: " prefix).
async function read_lines(res, sse) {
  const text = await res.text();
  return text.split("\n").filter((l) => l.trim() !== "" && (!sse || l.startsWith("data:")))
    .map((l) => (sse ? l.slice(5).trim() : l));
}

// Checks a 200 body; returns {tokens} or throws with what was wrong.
const kinds = {
  async openai_stream(url, i) {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: `Story number ${i % 50}` }], stream: true,
                             max_tokens: 8, temperature: 0.8, stream_options: { include_usage: true } }) });
    if (res.status !== 200) return { status: res.status, body: await res.text() };
    const lines = await read_lines(res, true);
    if (lines.at(-1) !== "[DONE]") throw new Error(`SSE stream did not end in [DONE]: ${lines.slice(-2)}`);
    const events = lines.slice(0, -1).map((l) => JSON.parse(l));
    const bad = events.find((e) => e.error);
    if (bad) throw new Error(`error inside the stream: ${JSON.stringify(bad)}`);
    return { status: 200, tokens: events.at(-1)?.usage?.completion_tokens ?? 0 };
  },
  async ollama_stream(url, i) {
    const res = await fetch(`${url}/api/generate`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model, prompt: `Once upon a time ${i % 50}`, options: { num_predict: 8, temperature: 0.8 } }) });
    if (res.status !== 200) return { status: res.status, body: await res.text() };
    const events = (await read_lines(res, false)).map((l) => JSON.parse(l));
    const bad = events.find((e) => e.error);
    if (bad) throw new Error(`error inside the stream: ${JSON.stringify(bad)}`);
    if (!events.at(-1)?.done) throw new Error("NDJSON stream did not end with done");
    return { status: 200, tokens: events.at(-1).eval_count ?? 0 };
  },
  async ollama_chat(url, i) {
    const res = await fetch(`${url}/api/chat`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model, stream: false, messages: [{ role: "user", content: `Hi ${i % 50}` }],
                             options: { num_predict: 8 } }) });
    const body = await res.text();
    if (res.status !== 200) return { status: res.status, body };
    const j = JSON.parse(body);
    if (!j.done || j.message?.role !== "assistant") throw new Error(`bad chat answer: ${body.slice(0, 200)}`);
    return { status: 200, tokens: j.eval_count ?? 0 };
  },
  async tags(url) {
    const res = await fetch(`${url}/api/tags`);
    const body = await res.text();
    if (res.status === 200 && !JSON.parse(body).models.some((m) => m.name === model)) throw new Error("tags lost the model");
    return { status: res.status, body, tokens: 0 };
  },
  async ps(url) {
    const res = await fetch(`${url}/api/ps`);
    const body = await res.text();
    if (res.status === 200 && !Array.isArray(JSON.parse(body).models)) throw new Error("ps: no models array");
    return { status: res.status, body, tokens: 0 };
  },
};
const mix = ["openai_stream", "ollama_stream", "tags", "openai_stream", "ollama_chat", "ollama_stream", "ps"];

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
}

function summarize(stats, rss, elapsed_s) {
  const all = Object.values(stats.by_kind).flatMap((k) => k.lat).sort((a, b) => a - b);
  const rows = [["kind", "requests", "200", "503", "429", "other", "p50 ms", "p95 ms"]];
  for (const [name, k] of Object.entries(stats.by_kind)) {
    const lat = k.lat.slice().sort((a, b) => a - b);
    rows.push([name, k.n, k.st[200] ?? 0, k.st[503] ?? 0, k.st[429] ?? 0, k.other, percentile(lat, 0.5).toFixed(1),
               percentile(lat, 0.95).toFixed(1)]);
  }
  const tot = (s) => Object.values(stats.by_kind).reduce((a, k) => a + (s === "other" ? k.other : k.st[s] ?? 0), 0);
  rows.push(["all", stats.requests, tot(200), tot(503), tot(429), tot("other"), percentile(all, 0.5).toFixed(1),
             percentile(all, 0.95).toFixed(1)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  const table = rows.map((r) => r.map((v, c) => String(v).padStart(widths[c])).join("  ")).join("\n");
  const mib = (k) => (k / 1024).toFixed(1);
  const kib = rss.map((s) => s.kib);
  return `pocketlm serve load test: ${n_conn} connections, ${elapsed_s.toFixed(1)} s, --parallel 2 --queue 4, ${model}\n` +
    `${table}\n` +
    `tokens generated: ${stats.tokens} (${(stats.tokens / elapsed_s).toFixed(1)} tokens/s), ` +
    `requests/s: ${(stats.requests / elapsed_s).toFixed(1)}, transport errors: ${stats.transport}\n` +
    `server RSS MiB: start ${mib(kib[0] ?? 0)}, end ${mib(kib.at(-1) ?? 0)}, peak ${mib(Math.max(0, ...kib))}\n`;
}

// One connection's loop: requests in the mix order until the deadline or the global count bound.
async function connection(c, url, deadline, stats) {
  for (let i = c; Date.now() < deadline && stats.requests < max_requests; i += n_conn) {
    const name = mix[i % mix.length];
    const k = stats.by_kind[name];
    const t0 = performance.now();
    let r;
    try {
      r = await kinds[name](url, i);
    } catch (e) {
      stats.transport++;
      k.other++;
      k.n++;
      stats.requests++;
      stats.failures.push(`${name}: ${e.cause?.code ?? ""} ${e.message}`);
      continue;
    }
    k.lat.push(performance.now() - t0);
    k.n++;
    stats.requests++;
    k.st[r.status] = (k.st[r.status] ?? 0) + 1;
    if (r.status === 200) stats.tokens += r.tokens;
    else if (r.status === 503 || r.status === 429) await sleep(20);  // a deliberate refusal: back off a little
    else {
      k.other++;
      stats.failures.push(`${name}: HTTP ${r.status} ${String(r.body).slice(0, 200)}`);
    }
  }
}

test(`load: ${n_conn} connections for ${seconds} s, only 200 and deliberate 503/429, no RSS growth`, async () => {
  const stats = { requests: 0, tokens: 0, transport: 0, failures: [], by_kind: {} };
  for (const name of new Set(mix)) stats.by_kind[name] = { n: 0, st: {}, other: 0, lat: [] };
  const rss = [];
  const t_start = Date.now();
  const deadline = t_start + seconds * 1000;
  const sampler = setInterval(() => rss.push({ t: (Date.now() - t_start) / 1000, kib: rss_kib(server.pid) }), 1000);
  await Promise.all(Array.from({ length: n_conn }, (_, c) => connection(c, server.url, deadline, stats)));
  clearInterval(sampler);
  const elapsed = (Date.now() - t_start) / 1000;

  const summary = summarize(stats, rss, elapsed);
  process.stdout.write(`\n${summary}`);
  fs.mkdirSync(env.out_dir, { recursive: true });
  fs.writeFileSync(path.join(env.out_dir, "load-summary.txt"), summary);
  fs.writeFileSync(path.join(env.out_dir, "load-rss.json"), JSON.stringify(rss));

  assert.equal(server.proc.exitCode, null, `server died: ${server.stderr()}`);
  assert.deepEqual(stats.failures.slice(0, 10), [], `${stats.failures.length} failures`);
  for (const [name, k] of Object.entries(stats.by_kind)) assert.ok((k.st[200] ?? 0) > 0, `no 200 for ${name}`);
  // Memory: warm-up is the first sixth; then compare the first and the last windows (20 s each
  // at the default 60 s).
  const warm = seconds / 6;
  const win = Math.min(20, (seconds - warm) / 2);
  const avg = (a) => a.reduce((s, x) => s + x.kib, 0) / a.length;
  const first = rss.filter((s) => s.t >= warm && s.t < warm + win);
  const last = rss.filter((s) => s.t >= seconds - win);
  assert.ok(first.length >= 2 && last.length >= 2, `too few RSS samples: ${rss.length}`);
  const growth = avg(last) / avg(first) - 1;
  process.stdout.write(`RSS growth (last ${win.toFixed(0)} s over first ${win.toFixed(0)} s after warm-up): ` +
                       `${(growth * 100).toFixed(1)}%\n`);
  assert.ok(growth <= 0.10, `server RSS grew ${(growth * 100).toFixed(1)}% under load`);
});
