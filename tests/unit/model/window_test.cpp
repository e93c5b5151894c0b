// Sliding-window attention in the model layer: stories260K's weights rewritten as a gemma3 file
// with a window of 4 positions, so its five layers all keep their KV cache as a ring. Batch
// sizes, rings that wrap many times and truncation must not change the logits; memory is bounded
// by the window. Family hyper-parameters (gemma2, gemma3, granite) are read and checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>
#include <unistd.h>

#include "gguf/gguf.h"
#include "model/memory.h"
#include "model/model.h"

namespace pocketlm {
namespace {

const std::string k_stories = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

std::vector<uint8_t> ones(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n), 1.0f);
  const auto* b = reinterpret_cast<const uint8_t*>(v.data());
  return {b, b + v.size() * sizeof(float)};
}

using edit_fn = std::function<void(gguf::writer&, const gguf::file&)>;

// stories260K as architecture `arch`: its `llama.*` keys renamed, the tensors `keep` accepts (all
// when empty) copied, then `edit` applied with the source file at hand. Returns the file's path.
std::string rewrite_as(const std::string& arch, const edit_fn& edit, const std::string& tag,
                       const std::function<bool(const std::string&)>& keep = {}) {
  auto src = gguf::file::open(k_stories);
  EXPECT_TRUE(src.ok());
  gguf::writer w;
  for (const auto& kv : (*src)->metadata()) {
    std::string key = kv.key;
    if (key.rfind("llama.", 0) == 0) key = arch + key.substr(5);
    w.set_value(key, kv.val);
  }
  w.set_string("general.architecture", arch);
  for (const auto& t : (*src)->tensors()) {
    if (keep && !keep(t.name)) continue;
    const uint8_t* d = (*src)->tensor_data(t);
    w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims),
                 std::vector<uint8_t>(d, d + t.n_bytes));
  }
  edit(w, **src);
  const auto path =
      std::filesystem::temp_directory_path() / ("pocketlm_window_" + tag + "_" + std::to_string(getpid()) + ".gguf");
  EXPECT_TRUE(w.write_file(path.string()).ok());
  return path.string();
}

// The q/k norms and post-norms gemma3 needs, all ones; without post_ffw_norm when asked, and
// without the q/k norms for gemma2.
void add_gemma3_norms(gguf::writer& w, bool with_ffw_post_norm = true, bool with_qk_norms = true) {
  for (int il = 0; il < 5; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    if (with_qk_norms) {
      w.add_tensor(p + "attn_q_norm.weight", ggml_type::f32, {8}, ones(8));
      w.add_tensor(p + "attn_k_norm.weight", ggml_type::f32, {8}, ones(8));
    }
    w.add_tensor(p + "post_attention_norm.weight", ggml_type::f32, {64}, ones(64));
    if (with_ffw_post_norm) w.add_tensor(p + "post_ffw_norm.weight", ggml_type::f32, {64}, ones(64));
  }
}

class window_model : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = rewrite_as(
        "gemma3",
        [](gguf::writer& w, const gguf::file&) {
          add_gemma3_norms(w);
          w.set_u32("gemma3.attention.sliding_window", 4);
        },
        "g3");
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::unique_ptr<model> load(int64_t n_batch, int64_t n_ctx = 128) const {
    model_options opt;
    opt.n_ctx = n_ctx;
    opt.n_batch = n_batch;
    auto m = model::load(path_, opt);
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error_message());
    return m.ok() ? std::move(*m) : nullptr;
  }

  std::string path_;
};

