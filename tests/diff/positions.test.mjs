// Position handling: RoPE variants and batched prefill vs token-by-token decode.
// The RoPE check uses shallow models with sharp attention (--qk-std 0.3), where the rotation decides
// which positions a query attends to; there the right variant must stay within 8% of llama.cpp's
// range and the wrong one (forced with --rope-override) must not, which shows the bound can catch a
// RoPE mistake that deep, blurry attention would hide.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { open_reference } from "./llama_ref.mjs";
import {
  env, generated_model, pocketlm_eval, random_prompt, compare_logits, record, print_report,
  assert_within, describe_cmp, worst_prefill_vs_decode,
} from "./harness.mjs";

// The variant each architecture uses in llama.cpp, and the one that is wrong for it.
const rope_of = {
  "llama3-tiny": { right: "normal", wrong: "neox" },
  "qwen2-tiny": { right: "neox", wrong: "normal" },
  "qwen3-tiny": { right: "neox", wrong: "normal" },
};
const rope_bound = 8;
const shallow = { n_layer: 1, qk_std: 0.3 };

let ref;
before(async () => { ref = await open_reference({ threads: env.ref_threads, node_modules_dir: env.node_modules }); });
after(async () => {
  await ref?.close();
  print_report("positions.test.mjs: RoPE and prefill vs decode");
});

describe(`RoPE on shallow sharp-attention models (bound ${rope_bound}%)`, () => {
  for (const [preset, rope] of Object.entries(rope_of)) {
    for (const type of ["f32", "q8_0"]) {
      for (const n of [8, 100]) {
        const label = `${preset} ${type} L1 qk0.3 n=${n}`;
        test(label, async (t) => {
          const model = await generated_model({ preset, type, ...shallow });
          const tokens = await random_prompt(model, n, 2, await ref.bos(model));
          const want = await ref.logits(model, tokens);
          const good = compare_logits((await pocketlm_eval(model, tokens)).logits, want);
          record(t, `${label} default rope`, good);
          assert_within(good, rope_bound, label);
          const forced = compare_logits((await pocketlm_eval(model, tokens, { rope: rope.right })).logits, want);
          record(t, `${label} --rope-override ${rope.right} (right)`, forced);
          assert_within(forced, rope_bound, `${label} with the right variant forced`);
          const bad = compare_logits((await pocketlm_eval(model, tokens, { rope: rope.wrong })).logits, want);
          record(t, `${label} --rope-override ${rope.wrong} (WRONG)`, bad);
          assert.ok(bad.pct > rope_bound,
            `wrong RoPE (${rope.wrong}) stays within ${rope_bound}%: ${describe_cmp(bad)}`);
        });
      }
    }
  }
});

// Every position of a 100-token prompt: one batch (--all) vs one token at a time (--decode --all).
describe("batched prefill vs token-by-token decode (bound 0.5% per position)", () => {
  const n = 100;
  for (const preset of Object.keys(rope_of)) {
    test(`${preset} q4_k_m n=${n}`, async (t) => {
      const model = await generated_model({ preset, type: "q4_k_m" });
      const tokens = await random_prompt(model, n, 3, await ref.bos(model));
      const worst = await worst_prefill_vs_decode(model, tokens);
      record(t, `${preset} q4_k_m n=${n} worst position ${worst.p}`, worst);
      assert_within(worst, 0.5, `${preset} prefill vs decode at position ${worst.p}`);
    });
  }
});
