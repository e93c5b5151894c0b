#include "tokenizer/utf8.h"

#include "tokenizer/tokenizer.h"

namespace pocketlm::utf8 {

size_t sequence_length(uint8_t lead) {
  // Indexed by the high nibble: 0-7 ASCII, 8-B continuation, C-D two, E three, F four bytes.
  static constexpr uint8_t k_len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return k_len[lead >> 4];
}

namespace {

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// One code point at `pos`, or -1 when the bytes there do not decode (llama.cpp's rules:
// only the lead-byte pattern and continuation bytes are checked).
int64_t decode_one(std::string_view text, size_t pos, size_t& len) {
  const auto b0 = static_cast<uint8_t>(text[pos]);
  if (b0 < 0x80) {
    len = 1;
    return b0;
  }
  size_t n = 0;
  uint32_t cpt = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, cpt = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, cpt = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, cpt = b0 & 0x07;
  } else {
    return -1;  // continuation byte or 0xF8..0xFF as a lead
  }
  if (pos + n > text.size()) return -1;
  for (size_t i = 1; i < n; ++i) {
    const auto b = static_cast<uint8_t>(text[pos + i]);
    if (!is_continuation(b)) return -1;
    cpt = (cpt << 6) | (b & 0x3F);
  }
  if (cpt > 0x10FFFF) return -1;
  len = n;
  return cpt;
}

}  // namespace

std::vector<uint32_t> decode_lenient(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t len = 1;
    const int64_t cpt = decode_one(text, pos, len);
    out.push_back(cpt < 0 ? k_replacement : static_cast<uint32_t>(cpt));
    pos += cpt < 0 ? 1 : len;
  }
  return out;
}

void append(std::string& out, uint32_t cpt) {
  if (cpt < 0x80) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  }
}

size_t incomplete_tail(std::string_view text) {
  // Walk back over at most 3 continuation bytes to the lead byte that owns them.
  const size_t n = text.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto b = static_cast<uint8_t>(text[n - back]);
    if (is_continuation(b)) continue;
    const size_t need = b < 0x80 ? 1 : ((b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1);
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace pocketlm::utf8

namespace pocketlm {

std::string utf8_stream::push(const std::string& bytes) {
  pending_ += bytes;
  const size_t keep = utf8::incomplete_tail(pending_);
  std::string ready = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return ready;
}

std::string utf8_stream::flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace pocketlm
