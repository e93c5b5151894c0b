// Inter-token latency of streaming clients while another client sends a long prompt (issue 13):
// `pocketlm serve --parallel 3` on one model; two clients stream generations; once both are
// streaming, a third sends a ~PROMPT_TOKENS-token prompt. Reports the streams' inter-token gaps
// (p50 / p99 / max) before and during the long prompt, the long prompt's time, and the total
// throughput (prompt + generated tokens per second of wall time). Loopback only.
//
//   node bench/latency.mjs BIN MODEL.gguf   (env: THREADS=2 PROMPT_TOKENS=2000 STREAM_TOKENS=200)
//
// BIN is a pocketlm binary (build/src/cli/pocketlm); run it against two builds to compare.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";

const [bin, model] = process.argv.slice(2);
if (!bin || !model) {
  console.error("usage: node bench/latency.mjs BIN MODEL.gguf");
  process.exit(2);
}
const threads = process.env.THREADS ?? "2";
const prompt_tokens = Number(process.env.PROMPT_TOKENS ?? 2000);
const stream_tokens = Number(process.env.STREAM_TOKENS ?? 200);
const root = fs.mkdtempSync(path.join(os.tmpdir(), "pocketlm-latency-"));
const env = { ...process.env, HOME: root, POCKETLM_MODELS: path.join(root, "models"), OLLAMA_MODELS: path.join(root, "none") };
execFileSync(bin, ["import", model, "bench"], { env, stdio: "ignore" });

const port = 20000 + Math.floor(Math.random() * 20000);
const server = spawn(bin, ["serve", "--port", String(port), "--parallel", "3", "-t", threads, "--ctx", "4096"],
                     { env, stdio: ["ignore", "ignore", "pipe"] });
await new Promise((resolve, reject) => {
  let err = "";
  server.stderr.on("data", (d) => { err += d; if (err.includes("listening on")) resolve(); });
  server.once("exit", () => reject(new Error(`server exited: ${err}`)));
});
const url = `http://127.0.0.1:${port}`;
const post = (p, body) => fetch(url + p, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
await (await post("/api/generate", { model: "bench", prompt: "hi", stream: false, options: { num_predict: 1 } })).text();

// A stream: timestamps of every token event.
async function stream(i, times) {
  const res = await post("/api/generate", { model: "bench", prompt: `Client ${i} says hello`, raw: true,
                                            options: { num_predict: stream_tokens, temperature: 0, seed: i } });
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      const ev = JSON.parse(line);
      if (!ev.done) times.push(performance.now());
      else return ev.eval_count;
    }
  }
  return times.length;
}

const words = "the quick brown fox jumps over a lazy dog while seven small birds sing in the old tree".split(" ");
const long_text = Array.from({ length: prompt_tokens }, (_, i) => words[i % words.length]).join(" ");
const times = [[], []];
const t0 = performance.now();
const streams = [stream(1, times[0]), stream(2, times[1])];
while (times[0].length < 10 || times[1].length < 10) await new Promise((r) => setTimeout(r, 10));
const long_start = performance.now();
const long = await (await post("/api/generate", { model: "bench", prompt: long_text, raw: true, stream: false,
                                                   options: { num_predict: 1 } })).json();
const long_end = performance.now();
const generated = await Promise.all(streams);
const wall_s = (performance.now() - t0) / 1000;
server.kill("SIGTERM");
fs.rmSync(root, { recursive: true, force: true });

// Gaps between consecutive tokens of a stream, as [start, end]; a gap belongs to the long prompt
// when it overlaps it.
const all_gaps = times.flatMap((ts) => ts.slice(1).map((t, k) => [ts[k], t]));
const during = (g) => g[1] > long_start && g[0] < long_end;
const gaps = (pick) => all_gaps.filter(pick).map(([a, b]) => b - a).sort((x, y) => x - y);
const pct = (a, p) => (a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] : NaN);
const row = (name, g) => `| ${name} | ${g.length} | ${pct(g, 0.5).toFixed(1)} | ${pct(g, 0.99).toFixed(1)} | ${(g.at(-1) ?? NaN).toFixed(1)} |`;
const total_tokens = generated.reduce((a, b) => a + b, 0) + long.prompt_eval_count;
console.log(`binary ${bin}, model ${path.basename(model)}, --parallel 3, ${threads} threads`);
console.log(`long prompt: ${long.prompt_eval_count} tokens in ${((long_end - long_start) / 1000).toFixed(2)} s`);
console.log("| stream gaps | n | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|");
console.log(row("outside the long prompt", gaps((g) => !during(g))));
console.log(row("during the long prompt", gaps(during)));
console.log(`throughput: ${total_tokens} tokens (prompt + generated) in ${wall_s.toFixed(2)} s = ${(total_tokens / wall_s).toFixed(1)} tokens/s`);
