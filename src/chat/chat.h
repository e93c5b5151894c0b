// chat/: owns chat prompt formatting: C++ renderings of the real chat templates that models ship
// (ChatML/Qwen2.5, Qwen3, DeepSeek-R1-Distill, Llama 3, Llama 2, Mistral-instruct), recognition of
// those templates from their Jinja text, and the streaming <think> splitter (think_split.h).
// No Jinja engine runs here: each family is hand-written and checked byte for byte against the
// model's own template rendered by @huggingface/jinja (tests/golden/chat, tools/gen_chat_golden.mjs).
// Calls only common/ and the C++ standard library.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pocketlm::chat {

// One chat turn. role is "system", "user", "assistant" or "tool" (tool turns are rendered by the
// Qwen and DeepSeek families, which have them). reasoning is an assistant's separated thinking
// text; empty means "none" (Qwen3 then looks for "<think>...</think>" inside content instead).
struct message {
  std::string role;
  std::string content;
  std::string reasoning;
};

struct options {
  bool add_generation_prompt = true;
  bool enable_thinking = true;  // Qwen3 only: false pre-fills an empty think block.
  std::string bos_token;        // the vocab's BOS text; used by the families whose templates print it
  std::string eos_token;        // the vocab's EOS text (Llama 2 / Mistral close assistant turns with it)
};

// A rendered prompt is a sequence of pieces. special pieces are template text (and BOS/EOS) and
// must be tokenized with special-token parsing; the others carry message text (and roles) and
// must be tokenized WITHOUT it, so a user typing "<|im_end|>" cannot end a turn or forge a role.
// To get llama.cpp's tokens for benign input, recognise special tokens only inside special pieces,
// then run the ordinary text tokenizer over each maximal run of remaining text, across piece
// boundaries. Adjacent pieces never share the same flag, and no piece is empty.
struct piece {
  std::string text;
  bool special = false;
};

enum class template_kind { chatml, qwen3, deepseek_r1, llama3, llama2, mistral, none };

// Recognises a real shipped template by a fingerprint of its whole text (see match.cpp for the
// normalisation); none when the text is not one of the known templates.
template_kind match_template(std::string_view jinja_source);

// --chat-template NAME: chatml, qwen3, deepseek-r1, llama3, llama2, mistral.
std::optional<template_kind> template_from_name(std::string_view name);
std::string_view template_name(template_kind k);

// Reports the conversations the template itself rejects (its raise_exception calls: Llama 2 and
// Mistral need user/assistant alternation after an optional leading system turn), and an empty
// list, which no template renders meaningfully.
status validate(template_kind k, const std::vector<message>& msgs);

// Renders msgs as the family's template does. Meant for lists validate() accepts; on others it
// still renders every turn in order without failing, but the template would have raised instead.
// template_kind::none renders nothing.
std::vector<piece> render(template_kind k, const std::vector<message>& msgs, const options& opt);

// Concatenation of render()'s pieces: the exact string the Jinja template produces.
std::string render_text(template_kind k, const std::vector<message>& msgs, const options& opt);

}  // namespace pocketlm::chat
