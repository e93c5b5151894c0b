// llama.cpp reference for the differential tests, through node-llama-cpp's prebuilt CPU build.
// Used two ways:
//   - as a module: `const ref = await open_reference({threads})`, then `await ref.logits(model, tokens)`
//     (Float32Array over the full vocab, last position), `await ref.greedy(model, tokens, n)`
//     (ids of an argmax continuation), `await ref.embeddings(model, texts)` (embedding models'
//     pooled vectors) and `await ref.tokenize(model, text)`. One process serves many cases; the loaded model is kept until
//     a different path is asked for, since model load is cheap but process start is not.
//   - as a CLI, mirroring `pocketlm eval`'s output so the two can be compared by hand:
//       node llama_ref.mjs --model M --tokens 1,2,3 [--threads N] [--ctx N] [--logits-out FILE] [--generate N]
//     prints {"argmax", "top": [[id, logit] x10], "n_tokens", "generated"?} and writes the last
//     position's logits as little-endian float32 to FILE.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

// node-llama-cpp lives in the repository's node_modules; resolve it from there so this file works
// no matter which directory node is started from.
const here = path.dirname(fileURLToPath(import.meta.url));
const default_node_modules = path.resolve(here, "../../node_modules");

async function import_node_llama_cpp(node_modules_dir) {
  const require = createRequire(path.join(node_modules_dir, "noop.js"));
  const entry = require.resolve("node-llama-cpp");
  return import(entry);
}

// Greedy sampling (temperature 0) with every penalty off leaves llama.cpp's logits untouched, so the
// "logits" map node-llama-cpp returns is the raw last-position output.
const raw_options = { temperature: 0, repeatPenalty: false };

// context_options: extra createContext options (e.g. flashAttention, KV cache types) for experiments;
// the tests use llama.cpp's defaults.
export async function open_reference({
  threads = 1, node_modules_dir = default_node_modules, context_options = {},
} = {}) {
  const { getLlama } = await import_node_llama_cpp(node_modules_dir);
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
  let model = null;
  let model_path = null;
  let context = null;
  let context_size = 0;

  async function drop_context() {
    if (context) await context.dispose();
    context = null;
    context_size = 0;
  }

  async function use_model(p) {
    if (model_path === p) return;
    await drop_context();
    if (model) await model.dispose();
    model = await llama.loadModel({ modelPath: p, gpuLayers: 0 });
    model_path = p;
  }

  // A context at least `need` long (prompt + generation); batchSize covers the whole prompt so the
  // prompt is one llama_decode call, like pocketlm's batched prefill.
  async function sequence_for(need) {
    const size = Math.max(64, need);
    if (!context || context_size < size) {
      await drop_context();
      context = await model.createContext({
        contextSize: size, batchSize: size, threads, sequences: 1, ...context_options,
      });
      context_size = size;
    }
    return context.getSequence();
  }

  // The map covers the whole vocab (greedy sampling keeps every candidate); ids missing from it
  // would stay NaN and fail any comparison.
  function to_array(map) {
    let n = 0;
    for (const tok of map.keys()) n = Math.max(n, tok + 1);
    const out = new Float32Array(n).fill(Number.NaN);
    for (const [tok, v] of map) out[tok] = v;
    return out;
  }

  // Evaluates `tokens` from an empty cache and returns the last position's logits.
  async function eval_prompt(seq, tokens) {
    const items = tokens.map((t) => t);
    items[items.length - 1] = [tokens[tokens.length - 1],
      { generateNext: { logits: true, options: raw_options } }];
    const res = await seq.controlledEvaluate(items);
    const last = res[res.length - 1];
    if (!last?.next?.logits) throw new Error("llama.cpp returned no logits");
    return to_array(last.next.logits);
  }

  async function logits(p, tokens, { context_size: ctx } = {}) {
    if (tokens.length === 0) throw new Error("empty prompt");
    await use_model(p);
    const seq = await sequence_for(ctx ?? tokens.length);
    try {
      return await eval_prompt(seq, tokens);
    } finally {
      seq.dispose();
    }
  }

  // Greedy continuation: argmax of the raw logits at each step, one token evaluated at a time.
  async function greedy(p, tokens, n, { context_size: ctx } = {}) {
    await use_model(p);
    const seq = await sequence_for(ctx ?? tokens.length + n);
    const generated = [];
    try {
      let cur = await eval_prompt(seq, tokens);
      for (let i = 0; i < n; i++) {
        const next = argmax(cur);
        generated.push(next);
        if (i + 1 < n) cur = await eval_prompt(seq, [next]);
      }
      return { generated, last_logits: cur };
    } finally {
      seq.dispose();
    }
  }

  // Embedding models: node-llama-cpp's getEmbeddingFor, one pooled vector per text, not
  // normalised, of the tokens llama-embedding and llama-server embed (common_tokenize with
  // add_special and parse_special: "[SEP]" in a text is the SEP token) when encoded as
  // encoded_tokens says.
  async function embeddings(p, texts) {
    await use_model(p);
    const ectx = await model.createEmbeddingContext({ threads });
    try {
      const out = [];
      for (const t of texts) out.push(Array.from((await ectx.getEmbeddingFor(encoded_tokens(t))).vector));
      return out;
    } finally {
      await ectx.dispose();
    }
  }

  // llama_tokenize(text, add_special = true, parse_special = true) for a WordPiece (or other
  // BOS/EOS-adding) vocabulary: node-llama-cpp's tokenizer parses the special tokens, and the
  // BOS/CLS and SEP/EOS that llama.cpp's tokenizer adds go around them (getEmbeddingFor would
  // skip a BOS the text itself starts with).
  function encoded_tokens(text) {
    const ids = Array.from(model.tokenize(text, true));
    const { bos, sep, eos } = model.tokens;
    const end = sep ?? (model.tokens.shouldAppendEosToken ? eos : null);
    return [...(bos != null ? [bos] : []), ...ids, ...(end != null ? [end] : [])];
  }

  // llama.cpp's token ids of `text`: no special tokens added or parsed (model.tokenize(text)),
  // or as llama-embedding encodes it ({special: true}).
  async function tokenize(p, text, { special = false } = {}) {
    await use_model(p);
    return special ? encoded_tokens(text) : Array.from(model.tokenize(text));
  }

  async function close() {
    await drop_context();
    if (model) await model.dispose();
    model = null;
    model_path = null;
    await llama.dispose();
  }

  return {
    logits, greedy, embeddings, tokenize, close,
    // The BOS id llama.cpp prepends to prompts of this model, or null when it prepends none.
    bos: async (p) => {
      await use_model(p);
      return model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
    },
  };
}

