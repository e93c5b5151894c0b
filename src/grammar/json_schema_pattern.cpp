// JSON Schema `pattern` -> GBNF for a JSON string's body (grammar/json_schema_parts.h). The
// regex dialect is ECMA-262 with the `u` flag (what ajv and OpenAI validate with); the subset:
// literals and escapes, `.`, classes with ranges and \d \w \s \D \W \S, groups ((...), (?:...),
// (?<name>...)), alternation, ? * + {m} {m,} {m,n} (lazy forms too: a whole-string match does not
// care), ^ and $ at the ends of the pattern or of a top-level alternative.
#include <algorithm>
#include <string>
#include <vector>

#include "grammar/json_schema_parts.h"

namespace pocketlm::grammar::json_schema_parts {

namespace {

code_set digit_set() { return code_set('0', '9'); }

code_set word_set() {
  code_set s('0', '9');
  s.add('A', 'Z');
  s.add('a', 'z');
  s.add('_', '_');
  return s;
}

// ECMA-262 WhiteSpace and LineTerminator.
code_set space_set() {
  code_set s(0x09, 0x0D);
  for (uint32_t c : {0x20u, 0xA0u, 0x1680u, 0x2028u, 0x2029u, 0x202Fu, 0x205Fu, 0x3000u, 0xFEFFu}) s.add(c, c);
  s.add(0x2000, 0x200A);
  return s;
}

code_set dot_set() {
  code_set s(0x0A, 0x0A);
  s.add(0x0D, 0x0D);
  s.add(0x2028, 0x2029);
  return s.negated();
}

void encode_utf8(uint32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// One piece of a sequence: a literal run (raw bytes, merged with its neighbours) or an expression.
struct piece {
  std::string text;
  bool literal;
  bool nullable = false;  // matches the empty string
};

class pattern_parser {
 public:
  pattern_parser(std::string_view pattern, const std::string& any_char) : any_char_(any_char) { decode(pattern); }

  std::string top_level() {
    std::vector<std::string> alts;
    do {
      bool anchored_start = eat('^');
      bool nullable = false;
      std::string body = sequence(0, nullable);
      bool anchored_end = eat('$');
      if (!at_end() && peek() != '|') unsupported("'$' before the end of the pattern");
      std::string alt;
      if (!anchored_start) alt = any_char_ + "*";
      if (!body.empty()) alt += (alt.empty() ? "" : " ") + body;
      if (!anchored_end) alt += (alt.empty() ? "" : " ") + any_char_ + "*";
      alts.push_back(alt);
    } while (eat('|'));
    if (!at_end()) invalid("unmatched ')'");
    return join_alternatives(alts);
  }

 private:
  void decode(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
      unsigned char b = s[i];
      int extra = b < 0x80 ? 0 : b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
      uint32_t c = extra == 0 ? b : extra == 1 ? b & 0x1F : extra == 2 ? b & 0x0F : b & 0x07;
      for (int k = 1; k <= extra && i + k < s.size(); k++) c = (c << 6) | (s[i + k] & 0x3F);
      cps_.push_back(c);
      i += extra + 1;
    }
  }

  [[noreturn]] void unsupported(const std::string& what) {
    fail(error_kind::unsupported, "unsupported regular expression syntax in 'pattern': " + what);
  }
  [[noreturn]] void invalid(const std::string& what) {
    fail(error_kind::invalid_input, "'pattern' is not a valid regular expression: " + what);
  }

  bool at_end() const { return pos_ >= cps_.size(); }
  uint32_t peek(size_t ahead = 0) const { return pos_ + ahead < cps_.size() ? cps_[pos_ + ahead] : 0xFFFFFFFF; }
  bool eat(uint32_t c) {
    if (peek() != c) return false;
    pos_++;
    return true;
  }

  static std::string join_alternatives(const std::vector<std::string>& alts) {
    if (alts.size() == 1) return alts[0];
    std::string out;
    for (size_t i = 0; i < alts.size(); i++) out += (i ? " | " : "") + alts[i];
    return out;
  }

  std::string alternation(int depth, bool& nullable) {
    std::vector<std::string> alts;
    nullable = false;
    do {
      bool alt_nullable = false;
      alts.push_back(sequence(depth, alt_nullable));
      nullable = nullable || alt_nullable;
    } while (eat('|'));
    return join_alternatives(alts);
  }

  // Items until '|', ')' or the end; "" for an empty sequence.
  std::string sequence(int depth, bool& nullable) {
    std::vector<piece> items;
    while (!at_end() && peek() != '|' && peek() != ')') {
      if (peek() == '$' && depth == 0) break;
      if (peek() == '^' || peek() == '$') unsupported("anchor inside the pattern (only at its ends)");
      piece p = atom(depth);
      quantify(p);
      items.push_back(std::move(p));
    }
    nullable = std::all_of(items.begin(), items.end(), [](const piece& p) { return p.nullable; });
    std::string out, run;
    auto flush = [&] {
      if (run.empty()) return;
      out += (out.empty() ? "" : " ") + gbnf_literal(run);
      run.clear();
    };
    for (const piece& p : items) {
      if (p.literal) {
        run += p.text;
      } else {
        flush();
        if (!p.text.empty()) out += (out.empty() ? "" : " ") + p.text;
      }
    }
    flush();
    return out;
  }

  piece atom(int depth) {
    uint32_t c = cps_[pos_++];
    switch (c) {
      case '.': return {json_char_expr(dot_set()), false};
      case '[': return {set_expr(char_class()), false};
      case '(': return group(depth);
      case '\\': return escape_atom();
      case '*':
      case '+':
      case '?': invalid("nothing to repeat");
      case '{':
      case '}':
      case ']': invalid("lone '" + std::string(1, static_cast<char>(c)) + "'");
      default: return literal(c);
    }
  }

  piece group(int depth) {
    if (depth + 1 >= max_depth) unsupported("groups nested deeper than " + std::to_string(max_depth));
    if (eat('?')) {
      if (eat(':')) {
      } else if (peek() == '<' && peek(1) != '=' && peek(1) != '!') {
        while (!at_end() && peek() != '>') pos_++;
        if (!eat('>')) invalid("unterminated group name");
      } else {
        unsupported("lookaround '(?" + std::string(1, static_cast<char>(peek())) + "'");
      }
    }
    bool nullable = false;
    std::string body = alternation(depth + 1, nullable);
    if (!eat(')')) invalid("missing ')'");
    return {"(" + (body.empty() ? std::string("\"\"") : body) + ")", false, nullable};
  }

  static piece literal(uint32_t c) {
    if (c < 0x20 || c == '"' || c == '\\' || (c >= 0xD800 && c <= 0xDFFF)) return {set_expr(code_set(c, c)), false};
    std::string bytes;
    encode_utf8(c, bytes);
    return {bytes, true};
  }

  static std::string set_expr(const code_set& set) {
    std::string expr = json_char_expr(set);
    return expr.empty() ? "[^\\x00-\\U0010FFFF]" : expr;  // an empty class matches nothing
  }

  uint32_t hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; i++) {
      uint32_t c = peek();
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) invalid("bad hexadecimal escape");
      v = v * 16 + d;
      pos_++;
    }
    return v;
  }

  // The code point or class after a backslash. `in_class`: \b is a backspace and \- a hyphen.
  code_set escape(bool in_class, bool& is_class) {
    if (at_end()) invalid("'\\' at the end");
    uint32_t c = cps_[pos_++];
    is_class = true;
    switch (c) {
      case 'd': return digit_set();
      case 'D': return digit_set().negated();
      case 'w': return word_set();
      case 'W': return word_set().negated();
      case 's': return space_set();
      case 'S': return space_set().negated();
      default: break;
    }
    is_class = false;
    auto one = [](uint32_t v) { return code_set(v, v); };
    switch (c) {
      case 'n': return one('\n');
      case 'r': return one('\r');
      case 't': return one('\t');
      case 'f': return one('\f');
      case 'v': return one('\v');
      case '0':
        if (peek() >= '0' && peek() <= '9') invalid("octal escape");
        return one(0);
      case 'x': return one(hex(2));
      case 'u':
        if (eat('{')) {
          uint32_t v = 0;
          int n = 0;
          while (!at_end() && peek() != '}' && n < 7) v = v * 16 + hex(1), n++;
          if (!eat('}') || n == 0 || v > 0x10FFFF) invalid("bad \\u{...} escape");
          return one(v);
        }
        return one(hex(4));
      case 'c': {
        uint32_t letter = peek();
        if (!((letter >= 'a' && letter <= 'z') || (letter >= 'A' && letter <= 'Z'))) invalid("bad \\c escape");
        pos_++;
        return one(letter % 32);
      }
      case 'b':
        if (in_class) return one(0x08);
        unsupported("word boundary '\\b'");
      case 'B': unsupported("word boundary '\\B'");
      case 'p':
      case 'P': unsupported("Unicode property escape '\\" + std::string(1, static_cast<char>(c)) + "'");
      case 'k': unsupported("backreference '\\k'");
      case '-':
        if (in_class) return one('-');
        invalid("'\\-' outside a class");
      default: break;
    }
    if (c >= '1' && c <= '9') unsupported("backreference '\\" + std::string(1, static_cast<char>(c)) + "'");
    if (std::string_view("^$\\.*+?()[]{}|/").find(static_cast<char>(c)) != std::string_view::npos) return one(c);
    invalid("unknown escape '\\" + std::string(1, static_cast<char>(c < 0x80 ? c : '?')) + "'");
  }

  piece escape_atom() {
    bool is_class = false;
    code_set s = escape(false, is_class);
    if (!is_class && s.ranges().size() == 1 && s.ranges()[0].first == s.ranges()[0].second) {
      return literal(s.ranges()[0].first);
    }
    return {set_expr(s), false};
  }

  code_set char_class() {
    bool negate = eat('^');
    code_set set;
    while (!at_end() && peek() != ']') {
      bool lo_is_class = false;
      code_set lo = class_atom(lo_is_class);
      if (peek() == '-' && peek(1) != ']' && peek(1) != 0xFFFFFFFF) {
        pos_++;
        bool hi_is_class = false;
        code_set hi = class_atom(hi_is_class);
        if (lo_is_class || hi_is_class) invalid("a class escape as a range end");
        uint32_t from = lo.ranges()[0].first, to = hi.ranges()[0].first;
        if (from > to) invalid("range out of order in character class");
        set.add(from, to);
      } else {
        set.add(lo);
      }
    }
    if (!eat(']')) invalid("missing ']'");
    return negate ? set.negated() : set;
  }

  code_set class_atom(bool& is_class) {
    uint32_t c = cps_[pos_++];
    is_class = false;
    if (c == '\\') return escape(true, is_class);
    return code_set(c, c);
  }

  void quantify(piece& p) {
    uint64_t min = 0;
    std::optional<uint64_t> max;
    if (eat('*')) {
    } else if (eat('+')) {
      min = 1;
    } else if (eat('?')) {
      max = 1;
    } else if (peek() == '{') {
      pos_++;
      min = number();
      max = min;
      if (eat(',')) max = peek() == '}' ? std::nullopt : std::optional<uint64_t>(number());
      if (!eat('}')) invalid("bad {m,n} quantifier");
      if (max && *max < min) invalid("{m,n} with n < m");
      if (min > max_repetition || (max && *max > max_repetition)) {
        unsupported("repetition beyond " + std::to_string(max_repetition));
      }
    } else {
      return;
    }
    eat('?');  // lazy: the same strings match the whole pattern
    if (peek() == '*' || peek() == '+' || peek() == '?' || peek() == '{') invalid("nothing to repeat");
    if (p.nullable && !max) {
      // GBNF expands x* as r ::= x r | , left-recursive when x can be empty.
      unsupported("an unbounded repetition of a group that can match the empty string");
    }
    // A literal piece is one code point (runs merge after quantifiers apply).
    // An expression may be a sequence ([\\] ["]): grouped, so the quantifier takes all of it.
    std::string item = p.literal ? gbnf_literal(p.text) : "(" + p.text + ")";
    p = {repetition(item, min, max), false, p.nullable || min == 0};
  }

  uint64_t number() {
    if (!(peek() >= '0' && peek() <= '9')) invalid("bad {m,n} quantifier");
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = std::min<uint64_t>(v * 10 + (peek() - '0'), max_repetition + 1);
      pos_++;
    }
    return v;
  }

  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
  const std::string& any_char_;
};

}  // namespace

std::string pattern_expr(std::string_view pattern, const std::string& any_char) {
  if (pattern.size() > max_pattern_bytes) {
    fail(error_kind::unsupported, "'pattern' longer than " + std::to_string(max_pattern_bytes) + " bytes");
  }
  return pattern_parser(pattern, any_char).top_level();
}

}  // namespace pocketlm::grammar::json_schema_parts
