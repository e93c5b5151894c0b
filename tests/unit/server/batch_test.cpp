// The model's sequences (the server's slots): each keeps its own KV cache, and greedy decodes
// run concurrently from several threads (batched into shared forward passes) give the tokens
// the same decodes give alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "model/model.h"
#include "runtime/session.h"
#include "../pooled_stories.h"

namespace pocketlm {
namespace {

const std::string k_model = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

std::unique_ptr<model> load(int n_seq, const std::string& path = k_model) {
  model_options o;
  o.n_ctx = 256;
  o.n_seq = n_seq;
  auto m = model::load(path, o);
  EXPECT_TRUE(m.ok()) << m.error_message();
  return m.ok() ? std::move(*m) : nullptr;
}

int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

std::vector<int32_t> greedy(session& s, std::vector<int32_t> prompt, int n) {
  auto logits = s.sync(prompt);
  EXPECT_TRUE(logits.ok()) << logits.error_message();
  std::vector<int32_t> out;
  for (int i = 0; i < n && logits.ok(); ++i) {
    out.push_back(argmax(**logits));
    logits = s.push(out.back());
  }
  return out;
}

TEST(ModelSequences, EachSequenceKeepsItsOwnCache) {
  auto m = load(2);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->n_seq(), 2);
  ASSERT_TRUE(m->eval(0, {1, 400, 30}, false).ok());
  EXPECT_EQ(m->n_past(0), 3);
  EXPECT_EQ(m->n_past(1), 0);
  ASSERT_TRUE(m->eval(1, {1}, false).ok());
  EXPECT_EQ(m->n_past(1), 1);
  m->truncate(0, 1);
  EXPECT_EQ(m->n_past(0), 1);
  EXPECT_EQ(m->n_past(1), 1);
  EXPECT_FALSE(m->eval(2, {1}, false).ok());  // no such sequence
}

TEST(ModelSequences, ConcurrentGreedyDecodesEqualDecodesAlone) {
  auto solo = load(1);
  auto multi = load(3);
  ASSERT_TRUE(solo && multi);
  const std::vector<std::vector<int32_t>> prompts = {{1, 400, 30, 9}, {1, 77, 12}, {1, 260, 261, 262, 5}};
  std::vector<std::vector<int32_t>> alone;
  session s0(*solo);
  for (const auto& p : prompts) alone.push_back(greedy(s0, p, 60));

  std::vector<std::vector<int32_t>> together(prompts.size());
  std::vector<std::thread> threads;
  scheduler shared(*multi);
  for (size_t i = 0; i < prompts.size(); ++i) {
    threads.emplace_back([&, i] {
      session s(shared, static_cast<int>(i));
      together[i] = greedy(s, prompts[i], 60);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(together[i], alone[i]) << "sequence " << i;
  std::printf("decodes that shared a forward pass: %lld\n", static_cast<long long>(shared.batched_decodes()));
}

TEST(ModelSequences, EmbeddingIsUnitLengthAndLeavesTheSequenceEmpty) {
  auto m = load(2, testing_models::pooled_stories(1));
  ASSERT_TRUE(m);
  session s(*m, 1);
  ASSERT_TRUE(s.sync({1, 400, 30}).ok());
  auto e = s.embed({1, 400, 30});
  ASSERT_TRUE(e.ok()) << e.error_message();
  ASSERT_EQ(static_cast<int64_t>(e->size()), m->params().n_embd);
  double norm = 0;
  for (float v : *e) norm += static_cast<double>(v) * v;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(m->n_past(1), 0);
  EXPECT_TRUE(s.cached().empty());
  auto again = s.embed({1, 400, 30});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *e);
  auto other = s.embed({1, 77, 12});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *e);
}

}  // namespace
}  // namespace pocketlm
