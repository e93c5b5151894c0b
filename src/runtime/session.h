// A model's KV cache seen as a token sequence: each request evaluates only the tokens after the
// longest common prefix with what is cached, so multi-turn chats re-use their history. A session
// owns one of the model's KV sequences (server slots each hold their own); its forward passes go
// through the model's scheduler, shared by all the model's sessions.
#pragma once

#include <cstdint>
#include <vector>

#include <memory>

#include "common/result.h"
#include "model/model.h"
#include "runtime/scheduler.h"

namespace pocketlm {

class session {
 public:
  // One of several sequences of a model (server slots): passes are shared through `sched`.
  session(scheduler& sched, int seq) : sched_(&sched), seq_(seq) {}
  // The model's only user (the CLI's chat, tests): a scheduler of its own.
  explicit session(model& m, int seq = 0) : own_(std::make_unique<scheduler>(m)), sched_(own_.get()), seq_(seq) {}

  // Makes the cache hold exactly `tokens`; returns the last position's logits (n_vocab).
  result<const std::vector<float>*> sync(const std::vector<int32_t>& tokens);
  // Appends one token and returns its logits.
  result<const std::vector<float>*> push(int32_t token);
  void clear();
  // Embedding of `tokens` (model::embed) computed in this session's sequence, which it empties.
  result<std::vector<float>> embed(const std::vector<int32_t>& tokens);
  // Tokens shared with the start of `tokens` (what sync() would not re-evaluate).
  size_t common_prefix(const std::vector<int32_t>& tokens) const;

  const std::vector<int32_t>& cached() const { return cached_; }
  int64_t n_ctx() const { return sched_->n_ctx(); }
  int64_t last_evaluated() const { return last_evaluated_; }  // tokens the last sync() ran
  model& get_model() { return sched_->get_model(); }
  int seq() const { return seq_; }

 private:
  std::unique_ptr<scheduler> own_;
  scheduler* sched_;
  int seq_;
  std::vector<int32_t> cached_;  // tokens whose K/V are in the cache, in order
  std::vector<float> logits_;
  int64_t last_evaluated_ = 0;
};

}  // namespace pocketlm
