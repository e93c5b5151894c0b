// `pocketlm quantize` output is a valid GGUF for llama.cpp: every target type loads there, the weights
// really are in the requested type, and llama.cpp's logits on the file match pocketlm's within 3%.
// Sources: a generated f32 qwen2-tiny, and stories260K whose 64-wide rows are too short for k-quant
// blocks and whose 172-wide FFN rows fit no 32-block, so quantize must pick fallbacks llama.cpp accepts.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { open_reference } from "./llama_ref.mjs";
import {
  env, generated_model, pocketlm_eval, pocketlm_quantize, random_prompt, compare_logits, record,
  print_report, assert_within, model_info, scratch_dir,
} from "./harness.mjs";

// Quantize type -> the ggml type of a 256-wide attention projection (attn_q) in the output.
const quant_types = {
  q8_0: "Q8_0", q4_0: "Q4_0", q4_1: "Q4_1", q5_0: "Q5_0", q5_1: "Q5_1",
  q4_k_m: "Q4_K", q5_k_m: "Q5_K", q6_k: "Q6_K",
};
const unquantized = new Set(["F32", "F16", "BF16"]);
const n = 100;

let ref;
let out_dir;
before(async () => {
  ref = await open_reference({ threads: env.ref_threads, node_modules_dir: env.node_modules });
  out_dir = scratch_dir("quantize");
});
after(async () => {
  await ref?.close();
  if (out_dir) fs.rmSync(out_dir, { recursive: true, force: true });
  print_report("quantize.test.mjs: pocketlm quantize outputs in llama.cpp");
});

async function check_quantized(t, label, source, type, check_types) {
  const out = path.join(out_dir, `${label}.gguf`);
  await pocketlm_quantize(source, out, type);
  const info = await model_info(out);
  check_types(info.tensor_types);
  assert.ok(fs.statSync(out).size < fs.statSync(source).size, "quantized file is smaller than its f32 source");
  const tokens = await random_prompt(out, n, 4, await ref.bos(out));
  const want = await ref.logits(out, tokens);
  const c = compare_logits((await pocketlm_eval(out, tokens)).logits, want);
  record(t, `${label} n=${n}`, c);
  assert_within(c, 3, label);
}

describe("quantize generated f32 qwen2-tiny", () => {
  for (const [type, ggml] of Object.entries(quant_types)) {
    test(`qwen2-tiny f32 -> ${type}`, async (t) => {
      const source = await generated_model({ preset: "qwen2-tiny", type: "f32" });
      await check_quantized(t, `qwen2-tiny-${type}`, source, type, (types) => {
        assert.equal(types.get("blk.0.attn_q.weight"), ggml, "blk.0.attn_q.weight type");
      });
    });
  }
});

describe("quantize stories260K (rows of 64 and 172)", () => {
  const stories = () => path.join(env.shared_dir, "models", "stories260K.gguf");
  for (const type of Object.keys(quant_types)) {
    test(`stories260K -> ${type}`, async (t) => {
      await check_quantized(t, `stories260K-${type}`, stories(), type, (types) => {
        const q = [...types].filter(([name, ty]) => name.startsWith("blk.") && !unquantized.has(ty));
        assert.ok(q.length > 0, `some block weights are quantized: ${JSON.stringify([...types])}`);
        // 64-wide rows hold whole 32-blocks, so the non-k types apply to attn_q unchanged.
        if (!type.includes("_k")) {
          assert.equal(types.get("blk.0.attn_q.weight"), quant_types[type], "blk.0.attn_q.weight type");
        }
      });
    });
  }
});
