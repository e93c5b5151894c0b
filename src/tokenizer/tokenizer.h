// tokenizer/: owns text <-> token ids exactly as llama.cpp does it: the vocabulary read from
// GGUF tokenizer.* keys, byte-level BPE with regex pre-tokenizers (PCRE2), SentencePiece-style
// scored merging, special/added token matching, and UTF-8 stream reassembly for decoding.
// Calls only gguf/, common/, PCRE2 and the C++ standard library.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "gguf/gguf.h"

namespace pocketlm {

struct vocab_data;
class pre_tokenizer;
struct fragment;

// Part of a chat prompt: template text, where special tokens are recognised, or message text,
// where no special or added token is ever recognised (a user cannot forge a turn).
struct text_span {
  std::string_view text;
  bool is_template = false;
};

class tokenizer {
 public:
  // Reads tokenizer.ggml.* keys. Errors name the key and what was wrong with it.
  static result<std::unique_ptr<tokenizer>> from_gguf(const gguf::file& f);
  ~tokenizer();
  tokenizer(const tokenizer&) = delete;
  tokenizer& operator=(const tokenizer&) = delete;

  // add_special: BOS/EOS as the file's add_bos_token/add_eos_token say.
  // parse_special: control tokens spelled in `text` become their ids; user-defined (added)
  // tokens are matched either way, as in llama.cpp. Any bytes are accepted.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // Tokenizes the concatenation of `spans`: special tokens only inside template spans; text
  // between special tokens is tokenized as one run even where it crosses span boundaries, so
  // benign prompts get the same ids as tokenizing the whole string.
  std::vector<int32_t> encode_spans(const std::vector<text_span>& spans, bool add_special) const;
  // Raw bytes this token stands for; control/unknown tokens are "" unless render_special.
  // Out-of-range ids give "".
  std::string token_to_piece(int32_t id, bool render_special = true) const;
  // Concatenated pieces; for SentencePiece vocabularies with add_space_prefix, the space the
  // encoder prefixed is removed from the first piece after an optional leading BOS.
  // (llama.cpp's clean_spaces rewriting is not applied: decode(encode(x)) == x.)
  std::string decode(const std::vector<int32_t>& ids, bool render_special = true) const;

  int32_t bos() const;  // -1 when none
  int32_t eos() const;  // -1 when none
  // EOS, EOT, EOM and the tokens llama.cpp marks end-of-generation by their text.
  bool is_end_of_generation(int32_t id) const;
  int32_t n_vocab() const;
  int32_t find_token(std::string_view text) const;  // -1 if absent

 private:
  tokenizer();
  std::vector<int32_t> encode_fragments(std::string_view text, const std::vector<fragment>& frags,
                                        bool add_special) const;
  std::unique_ptr<vocab_data> vocab_;
  std::unique_ptr<pre_tokenizer> pre_;  // byte-level BPE only
};

// Streams decoded pieces to a terminal: holds back an incomplete trailing UTF-8 sequence until
// a later push completes it (a character's bytes may be split across tokens).
class utf8_stream {
 public:
  std::string push(const std::string& bytes);
  std::string flush();  // whatever is still held back, complete or not

 private:
  std::string pending_;
};

}  // namespace pocketlm
