// LFM2's convolution layers in the model layer, on stories260K rewritten as lfm2
// (unit/model/lfm2_fixture.h). The convolution state kept per
// sequence must not depend on how tokens are batched or which sequences share a batch; truncate
// keeps a sequence whole or restarts it; embed starts from a clean state; the plan counts the
// state; missing and mis-shaped tensors are named.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/memory.h"
#include "model/model.h"
#include "model/shortconv.h"
#include "lfm2_fixture.h"

namespace pocketlm {
namespace {

using namespace lfm2_fixture;

std::vector<int32_t> prompt(size_t n, size_t salt = 0) {
  std::vector<int32_t> ids{1};
  for (size_t i = 1; i < n; ++i) ids.push_back(static_cast<int32_t>(3 + (i * 37 + salt * 101) % 500));
  return ids;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

class lfm2_model : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { path_ = lfm2_from_stories("ok", flaw::none, 0, /*pooled=*/true); }
  static void TearDownTestSuite() { std::filesystem::remove(path_); }

  static std::unique_ptr<model> load(int64_t n_batch, int n_seq = 1) {
    model_options opt;
    opt.n_ctx = 128;
    opt.n_batch = n_batch;
    opt.n_seq = n_seq;
    auto m = model::load(path_, opt);
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error_message());
    return m.ok() ? std::move(*m) : nullptr;
  }

  static inline std::string path_;
};

TEST(shortconv, step_is_the_gated_causal_convolution) {
  // Two channels, three taps, three tokens: y = C * (k0 bx[t-2] + k1 bx[t-1] + k2 bx[t]).
  const std::vector<float> kernel = {0.5f, -1.0f, 2.0f, 1.0f, 0.25f, -0.5f};
  std::vector<float> state(4, 0.0f);
  std::vector<float> bx_seen;
  for (int t = 0; t < 3; ++t) {
    const float b0 = 1.0f + t, b1 = -0.5f * t, c0 = 0.5f, c1 = 2.0f, x0 = 3.0f - t, x1 = 1.5f;
    std::vector<float> bcx = {b0, b1, c0, c1, x0, x1};
    std::vector<float> y(2);
    shortconv_step(bcx.data(), kernel.data(), state.data(), 2, 2, y.data());
    bx_seen.insert(bx_seen.end(), {b0 * x0, b1 * x1});
    const auto bx = [&](int tt, int i) { return tt < 0 ? 0.0f : bx_seen[static_cast<size_t>(tt * 2 + i)]; };
    const float want0 = c0 * (0.5f * bx(t - 2, 0) - 1.0f * bx(t - 1, 0) + 2.0f * bx(t, 0));
    const float want1 = c1 * (1.0f * bx(t - 2, 1) + 0.25f * bx(t - 1, 1) - 0.5f * bx(t, 1));
    EXPECT_FLOAT_EQ(y[0], want0) << t;
    EXPECT_FLOAT_EQ(y[1], want1) << t;
  }
  EXPECT_FLOAT_EQ(state[0], bx_seen[2]);  // oldest kept row: token 1
  EXPECT_FLOAT_EQ(state[3], bx_seen[5]);  // newest: token 2
}

TEST_F(lfm2_model, reads_its_layers_and_plans_the_state) {
  auto f = gguf::file::open(path_);
  ASSERT_TRUE(f.ok());
  auto hp = read_hparams(**f);
  ASSERT_TRUE(hp.ok()) << hp.error_message();
  EXPECT_EQ(hp->conv_l_cache, 3);
  EXPECT_EQ(hp->n_head_kv, 4);
  for (int il = 0; il < 5; ++il) {
    EXPECT_EQ(hp->is_conv(il), k_conv[il]) << il;
    EXPECT_EQ(hp->kv_cells(il, 128, 8), k_conv[il] ? 0 : 128) << il;
  }
  EXPECT_EQ(hp->conv_state_floats(), 3 * 2 * k_embd);
  // KV rows of the two attention layers only, plus the state and its saved copy (f32, one heap
  // chunk each).
  const memory_needs m = estimate_memory(**f, *hp, {128, 8, 1, kv_type::f16});
  const uint64_t kv_only = 2ull * 2 * 128 * kv_row_bytes(kv_type::f16, 32);
  const uint64_t state = 3 * 2 * k_embd * sizeof(float);
  EXPECT_GE(m.kv, kv_only + 2 * state);
  EXPECT_LE(m.kv, kv_only + 2 * state + 64);
}

TEST_F(lfm2_model, batch_size_leaves_the_logits_alone) {
  const auto ids = prompt(40);
  auto one_batch = load(64), chunks = load(3), by_token = load(1);
  ASSERT_TRUE(one_batch && chunks && by_token);
  auto a = one_batch->eval(ids, true);
  auto b = chunks->eval(ids, true);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(max_abs_diff(*a, *b), 1e-4f);
  std::vector<float> c;
  for (int32_t id : ids) {
    auto l = by_token->eval({id}, false);
    ASSERT_TRUE(l.ok());
    c.insert(c.end(), l->begin(), l->end());
  }
  EXPECT_LT(max_abs_diff(*a, c), 1e-4f);
  // Taps of another width than lfm2.shortconv.l_cache are refused, naming the tensor.
  model_options opt;
  opt.n_ctx = 128;
  const auto wide = lfm2_from_stories("wide", flaw::wide_taps);
  auto bad = model::load(wide, opt);
  std::filesystem::remove(wide);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error_message().find("blk.0.shortconv.conv.weight' has wrong shape"), std::string::npos)
      << bad.error_message();
}

