// What a grammar costs per generated token, pocketlm beside llama.cpp (node-llama-cpp's build of
// llama.cpp and its grammar sampler), on the same file, same threads, same schema and the same
// GBNF text (pocketlm's compilation of the schema, which both engines parse): decode ms per
// token with the grammar and without, and the overhead as a share of plain decoding.
//
//   node bench/grammar_overhead.mjs [--build build] [--threads 2] [--tokens 128] [--runs 5]
//
// The model is the Qwen2.5-0.5B-shaped Q4_0 file pocketlm-gen-model makes (random weights: the
// grammar, not the model, decides most tokens, which is the expensive case for a mask). Both
// sides sample the same way (top-k, top-p, temperature, no penalties) and check the sampled token
// before masking (llama.cpp's sampler does too); a token's time runs from one generated token to
// the next, prompt evaluation excluded. Pairs (plain, grammar) run back to back, interleaved
// between engines, and the table gives medians with their range: on a machine shared with other
// work the ranges say how far to trust a row (llama.cpp's spinning barriers suffer most when the
// cores are oversubscribed). pocketlm also times its grammar work inside the loop (--verbose),
// which the last line reports. Not a test: timings vary with the machine; the note carries the table.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const build = path.resolve(arg("build", path.join(root, "build")));
const threads = Number(arg("threads", "2"));
const n_tokens = Number(arg("tokens", "128"));
const runs = Number(arg("runs", "5"));
const pocketlm = path.join(build, "src/cli/pocketlm");
const gen_model = path.join(build, "bin/pocketlm-gen-model");
const grammar_check = path.join(build, "bin/pocketlm-grammar-check");
const models_dir = process.env.MODELS_DIR ?? path.join(os.homedir(), ".cache/pocketlm-bench");

// Nested: an array of objects holding objects, enums, bounded integers and free strings.
const schema = {
  type: "object",
  properties: {
    title: { type: "string" },
    year: { type: "integer", minimum: 1900, maximum: 2100 },
    people: {
      type: "array",
      items: {
        type: "object",
        properties: {
          name: { type: "string" },
          role: { enum: ["author", "editor", "reviewer"] },
          address: {
            type: "object",
            properties: { city: { type: "string" }, zip: { type: "string", pattern: "^[0-9]{5}$" } },
            required: ["city", "zip"],
          },
        },
        required: ["name", "role", "address"],
      },
    },
    tags: { type: "array", items: { type: "string" } },
  },
  required: ["title", "year", "people", "tags"],
};

function model_file() {
  fs.mkdirSync(models_dir, { recursive: true });
  const f = path.join(models_dir, "qwen2.5-0.5b-q4_0.gguf");
  if (!fs.existsSync(f)) {
    console.error(`generating ${f}`);
    execFileSync(gen_model, ["--preset", "qwen2.5-0.5b", "--type", "q4_0", "-o", `${f}.tmp`], { stdio: "inherit" });
    fs.renameSync(`${f}.tmp`, f);
  }
  return f;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "grammar-bench-"));
const schema_file = path.join(work, "schema.json");
fs.writeFileSync(schema_file, JSON.stringify(schema));
const gbnf = execFileSync(grammar_check, ["--print-grammar", schema_file], { encoding: "utf8" });
const prompt = "Describe a book as JSON.";
// One sampler chain on both sides: top-k 40, top-p 0.95, temperature 1, no min-p, no penalties.
const sampling = { temperature: 1, top_k: 40, top_p: 0.95 };

// pocketlm: eval duration / eval count from --verbose (prompt evaluation excluded).
function pocketlm_run(file, seed, with_grammar) {
  const args = ["run", file, prompt, "-n", String(n_tokens), "--temp", String(sampling.temperature), "--top-k",
                String(sampling.top_k), "--top-p", String(sampling.top_p), "--min-p", "0", "--repeat-penalty", "1",
                "--seed", String(seed), "-t", String(threads), "--verbose", "--chat-template", "none"];
  if (with_grammar) args.push("--format", schema_file);
  const r = spawn_sync(pocketlm, args);
  const count = Number(/\neval count:\s+(\d+)/.exec(r.stderr)?.[1]);
  const ms = Number(/\neval duration:\s+([\d.]+)ms/.exec(r.stderr)?.[1]);
  if (!count || !ms) throw new Error(`pocketlm: no timings in\n${r.stderr}`);
  // The grammar's own share, timed inside the loop: far less noisy than the difference of two runs.
  const g = /\ngrammar:\s+(\d+) mask\(s\), (\d+) fast-path token\(s\), ([\d.]+)ms/.exec(r.stderr);
  const grammar = g ? { masks: Number(g[1]), fast: Number(g[2]), ms: Number(g[3]) } : null;
  if (with_grammar && !grammar) throw new Error(`pocketlm: no grammar counters in\n${r.stderr}`);
  return { count, ms_per_token: ms / count, text: r.stdout, grammar };
}