std::vector<int32_t> prompt(size_t n) {
  std::vector<int32_t> ids{1};
  for (size_t i = 1; i < n; ++i) ids.push_back(static_cast<int32_t>(3 + (i * 37) % 500));
  return ids;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

TEST_F(window_model, reads_the_window_and_its_layers) {
  auto m = load(8);
  ASSERT_TRUE(m);
  const hparams& hp = m->params();
  EXPECT_EQ(hp.n_swa, 4);
  ASSERT_EQ(hp.swa_layers.size(), 5u);
  for (int il = 0; il < 5; ++il) EXPECT_TRUE(hp.is_swa(il)) << il;  // five window layers per global one
  EXPECT_FLOAT_EQ(hp.rope_swa.freq_base, 10000.0f);
  EXPECT_FLOAT_EQ(hp.embd_scale, 8.0f);  // sqrt(n_embd = 64)
  EXPECT_EQ(hp.ffn_act, ffn_activation::gelu);
  EXPECT_EQ(hp.kv_cells(0, 128, 8), 12);  // window + batch
  EXPECT_EQ(hp.kv_cells(0, 10, 8), 10);   // never more than the context
}

TEST_F(window_model, memory_is_bounded_by_the_window) {
  auto f = gguf::file::open(path_);
  ASSERT_TRUE(f.ok());
  auto hp = read_hparams(**f);
  ASSERT_TRUE(hp.ok());
  const auto at = [&](int64_t n_ctx) { return estimate_memory(**f, *hp, {n_ctx, 8, 1, kv_type::f16}).kv; };
  EXPECT_EQ(at(4096), at(64));  // 12 cells per layer either way
  EXPECT_EQ(at(4096), 2u * 5u * 12u * kv_row_bytes(kv_type::f16, 32));
}

TEST_F(window_model, batch_size_and_ring_wraps_leave_the_logits_alone) {
  const auto ids = prompt(60);
  auto one_batch = load(64);
  auto chunks = load(5);  // rings of 9 cells wrap six times over 60 positions
  ASSERT_TRUE(one_batch && chunks);
  auto a = one_batch->eval(ids, true);
  auto b = chunks->eval(ids, true);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(max_abs_diff(*a, *b), 1e-4f);
  std::vector<float> decoded;
  auto by_token = load(1);
  ASSERT_TRUE(by_token);
  for (int32_t id : ids) {
    auto l = by_token->eval({id}, false);
    ASSERT_TRUE(l.ok());
    decoded.insert(decoded.end(), l->begin(), l->end());
  }
  EXPECT_LT(max_abs_diff(*a, decoded), 1e-4f);
}

TEST_F(window_model, the_window_changes_what_a_long_prompt_sees) {
  // Without the window (every position attended) the last logits differ: the window is applied.
  const auto ids = prompt(40);
  auto windowed = load(8);
  model_options opt;
  opt.n_ctx = 128;
  opt.window_override = 0;
  auto full = model::load(path_, opt);
  ASSERT_TRUE(windowed && full.ok());
  auto a = windowed->eval(ids, false);
  auto b = (*full)->eval(ids, false);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GT(max_abs_diff(*a, *b), 1e-2f);
}

TEST_F(window_model, truncate_keeps_what_the_ring_still_holds) {
  const auto ids = prompt(40);
  auto m = load(4);  // rings of 8 cells
  ASSERT_TRUE(m);
  auto full = m->eval(ids, false);
  ASSERT_TRUE(full.ok());
  // Continuing at 38 needs positions 35..37: still in the ring (cells 8 >= 40 - 35).
  EXPECT_EQ(m->truncate(0, 38), 38);
  auto rest = m->eval(0, {ids[38], ids[39]}, false);
  ASSERT_TRUE(rest.ok());
  EXPECT_LT(max_abs_diff(*full, *rest), 1e-5f);
  // Continuing at 20 would need positions 17..19, long overwritten: nothing is kept.
  EXPECT_EQ(m->truncate(0, 20), 0);
  EXPECT_EQ(m->n_past(0), 0);
  auto again = m->eval(0, ids, false);
  ASSERT_TRUE(again.ok());
  EXPECT_LT(max_abs_diff(*full, *again), 1e-5f);
}

TEST(family_hparams, granite_reads_its_multipliers_and_requires_logit_scale) {
  const auto with_scales = rewrite_as(
      "granite",
      [](gguf::writer& w, const gguf::file&) {
        w.set_f32("granite.embedding_scale", 12.0f);
        w.set_f32("granite.residual_scale", 0.22f);
        w.set_f32("granite.attention.scale", 0.0078125f);
        w.set_f32("granite.logit_scale", 8.0f);
      },
      "granite");
  auto f = gguf::file::open(with_scales);
  ASSERT_TRUE(f.ok());
  auto hp = read_hparams(**f);
  ASSERT_TRUE(hp.ok()) << hp.error_message();
  EXPECT_FLOAT_EQ(hp->embd_scale, 12.0f);
  EXPECT_FLOAT_EQ(hp->residual_scale, 0.22f);
  EXPECT_FLOAT_EQ(hp->kq_scale, 0.0078125f);
  EXPECT_FLOAT_EQ(hp->logit_scale, 8.0f);
  EXPECT_TRUE(hp->use_rope);
  std::filesystem::remove(with_scales);

  const auto without = rewrite_as(
      "granite", [](gguf::writer&, const gguf::file&) {}, "granite_bare");
  auto g = gguf::file::open(without);
  ASSERT_TRUE(g.ok());
  auto bad = read_hparams(**g);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error_message().find("granite.logit_scale"), std::string::npos) << bad.error_message();
  std::filesystem::remove(without);
}

