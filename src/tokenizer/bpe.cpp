#include "tokenizer/bpe.h"

#include <algorithm>
#include <queue>

#include "tokenizer/pretokenize.h"
#include "tokenizer/utf8.h"

namespace pocketlm {
namespace {

struct symbol {
  int32_t sid;
  int32_t prev, next;   // linked list over live symbols; -1 at the ends
  uint32_t begin, len;  // raw bytes of the word; len 0 once merged away
};

struct bigram {
  int32_t rank;
  int32_t left;  // symbol index; `right` is recomputed from the list
  int32_t left_sid, right_sid, merged_sid;
};

// Lowest rank first; ties go to the leftmost pair (llama.cpp's comparator).
struct bigram_after {
  bool operator()(const bigram& a, const bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

using bigram_queue = std::priority_queue<bigram, std::vector<bigram>, bigram_after>;

void try_add(const vocab_data& v, const std::vector<symbol>& syms, int32_t l, bigram_queue& q) {
  if (l < 0 || syms[l].next < 0) return;
  const int32_t r = syms[l].next;
  auto it = v.merges.find(vocab_data::pair_key(syms[l].sid, syms[r].sid));
  if (it == v.merges.end()) return;
  q.push({it->second.rank, l, syms[l].sid, syms[r].sid, it->second.merged_sid});
}

// Symbols whose text is not a token fall back to the single-byte tokens of their GPT-2
// characters' bytes, which exist only for printable ASCII (llama.cpp does the same).
void emit_fallback(const vocab_data& v, const std::string& word, const symbol& s, std::vector<int32_t>& out) {
  for (uint32_t i = s.begin; i < s.begin + s.len; ++i) {
    for (char c : byte_to_unicode(static_cast<uint8_t>(word[i]))) {
      if (int32_t id = v.find(std::string(1, c)); id >= 0) out.push_back(id);
    }
  }
}

// SentencePiece-style vocabularies: a symbol that is not a token becomes the <0xXX> tokens of
// its bytes (those that exist).
void emit_byte_tokens(const vocab_data& v, const std::string& word, const symbol& s, std::vector<int32_t>& out) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  for (uint32_t i = s.begin; i < s.begin + s.len; ++i) {
    const auto b = static_cast<uint8_t>(word[i]);
    if (int32_t id = v.find(std::string{'<', '0', 'x', k_hex[b >> 4], k_hex[b & 15], '>'}); id >= 0) out.push_back(id);
  }
}

// The starting symbols: one per byte (byte-level: its GPT-2 character's sid) or one per UTF-8
// character (spm_style: the character's sid, -1 when no token or merge knows it).
std::vector<symbol> initial_symbols(const vocab_data& v, const std::string& word) {
  std::vector<symbol> syms;
  for (size_t i = 0; i < word.size();) {
    size_t len = 1;
    int32_t sid = v.byte_sid[static_cast<uint8_t>(word[i])];
    if (v.spm_style) {
      len = std::min(word.size() - i, utf8::sequence_length(static_cast<uint8_t>(word[i])));
      sid = v.find_sid(word.substr(i, len));
    }
    const auto n = static_cast<int32_t>(syms.size());
    syms.push_back({sid, n - 1, -1, static_cast<uint32_t>(i), static_cast<uint32_t>(len)});
    if (n > 0) syms[n - 1].next = n;
    i += len;
  }
  return syms;
}

}  // namespace

void bpe_encode_word(const vocab_data& v, const std::string& word, std::vector<int32_t>& out) {
  if (word.empty()) return;
  if (v.ignore_merges) {
    std::string encoded;
    for (char c : word) encoded += byte_to_unicode(static_cast<uint8_t>(c));
    if (int32_t id = v.find(encoded); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  if (v.newline_runs_whole && word.find_first_not_of('\n') == std::string::npos) {
    if (int32_t id = v.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<symbol> syms = initial_symbols(v, word);
  const auto n = static_cast<int32_t>(syms.size());
  bigram_queue q;
  for (int32_t i = 0; i + 1 < n; ++i) try_add(v, syms, i, q);
  while (!q.empty()) {
    const bigram b = q.top();
    q.pop();
    symbol& left = syms[b.left];
    if (left.len == 0 || left.next < 0) continue;
    symbol& right = syms[left.next];
    if (left.sid != b.left_sid || right.sid != b.right_sid) continue;  // stale entry
    left.sid = b.merged_sid;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) syms[right.next].prev = b.left;
    try_add(v, syms, left.prev, q);
    try_add(v, syms, b.left, q);
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next) {
    if (syms[i].sid >= 0 && syms[i].sid < v.n_vocab()) {
      out.push_back(syms[i].sid);
    } else if (v.spm_style) {
      emit_byte_tokens(v, word, syms[i], out);
    } else {
      emit_fallback(v, word, syms[i], out);
    }
  }
}

}  // namespace pocketlm
