#include <algorithm>
#include <optional>

#include "chat/jinja/evaluator.h"
#include "chat/jinja/program.h"
#include "chat/jinja/pytext.h"

namespace pocketlm::chat::jinja {
namespace detail {

const value* scope::find(std::string_view name) const {
  for (const scope* s = this; s; s = s->parent.get()) {
    for (const auto& [k, v] : s->vars) {
      if (k == name) return &v;
    }
  }
  return nullptr;
}

void scope::set(const std::string& name, value v) {
  for (auto& [k, old] : vars) {
    if (k == name) {
      old = std::move(v);
      return;
    }
  }
  vars.emplace_back(name, std::move(v));
}

evaluator::depth_guard::depth_guard(evaluator& ev) : e(ev) {
  // Statements and expressions nest at most max_parse_depth per template level; macro calls
  // multiply that, so the total is bounded here (each level is a few hundred bytes of stack).
  if (++e.depth_ > e.opts_.limits.max_depth * 8) fail("jinja: the template nested deeper than the limit");
}

evaluator::~evaluator() {
  for (const auto& w : namespaces_) {
    if (auto ns = w.lock()) ns->items.clear();
  }
  for (const auto& w : loops_) {
    if (auto l = w.lock()) {
      l->last_changed = value();
      l->owned.reset();
    }
  }
}

void evaluator::step() {
  if (++steps_ > opts_.limits.max_steps) {
    fail("jinja: the template ran more than " + std::to_string(opts_.limits.max_steps) + " steps (loop too long?)");
  }
}

void evaluator::check_string_size(size_t bytes) const {
  if (bytes > opts_.limits.max_output_bytes) {
    fail("jinja: a string grew past " + std::to_string(opts_.limits.max_output_bytes) + " bytes");
  }
}

void evaluator::check_list_size(size_t items) const {
  if (items > opts_.limits.max_output_bytes / 8 + 16) {
    fail("jinja: a list grew past " + std::to_string(opts_.limits.max_output_bytes / 8 + 16) + " items");
  }
}

void evaluator::emit(pstr& out, const pstr& s) {
  if (out.size() + s.size() > opts_.limits.max_output_bytes) {
    fail("jinja: the output grew past " + std::to_string(opts_.limits.max_output_bytes) + " bytes");
  }
  out.append(s);
}

pstr evaluator::render(const body_t& body) {
  pstr out;
  exec_body(body, root_, out);
  return out;
}

evaluator::flow evaluator::exec_body(const body_t& body, const scope_ptr& sc, pstr& out) {
  for (const auto& s : body) {
    const flow f = exec(*s, sc, out);
    if (f != flow::normal) return f;
  }
  return flow::normal;
}

void evaluator::assign(const stmt& s, const std::vector<std::string>& targets, value v, const scope_ptr& sc) {
  if (targets.size() == 1) {
    sc->set(targets[0], std::move(v));
    return;
  }
  std::vector<value> items = iterate(v);
  if (items.size() != targets.size()) {
    fail(at(
        s.line, s.col,
        "cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(targets.size()) + " names"));
  }
  for (size_t i = 0; i < targets.size(); ++i) sc->set(targets[i], std::move(items[i]));
}

evaluator::flow evaluator::exec(const stmt& s, const scope_ptr& sc, pstr& out) {
  try {
    return exec_located(s, sc, out);
  } catch (const render_error& e) {
    // The innermost statement with a position names it; limits stay as they are.
    if (s.line == 0 || e.message.rfind("jinja: line ", 0) == 0 || e.message.rfind("jinja: ", 0) != 0) throw;
    throw render_error{at(s.line, s.col, e.message.substr(7))};
  }
}

evaluator::flow evaluator::exec_located(const stmt& s, const scope_ptr& sc, pstr& out) {
  depth_guard g(*this);
  step();
  switch (s.kind) {
    case sk::text: emit(out, pstr(s.text, false)); return flow::normal;
    case sk::print: {
      const value v = eval(*s.e, sc);
      emit(out, py_str(v));
      return flow::normal;
    }
    case sk::if_: return exec_body(truthy(eval(*s.e, sc)) ? s.body : s.else_body, sc, out);
    case sk::for_: exec_for(s, sc, out); return flow::normal;
    case sk::set: {
      value v = eval(*s.e, sc);
      if (!s.ns_attr.empty()) {
        const value* ns = sc->find(s.targets[0]);
        if (!ns || ns->k != kind::ns) {
          fail(at(s.line, s.col, "cannot assign attribute on non-namespace object '" + s.targets[0] + "'"));
        }
        ns->dct().set(value::string(s.ns_attr, false), std::move(v));
        return flow::normal;
      }
      assign(s, s.targets, std::move(v), sc);
      return flow::normal;
    }
    case sk::set_block: {
      pstr body;
      exec_body(s.body, sc, body);
      value v = value::string(std::move(body));
      for (const auto& f : s.filters) {
        call_args a = eval_args(*f, 1, sc);
        v = apply_filter(f->name, v, a, f->line, f->col);
      }
      sc->set(s.targets[0], std::move(v));
      return flow::normal;
    }
    case sk::macro: sc->set(s.name, make_macro(s, sc, s.name)); return flow::normal;
    case sk::call_block: {
      const expr& c = *s.e;
      const value callee = eval(*c.args[0], sc);
      call_args a = eval_args(c, 1, sc);
      a.kw.emplace_back("caller", make_macro(s, sc, "caller"));
      emit(out, py_str(call(callee, a, "call block")));
      return flow::normal;
    }
    case sk::filter_block: {
      pstr body;
      exec_body(s.body, sc, body);
      value v = value::string(std::move(body));
      for (const auto& f : s.filters) {
        call_args a = eval_args(*f, 1, sc);
        v = apply_filter(f->name, v, a, f->line, f->col);
      }
      emit(out, py_str(v));
      return flow::normal;
    }
    case sk::with: {
      auto inner = std::make_shared<scope>();
      inner->parent = sc;
      for (const param& p : s.params) inner->set(p.name, eval(*p.default_value, sc));
      return exec_body(s.body, inner, out);
    }
    case sk::break_: return flow::break_;
    case sk::continue_: return flow::continue_;
    case sk::generation: return exec_body(s.body, sc, out);
  }
  return flow::normal;
}

void evaluator::exec_for(const stmt& s, const scope_ptr& sc, pstr& out) { loop_over(s, eval(*s.e, sc), sc, out, 0); }

void evaluator::loop_over(const stmt& s, const value& seq, const scope_ptr& sc, pstr& out, int64_t depth0) {
  auto items = std::make_shared<std::vector<value>>(iterate(seq));
  if (s.cond) {
    std::vector<value> kept;
    for (auto& it : *items) {
      step();
      auto probe = std::make_shared<scope>();
      probe->parent = sc;
      assign(s, s.targets, it, probe);
      if (truthy(eval(*s.cond, probe))) kept.push_back(std::move(it));
    }
    *items = std::move(kept);
  }
  if (items->empty()) {
    exec_body(s.else_body, sc, out);
    return;
  }
  auto loop = std::make_shared<loop_data>();
  loops_.push_back(loop);
  loop->items = items.get();
  loop->owned = items;
  loop->length = static_cast<int64_t>(items->size());
  loop->depth0 = depth0;
  if (s.recursive) {
    loop->recursive = &s;
    loop->recursive_scope = sc;
  }
  value loop_value;
  loop_value.k = kind::loop;
  loop_value.v = loop;
  for (size_t i = 0; i < items->size(); ++i) {
    step();
    loop->index0 = static_cast<int64_t>(i);
    auto iter = std::make_shared<scope>();
    iter->parent = sc;
    assign(s, s.targets, (*items)[i], iter);
    iter->set("loop", loop_value);
    if (exec_body(s.body, iter, out) == flow::break_) break;
  }
}

value evaluator::make_macro(const stmt& s, const scope_ptr& sc, const std::string& name) {
  auto c = std::make_shared<callable_data>();
  c->name = name;
  const stmt* def = &s;
  // Weak: the scope holds the macro, so a strong reference would be a cycle. A macro carried out
  // of the block that defined it (into a namespace) and called after that block ended fails.
  std::weak_ptr<scope> weak_closure = sc;
  c->fn = [def, weak_closure](evaluator& ev, call_args& args) -> value {
    const scope_ptr closure = weak_closure.lock();
    if (!closure) fail("jinja: macro '" + def->name + "' was called after the block that defined it ended");
    if (++ev.macro_depth_ > ev.opts_.limits.max_depth) {
      --ev.macro_depth_;
      fail("jinja: macro calls nested deeper than " + std::to_string(ev.opts_.limits.max_depth));
    }
    struct release {
      evaluator& e;
      ~release() { --e.macro_depth_; }
    } r{ev};
    auto frame = std::make_shared<scope>();
    frame->parent = closure;
    std::vector<value> extra;
    for (size_t i = 0; i < def->params.size(); ++i) {
      const param& p = def->params[i];
      const value* given = nullptr;
      for (const auto& [k, v] : args.kw) {
        if (k == p.name) given = &v;
      }
      if (!given && i < args.pos.size()) given = &args.pos[i];
      if (given) {
        frame->set(p.name, *given);
      } else if (p.default_value) {
        frame->set(p.name, ev.eval(*p.default_value, frame));
      } else {
        frame->set(p.name, value::undefined("parameter '" + p.name + "' was not provided"));
      }
    }
    for (size_t i = def->params.size(); i < args.pos.size(); ++i) extra.push_back(args.pos[i]);
    frame->set("varargs", value::list(std::move(extra), true));
    auto kw = std::make_shared<dict_data>();
    for (const auto& [k, v] : args.kw) {
      bool is_param = k == "caller";
      for (const param& p : def->params) is_param = is_param || p.name == k;
      if (k == "caller") frame->set("caller", v);
      if (!is_param) kw->set(value::string(k, false), v);
    }
    frame->set("kwargs", value::dict(kw));
    pstr out;
    ev.exec_body(def->body, frame, out);
    return value::string(std::move(out));
  };
  return value::callable(std::move(c));
}

call_args evaluator::eval_args(const expr& e, size_t first, const scope_ptr& sc) {
  call_args a;
  for (size_t i = first; i < e.args.size(); ++i) a.pos.push_back(eval(*e.args[i], sc));
  for (const auto& [k, x] : e.kwargs) a.kw.emplace_back(k, eval(*x, sc));
  return a;
}

value evaluator::call(const value& callee, call_args& args, const char* what) {
  if (callee.k == kind::undefined) fail("jinja: " + callee.undefined_message());
  if (callee.k == kind::loop && callee.loop().recursive) {
    const loop_data& l = callee.loop();
    const scope_ptr sc = l.recursive_scope.lock();
    if (!sc || args.pos.size() != 1) fail("jinja: loop() takes the items of the next level");
    if (l.depth0 + 1 > opts_.limits.max_depth) {
      fail("jinja: recursive loop nested deeper than " + std::to_string(opts_.limits.max_depth));
    }
    step();
    pstr out;
    loop_over(*l.recursive, args.pos[0], sc, out, l.depth0 + 1);
    return value::string(std::move(out));
  }
  if (callee.k != kind::callable)
    fail(std::string("jinja: '") + type_name(callee) + "' object is not callable (" + what + ")");
  step();
  return callee.fn().fn(*this, args);
}

value evaluator::apply_filter(const std::string& name, const value& operand, call_args& args, int line, int col) {
  if (!has_filter(name)) fail(at(line, col, "No filter named '" + name + "'."));
  step();
  return run_filter(*this, name, operand, args);
}

bool evaluator::apply_test(const std::string& name, const value& operand, call_args& args, int line, int col) {
  if (!has_test(name)) fail(at(line, col, "No test named '" + name + "'."));
  step();
  return run_test(*this, name, operand, args);
}

value evaluator::lookup(const std::string& name, const scope_ptr& sc) {
  if (const value* v = sc->find(name)) return *v;
  if (const value* g = global(name)) return *g;
  return value::undefined("'" + name + "' is undefined");
}

std::vector<value> evaluator::iterate(const value& v) {
  switch (v.k) {
    case kind::undefined: return {};
    case kind::list:
      if (v.lst().generator && !v.lst().pending_error.empty()) fail(v.lst().pending_error);
      if (v.lst().generator) return std::move(v.lst().items);  // consumed, as a Python generator is
      return v.lst().items;
    case kind::dict: {
      std::vector<value> keys;
      keys.reserve(v.dct().items.size());
      for (const auto& kv : v.dct().items) keys.push_back(kv.first);
      return keys;
    }
    case kind::string: {
      const pstr& s = v.str();
      std::vector<value> chars;
      const auto off = char_offsets(s.text());
      chars.reserve(off.size());
      for (size_t i = 0; i + 1 < off.size(); ++i) chars.push_back(value::string(s.substr(off[i], off[i + 1])));
      return chars;
    }
    default: fail("jinja: '" + type_name(v) + "' object is not iterable");
  }
}

namespace {

std::string owner_name(const value& obj) {
  if (obj.k == kind::none) return "None";
  return "'" + type_name(obj) + " object'";
}

}  // namespace

value evaluator::getattr(const value& obj, const std::string& name) {
  if (obj.k == kind::undefined) fail("jinja: " + obj.undefined_message());
  if (!name.empty() && name[0] == '_') {
    return value::undefined("access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe.");
  }
  switch (obj.k) {
    case kind::ns:
      if (const value* v = obj.dct().find(name)) return *v;
      break;
    case kind::loop: {
      const loop_data& l = obj.loop();
      const int64_t i = l.index0, n = l.length;
      if (name == "index") return value::integer(i + 1);
      if (name == "index0") return value::integer(i);
      if (name == "revindex") return value::integer(n - i);
      if (name == "revindex0") return value::integer(n - i - 1);
      if (name == "first") return value::boolean(i == 0);
      if (name == "last") return value::boolean(i == n - 1);
      if (name == "length") return value::integer(n);
      if (name == "depth") return value::integer(l.depth0 + 1);
      if (name == "depth0") return value::integer(l.depth0);
      if (name == "previtem") {
        return i > 0 ? (*l.items)[static_cast<size_t>(i - 1)] : value::undefined("there is no previous item");
      }
      if (name == "nextitem") {
        return i + 1 < n ? (*l.items)[static_cast<size_t>(i + 1)] : value::undefined("there is no next item");
      }
      if (name == "cycle" || name == "changed") {
        bool found = false;
        return method(*this, obj, name, found);
      }
      break;
    }
    case kind::dict:
    case kind::string:
    case kind::list: {
      bool found = false;
      value m = method(*this, obj, name, found);
      if (found) return m;
      if (obj.k == kind::dict) {
        if (const value* v = obj.dct().find(name)) return *v;
      }
      break;
    }
    default: break;
  }
  return value::undefined(owner_name(obj) + " has no attribute '" + name + "'");
}

value evaluator::getitem(const value& obj, const value& key) {
  if (obj.k == kind::undefined) fail("jinja: " + obj.undefined_message());
  switch (obj.k) {
    case kind::dict:
      if (const value* v = obj.dct().find(key)) return *v;
      break;
    case kind::list:
    case kind::string:
      if (key.k == kind::integer || key.k == kind::boolean) {
        int64_t i = key.as_int();
        if (obj.k == kind::list) {
          const auto& items = obj.lst().items;
          const auto n = static_cast<int64_t>(items.size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return items[static_cast<size_t>(i)];
        } else {
          const pstr& s = obj.str();
          const auto off = char_offsets(s.text());
          const auto n = static_cast<int64_t>(off.size()) - 1;
          if (i < 0) i += n;
          if (i >= 0 && i < n)
            return value::string(s.substr(off[static_cast<size_t>(i)], off[static_cast<size_t>(i) + 1]));
        }
        return value::undefined(owner_name(obj) + " has no element " + std::to_string(key.as_int()));
      }
      break;
    default: break;
  }
  if (key.k == kind::string) return getattr(obj, key.text());
  return value::undefined(owner_name(obj) + " has no element " + py_repr(key));
}

namespace {

std::optional<int64_t> slice_index(const value& v) {
  if (v.k == kind::none || v.k == kind::undefined) return std::nullopt;
  if (v.k != kind::integer && v.k != kind::boolean) {
    fail("jinja: slice indices must be integers or None, not " + type_name(v));
  }
  return v.as_int();
}

// Python's slice.indices(n) walked: the selected positions.
std::vector<int64_t> slice_positions(int64_t n, std::optional<int64_t> start, std::optional<int64_t> stop,
                                     std::optional<int64_t> step_opt) {
  const int64_t step = step_opt.value_or(1);
  if (step == 0) fail("jinja: slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> x, int64_t dflt, bool is_start) {
    if (!x) return dflt;
    int64_t v = *x;
    if (v < 0) v += n;
    if (step > 0) return std::clamp<int64_t>(v, 0, n);
    (void)is_start;
    return std::clamp<int64_t>(v, -1, n - 1);
  };
  std::vector<int64_t> out;
  if (step > 0) {
    const int64_t b = clamp(start, 0, true), e = clamp(stop, n, false);
    for (int64_t i = b; i < e; i += step) out.push_back(i);
  } else {
    const int64_t b = clamp(start, n - 1, true), e = clamp(stop, -1, false);
    for (int64_t i = b; i > e; i += step) out.push_back(i);
  }
  return out;
}

}  // namespace

value evaluator::eval(const expr& e, const scope_ptr& sc) {
  depth_guard g(*this);
  step();
  switch (e.kind) {
    case ek::literal: return e.lit;
    case ek::name: return lookup(e.name, sc);
    case ek::list:
    case ek::tuple: {
      std::vector<value> items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) items.push_back(eval(*a, sc));
      return value::list(std::move(items), e.kind == ek::tuple);
    }
    case ek::dict: {
      auto d = std::make_shared<dict_data>();
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        value k = eval(*e.args[i], sc);
        if (k.k == kind::list && !k.lst().tuple) fail(at(e.line, e.col, "unhashable type: 'list'"));
        if (k.k == kind::dict) fail(at(e.line, e.col, "unhashable type: 'dict'"));
        d->set(std::move(k), eval(*e.args[i + 1], sc));
      }
      return value::dict(std::move(d));
    }
    case ek::getattr: return getattr(eval(*e.args[0], sc), e.name);
    case ek::getitem: {
      const value obj = eval(*e.args[0], sc);
      return getitem(obj, eval(*e.args[1], sc));
    }
    case ek::slice: {
      const value obj = eval(*e.args[0], sc);
      if (obj.k == kind::undefined) fail("jinja: " + obj.undefined_message());
      const auto start = e.args[1] ? slice_index(eval(*e.args[1], sc)) : std::nullopt;
      const auto stop = e.args[2] ? slice_index(eval(*e.args[2], sc)) : std::nullopt;
      const auto stp = e.args[3] ? slice_index(eval(*e.args[3], sc)) : std::nullopt;
      if (obj.k == kind::list) {
        const auto& items = obj.lst().items;
        std::vector<value> out;
        for (int64_t i : slice_positions(static_cast<int64_t>(items.size()), start, stop, stp)) {
          out.push_back(items[static_cast<size_t>(i)]);
        }
        return value::list(std::move(out), obj.lst().tuple);
      }
      if (obj.k == kind::string) {
        const pstr& s = obj.str();
        const auto off = char_offsets(s.text());
        pstr out;
        for (int64_t i : slice_positions(static_cast<int64_t>(off.size()) - 1, start, stop, stp)) {
          out.append(s, off[static_cast<size_t>(i)], off[static_cast<size_t>(i) + 1]);
        }
        return value::string(std::move(out));
      }
      fail(at(e.line, e.col, "'" + type_name(obj) + "' object is not subscriptable"));
    }
    case ek::call: {
      const value callee = eval(*e.args[0], sc);
      call_args a = eval_args(e, 1, sc);
      return call(callee, a, "call");
    }
    case ek::filter: {
      const value operand = eval(*e.args[0], sc);
      call_args a = eval_args(e, 1, sc);
      return apply_filter(e.name, operand, a, e.line, e.col);
    }
    case ek::test: {
      const value operand = eval(*e.args[0], sc);
      call_args a = eval_args(e, 1, sc);
      return value::boolean(apply_test(e.name, operand, a, e.line, e.col) != e.negated);
    }
    case ek::unary: {
      const value v = eval(*e.args[0], sc);
      if (e.name == "not") return value::boolean(!truthy(v));
      if (v.k == kind::undefined) fail("jinja: " + v.undefined_message());
      if (v.k == kind::integer || v.k == kind::boolean) {
        if (e.name == "+") return value::integer(v.as_int(), v.data);
        if (v.as_int() == INT64_MIN) fail("jinja: integer overflow");
        return value::integer(-v.as_int(), v.data);
      }
      if (v.k == kind::floating) return value::floating(e.name == "-" ? -v.as_float() : v.as_float(), v.data);
      fail(at(e.line, e.col, "bad operand type for unary " + e.name + ": '" + type_name(v) + "'"));
    }
    case ek::binary: return eval_binary(e, sc);
    case ek::compare: return eval_compare(e, sc);
    case ek::condexpr:
      if (truthy(eval(*e.args[0], sc))) return eval(*e.args[1], sc);
      if (e.args[2]) return eval(*e.args[2], sc);
      return value::undefined("the inline if expression evaluated to false and no else section was defined.");
  }
  return value::undefined();
}

value evaluator::eval_binary(const expr& e, const scope_ptr& sc) {
  if (e.name == "and") {
    value l = eval(*e.args[0], sc);
    return truthy(l) ? eval(*e.args[1], sc) : l;
  }
  if (e.name == "or") {
    value l = eval(*e.args[0], sc);
    return truthy(l) ? l : eval(*e.args[1], sc);
  }
  const value l = eval(*e.args[0], sc);
  const value r = eval(*e.args[1], sc);
  try {
    return binary_op(*this, e.name, l, r);
  } catch (const render_error& err) {
    if (err.message.rfind("jinja: line", 0) == 0) throw;
    fail(at(e.line, e.col, err.message.substr(err.message.rfind("jinja: ", 0) == 0 ? 7 : 0)));
  }
}

value evaluator::eval_compare(const expr& e, const scope_ptr& sc) {
  value left = eval(*e.args[0], sc);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    value right = eval(*e.args[i + 1], sc);
    const std::string& op = e.ops[i];
    bool ok;
    if (op == "==") {
      ok = py_equal(left, right);
    } else if (op == "!=") {
      ok = !py_equal(left, right);
    } else if (op == "in") {
      ok = contains(right, left);
    } else if (op == "notin") {
      ok = !contains(right, left);
    } else {
      const int c = py_compare(left, right, op.c_str());
      ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
    }
    if (!ok) return value::boolean(false);
    left = std::move(right);
  }
  return value::boolean(true);
}

}  // namespace detail

result<std::shared_ptr<const program>> parse(std::string_view source) {
  auto tokens = detail::lex(source);
  if (!tokens) return tokens.err();
  auto body = detail::parse_tokens(*tokens);
  if (!body) return body.err();
  auto p = std::make_shared<program>();
  p->body = std::move(*body);
  return std::shared_ptr<const program>(std::move(p));
}

result<std::vector<piece>> render(const program& p, const nlohmann::ordered_json& context, const render_options& o) {
  if (!context.is_object() && !context.is_null()) return error{"jinja: the context must be a JSON object"};
  try {
    auto root = std::make_shared<detail::scope>();
    if (context.is_object()) {
      for (const auto& [k, v] : context.items()) {
        const bool template_text =
            std::find(o.template_keys.begin(), o.template_keys.end(), k) != o.template_keys.end();
        root->set(k, detail::from_json(v, !template_text, 0, o.limits.max_depth, o.word_fields));
      }
    }
    detail::evaluator ev(o, root);
    const detail::pstr out = ev.render(p.body);
    std::vector<piece> pieces;
    size_t at = 0;
    const std::string& text = out.text();
    for (const auto& r : out.runs()) {
      if (r.begin > at) pieces.push_back({text.substr(at, r.begin - at), false});
      pieces.push_back({text.substr(r.begin, r.end - r.begin), true});
      at = r.end;
    }
    if (at < text.size()) pieces.push_back({text.substr(at), false});
    return pieces;
  } catch (const detail::render_error& e) {
    return error{e.message};
  } catch (const std::bad_alloc&) {
    return error{"jinja: out of memory while rendering"};
  }
}

std::string concat(const std::vector<piece>& pieces) {
  std::string s;
  for (const piece& p : pieces) s += p.text;
  return s;
}

}  // namespace pocketlm::chat::jinja
