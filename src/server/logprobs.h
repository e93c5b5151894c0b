// Token log-probabilities on the wire: the request fields that ask for them (OpenAI's logprobs /
// top_logprobs, the legacy completions' logprobs, llama-server's n_probs, Ollama's logprobs /
// top_logprobs), the pairing of each token's report with the chunk that carries its text, and
// the three response shapes.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "runtime/sampler.h"
#include "server/api.h"

namespace pocketlm::server {

inline constexpr int k_max_top_logprobs = 20;        // OpenAI's and Ollama's limit
inline constexpr int k_max_completion_logprobs = 5;  // the legacy /v1/completions limit
inline constexpr int k_logprobs_off = -1;            // gen_params::top_logprobs: no reports

// The number of alternatives a request asks for, k_logprobs_off when it asks for none; 400s name
// the field. /v1/chat/completions: logprobs (bool) with top_logprobs (0..20, only with
// logprobs: true, as OpenAI answers). /v1/completions: logprobs, an integer 0..5. Both: when
// logprobs is absent, llama-server's n_probs (0..20; 0 is off, as there).
int openai_chat_top_logprobs(const json& body);
int openai_completion_top_logprobs(const json& body);
// /api/chat, /api/generate (Ollama 0.12.11+): logprobs (bool), top_logprobs (0..20, read only
// with logprobs: true).
int ollama_top_logprobs(const json& body);

// Pairs token reports with the text they became. The generate loop reports a token before its
// text reaches the sink, and stop-string matching and UTF-8 joining hold text back, so a token is
// released once the first byte of its text has been passed on; a token whose text never shows
// (all of it inside a stop string) is dropped.
class token_report_queue {
 public:
  void add(token_report r);           // a generated token, in order (generate_request::on_token)
  void shown(std::string_view text);  // text the generate loop passed to its sink
  // The released tokens not taken before, in order.
  std::vector<token_report> take();
  // After generation: what take() has not given yet. All of it when all generated text was
  // shown (zero-length tokens at the end included); else the tokens whose text began to show.
  std::vector<token_report> finish();

 private:
  std::vector<token_report> pending_;  // added, not taken; pending_[0] starts at start_
  size_t start_ = 0;                   // byte offset of pending_[0]'s text in the generated text
  size_t shown_ = 0;                   // bytes of generated text passed on
};

// {"content":[{"token","logprob","bytes","top_logprobs":[{"token","logprob","bytes"}]}],
// "refusal":null}: choices[i].logprobs of /v1/chat/completions, whole or one chunk's share.
json openai_chat_logprobs(const std::vector<token_report>& tokens);
// The legacy {"tokens","token_logprobs","top_logprobs":[{token: logprob}],"text_offset"} of
// /v1/completions. top_logprobs holds the n most likely and the chosen token (up to n + 1, as
// OpenAI documents). text_offset counts bytes from the start of the completion; `offset` is
// where these tokens start, advanced past them (a stream's chunks continue it).
json openai_completion_logprobs(const std::vector<token_report>& tokens, size_t& offset);
// Ollama's [{"token","logprob","bytes","top_logprobs":[{"token","logprob","bytes"}]}]
// (top_logprobs left out when empty, as Ollama omits it).
json ollama_logprobs(const std::vector<token_report>& tokens);

}  // namespace pocketlm::server
