// chat/jinja internals: the tree-walking evaluator and the builtins (filters, tests, methods,
// globals) it calls. One evaluator renders once; the program it walks is shared and immutable.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/jinja.h"
#include "chat/jinja/value.h"

namespace pocketlm::chat::jinja::detail {

// Variables of one frame (template root, a loop iteration, a macro call, a with block).
struct scope {
  std::shared_ptr<scope> parent;
  std::vector<std::pair<std::string, value>> vars;
  const value* find(std::string_view name) const;
  void set(const std::string& name, value v);
};
using scope_ptr = std::shared_ptr<scope>;

class evaluator {
 public:
  evaluator(const render_options& o, scope_ptr root) : opts_(o), root_(std::move(root)) {}
  // Namespaces and loop objects can be made to hold themselves (ns.me = ns); their contents are
  // cleared here so nothing a template built outlives the render.
  ~evaluator();
  evaluator(const evaluator&) = delete;
  evaluator& operator=(const evaluator&) = delete;
  void track(const std::shared_ptr<dict_data>& ns) { namespaces_.push_back(ns); }

  pstr render(const body_t& body);

  // For the builtins.
  void step();
  void check_string_size(size_t bytes) const;
  void check_list_size(size_t items) const;
  value call(const value& callee, call_args& args, const char* what);
  value apply_filter(const std::string& name, const value& operand, call_args& args, int line, int col);
  bool apply_test(const std::string& name, const value& operand, call_args& args, int line, int col);
  value getattr(const value& obj, const std::string& name);
  value getitem(const value& obj, const value& key);
  std::vector<value> iterate(const value& v);  // Python iter(): list items, dict keys, characters
  const render_options& options() const { return opts_; }

 private:
  enum class flow { normal, break_, continue_ };
  struct depth_guard {
    evaluator& e;
    explicit depth_guard(evaluator& ev);
    ~depth_guard() { --e.depth_; }
  };

  flow exec_body(const body_t& body, const scope_ptr& sc, pstr& out);
  flow exec(const stmt& s, const scope_ptr& sc, pstr& out);  // errors get the statement's position
  flow exec_located(const stmt& s, const scope_ptr& sc, pstr& out);
  void exec_for(const stmt& s, const scope_ptr& sc, pstr& out);
  void loop_over(const stmt& s, const value& seq, const scope_ptr& sc, pstr& out, int64_t depth0);
  void assign(const stmt& s, const std::vector<std::string>& targets, value v, const scope_ptr& sc);
  value make_macro(const stmt& s, const scope_ptr& sc, const std::string& name);
  value eval(const expr& e, const scope_ptr& sc);
  value eval_binary(const expr& e, const scope_ptr& sc);
  value eval_compare(const expr& e, const scope_ptr& sc);
  value lookup(const std::string& name, const scope_ptr& sc);
  void emit(pstr& out, const pstr& s);
  call_args eval_args(const expr& e, size_t first, const scope_ptr& sc);

  const render_options& opts_;
  scope_ptr root_;
  int depth_ = 0;
  int macro_depth_ = 0;
  int64_t steps_ = 0;
  std::vector<std::weak_ptr<dict_data>> namespaces_;
  std::vector<std::weak_ptr<loop_data>> loops_;
};

// Builtins (builtins.cpp).
bool has_filter(const std::string& name);
bool has_test(const std::string& name);
value run_filter(evaluator& ev, const std::string& name, const value& operand, call_args& args);
bool run_test(evaluator& ev, const std::string& name, const value& operand, call_args& args);
// A bound method of a str, dict or list (s.strip, d.items...), or undefined (with a hint) when
// there is none; unsafe (mutating) methods come back as an undefined that fails when called.
value method(evaluator& ev, const value& obj, const std::string& name, bool& found);
const value* global(const std::string& name);
value binary_op(evaluator& ev, const std::string& op, const value& a, const value& b);
bool contains(const value& container, const value& item);

}  // namespace pocketlm::chat::jinja::detail
