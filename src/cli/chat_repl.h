// Shared pieces of `pocketlm run`: loading a model for chat, printing one streamed answer with
// its reasoning, the interactive loop and the --verbose statistics.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "cli/verbs.h"
#include "model/model.h"
#include "runtime/chat_session.h"
#include "runtime/constraint.h"
#include "tokenizer/tokenizer.h"

namespace pocketlm::cli {

struct run_args {
  std::string model_path;
  std::string prompt;
  generate_request gen;
  engine_flags engine;  // -t, --cpu-mask, --ram, --kv-type
  int64_t n_ctx = 0;
  std::string chat_template;         // --chat-template NAME (a built-in, or none)
  std::string chat_template_file;    // --chat-template-file FILE
  std::string chat_template_kwargs;  // --chat-template-kwargs JSON (an object)
  bool verbose_prompt = false;       // --verbose-prompt: print each rendered prompt and its tokens
  std::string system;
  bool hide_thinking = false;
  bool think = true;
  bool verbose = false;
  std::string format;  // --format json|SCHEMA_FILE: the answer follows the grammar
};

// Destruction order: chat, then session, tokenizer, model (members declared in reverse).
struct chat_model {
  std::unique_ptr<model> llm;
  std::unique_ptr<tokenizer> tok;
  std::unique_ptr<session> sess;
  std::unique_ptr<chat_session> chat;
  chat::template_set templates;  // before chat: the session points at templates.main
  vocab_trie vocab;              // for --format
  double load_ms = 0;
};

result<std::unique_ptr<chat_model>> load_chat_model(const run_args& a);
// --format: "json" (any JSON object) or a JSON Schema file, compiled to a grammar. Errors name
// the file and, for a schema, the unsupported keyword.
result<grammar::grammar_ptr> load_format(const std::string& format);
// Streams one reply to `text`; returns false on error (printed).
bool answer_once(chat_model& cm, const run_args& a, const std::string& text);
int interactive_loop(chat_model& cm, run_args& a);
// Set by Ctrl-C (SIGINT): stops the current answer; at the prompt, read_line returns.
std::atomic<bool>& chat_interrupt_flag();
void install_sigint_handler();

}  // namespace pocketlm::cli
