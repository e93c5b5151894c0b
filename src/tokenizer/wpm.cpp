// WordPiece tokenization (tokenizer/wpm.h) over the Unicode data in wpm_tables.cpp.
#include "tokenizer/wpm.h"

#include <algorithm>

#include "tokenizer/utf8.h"
#include "tokenizer/wpm_tables.h"

namespace pocketlm {

namespace {

using namespace wpm_data;

enum : uint8_t { k_other = 0, k_control = 1, k_punctuation = 2, k_symbol = 3, k_accent = 4 };

uint8_t class_of(uint32_t cpt) {
  const class_range* end = k_class_ranges + k_class_ranges_size;
  const class_range* it =
      std::upper_bound(k_class_ranges, end, cpt, [](uint32_t c, const class_range& r) { return c < r.start; });
  return it == k_class_ranges ? uint8_t{k_other} : (it - 1)->cls;
}

bool is_whitespace(uint32_t cpt) { return std::binary_search(k_whitespace, k_whitespace + k_whitespace_size, cpt); }

uint32_t to_lower(uint32_t cpt) {
  if (cpt < 0x80) return cpt >= 'A' && cpt <= 'Z' ? cpt + 32 : cpt;
  for (size_t i = 0; i < k_lower_runs_size; ++i) {
    const lower_run& r = k_lower_runs[i];
    if (cpt >= r.first && cpt <= r.last && (cpt - r.first) % static_cast<uint32_t>(r.stride) == 0) {
      return static_cast<uint32_t>(static_cast<int64_t>(cpt) + r.delta);
    }
  }
  return cpt;
}

// llama.cpp's unicode_cpts_normalize_nfd: the first code point of the decomposition.
uint32_t nfd_first(uint32_t cpt) {
  const nfd_range* end = k_nfd_ranges + k_nfd_ranges_size;
  const nfd_range* it =
      std::upper_bound(k_nfd_ranges, end, cpt, [](uint32_t c, const nfd_range& r) { return c < r.first; });
  if (it == k_nfd_ranges) return cpt;
  --it;
  return cpt <= it->last ? it->nfd : cpt;
}

// The CJK ideograph blocks BERT splits one by one (llama.cpp's is_chinese_char, with its
// 0x2B920 start where the HF Rust code has it).
bool is_chinese_char(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace

std::vector<std::string> wpm_words(std::string_view text, bool lowercase, bool strip_accents) {
  std::vector<std::string> words(1);
  for (uint32_t cpt : utf8::decode_lenient(text)) {
    if (strip_accents) cpt = nfd_first(cpt);
    if (is_whitespace(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    const uint8_t cls = class_of(cpt);
    if (cpt == 0 || cpt == utf8::k_replacement || cls == k_control) continue;
    if (strip_accents && cls == k_accent) continue;
    std::string s;
    utf8::append(s, lowercase ? to_lower(cpt) : cpt);
    if (cls == k_punctuation || (cpt < 0x7F && cls == k_symbol) || is_chinese_char(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;  // a word of its own
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

void wpm_encode(const vocab_data& v, std::string_view text, std::vector<int32_t>& out) {
  for (const std::string& word : wpm_words(text, v.lowercase, v.strip_accents)) {
    if (word.empty()) continue;
    const std::string w = "\xE2\x96\x81" + word;  // U+2581: the start of a word
    const auto n = static_cast<int64_t>(w.size());
    const size_t before = out.size();
    // Longest match from each byte position (matches may end inside a UTF-8 sequence, as in
    // llama.cpp, though a converted vocabulary holds whole characters only).
    for (int64_t i = 0; i < n;) {
      int32_t id = -1;
      int64_t j = std::min<int64_t>(n, i + v.max_token_len + 1);
      for (; j > i; --j) {
        if ((id = v.find(w.substr(static_cast<size_t>(i), static_cast<size_t>(j - i)))) >= 0) break;
      }
      if (id < 0) {  // a part matches nothing: the whole word is unknown
        out.resize(before);
        break;
      }
      out.push_back(id);
      i = j;
    }
    if (out.size() == before) out.push_back(v.unk);
  }
}

}  // namespace pocketlm
