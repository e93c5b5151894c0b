// Constrained generation: the tokens a grammar allows at each step of a generation, with the
// policies around it: the vocabulary as the grammar sees it (built once per model), reasoning
// left free until "</think>" ends it, and lazy grammars that start only where the model opens a
// tool call (a trigger text), the text before it being free.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "tokenizer/tokenizer.h"

namespace pocketlm {

// The vocabulary's byte strings in a trie: control tokens are never allowed by a grammar (end of
// generation is allowed when the grammar is complete). Built on first use, then shared.
class vocab_trie {
 public:
  std::shared_ptr<const grammar::token_trie> get(const tokenizer& tok);

 private:
  std::once_flag once_;
  std::shared_ptr<const grammar::token_trie> trie_;
};

struct grammar_constraint {
  grammar::grammar_ptr grammar;  // null: generation is unconstrained
  std::shared_ptr<const grammar::token_trie> vocab;
  // Lazy: text is free until one of these appears in the answer; the grammar matches from the
  // trigger's first byte on (tool_choice "auto"). Empty: the grammar holds from the answer's start.
  std::vector<std::string> triggers;
  // A reasoning model: "<think>...</think>" stays free and the grammar applies to the answer after
  // it. starts_in_think: the prompt already opened the block (DeepSeek-R1).
  bool free_reasoning = false;
  bool starts_in_think = false;
};

// One generation's view of a grammar_constraint.
class token_constraint {
 public:
  token_constraint(const grammar_constraint& c, const tokenizer& tok);

  // Whether the next token is constrained at all (false while reasoning or before a trigger).
  bool active() const { return phase_ == phase::grammar || phase_ == phase::opening; }
  // Whether `token` may come next; cheap (one matcher step), for the sample-then-check fast path.
  bool allows(int32_t token) const;
  // Every token's verdict (n_vocab entries), for sampling when the sampled token did not fit.
  const uint8_t* mask();
  // Records the token that was chosen.
  void accept(int32_t token);
  // The grammar is complete and nothing may follow: the generation ends here.
  bool finished() const;
  // The trigger text matched no call the grammar allows: the rest is unconstrained. Reported so
  // callers can tell; the tool call parser then treats the text as content.
  bool failed() const { return phase_ == phase::failed; }

 private:
  enum class phase { opening, reasoning, waiting, grammar, failed };
  void enter_answer();
  void feed_free_text(const std::string& piece);

  const tokenizer& tok_;
  grammar_constraint c_;
  phase phase_;
  std::unique_ptr<grammar::matcher> matcher_;
  std::unique_ptr<grammar::mask_cache> cache_;
  int32_t think_token_ = -1;  // the vocab's single "<think>" token, allowed first by reasoning models
  std::string text_;          // free text not yet ruled out as the start of a trigger or "</think>"
  std::vector<uint8_t> mask_;
  std::vector<int32_t> eog_;  // end-of-generation ids, found on first use
};

}  // namespace pocketlm
