#include "chat/text.h"

#include <cstdint>

namespace pocketlm::chat::detail {
namespace {

bool is_js_space(std::uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

// Length of the UTF-8 sequence that a lead byte announces; 0 for a continuation or invalid byte.
std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;
}

// Decodes the code point of s[pos, pos+len); false when the bytes are not a valid sequence.
bool decode(std::string_view s, std::size_t pos, std::size_t len, std::uint32_t& cp) {
  if (len == 0 || pos + len > s.size()) return false;
  const auto lead = static_cast<unsigned char>(s[pos]);
  if (utf8_length(lead) != len) return false;
  static constexpr unsigned char lead_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  cp = lead & lead_mask[len];
  for (std::size_t i = 1; i < len; ++i) {
    const auto c = static_cast<unsigned char>(s[pos + i]);
    if ((c & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (c & 0x3F);
  }
  return true;
}

// Bytes of whitespace at the front of s.
std::size_t leading_space(std::string_view s) {
  std::size_t pos = 0;
  std::uint32_t cp = 0;
  while (pos < s.size()) {
    const std::size_t len = utf8_length(static_cast<unsigned char>(s[pos]));
    if (!decode(s, pos, len, cp) || !is_js_space(cp)) break;
    pos += len;
  }
  return pos;
}

// Bytes of whitespace at the back of s: steps back over up to 3 continuation bytes per code point.
std::size_t trailing_space(std::string_view s) {
  std::size_t end = s.size();
  std::uint32_t cp = 0;
  while (end > 0) {
    std::size_t start = end - 1;
    while (start > 0 && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
      --start;
    }
    if (!decode(s, start, end - start, cp) || !is_js_space(cp)) break;
    end = start;
  }
  return s.size() - end;
}

}  // namespace

std::string_view trim_space(std::string_view s, bool left, bool right) {
  if (left) s.remove_prefix(leading_space(s));
  if (right) s.remove_suffix(trailing_space(s));
  return s;
}

std::string_view strip_chars(std::string_view s, std::string_view chars, bool left, bool right) {
  if (left) {
    const std::size_t first = s.find_first_not_of(chars);
    s.remove_prefix(first == std::string_view::npos ? s.size() : first);
  }
  if (right) {
    const std::size_t last = s.find_last_not_of(chars);
    s = s.substr(0, last == std::string_view::npos ? 0 : last + 1);
  }
  return s;
}

std::string_view after_last(std::string_view s, std::string_view sep) {
  const std::size_t at = s.rfind(sep);
  return at == std::string_view::npos ? s : s.substr(at + sep.size());
}

std::string_view before_first(std::string_view s, std::string_view sep) {
  const std::size_t at = s.find(sep);
  return at == std::string_view::npos ? s : s.substr(0, at);
}

void prompt_builder::add(std::string_view s, bool special) {
  if (s.empty()) return;
  if (!pieces_.empty() && pieces_.back().special == special) {
    pieces_.back().text.append(s);
  } else {
    pieces_.push_back(piece{std::string(s), special});
  }
}

void prompt_builder::append(const std::vector<piece>& ps) {
  for (const piece& p : ps) add(p.text, p.special);
}

void prompt_builder::trim() {
  // Whitespace code points never straddle pieces (each piece is a whole string), so trimming
  // piece by piece from each end equals trimming the concatenation.
  while (!pieces_.empty()) {
    std::string& t = pieces_.front().text;
    t.erase(0, leading_space(t));
    if (!t.empty()) break;
    pieces_.erase(pieces_.begin());
  }
  while (!pieces_.empty()) {
    std::string& t = pieces_.back().text;
    t.resize(t.size() - trailing_space(t));
    if (!t.empty()) break;
    pieces_.pop_back();
  }
}

}  // namespace pocketlm::chat::detail
