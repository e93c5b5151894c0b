// Load test of `pocketlm serve` (loopback only, bounded in time and in requests): LOAD_CONNECTIONS
// (default 64) connections each loop requests for LOAD_SECONDS (default 60) against --parallel 2
// with a small queue, over two store models (one in pocketlm's store, one in an Ollama store read
// in place): streaming OpenAI chat, streaming Ollama generate, non-streaming Ollama chat, tags and
// ps, mixed with hostile and careless traffic: slowloris heads, oversized Content-Length and chunked
// bodies, requests abandoned mid-generation, model switches (keep_alive 0), and cross-site writes
// from another Origin. Normal requests must get 200 or a deliberate 503/429, hostile ones their
// deliberate 4xx (or a closed connection for slowloris); every stream must end properly. p50/p95
// latency per kind is reported. The server's RSS is sampled each second; the average of the last
// 20 s must not exceed that of the first 20 s after warm-up by more than 10%. Neither store may
// change. A summary table goes to stdout and to $POCKETLM_TEST_OUT/load-summary.txt.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { env, make_store, make_temp_dir, rss_kib, sleep, start_server, stories_gguf } from "./lib.mjs";

const seconds = Number.parseInt(process.env.LOAD_SECONDS ?? "60", 10);
const n_conn = Number.parseInt(process.env.LOAD_CONNECTIONS ?? "64", 10);
const max_requests = 500000;  // a bound on the count even when every answer is a fast 503
const model = "stories:260k";
const ollama_model = "tales:260k";  // the same weights in an Ollama store: a second model to switch to
const here = path.dirname(fileURLToPath(import.meta.url));

let root;
let server;
let stores_before;

// Every file of both stores with its size and mtime: what "the store did not change" means.
function snapshot(dirs) {
  const out = {};
  const walk = (d) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        out[p] = `${st.size}@${st.mtimeMs}`;
      }
    }
  };
  dirs.forEach(walk);
  return out;
}
const store_dirs = () => [path.join(root, "models"), path.join(root, "ollama")];

