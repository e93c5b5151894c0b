// A model's KV cache seen as a token sequence: each request evaluates only the tokens after the
// longest common prefix with what is cached, so multi-turn chats re-use their history. A session
// owns one of the model's KV sequences (server slots each hold their own).
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "model/model.h"

namespace pocketlm {

class session {
 public:
  explicit session(model& m, int seq = 0) : model_(m), seq_(seq) {}

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
  int64_t n_ctx() const { return model_.n_ctx(); }
  int64_t last_evaluated() const { return last_evaluated_; }  // tokens the last sync() ran
  model& get_model() { return model_; }
  int seq() const { return seq_; }

 private:
  model& model_;
  int seq_;
  std::vector<int32_t> cached_;  // tokens whose K/V are in the cache, in order
  std::vector<float> logits_;
  int64_t last_evaluated_ = 0;
};

}  // namespace pocketlm
