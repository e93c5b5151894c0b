// The one place where a model's forward passes are ordered. Every sequence that uses a model (the
// CLI's chat, each server slot) submits its work here; each step packs the pending one-token
// decodes of all sequences first, then chunks of waiting prompts up to the batch budget, and runs
// them as ONE model::decode. A long prompt is cut into chunks interleaved with the others'
// decodes instead of stalling them (llama-server's slot loop; llama.cpp's llama_batch).
//
// Whichever waiting thread finds no step running runs the next one for everybody (no scheduler
// thread of its own); a thread returns once its own work is done.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "common/result.h"
#include "model/model.h"

namespace pocketlm {

class scheduler {
 public:
  // `chunk`: the most tokens of one step (0: the model's batch size). A step that carries other
  // sequences' decodes takes at most `shared_chunk` prompt tokens, so that a streaming client
  // waits one short chunk, not a whole batch, while another's long prompt runs.
  explicit scheduler(model& m, int64_t chunk = 0, int64_t shared_chunk = k_shared_chunk);
  static constexpr int64_t k_shared_chunk = 128;
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // Evaluates `tokens` after what sequence `seq` holds; returns the last token's logits
  // (n_vocab). Thread-safe across sequences; one thread per sequence at a time.
  result<std::vector<float>> eval(int seq, const std::vector<int32_t>& tokens);
  // model::embed in sequence `seq`, as a step of its own (its passes sum hidden states).
  result<std::vector<float>> embed(int seq, const std::vector<int32_t>& tokens);
  // Drops cached positions >= n_keep of `seq` (no step may be running work of `seq`).
  int64_t truncate(int seq, int64_t n_keep);  // the positions kept (model::truncate)

  model& get_model() { return model_; }
  int64_t n_ctx() const { return model_.n_ctx(); }
  // Decode tokens that shared a step with another sequence's work (logs and tests).
  int64_t batched_decodes() const { return batched_decodes_.load(); }
  // Steps that carried a prompt chunk and at least one other sequence's decode.
  int64_t interleaved_steps() const { return interleaved_steps_.load(); }

 private:
  struct job {
    int seq = 0;
    const std::vector<int32_t>* tokens = nullptr;
    bool embedding = false;
    size_t done = 0;         // tokens already run
    std::vector<float> out;  // the last token's logits, or the embedding
    status failed;
    bool finished = false;
  };
  result<std::vector<float>> submit(job& j);
  void step(std::unique_lock<std::mutex>& lock);

  model& model_;
  int64_t chunk_;
  int64_t shared_chunk_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool busy_ = false;         // a step is running
  std::deque<job*> queue_;    // submitted and not finished, in arrival order
  std::vector<int> decoded_;  // sequences whose decode the last step finished
  std::atomic<int64_t> batched_decodes_{0};
  std::atomic<int64_t> interleaved_steps_{0};
};

}  // namespace pocketlm
