// Issue 12, the HTTP connection layer of `pocketlm serve` from outside, as a hostile web page, a
// slow or careless client would drive it (raw sockets where clients cannot misbehave enough):
// Origin and Host checks (row 6), slowloris and huge declared bodies (row 8), chunked bodies over
// the limit (row 2), serving on the network without a key (row 14) and RSS over large requests
// (row 16). Loopback only; every wait is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import { spawn } from "node:child_process";
import { env, make_store, make_temp_dir, start_server, stories_gguf, rss_kib, sleep, free_port, store_env } from "./lib.mjs";

const stories = "stories:260k";
let root;
let server;

before(async () => {
  root = make_temp_dir("hardening-http");
  await make_store(root, [{ file: stories_gguf(), name: stories }]);
  server = await start_server({ root, args: ["--parallel", "2", "--ctx", "512"] });
});
after(async () => {
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

// Writes `data` to a fresh socket and resolves {status, text, ms} once the server closes it (or
// after timeout_ms, with what arrived). `feed(socket)` may keep writing.
function exchange(data, { timeout_ms = 15000, feed } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(server.port, "127.0.0.1");
    let text = "";
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text, ms: Date.now() - t0 });
    };
    const timer = setTimeout(done, timeout_ms);
    s.on("data", (d) => { text += d; });
    s.on("close", done);
    s.on("error", () => {});  // a reset after the answer: the answer is what counts
    s.on("connect", () => {
      s.write(data);
      feed?.(s);
    });
  });
}

// A request through node's http client with arbitrary headers (fetch would add its own Origin).
function request(method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: server.port, method, path, headers, timeout: 15000 }, (res) => {
      let text = "";
      res.on("data", (d) => { text += d; });
      res.on("end", () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* left null */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(body);
  });
}

async function tag_names() {
  const r = await request("GET", "/api/tags");
  assert.equal(r.status, 200, r.text);
  return r.json.models.map((m) => m.name);
}

test("row 6: a text/plain POST to /api/copy from another site is 403 and copies nothing", async () => {
  const body = JSON.stringify({ source: stories, destination: "evil:copy" });
  const evil = await request("POST", "/api/copy", { headers: { Origin: "http://evil.example", "Content-Type": "text/plain" }, body });
  assert.equal(evil.status, 403, evil.text);
  assert.match(evil.json?.error ?? "", /origin 'http:\/\/evil\.example' is not allowed/);
  assert.equal(evil.headers["access-control-allow-origin"], undefined);
  assert.ok(!(await tag_names()).includes("evil:copy:latest") && !(await tag_names()).includes("evil:copy"));
  // The same request from a page on this machine works: the refusal above was the Origin's.
  const mine = await request("POST", "/api/copy", {
    headers: { Origin: "http://localhost:5173", "Content-Type": "text/plain" },
    body: JSON.stringify({ source: stories, destination: "mine:copy" }) });
  assert.equal(mine.status, 200, mine.text);
  assert.equal(mine.headers["access-control-allow-origin"], "http://localhost:5173");
  assert.ok((await tag_names()).includes("mine:copy"));
});