before(async () => {
  root = make_temp_dir("server-load");
  await make_store(root, [{ file: stories_gguf(), name: model }]);
  await promisify(execFile)("node", [path.join(here, "..", "e2e", "store", "make_ollama_store.mjs"),
                                     path.join(root, "ollama"), "registry.ollama.ai/library/tales/260k",
                                     stories_gguf(), "pulled"]);
  server = await start_server({ root, args: ["--parallel", "2", "--queue", "4", "--ctx", "512"],
                                extra_env: { OLLAMA_MODELS: path.join(root, "ollama") } });
  stores_before = snapshot(store_dirs());
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

// Hostile and careless traffic. Each returns {status} of its deliberate answer (0: the server
// closed the connection, as it must for slowloris) or throws when the server did something else.

// Opens a raw connection, writes `head` (and then `feed(sock)` if given), resolves with the status
// line's code, or 0 when the server closed the connection without answering, within `limit_ms`.
function raw_exchange(url, head, { feed, limit_ms = 30000 } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname);
    let got = "";
    let timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer or close within ${limit_ms} ms`)); },
                           limit_ms);
    const done = (v) => { clearTimeout(timer); timer = null; sock.destroy(); resolve(v); };
    sock.on("connect", () => { sock.write(head); feed?.(sock, () => timer === null); });
    sock.on("data", (d) => {
      got += d;
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      if (m) done(Number(m[1]));
    });
    sock.on("error", () => { if (timer) done(0); });
    sock.on("close", () => { if (timer) done(0); });
  });
}

const hostile = {
  // One header line a second, never finishing the head: the server must cut it off (408 or close).
  async slowloris(url) {
    const t0 = Date.now();
    const status = await raw_exchange(url, "POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n", {
      feed: (sock, finished) => {
        let n = 0;
        const tick = setInterval(() => {
          if (finished() || sock.destroyed) return clearInterval(tick);
          sock.write(`X-Slow-${n++}: ${"a".repeat(10)}\r\n`);
        }, 1000);
      },
      limit_ms: 40000,
    });
    if (status !== 0 && status !== 408 && status !== 503 && status !== 431) throw new Error(`slowloris got ${status}`);
    return { status, held_ms: Date.now() - t0 };
  },
  // A declared body far over the limit: 413 at once, nothing read.
  async oversized(url) {
    const status = await raw_exchange(url, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{", { limit_ms: 10000 });
    if (status !== 413 && status !== 503) throw new Error(`oversized body got ${status}`);
    return { status };
  },
  // A chunked body that grows past the limit: 413 before it is buffered.
  async chunked(url) {
    const chunk = Buffer.alloc(1 << 20, 0x61);
    const status = await raw_exchange(url, "POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", {
      feed: async (sock, finished) => {
        for (let i = 0; i < 16 && !finished() && !sock.destroyed; ++i) {
          sock.write(`${chunk.length.toString(16)}\r\n`);
          sock.write(chunk);
          sock.write("\r\n");
          await sleep(5);
        }
      },
      limit_ms: 20000,
    });
    if (status !== 413 && status !== 503 && status !== 0) throw new Error(`chunked 16 MiB body got ${status}`);
    return { status };
  },
  // A non-streaming generation whose client leaves after 50 ms (a raw socket destroyed: an
  // aborted fetch may never settle under a busy event loop).
  async abandoned(url, i) {
    const body = JSON.stringify({ model, prompt: `Abandoned ${i}`, stream: false, options: { num_predict: 400 } });
    const status = await raw_exchange(url, "POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, {
      feed: (sock, finished) => setTimeout(() => { if (!finished()) sock.destroy(); }, 50),
      limit_ms: 10000,
    });
    return { status: status === 0 ? 499 : status };  // 0: we left first, as intended
  },
  // The other model, unloaded right after (keep_alive 0): the next request loads it again.
  async switch_model(url, i) {
    const res = await fetch(`${url}/api/generate`, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: ollama_model, prompt: `Tale ${i}`, stream: false, keep_alive: 0,
                             options: { num_predict: 4 } }) });
    const body = await res.text();
    if (res.status === 200 && !JSON.parse(body).done) throw new Error(`switch: bad answer ${body.slice(0, 200)}`);
    return { status: res.status, body, tokens: res.status === 200 ? JSON.parse(body).eval_count : 0 };
  },
  // A web page of another site trying to copy and delete models: 403, the store untouched.
  async cross_site(url, i) {
    const copy = await fetch(`${url}/api/copy`, { method: "POST", headers: { "Content-Type": "text/plain", Origin: "http://evil.example" },
      body: JSON.stringify({ source: model, destination: `stolen-${i}` }) });
    const del = await fetch(`${url}/api/delete`, { method: "DELETE", headers: { "Content-Type": "text/plain", Origin: "http://evil.example" },
      body: JSON.stringify({ model }) });
    await copy.text();
    await del.text();
    if (copy.status !== 403 || del.status !== 403) throw new Error(`cross-site copy ${copy.status}, delete ${del.status}`);
    return { status: 403 };
  },
};
Object.assign(kinds, hostile);
// The deliberate answers of each hostile kind (besides 503/429, which any kind may get).
const deliberate = { slowloris: [0, 408, 431], oversized: [413], chunked: [413, 0], abandoned: [499, 200],
                     switch_model: [200], cross_site: [403] };
const mix = ["openai_stream", "ollama_stream", "tags", "openai_stream", "ollama_chat", "ollama_stream", "ps",
             "abandoned", "openai_stream", "switch_model", "ollama_stream", "oversized", "ollama_chat", "chunked",
             "openai_stream", "cross_site", "ollama_stream", "tags"];
// Slowloris connections are few and fixed (they hold a connection for the whole head deadline).
const n_slow = Math.max(1, Math.floor(n_conn / 16));

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
}

function summarize(stats, rss, elapsed_s) {
  const all = Object.values(stats.by_kind).flatMap((k) => k.lat).sort((a, b) => a - b);
  const rows = [["kind", "requests", "200", "503", "429", "4xx/closed", "other", "p50 ms", "p95 ms"]];
  for (const [name, k] of Object.entries(stats.by_kind)) {
    const lat = k.lat.slice().sort((a, b) => a - b);
    const meant = Object.entries(k.st).filter(([st]) => st !== "200" && st !== "503" && st !== "429")
      .reduce((a, [, n]) => a + n, 0);
    rows.push([name, k.n, k.st[200] ?? 0, k.st[503] ?? 0, k.st[429] ?? 0, meant, k.other,
               percentile(lat, 0.5).toFixed(1), percentile(lat, 0.95).toFixed(1)]);
  }
  const tot = (s) => Object.values(stats.by_kind).reduce((a, k) => a + (s === "other" ? k.other : k.st[s] ?? 0), 0);
  rows.push(["all", stats.requests, tot(200), tot(503), tot(429), "", tot("other"), percentile(all, 0.5).toFixed(1),
             percentile(all, 0.95).toFixed(1)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  const table = rows.map((r) => r.map((v, c) => String(v).padStart(widths[c])).join("  ")).join("\n");
  const mib = (k) => (k / 1024).toFixed(1);
  const kib = rss.map((s) => s.kib);
  return `pocketlm serve load test: ${n_conn} connections (${n_slow} slowloris), ${elapsed_s.toFixed(1)} s, ` +
    `--parallel 2 --queue 4, ${model} and ${ollama_model}\n` +
    `${table}\n` +
    `tokens generated: ${stats.tokens} (${(stats.tokens / elapsed_s).toFixed(1)} tokens/s), ` +
    `requests/s: ${(stats.requests / elapsed_s).toFixed(1)}, transport errors: ${stats.transport}, ` +
    `retried after the server closed an idle connection: ${stats.reconnects}\n` +
    `server RSS MiB: start ${mib(kib[0] ?? 0)}, end ${mib(kib.at(-1) ?? 0)}, peak ${mib(Math.max(0, ...kib))}\n`;
}

// One connection's loop: requests in the mix order until the deadline or the global count bound.
async function connection(c, url, deadline, stats) {
  for (let i = c; Date.now() < deadline && stats.requests < max_requests; i += n_conn) {
    const name = c < n_slow ? "slowloris" : mix[i % mix.length];
    const k = stats.by_kind[name];
    const t0 = performance.now();
    let r;
    try {
      // The server may close an idle keep-alive connection to make room for a new one (its pool
      // is full of slowloris heads and our own sockets) just as the client reuses it: HTTP/1.1
      // allows that, and clients retry (the openai client twice); this one retries up to 3 times.
      for (let attempt = 0; ; ++attempt) {
        try {
          r = await kinds[name](url, i);
          break;
        } catch (e) {
          if (e.cause?.code !== "UND_ERR_SOCKET" || attempt === 3) throw e;
          stats.reconnects++;
        }
      }
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
    if (r.status === 200) stats.tokens += r.tokens ?? 0;
    else if (r.status === 503 || r.status === 429) await sleep(20);  // a deliberate refusal: back off a little
    else if (!(deliberate[name] ?? []).includes(r.status)) {
      k.other++;
      stats.failures.push(`${name}: HTTP ${r.status} ${String(r.body).slice(0, 200)}`);
    }
  }
}

test(`load: ${n_conn} connections for ${seconds} s, only 200 and deliberate 4xx/503, no RSS growth, stores unchanged`, async () => {
  const stats = { requests: 0, tokens: 0, transport: 0, reconnects: 0, failures: [], by_kind: {} };
  for (const name of new Set([...mix, "slowloris"])) stats.by_kind[name] = { n: 0, st: {}, other: 0, lat: [] };
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
  for (const name of Object.keys(kinds).filter((n) => !(n in hostile) || n === "switch_model")) {
    assert.ok((stats.by_kind[name].st[200] ?? 0) > 0, `no 200 for ${name}`);
  }
  for (const name of Object.keys(hostile)) assert.ok(stats.by_kind[name].n > 0, `no ${name} request was made`);
  assert.deepEqual(snapshot(store_dirs()), stores_before, "a store changed under load");
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
