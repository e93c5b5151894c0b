// Loads the real stories260K model and checks the forward pass's behaviour and load-time errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <algorithm>
#include <string>
#include <vector>
#include <unistd.h>

#include "gguf/gguf.h"
#include "model/model.h"

namespace pocketlm {
namespace {

const std::string k_stories = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

std::unique_ptr<model> load(const std::string& path, int64_t n_ctx = 0, int threads = 1) {
  model_options opt;
  opt.n_ctx = n_ctx;
  opt.n_threads = threads;
  auto m = model::load(path, opt);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error_message());
  return m.ok() ? std::move(*m) : nullptr;
}

int32_t argmax(const std::vector<float>& v, size_t offset, size_t n) {
  return static_cast<int32_t>(std::max_element(v.begin() + offset, v.begin() + offset + n) - (v.begin() + offset));
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

TEST(model_stories, reads_hparams) {
  auto m = load(k_stories);
  ASSERT_TRUE(m);
  const auto& hp = m->params();
  EXPECT_EQ(hp.arch, arch_kind::llama);
  EXPECT_EQ(hp.n_embd, 64);
  EXPECT_EQ(hp.n_layer, 5);
  EXPECT_EQ(hp.n_head, 8);
  EXPECT_EQ(hp.n_head_kv, 4);
  EXPECT_EQ(hp.n_ff, 172);
  EXPECT_EQ(hp.n_vocab, 512);
  EXPECT_EQ(hp.rope.mode, kernels::rope_mode::normal);
  EXPECT_FLOAT_EQ(hp.rope.freq_base, 10000.0f);  // absent from the file: default
}

// Greedy decoding from BOS alone writes the story the model is known for; the token pieces are
// read from the file's own vocabulary, so no tokenizer is involved.
TEST(model_stories, greedy_from_bos_tells_the_known_story) {
  auto m = load(k_stories);
  ASSERT_TRUE(m);
  const auto* tokens = m->file().get_array("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  std::vector<int32_t> ids{1};
  std::string text;
  auto logits = m->eval(ids, false);
  for (int i = 0; i < 18 && logits.ok(); ++i) {
    const int32_t next = argmax(*logits, 0, 512);
    text += *tokens->items[static_cast<size_t>(next)].as_string();
    logits = m->eval({next}, false);
  }
  ASSERT_TRUE(logits.ok());
  std::string spaced;
  for (size_t i = 0; i < text.size(); ++i) {  // "▁" (U+2581, 3 bytes) is a space
    if (text.compare(i, 3, "\xe2\x96\x81") == 0) {
      spaced += ' ';
      i += 2;
    } else {
      spaced += text[i];
    }
  }
  EXPECT_EQ(spaced.rfind(" Once upon a time, there was a little girl named Lily.", 0), 0u) << spaced;
}

TEST(model_stories, batched_prefill_equals_token_by_token_decode) {
  const std::vector<int32_t> ids{1, 403, 407, 261, 378, 432, 383, 322};
  auto batched = load(k_stories);
  auto stepwise = load(k_stories, 0, 2);
  ASSERT_TRUE(batched && stepwise);
  auto all = batched->eval(ids, true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), ids.size() * 512);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto one = stepwise->eval({ids[i]}, false);
    ASSERT_TRUE(one.ok());
    std::vector<float> row(all->begin() + static_cast<long>(i * 512), all->begin() + static_cast<long>((i + 1) * 512));
    EXPECT_LT(max_abs_diff(row, *one), 1e-4f) << "position " << i;
  }
}

TEST(model_stories, truncate_reuses_the_kept_prefix) {
  const std::vector<int32_t> ids{1, 403, 407, 261, 378};
  auto m = load(k_stories);
  ASSERT_TRUE(m);
  auto full = m->eval(ids, false);
  ASSERT_TRUE(full.ok());
  m->truncate(3);
  EXPECT_EQ(m->n_past(), 3);
  auto rest = m->eval({ids[3], ids[4]}, false);
  ASSERT_TRUE(rest.ok());
  EXPECT_LT(max_abs_diff(*full, *rest), 1e-5f);
  // A different continuation must change the result (the cache really is used).
  m->truncate(3);
  auto other = m->eval({ids[3], 500}, false);
  ASSERT_TRUE(other.ok());
  EXPECT_GT(max_abs_diff(*full, *other), 0.1f);
}

// The power policy's lever (runtime/power.h): passes on fewer threads give the same logits (the
// kernels sum in the same order whatever the thread count), and the count is clamped.
TEST(model_stories, fewer_active_threads_give_the_same_logits) {
  const std::vector<int32_t> ids{1, 403, 407, 261, 378, 300, 420, 17};
  auto m = load(k_stories, 0, 3);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->threads(), 3);
  auto full = m->eval(ids, false);
  ASSERT_TRUE(full.ok());
  for (int n : {1, 2, 3, 1}) {
    m->set_active_threads(n);
    EXPECT_EQ(m->active_threads(), n);
    m->truncate(0);
    auto fewer = m->eval(ids, false);
    ASSERT_TRUE(fewer.ok());
    EXPECT_EQ(max_abs_diff(*full, *fewer), 0.0f) << n << " threads";
  }
  m->set_active_threads(64);
  EXPECT_EQ(m->active_threads(), 3);
  m->set_active_threads(0);
  EXPECT_EQ(m->active_threads(), 1);
}

