// Python's operators on template values: + - * / // % ** ~ and `in`.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <unordered_map>

#include "chat/jinja/builtin_util.h"

namespace pocketlm::chat::jinja::detail {

bool contains(const value& container, const value& item) {
  switch (container.k) {
    case kind::undefined: return false;
    case kind::string:
      if (!item.is_string()) type_error("'in <string>' requires string as left operand, not " + type_name(item));
      return container.text().find(item.text()) != std::string::npos;
    case kind::list:
      for (const value& x : container.lst().items) {
        if (py_equal(x, item)) return true;
      }
      return false;
    case kind::dict:
    case kind::ns:
      if ((item.k == kind::list && !item.lst().tuple) || item.k == kind::dict) {
        type_error("unhashable type: '" + type_name(item) + "'");
      }
      return container.dct().find(item) != nullptr;
    default: type_error("argument of type '" + type_name(container) + "' is not iterable");
  }
}

// ---- arithmetic

namespace {

value num_result(const value& a, const value& b, int64_t i) { return value::integer(i, a.data || b.data); }
value num_result(const value& a, const value& b, double f) { return value::floating(f, a.data || b.data); }

[[noreturn]] void unsupported(const std::string& op, const value& a, const value& b) {
  type_error("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

value repeat(evaluator& ev, const value& seq, int64_t n) {
  if (n <= 0) return seq.is_string() ? value::string("", false) : value::list({}, seq.lst().tuple);
  if (seq.is_string()) {
    ev.check_string_size(seq.str().size() * static_cast<size_t>(std::min<int64_t>(n, 1 << 30)));
    pstr out;
    for (int64_t i = 0; i < n; ++i) out.append(seq.str());
    return value::string(std::move(out));
  }
  ev.check_list_size(seq.lst().items.size() * static_cast<size_t>(std::min<int64_t>(n, 1 << 30)));
  std::vector<value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.lst().items.begin(), seq.lst().items.end());
  return value::list(std::move(out), seq.lst().tuple);
}

}  // namespace

value binary_op(evaluator& ev, const std::string& op, const value& a, const value& b) {
  if (op == "~") {
    pstr s = py_str(a);
    s.append(py_str(b));
    ev.check_string_size(s.size());
    return value::string(std::move(s));
  }
  if (a.is_undefined()) fail("jinja: " + a.undefined_message());
  if (b.is_undefined()) fail("jinja: " + b.undefined_message());
  const auto is_gen = [](const value& v) { return v.k == kind::list && v.lst().generator; };
  if (is_gen(a) || is_gen(b)) unsupported(op, a, b);
  const bool ints = (a.k == kind::integer || a.k == kind::boolean) && (b.k == kind::integer || b.k == kind::boolean);
  const bool nums = a.is_number() && b.is_number();
  if (op == "+") {
    if (ints) {
      int64_t r;
      if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) type_error("integer overflow");
      return num_result(a, b, r);
    }
    if (nums) return num_result(a, b, a.as_float() + b.as_float());
    if (a.is_string() && b.is_string()) {
      // Markup + str escapes the str (and str + Markup too): templates that mark literals |safe
      // get their other operands HTML-escaped, as in Python.
      const bool markup = a.markup || b.markup;
      pstr s = markup && !a.markup ? html_escape(a.str()) : a.str();
      s.append(markup && !b.markup ? html_escape(b.str()) : b.str());
      ev.check_string_size(s.size());
      value r = value::string(std::move(s));
      r.markup = markup;
      return r;
    }
    if (a.is_list() && b.is_list() && a.lst().tuple == b.lst().tuple) {
      ev.check_list_size(a.lst().items.size() + b.lst().items.size());
      std::vector<value> items = a.lst().items;
      items.insert(items.end(), b.lst().items.begin(), b.lst().items.end());
      return value::list(std::move(items), a.lst().tuple);
    }
    if (a.is_string()) type_error("can only concatenate str (not \"" + type_name(b) + "\") to str");
    if (a.is_list()) type_error("can only concatenate list (not \"" + type_name(b) + "\") to list");
    unsupported("+", a, b);
  }
  if (op == "-") {
    if (ints) {
      int64_t r;
      if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) type_error("integer overflow");
      return num_result(a, b, r);
    }
    if (nums) return num_result(a, b, a.as_float() - b.as_float());
    unsupported("-", a, b);
  }
  if (op == "*") {
    if (ints) {
      int64_t r;
      if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) type_error("integer overflow");
      return num_result(a, b, r);
    }
    if (nums) return num_result(a, b, a.as_float() * b.as_float());
    if ((a.is_string() || a.is_list()) && (b.k == kind::integer || b.k == kind::boolean))
      return repeat(ev, a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.k == kind::integer || a.k == kind::boolean))
      return repeat(ev, b, a.as_int());
    if (a.is_string() || b.is_string())
      type_error("can't multiply sequence by non-int of type '" + type_name(a.is_string() ? b : a) + "'");
    unsupported("*", a, b);
  }
  if (op == "/") {
    if (!nums) unsupported("/", a, b);
    if (b.as_float() == 0) type_error(ints ? "division by zero" : "float division by zero");
    return num_result(a, b, a.as_float() / b.as_float());
  }
  if (op == "//" || op == "%") {
    if (op == "%" && a.is_string()) return value::string(percent_format(ev, a.str(), b));
    if (!nums) unsupported(op, a, b);
    if (ints) {
      const int64_t x = a.as_int(), y = b.as_int();
      if (y == 0) type_error("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) {
        if (op == "%") return num_result(a, b, int64_t{0});
        type_error("integer overflow");
      }
      int64_t q = x / y, r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) {
        --q;
        r += y;
      }
      return num_result(a, b, op == "//" ? q : r);
    }
    const double x = a.as_float(), y = b.as_float();
    if (y == 0) type_error("float divmod()");
    double m = std::fmod(x, y);
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    if (op == "%") return num_result(a, b, m);
    return num_result(a, b, std::floor((x - m) / y + 0.5) == (x - m) / y ? (x - m) / y : std::floor(x / y));
  }
  if (op == "**") {
    if (!nums) unsupported("** or pow()", a, b);
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), e = b.as_int(), r = 1;
      while (e > 0) {
        if (e & 1) {
          if (__builtin_mul_overflow(r, base, &r)) type_error("integer overflow");
        }
        e >>= 1;
        if (e > 0 && __builtin_mul_overflow(base, base, &base)) type_error("integer overflow");
      }
      return num_result(a, b, r);
    }
    if (a.as_float() == 0 && b.as_float() < 0) type_error("0.0 cannot be raised to a negative power");
    return num_result(a, b, std::pow(a.as_float(), b.as_float()));
  }
  type_error("unknown operator " + op);
}

}  // namespace pocketlm::chat::jinja::detail
