// GBNF text -> rules (grammar/rules.h), with llama.cpp's rewrites: a group becomes a generated
// rule, and repetitions become chains of generated rules (S{m,n} is S m times, then n-m nested
// optional copies; S* and S{m,} end in a right-recursive rule). Hostile text is refused with an
// error instead of exhausting memory or the call stack: repetition counts, nesting depth and the
// compiled size are bounded, and left recursion (which would expand forever) is detected.
#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "grammar/rules.h"

namespace pocketlm::grammar {

namespace {

constexpr uint32_t max_code_point = 0x10FFFF;
constexpr int max_nesting = 256;                  // parentheses inside parentheses
constexpr uint64_t max_repetition = 10000;        // the m and n of {m,n}
constexpr size_t max_elements = size_t{1} << 22;  // the compiled size, all rules together

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string line_column(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// Thrown inside the parser only; parse() turns it into an error.
struct parse_failure {
  size_t offset;
  std::string what;
};

class parser {
 public:
  explicit parser(std::string_view text) : text_(text) {}

  void parse_all() {
    size_t pos = skip_space(0, true);
    while (pos < text_.size()) pos = parse_rule(pos);
  }

  std::vector<std::vector<element>> bodies;  // rule id -> its elements (alternatives, then end)
  std::vector<std::string> names;
  std::vector<bool> defined;
  std::vector<size_t> first_use;  // where an undefined rule was first referenced
  std::unordered_map<std::string, uint32_t> ids;
  size_t total_elements = 0;

 private:
  [[noreturn]] void fail(size_t offset, std::string what) { throw parse_failure{offset, std::move(what)}; }

  char at(size_t pos) const { return pos < text_.size() ? text_[pos] : '\0'; }

  // Spaces, tabs and comments; newlines too where the grammar allows them (inside groups, after
  // `|`, between rules).
  size_t skip_space(size_t pos, bool newlines) const {
    while (pos < text_.size()) {
      char c = text_[pos];
      if (c == ' ' || c == '\t') {
        ++pos;
      } else if (c == '#') {
        while (pos < text_.size() && text_[pos] != '\n' && text_[pos] != '\r') ++pos;
      } else if (newlines && (c == '\n' || c == '\r')) {
        ++pos;
      } else {
        break;
      }
    }
    return pos;
  }

  size_t parse_name(size_t pos) const {
    size_t end = pos;
    while (end < text_.size() && is_word_char(text_[end])) ++end;
    return end;
  }

  uint32_t rule_id(std::string_view name, size_t used_at) {
    auto it = ids.find(std::string(name));
    if (it != ids.end()) return it->second;
    return new_rule(std::string(name), false, used_at);
  }

  uint32_t new_rule(std::string name, bool is_defined, size_t used_at) {
    uint32_t id = static_cast<uint32_t>(names.size());
    ids.emplace(name, id);
    names.push_back(std::move(name));
    bodies.emplace_back();
    defined.push_back(is_defined);
    first_use.push_back(used_at);
    return id;
  }

  // A rule the parser makes up (a group, a repetition): `base:N`, a name no text can spell.
  uint32_t generated_rule(const std::string& base) {
    return new_rule(base + ":" + std::to_string(++generated_), true, 0);
  }

  void set_body(uint32_t id, std::vector<element> body, size_t offset) {
    total_elements += body.size();
    if (total_elements > max_elements)
      fail(offset, "the grammar is too large (over " + std::to_string(max_elements) + " elements once expanded)");
    bodies[id] = std::move(body);
  }

  size_t parse_rule(size_t pos) {
    size_t name_end = parse_name(pos);
    if (name_end == pos) fail(pos, "expecting a rule name");
    std::string name(text_.substr(pos, name_end - pos));
    pos = skip_space(name_end, false);
    if (text_.substr(pos, 3) != "::=") fail(pos, "expecting ::=");
    pos = skip_space(pos + 3, true);

    uint32_t id = rule_id(name, pos);
    if (defined[id]) fail(pos, "rule '" + name + "' is defined twice");
    defined[id] = true;
    current_rule_ = name;
    std::vector<element> body;
    pos = parse_alternatives(pos, body, false, 0);
    body.push_back({op::end, 0});
    set_body(id, std::move(body), pos);

    if (at(pos) == '\r') ++pos;
    if (at(pos) == '\n') {
      ++pos;
    } else if (pos < text_.size()) {
      fail(pos, "expecting a newline or the end of the text");
    }
    return skip_space(pos, true);
  }

  size_t parse_alternatives(size_t pos, std::vector<element>& out, bool nested, int depth) {
    pos = parse_sequence(pos, out, nested, depth);
    while (at(pos) == '|') {
      out.push_back({op::alt, 0});
      pos = skip_space(pos + 1, true);
      pos = parse_sequence(pos, out, nested, depth);
    }
    return pos;
  }

  // One code point of a literal or a class, escapes decoded; returns the position after it.
  size_t parse_char(size_t pos, uint32_t& cp) {
    if (pos >= text_.size()) fail(pos, "unexpected end of the text");
    unsigned char c = static_cast<unsigned char>(text_[pos]);
    if (c == '\\') {
      char e = at(pos + 1);
      switch (e) {
        case 'n': cp = '\n'; return pos + 2;
        case 't': cp = '\t'; return pos + 2;
        case 'r': cp = '\r'; return pos + 2;
        case '\\': cp = '\\'; return pos + 2;
        case '"': cp = '"'; return pos + 2;
        case '[': cp = '['; return pos + 2;
        case ']': cp = ']'; return pos + 2;
        case 'x': return parse_hex(pos + 2, 2, cp);
        case 'u': return parse_hex(pos + 2, 4, cp);
        case 'U': return parse_hex(pos + 2, 8, cp);
        default: fail(pos, std::string("unknown escape \\") + (e ? std::string(1, e) : std::string()));
      }
    }
    // UTF-8: classes and literals are over code points.
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0) fail(pos, "invalid UTF-8");
    cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i < len; ++i) {
      unsigned char k = static_cast<unsigned char>(at(pos + i));
      if ((k & 0xC0) != 0x80) fail(pos, "invalid UTF-8");
      cp = (cp << 6) | (k & 0x3F);
    }
    return pos + len;
  }

