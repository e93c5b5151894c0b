// Jinja2 3.1's tests (jinja2/tests.py).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <unordered_map>

#include "chat/jinja/builtin_util.h"

namespace pocketlm::chat::jinja::detail {
namespace {

// ---- tests

bool t_defined(evaluator&, const value& v, call_args&) { return !v.is_undefined(); }
bool t_undefined(evaluator&, const value& v, call_args&) { return v.is_undefined(); }
bool t_none(evaluator&, const value& v, call_args&) { return v.is_none(); }
bool t_boolean(evaluator&, const value& v, call_args&) { return v.k == kind::boolean; }
bool t_false(evaluator&, const value& v, call_args&) { return v.k == kind::boolean && !v.as_bool(); }
bool t_true(evaluator&, const value& v, call_args&) { return v.k == kind::boolean && v.as_bool(); }
bool t_integer(evaluator&, const value& v, call_args&) { return v.k == kind::integer; }
bool t_float(evaluator&, const value& v, call_args&) { return v.k == kind::floating; }
bool t_number(evaluator&, const value& v, call_args&) { return v.is_number(); }
bool t_string(evaluator&, const value& v, call_args&) { return v.is_string(); }
bool t_mapping(evaluator&, const value& v, call_args&) { return v.k == kind::dict; }
bool t_iterable(evaluator&, const value& v, call_args&) {
  return v.k == kind::list || v.k == kind::dict || v.k == kind::string || v.k == kind::undefined;
}
bool t_sequence(evaluator&, const value& v, call_args&) {
  return (v.k == kind::list && !v.lst().generator) || v.k == kind::dict || v.k == kind::string ||
         v.k == kind::undefined;
}
bool t_callable(evaluator&, const value& v, call_args&) { return v.k == kind::callable; }
int64_t int_operand(const value& v, const char* test) {
  if (v.k == kind::integer || v.k == kind::boolean) return v.as_int();
  if (v.k == kind::floating) return static_cast<int64_t>(v.as_float());
  type_error(std::string("the '") + test + "' test needs a number, not " + type_name(v));
}
bool t_odd(evaluator&, const value& v, call_args&) {
  if (v.k == kind::floating) return std::fmod(std::fabs(v.as_float()), 2.0) == 1.0;
  return (int_operand(v, "odd") % 2) != 0;
}
bool t_even(evaluator&, const value& v, call_args&) {
  if (v.k == kind::floating) return std::fmod(std::fabs(v.as_float()), 2.0) == 0.0;
  return (int_operand(v, "even") % 2) == 0;
}
bool t_divisibleby(evaluator&, const value& v, call_args& a) {
  const value& n = arg(a, 0, "num", kUndef);
  if (!n.is_number()) type_error("divisibleby needs a number");
  if (v.k == kind::floating || n.k == kind::floating) {
    if (n.as_float() == 0) type_error("float modulo");
    return std::fmod(v.as_float(), n.as_float()) == 0;
  }
  if (n.as_int() == 0) type_error("integer division or modulo by zero");
  if (n.as_int() == -1) return true;
  return int_operand(v, "divisibleby") % n.as_int() == 0;
}
bool t_eq(evaluator&, const value& v, call_args& a) { return py_equal(v, arg(a, 0, "other", kUndef)); }
bool t_ne(evaluator&, const value& v, call_args& a) { return !py_equal(v, arg(a, 0, "other", kUndef)); }
bool t_lt(evaluator&, const value& v, call_args& a) { return py_compare(v, arg(a, 0, "other", kUndef), "<") < 0; }
bool t_le(evaluator&, const value& v, call_args& a) { return py_compare(v, arg(a, 0, "other", kUndef), "<=") <= 0; }
bool t_gt(evaluator&, const value& v, call_args& a) { return py_compare(v, arg(a, 0, "other", kUndef), ">") > 0; }
bool t_ge(evaluator&, const value& v, call_args& a) { return py_compare(v, arg(a, 0, "other", kUndef), ">=") >= 0; }
bool t_in(evaluator&, const value& v, call_args& a) { return contains(arg(a, 0, "seq", kUndef), v); }
bool t_sameas(evaluator&, const value& v, call_args& a) {
  const value& o = arg(a, 0, "other", kUndef);
  if (v.k != o.k) return false;
  switch (v.k) {
    case kind::none:
    case kind::undefined: return true;
    case kind::boolean: return v.as_bool() == o.as_bool();
    case kind::integer: return v.as_int() == o.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
    case kind::list: return &v.lst() == &o.lst();
    case kind::dict:
    case kind::ns: return v.dict_ptr() == o.dict_ptr();
    case kind::string: return v.text() == o.text();  // Python interns the literals templates compare
    default: return false;
  }
}
bool t_lower(evaluator&, const value& v, call_args&) {
  const pstr s = py_str(v);  // Jinja2: str(value).islower()
  return lower(s).text() == s.text() && upper(s).text() != s.text();
}
bool t_upper(evaluator&, const value& v, call_args&) {
  const pstr s = py_str(v);
  return upper(s).text() == s.text() && lower(s).text() != s.text();
}
bool t_escaped(evaluator&, const value&, call_args&) { return false; }
bool t_filter(evaluator&, const value& v, call_args&) { return v.is_string() && has_filter(v.text()); }
bool t_test(evaluator&, const value& v, call_args&) { return v.is_string() && has_test(v.text()); }

const std::unordered_map<std::string, test_fn>& tests() {
  static const std::unordered_map<std::string, test_fn> table = {
      {"boolean", t_boolean},
      {"callable", t_callable},
      {"defined", t_defined},
      {"divisibleby", t_divisibleby},
      {"eq", t_eq},
      {"==", t_eq},
      {"equalto", t_eq},
      {"escaped", t_escaped},
      {"even", t_even},
      {"false", t_false},
      {"filter", t_filter},
      {"float", t_float},
      {"ge", t_ge},
      {">=", t_ge},
      {"gt", t_gt},
      {">", t_gt},
      {"greaterthan", t_gt},
      {"in", t_in},
      {"integer", t_integer},
      {"iterable", t_iterable},
      {"le", t_le},
      {"<=", t_le},
      {"lower", t_lower},
      {"lt", t_lt},
      {"<", t_lt},
      {"lessthan", t_lt},
      {"mapping", t_mapping},
      {"ne", t_ne},
      {"!=", t_ne},
      {"none", t_none},
      {"number", t_number},
      {"odd", t_odd},
      {"sameas", t_sameas},
      {"sequence", t_sequence},
      {"string", t_string},
      {"test", t_test},
      {"true", t_true},
      {"undefined", t_undefined},
      {"upper", t_upper},
  };
  return table;
}

}  // namespace

bool has_test(const std::string& name) { return tests().count(name) != 0; }

bool run_test(evaluator& ev, const std::string& name, const value& operand, call_args& args) {
  return tests().at(name)(ev, operand, args);
}

}  // namespace pocketlm::chat::jinja::detail
