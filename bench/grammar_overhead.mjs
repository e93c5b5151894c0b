// What a grammar costs per generated token, pocketlm beside llama.cpp (node-llama-cpp's build of
// llama.cpp and its grammar sampler), on the same file, same threads, same schema and the same
// GBNF text (pocketlm's compilation of the schema, which both engines parse): decode ms per
// token with the grammar and without, and the overhead as a share of plain decoding.
//
//   node bench/grammar_overhead.mjs [--build build] [--threads 2] [--tokens 128] [--runs 3]
//
// The model is the Qwen2.5-0.5B-shaped Q4_0 file pocketlm-gen-model makes (random weights: the
// grammar, not the model, decides most tokens, which is the expensive case for a mask). Not a
// test: timings vary with the machine; the note carries the table.
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
const runs = Number(arg("runs", "3"));
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
const gbnf = execFileSync(grammar_check, ["--print-gbnf", schema_file], { encoding: "utf8" });
const prompt = "Describe a book as JSON.";

// pocketlm: eval duration / eval count from --verbose (prompt evaluation excluded).
function pocketlm_run(file, seed, with_grammar) {
  const args = ["run", file, prompt, "-n", String(n_tokens), "--temp", "1", "--seed", String(seed), "-t",
                String(threads), "--verbose", "--chat-template", "none"];
  if (with_grammar) args.push("--format", schema_file);
  const r = spawn_sync(pocketlm, args);
  const count = Number(/\neval count:\s+(\d+)/.exec(r.stderr)?.[1]);
  const ms = Number(/\neval duration:\s+([\d.]+)ms/.exec(r.stderr)?.[1]);
  if (!count || !ms) throw new Error(`pocketlm: no timings in\n${r.stderr}`);
  return { count, ms_per_token: ms / count, text: r.stdout };
}

function spawn_sync(bin, args) {
  const r = spawnSync(bin, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
  return r;
}

// llama.cpp: the time between the first and the last generated token over their count.
async function llama_runs(file) {
  const { getLlama, LlamaCompletion } = await import(path.join(root, "node_modules/node-llama-cpp/dist/index.js"));
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const grammar = await llama.createGrammar({ grammar: gbnf });
  const measure = async (seed, with_grammar) => {
    const context = await model.createContext({ contextSize: 1024, threads, batchSize: 512 });
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
    const stamps = [];
    const text = await completion.generateCompletion(prompt, {
      maxTokens: n_tokens, temperature: 1, seed, grammar: with_grammar ? grammar : undefined,
      onToken: (tokens) => { for (let i = 0; i < tokens.length; ++i) stamps.push(performance.now()); },
    });
    await context.dispose();
    if (stamps.length < 2) throw new Error("llama.cpp generated fewer than 2 tokens");
    return { count: stamps.length, ms_per_token: (stamps.at(-1) - stamps[0]) / (stamps.length - 1), text };
  };
  return measure;
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const file = model_file();
const llama_measure = await llama_runs(file);
const rows = { pocketlm: { plain: [], grammar: [], tokens: [] }, "llama.cpp": { plain: [], grammar: [], tokens: [] } };
for (let run = 0; run < runs; ++run) {
  const seed = 100 + run;
  // Interleaved, so a busy machine slows both alike.
  const p0 = pocketlm_run(file, seed, false), p1 = pocketlm_run(file, seed, true);
  const l0 = await llama_measure(seed, false), l1 = await llama_measure(seed, true);
  rows.pocketlm.plain.push(p0.ms_per_token);
  rows.pocketlm.grammar.push(p1.ms_per_token);
  rows.pocketlm.tokens.push(p1.count);
  rows["llama.cpp"].plain.push(l0.ms_per_token);
  rows["llama.cpp"].grammar.push(l1.ms_per_token);
  rows["llama.cpp"].tokens.push(l1.count);
  for (const [who, out] of [["pocketlm", p1.text], ["llama.cpp", l1.text]]) {
    try {
      JSON.parse(out.trim());
    } catch {
      console.error(`${who} seed ${seed}: output is not complete JSON within ${n_tokens} tokens (${out.length} bytes)`);
    }
  }
}
console.log(`Qwen2.5-0.5B-shaped Q4_0, -t ${threads}, ${n_tokens} tokens, temperature 1, median of ${runs} runs`);
console.log("| engine | decode ms/token | with grammar ms/token | grammar overhead | tokens generated (grammar) |");
console.log("|---|---|---|---|---|");
for (const [who, r] of Object.entries(rows)) {
  const plain = median(r.plain), with_g = median(r.grammar);
  console.log(`| ${who} | ${plain.toFixed(2)} | ${with_g.toFixed(2)} | ${(100 * (with_g / plain - 1)).toFixed(1)}% | ${r.tokens.join(", ")} |`);
}
fs.rmSync(work, { recursive: true, force: true });
