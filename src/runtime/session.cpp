#include "runtime/session.h"

#include <algorithm>

namespace pocketlm {

result<const std::vector<float>*> session::sync(const std::vector<int32_t>& tokens) {
  if (tokens.empty()) return error{"session: empty prompt"};
  size_t common = common_prefix(tokens);
  // The last prompt token must be evaluated to get fresh logits, even when fully cached.
  if (common == tokens.size()) --common;
  common = static_cast<size_t>(sched_->truncate(seq_, static_cast<int64_t>(common)));
  cached_.resize(common);
  std::vector<int32_t> rest(tokens.begin() + static_cast<long>(common), tokens.end());
  auto out = sched_->eval(seq_, rest);
  if (!out) return out.err();
  cached_ = tokens;
  logits_ = std::move(*out);
  last_evaluated_ = static_cast<int64_t>(rest.size());
  return &logits_;
}

result<const std::vector<float>*> session::push(int32_t token) {
  auto out = sched_->eval(seq_, {token});
  if (!out) return out.err();
  cached_.push_back(token);
  logits_ = std::move(*out);
  return &logits_;
}

void session::clear() {
  sched_->truncate(seq_, 0);
  cached_.clear();
}

size_t session::common_prefix(const std::vector<int32_t>& tokens) const {
  size_t common = 0;
  const size_t limit = std::min(cached_.size(), tokens.size());
  while (common < limit && cached_[common] == tokens[common]) ++common;
  return common;
}

result<std::vector<float>> session::embed(const std::vector<int32_t>& tokens) {
  cached_.clear();
  return sched_->embed(seq_, tokens);
}

}  // namespace pocketlm
