// grammar/json_schema_parts.h: the pieces json_schema.cpp assembles, shared with the pattern
// compiler (json_schema_pattern.cpp) and the GBNF text helpers (json_schema_text.cpp). Internal to
// grammar/: callers use json_schema.h.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace pocketlm::grammar::json_schema_parts {

// Thrown anywhere inside the compiler and turned into the result at the API boundary, so the
// recursive visit can stop at the first problem without threading a result through every call.
struct compile_error {
  pocketlm::error err;
};
[[noreturn]] inline void fail(error_kind kind, std::string message) { throw compile_error{{std::move(message), kind}}; }

// Bounds on what one schema may make, so a hostile schema fails fast with a clear error instead
// of a grammar too big to parse or match.
inline constexpr int max_depth = 64;                   // nested schemas, groups in a pattern
inline constexpr uint64_t max_repetition = 10000;      // minItems/maxItems/minLength/maxLength, {m,n}
inline constexpr size_t max_grammar_bytes = 2u << 20;  // the GBNF text
// What the GBNF parser builds from it, repetitions expanded (grammar::parse refuses over 4M).
inline constexpr uint64_t max_expanded_size = 3'000'000;
inline constexpr size_t max_pattern_bytes = 4096;                        // one `pattern`
inline constexpr int64_t max_integer_magnitude = 9'999'999'999'999'999;  // 16 digits, as integers are

// A set of Unicode code points as sorted, disjoint, inclusive ranges.
class code_set {
 public:
  code_set() = default;
  code_set(uint32_t lo, uint32_t hi) { add(lo, hi); }
  void add(uint32_t lo, uint32_t hi);
  void add(const code_set& other);
  code_set negated() const;  // within U+0000..U+10FFFF
  code_set minus(const code_set& other) const;
  bool contains(uint32_t c) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<std::pair<uint32_t, uint32_t>>& ranges() const { return ranges_; }

 private:
  std::vector<std::pair<uint32_t, uint32_t>> ranges_;
};

// GBNF text: a literal for `bytes` ("..." with escapes) and a character class for a set.
std::string gbnf_literal(std::string_view bytes);
std::string gbnf_class(const code_set& set);

// One code point of `set` as it is written inside a JSON string: raw where JSON allows it, as an
// escape (\" \\ \/ \b \f \n \r \t \u00XX) where JSON requires one. Empty when nothing can be written.
std::string json_char_expr(const code_set& set);

// The digits of every integer in [lo, hi] and nothing else, without leading zeros ("-" for
// negatives), as llama.cpp's _build_min_max_int shapes it: one alternative per digit count, each
// split at the first digit that differs. |lo|, |hi| <= max_integer_magnitude, lo <= hi.
std::string integer_range_expr(int64_t lo, int64_t hi);

// `item` repeated min..max times (no max: unbounded), `separator` between two; llama.cpp's
// build_repetition.
std::string repetition(const std::string& item, uint64_t min, std::optional<uint64_t> max,
                       const std::string& separator = "");

// A JSON Schema `pattern` (an ECMA-262 regular expression, searched, not anchored, unless it
// says ^ and $) as a GBNF expression for the body of a JSON string (between the quotes).
// `any_char` names the rule for one JSON string character, used for the unanchored ends.
// Throws compile_error: unsupported (lookarounds, backreferences, \b, \p{...}, anchors inside)
// or invalid_input (not a regular expression).
std::string pattern_expr(std::string_view pattern, const std::string& any_char);

}  // namespace pocketlm::grammar::json_schema_parts