TEST_F(lfm2_model, interleaved_sequences_match_each_alone) {
  const auto a_ids = prompt(24, 0), b_ids = prompt(24, 7);
  auto alone = load(16);
  ASSERT_TRUE(alone);
  auto a_want = alone->eval(0, a_ids, true);
  ASSERT_TRUE(a_want.ok());
  alone->truncate(0, 0);
  auto b_want = alone->eval(0, b_ids, true);
  ASSERT_TRUE(b_want.ok());
  // Two slots: batches of a few tokens of each, in alternating order, b starting later.
  auto both = load(16, 2);
  ASSERT_TRUE(both);
  std::vector<float> a_got, b_got;
  size_t ia = 0, ib = 0;
  for (int step = 0; ia < a_ids.size() || ib < b_ids.size(); ++step) {
    batch bt;
    const size_t na = std::min<size_t>(a_ids.size() - ia, 1 + step % 3);
    const size_t nb = step == 0 ? 0 : std::min<size_t>(b_ids.size() - ib, 1 + (step + 1) % 4);
    for (size_t k = 0; k < std::max(na, nb); ++k) {  // tokens of the two sequences alternate
      if (k < nb) bt.push_back({b_ids[ib + k], 1, static_cast<int64_t>(ib + k), true});
      if (k < na) bt.push_back({a_ids[ia + k], 0, static_cast<int64_t>(ia + k), true});
    }
    auto l = both->decode(bt);
    ASSERT_TRUE(l.ok()) << l.error_message();
    const auto vocab = static_cast<size_t>(both->params().n_vocab);
    for (size_t r = 0; r < bt.size(); ++r) {
      auto& dst = bt[r].seq == 0 ? a_got : b_got;
      dst.insert(dst.end(), l->begin() + static_cast<long>(r * vocab), l->begin() + static_cast<long>((r + 1) * vocab));
    }
    ia += na;
    ib += nb;
  }
  EXPECT_LT(max_abs_diff(*a_want, a_got), 1e-4f);
  EXPECT_LT(max_abs_diff(*b_want, b_got), 1e-4f);
}

