#include "tokenizer/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

#include "tokenizer/utf8.h"

namespace pocketlm {
namespace {

// llama.cpp's pre-tokenizer regexes (src/llama-vocab.cpp), by tokenizer.ggml.pre.
constexpr const char* k_gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* k_llama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* k_qwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

result<std::vector<std::string>> regexes_for(const std::string& pre) {
  if (pre == "default") {
    return std::vector<std::string>{R"([\p{P}\$\+<=>\^~\|]+)", k_gpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
  }
  if (pre == "gpt-2" || pre == "phi-2" || pre == "mpt" || pre == "olmo") {
    return std::vector<std::string>{k_gpt2};
  }
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe") {
    return std::vector<std::string>{k_llama3};
  }
  if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "stablelm2") {
    return std::vector<std::string>{k_qwen2};
  }
  return error{"tokenizer.ggml.pre: unsupported pre-tokenizer '" + pre + "'"};
}

std::array<std::string, 256> make_byte_map() {
  // Printable Latin-1 bytes map to themselves; the rest to U+0100 upwards, in byte order.
  std::array<std::string, 256> map;
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    utf8::append(map[b], printable ? static_cast<uint32_t>(b) : next++);
  }
  return map;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t b) {
  static const std::array<std::string, 256> map = make_byte_map();
  return map[b];
}

int unicode_to_byte(uint32_t cpt) {
  static const std::array<int, 512> inverse = [] {
    std::array<int, 512> inv{};
    inv.fill(-1);
    for (int b = 0; b < 256; ++b) {
      const auto cpts = utf8::decode_lenient(byte_to_unicode(static_cast<uint8_t>(b)));
      inv[cpts[0]] = b;
    }
    return inv;
  }();
  return cpt < inverse.size() ? inverse[cpt] : -1;
}

struct pre_tokenizer::compiled {
  pcre2_code* code = nullptr;
  ~compiled() { pcre2_code_free(code); }
};

pre_tokenizer::~pre_tokenizer() = default;

result<std::unique_ptr<pre_tokenizer>> pre_tokenizer::create(const std::string& pre) {
  auto exprs = regexes_for(pre);
  if (!exprs) return exprs.err();
  std::unique_ptr<pre_tokenizer> p(new pre_tokenizer());
  for (const auto& e : *exprs) {
    int err = 0;
    PCRE2_SIZE err_off = 0;
    auto c = std::make_unique<compiled>();
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(e.c_str()), e.size(), PCRE2_UTF | PCRE2_UCP, &err, &err_off,
                            nullptr);
    if (!c->code) {
      std::array<PCRE2_UCHAR, 256> msg{};
      pcre2_get_error_message(err, msg.data(), msg.size());
      return error{"pre-tokenizer regex: " + std::string(reinterpret_cast<char*>(msg.data()))};
    }
    pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
    p->regexes_.push_back(std::move(c));
  }
  return p;
}

namespace {

struct span {
  size_t begin, end;  // byte offsets into the matched text
};

// One regex over each input span: matches and the gaps between them become output spans.
// Lookarounds see only the span, as llama.cpp's per-piece std::regex_iterator does.
void split_spans(const pcre2_code* code, pcre2_match_data* md, const std::string& text, const std::vector<span>& in,
                 std::vector<span>& out) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  for (const span& s : in) {
    size_t pos = s.begin;
    size_t emitted = s.begin;
    while (pos < s.end) {
      const int rc =
          pcre2_match(code, subject + s.begin, s.end - s.begin, pos - s.begin, PCRE2_NO_UTF_CHECK, md, nullptr);
      if (rc < 0) break;
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const size_t m_begin = s.begin + ov[0], m_end = s.begin + ov[1];
      if (m_begin > emitted) out.push_back({emitted, m_begin});
      if (m_end > m_begin) out.push_back({m_begin, m_end});
      emitted = m_end;
      // An empty match cannot occur with these regexes; step one character to be safe.
      pos = m_end > m_begin ? m_end : m_end + utf8::sequence_length(text[m_end]);
    }
    if (emitted < s.end) out.push_back({emitted, s.end});
  }
}

}  // namespace

std::vector<std::string> pre_tokenizer::split(std::string_view raw) const {
  // Re-encode llama.cpp's code points. PCRE2 needs valid UTF-8, so surrogates (which
  // llama.cpp decodes and re-encodes as-is) are matched as U+E000, another "other" character
  // of the same byte length; the words are cut from the faithful re-encoding.
  const auto cpts = utf8::decode_lenient(raw);
  std::string text, matchable;
  text.reserve(raw.size() + 8);
  matchable.reserve(raw.size() + 8);
  for (uint32_t c : cpts) {
    utf8::append(text, c);
    utf8::append(matchable, (c >= 0xD800 && c <= 0xDFFF) ? 0xE000 : c);
  }
  std::vector<span> spans{{0, matchable.size()}}, next;
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  for (const auto& re : regexes_) {
    next.clear();
    split_spans(re->code, md, matchable, spans, next);
    spans.swap(next);
  }
  pcre2_match_data_free(md);
  std::vector<std::string> words;
  words.reserve(spans.size());
  for (const span& s : spans) words.emplace_back(text, s.begin, s.end - s.begin);
  return words;
}

}  // namespace pocketlm
