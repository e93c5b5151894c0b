#!/usr/bin/env node
// Tokenizer throughput, pocketlm vs llama.cpp (node-llama-cpp, timing only model.tokenize),
// on a ~1 MB mixed-language text built deterministically from the golden corpus.
// usage: node bench/tokenize_bench.mjs MODEL.gguf BENCH_BINARY [runs]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama } from "node-llama-cpp";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [modelPath, benchBin, runsArg] = process.argv.slice(2);
if (!modelPath || !benchBin) {
  console.error("usage: node bench/tokenize_bench.mjs MODEL.gguf BENCH_BINARY [runs]");
  process.exit(2);
}
const runs = Number(runsArg ?? 3);

// Valid-UTF-8 lines of the golden corpus, repeated to ~1 MB.
const lines = fs.readFileSync(path.join(root, "tests/golden/tokenizer/qwen3.inp"), "utf8").split("\n")
  .map((h) => Buffer.from(h, "hex"))
  .filter((b) => { try { new TextDecoder("utf-8", { fatal: true }).decode(b); return b.length > 0; } catch { return false; } })
  .map((b) => b.toString("utf8"));
let text = "";
for (let i = 0; text.length < 1_000_000 / 1.3; i++) text += lines[i % lines.length] + "\n";
const textFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tokbench-")), "text.txt");
fs.writeFileSync(textFile, text);
const bytes = Buffer.byteLength(text);

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath, vocabOnly: true });
let best = Infinity, nTokens = 0;
for (let r = 0; r < runs; r++) {
  const t0 = process.hrtime.bigint();
  nTokens = model.tokenize(text, true).length;
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
}
const ours = JSON.parse(execFileSync(benchBin, [modelPath, textFile, String(runs)], { encoding: "utf8" }));
console.log(`text: ${bytes} bytes`);
console.log(`llama.cpp: ${nTokens} tokens in ${best.toFixed(4)} s = ${(bytes / best / 1e6).toFixed(2)} MB/s`);
console.log(`pocketlm:  ${ours.tokens} tokens in ${ours.seconds.toFixed(4)} s = ${ours.mb_per_s.toFixed(2)} MB/s`);
if (ours.tokens !== nTokens) console.log("WARNING: token counts differ");
await model.dispose();