TEST_F(lfm2_model, truncate_keeps_a_sequence_whole_its_last_prefill_or_nothing) {
  const auto ids = prompt(40);
  auto m = load(8);
  ASSERT_TRUE(m);
  auto full = m->eval(ids, false);
  ASSERT_TRUE(full.ok());
  // A prompt of 38 (prefilled in batches), then two generated tokens one at a time.
  m->truncate(0, 0);
  ASSERT_TRUE(m->eval(std::vector<int32_t>(ids.begin(), ids.begin() + 38), false).ok());
  const auto step = [&](size_t from) {
    std::vector<float> last;
    for (size_t i = from; i < ids.size(); ++i) {
      auto l = m->eval(0, {ids[i]}, false);
      EXPECT_TRUE(l.ok());
      if (l.ok()) last = *l;
    }
    return last;
  };
  EXPECT_LT(max_abs_diff(*full, step(38)), 1e-5f);
  EXPECT_EQ(m->truncate(0, 40), 40);  // everything: nothing to rewind
  EXPECT_EQ(m->n_past(0), 40);
  // Keeping 39 would rewind the state by one; the copy saved after the prompt's prefill is at 38.
  EXPECT_EQ(m->truncate(0, 39), 38);
  EXPECT_EQ(m->n_past(0), 38);
  EXPECT_LT(max_abs_diff(*full, step(38)), 1e-5f);
  // Before the saved copy nothing is left: the sequence restarts.
  EXPECT_EQ(m->truncate(0, 20), 0);
  EXPECT_EQ(m->n_past(0), 0);
  auto again = m->eval(0, ids, false);
  ASSERT_TRUE(again.ok());
  EXPECT_LT(max_abs_diff(*full, *again), 1e-5f);
  // Its saved copy is now at 40; truncating to 0 drops it.
  EXPECT_EQ(m->truncate(0, 0), 0);
  ASSERT_TRUE(m->eval(0, {ids[0]}, false).ok());
  EXPECT_EQ(m->truncate(0, 0), 0);
  // embed() starts from a clean state and leaves the sequence empty.
  const std::vector<int32_t> head(ids.begin(), ids.begin() + 30);
  auto e1 = m->embed(0, head);
  ASSERT_TRUE(e1.ok());
  EXPECT_EQ(m->n_past(0), 0);
  auto e2 = m->embed(0, head);
  ASSERT_TRUE(e2.ok());
  EXPECT_LT(max_abs_diff(*e1, *e2), 1e-6f);
  auto after = m->eval(0, ids, false);
  ASSERT_TRUE(after.ok());
  EXPECT_LT(max_abs_diff(*full, *after), 1e-5f);
}

// A sliding window applies to the attention layers only (their KV cells become a ring); batching
// and truncation still leave the logits alone.
TEST(lfm2_window, attention_layers_keep_a_ring_conv_layers_none) {
  const auto path = lfm2_from_stories("window", flaw::none, 4);
  model_options opt;
  opt.n_ctx = 128;
  opt.n_batch = 4;
  auto m = model::load(path, opt);
  opt.n_batch = 64;
  auto wide = model::load(path, opt);
  std::filesystem::remove(path);
  ASSERT_TRUE(m.ok() && wide.ok()) << (m.ok() ? "" : m.error_message());
  const hparams& hp = (*m)->params();
  for (int il = 0; il < 5; ++il) {
    EXPECT_EQ(hp.is_swa(il), !k_conv[il]) << il;
    EXPECT_EQ(hp.kv_cells(il, 128, 4), k_conv[il] ? 0 : 8) << il;
  }
  const auto ids = prompt(40);
  auto a = (*m)->eval(ids, false);
  auto b = (*wide)->eval(ids, false);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(max_abs_diff(*a, *b), 1e-4f);
  // 39 of 40: the conv state's saved copy is at 40 (the last batch), so nothing is kept.
  EXPECT_EQ((*m)->truncate(0, 39), 0);
}

TEST(lfm2_tensors, missing_convolution_metadata_is_named) {
  for (const auto& [f, want] : {std::pair{flaw::no_l_cache, "missing metadata key 'lfm2.shortconv.l_cache'"},
                                std::pair{flaw::short_kv_list, "has 4 values for 5 layers"}}) {
    const auto path = lfm2_from_stories("meta", f);
    auto file = gguf::file::open(path);
    ASSERT_TRUE(file.ok());
    auto hp = read_hparams(**file);
    std::filesystem::remove(path);
    ASSERT_FALSE(hp.ok());
    EXPECT_NE(hp.error_message().find(want), std::string::npos) << hp.error_message();
  }
}

TEST(lfm2_tensors, a_missing_convolution_tensor_is_named) {
  const auto path = lfm2_from_stories("missing", flaw::no_in_proj);
  model_options opt;
  opt.n_ctx = 64;
  auto m = model::load(path, opt);
  std::filesystem::remove(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error_message().find("missing tensor 'blk.1.shortconv.in_proj.weight'"), std::string::npos)
      << m.error_message();
}

}  // namespace
}  // namespace pocketlm
