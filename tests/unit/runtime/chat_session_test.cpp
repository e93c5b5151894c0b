// Multi-turn sessions on the real stories260K model: each turn reuses the cached prefix, and a
// full context drops the oldest turns instead of failing.
#include <gtest/gtest.h>

#include "runtime/chat_session.h"

namespace pocketlm {
namespace {

struct stories_chat {
  std::unique_ptr<model> llm;
  std::unique_ptr<tokenizer> tok;
  std::unique_ptr<session> sess;
  std::unique_ptr<chat_session> chat;

  explicit stories_chat(int64_t n_ctx) {
    model_options opt;
    opt.n_ctx = n_ctx;
    auto m = model::load(std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf", opt);
    EXPECT_TRUE(m.ok());
    llm = std::move(*m);
    auto t = tokenizer::from_gguf(llm->file());
    EXPECT_TRUE(t.ok());
    tok = std::move(*t);
    sess = std::make_unique<session>(*llm);
    chat = std::make_unique<chat_session>(*sess, *tok, nullptr);
  }
};

generate_request greedy(int n) {
  generate_request r;
  r.sampling.temperature = 0;
  r.sampling.repeat_penalty = 1.0f;
  r.n_predict = n;
  return r;
}

const text_sink k_ignore = [](std::string_view) { return true; };

TEST(chat_session, second_turn_evaluates_only_new_tokens) {
  stories_chat c(512);
  auto first = c.chat->send("Once upon a time", greedy(12), k_ignore, k_ignore);
  ASSERT_TRUE(first.ok()) << first.error_message();
  EXPECT_NE(first->answer.find("there was a little girl"), std::string::npos) << first->answer;
  EXPECT_EQ(first->stats.n_generated, 12);
  auto second = c.chat->send(" She liked cats.", greedy(8), k_ignore, k_ignore);
  ASSERT_TRUE(second.ok());
  // Everything up to the new text came from the cache.
  EXPECT_LE(second->stats.n_prompt_evaluated, 7);
  EXPECT_GT(second->stats.n_prompt, 20);
}

TEST(chat_session, full_context_drops_oldest_turns_and_keeps_going) {
  stories_chat c(64);
  int dropped = 0;
  for (int turn = 0; turn < 6; ++turn) {
    auto r = c.chat->send(" The dog ran to the park and played.", greedy(16), k_ignore, k_ignore);
    ASSERT_TRUE(r.ok()) << "turn " << turn << ": " << r.error_message();
    dropped += r->dropped_turns;
    EXPECT_LE(static_cast<int64_t>(c.sess->cached().size()), 64);
  }
  EXPECT_GT(dropped, 0);
}

TEST(chat_session, prompt_too_long_for_context_is_a_clear_error) {
  stories_chat c(16);
  std::string text;
  for (int i = 0; i < 20; ++i) text += " The dog ran.";
  auto r = c.chat->send(text, greedy(4), k_ignore, k_ignore);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_message().find("does not fit the context of 16"), std::string::npos) << r.error_message();
}

}  // namespace
}  // namespace pocketlm