TEST(model_stories, prompt_longer_than_context_is_an_error) {
  auto m = load(k_stories, 8);
  ASSERT_TRUE(m);
  auto r = m->eval(std::vector<int32_t>(9, 1), false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_message().find("exceed the context of 8"), std::string::npos) << r.error_message();
  EXPECT_EQ(m->n_past(), 0);
}

TEST(model_stories, token_outside_vocabulary_is_an_error) {
  auto m = load(k_stories);
  ASSERT_TRUE(m);
  auto r = m->eval({1, 512}, false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_message().find("512 is outside the vocabulary [0, 512)"), std::string::npos);
}

// Rewrites stories260K with one change and returns the load error.
std::string load_error_after(const std::function<void(gguf::writer&, const gguf::file&)>& edit,
                             const std::string& skip_tensor, const std::string& tag) {
  auto src = gguf::file::open(k_stories);
  if (!src.ok()) return "cannot open stories: " + src.error_message();
  gguf::writer w;
  for (const auto& kv : (*src)->metadata()) w.set_value(kv.key, kv.val);
  for (const auto& t : (*src)->tensors()) {
    if (t.name == skip_tensor) continue;
    const uint8_t* d = (*src)->tensor_data(t);
    w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims),
                 std::vector<uint8_t>(d, d + t.n_bytes));
  }
  edit(w, **src);
  const auto path =
      std::filesystem::temp_directory_path() / ("pocketlm_model_" + tag + "_" + std::to_string(getpid()) + ".gguf");
  if (auto st = w.write_file(path.string()); !st.ok()) return "write failed: " + st.error_message();
  auto m = model::load(path.string(), {});
  std::filesystem::remove(path);
  return m.ok() ? "" : m.error_message();
}

TEST(model_load_errors, unknown_architecture) {
  const auto msg = load_error_after(
      [](gguf::writer& w, const gguf::file&) { w.set_string("general.architecture", "gpt9"); }, "", "arch");
  EXPECT_NE(msg.find("unknown architecture 'gpt9'"), std::string::npos) << msg;
}

TEST(model_load_errors, missing_tensor) {
  const auto msg = load_error_after([](gguf::writer&, const gguf::file&) {}, "blk.2.attn_q.weight", "missing");
  EXPECT_NE(msg.find("missing tensor 'blk.2.attn_q.weight'"), std::string::npos) << msg;
}

TEST(model_load_errors, wrong_shape) {
  const auto msg = load_error_after(
      [](gguf::writer& w, const gguf::file&) {
        w.add_tensor("output_norm.weight", ggml_type::f32, {32}, std::vector<uint8_t>(128, 0));
      },
      "output_norm.weight", "shape");
  EXPECT_NE(msg.find("'output_norm.weight' has wrong shape: expected [64], got [32]"), std::string::npos) << msg;
}

TEST(model_load_errors, missing_hyperparameter) {
  const auto msg = load_error_after(
      [](gguf::writer& w, const gguf::file&) { w.set_string("llama.block_count", "five"); }, "", "hparam");
  EXPECT_NE(msg.find("llama.block_count"), std::string::npos) << msg;
}

}  // namespace
}  // namespace pocketlm
