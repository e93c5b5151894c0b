#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <unordered_map>

namespace pocketlm {

namespace {

uint64_t resolve_seed(uint64_t seed) {
  if (seed != k_random_seed) return seed;
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

sampler::sampler(const sampler_params& p) : p_(p), seed_(resolve_seed(p.seed)), rng_(seed_) {}

void sampler::reset() {
  history_.clear();
  rng_.seed(seed_);
}

void sampler::accept(int32_t token) {
  history_.push_back(token);
  // Keep a bounded history; -1 (whole history) is capped to keep memory flat in long chats.
  const size_t cap = p_.repeat_last_n < 0 ? 1u << 16 : static_cast<size_t>(p_.repeat_last_n);
  while (history_.size() > cap) history_.pop_front();
}

double sampler::next_uniform() { return static_cast<double>(rng_() >> 11) * 0x1p-53; }

void sampler::apply_penalties(std::vector<candidate>& c) const {
  if (history_.empty() || p_.repeat_last_n == 0) return;
  std::unordered_map<int32_t, int> counts;
  for (int32_t t : history_) ++counts[t];
  for (const auto& [id, count] : counts) {
    if (id < 0 || static_cast<size_t>(id) >= c.size()) continue;
    float& l = c[static_cast<size_t>(id)].logit;
    // Repetition penalty as in CTRL / llama.cpp: shrink positive logits, grow negative ones.
    l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
    l -= static_cast<float>(count) * p_.frequency_penalty + p_.presence_penalty;
  }
}

int32_t sampler::sample(const float* logits, int64_t n_vocab, const uint8_t* allowed) {
  cand_.resize(static_cast<size_t>(n_vocab));
  for (int64_t i = 0; i < n_vocab; ++i) cand_[i] = {static_cast<int32_t>(i), logits[i]};
  for (const auto& [id, bias] : p_.logit_bias) {
    if (id >= 0 && id < n_vocab) cand_[static_cast<size_t>(id)].logit += bias;
  }
  apply_penalties(cand_);  // indexes candidates by id: before the mask removes any
  if (allowed) {
    std::erase_if(cand_, [allowed](const candidate& c) { return !allowed[c.id]; });
    if (cand_.empty()) return -1;
  }
  auto by_logit = [](const candidate& a, const candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  if (p_.temperature <= 0.0f) {
    return std::min_element(cand_.begin(), cand_.end(), by_logit)->id;
  }
  size_t n = cand_.size();
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < n) n = static_cast<size_t>(p_.top_k);
  std::partial_sort(cand_.begin(), cand_.begin() + static_cast<long>(n), cand_.end(), by_logit);
  cand_.resize(n);
  // Probabilities at temperature 1 decide top-p and min-p, as llama.cpp's chain does.
  std::vector<double> prob(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += prob[i] = std::exp(cand_[i].logit - cand_[0].logit);
  size_t keep = n;
  if (p_.top_p < 1.0f) {
    double cum = 0;
    for (size_t i = 0; i < n; ++i) {
      cum += prob[i] / sum;
      if (cum >= p_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (p_.min_p > 0.0f) {
    size_t k = 1;
    while (k < keep && prob[k] >= p_.min_p * prob[0]) ++k;
    keep = k;
  }
  // Draw from softmax(logit / temperature) over the kept candidates.
  double total = 0;
  for (size_t i = 0; i < keep; ++i) {
    prob[i] = std::exp((cand_[i].logit - cand_[0].logit) / p_.temperature);
    total += prob[i];
  }
  const double r = next_uniform() * total;
  double acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += prob[i];
    if (r < acc) return cand_[i].id;
  }
  return cand_[keep - 1].id;
}

token_report token_logprobs(const float* logits, int64_t n_vocab, int32_t chosen, int n_top) {
  const size_t n = std::min(static_cast<size_t>(std::max(n_top, 0)), static_cast<size_t>(n_vocab));
  const auto better = [logits](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::vector<int32_t> top;  // sorted by `better`, at most n: n <= 20, so insertion beats a heap
  top.reserve(n + 1);
  float max_logit = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n_vocab; ++i) {
    max_logit = std::max(max_logit, logits[i]);
    const auto id = static_cast<int32_t>(i);
    if (n == 0 || (top.size() == n && !better(id, top.back()))) continue;
    top.insert(std::upper_bound(top.begin(), top.end(), id, better), id);
    if (top.size() > n) top.pop_back();
  }
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max_logit);
  const double log_z = max_logit + std::log(sum);
  const auto entry = [&](int32_t id) {
    const bool in_range = id >= 0 && id < n_vocab;
    return token_logprob{
        id, {}, in_range ? static_cast<float>(logits[id] - log_z) : -std::numeric_limits<float>::infinity()};
  };
  token_report r;
  r.chosen = entry(chosen);
  r.top.reserve(top.size());
  for (int32_t id : top) r.top.push_back(entry(id));
  return r;
}

}  // namespace pocketlm
