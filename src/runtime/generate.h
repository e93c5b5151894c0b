// The generation loop: prompt -> sampled tokens -> streamed UTF-8 text, with stop strings, a
// token limit, end-of-generation tokens, cancellation and timing.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runtime/constraint.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace pocketlm {

struct generate_request {
  std::vector<int32_t> prompt;
  sampler_params sampling;
  int n_predict = -1;             // -1: until end of generation or the context is full
  std::vector<std::string> stop;  // generation ends before any of these strings
  // A grammar the output must follow (structured output, tool calls); generation ends when the
  // grammar is complete.
  grammar_constraint constraint;
  // -1: no reports; 0..20: on_token gets each generated token (end-of-generation ones excluded)
  // with that many alternatives, before its text reaches the sink. Costs a pass over the
  // vocabulary per token. Pieces are rendered as the sink's text (chosen) and with special
  // tokens spelled out (alternatives: an end-of-turn token shows as its text).
  int top_logprobs = -1;
  std::function<void(const token_report&)> on_token;
};

// Why a generation ended: an end-of-generation token or a stop string, the token limit or a full
// context, or the caller (a client that left, Ctrl-C).
enum class finish_reason { stop, length, cancel };
// "stop", "length", "cancel": the names both APIs use.
const char* finish_reason_name(finish_reason r);

struct generate_stats {
  int64_t n_prompt = 0;            // prompt tokens
  int64_t n_prompt_evaluated = 0;  // of which not already cached
  int64_t n_generated = 0;
  std::vector<int32_t> tokens;  // the generated tokens (end-of-generation ones excluded)
  std::string stop_word;        // the stop string that ended generation, when one did
  double prompt_ms = 0;
  double generate_ms = 0;
  // Under a grammar: tokens whose first sample fit (the fast path), tokens that needed the full
  // mask, and the time spent checking, masking, resampling and advancing the matcher (part of
  // generate_ms).
  int64_t n_grammar_fast = 0;
  int64_t n_grammar_masks = 0;
  double grammar_ms = 0;
  finish_reason done_reason = finish_reason::length;
};

// Receives text as it becomes final; return false to stop generating.
using text_sink = std::function<bool(std::string_view text)>;

result<generate_stats> generate(session& s, const tokenizer& tok, const generate_request& req, const text_sink& sink,
                                const std::atomic<bool>* cancel = nullptr);

// Holds back text that might be the start of a stop string. Exposed for tests.
class stop_matcher {
 public:
  explicit stop_matcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Adds text; returns what is now safe to emit. Sets stopped() when a stop string appears
  // (the stop string and anything after it are dropped).
  std::string push(std::string_view text);
  std::string flush();  // remaining held text at the end
  bool stopped() const { return stopped_; }
  // The stop string found (the earliest in the text; of those starting there, the first listed).
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  std::string matched_;
  bool stopped_ = false;
};

}  // namespace pocketlm