  size_t parse_hex(size_t pos, int digits, uint32_t& cp) {
    uint64_t v = 0;
    for (int i = 0; i < digits; ++i) {
      int h = hex_value(at(pos + i));
      if (h < 0) fail(pos + i, "expecting " + std::to_string(digits) + " hex digits");
      v = v * 16 + h;
    }
    if (v > max_code_point) fail(pos, "code point beyond U+10FFFF");
    cp = static_cast<uint32_t>(v);
    return pos + digits;
  }

  size_t parse_int(size_t pos, uint64_t& value) {
    if (!is_digit(at(pos))) fail(pos, "expecting a number");
    value = 0;
    while (is_digit(at(pos))) {
      value = value * 10 + (at(pos) - '0');
      if (value > max_repetition)
        fail(pos, "repetition count over " + std::to_string(max_repetition) + " (a grammar that large is refused)");
      ++pos;
    }
    return pos;
  }

  size_t parse_sequence(size_t pos, std::vector<element>& out, bool nested, int depth) {
    size_t last_symbol = out.size();  // where the symbol a repetition applies to starts
    while (pos < text_.size()) {
      char c = text_[pos];
      if (c == '"') {
        last_symbol = out.size();
        size_t open = pos++;
        while (at(pos) != '"') {
          if (pos >= text_.size()) fail(open, "unterminated string literal");
          uint32_t cp;
          pos = parse_char(pos, cp);
          out.push_back({op::chr, cp});
        }
        pos = skip_space(pos + 1, nested);
      } else if (c == '[') {
        last_symbol = out.size();
        size_t open = pos++;
        op first = op::chr;
        if (at(pos) == '^') {
          first = op::chr_not;
          ++pos;
        }
        size_t class_start = out.size();
        while (at(pos) != ']') {
          if (pos >= text_.size()) fail(open, "unterminated character class");
          uint32_t lo;
          pos = parse_char(pos, lo);
          out.push_back({out.size() == class_start ? first : op::chr_alt, lo});
          if (at(pos) == '-' && at(pos + 1) != ']' && pos + 1 < text_.size()) {
            uint32_t hi;
            pos = parse_char(pos + 1, hi);
            if (hi < lo) fail(pos, "character range out of order");
            out.push_back({op::chr_upper, hi});
          }
        }
        // `[]` matches nothing and `[^]` anything, as in llama.cpp.
        if (out.size() == class_start) out.push_back({first, 0xFFFFFFFF});
        pos = skip_space(pos + 1, nested);
      } else if (is_word_char(c)) {
        size_t end = parse_name(pos);
        last_symbol = out.size();
        out.push_back({op::ref, rule_id(text_.substr(pos, end - pos), pos)});
        pos = skip_space(end, nested);
      } else if (c == '(') {
        if (depth + 1 > max_nesting) fail(pos, "groups nested deeper than " + std::to_string(max_nesting));
        size_t open = pos;
        pos = skip_space(pos + 1, true);
        uint32_t group = generated_rule(current_rule_);
        std::vector<element> body;
        pos = parse_alternatives(pos, body, true, depth + 1);
        body.push_back({op::end, 0});
        if (at(pos) != ')') fail(pos, "expecting ')' to close the '(' at " + line_column(text_, open));
        set_body(group, std::move(body), pos);
        last_symbol = out.size();
        out.push_back({op::ref, group});
        pos = skip_space(pos + 1, nested);
      } else if (c == '.') {
        last_symbol = out.size();
        out.push_back({op::any, 0});
        pos = skip_space(pos + 1, nested);
      } else if (c == '*' || c == '+' || c == '?') {
        if (last_symbol == out.size()) fail(pos, std::string("nothing before '") + c + "' to repeat");
        repeat(out, last_symbol, c == '+' ? 1 : 0, c == '?' ? 1 : -1, pos);
        pos = skip_space(pos + 1, nested);
      } else if (c == '{') {
        if (last_symbol == out.size()) fail(pos, "nothing before '{' to repeat");
        size_t open = pos;
        pos = skip_space(pos + 1, nested);
        uint64_t min_times = 0, max_times = 0;
        bool bounded = true;
        if (at(pos) == ',') {  // {,n}
          pos = skip_space(pos + 1, nested);
          pos = skip_space(parse_int(pos, max_times), nested);
        } else {
          pos = skip_space(parse_int(pos, min_times), nested);
          max_times = min_times;
          if (at(pos) == ',') {
            pos = skip_space(pos + 1, nested);
            if (is_digit(at(pos))) {
              pos = skip_space(parse_int(pos, max_times), nested);
            } else {
              bounded = false;
            }
          }
        }
        if (at(pos) != '}') fail(pos, "expecting '}'");
        if (bounded && max_times < min_times) fail(open, "repetition {m,n} with n < m");
        repeat(out, last_symbol, static_cast<int>(min_times), bounded ? static_cast<int>(max_times) : -1, open);
        pos = skip_space(pos + 1, nested);
      } else {
        break;
      }
    }
    return pos;
  }

