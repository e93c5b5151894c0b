// chat/jinja internals: the syntax tree the parser builds and the evaluator walks.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace pocketlm::chat::jinja::detail {

enum class ek : unsigned char {
  literal,   // lit
  name,      // name
  list,      // args
  tuple,     // args
  dict,      // args: key, value, key, value...
  getattr,   // args[0].name
  getitem,   // args[0][args[1]]
  slice,     // args[0][args[1]:args[2]:args[3]] (null: omitted)
  call,      // args[0](args[1..], kwargs)
  filter,    // name: args[0] is the operand (null in filter blocks), args[1..] and kwargs the arguments
  test,      // name: args[0] is the operand; negated for "is not"
  unary,     // name: "not", "-", "+"; args[0]
  binary,    // name: "+", "-", "*", "/", "//", "%", "**", "~", "and", "or"
  compare,   // args[0] then ops[i] against args[i + 1] (chained)
  condexpr,  // args[1] if args[0] else args[2] (args[2] may be null)
};

struct expr;
using expr_ptr = std::unique_ptr<expr>;

struct expr {
  ek kind;
  int line = 0, col = 0;
  value lit;
  std::string name;
  std::vector<expr_ptr> args;
  std::vector<std::pair<std::string, expr_ptr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;
};

enum class sk : unsigned char {
  text,          // text
  print,         // {{ e }}
  if_,           // e; body; else_body (elif: an if_ alone in else_body)
  for_,          // targets in e [if cond]; body; else_body
  set,           // targets = e  (ns_attr: {% set targets[0].ns_attr = e %})
  set_block,     // targets[0] = body, through filters
  macro,         // name(params) body
  call_block,    // {% call(params) e %} body
  filter_block,  // filters applied to body
  with,          // params (name = default) then body
  break_,
  continue_,
  generation,  // {% generation %}: the body, as is
};

struct stmt;
using body_t = std::vector<std::unique_ptr<stmt>>;

struct param {
  std::string name;
  expr_ptr default_value;  // may be null
};

struct stmt {
  sk kind;
  int line = 0, col = 0;
  std::string text;
  expr_ptr e;
  expr_ptr cond;
  std::vector<std::string> targets;
  std::string ns_attr;
  std::string name;
  std::vector<param> params;
  std::vector<expr_ptr> filters;  // filter exprs with a null operand, applied in order
  body_t body, else_body;
  bool uses_caller = false;  // macro: its body calls caller()
  bool recursive = false;    // for: {% for ... recursive %}
};

}  // namespace pocketlm::chat::jinja::detail
