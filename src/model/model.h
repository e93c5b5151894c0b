// model/: owns a loaded transformer: hyper-parameters and weights read from a GGUF (shape-checked
// mmap views), the KV cache, and the forward pass of the architectures in model/arch.cpp.
// Calls kernels/, tensor/ and gguf/; never the runtime, cli or server above it.
//
// State follows llama2.c: `hparams` (config), `model_weights` (views into the mmap) and
// `run_state` (activations and KV cache, allocated once per context, never per token).
//
// Sequences: a model holds n_seq independent KV caches (one per server slot) over one copy of
// the weights. decode() runs one batch: tokens of any sequences at their positions, one forward
// pass (matmuls over all the tokens, attention per token over its own sequence). The model only
// computes: it is not thread-safe, and which tokens share a pass is decided above it
// (runtime/scheduler.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/encoder.h"
#include "model/hparams.h"
#include "model/kv_cache.h"
#include "model/memory.h"
#include "model/shortconv.h"
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
  // Test hook: >= 0 forces the sliding window of a model that has one (0: every layer global),
  // to prove that window tests can fail.
  int64_t window_override = -1;
  // Test hook: >= 0 forces the attention soft-cap (0: none), to prove that tests of it can fail.
  float attn_softcap_override = -1.0f;
};

// One token of a batch: which sequence it extends, at which position, and whether its logits
// are wanted (llama.cpp's llama_batch, one entry per token).
struct batch_token {
  int32_t token = 0;
  int seq = 0;
  int64_t pos = 0;
  bool logits = false;
};
using batch = std::vector<batch_token>;

// Activations for one forward chunk. Shapes in comments use n = n_batch.
struct run_state {
  std::vector<float> x;              // (n, n_embd) residual stream
  std::vector<float> xb;             // (n, n_embd) normed input of a sub-layer
  std::vector<float> q;              // (n, n_head * head_dim)
  std::vector<float> k;              // (n, n_head_kv * head_dim)
  std::vector<float> v;              // (n, n_head_kv * head_dim)
  std::vector<float> attn;           // (n, n_head * head_dim) attention output
  std::vector<float> gate;           // (n, n_ff)
  std::vector<float> up;             // (n, n_ff)
  std::vector<float> fused;          // phi3: (n, max(q_dim + 2 kv_dim, 2 n_ff)) fused matmul output
  std::vector<float> conv;           // lfm2: (n, 4 n_embd): in_proj's B | C | x rows, then C * conv
  std::vector<float> logits;         // (n_outputs, n_vocab)
  std::vector<uint8_t> act_scratch;  // converted activations for matmul
  std::vector<int> seq;              // (n) sequence of each token in the chunk
  std::vector<int64_t> pos;          // (n) position of each token in its sequence
  std::vector<int64_t> first_pos;    // (n) first position a window layer's token attends
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

  // Drops cached positions >= n_keep of sequence `seq` (0 clears it). Returns the positions
  // kept: fewer than n_keep (0) when a sliding-window layer no longer holds the window before
  // n_keep, or when the model has convolution layers (lfm2) and n_keep < n_past: their state
  // cannot be rewound, only restored to the copy saved after the sequence's last prefill (kept
  // when that is at most n_keep, else 0). The caller must evaluate from the returned count.
  int64_t truncate(int64_t n_keep) { return truncate(0, n_keep); }
  int64_t truncate(int seq, int64_t n_keep);

  // The most tokens one decode() takes.
  int64_t max_batch() const { return n_batch_; }

  // One forward pass over `b` (1..max_batch() tokens): each token's K/V is stored at `pos` of
  // its sequence and it attends to that sequence's positions 0..pos. A sequence's tokens must
  // continue it: consecutive positions from n_past(seq), in batch order. Returns the logits of
  // the tokens marked `logits`, in batch order ((count, n_vocab)). Errors: a bad sequence,
  // token id or position, a context overflow, or the model file changed under the mapping.
  result<std::vector<float>> decode(const batch& b);

  // Runs `tokens` after what sequence `seq` holds, in max_batch() chunks. Returns logits
  // (n_outputs, n_vocab): every position when all_logits, else only the last one.
  result<std::vector<float>> eval(const std::vector<int32_t>& tokens, bool all_logits) {
    return eval(0, tokens, all_logits);
  }
  result<std::vector<float>> eval(int seq, const std::vector<int32_t>& tokens, bool all_logits);

  // Sentence embedding of `tokens` run in sequence `seq` from position 0, pooled as the GGUF's
  // `<arch>.pooling_type` says (mean, first token or last token; llama.cpp's
  // build_pooling) over the last hidden states (a causal model's after output_norm), then
  // L2-normalised (n_embd) as llama-embedding and Ollama return them. Leaves the sequence
  // empty. An error for a model without a pooling type (a chat model), as Ollama answers.
  result<std::vector<float>> embed(int seq, const std::vector<int32_t>& tokens);
  // Whether embed() works: the GGUF names a pooling type (Ollama's "embedding" capability).
  bool is_embedding_model() const { return hp_.pooling != pooling_type::none; }

  // Whether `tokens` can run after what `seq` holds: the sequence exists, every id is in the
  // vocabulary, and they fit the context.
  status check_eval(int seq, const std::vector<int32_t>& tokens) const;

  // Later passes run on n threads (clamped to 1..threads()): fewer than the model was loaded with
  // go to a second, smaller pool made on first use (pinned like the first), whose idle
  // counterpart sleeps. The power policy lowers threads so while a phone is hot (runtime/power.h).
  // Call between passes, from the thread that runs them.
  void set_active_threads(int n);
  int active_threads() const { return pool_->size(); }
  int threads() const { return full_pool_->size(); }

 private:
  model() = default;
  status check_batch(const batch& b) const;
  // Forward of n tokens whose st_.seq / st_.pos are set; the logits of rows `out_rows` go to
  // st_.logits; when hidden != nullptr the final-normed rows are summed into it (n_embd).
  void forward(const int32_t* tokens, int64_t n, const std::vector<int64_t>& out_rows, float* hidden = nullptr);
  void attention_layer(int layer, int64_t n);
  void conv_layer(int layer, int64_t n);  // model/shortconv.cpp
  void ffn_layer(int layer, int64_t n);
  void attend(int layer, int64_t n);
  void add_residual(const std::vector<float>& post_norm, int64_t n);
  void scale_logits();
  // Encoders (model/encoder.cpp): the whole input in one pass, bidirectional attention.
  void encode(int seq, const int32_t* tokens, int64_t n);
  void encoder_attention(int layer, int64_t n);
  void encoder_ffn(int layer, int64_t n);
  result<std::vector<float>> embed_causal(int seq, const std::vector<int32_t>& tokens);

  std::unique_ptr<gguf::file> file_;
  hparams hp_;
  model_weights w_;
  std::unique_ptr<encoder_weights> enc_;  // encoders only; w_ is then empty
  std::vector<kv_cache> kv_;              // one per sequence
  std::vector<conv_state> conv_;          // lfm2: one per sequence; empty without convolution layers
  run_state st_;
  int64_t n_batch_ = 0;
  std::vector<int64_t> n_past_;  // one per sequence
  std::string load_notice_;
  std::unique_ptr<kernels::thread_pool> full_pool_;  // the threads the model was loaded with
  std::unique_ptr<kernels::thread_pool> low_pool_;   // fewer, made by set_active_threads
  kernels::thread_pool* pool_ = nullptr;             // the one passes run on
  std::vector<int> cpus_;                            // --cpu-mask: every pool's threads pinned there
};

}  // namespace pocketlm
