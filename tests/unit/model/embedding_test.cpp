// Embedding models (model::embed): the pooling type from <arch>.pooling_type (mean, cls, last) on
// a causal model (stories260K with the key added, as Qwen3-Embedding is a pooled qwen3), chat
// models refused, and a tiny bert written here: bidirectional attention, clear errors for a
// missing or mis-shaped tensor and for missing encoder metadata. Embeddings agreeing with
// llama.cpp's are tests/diff/embeddings.test.mjs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <unistd.h>

#include "gguf/gguf.h"
#include "model/model.h"
#include "../pooled_stories.h"

namespace pocketlm {
namespace {

const std::string k_stories = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

std::string temp_path(const std::string& tag) {
  return (std::filesystem::temp_directory_path() /
          ("pocketlm_embedding_" + tag + "_" + std::to_string(getpid()) + ".gguf"))
      .string();
}

using testing_models::pooled_stories;

std::vector<float> embed_with(const std::string& path, const std::vector<int32_t>& tokens) {
  auto m = model::load(path, {});
  EXPECT_TRUE(m.ok()) << m.error_message();
  auto e = (*m)->embed(0, tokens);
  EXPECT_TRUE(e.ok()) << e.error_message();
  double norm = 0;
  for (float v : *e) norm += static_cast<double>(v) * v;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ((*m)->n_past(0), 0);
  return *e;
}

TEST(Embedding, ChatModelIsRefusedAsOllamaDoes) {
  auto m = model::load(k_stories, {});
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE((*m)->is_embedding_model());
  auto e = (*m)->embed(0, {1, 400, 30});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error_message(), "this model does not support embeddings");
  EXPECT_EQ(e.err().kind, error_kind::unsupported);
}

TEST(Embedding, CausalModelPoolsAsItsGgufSays) {
  const std::vector<int32_t> tokens{1, 400, 30, 77};
  const auto mean = embed_with(pooled_stories(1), tokens);
  EXPECT_EQ(embed_with(pooled_stories(1), tokens), mean);  // deterministic
  EXPECT_NE(embed_with(pooled_stories(1), {1, 400, 30, 78}), mean);
  // A causal model's first hidden state sees only the first token; its last one sees them all.
  const auto cls = embed_with(pooled_stories(2), tokens);
  EXPECT_EQ(cls, embed_with(pooled_stories(2), {1, 500}));
  const auto last = embed_with(pooled_stories(3), tokens);
  EXPECT_NE(last, mean);
  EXPECT_NE(last, embed_with(pooled_stories(3), {1, 400, 30, 78}));
}

// A one-layer bert (n_embd 8, 2 heads, n_ff 16, 16 positions, 120 tokens) with seeded weights;
// `skip` drops a tensor, `shape_of` may change one's shape.
std::string tiny_bert(int pooling, const std::string& skip = {}, const std::string& misshape = {},
                      bool token_type_count = true) {
  gguf::writer w;
  w.set_string("general.architecture", "bert");
  w.set_u32("bert.block_count", 1);
  w.set_u32("bert.context_length", 16);
  w.set_u32("bert.embedding_length", 8);
  w.set_u32("bert.feed_forward_length", 16);
  w.set_u32("bert.attention.head_count", 2);
  w.set_f32("bert.attention.layer_norm_epsilon", 1e-12f);
  w.set_bool("bert.attention.causal", false);
  w.set_u32("bert.pooling_type", static_cast<uint32_t>(pooling));
  std::vector<std::string> tokens;
  for (int i = 0; i < 120; ++i)
    tokens.push_back(i == 100 ? "[UNK]" : i == 101 ? "[CLS]" : i == 102 ? "[SEP]" : "t" + std::to_string(i));
  w.set_string("tokenizer.ggml.model", "bert");
  if (token_type_count) w.set_u32("tokenizer.ggml.token_type_count", 2);
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  const auto add = [&](const std::string& name, std::vector<int64_t> ne, float mean) {
    if (name == skip) return;
    if (name == misshape) ne[0] += 1;
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = mean + normal(rng);
    const auto* b = reinterpret_cast<const uint8_t*>(v.data());
    w.add_tensor(name, ggml_type::f32, ne, std::vector<uint8_t>(b, b + v.size() * sizeof(float)));
  };
  add("token_embd.weight", {8, 120}, 0);
  add("token_types.weight", {8, 2}, 0);
  add("position_embd.weight", {8, 16}, 0);
  add("token_embd_norm.weight", {8}, 1);
  add("token_embd_norm.bias", {8}, 0);
  for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"}) {
    add(std::string("blk.0.") + m + ".weight", {8, 8}, 0);
    add(std::string("blk.0.") + m + ".bias", {8}, 0);
  }
  add("blk.0.attn_output_norm.weight", {8}, 1);
  add("blk.0.attn_output_norm.bias", {8}, 0);
  add("blk.0.ffn_up.weight", {8, 16}, 0);
  add("blk.0.ffn_up.bias", {16}, 0);
  add("blk.0.ffn_down.weight", {16, 8}, 0);
  add("blk.0.ffn_down.bias", {8}, 0);
  add("blk.0.layer_output_norm.weight", {8}, 1);
  add("blk.0.layer_output_norm.bias", {8}, 0);
  const std::string path = temp_path("bert_" + std::to_string(pooling) + skip + misshape);
  EXPECT_TRUE(w.write_file(path).ok());
  return path;
}

TEST(Embedding, BertAttendsBothWays) {
  const std::string path = tiny_bert(2);
  auto m = model::load(path, {});
  ASSERT_TRUE(m.ok()) << m.error_message();
  EXPECT_TRUE((*m)->is_embedding_model());
  EXPECT_FALSE((*m)->params().causal);
  // CLS pooling reads the first position: it changes with a later token only without a mask.
  EXPECT_NE(embed_with(path, {101, 5, 102}), embed_with(path, {101, 6, 102}));
  EXPECT_EQ(embed_with(path, {101, 5, 102}), embed_with(path, {101, 5, 102}));
  auto logits = (*m)->eval({101, 5}, false);
  ASSERT_FALSE(logits.ok());
  EXPECT_NE(logits.error_message().find("embedding model"), std::string::npos);
  auto too_long = (*m)->embed(0, std::vector<int32_t>(17, 5));
  EXPECT_FALSE(too_long.ok());
}

TEST(Embedding, BertLoadErrorsNameTheTensorOrKey) {
  auto missing = model::load(tiny_bert(1, "blk.0.layer_output_norm.bias"), {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error_message(), "model: missing tensor 'blk.0.layer_output_norm.bias'");
  auto shape = model::load(tiny_bert(1, {}, "blk.0.ffn_up.weight"), {});
  ASSERT_FALSE(shape.ok());
  EXPECT_EQ(shape.error_message(),
            "model: tensor 'blk.0.ffn_up.weight' has wrong shape: expected [8, 16], got [9, 16]");
  auto no_types = model::load(tiny_bert(1, {}, {}, false), {});
  ASSERT_FALSE(no_types.ok());
  EXPECT_NE(no_types.error_message().find("token_type_count"), std::string::npos);
}

}  // namespace
}  // namespace pocketlm
