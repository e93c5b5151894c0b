// Differential tests of the families beyond llama/qwen (gemma2, gemma3, granite, smollm3, phi3, lfm2): last-position logits
// against llama.cpp's for each weight type and prompt length, greedy continuations, batched
// prefill against token-by-token decode, and positions proven on sharp attention.
// gemma3-tiny has a sliding window of 32 positions on five of its six layers, so prompts of 100
// and 600 tokens run far past it: a window applied wrongly (or not at all) moves the logits.
// gemma2-tiny alternates window (32) and global layers and soft-caps q.k at 50.
// lfm2-tiny convolves on four of its six layers: prefill against decode proves the convolution
// state carried from token to token (and from one prefill chunk to the next at 600 tokens).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { open_reference } from "./llama_ref.mjs";
import {
  env, generated_model, pocketlm_eval, random_prompt, compare_logits, record, print_report,
  assert_within, describe_cmp, worst_prefill_vs_decode,
} from "./harness.mjs";

const presets = ["gemma2-tiny", "gemma3-tiny", "granite-tiny", "smollm3-tiny", "phi3-tiny", "lfm2-tiny"];
const weight_types = ["f16", "q8_0", "q4_0", "q4_k_m"];
const prompt_lengths = [1, 8, 100, 600];
const bound = 3;

let ref;
before(async () => { ref = await open_reference({ threads: env.ref_threads, node_modules_dir: env.node_modules }); });
after(async () => {
  await ref?.close();
  print_report("families.test.mjs: gemma2, gemma3, granite, smollm3, phi3 and lfm2 against llama.cpp");
});

describe(`family x type x prompt length (bound ${bound}%)`, () => {
  for (const preset of presets) {
    for (const type of weight_types) {
      for (const n of prompt_lengths) {
        const label = `${preset} ${type} n=${n}`;
        test(label, async (t) => {
          const model = await generated_model({ preset, type });
          const tokens = await random_prompt(model, n, 11, await ref.bos(model));
          const c = compare_logits((await pocketlm_eval(model, tokens)).logits, await ref.logits(model, tokens));
          record(t, label, c);
          assert_within(c, bound, label);
        });
      }
    }
  }
});

// f16 weights: a random model's top two tokens are often close, and q8_0's activation rounding
// (0.5% of the range) would turn such a near-tie either way; f16 keeps both engines within 0.06%.
describe("greedy continuations of 64 tokens are token-identical", () => {
  for (const preset of presets) {
    test(`${preset} f16`, async (t) => {
      const model = await generated_model({ preset, type: "f16" });
      const prompt = await random_prompt(model, 40, 12, await ref.bos(model));
      const want = (await ref.greedy(model, prompt, 64)).generated;
      const got = (await pocketlm_eval(model, prompt, { generate: 64 })).json.generated;
      const first_diff = want.findIndex((id, i) => got?.[i] !== id);
      t.diagnostic(`llama.cpp: ${want.join(",")}`);
      t.diagnostic(`pocketlm:  ${got?.join(",")}`);
      assert.deepEqual(got, want, `first difference at step ${first_diff}`);
    });
  }
});

// Every position of a 100-token prompt (three windows of gemma3-tiny): one batch against one
// token at a time, the window masking the same positions either way. (A window layer keeps 32 +
// 512 cells, so the 600-token prompts above wrap its ring; tests/unit/model/window_test.cpp
// wraps small rings many times.)
describe("batched prefill vs token-by-token decode (bound 0.5% per position)", () => {
  const n = 100;
  for (const preset of presets) {
    test(`${preset} q4_k_m n=${n}`, async (t) => {
      const model = await generated_model({ preset, type: "q4_k_m" });
      const tokens = await random_prompt(model, n, 13, await ref.bos(model));
      const worst = await worst_prefill_vs_decode(model, tokens);
      record(t, `${preset} q4_k_m n=${n} worst position ${worst.p}`, worst);
      assert_within(worst, 0.5, `${preset} prefill vs decode at position ${worst.p}`);
    });
  }
});

