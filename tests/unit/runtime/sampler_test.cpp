// Sampler behaviour on hand-made logits: each stage of the chain and seeded determinism.
#include <gtest/gtest.h>

#include <cmath>
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

TEST(sampler, logit_bias_shifts_logits_before_the_chain) {
  sampler_params p;
  p.temperature = 0;
  p.repeat_penalty = 1.0f;
  p.logit_bias = {{3, 5.0f}, {99, 100.0f}};             // id 99 is past the vocabulary: ignored
  EXPECT_EQ(sampler(p).sample(k_logits.data(), 6), 3);  // -1 + 5 beats 3
  p.logit_bias = {{1, -100.0f}, {5, -100.0f}};
  EXPECT_EQ(sampler(p).sample(k_logits.data(), 6), 2);  // the two best are banned
  p.temperature = 1.0f;
  p.logit_bias = {{4, 100.0f}};
  const auto h = histogram(p, 200);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.begin()->first, 4);
}

TEST(sampler, mask_allows_only_marked_tokens) {
  sampler_params p;
  p.temperature = 1.0f;
  p.repeat_penalty = 1.0f;
  const std::vector<uint8_t> allowed{0, 0, 1, 0, 1, 0};
  sampler s(p);
  for (int i = 0; i < 100; ++i) {
    const int32_t t = s.sample(k_logits.data(), 6, allowed.data());
    EXPECT_TRUE(t == 2 || t == 4) << t;
  }
  const std::vector<uint8_t> none(6, 0);
  EXPECT_EQ(s.sample(k_logits.data(), 6, none.data()), -1);
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

// log-softmax straight from the definition, in long double.
std::vector<double> direct_logprobs(const std::vector<float>& logits) {
  long double z = 0;
  for (float l : logits) z += std::exp(static_cast<long double>(l));
  std::vector<double> out;
  for (float l : logits) out.push_back(static_cast<double>(l - std::log(z)));
  return out;
}

TEST(token_logprobs, match_the_direct_log_softmax_and_sum_to_one) {
  const auto want = direct_logprobs(k_logits);
  const token_report r = token_logprobs(k_logits.data(), 6, 2, 6);
  ASSERT_EQ(r.top.size(), 6u);
  double sum = 0;
  for (const auto& t : r.top) {
    EXPECT_NEAR(t.logprob, want[static_cast<size_t>(t.id)], 1e-6);
    sum += std::exp(static_cast<double>(t.logprob));
  }
  EXPECT_NEAR(sum, 1.0, 1e-6);
  EXPECT_EQ(r.chosen.id, 2);
  EXPECT_NEAR(r.chosen.logprob, want[2], 1e-6);
}

TEST(token_logprobs, top_is_descending_and_cut_to_n) {
  const token_report r = token_logprobs(k_logits.data(), 6, 3, 3);
  ASSERT_EQ(r.top.size(), 3u);
  EXPECT_EQ(r.top[0].id, 1);  // 3.0
  EXPECT_EQ(r.top[1].id, 5);  // 2.9
  EXPECT_EQ(r.top[2].id, 2);  // 2.5
  EXPECT_GT(r.top[0].logprob, r.top[1].logprob);
  EXPECT_GT(r.top[1].logprob, r.top[2].logprob);
  EXPECT_NEAR(r.chosen.logprob, direct_logprobs(k_logits)[3], 1e-6);  // outside the top: still reported
}

TEST(token_logprobs, ties_go_to_the_lower_id) {
  const std::vector<float> tied{0.5f, 2.0f, 1.0f, 2.0f, 2.0f, -3.0f};
  const token_report r = token_logprobs(tied.data(), 6, 4, 4);
  ASSERT_EQ(r.top.size(), 4u);
  EXPECT_EQ(r.top[0].id, 1);
  EXPECT_EQ(r.top[1].id, 3);
  EXPECT_EQ(r.top[2].id, 4);
  EXPECT_EQ(r.top[3].id, 2);
  EXPECT_EQ(r.top[0].logprob, r.top[2].logprob);
  EXPECT_NEAR(r.top[0].logprob,
              std::log(1.0 / 3.0 *
                       (1 - (std::exp(0.5) + std::exp(1.0) + std::exp(-3.0)) /
                                (3 * std::exp(2.0) + std::exp(0.5) + std::exp(1.0) + std::exp(-3.0)))),
              1e-6);
}

TEST(token_logprobs, zero_alternatives_and_large_logits) {
  // Logits near float's limits: the max is subtracted before exp, so nothing overflows.
  const std::vector<float> big{1e30f, 1e30f - 1e24f, -1e30f};
  const token_report r = token_logprobs(big.data(), 3, 0, 0);
  EXPECT_TRUE(r.top.empty());
  EXPECT_TRUE(std::isfinite(r.chosen.logprob));
  EXPECT_LE(r.chosen.logprob, 0.0f);
  EXPECT_GE(r.chosen.logprob, -std::log(2.0f) - 1e-6f);
  // More alternatives than the vocabulary holds: all of it.
  EXPECT_EQ(token_logprobs(k_logits.data(), 6, 0, 20).top.size(), 6u);
}

TEST(token_logprobs, ignore_the_sampler_state) {
  // Penalties and masks shape the draw, not the report: the same logits give the same numbers
  // whatever the sampler saw.
  sampler_params p;
  p.temperature = 0;
  p.repeat_penalty = 10.0f;
  sampler s(p);
  s.accept(1);
  const int32_t drawn = s.sample(k_logits.data(), 6);
  EXPECT_NE(drawn, 1);
  EXPECT_NEAR(token_logprobs(k_logits.data(), 6, drawn, 1).top[0].logprob, direct_logprobs(k_logits)[1], 1e-6);
}

}  // namespace
}  // namespace pocketlm