  // Rewrites out[from..] (one symbol) as that symbol repeated min..max times (max -1: unbounded):
  //   S{m,n} -> S (m times) R(n-m), R(k) ::= S R(k-1) | , R(1) ::= S |
  //   S{m,}  -> S (m times) R,      R ::= S R |
  // A symbol longer than a few elements (a literal) first becomes a rule of its own, so each copy
  // is one reference.
  void repeat(std::vector<element>& out, size_t from, int min_times, int max_times, size_t offset) {
    std::vector<element> symbol(out.begin() + from, out.end());
    out.resize(from);
    if (symbol.size() > 4) {
      uint32_t wrapped = generated_rule(current_rule_);
      symbol.push_back({op::end, 0});
      set_body(wrapped, std::move(symbol), offset);
      symbol = {{op::ref, wrapped}};
    }
    if (static_cast<uint64_t>(min_times) * symbol.size() + total_elements + out.size() > max_elements)
      fail(offset, "the grammar is too large (over " + std::to_string(max_elements) + " elements once expanded)");
    for (int i = 0; i < min_times; ++i) out.insert(out.end(), symbol.begin(), symbol.end());

    if (max_times < 0) {
      uint32_t rest = generated_rule(current_rule_);
      std::vector<element> body = symbol;
      body.push_back({op::ref, rest});
      body.push_back({op::alt, 0});
      body.push_back({op::end, 0});
      set_body(rest, std::move(body), offset);
      out.push_back({op::ref, rest});
      return;
    }
    uint32_t previous = 0;
    bool have_previous = false;
    for (int k = 1; k <= max_times - min_times; ++k) {
      uint32_t optional = generated_rule(current_rule_);
      std::vector<element> body = symbol;
      if (have_previous) body.push_back({op::ref, previous});
      body.push_back({op::alt, 0});
      body.push_back({op::end, 0});
      set_body(optional, std::move(body), offset);
      previous = optional;
      have_previous = true;
    }
    if (have_previous) out.push_back({op::ref, previous});
  }

