#include "tokenizer/tokenizer.h"

#include "tokenizer/bpe.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/spm.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"
#include "tokenizer/wpm.h"

namespace pocketlm {
// A piece of the input: raw text [begin, begin + len) or one special token.
struct fragment {
  int32_t token;  // -1 for text
  size_t begin, len;
};

namespace {

const std::string k_sp_space = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

// llama.cpp's tokenizer_st_partition: for each special token, longest text first, split every
// text fragment at each of its occurrences. Control and unknown tokens only when parse_special.
// special_match::none matches nothing: message text in a chat prompt, where even added tokens
// must not be forged.
enum class special_match { none, added_only, all };

std::vector<fragment> partition(const vocab_data& v, std::string_view text, special_match mode) {
  std::vector<fragment> frags{{-1, 0, text.size()}}, next;
  if (mode == special_match::none) return frags;
  for (int32_t id : v.special_cache) {
    if (mode != special_match::all && (v.attr[id] & (attr_control | attr_unknown))) continue;
    const std::string& tok = v.text[id];
    next.clear();
    for (const fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.begin;
      const size_t end = f.begin + f.len;
      for (size_t m; (m = text.substr(0, end).find(tok, pos)) != std::string_view::npos;) {
        if (m > pos) next.push_back({-1, pos, m - pos});
        next.push_back({id, m, tok.size()});
        pos = m + tok.size();
      }
      if (pos < end) next.push_back({-1, pos, end - pos});
    }
    frags.swap(next);
  }
  return frags;
}

std::string escape_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    if (c == ' ') {
      out += k_sp_space;
    } else {
      out += c;
    }
  }
  return out;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// llama_decode_text: GPT-2 characters back to bytes; unmapped code points are spelled out.
std::string decode_byte_level(const std::string& token_text) {
  std::string out;
  for (uint32_t cpt : utf8::decode_lenient(token_text)) {
    const int b = unicode_to_byte(cpt);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
      continue;
    }
    std::string bytes;
    utf8::append(bytes, cpt);
    static constexpr char k_hex[] = "0123456789abcdef";
    out += "[UNK_BYTE_0x";
    for (unsigned char c : bytes) out += {k_hex[c >> 4], k_hex[c & 15]};
    out += token_text + "]";
  }
  return out;
}

// "<0xNN>" -> NN
int parse_byte_token(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  const auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

tokenizer::tokenizer() = default;
tokenizer::~tokenizer() = default;

result<std::unique_ptr<tokenizer>> tokenizer::from_gguf(const gguf::file& f) {
  auto v = load_vocab(f);
  if (!v) return v.err();
  std::unique_ptr<tokenizer> t(new tokenizer());
  t->vocab_ = std::make_unique<vocab_data>(std::move(*v));
  if (t->vocab_->kind == vocab_kind::bpe) {
    auto pre = pre_tokenizer::create(t->vocab_->pre);
    if (!pre) return pre.err();
    t->pre_ = std::move(*pre);
    for (int b = 0; b < 256 && !t->vocab_->spm_style; ++b) {
      t->vocab_->byte_sid[b] = t->vocab_->intern(byte_to_unicode(static_cast<uint8_t>(b)));
    }
  }
  return t;
}

std::vector<int32_t> tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const auto mode = parse_special ? special_match::all : special_match::added_only;
  const auto frags = text.empty() ? std::vector<fragment>{} : partition(*vocab_, text, mode);
  return encode_fragments(text, frags, add_special);
}

std::vector<int32_t> tokenizer::encode_spans(const std::vector<text_span>& spans, bool add_special) const {
  std::string text;
  std::vector<fragment> frags;
  for (const text_span& span : spans) {
    const size_t base = text.size();
    text += span.text;
    if (span.text.empty()) continue;
    const auto mode = span.is_template ? special_match::all : special_match::none;
    for (fragment f : partition(*vocab_, span.text, mode)) {
      f.begin += base;
      // Text runs continue across span boundaries, as if the prompt were one string.
      if (f.token < 0 && !frags.empty() && frags.back().token < 0 && frags.back().begin + frags.back().len == f.begin) {
        frags.back().len += f.len;
      } else {
        frags.push_back(f);
      }
    }
  }
  return encode_fragments(text, frags, add_special);
}