// Sharp attention (--qk-std) makes positions decide the answer: the right RoPE variant stays
// within the bound, the wrong one (forced) does not. gemma3-tiny keeps all six layers so that
// both its window layers (base 10000) and its global layer (base 1e6, linear scaling 8) take
// part. Granite's multipliers shrink each residual branch (x 0.22) against embeddings scaled
// x 12, so attention moves its logits little even when sharp: its bound is tighter to match.
describe("RoPE on sharp-attention models", () => {
  const cases = [
    { preset: "gemma2-tiny", wrong: "normal", bound: 8, spec: { qk_std: 0.3 } },
    { preset: "gemma3-tiny", wrong: "normal", bound: 8, spec: { qk_std: 0.3 } },
    { preset: "granite-tiny", wrong: "neox", bound: 0.5, spec: { n_layer: 1, qk_std: 1.0 } },
    { preset: "smollm3-tiny", wrong: "neox", bound: 8, spec: { qk_std: 0.3 } },  // layer 3 has no RoPE
    { preset: "phi3-tiny", wrong: "normal", bound: 8, spec: { qk_std: 0.3 } },  // 48 of 64 dims, LongRoPE
    { preset: "lfm2-tiny", wrong: "normal", bound: 8, spec: { qk_std: 0.3 } },  // layers 2 and 4 attend
  ];
  for (const { preset, wrong, bound: b, spec } of cases) {
    test(`${preset} f32 qk${spec.qk_std} n=100 (bound ${b}%)`, async (t) => {
      const model = await generated_model({ preset, type: "f32", ...spec });
      const tokens = await random_prompt(model, 100, 14, await ref.bos(model));
      const want = await ref.logits(model, tokens);
      const good = compare_logits((await pocketlm_eval(model, tokens)).logits, want);
      record(t, `${preset} sharp default rope`, good);
      assert_within(good, b, `${preset} sharp attention`);
      const bad = compare_logits((await pocketlm_eval(model, tokens, { rope: wrong })).logits, want);
      record(t, `${preset} sharp --rope-override ${wrong} (WRONG)`, bad);
      assert.ok(bad.pct > b, `wrong RoPE (${wrong}) stays within ${b}%: ${describe_cmp(bad)}`);
    });
  }

  // Sharp enough that q.k reaches gemma2's cap of 50: without the cap the softmax goes far
  // sharper, and the logits move past the bound.
  test("gemma2-tiny f32 qk1.0 n=100: no attention soft-cap fails", async (t) => {
    const model = await generated_model({ preset: "gemma2-tiny", type: "f32", qk_std: 1.0 });
    const tokens = await random_prompt(model, 100, 14, await ref.bos(model));
    const want = await ref.logits(model, tokens);
    const good = compare_logits((await pocketlm_eval(model, tokens)).logits, want);
    record(t, "gemma2-tiny qk1.0 soft-capped", good);
    assert_within(good, 8, "gemma2-tiny qk1.0 soft-capped");
    const bad = compare_logits((await pocketlm_eval(model, tokens, { softcap: 0 })).logits, want);
    record(t, "gemma2-tiny qk1.0 --softcap-override 0 (WRONG)", bad);
    assert.ok(bad.pct > 8, `no soft-cap stays within 8%: ${describe_cmp(bad)}`);
  });

  // The window decides which positions the gemmas' window layers see: no window, or one twice
  // as wide, must not pass for the real one.
  for (const preset of ["gemma2-tiny", "gemma3-tiny"]) {
    test(`${preset} f32 qk0.3 n=100: a wrong window fails`, async (t) => {
      const model = await generated_model({ preset, type: "f32", qk_std: 0.3 });
      const tokens = await random_prompt(model, 100, 14, await ref.bos(model));
      const want = await ref.logits(model, tokens);
      for (const window of [0, 64]) {
        const bad = compare_logits((await pocketlm_eval(model, tokens, { window })).logits, want);
        record(t, `${preset} sharp --window-override ${window} (WRONG)`, bad);
        assert.ok(bad.pct > 8, `window ${window} instead of 32 stays within 8%: ${describe_cmp(bad)}`);
      }
    });
  }
});
