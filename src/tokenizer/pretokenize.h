// BPE pre-tokenization: the regex split llama.cpp applies before merging (unicode_regex_split),
// run with PCRE2 in UTF + Unicode-property mode; byte-level vocabularies then map bytes to
// GPT-2's printable code points.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pocketlm {

// What llama_vocab::impl::load sets for a tokenizer.ggml.pre besides the regexes.
struct pre_type_settings {
  bool ignore_merges = false;   // a pre-token that is a whole token skips merging
  bool add_bos = false;         // add_bos defaults to true (the file's key still wins)
  bool no_default_bos = false;  // no default BOS id (chatglm-bpe, glm4)
  // SentencePiece-style BPE (gemma4, sarvam-moe): spaces become U+2581 before splitting, merges
  // run on raw UTF-8 characters (no GPT-2 byte map) and bytes fall back to <0xXX> tokens.
  bool spm_style = false;
  bool force_add_bos = false;       // add_bos even where the file says false (gemma4)
  bool newline_runs_whole = false;  // a word of only newlines that is a token stays whole (gemma4)
};

// Settings for a known tokenizer.ggml.pre; nullopt for a name pocketlm does not support.
std::optional<pre_type_settings> find_pre_type_settings(const std::string& pre);

class pre_tokenizer {
 public:
  // `pre` is tokenizer.ggml.pre; errors for names whose regexes are not supported. Each regex
  // runs as llama.cpp's unicode_regex_split runs it (its hand-written splitters, its
  // category-collapsed std::regex, or std::wregex), emulated on PCRE2.
  static result<std::unique_ptr<pre_tokenizer>> create(const std::string& pre);
  ~pre_tokenizer();
  pre_tokenizer(const pre_tokenizer&) = delete;
  pre_tokenizer& operator=(const pre_tokenizer&) = delete;

  // Splits `text` into words (UTF-8 after llama.cpp's lenient decode: invalid bytes became
  // U+FFFD). Each regex splits within the pieces the previous one produced; text no
  // alternative matches is kept as its own piece.
  std::vector<std::string> split(std::string_view text) const;

 private:
  struct compiled;
  pre_tokenizer() = default;
  std::vector<std::unique_ptr<compiled>> regexes_;
};

// GPT-2's reversible byte -> printable code point map, as UTF-8 (e.g. ' ' -> "Ġ").
const std::string& byte_to_unicode(uint8_t b);
// Inverse of byte_to_unicode for one code point; -1 when it is not in the map.
int unicode_to_byte(uint32_t cpt);

}  // namespace pocketlm
