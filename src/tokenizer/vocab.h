// The vocabulary as llama.cpp's llama_vocab loads it: token texts, scores, attributes after
// llama.cpp's by-name overrides, special ids, BPE merge ranks and the special-token cache.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/result.h"
#include "gguf/gguf.h"

namespace pocketlm {

// Token attribute bits (llama_token_attr).
enum token_attr : uint16_t {
  attr_undefined = 0,
  attr_unknown = 1 << 0,
  attr_unused = 1 << 1,
  attr_normal = 1 << 2,
  attr_control = 1 << 3,
  attr_user_defined = 1 << 4,
  attr_byte = 1 << 5,
};

enum class vocab_kind { bpe, spm, wpm };  // wpm: WordPiece (tokenizer.ggml.model "bert")

// A BPE merge: ranks are keyed by the pair of "symbol ids" (sids). Every token text has the
// sid equal to its token id; merge parts that are not tokens get sids >= n_vocab.
struct merge_info {
  int32_t rank;
  int32_t merged_sid;
};

struct vocab_data {
  vocab_kind kind = vocab_kind::bpe;
  std::string pre;  // tokenizer.ggml.pre
  std::vector<std::string> text;
  std::vector<float> score;
  std::vector<uint16_t> attr;
  std::unordered_map<std::string, int32_t> to_id;

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1;
  bool add_bos = false, add_eos = false;
  bool add_space_prefix = false;  // spm only
  bool ignore_merges = false;     // llama3: a pre-token that is a whole token skips merging
  // bpe: GPT-2 byte-level (most), or SentencePiece-style over raw UTF-8 (pre_type_settings::spm_style).
  bool spm_style = false;
  bool newline_runs_whole = false;
  // WordPiece: SEP (appended with add_special; bos is CLS), the BertNormalizer options
  // (tokenizer.ggml.normalizer.*; strip_accents defaults to lowercase) and the longest token.
  int32_t sep = -1, mask = -1;
  bool lowercase = true, strip_accents = true;
  int32_t max_token_len = 0;
  std::unordered_set<int32_t> eog;
  std::vector<int32_t> special_cache;  // control/user-defined/unknown, longest text first

  // BPE: symbol texts beyond the vocabulary and the merge table.
  std::unordered_map<std::string, int32_t> extra_sid;
  std::vector<std::string> extra_text;
  std::unordered_map<uint64_t, merge_info> merges;  // key: (left sid << 32) | right sid
  std::array<int32_t, 256> byte_sid{};              // sid of each byte's GPT-2 character (byte-level)

  int32_t n_vocab() const { return static_cast<int32_t>(text.size()); }
  int32_t find(const std::string& s) const {
    auto it = to_id.find(s);
    return it == to_id.end() ? -1 : it->second;
  }
  // sid for any string (token id when it is a token), created on demand while loading.
  int32_t intern(const std::string& s);
  int32_t find_sid(const std::string& s) const;
  const std::string& sid_text(int32_t sid) const { return sid < n_vocab() ? text[sid] : extra_text[sid - n_vocab()]; }
  static uint64_t pair_key(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
};

result<vocab_data> load_vocab(const gguf::file& f);

}  // namespace pocketlm
