// The scheduler (runtime/scheduler.h): a long prompt is cut into chunks that share their steps
// with other sequences' decodes, instead of stalling them; every sequence still gets exactly the
// logits it would get alone; one request's bad input fails only that request.
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include "runtime/session.h"

namespace pocketlm {
namespace {

const std::string k_model = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

std::unique_ptr<model> load(int n_seq, int64_t n_batch = 512) {
  model_options o;
  o.n_ctx = 512;
  o.n_seq = n_seq;
  o.n_batch = n_batch;
  auto m = model::load(k_model, o);
  EXPECT_TRUE(m.ok()) << m.error_message();
  return m.ok() ? std::move(*m) : nullptr;
}

int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

std::vector<int32_t> long_prompt() {
  std::vector<int32_t> p{1};
  for (int i = 0; i < 300; ++i) p.push_back(3 + (i * 37) % 500);
  return p;
}

TEST(Scheduler, LongPromptIsChunkedBetweenAnotherSequencesDecodes) {
  auto solo = load(1);
  auto shared_model = load(2);
  ASSERT_TRUE(solo && shared_model);
  // Alone: the prompt's logits, and 40 greedy decodes of the other sequence.
  session s0(*solo);
  const std::vector<float> prompt_alone = **s0.sync(long_prompt());
  std::vector<int32_t> decodes_alone;
  auto l = s0.sync({1, 400, 30});
  for (int i = 0; i < 400; ++i) {
    decodes_alone.push_back(argmax(**l));
    l = s0.push(decodes_alone.back());
  }

  scheduler sched(*shared_model, 4);  // 4-token steps: the prompt takes 76 of them
  std::atomic<int> decoded{0};
  std::atomic<bool> prompt_done{false};
  std::vector<int32_t> decodes;
  std::thread decoder([&] {
    session s(sched, 1);
    auto logits = s.sync({1, 400, 30});
    // Decodes for as long as the prompt runs (and a little longer), as a chatting client would.
    for (int i = 0; i < 400 && logits.ok() && (!prompt_done || i < 20); ++i) {
      decodes.push_back(argmax(**logits));
      ++decoded;
      logits = s.push(decodes.back());
    }
  });
  while (decoded == 0) std::this_thread::yield();  // the other sequence is mid-stream
  session p(sched, 0);
  auto prompt_logits = p.sync(long_prompt());
  prompt_done = true;
  decoder.join();
  decodes_alone.resize(decodes.size());
  ASSERT_TRUE(prompt_logits.ok()) << prompt_logits.error_message();
  // Equal up to rounding: 4-token chunks and one 300-token batch take different kernel tiles
  // (on AVX2 their sums round differently in the last digits).
  ASSERT_EQ((*prompt_logits)->size(), prompt_alone.size());
  float worst = 0;
  for (size_t i = 0; i < prompt_alone.size(); ++i)
    worst = std::max(worst, std::abs((**prompt_logits)[i] - prompt_alone[i]));
  EXPECT_LT(worst, 1e-3f) << "the chunked prompt's logits differ from the prompt alone";
  EXPECT_EQ(decodes, decodes_alone) << "decodes sharing steps with a prompt differ from decodes alone";
  EXPECT_GT(sched.interleaved_steps(), 0) << "no step carried a prompt chunk and a decode together";
}

TEST(Scheduler, OneSequencesBadInputFailsOnlyItself) {
  auto m = load(2);
  ASSERT_TRUE(m);
  scheduler sched(*m);
  EXPECT_FALSE(sched.eval(0, {1, 99999}).ok());                    // outside the vocabulary
  EXPECT_FALSE(sched.eval(5, {1}).ok());                           // no such sequence
  EXPECT_FALSE(sched.eval(1, std::vector<int32_t>(600, 1)).ok());  // over the context
  auto fine = sched.eval(0, {1, 400, 30});
  ASSERT_TRUE(fine.ok()) << fine.error_message();
  EXPECT_EQ(static_cast<int64_t>(fine->size()), m->params().n_vocab);
  EXPECT_EQ(m->n_past(1), 0);
}

TEST(Scheduler, DecodeTakesTokensOfSeveralSequencesAtTheirPositions) {
  auto m = load(2);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->eval(0, {1, 400}, false).ok());
  // Sequence 0 continues at 2, sequence 1 starts at 0; logits only where asked.
  auto out = m->decode({{30, 0, 2, true}, {1, 1, 0, false}, {77, 1, 1, true}});
  ASSERT_TRUE(out.ok()) << out.error_message();
  EXPECT_EQ(static_cast<int64_t>(out->size()), 2 * m->params().n_vocab);
  EXPECT_EQ(m->n_past(0), 3);
  EXPECT_EQ(m->n_past(1), 2);
  EXPECT_FALSE(m->decode({{5, 0, 7, true}}).ok());  // a gap in sequence 0
  EXPECT_FALSE(m->decode({}).ok());
}

}  // namespace
}  // namespace pocketlm