TEST(family_hparams, smollm3_runs_every_fourth_layer_without_rope) {
  const auto path = rewrite_as(
      "smollm3", [](gguf::writer&, const gguf::file&) {}, "smollm3");
  model_options opt;
  opt.n_ctx = 64;
  auto nope = model::load(path, opt);
  auto llama = model::load(k_stories, opt);
  std::filesystem::remove(path);
  ASSERT_TRUE(nope.ok() && llama.ok());
  const hparams& hp = (*nope)->params();
  for (int il = 0; il < 5; ++il) EXPECT_EQ(hp.has_rope(il), il != 3) << il;
  // The same weights as llama (RoPE everywhere) give other logits once positions matter.
  const auto ids = prompt(20);
  auto a = (*nope)->eval(ids, false);
  auto b = (*llama)->eval(ids, false);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GT(max_abs_diff(*a, *b), 1e-3f);
}

// stories260K as phi3: the FFN's gate and up rows fused into ffn_up, and q/k/v fused into attn_qkv
// when `fuse_qkv`; `factors` adds LongRoPE factor tensors (short all `short_value`, long 4.0) and
// an original context of 32.
std::string phi3_from_stories(bool fuse_qkv, bool factors, float short_value, const std::string& tag) {
  const auto fused_away = [fuse_qkv](const std::string& n) {
    const auto has = [&n](const char* part) { return n.find(part) != std::string::npos; };
    return has("ffn_gate") || has("ffn_up") || (fuse_qkv && (has("attn_q.") || has("attn_k.") || has("attn_v.")));
  };
  const auto edit = [&](gguf::writer& w, const gguf::file& src) {
    // The rows of `names` one after another, as one matrix's data.
    const auto concat = [&src](std::initializer_list<std::string> names) {
      std::vector<uint8_t> out;
      for (const auto& name : names) {
        const gguf::tensor_info* t = src.find_tensor(name);
        out.insert(out.end(), src.tensor_data(*t), src.tensor_data(*t) + t->n_bytes);
      }
      return out;
    };
    for (int il = 0; il < 5; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      w.add_tensor(p + "ffn_up.weight", ggml_type::f32, {64, 2 * 172},
                   concat({p + "ffn_gate.weight", p + "ffn_up.weight"}));
      if (fuse_qkv) {
        w.add_tensor(p + "attn_qkv.weight", ggml_type::f32, {64, 64 + 2 * 32},
                     concat({p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"}));
      }
    }
    if (factors) {
      const auto floats = [](float v) {
        const std::vector<float> f(4, v);
        const auto* b = reinterpret_cast<const uint8_t*>(f.data());
        return std::vector<uint8_t>(b, b + f.size() * sizeof(float));
      };
      w.add_tensor("rope_factors_short.weight", ggml_type::f32, {4}, floats(short_value));
      w.add_tensor("rope_factors_long.weight", ggml_type::f32, {4}, floats(4.0f));
      w.set_u32("phi3.rope.scaling.original_context_length", 32);
    }
  };
  return rewrite_as("phi3", edit, "phi3_" + tag, [&](const std::string& n) { return !fused_away(n); });
}

std::vector<float> last_logits(const std::string& path, int64_t n_ctx, const std::vector<int32_t>& ids) {
  model_options opt;
  opt.n_ctx = n_ctx;
  auto m = model::load(path, opt);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error_message());
  if (!m.ok()) return {};
  auto l = (*m)->eval(ids, false);
  EXPECT_TRUE(l.ok());
  return l.ok() ? *l : std::vector<float>{};
}

TEST(family_hparams, phi3_fused_qkv_equals_separate_projections) {
  const auto fused = phi3_from_stories(true, false, 1.0f, "fused");
  const auto separate = phi3_from_stories(false, false, 1.0f, "separate");
  const auto ids = prompt(20);
  EXPECT_LT(max_abs_diff(last_logits(fused, 64, ids), last_logits(separate, 64, ids)), 1e-5f);
  std::filesystem::remove(fused);
  std::filesystem::remove(separate);
}

TEST(family_hparams, phi3_longrope_takes_the_long_factors_past_the_original_context) {
  const auto plain = phi3_from_stories(true, false, 1.0f, "plain");
  const auto unit_short = phi3_from_stories(true, true, 1.0f, "unit_short");
  const auto ids = prompt(20);
  // Up to the original context (32) the short factors (all 1) apply: as if there were none.
  EXPECT_LT(max_abs_diff(last_logits(unit_short, 32, ids), last_logits(plain, 32, ids)), 1e-6f);
  // Past it the long factors (4) divide the frequencies: positions read differently.
  EXPECT_GT(max_abs_diff(last_logits(unit_short, 64, ids), last_logits(plain, 64, ids)), 1e-3f);
  std::filesystem::remove(plain);
  std::filesystem::remove(unit_short);
}

// gemma2 as llama.cpp reads it: window 4096 on every other layer (the last of each pair
// global) with the global RoPE, q.k capped at 50 and logits at 30; a pattern key overrides
// the layers as a period or one flag per layer.
hparams gemma2_hparams(const edit_fn& extra, const std::string& tag, std::string* error = nullptr) {
  const auto path = rewrite_as(
      "gemma2",
      [&](gguf::writer& w, const gguf::file& src) {
        add_gemma3_norms(w, true, false);
        if (extra) extra(w, src);
      },
      tag);
  auto f = gguf::file::open(path);
  EXPECT_TRUE(f.ok());
  auto hp = read_hparams(**f);
  std::filesystem::remove(path);
  if (!hp.ok() && error) *error = hp.error_message();
  return hp.ok() ? *hp : hparams{};
}

std::vector<bool> flags(std::initializer_list<int> v) { return std::vector<bool>(v.begin(), v.end()); }

TEST(family_hparams, gemma2_defaults_follow_llama_cpp) {
  const hparams hp = gemma2_hparams({}, "g2");
  EXPECT_EQ(hp.n_swa, 4096);
  EXPECT_EQ(hp.swa_layers, flags({1, 0, 1, 0, 1}));
  EXPECT_FLOAT_EQ(hp.attn_softcap, 50.0f);
  EXPECT_FLOAT_EQ(hp.final_softcap, 30.0f);
  EXPECT_FLOAT_EQ(hp.rope_swa.freq_base, hp.rope.freq_base);
  EXPECT_FLOAT_EQ(hp.embd_scale, 8.0f);  // sqrt(64)
}

TEST(family_hparams, sliding_window_pattern_as_a_period_or_per_layer) {
  const std::string key = "gemma2.attention.sliding_window_pattern";
  EXPECT_EQ(gemma2_hparams([&](gguf::writer& w, const gguf::file&) { w.set_u32(key, 3); }, "p3").swa_layers,
            flags({1, 1, 0, 1, 1}));
  EXPECT_EQ(gemma2_hparams([&](gguf::writer& w, const gguf::file&) { w.set_u32(key, 0); }, "p0").swa_layers,
            flags({1, 1, 1, 1, 1}));
  const auto per_layer = [&](std::vector<bool> v) {
    return [key, v](gguf::writer& w, const gguf::file&) {
      gguf::array_value arr{gguf::value_type::boolean, {}};
      for (bool b : v) arr.items.push_back(gguf::value{gguf::value_type::boolean, b});
      w.set_value(key, gguf::value{gguf::value_type::array, arr});
    };
  };
  EXPECT_EQ(gemma2_hparams(per_layer({false, true, true, false, false}), "arr").swa_layers, flags({0, 1, 1, 0, 0}));
  std::string error;
  gemma2_hparams(per_layer({true, false}), "short", &error);
  EXPECT_NE(error.find("sliding_window_pattern' has 2 entries for 5 layers"), std::string::npos) << error;
}

TEST(family_hparams, gemma3_without_its_norms_names_the_missing_tensor) {
  const auto path = rewrite_as(
      "gemma3", [](gguf::writer& w, const gguf::file&) { add_gemma3_norms(w, false); }, "missing");
  auto m = model::load(path, {});
  std::filesystem::remove(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error_message().find("missing tensor 'blk.0.post_ffw_norm.weight'"), std::string::npos)
      << m.error_message();
}

}  // namespace
}  // namespace pocketlm
