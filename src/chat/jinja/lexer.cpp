#include "chat/jinja/lexer.h"

#include <cstring>

#include "chat/jinja/pytext.h"

namespace pocketlm::chat::jinja::detail {

std::string at(int line, int col, const std::string& what) {
  return "jinja: line " + std::to_string(line) + " col " + std::to_string(col) + ": " + what;
}

namespace {

// Jinja2 turns \r\n and \r into \n and drops one trailing newline.
std::string normalize_newlines(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out += src[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool is_space_at(std::string_view s, size_t i, size_t& len) { return py_isspace(utf8_at(s, i, len)); }

// Length of the run of (Python) whitespace starting at i.
size_t space_run(std::string_view s, size_t i) {
  size_t n = 0;
  while (i + n < s.size()) {
    size_t len = 1;
    if (!is_space_at(s, i + n, len)) break;
    n += len;
  }
  return n;
}

bool all_space(std::string_view s) { return !s.empty() && space_run(s, 0) == s.size(); }

std::string rstrip_space(std::string_view s) { return std::string(s.substr(0, rstrip_keep(s, {}, true))); }

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_dec(char c) { return c >= '0' && c <= '9'; }

class lexer {
 public:
  explicit lexer(std::string_view source) : src_(normalize_newlines(source)) {}

  result<std::vector<token>> run() {
    try {
      lex_root();
    } catch (const error& e) {
      return e;
    }
    out_.push_back({tok::eof, "", line_, col()});
    return std::move(out_);
  }

 private:
  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
  bool line_starting_ = true;
  std::vector<token> out_;

  int col() const { return static_cast<int>(pos_ - line_start_) + 1; }
  [[noreturn]] void fail_here(const std::string& what) { throw error{at(line_, col(), what)}; }

  // Moves pos_ to `to`, counting lines.
  void advance(size_t to) {
    for (size_t i = pos_; i < to; ++i) {
      if (src_[i] == '\n') {
        ++line_;
        line_start_ = i + 1;
      }
    }
    pos_ = to;
  }

  bool starts(size_t i, const char* s) const { return src_.compare(i, std::strlen(s), s) == 0; }

  void emit_data(std::string text, int line, int col) {
    if (!text.empty()) out_.push_back({tok::data, std::move(text), line, col});
  }

  // Applies '-' / lstrip_blocks to the text before a tag; returns the text to keep.
  std::string strip_before(std::string_view text, char sign, bool is_variable) {
    if (sign == '-') return rstrip_space(text);
    if (sign != '+' && !is_variable) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && all_space(text.substr(l_pos))) return std::string(text.substr(0, l_pos));
    }
    return std::string(text);
  }

  // {% raw %} at i? Returns the end of the opening tag (npos if not raw) and its sign.
  size_t raw_open(size_t i, char& sign) const {
    size_t p = i + 2;
    sign = 0;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
    p += space_run(src_, p);
    if (!starts(p, "raw")) return std::string::npos;
    p += 3;
    if (p < src_.size() && is_name_char(src_[p])) return std::string::npos;
    p += space_run(src_, p);
    if (starts(p, "-%}")) return p + 3 + space_run(src_, p + 3);
    if (starts(p, "%}")) return p + 2;
    return std::string::npos;
  }

  void lex_root() {
    while (pos_ < src_.size()) {
      size_t tag = pos_;
      for (;; ++tag) {
        tag = src_.find('{', tag);
        if (tag == std::string::npos || tag + 1 >= src_.size()) {
          tag = std::string::npos;
          break;
        }
        const char c = src_[tag + 1];
        if (c == '{' || c == '%' || c == '#') break;
      }
      const int data_line = line_, data_col = col();
      if (tag == std::string::npos) {
        emit_data(src_.substr(pos_), data_line, data_col);
        advance(src_.size());
        return;
      }
      const char kind = src_[tag + 1];
      const char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
      const std::string_view text(src_.data() + pos_, tag - pos_);
      if (kind == '%') {
        char raw_sign = 0;
        const size_t raw_end = raw_open(tag, raw_sign);
        if (raw_end != std::string::npos) {
          emit_data(strip_before(text, raw_sign, false), data_line, data_col);
          advance(raw_end);
          line_starting_ = src_[raw_end - 1] == '\n';
          lex_raw_body();
          continue;
        }
      }
      emit_data(strip_before(text, sign, kind == '{'), data_line, data_col);
      advance(tag);
      const int tag_line = line_, tag_col = col();
      advance(tag + 2 + (sign ? 1 : 0));
      line_starting_ = false;
      if (kind == '#') {
        lex_comment(tag_line, tag_col);
      } else {
        out_.push_back({kind == '{' ? tok::var_begin : tok::block_begin, "", tag_line, tag_col});
        lex_tag(kind == '{');
      }
    }
  }

  void lex_comment(int line, int col) {
    for (size_t i = pos_; i + 1 < src_.size(); ++i) {
      if ((src_[i] == '+' || src_[i] == '-') && starts(i + 1, "#}")) {
        size_t end = i + 3;
        if (src_[i] == '-') end += space_run(src_, end);
        advance(end);
        line_starting_ = src_[end - 1] == '\n';
        return;
      }
      if (starts(i, "#}")) {
        size_t end = i + 2;
        if (end < src_.size() && src_[end] == '\n') ++end;
        advance(end);
        line_starting_ = src_[end - 1] == '\n';
        return;
      }
    }
    throw error{at(line, col, "Missing end of comment tag")};
  }

  void lex_raw_body() {
    const int line = line_, c = col();
    for (size_t i = pos_; i + 1 < src_.size(); ++i) {
      if (!starts(i, "{%")) continue;
      size_t p = i + 2;
      char sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      p += space_run(src_, p);
      if (!starts(p, "endraw")) continue;
      p += 6;
      p += space_run(src_, p);
      size_t end;
      if (starts(p, "+%}")) {
        end = p + 3;
      } else if (starts(p, "-%}")) {
        end = p + 3 + space_run(src_, p + 3);
      } else if (starts(p, "%}")) {
        end = p + 2;
        if (end < src_.size() && src_[end] == '\n') ++end;
      } else {
        continue;
      }
      emit_data(strip_before(std::string_view(src_).substr(pos_, i - pos_), sign, false), line, c);
      advance(end);
      line_starting_ = src_[end - 1] == '\n';
      return;
    }
    throw error{at(line, c, "Missing end of raw directive")};
  }

  // Tokens up to the closing }} or %}.
  void lex_tag(bool variable) {
    std::vector<char> balance;
    while (true) {
      if (pos_ >= src_.size())
        fail_here(variable ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'");
      if (balance.empty()) {
        size_t end = std::string::npos;
        if (variable) {
          if (starts(pos_, "-}}")) {
            end = pos_ + 3 + space_run(src_, pos_ + 3);
          } else if (starts(pos_, "}}")) {
            end = pos_ + 2;
          }
        } else {
          if (starts(pos_, "+%}")) {
            end = pos_ + 3;
          } else if (starts(pos_, "-%}")) {
            end = pos_ + 3 + space_run(src_, pos_ + 3);
          } else if (starts(pos_, "%}")) {
            end = pos_ + 2;
            if (end < src_.size() && src_[end] == '\n') ++end;
          }
        }
        if (end != std::string::npos) {
          out_.push_back({variable ? tok::var_end : tok::block_end, "", line_, col()});
          advance(end);
          line_starting_ = src_[end - 1] == '\n';
          return;
        }
      }
      const size_t ws = space_run(src_, pos_);
      if (ws) {
        advance(pos_ + ws);
        continue;
      }
      const int tl = line_, tc = col();
      const char c = src_[pos_];
      if (is_dec(c)) {
        lex_number(tl, tc);
      } else if (is_name_start(c)) {
        size_t e = pos_;
        while (e < src_.size() && is_name_char(src_[e])) ++e;
        out_.push_back({tok::name, src_.substr(pos_, e - pos_), tl, tc});
        advance(e);
      } else if (c == '\'' || c == '"') {
        lex_string(tl, tc);
      } else {
        static const char* const ops[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
                                          "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};
        const char* found = nullptr;
        for (const char* o : ops) {
          if (starts(pos_, o)) {
            found = o;
            break;
          }
        }
        if (!found) {
          size_t len = 1;
          utf8_at(src_, pos_, len);
          fail_here("unexpected char '" + src_.substr(pos_, len) + "'");
        }
        const std::string op(found);
        if (op == "(" || op == "[" || op == "{") {
          if (balance.size() >= 256) fail_here("brackets nested too deeply");
          balance.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
        } else if (op == ")" || op == "]" || op == "}") {
          if (balance.empty()) fail_here("unexpected '" + op + "'");
          if (balance.back() != op[0])
            fail_here("unexpected '" + op + "', expected '" + std::string(1, balance.back()) + "'");
          balance.pop_back();
        }
        out_.push_back({tok::op, op, tl, tc});
        advance(pos_ + op.size());
      }
    }
  }

  // Digits with optional single underscores between them, from p; returns the end (p if none).
  size_t digits(size_t p) const {
    size_t e = p;
    while (e < src_.size() && is_dec(src_[e])) {
      ++e;
      if (e + 1 < src_.size() && src_[e] == '_' && is_dec(src_[e + 1])) ++e;
    }
    return e;
  }

  void lex_number(int tl, int tc) {
    const size_t start = pos_;
    auto strip_us = [](std::string s) {
      std::string o;
      for (char ch : s)
        if (ch != '_') o += ch;
      return o;
    };
    // 0b / 0o / 0x
    if (src_[start] == '0' && start + 2 < src_.size() && std::strchr("bBoOxX", src_[start + 1])) {
      const char base_c = static_cast<char>(src_[start + 1] | 32);
      const int base = base_c == 'b' ? 2 : base_c == 'o' ? 8 : 16;
      size_t e = start + 2;
      auto ok = [&](char ch) {
        const int d = is_dec(ch) ? ch - '0' : ((ch | 32) >= 'a' && (ch | 32) <= 'f') ? (ch | 32) - 'a' + 10 : 99;
        return d < base;
      };
      while (e < src_.size() && (ok(src_[e]) || (src_[e] == '_' && e + 1 < src_.size() && ok(src_[e + 1])))) ++e;
      if (e > start + 2) {
        const std::string d = strip_us(src_.substr(start + 2, e - start - 2));
        errno = 0;
        const unsigned long long v = std::strtoull(d.c_str(), nullptr, base);
        if (errno || v > static_cast<unsigned long long>(INT64_MAX)) fail_here("integer literal too large");
        out_.push_back({tok::integer, std::to_string(v), tl, tc});
        advance(e);
        return;
      }
    }
    const size_t int_end = digits(start);
    size_t e = int_end;
    bool is_float = false;
    if (e + 1 < src_.size() && src_[e] == '.' && is_dec(src_[e + 1])) {
      e = digits(e + 1);
      is_float = true;
    }
    if (e < src_.size() && (src_[e] | 32) == 'e') {
      size_t p = e + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_dec(src_[p])) {
        e = digits(p);
        is_float = true;
      }
    }
    const std::string text = strip_us(src_.substr(start, e - start));
    if (is_float) {
      out_.push_back({tok::floating, text, tl, tc});
    } else {
      // Python forbids leading zeros on non-zero decimals: "07" lexes as 0 then 7 in Jinja2.
      size_t n = 1;
      if (src_[start] == '0') {
        n = 1;
        while (start + n < src_.size() &&
               (src_[start + n] == '0' ||
                (src_[start + n] == '_' && start + n + 1 < src_.size() && src_[start + n + 1] == '0')))
          ++n;
        out_.push_back({tok::integer, "0", tl, tc});
        advance(start + n);
        return;
      }
      if (text.size() > 18 && text > "9223372036854775807") fail_here("integer literal too large");
      if (text.size() > 19) fail_here("integer literal too large");
      out_.push_back({tok::integer, text, tl, tc});
    }
    advance(e);
  }

  void lex_string(int tl, int tc) {
    const char q = src_[pos_];
    size_t e = pos_ + 1;
    std::string val;
    while (true) {
      if (e >= src_.size()) fail_here("unexpected char '" + std::string(1, q) + "'");
      const char c = src_[e];
      if (c == q) break;
      if (c != '\\') {
        val += c;
        ++e;
        continue;
      }
      if (e + 1 >= src_.size()) fail_here("unexpected char '" + std::string(1, q) + "'");
      const char n = src_[e + 1];
      e += 2;
      auto hex = [&](int count) -> bool {
        if (e + static_cast<size_t>(count) > src_.size()) return false;
        uint32_t v = 0;
        for (int k = 0; k < count; ++k) {
          const char h = src_[e + static_cast<size_t>(k)];
          int d;
          if (is_dec(h))
            d = h - '0';
          else if ((h | 32) >= 'a' && (h | 32) <= 'f')
            d = (h | 32) - 'a' + 10;
          else
            return false;
          v = v * 16 + static_cast<uint32_t>(d);
        }
        if (v > 0x10FFFF) return false;
        utf8_append(val, v);
        e += static_cast<size_t>(count);
        return true;
      };
      switch (n) {
        case '\n': break;
        case '\\': val += '\\'; break;
        case '\'': val += '\''; break;
        case '"': val += '"'; break;
        case 'a': val += '\a'; break;
        case 'b': val += '\b'; break;
        case 'f': val += '\f'; break;
        case 'n': val += '\n'; break;
        case 'r': val += '\r'; break;
        case 't': val += '\t'; break;
        case 'v': val += '\v'; break;
        case 'x':
          if (!hex(2)) fail_here("truncated \\xXX escape in string");
          break;
        case 'u':
          if (!hex(4)) fail_here("truncated \\uXXXX escape in string");
          break;
        case 'U':
          if (!hex(8)) fail_here("truncated \\UXXXXXXXX escape in string");
          break;
        default:
          if (n >= '0' && n <= '7') {
            uint32_t v = static_cast<uint32_t>(n - '0');
            for (int k = 0; k < 2 && e < src_.size() && src_[e] >= '0' && src_[e] <= '7'; ++k)
              v = v * 8 + static_cast<uint32_t>(src_[e++] - '0');
            utf8_append(val, v);
          } else {
            val += '\\';
            val += n;
          }
      }
    }
    out_.push_back({tok::string, std::move(val), tl, tc});
    advance(e + 1);
  }
};

}  // namespace

result<std::vector<token>> lex(std::string_view source) { return lexer(source).run(); }

}  // namespace pocketlm::chat::jinja::detail