test("row 6: a CORS preflight from a loopback page is answered; from another site it is 403", async () => {
  const ask = (origin) => request("OPTIONS", "/v1/chat/completions", { headers: {
    Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,authorization" } });
  const ok = await ask("http://127.0.0.1:3000");
  assert.equal(ok.status, 204, ok.text);
  assert.equal(ok.headers["access-control-allow-origin"], "http://127.0.0.1:3000");
  assert.match(ok.headers["access-control-allow-methods"], /POST/);
  assert.equal(ok.headers["access-control-allow-headers"], "content-type,authorization");
  const bad = await ask("https://evil.example");
  assert.equal(bad.status, 403);
  assert.equal(bad.headers["access-control-allow-origin"], undefined);
});

test("row 6: a Host naming another site is 403 on loopback (DNS rebinding)", async () => {
  const get = (host) => exchange(`GET /api/tags HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  const rebound = await get(`rebind.evil.example:${server.port}`);
  assert.equal(rebound.status, 403, rebound.text);
  assert.match(rebound.text, /host 'rebind\.evil\.example:\d+' is not allowed/);
  for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`]) {
    assert.equal((await get(host)).status, 200, host);
  }
});

test("row 8: 70 slowloris connections do not starve a normal request", async () => {
  const slow = [];
  const drip = [];
  try {
    for (let i = 0; i < 70; ++i) {
      const s = net.connect(server.port, "127.0.0.1");
      s.on("error", () => {});
      s.write("POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      drip.push(setInterval(() => { if (!s.destroyed) s.write(`X-Drip-${i}: 1\r\n`); }, 1000));
      slow.push(s);
      await sleep(10);
    }
    await sleep(500);
    for (let i = 0; i < 3; ++i) {
      const t0 = Date.now();
      const r = await fetch(`${server.url}/api/tags`, { signal: AbortSignal.timeout(8000) });
      assert.equal(r.status, 200);
      await r.text();
      assert.ok(Date.now() - t0 < 5000, `a normal request took ${Date.now() - t0} ms behind slowloris`);
    }
  } finally {
    drip.forEach(clearInterval);
    slow.forEach((s) => s.destroy());
  }
});

test("row 8: Content-Length 99999999999 is 413 at once, without reading the body", async () => {
  const r = await exchange("POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                           "Content-Length: 99999999999\r\n\r\n{\"model\":");
  assert.equal(r.status, 413, r.text);
  assert.match(r.text, /request body too large \(limit 8 MiB, 8388608 bytes\)/);
  assert.ok(r.ms < 3000, `413 took ${r.ms} ms`);
});

test("row 8: a request head that never completes is answered 408 within the deadline (10 s)", async () => {
  const r = await exchange("GET /api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Never: ", { timeout_ms: 20000 });
  assert.equal(r.status, 408, r.text);
  assert.ok(r.ms >= 9000 && r.ms < 16000, `closed after ${r.ms} ms`);
});

test("row 2: a 40 MiB chunked body is 413 before it is buffered", async () => {
  const rss_before = rss_kib(server.pid);
  const chunk = "x".repeat(64 * 1024);
  const frame = `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
  let sent = 0;
  const r = await exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                           "Transfer-Encoding: chunked\r\n\r\n", {
    feed: (s) => {
      const pump = () => {
        while (sent < 40 * 1024 * 1024 && !s.destroyed) {
          sent += chunk.length;
          if (!s.write(frame)) return s.once("drain", pump);
        }
      };
      pump();
    },
  });
  assert.equal(r.status, 413, r.text.slice(0, 300));
  assert.match(r.text, /"message":"request body too large \(limit 8 MiB, 8388608 bytes\)"/);
  const grown = rss_kib(server.pid) - rss_before;
  assert.ok(grown < 64 * 1024, `RSS grew ${grown} KiB over a refused body`);
});

test("row 16: RSS stays flat over 15 large requests", async () => {
  // 2 MiB bodies of 60,000 small JSON objects, five at a time on different worker threads, each
  // parsed and refused by the model lookup. With one malloc arena per thread each worker kept
  // the pages of its parse: RSS grew by ~180 MiB here; with the arenas capped it stays within
  // a few tens of MiB of where it started.
  const big = JSON.stringify({ model: "no-such-model",
                               messages: Array.from({ length: 60000 }, (_, i) => ({ role: "user", content: `m${i}` })) });
  const start = rss_kib(server.pid);
  const samples = [];
  for (let round = 0; round < 3; ++round) {
    const rs = await Promise.all([0, 1, 2, 3, 4].map(() => fetch(`${server.url}/v1/chat/completions`, {
      method: "POST", body: big, headers: { "Content-Type": "application/json" }, signal: AbortSignal.timeout(20000) })));
    for (const r of rs) {
      assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
      await r.text();
    }
    samples.push(rss_kib(server.pid));
  }
  const grown = samples[samples.length - 1] - start;
  assert.ok(grown < 96 * 1024, `RSS grew ${grown} KiB over 15 requests of 2 MiB (start ${start}, samples ${samples})`);
});

test("row 14: a non-loopback --host without --api-key refuses to start; --insecure warns", async () => {
  const serve = (args) => new Promise((resolve) => {
    const p = spawn(env.bin, ["serve", ...args], { env: { ...process.env, ...store_env(root) }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (d) => { err += d; });
    const timer = setTimeout(() => p.kill("SIGKILL"), 15000);
    p.on("exit", (code) => { clearTimeout(timer); resolve({ code, err }); });
  });
  const refused = await serve(["--host", "0.0.0.0", "--port", String(await free_port())]);
  assert.equal(refused.code, 1, refused.err);
  assert.match(refused.err, /--host 0\.0\.0\.0 is reachable from other machines; give --api-key KEY/);
  assert.doesNotMatch(refused.err, /listening on/);
  // --insecure: the warning comes before the socket is bound; the port is taken on loopback, so
  // the wildcard bind fails and nothing is ever exposed.
  const taken = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => taken.once("listening", r));
  try {
    const warned = await serve(["--host", "0.0.0.0", "--port", String(taken.address().port), "--insecure"]);
    assert.match(warned.err, /warning: serving on 0\.0\.0\.0 without --api-key/);
    assert.doesNotMatch(warned.err, /listening on/);
  } finally {
    taken.close();
  }
});

test("row 14: an IPv6 host prints as http://[::1]:PORT and answers there", async (t) => {
  const probe = net.createServer();
  const has_v6 = await new Promise((r) => probe.once("error", () => r(false)).listen(0, "::1", () => probe.close(() => r(true))));
  if (!has_v6) return t.skip("no IPv6 loopback here");
  const port = await free_port();
  const p = spawn(env.bin, ["serve", "--host", "::1", "--port", String(port), "-t", env.threads],
                  { env: { ...process.env, ...store_env(root) }, stdio: ["ignore", "ignore", "pipe"] });
  try {
    let err = "";
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line: ${err}`)), 30000);
      p.stderr.on("data", (d) => {
        err += d;
        if (err.includes("listening on")) { clearTimeout(timer); resolve(); }
      });
    });
    assert.match(err, new RegExp(`listening on http://\\[::1\\]:${port}\\n`));
    const r = await fetch(`http://[::1]:${port}/api/version`, { signal: AbortSignal.timeout(10000) });
    assert.equal(r.status, 200);
  } finally {
    p.kill("SIGTERM");
  }
});
