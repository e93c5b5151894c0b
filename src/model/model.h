// model/: owns a loaded transformer: hyper-parameters and weights read from a GGUF (shape-checked
// mmap views), the KV cache, and the forward pass of the llama, qwen2 and qwen3 architectures.
// Calls kernels/, tensor/ and gguf/; never the runtime, cli or server above it.
//
// State follows llama2.c: `hparams` (config), `model_weights` (views into the mmap) and
// `run_state` (activations and KV cache, allocated once per context, never per token).
//
// Sequences: a model holds n_seq independent KV caches (one per server slot) over one copy of
// the weights. eval() is thread-safe across different sequences: concurrent one-token decodes
// are gathered into ONE forward pass (matmuls over all their tokens, attention per sequence);
// prompts (several tokens) run alone. Each sequence must be used by one thread at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
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
  int n_seq = 1;          // independent KV sequences (each n_ctx positions)
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
  std::vector<int> seq;        // (n) sequence of each token in the chunk
  std::vector<int64_t> pos;    // (n) position of each token in its sequence
};

class model {
 public:
  // Loads, validates every tensor's presence, type and shape, and allocates the KV cache.
  static result<std::unique_ptr<model>> load(const std::string& path, const model_options& opt);

  const hparams& params() const { return hp_; }
  const gguf::file& file() const { return *file_; }
  int64_t n_ctx() const { return kv_[0].n_ctx; }  // positions per sequence
  int n_seq() const { return static_cast<int>(kv_.size()); }
  int64_t n_past(int seq = 0) const { return n_past_[static_cast<size_t>(seq)]; }
  kv_type kv() const { return kv_[0].type; }
  // Non-empty when load() changed a default to fit the budget (say it to the user).
  const std::string& load_notice() const { return load_notice_; }

  // Drops cached positions >= n_keep of sequence `seq` (0 clears it).
  void truncate(int64_t n_keep) { truncate(0, n_keep); }
  void truncate(int seq, int64_t n_keep);

  // Runs `tokens` at positions n_past(seq)..n_past(seq)+n-1 (split into n_batch chunks),
  // appending to that sequence's KV cache. Returns logits (n_outputs, n_vocab): every position
  // when all_logits, else only the last one. Errors: a bad sequence, an out-of-range token id
  // or a context overflow.
  result<std::vector<float>> eval(const std::vector<int32_t>& tokens, bool all_logits) {
    return eval(0, tokens, all_logits);
  }
  result<std::vector<float>> eval(int seq, const std::vector<int32_t>& tokens, bool all_logits);

  // Decode tokens that shared a forward pass with another sequence's (logs and tests).
  int64_t batched_decodes() const { return batched_decodes_.load(); }

  // Sentence embedding of `tokens` run in sequence `seq` from position 0: the mean over the
  // tokens of the final-normed hidden states (output_norm applied), L2-normalised (n_embd).
  // Leaves the sequence empty.
  result<std::vector<float>> embed(int seq, const std::vector<int32_t>& tokens);

 private:
  model() = default;
  status check_eval(int seq, const std::vector<int32_t>& tokens) const;
  // Runs `work` with the forward pass to itself (waits for the batch in flight).
  template <class F>
  void exclusive(F&& work);
  result<std::vector<float>> decode_one(int seq, int32_t token);
  void run_decode_batch();
  // Forward of n tokens whose st_.seq / st_.pos are set; logits of the last n_out rows go to
  // st_.logits; when hidden != nullptr the final-normed rows are summed into it (n_embd).
  void forward(const int32_t* tokens, int64_t n, int64_t n_out, float* hidden = nullptr);
  void forward_chunk(int seq, const int32_t* tokens, int64_t n, bool all_logits,
                     float* hidden = nullptr);
  void attention_layer(int layer, int64_t n);
  void ffn_layer(int layer, int64_t n);
  void attend(int layer, int64_t n);

  std::unique_ptr<gguf::file> file_;
  hparams hp_;
  model_weights w_;
  std::vector<kv_cache> kv_;       // one per sequence
  run_state st_;
  int64_t n_batch_ = 0;
  std::vector<int64_t> n_past_;    // one per sequence
  std::string load_notice_;
  std::unique_ptr<kernels::thread_pool> pool_;

  // Decode batching: waiting one-token requests; the first thread to find the forward pass
  // free runs all of them at once and hands each its logits.
  struct decode_job {
    int seq;
    int32_t token;
    std::vector<float> logits;
    bool done = false;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  bool busy_ = false;              // a forward pass is running
  int exclusive_waiting_ = 0;      // prompts waiting: decoders let them go first
  std::vector<decode_job*> queue_;
  std::atomic<int64_t> batched_decodes_{0};
};

}  // namespace pocketlm
