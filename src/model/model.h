// model/: owns a loaded transformer: hyper-parameters and weights read from a GGUF (shape-checked
// mmap views), the KV cache, and the forward pass of the llama, qwen2 and qwen3 architectures.
// Calls kernels/, tensor/ and gguf/; never the runtime, cli or server above it.
//
// State follows llama2.c: `hparams` (config), `model_weights` (views into the mmap) and
// `run_state` (activations and KV cache, allocated once per context, never per token).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/hparams.h"
#include "model/kv_cache.h"
#include "model/memory.h"
#include "model/weights.h"

namespace pocketlm {

struct model_options {
  int n_threads = 1;
  int64_t n_ctx = 0;      // 0: min(n_ctx_train, 4096)
  int64_t n_batch = 512;  // tokens per forward chunk (prefill is split into chunks of this size)
  kv_type kv = kv_type::f16;
  // RAM budget in bytes (0: unchecked). load() refuses what does not fit, or reduces the default
  // context (n_ctx == 0) to fit; see fit_context in model/memory.h. `budget_source` names where
  // the budget came from in messages ("--ram", "MemAvailable - reserve").
  uint64_t ram_budget = 0;
  std::string budget_source = "--ram";
  std::vector<int> cpus;  // when non-empty, every worker thread is pinned to these CPU ids
  // Test hook: force a RoPE variant to prove that position tests can fail.
  bool override_rope = false;
  kernels::rope_mode rope_override = kernels::rope_mode::normal;
};

// Activations for one forward chunk. Shapes in comments use n = n_batch.
struct run_state {
  std::vector<float> x;        // (n, n_embd) residual stream
  std::vector<float> xb;       // (n, n_embd) normed input of a sub-layer
  std::vector<float> q;        // (n, n_head * head_dim)
  std::vector<float> k;        // (n, n_head_kv * head_dim)
  std::vector<float> v;        // (n, n_head_kv * head_dim)
  std::vector<float> attn;     // (n, n_head * head_dim) attention output
  std::vector<float> gate;     // (n, n_ff)
  std::vector<float> up;       // (n, n_ff)
  std::vector<float> scores;   // (n_threads, n_ctx) per-thread attention scores
  std::vector<float> logits;   // (n_outputs, n_vocab)
  std::vector<uint8_t> act_scratch;  // converted activations for matmul
};

class model {
 public:
  // Loads, validates every tensor's presence, type and shape, and allocates the KV cache.
  static result<std::unique_ptr<model>> load(const std::string& path, const model_options& opt);

  const hparams& params() const { return hp_; }
  const gguf::file& file() const { return *file_; }
  int64_t n_ctx() const { return kv_.n_ctx; }
  int64_t n_past() const { return n_past_; }
  kv_type kv() const { return kv_.type; }
  // Non-empty when load() changed a default to fit the budget (say it to the user).
  const std::string& load_notice() const { return load_notice_; }

  // Drops cached positions >= n_keep (0 clears the cache).
  void truncate(int64_t n_keep);

  // Runs `tokens` at positions n_past()..n_past()+n-1 (split into n_batch chunks), appending to
  // the KV cache. Returns logits (n_outputs, n_vocab): every position when all_logits, else
  // only the last one. Errors: an out-of-range token id or a context overflow.
  result<std::vector<float>> eval(const std::vector<int32_t>& tokens, bool all_logits);

 private:
  model() = default;
  // One chunk of n tokens (n <= n_batch); writes logits of the chosen positions into st_.logits.
  void forward_chunk(const int32_t* tokens, int64_t n, bool all_logits);
  void attention_layer(int layer, int64_t n);
  void ffn_layer(int layer, int64_t n);
  void attend(int layer, int64_t n);

  std::unique_ptr<gguf::file> file_;
  hparams hp_;
  model_weights w_;
  kv_cache kv_;
  run_state st_;
  int64_t n_batch_ = 0;
  int64_t n_past_ = 0;
  std::string load_notice_;
  std::unique_ptr<kernels::thread_pool> pool_;
};

}  // namespace pocketlm
