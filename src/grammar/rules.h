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
  uint8_t missing = 0;  // continuation bytes still to come
  uint8_t length = 0;   // of the sequence being decoded (2-4), while missing > 0
  bool operator==(const partial_utf8&) const = default;
};

inline constexpr size_t max_stacks = matcher::max_stacks;
// Rule references one expansion may follow: long chains of rules (r0 ::= r1, ...) reach their
// first terminal within it; an expansion running past it is as good as ambiguous.
inline constexpr size_t max_expand_steps = 65536;

struct matcher::state {
  std::vector<stack> stacks;  // sorted and unique, so equal states compare equal
  partial_utf8 partial;
  size_t hash = 0;  // of stacks and partial, computed once
};

size_t hash_of(const std::vector<stack>& stacks, partial_utf8 partial);

// The matching core, shared by matcher (one code point at a time) and the token masks (which
// memoize these transitions). `max_stacks` bounds the set (hostile, ambiguous grammars).
enum class step_result { ok, rejected, too_ambiguous };

// The stacks the grammar starts in: the root's alternatives, expanded.
step_result initial_stacks(const rules& r, std::vector<stack>& out);

// Whether the terminal at `pos` (a character class) matches code point `cp`.
bool class_matches(const rules& r, uint32_t pos, uint32_t cp);
// Whether it matches some code point in [lo, hi] (a partial UTF-8 sequence's possible values).
bool class_intersects(const rules& r, uint32_t pos, uint32_t lo, uint32_t hi);

// out = every stack in `stacks` whose top matches, advanced past it and expanded to terminals;
// sorted and unique. `selected(i)` says whether stacks[i]'s top matched.
template <typename Selected>
step_result advance(const rules& r, const std::vector<stack>& stacks, Selected selected, std::vector<stack>& out);
step_result advance_matching(const rules& r, const std::vector<stack>& stacks, uint32_t cp, std::vector<stack>& out);

// Whether some stack could continue with the partial code point `p` (bytes missing).
bool partial_possible(const rules& r, const std::vector<stack>& stacks, partial_utf8 p);

// Decodes one more byte into `p`. False for a byte no UTF-8 sequence has there. When it
// completes a code point, `p.missing` is 0 and `p.value` the code point.
// Strict UTF-8 (RFC 3629): overlong forms, surrogates and code points past U+10FFFF are
// rejected at the byte that rules them out, so a grammar never admits "\xC0\xA2" as a quote.
inline bool decode_byte(partial_utf8& p, uint8_t byte) {
  if (p.missing == 0) {
    if (byte < 0x80) {
      p.value = byte;
    } else if (byte >= 0xC2 && byte <= 0xDF) {
      p = {byte & 0x1Fu, 1, 2};
    } else if ((byte & 0xF0) == 0xE0) {
      p = {byte & 0x0Fu, 2, 3};
    } else if (byte >= 0xF0 && byte <= 0xF4) {
      p = {byte & 0x07u, 3, 4};
    } else {
      return false;
    }
    return true;
  }
  if ((byte & 0xC0) != 0x80) return false;
  if (p.missing + 1 == p.length) {  // the first continuation byte
    if (p.length == 3 && ((p.value == 0 && byte < 0xA0) || (p.value == 0xD && byte > 0x9F))) return false;
    if (p.length == 4 && ((p.value == 0 && byte < 0x90) || (p.value == 4 && byte > 0x8F))) return false;
  }
  p.value = (p.value << 6) | (byte & 0x3Fu);
  if (--p.missing == 0) p.length = 0;
  return true;
}

// Expands `work` (stacks whose top may be a rule reference or the end of a sequence) into
// stacks whose top is a terminal, or empty; appends them to `out` unsorted.
step_result expand(const rules& r, std::vector<stack>& work, std::vector<stack>& out);

template <typename Selected>
step_result advance(const rules& r, const std::vector<stack>& stacks, Selected selected, std::vector<stack>& out) {
  std::vector<stack> work;
  for (size_t i = 0; i < stacks.size(); ++i) {
    if (!selected(i)) continue;
    stack s = stacks[i];
    uint32_t pos = s.back();
    s.pop_back();
    uint32_t next = pos + 1;
    while (r.elements[next].type == op::chr_alt || r.elements[next].type == op::chr_upper) ++next;
    if (!ends_sequence(r.elements[next].type)) s.push_back(next);
    work.push_back(std::move(s));
  }
  out.clear();
  if (work.empty()) return step_result::rejected;
  return expand(r, work, out);
}

// A trie node in preorder: its children follow it, and its subtree ends at `end`.
struct token_trie::node {
  uint32_t end;          // one past the last node of the subtree
  uint32_t first_token;  // the tokens whose piece ends here: token_ids_[first_token, + n_tokens)
  uint32_t n_tokens;
  uint32_t depth;  // the piece length up to here; the root is 0
  uint8_t byte;    // the byte leading here from the parent
};

}  // namespace pocketlm::grammar