function spawn_sync(bin, args) {
  const r = spawnSync(bin, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
  return r;
}

// llama.cpp: the time between the first and the last generated token over their count.
async function llama_runs(file) {
  const { getLlama, LlamaCompletion } = await import(path.join(root, "node_modules/node-llama-cpp/dist/index.js"));
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error", maxThreads: threads });
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const grammar = await llama.createGrammar({ grammar: gbnf });
  const measure = async (seed, with_grammar) => {
    const context = await model.createContext({
      contextSize: 1024, threads: { ideal: threads, min: threads }, batchSize: 512,
    });
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
    const stamps = [];
    const text = await completion.generateCompletion(prompt, {
      maxTokens: n_tokens, temperature: sampling.temperature, topK: sampling.top_k, topP: sampling.top_p, minP: 0,
      repeatPenalty: false, seed, grammar: with_grammar ? grammar : undefined,
      onToken: (tokens) => { for (let i = 0; i < tokens.length; ++i) stamps.push(performance.now()); },
    });
    await context.dispose();
    if (stamps.length < 2) throw new Error("llama.cpp generated fewer than 2 tokens");
    return { count: stamps.length, ms_per_token: (stamps.at(-1) - stamps[0]) / (stamps.length - 1), text };
  };
  return measure;
}

const median = (xs) => {
  const sorted = xs.slice().sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const complete_json = (text) => {
  try {
    JSON.parse(text.trim());
    return true;
  } catch {
    return false;
  }
};

const file = model_file();
const llama_measure = await llama_runs(file);
const engines = {
  pocketlm: async (seed, with_grammar) => pocketlm_run(file, seed, with_grammar),
  "llama.cpp": llama_measure,
};
// One untimed run each: page in the file and warm the caches before anything counts.
for (const measure of Object.values(engines)) await measure(99, true);
const load_before = os.loadavg()[0];
const rows = {};
for (const who of Object.keys(engines)) rows[who] = { plain: [], grammar: [], overhead: [], tokens: [], complete: 0 };
const pocketlm_grammar = { masks: 0, fast: 0, ms: 0, tokens: 0 };
for (let run = 0; run < runs; ++run) {
  const seed = 100 + run;
  // Interleaved, each engine's pair back to back with the order alternating, so a machine busy
  // with other work slows both sides of a pair alike; the overhead is the median of the pairs.
  for (const [who, measure] of Object.entries(engines)) {
    const plain_first = run % 2 === 0;
    const a = await measure(seed, !plain_first), b = await measure(seed, plain_first);
    const [plain, with_g] = plain_first ? [a, b] : [b, a];
    const r = rows[who];
    r.plain.push(plain.ms_per_token);
    r.grammar.push(with_g.ms_per_token);
    r.overhead.push(with_g.ms_per_token / plain.ms_per_token - 1);
    r.tokens.push(with_g.count);
    if (complete_json(with_g.text)) ++r.complete;
    if (with_g.grammar) {
      for (const k of ["masks", "fast", "ms"]) pocketlm_grammar[k] += with_g.grammar[k];
      pocketlm_grammar.tokens += with_g.count;
    }
  }
}
const range = (xs) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
const load_after = os.loadavg()[0];
console.log(`Qwen2.5-0.5B-shaped Q4_0 (random weights), -t ${threads}, up to ${n_tokens} tokens, ` +
            `top-k ${sampling.top_k}, top-p ${sampling.top_p}, temperature ${sampling.temperature}; ` +
            `median (range) of ${runs} interleaved runs; load average ${load_before.toFixed(1)} before, ` +
            `${load_after.toFixed(1)} after (${os.cpus().length} cores)`);
console.log("| engine | decode ms/token | with grammar ms/token | grammar overhead | tokens generated (grammar) " +
            "| complete JSON |");
console.log("|---|---|---|---|---|---|");
for (const [who, r] of Object.entries(rows)) {
  const overhead = r.overhead.map((x) => 100 * x);
  console.log(`| ${who} | ${median(r.plain).toFixed(2)} (${range(r.plain)}) ` +
              `| ${median(r.grammar).toFixed(2)} (${range(r.grammar)}) ` +
              `| ${median(overhead).toFixed(1)}% (${range(overhead)}) | ${r.tokens.join(", ")} ` +
              `| ${r.complete}/${runs} |`);
}
const g = pocketlm_grammar;
const g_ms_per_token = g.ms / g.tokens;
const g_share = (100 * g_ms_per_token) / median(rows.pocketlm.grammar);
console.log(`\npocketlm's grammar time inside the decode loop (check, mask, resample, advance): ` +
            `${g_ms_per_token.toFixed(3)} ms/token (${g_share.toFixed(2)}% of a token); ` +
            `${g.masks} masks, ${g.fast} fast-path tokens over ${runs} runs`);
fs.rmSync(work, { recursive: true, force: true });
