// runtime/: owns generation: sampling, sessions that reuse the KV prefix, the generate loop, and
// the policies of constrained generation (constraint.h, tool_grammar.h).
// May call model/, tokenizer/, chat/ and grammar/; called by cli/ and server/.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <utility>
#include <string>
#include <vector>

namespace pocketlm {

// A seed drawn from the system's entropy when the sampler is made (Ollama's and llama.cpp's
// seed -1): "regenerate" gives a new answer unless the caller fixes the seed.
inline constexpr uint64_t k_random_seed = ~uint64_t{0};

// Ollama's defaults. temperature <= 0 means greedy.
struct sampler_params {
  float temperature = 0.8f;
  int top_k = 40;               // <= 0: off
  float top_p = 0.9f;           // >= 1: off
  float min_p = 0.0f;           // <= 0: off
  float repeat_penalty = 1.1f;  // 1: off
  int repeat_last_n = 64;       // window for all penalties; 0: off, -1: whole history
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = k_random_seed;
  // Added to a token's logit before anything else (OpenAI's logit_bias; -100 bans, +100 all but
  // forces). Ids past the vocabulary are ignored.
  std::vector<std::pair<int32_t, float>> logit_bias;
};

// Chain as llama.cpp's default sampler: penalties -> top-k -> top-p -> min-p -> temperature ->
// draw. The same seed, settings and logits always give the same tokens.
class sampler {
 public:
  explicit sampler(const sampler_params& p);

  // allowed (n_vocab entries, may be null): only tokens with a non-zero entry may be drawn (a
  // grammar's mask); -1 when it allows none.
  int32_t sample(const float* logits, int64_t n_vocab, const uint8_t* allowed = nullptr);
  void accept(int32_t token);              // records a token (prompt or generated) for the penalties
  void reset();                            // forgets history, re-seeds (with the same drawn seed)
  uint64_t seed() const { return seed_; }  // the seed in use (the drawn one for k_random_seed)

 private:
  struct candidate {
    int32_t id;
    float logit;
  };
  void apply_penalties(std::vector<candidate>& c) const;
  double next_uniform();  // [0, 1), identical on every platform

  sampler_params p_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::deque<int32_t> history_;
  std::vector<candidate> cand_;
};

// A token's log-probability under the model's own distribution: log-softmax of the raw logits at
// temperature 1, before penalties or a grammar's mask (what OpenAI and llama-server report).
struct token_logprob {
  int32_t id = -1;
  std::string piece;  // the token's bytes; token_logprobs leaves it empty (the sampler has no vocabulary)
  float logprob = 0;
};
struct token_report {
  token_logprob chosen;
  std::vector<token_logprob> top;  // the most likely tokens, descending; ties by ascending id
};

// One pass over the vocabulary (log-sum-exp in double) plus a selection of the n_top (clamped to
// [0, n_vocab]) most likely tokens.
token_report token_logprobs(const float* logits, int64_t n_vocab, int32_t chosen, int n_top);

}  // namespace pocketlm
