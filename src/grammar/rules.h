// grammar/rules.h: the compiled form of a GBNF grammar and the matcher's state, shared by the
// parser (gbnf_parser.cpp), the matcher (matcher.cpp) and the token masks (token_mask.cpp).
// Internal to grammar/: callers use grammar.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "grammar/grammar.h"

namespace pocketlm::grammar {

// One element of a rule body, in llama.cpp's layout: a rule is its alternatives one after the
// other, separated by `alt` and closed by `end`. A character class is a `chr` or `chr_not`
// followed by `chr_upper` (closing a range) and `chr_alt` (one more member) elements; `any` is `.`.
enum class op : uint8_t { end, alt, ref, chr, chr_not, chr_upper, chr_alt, any };

struct element {
  op type;
  uint32_t value;  // the code point, or the rule id for `ref`
};

inline bool is_terminal(op t) { return t == op::chr || t == op::chr_not || t == op::any; }
inline bool ends_sequence(op t) { return t == op::end || t == op::alt; }

struct rules {
  std::vector<element> elements;     // every rule, back to back
  std::vector<uint32_t> rule_start;  // rule id -> index of its first element
  std::vector<std::string> names;    // rule id -> name (generated ones too)
  uint32_t root = 0;                 // the rule id a matcher starts from
};

// A stack: element indices, the top (back) always a terminal; empty means the sentence is
// complete along this path.
using stack = std::vector<uint32_t>;

// A partial UTF-8 code point: the bits so far and how many continuation bytes are missing.
struct partial_utf8 {
  uint32_t value = 0;
  uint8_t missing = 0;
  bool operator==(const partial_utf8&) const = default;
};

struct matcher::state {
  std::vector<stack> stacks;  // sorted and unique, so equal states compare equal
  partial_utf8 partial;
  size_t hash = 0;  // of stacks and partial, computed once
};

}  // namespace pocketlm::grammar
