// Shared plumbing for the differential tests: environment, the cache of generated models, running
// `pocketlm eval` / `pocketlm quantize`, seeded prompts, and the logit comparison metric.
// The test files (*.test.mjs) hold the cases; llama_ref.mjs holds the llama.cpp side.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { argmax } from "./llama_ref.mjs";

const run_file = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

function required_env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (the ctest entry sets it; see tests/diff/CMakeLists.txt)`);
  return v;
}

// Paths come from ctest (tests/diff/CMakeLists.txt); POCKETLM_THREADS defaults to the 2 cores we
// budget the suite for. llama.cpp gets one thread: its spinning thread pool slows down a hundredfold
// when the cores are shared with other work, and it is fast enough alone.
export const env = {
  bin: required_env("POCKETLM_BIN"),
  gen_model: required_env("POCKETLM_GEN_MODEL"),
  model_dir: required_env("POCKETLM_MODEL_DIR"),
  shared_dir: required_env("POCKETLM_SHARED_DIR"),
  node_modules: process.env.POCKETLM_NODE_MODULES ?? path.resolve(here, "../../node_modules"),
  threads: Number.parseInt(process.env.POCKETLM_THREADS ?? "2", 10),
  ref_threads: Number.parseInt(process.env.POCKETLM_REF_THREADS ?? "1", 10),
};

async function gguf_module() {
  const require = createRequire(path.join(env.node_modules, "noop.js"));
  return import(require.resolve("node-llama-cpp"));
}

// Generated models are kept in env.model_dir between runs, keyed by their generator options. A hash
// of the generator binary guards the cache: a changed generator (or quantizer linked into it) empties
// it, while a relink that produces the same binary keeps the slow-to-make deep models.
function check_generator_stamp() {
  fs.mkdirSync(env.model_dir, { recursive: true });
  const stamp = createHash("sha256").update(fs.readFileSync(env.gen_model)).digest("hex");
  const stamp_file = path.join(env.model_dir, "generator.stamp");
  const old = fs.existsSync(stamp_file) ? fs.readFileSync(stamp_file, "utf8") : "";
  if (old === stamp) return;
  for (const f of fs.readdirSync(env.model_dir)) {
    if (f.endsWith(".gguf")) fs.rmSync(path.join(env.model_dir, f));
  }
  fs.writeFileSync(stamp_file, stamp);
}

let stamp_checked = false;

// Returns the path of a generated model, generating it on first use. `spec`: {preset, type, seed,
// n_layer?, qk_std?, pooling? (encoders' pooling type)}.
export async function generated_model(spec) {
  if (!stamp_checked) {
    check_generator_stamp();
    stamp_checked = true;
  }
  const { preset, type, seed = 1, n_layer, qk_std, pooling } = spec;
  const key = [preset, type, `s${seed}`, n_layer ? `L${n_layer}` : "", qk_std ? `qk${qk_std}` : "",
    pooling !== undefined ? `pool${pooling}` : ""].filter(Boolean).join("-");
  const out = path.join(env.model_dir, `${key}.gguf`);
  if (fs.existsSync(out)) return out;
  const args = ["--preset", preset, "--type", type, "-o", `${out}.part`, "--seed", String(seed)];
  if (n_layer) args.push("--n-layer", String(n_layer));
  if (qk_std) args.push("--qk-std", String(qk_std));
  if (pooling !== undefined) args.push("--pooling", String(pooling));
  await run_file(env.gen_model, args, { timeout: 900_000, maxBuffer: 1 << 24 });
  fs.renameSync(`${out}.part`, out);
  return out;
}

export function scratch_dir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pocketlm-diff-${tag}-`));
}

const scratch = scratch_dir("logits");
process.on("exit", () => fs.rmSync(scratch, { recursive: true, force: true }));
let scratch_seq = 0;

// Runs `pocketlm eval` and returns {json, logits} where logits is a Float32Array of
// (rows x n_vocab) values: one row, or one per prompt position with opts.all.
export async function pocketlm_eval(model, tokens, opts = {}) {
  const logits_file = path.join(scratch, `l${scratch_seq++}.bin`);
  const ctx = Math.max(64, tokens.length + (opts.generate ?? 0));
  const args = ["eval", "-m", model, "--tokens", tokens.join(","), "--logits-out", logits_file,
    "-t", String(env.threads), "-c", String(ctx)];
  if (opts.all) args.push("--all");
  if (opts.decode) args.push("--decode");
  if (opts.generate) args.push("--generate", String(opts.generate));
  if (opts.rope) args.push("--rope-override", opts.rope);
  if (opts.window !== undefined) args.push("--window-override", String(opts.window));
  if (opts.softcap !== undefined) args.push("--softcap-override", String(opts.softcap));
  let stdout;
  try {
    ({ stdout } = await run_file(env.bin, args, { timeout: 600_000, maxBuffer: 1 << 26 }));
  } catch (e) {
    throw new Error(`pocketlm ${args.join(" ")} failed: ${e.stderr || e.message}`);
  }
  const json = JSON.parse(stdout.trim());
  const buf = fs.readFileSync(logits_file);
  fs.rmSync(logits_file);
  const logits = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  return { json, logits: Float32Array.from(logits) };
}