std::vector<int32_t> tokenizer::encode_fragments(std::string_view text, const std::vector<fragment>& frags,
                                                 bool add_special) const {
  const vocab_data& v = *vocab_;
  std::vector<int32_t> out;
  if (v.kind == vocab_kind::wpm) {  // llama.cpp: CLS and SEP with add_special, whatever add_bos says
    if (add_special) out.push_back(v.bos);
    for (const fragment& f : frags) {
      if (f.token >= 0) {
        out.push_back(f.token);
      } else {
        wpm_encode(v, text.substr(f.begin, f.len), out);
      }
    }
    if (add_special) out.push_back(v.sep);
    return out;
  }
  const bool bos = add_special && v.add_bos && v.bos >= 0;
  if (bos) out.push_back(v.bos);
  bool prev_special = true;  // spm: the first text fragment gets the space prefix
  for (const fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    const std::string_view piece = text.substr(f.begin, f.len);
    if (v.kind == vocab_kind::spm) {
      std::string s = (v.add_space_prefix && prev_special) ? k_sp_space : std::string();
      s += escape_spaces(piece);
      spm_encode(v, s, out);
      prev_special = false;
    } else if (v.spm_style) {
      for (const std::string& word : pre_->split(escape_spaces(piece))) bpe_encode_word(v, word, out);
    } else {
      for (const std::string& word : pre_->split(piece)) bpe_encode_word(v, word, out);
    }
  }
  if (add_special && v.add_eos && v.eos >= 0) out.push_back(v.eos);
  return out;
}

std::string tokenizer::token_to_piece(int32_t id, bool render_special) const {
  const vocab_data& v = *vocab_;
  if (id < 0 || id >= v.n_vocab()) return {};
  const uint16_t a = v.attr[id];
  if (!render_special && (a & (attr_control | attr_unknown))) return {};
  const std::string& t = v.text[id];
  if (a & (attr_control | attr_unknown | attr_user_defined)) return t;
  if (a & attr_normal) {
    if (v.kind == vocab_kind::bpe && !v.spm_style) return decode_byte_level(t);
    std::string s = t;
    replace_all(s, k_sp_space, " ");
    return s;
  }
  if (a & attr_byte) {
    int b = parse_byte_token(t);
    if (b < 0 && v.kind == vocab_kind::bpe && !v.spm_style) {
      const auto cpts = utf8::decode_lenient(t);
      if (cpts.size() == 1) b = unicode_to_byte(cpts[0]);
    }
    return b >= 0 ? std::string(1, static_cast<char>(b)) : std::string();
  }
  return {};  // unused / undefined tokens render as nothing, as in llama.cpp
}

std::string tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
  std::string out;
  bool strip_space = vocab_->kind == vocab_kind::spm && vocab_->add_space_prefix;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string piece = token_to_piece(ids[i], render_special);
    if (strip_space && !(i == 0 && ids[i] == vocab_->bos)) {
      if (!piece.empty() && piece[0] == ' ') piece.erase(0, 1);
      strip_space = false;
    }
    out += piece;
  }
  return out;
}

int32_t tokenizer::bos() const { return vocab_->bos; }
int32_t tokenizer::eos() const { return vocab_->eos; }
bool tokenizer::is_end_of_generation(int32_t id) const { return vocab_->eog.count(id) != 0; }
int32_t tokenizer::n_vocab() const { return vocab_->n_vocab(); }

int32_t tokenizer::find_token(std::string_view text) const { return vocab_->find(std::string(text)); }

}  // namespace pocketlm
