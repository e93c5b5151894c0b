// chat/: owns chat prompt formatting. Every model's own chat template (Jinja text from its GGUF,
// a built-in one by name, or a file) is rendered by the Jinja engine in chat/jinja/ with the
// variables Hugging Face transformers and llama.cpp pass; the result is a list of pieces that
// says which bytes are template text (tokenized with special tokens) and which came from the
// conversation (tokenized without). Also the streaming <think> splitter (think_split.h).
// Calls only common/, nlohmann-json and the C++ standard library.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja/jinja.h"
#include "common/result.h"

namespace pocketlm::chat {

// One chat turn. role is "system", "user", "assistant", "tool" or whatever the caller's API
// allows. reasoning is an assistant's separated thinking text (passed as reasoning_content when
// not empty). extra holds the message's other fields as the API client sent them (tool_calls,
// tool_call_id, name, and "content" when it is a list of parts); they reach the template as is.
struct message {
  std::string role;
  std::string content;
  std::string reasoning;
  nlohmann::ordered_json extra = nullptr;
};

struct options {
  bool add_generation_prompt = true;
  // Passed as enable_thinking only when set: templates differ in what an absent one means (Qwen3
  // thinks, some QwQ variants close the block), and transformers and llama.cpp leave it out.
  std::optional<bool> enable_thinking;
  std::string bos_token;                   // the vocab's BOS text (template text, not data)
  std::string eos_token;                   // the vocab's EOS text
  nlohmann::ordered_json tools = nullptr;  // OpenAI-style tool definitions; null: none
  std::optional<std::string> reasoning_effort;
  // Extra template variables (--chat-template-kwargs, chat_template_kwargs): they win over the
  // variables above, as transformers lets kwargs win, except bos_token / eos_token.
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
  std::optional<int64_t> now_unix;  // the time strftime_now() formats (UTC); nullopt: the clock
};

// A rendered prompt is a sequence of pieces. special pieces are template text (and BOS/EOS) and
// must be tokenized with special-token parsing; the others carry conversation text and must be
// tokenized WITHOUT it, so a user typing "<|im_end|>" cannot end a turn or forge a role.
// To get llama.cpp's tokens for benign input, recognise special tokens only inside special pieces,
// then run the ordinary text tokenizer over each maximal run of remaining text, across piece
// boundaries. Adjacent pieces never share the same flag, and no piece is empty.
struct piece {
  std::string text;
  bool special = false;
};

// A parsed chat template and what rendering needs to know about it. Immutable after creation;
// share one per loaded model (rendering never reparses).
class chat_template {
 public:
  // `origin` says where the text came from, for messages ("the GGUF", "built-in chatml", a path).
  static result<std::shared_ptr<const chat_template>> parse(std::string source, std::string origin);

  const std::string& source() const { return source_; }
  const std::string& origin() const { return origin_; }
  // The template reasons in <think> blocks (it mentions <think> or reasoning_content): generated
  // text may open with reasoning, which the <think> splitter separates.
  bool reasoning() const { return reasoning_; }
  // Content given as a list of parts reaches the template as that list (transformers' way) when
  // the template reads lists; otherwise its text parts are joined into one string.
  bool typed_content() const { return typed_content_; }

  result<std::vector<piece>> render(const std::vector<message>& msgs, const options& opt) const;
  // The variables render() passes, for tools and tests.
  nlohmann::ordered_json context(const std::vector<message>& msgs, const options& opt) const;

 private:
  std::string source_, origin_;
  std::shared_ptr<const jinja::program> program_;
  bool reasoning_ = false;
  bool typed_content_ = false;
};

using template_ptr = std::shared_ptr<const chat_template>;

// A model's templates: the default one and the named ones a GGUF may carry
// (tokenizer.chat_template.<name>, e.g. tool_use).
struct template_set {
  template_ptr main;  // null: the model has no chat template (prompts are plain text)
  std::map<std::string, template_ptr> named;
  // The template for a request: "tool_use" when tools are given and the model has one, else main.
  const chat_template* pick(bool has_tools) const;
};

// Built-in templates (--chat-template NAME), for GGUFs that ship none: real templates as models
// ship them, compiled into the binary from src/chat/builtin/*.jinja.
std::vector<std::string> builtin_names();
std::optional<std::string_view> builtin_source(std::string_view name);

// The text after the last "<think>" is still open (the prompt ends inside a reasoning block).
bool ends_inside_think(std::string_view rendered);
// The text ends with a closed "</think>" (and whitespace): the generation prompt did the
// reasoning block itself (Qwen3 with enable_thinking false), the answer comes next.
bool ends_think_block(std::string_view rendered);

}  // namespace pocketlm::chat
