// A conversation on top of a session: renders the history with the model's chat template,
// tokenizes template text with special tokens and message text without them, splits
// <think> reasoning from the answer, and keeps the chat going when the context fills.
// Also where a model's chat templates are chosen (the GGUF's, a built-in, a file), for the CLI
// and the server alike.
//
// Context policy: when the rendered prompt plus room for the reply does not fit, the oldest
// user/assistant turns after the system prompt are dropped (whole turns, oldest first) and the
// prompt is rendered again; the KV cache keeps whatever prefix still matches.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "chat/chat.h"
#include "chat/think_split.h"
#include "gguf/gguf.h"
#include "runtime/generate.h"

namespace pocketlm {

struct chat_reply {
  std::string reasoning;
  std::string answer;
  generate_stats stats;
  int dropped_turns = 0;  // turns dropped by the context policy for this reply
};

// --chat-template NAME / --chat-template-file FILE. Both empty: the GGUF's own templates.
struct template_choice {
  std::string name;  // a built-in (chat::builtin_names()) or "none" (plain text prompts)
  std::string file;  // a Jinja file
};

// The templates a model runs with. The GGUF's tokenizer.chat_template (and each
// tokenizer.chat_template.<name>) unless the choice names another; a GGUF without one has none
// (prompts are plain text). A GGUF template that does not parse falls back to the built-in
// chatml with a warning, as llama.cpp does; a chosen one that does not parse is an error.
result<chat::template_set> load_chat_templates(const gguf::file& f, const template_choice& choice,
                                               std::vector<std::string>& warnings);

// A rendered, tokenized chat prompt.
struct chat_prompt {
  std::vector<int32_t> tokens;
  std::string text;              // the rendered prompt
  bool starts_in_think = false;  // it ends inside an open <think> (DeepSeek-R1, Qwen3 variants)
};

// The vocab's BOS / EOS texts in `opt`, as templates print them.
chat::options chat_options_for(const tokenizer& tok, chat::options opt = {});

// Renders `messages` and tokenizes: template text may hold special tokens, message text never
// does. BOS as llama.cpp does it: when the vocab adds one, a BOS the template printed at the
// start is not doubled. tmpl == nullptr joins the contents as plain text (with BOS).
result<chat_prompt> chat_prompt_tokens(const tokenizer& tok, const chat::chat_template* tmpl,
                                       const std::vector<chat::message>& messages, const chat::options& opt);

class chat_session {
 public:
  // tmpl == nullptr continues plain text (models without a chat template). tmpl must outlive it.
  chat_session(session& s, const tokenizer& tok, const chat::chat_template* tmpl);

  void set_system(std::string text) { system_ = std::move(text); }
  void set_thinking(bool enabled) { thinking_ = enabled; }
  void set_template_kwargs(nlohmann::ordered_json kwargs) { kwargs_ = std::move(kwargs); }
  // Called with each prompt before it is evaluated (--verbose-prompt).
  void on_prompt(std::function<void(const chat_prompt&)> f) { on_prompt_ = std::move(f); }
  void clear();

  // Sends one user message and generates the reply; `on_reasoning` / `on_answer` receive the
  // streamed parts. The turn is added to the history unless generation failed.
  result<chat_reply> send(const std::string& user, const generate_request& params, const text_sink& on_reasoning,
                          const text_sink& on_answer, const std::atomic<bool>* cancel = nullptr);

  const std::vector<chat::message>& history() const { return history_; }

 private:
  std::vector<chat::message> with_system(const std::vector<chat::message>& turns) const;
  result<chat_prompt> prompt_for(const std::vector<chat::message>& turns) const;

  session& session_;
  const tokenizer& tok_;
  const chat::chat_template* tmpl_;
  std::string system_;
  bool thinking_ = true;
  nlohmann::ordered_json kwargs_ = nlohmann::ordered_json::object();
  std::function<void(const chat_prompt&)> on_prompt_;
  std::vector<chat::message> history_;  // user/assistant turns, without the system prompt
};

}  // namespace pocketlm
