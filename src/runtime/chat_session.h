// A conversation on top of a session: renders the history with the model's chat template,
// tokenizes template text with special tokens and message text without them, splits
// <think> reasoning from the answer, and keeps the chat going when the context fills.
//
// Context policy: when the rendered prompt plus room for the reply does not fit, the oldest
// user/assistant turns after the system prompt are dropped (whole turns, oldest first) and the
// prompt is rendered again; the KV cache keeps whatever prefix still matches.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "chat/chat.h"
#include "chat/think_split.h"
#include "runtime/generate.h"

namespace pocketlm {

struct chat_reply {
  std::string reasoning;
  std::string answer;
  generate_stats stats;
  int dropped_turns = 0;  // turns dropped by the context policy for this reply
};

// The prompt tokens of `messages` rendered with template `kind`: template text may hold special
// tokens, message text never does. kind == none joins the contents as plain text (with BOS).
std::vector<int32_t> chat_prompt_tokens(const tokenizer& tok, chat::template_kind kind,
                                        const std::vector<chat::message>& messages,
                                        bool enable_thinking);

class chat_session {
 public:
  // kind == chat::template_kind::none continues plain text (models without a chat template).
  chat_session(session& s, const tokenizer& tok, chat::template_kind kind);

  void set_system(std::string text) { system_ = std::move(text); }
  void set_thinking(bool enabled) { thinking_ = enabled; }
  void clear();

  // Sends one user message and generates the reply; `on_reasoning` / `on_answer` receive the
  // streamed parts. The turn is added to the history unless generation failed.
  result<chat_reply> send(const std::string& user, const generate_request& params,
                          const text_sink& on_reasoning, const text_sink& on_answer,
                          const std::atomic<bool>* cancel = nullptr);

  const std::vector<chat::message>& history() const { return history_; }

 private:
  std::vector<chat::message> with_system(const std::vector<chat::message>& turns) const;

  session& session_;
  const tokenizer& tok_;
  chat::template_kind kind_;
  std::string system_;
  bool thinking_ = true;
  std::vector<chat::message> history_;  // user/assistant turns, without the system prompt
};

}  // namespace pocketlm
