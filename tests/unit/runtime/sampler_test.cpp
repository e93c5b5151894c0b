// Sampler behaviour on hand-made logits: each stage of the chain and seeded determinism.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "runtime/sampler.h"

namespace pocketlm {
namespace {

const std::vector<float> k_logits{1.0f, 3.0f, 2.5f, -1.0f, 0.0f, 2.9f};

std::map<int32_t, int> histogram(sampler_params p, int draws) {
  sampler s(p);
  std::map<int32_t, int> h;
  for (int i = 0; i < draws; ++i) ++h[s.sample(k_logits.data(), 6)];
  return h;
}

TEST(sampler, zero_temperature_is_greedy) {
  sampler_params p;
  p.temperature = 0;
  p.repeat_penalty = 1.0f;
  sampler s(p);
  EXPECT_EQ(s.sample(k_logits.data(), 6), 1);
}

TEST(sampler, top_k_limits_choices) {
  sampler_params p;
  p.top_k = 2;
  p.top_p = 1.0f;
  p.temperature = 5.0f;
  const auto h = histogram(p, 2000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_TRUE(h.count(1) && h.count(5));
}

TEST(sampler, top_p_keeps_smallest_set_reaching_p) {
  sampler_params p;
  p.top_k = 0;
  p.top_p = 0.5f;  // probs at T=1: id1 ~0.35, id5 ~0.32 -> {1, 5} reach 0.5
  const auto h = histogram(p, 2000);
  EXPECT_EQ(h.size(), 2u);
}

TEST(sampler, min_p_drops_unlikely_tokens) {
  sampler_params p;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.5f;  // keeps tokens with p >= 0.5 * p_max: logits >= 3 - ln 2 -> ids 1, 5, 2
  p.temperature = 3.0f;
  const auto h = histogram(p, 3000);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_TRUE(h.count(1) && h.count(5) && h.count(2));
}

TEST(sampler, same_seed_same_tokens_other_seed_differs) {
  sampler_params p;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.temperature = 2.0f;
  p.seed = 42;
  sampler a(p), b(p);
  p.seed = 43;
  sampler c(p);
  std::vector<int32_t> ta, tb, tc;
  for (int i = 0; i < 64; ++i) {
    ta.push_back(a.sample(k_logits.data(), 6));
    tb.push_back(b.sample(k_logits.data(), 6));
    tc.push_back(c.sample(k_logits.data(), 6));
  }
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
}

TEST(sampler, repeat_penalty_moves_greedy_choice_off_seen_token) {
  sampler_params p;
  p.temperature = 0;
  p.repeat_penalty = 1.5f;  // 3.0 / 1.5 = 2.0 < 2.9
  sampler s(p);
  s.accept(1);
  EXPECT_EQ(s.sample(k_logits.data(), 6), 5);
}

TEST(sampler, presence_and_frequency_penalties_subtract) {
  sampler_params p;
  p.temperature = 0;
  p.repeat_penalty = 1.0f;
  p.presence_penalty = 0.05f;
  p.frequency_penalty = 0.03f;
  sampler s(p);
  s.accept(1);  // 3.0 - 0.05 - 0.03 = 2.92 > 2.9: still chosen
  EXPECT_EQ(s.sample(k_logits.data(), 6), 1);
  s.accept(1);  // 3.0 - 0.05 - 0.06 = 2.89 < 2.9
  EXPECT_EQ(s.sample(k_logits.data(), 6), 5);
}

TEST(sampler, penalty_window_forgets_old_tokens) {
  sampler_params p;
  p.temperature = 0;
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 2;
  sampler s(p);
  s.accept(1);
  s.accept(0);
  s.accept(0);  // token 1 has left the window
  EXPECT_EQ(s.sample(k_logits.data(), 6), 1);
}

}  // namespace
}  // namespace pocketlm
