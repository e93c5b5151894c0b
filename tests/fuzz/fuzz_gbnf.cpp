// libFuzzer entry for the GBNF parser and the matcher: the input up to its first NUL byte is a
// grammar; if it parses, the bytes after the NUL are fed to a matcher in chunks of varying size,
// and a small vocabulary's mask is checked against copies of the matcher. Checked on every step:
// a rejected accept leaves the state as it was; finished implies can_end.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"

namespace {

using namespace pocketlm::grammar;

void check(bool ok) {
  if (!ok) std::abort();
}

const std::vector<std::string>& pieces() {
  static const std::vector<std::string> p = {"",     "a",    "ab",       "{",        "}",    "\"",  " ",
                                             "\n",   "0",    "12",       "[",        "]",    ",",   ":",
                                             "true", "\xD0", "\xD0\xB0", "\xF0\x9F", "\xFF", "x\"y"};
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // longer texts add time, not coverage
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t split = input.find('\0');
  std::string_view text = input.substr(0, split);
  std::string_view bytes = split == std::string_view::npos ? std::string_view() : input.substr(split + 1);

  auto parsed = grammar::parse(text);
  if (!parsed.ok()) {
    check(!parsed.error_message().empty());
    return 0;
  }
  matcher m(*parsed);
  static const token_trie trie(pieces());
  std::vector<uint8_t> allowed;
  size_t chunk = 1;
  for (size_t pos = 0; pos < bytes.size(); pos += chunk, chunk = chunk % 3 + 1) {
    std::string_view piece = bytes.substr(pos, chunk);
    matcher before = m;
    bool can_end = m.can_end();
    if (!m.accept(piece)) {
      check(m.same_state(before) && m.can_end() == can_end);
    }
    check(!m.finished() || m.can_end());
    allowed_tokens(m, trie, allowed);
    for (size_t i = 0; i < pieces().size(); ++i) check(allowed[i] == (!pieces()[i].empty() && m.allows(pieces()[i])));
  }
  return 0;
}
