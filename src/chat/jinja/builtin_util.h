// chat/jinja internals: helpers the builtins share (argument access, Python's str methods over
// tagged strings, sorting keys, printf-style formatting, generators).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja/evaluator.h"
#include "chat/jinja/pytext.h"

namespace pocketlm::chat::jinja::detail {

using filter_fn = value (*)(evaluator&, const value&, call_args&);
using test_fn = bool (*)(evaluator&, const value&, call_args&);

inline const value kNone = value::none();
inline const value kUndef = value::undefined();
inline const value kZero = value::integer(0);

[[noreturn]] void type_error(const std::string& what);
// Argument `name` (keyword) or at position i; by value: callers pass temporaries as the fallback.
value arg(const call_args& a, size_t i, std::string_view name, const value& fallback);
bool bool_arg(const call_args& a, size_t i, std::string_view name, bool fallback);
int64_t int_arg(const call_args& a, size_t i, std::string_view name, int64_t fallback);
pstr soft_str(const value& v);  // what Jinja2 turns a value into before string filters
value str_value(pstr s);

// Maps each code point, keeping each one's tag.
template <typename F>
pstr map_chars(const pstr& s, F f) {
  pstr out;
  const std::string& t = s.text();
  std::string buf;
  size_t idx = 0;
  bool prev_cased = false;
  for (size_t i = 0; i < t.size(); ++idx) {
    size_t len = 1;
    const uint32_t cp = utf8_at(t, i, len);
    buf.clear();
    if (len == 1 && cp >= 0x80) {
      buf += t[i];  // an invalid byte stays as it is
    } else {
      utf8_append(buf, f(cp, idx, prev_cased));
    }
    prev_cased = is_cased_letter(cp);
    out.append(buf, s.data_at(i));
    i += len;
  }
  return out;
}

pstr upper(const pstr& s);
pstr lower(const pstr& s);
pstr capitalize(const pstr& s);
pstr py_title(const pstr& s);
pstr strip(const pstr& s, const value* chars, bool left, bool right);
pstr replace(evaluator& ev, const pstr& s, const pstr& old, const pstr& repl, int64_t count);
std::vector<value> split(const pstr& s, const value* sep, int64_t maxsplit);
std::vector<value> rsplit(const pstr& s, const value* sep, int64_t maxsplit);
std::vector<pstr> splitlines(const pstr& s);
size_t py_len(const value& v);
value get_path(evaluator& ev, const value& v, const value& attr);
value make_bound(std::string name, std::function<value(evaluator&, call_args&)> fn);
value sort_key(const value& v, bool case_sensitive);
std::vector<value> sorted(evaluator& ev, std::vector<value> items, bool reverse, bool case_sensitive,
                          const value* attribute);
pstr percent_format(evaluator& ev, const pstr& fmt, const value& args);
pstr py_format(evaluator& ev, const pstr& fmt, const call_args& args);  // str.format (py_format.cpp)
double round_half_even(double x, int64_t digits);
value generator(std::vector<value> items);
pstr html_escape(const pstr& s);
value as_markup(value v);

// Jinja2's generator filters fail only when their result is iterated: run `body` now, and keep
// its error for then.
template <typename F>
value lazily(F body) {
  try {
    return body();
  } catch (const render_error& e) {
    value v = generator({});
    v.lst().pending_error = e.message;
    return v;
  }
}

// Builtin tables (filters.cpp, tests.cpp, methods.cpp).
value str_method(evaluator& ev, const value& obj, const std::string& name, bool& found);
value dict_method(const value& obj, const std::string& name, bool& found);
value list_method(const value& obj, const std::string& name, bool& found);

}  // namespace pocketlm::chat::jinja::detail