  std::string_view text_;
  std::string current_rule_;
  int generated_ = 0;
};

// Which rules can match the empty string: a worklist over alternatives, linear in the size.
std::vector<bool> nullable_rules(const rules& r) {
  size_t n = r.rule_start.size();
  std::vector<bool> nullable(n, false);
  struct alternative {
    uint32_t rule;
    uint32_t pending;  // references to rules not yet known nullable
  };
  std::vector<alternative> alts;
  std::vector<std::vector<uint32_t>> used_by(n);  // rule -> alternatives referencing it
  std::vector<uint32_t> ready;
  for (uint32_t id = 0; id < n; ++id) {
    size_t p = r.rule_start[id];
    while (true) {
      uint32_t a = static_cast<uint32_t>(alts.size());
      alts.push_back({id, 0});
      bool has_terminal = false;
      for (; !ends_sequence(r.elements[p].type); ++p) {
        const element& e = r.elements[p];
        if (e.type == op::ref) {
          used_by[e.value].push_back(a);
          ++alts[a].pending;
        } else if (is_terminal(e.type)) {
          has_terminal = true;
        }
      }
      if (has_terminal) alts[a].pending = UINT32_MAX;  // never empty
      if (alts[a].pending == 0) ready.push_back(id);
      if (r.elements[p].type == op::end) break;
      ++p;
    }
  }
  while (!ready.empty()) {
    uint32_t id = ready.back();
    ready.pop_back();
    if (nullable[id]) continue;
    nullable[id] = true;
    for (uint32_t a : used_by[id])
      if (alts[a].pending != UINT32_MAX && --alts[a].pending == 0) ready.push_back(alts[a].rule);
  }
  return nullable;
}

// The name of a rule on a left-recursive cycle, or empty. A rule A reaches B on the left when B
// is referenced in one of A's alternatives after only nullable elements; a cycle in that graph
// would expand forever. Iterative, so long rule chains cannot overflow the stack.
std::string left_recursive_rule(const rules& r) {
  size_t n = r.rule_start.size();
  std::vector<bool> nullable = nullable_rules(r);
  std::vector<std::vector<uint32_t>> left(n);
  for (uint32_t id = 0; id < n; ++id) {
    size_t p = r.rule_start[id];
    bool at_left = true;
    for (;; ++p) {
      const element& e = r.elements[p];
      if (e.type == op::end) break;
      if (e.type == op::alt) {
        at_left = true;
        continue;
      }
      if (!at_left) continue;
      if (e.type == op::ref) {
        left[id].push_back(e.value);
        if (!nullable[e.value]) at_left = false;
      } else if (is_terminal(e.type)) {
        at_left = false;
      }
    }
  }
  enum : uint8_t { unvisited, on_path, done };
  std::vector<uint8_t> mark(n, unvisited);
  std::vector<std::pair<uint32_t, size_t>> path;  // rule, next edge to follow
  for (uint32_t start = 0; start < n; ++start) {
    if (mark[start] != unvisited) continue;
    path.push_back({start, 0});
    mark[start] = on_path;
    while (!path.empty()) {
      auto& [id, edge] = path.back();
      if (edge == left[id].size()) {
        mark[id] = done;
        path.pop_back();
        continue;
      }
      uint32_t next = left[id][edge++];
      if (mark[next] == on_path) return r.names[next];
      if (mark[next] == unvisited) {
        mark[next] = on_path;
        path.push_back({next, 0});
      }
    }
  }
  return {};
}

}  // namespace

grammar::~grammar() = default;

result<std::shared_ptr<const grammar>> grammar::parse(std::string_view gbnf, std::string_view root) {
  parser p(gbnf);
  try {
    p.parse_all();
  } catch (const parse_failure& f) {
    return error{"GBNF " + line_column(gbnf, f.offset) + ": " + f.what, error_kind::invalid_input};
  }
  for (size_t id = 0; id < p.names.size(); ++id)
    if (!p.defined[id])
      return error{"GBNF " + line_column(gbnf, p.first_use[id]) + ": undefined rule '" + p.names[id] + "'",
                   error_kind::invalid_input};
  auto root_it = p.ids.find(std::string(root));
  if (root_it == p.ids.end())
    return error{"GBNF: no rule named '" + std::string(root) + "' (the root)", error_kind::invalid_input};

  auto compiled = std::make_unique<rules>();
  compiled->elements.reserve(p.total_elements);
  for (size_t id = 0; id < p.bodies.size(); ++id) {
    compiled->rule_start.push_back(static_cast<uint32_t>(compiled->elements.size()));
    compiled->elements.insert(compiled->elements.end(), p.bodies[id].begin(), p.bodies[id].end());
  }
  compiled->names = std::move(p.names);
  compiled->root = root_it->second;
  std::string recursive = left_recursive_rule(*compiled);
  if (!recursive.empty())
    return error{"GBNF: rule '" + recursive + "' is left-recursive (it would expand forever); rewrite it with * or +",
                 error_kind::invalid_input};

  auto g = std::shared_ptr<grammar>(new grammar());
  g->rules_ = std::move(compiled);
  return std::shared_ptr<const grammar>(std::move(g));
}

}  // namespace pocketlm::grammar
