// grammar/: owns constrained decoding: context-free grammars over bytes (llama.cpp's GBNF text),
// JSON Schema compiled to them (json_schema.h), a matcher that advances byte by byte, and the
// token masks computed against a vocabulary trie. Knows nothing of models or tokenizers: callers
// hand it token byte strings. Calls only common/, nlohmann-json and the C++ standard library;
// called by runtime/ (sampling) and server/ (request validation).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pocketlm::grammar {

struct rules;  // the compiled form (grammar/rules.h)

// A parsed GBNF grammar (https://github.com/ggml-org/llama.cpp/blob/master/grammars/README.md):
// rules of alternatives, literals, character classes ([a-z], [^"\\], UTF-8 code points), `.`,
// groups, `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}`, comments. Immutable; share one per request.
class grammar {
 public:
  // invalid_input error with the line and column for bad text, an undefined rule, or a missing
  // root; left recursion is refused (it would never terminate).
  static result<std::shared_ptr<const grammar>> parse(std::string_view gbnf, std::string_view root = "root");
  const rules& compiled() const { return *rules_; }
  ~grammar();

 private:
  std::unique_ptr<rules> rules_;
};

using grammar_ptr = std::shared_ptr<const grammar>;

// The state of a partial match: every way the bytes so far can continue (llama.cpp's stacks),
// including a partial UTF-8 code point. Copyable (a token mask tries continuations on copies).
class matcher {
 public:
  explicit matcher(grammar_ptr g);
  // Advances over `bytes`; false (and the state unchanged) when the grammar rejects them.
  bool accept(std::string_view bytes);
  // Whether `bytes` could follow, without advancing.
  bool allows(std::string_view bytes) const;
  // The bytes so far are a complete sentence (end of generation may be sampled).
  bool can_end() const;
  // Complete and nothing more may follow.
  bool finished() const;
  const grammar& source() const { return *g_; }

  // The last rejected accept failed because the grammar is too ambiguous: following the bytes
  // would take more than max_stacks alternative parses at once.
  bool too_ambiguous() const { return too_ambiguous_; }
  static constexpr size_t max_stacks = 1024;

  // Equal states allow exactly the same continuations (mask_cache's key).
  size_t state_hash() const;
  bool same_state(const matcher& other) const;

  struct state;  // grammar/rules.h
  const state& current() const { return *st_; }

 private:
  grammar_ptr g_;
  std::shared_ptr<const state> st_;  // shared by copies; accept replaces it, never edits it
  bool too_ambiguous_ = false;
};

// A vocabulary as a byte trie, built once per model (150k tokens: tens of ms).
class token_trie {
 public:
  // pieces[i] is token i's bytes; an empty piece is never allowed (control tokens).
  explicit token_trie(const std::vector<std::string>& pieces);
  ~token_trie();
  size_t size() const { return n_tokens_; }

  struct node;  // grammar/rules.h

 private:
  friend void allowed_tokens(const matcher& m, const token_trie& trie, std::vector<uint8_t>& allowed);
  friend class mask_cache;
  std::unique_ptr<std::vector<node>> nodes_;  // preorder: a node's children follow it
  std::vector<uint32_t> token_ids_;           // the tokens ending at each node, node by node
  size_t n_tokens_ = 0;
  size_t max_depth_ = 0;  // the longest piece
};

// allowed[i] = 1 for every token whose whole byte string the matcher accepts from its state, else
// 0 (resized to trie.size()). Walks the trie depth-first, advancing copies of the state per
// byte and pruning a subtree at its first rejected byte, so the cost follows the tokens that
// fit, not the vocabulary size.
void allowed_tokens(const matcher& m, const token_trie& trie, std::vector<uint8_t>& allowed);

// allowed_tokens with a cache keyed by the matcher's state: inside a long JSON string or a run of
// digits the state repeats token after token, so most steps cost a hash lookup. One per
// generation (grammar and trie fixed); not thread-safe.
class mask_cache {
 public:
  mask_cache(std::shared_ptr<const token_trie> trie, size_t max_entries = 256);
  const std::vector<uint8_t>& allowed(const matcher& m);
  size_t hits() const { return hits_; }
  size_t misses() const { return misses_; }

 private:
  std::shared_ptr<const token_trie> trie_;
  size_t max_entries_;
  size_t hits_ = 0, misses_ = 0;
  std::shared_ptr<void> entries_;  // grammar/rules.h
};

}  // namespace pocketlm::grammar
