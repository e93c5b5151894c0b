// chat/ internals: the string operations the templates use, with the exact semantics of the Jinja
// runtime that defines them, and a builder for piece lists.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/chat.h"

namespace pocketlm::chat::detail {

// Jinja's no-argument strip()/trim: removes Unicode whitespace as JavaScript's String.trim does
// (the @huggingface/jinja reference): U+0009-000D, U+0020, U+00A0, U+1680, U+2000-200A, U+2028,
// U+2029, U+202F, U+205F, U+3000, U+FEFF. Python's str.strip differs only on U+001C-001F, U+0085
// and U+FEFF. Bytes that are not valid UTF-8 count as text.
std::string_view trim_space(std::string_view s, bool left = true, bool right = true);

// Python's str.strip(chars) family: removes any of the given bytes (the templates pass "\n").
std::string_view strip_chars(std::string_view s, std::string_view chars, bool left, bool right);

// Python's s.split(sep)[-1] and s.split(sep)[0].
std::string_view after_last(std::string_view s, std::string_view sep);
std::string_view before_first(std::string_view s, std::string_view sep);

// Accumulates pieces, merging neighbours with the same flag and dropping empty text.
class prompt_builder {
 public:
  void special(std::string_view s) { add(s, true); }
  void text(std::string_view s) { add(s, false); }
  void append(const std::vector<piece>& ps);
  // Removes whitespace (trim_space) from both ends of everything added so far, as a template's
  // strip()/trim does on a concatenated string: build a segment in its own builder, trim, append.
  void trim();
  std::vector<piece> take() { return std::move(pieces_); }

 private:
  void add(std::string_view s, bool special);
  std::vector<piece> pieces_;
};

}  // namespace pocketlm::chat::detail