// Index of the largest finite value; the first one wins ties, as in llama.cpp's greedy sampler.
export function argmax(values) {
  let best = -1;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i]) && (best < 0 || values[i] > values[best])) best = i;
  }
  return best;
}

export function top_k(values, k) {
  const idx = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) idx.push(i);
  idx.sort((a, b) => values[b] - values[a] || a - b);
  return idx.slice(0, k).map((i) => [i, values[i]]);
}

function parse_args(argv) {
  const args = { threads: 1, generate: 0 };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${key} needs a value`);
      return argv[++i];
    };
    if (key === "--model" || key === "-m") args.model = val();
    else if (key === "--tokens") args.tokens = val().split(",").map((s) => Number.parseInt(s, 10));
    else if (key === "--threads" || key === "-t") args.threads = Number.parseInt(val(), 10);
    else if (key === "--ctx" || key === "-c") args.ctx = Number.parseInt(val(), 10);
    else if (key === "--logits-out") args.logits_out = val();
    else if (key === "--generate") args.generate = Number.parseInt(val(), 10);
    else throw new Error(`unknown argument ${key}`);
  }
  if (!args.model || !args.tokens?.length || args.tokens.some((t) => !Number.isInteger(t))) {
    throw new Error("usage: llama_ref.mjs --model M --tokens 1,2,3 [--threads N] [--ctx N] " +
      "[--logits-out FILE] [--generate N]");
  }
  return args;
}

async function main(argv) {
  const args = parse_args(argv);
  const ref = await open_reference({ threads: args.threads });
  try {
    const opts = { context_size: args.ctx };
    const logits = await ref.logits(args.model, args.tokens, opts);
    const out = { argmax: argmax(logits), top: top_k(logits, 10), n_tokens: args.tokens.length };
    if (args.generate > 0) {
      out.generated = (await ref.greedy(args.model, args.tokens, args.generate, opts)).generated;
    }
    if (args.logits_out) fs.writeFileSync(args.logits_out, Buffer.from(logits.buffer));
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    await ref.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(1);
  });
}
