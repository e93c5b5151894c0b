// chat/: streaming separation of a model's "<think>...</think>" reasoning from its answer.
#pragma once

#include <string>
#include <string_view>

namespace pocketlm::chat {

// Feed generated text in arbitrary chunks; each push returns what can already be attributed.
// Rules, modelled on llama.cpp's DeepSeek-R1 reply parser (common/chat.cpp: an optional leading
// "<think>", reasoning string-stripped, the answer's leading " \r\n" dropped) and Ollama's:
//  - Without started_in_think, an opening "<think>" counts only at the very start of the output,
//    after optional whitespace; if the output starts with anything else, all of it (leading
//    whitespace included) is answer and no tag is ever looked for again.
//  - started_in_think=true is for prompts that already opened the block (DeepSeek-R1's generation
//    prompt ends in "<think>\n"): output is reasoning until "</think>"; a repeated "<think>" at
//    the very start is skipped.
//  - Reasoning is trimmed of whitespace at both ends; the answer is trimmed of leading whitespace
//    after "</think>" (the "\n\n" models emit there). After "</think>" everything is answer,
//    including any later "<think>" text. Whitespace here means space, \t, \n, \r.
//  - A chunk that ends in a prefix of the tag being looked for (e.g. "<thi"), or in whitespace
//    that would be trimmed if a tag followed, is held back until the next push or flush.
// Concatenating every push's and flush's fields gives the same strings whatever the chunking.
class think_splitter {
 public:
  explicit think_splitter(bool started_in_think);

  struct out {
    std::string reasoning;
    std::string answer;
  };

  out push(std::string_view text);
  // End of stream: releases what was held back (a dangling partial tag is plain text; reasoning
  // never closed stays reasoning).
  out flush();

 private:
  enum class state { opening, reasoning_lead, reasoning, answer_lead, answer };
  void step_opening(out& o);
  void step_reasoning(out& o);

  bool forced_open_;
  state state_;
  std::string held_;  // text not yet attributed
};

}  // namespace pocketlm::chat
