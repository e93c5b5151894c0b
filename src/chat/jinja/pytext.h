// chat/jinja internals: Python's view of text (code points of UTF-8, str.isspace, the case
// mappings) over byte strings. Bytes that are not valid UTF-8 count as one character each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pocketlm::chat::jinja::detail {

// Decodes the code point at s[i]; sets len to its byte length (1 for an invalid byte).
uint32_t utf8_at(std::string_view s, size_t i, size_t& len);
void utf8_append(std::string& out, uint32_t cp);
// Byte offsets of each code point, plus s.size() at the end.
std::vector<size_t> char_offsets(std::string_view s);
size_t char_count(std::string_view s);
bool is_ascii(std::string_view s);

bool py_isspace(uint32_t cp);  // Python's str.isspace() / re's \s on str
// Bytes to drop at either end for str.strip() (chars empty: whitespace) or str.strip(chars).
size_t lstrip_len(std::string_view s, std::string_view chars, bool whitespace);
size_t rstrip_keep(std::string_view s, std::string_view chars, bool whitespace);

// Simple case mappings (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic): those change one
// code point into one and, except for a few, keep its byte length.
uint32_t to_upper(uint32_t cp);
uint32_t to_lower(uint32_t cp);
bool is_cased_letter(uint32_t cp);
bool is_alpha(uint32_t cp);
bool is_digit(uint32_t cp);

}  // namespace pocketlm::chat::jinja::detail
