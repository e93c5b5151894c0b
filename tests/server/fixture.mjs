// The shared setup of the client suites: a temp store holding
//   stories:260k       stories260K.gguf (trained, SentencePiece vocab, no chat template)
//   qwen2-tiny:latest  a pocketlm-gen-model qwen2-tiny (real Qwen vocab and chat template, random
//                      weights: gibberish, but greedy decoding is deterministic)
//   bert:tiny          a pocketlm-gen-model bert-tiny (an embedding model: WordPiece vocab,
//                      mean pooling); chat models get no embeddings
// and one `pocketlm serve` over it with --parallel 4 --ctx 512. With {registry: true} a local
// registry (tests/e2e/store/registry.mjs) serves stories260K as pulled:260k and the server's
// $POCKETLM_REGISTRY points at it.
import fs from "node:fs";
import path from "node:path";
import { env, stories_gguf, generated_model, make_store, make_temp_dir, start_server, start_registry } from "./lib.mjs";

export const names = { stories: "stories:260k", qwen: "qwen2-tiny:latest", bert: "bert:tiny", pulled: "pulled:260k" };
export const ctx = 512;
export const parallel = 4;

// stories260K's hyperparameters (llama2.c "stories260K": dim 64, 5 layers, 8 heads, vocab 512).
export const stories_n_embd = 64;
// qwen2-tiny's (tools/gen_model/presets.cpp).
export const qwen_n_embd = 256;
export const bert_n_embd = 128;

export async function setup_fixture({ registry = false, server_args = [] } = {}) {
  const root = make_temp_dir("server-test");
  const qwen_file = await generated_model("qwen2-tiny");
  const bert_file = await generated_model("bert-tiny");
  await make_store(root, [{ file: stories_gguf(), name: names.stories }, { file: qwen_file, name: names.qwen },
                          { file: bert_file, name: names.bert }]);
  let reg = null;
  const extra_env = {};
  if (registry) {
    reg = await start_registry(root, "registry.ollama.ai/library/pulled/260k", stories_gguf());
    extra_env.POCKETLM_REGISTRY = reg.url;
  }
  const server = await start_server({
    root, args: ["--parallel", String(parallel), "--ctx", String(ctx), ...server_args], extra_env,
  });
  return {
    root, server, registry: reg, qwen_file, env,
    async stop() {
      const r = await server.stop();
      reg?.stop();
      fs.rmSync(root, { recursive: true, force: true });
      return r;
    },
  };
}

// Fails with the server's stderr when the server died during the suite (a crash is never OK).
export function assert_alive(fx) {
  if (fx.server.proc.exitCode !== null || fx.server.proc.signalCode !== null) {
    throw new Error(`server died (exit ${fx.server.proc.exitCode}, signal ${fx.server.proc.signalCode});` +
                    ` stderr:\n${fx.server.stderr()}`);
  }
}

export const store_path = (fx) => path.join(fx.root, "models");