export async function pocketlm_quantize(input, output, type) {
  try {
    await run_file(env.bin, ["quantize", input, output, type], { timeout: 600_000, maxBuffer: 1 << 24 });
  } catch (e) {
    throw new Error(`pocketlm quantize ${type} failed: ${e.stderr || e.message}`);
  }
}

// Metadata the prompts need: which ids are ordinary tokens (tokenizer.ggml.token_type == 1, or all
// ids when the file has no types) and the tensors' types. Cached per path.
const info_cache = new Map();

export async function model_info(model) {
  if (info_cache.has(model)) return info_cache.get(model);
  const { readGgufFileInfo, GgmlType } = await gguf_module();
  const info = await readGgufFileInfo(model, { logWarnings: false });
  const tok = info.metadata.tokenizer?.ggml ?? {};
  const n_vocab = tok.tokens?.length ?? 0;
  const types = tok.token_type;
  const normal = [];
  for (let i = 0; i < n_vocab; i++) if (!types || types[i] === 1) normal.push(i);
  const tensor_types = new Map(info.tensorInfo.map((t) => [t.name, GgmlType[t.ggmlType]]));
  const result = {
    n_vocab, normal, tensor_types,
    train_ctx: info.architectureMetadata?.context_length,
  };
  info_cache.set(model, result);
  return result;
}

// Deterministic 32-bit generator (mulberry32) so prompts are the same on every run.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// n ids drawn from the model's ordinary tokens; the first is BOS when llama.cpp would prepend one.
export async function random_prompt(model, n, seed, bos) {
  const { normal } = await model_info(model);
  if (normal.length === 0) throw new Error(`${model}: no ordinary tokens`);
  const next = rng(seed * 7919 + n);
  const out = [];
  if (bos !== null && bos !== undefined) out.push(bos);
  while (out.length < n) out.push(normal[Math.floor(next() * normal.length)]);
  return out;
}

// Compares one row of logits. pct: max |ours - ref| as a percentage of ref's range (max - min).
// argmax_ok: same argmax, or ref's top two are closer than the measured difference (then either
// order is within the error we allow).
export function compare_logits(ours, ref) {
  if (ours.length !== ref.length) {
    return { pct: Infinity, note: `length ${ours.length} != ${ref.length}`, argmax_ok: false };
  }
  let max_diff = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i] - ref[i]);
    max_diff = Number.isNaN(d) ? Infinity : Math.max(max_diff, d);
    lo = Math.min(lo, ref[i]);
    hi = Math.max(hi, ref[i]);
  }
  const ref_arg = argmax(ref);
  const our_arg = argmax(ours);
  let second = -Infinity;
  for (let i = 0; i < ref.length; i++) if (i !== ref_arg) second = Math.max(second, ref[i]);
  const gap = ref[ref_arg] - second;
  const pct = (100 * max_diff) / (hi - lo);
  return {
    pct, max_diff, range: hi - lo, ref_arg, our_arg, gap,
    argmax_ok: ref_arg === our_arg || gap <= max_diff,
  };
}

// Every position of `tokens` evaluated in one batch and one token at a time; returns the
// comparison of the position where the two differ most, with its index p.
export async function worst_prefill_vs_decode(model, tokens) {
  const n = tokens.length;
  const batched = (await pocketlm_eval(model, tokens, { all: true })).logits;
  const decoded = (await pocketlm_eval(model, tokens, { all: true, decode: true })).logits;
  if (batched.length % n !== 0) throw new Error("--all wrote a partial row of logits");
  if (decoded.length !== batched.length) throw new Error("decode wrote another number of logits than prefill");
  const vocab = batched.length / n;
  let worst = null;
  for (let p = 0; p < n; p++) {
    const row = (a) => a.subarray(p * vocab, (p + 1) * vocab);
    const c = compare_logits(row(decoded), row(batched));
    if (!worst || !(c.pct <= worst.pct)) worst = { ...c, p };
  }
  return worst;
}

export function describe_cmp(c) {
  if (c.note) return c.note;
  return `diff ${c.pct.toFixed(3)}% of range ${c.range.toFixed(3)} (max abs ${c.max_diff.toExponential(3)}),` +
    ` argmax ours ${c.our_arg} ref ${c.ref_arg} (ref top-2 gap ${c.gap.toFixed(4)})`;
}

// Results table printed once per file so a run's log shows every measured number in one place.
export const report = [];

export function record(t, label, c) {
  const line = `${label}: ${describe_cmp(c)}`;
  report.push(line);
  t.diagnostic(line);
}

export function print_report(title) {
  process.stdout.write(`\n== ${title} ==\n${report.join("\n")}\n`);
}

export function assert_within(c, bound, label) {
  if (!(c.pct <= bound)) throw new Error(`${label}: ${describe_cmp(c)} exceeds the ${bound}% bound`);
  if (!c.argmax_ok) throw new Error(`${label}: argmax differs: ${describe_cmp(c)}`);
}
