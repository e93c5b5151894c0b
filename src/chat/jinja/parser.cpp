// Recursive-descent parser following Jinja2's parser.py: the same precedence (or < and < not <
// comparisons < +,- < ~ < *,/,//,% < ** < unary -,+ < postfix, filters and tests), the same
// tuple rules and the same statement forms.
#include <initializer_list>

#include "chat/jinja/program.h"

namespace pocketlm::chat::jinja::detail {
namespace {

class parser {
 public:
  explicit parser(const std::vector<token>& t) : t_(t) {}

  body_t parse_all() {
    body_t b = subparse({});
    if (cur().type != tok::eof) fail_at(cur(), "unexpected '" + describe(cur()) + "'");
    return b;
  }

 private:
  const std::vector<token>& t_;
  size_t i_ = 0;
  int depth_ = 0;
  int loops_ = 0;

  struct depth_guard {
    parser& p;
    explicit depth_guard(parser& pp) : p(pp) {
      if (++p.depth_ > max_parse_depth) p.fail_at(p.cur(), "template nested too deeply");
    }
    ~depth_guard() { --p.depth_; }
  };

  const token& cur() const { return t_[i_]; }
  const token& peek(size_t n = 1) const { return t_[std::min(i_ + n, t_.size() - 1)]; }
  void next() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  [[noreturn]] void fail_at(const token& t, const std::string& what) const { throw error{at(t.line, t.col, what)}; }

  static std::string describe(const token& t) {
    switch (t.type) {
      case tok::eof: return "end of template";
      case tok::var_end: return "}}";
      case tok::block_end: return "%}";
      case tok::var_begin: return "{{";
      case tok::block_begin: return "{%";
      case tok::data: return "template data";
      case tok::string: return "string";
      default: return t.text;
    }
  }

  bool is_op(const char* op) const { return cur().type == tok::op && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == tok::name && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail_at(cur(), std::string("expected '") + op + "', got '" + describe(cur()) + "'");
  }
  void expect_block_end() {
    if (cur().type != tok::block_end) fail_at(cur(), "expected end of statement block, got '" + describe(cur()) + "'");
    next();
  }
  std::string expect_identifier() {
    if (cur().type != tok::name) fail_at(cur(), "expected a name, got '" + describe(cur()) + "'");
    std::string n = cur().text;
    next();
    return n;
  }

  expr_ptr node(ek k, const token& at) {
    auto e = std::make_unique<expr>();
    e->kind = k;
    e->line = at.line;
    e->col = at.col;
    return e;
  }

  // ---- statements

  // Parses until a block tag whose name is in `ends`; leaves cur() on that name.
  body_t subparse(std::initializer_list<const char*> ends) {
    depth_guard g(*this);
    body_t body;
    while (true) {
      const token& t = cur();
      if (t.type == tok::eof) {
        if (ends.size() == 0) return body;
        std::string want;
        for (const char* e : ends) want += (want.empty() ? "'" : " or '") + std::string(e) + "'";
        fail_at(t, "unexpected end of template; Jinja was looking for " + want);
      }
      if (t.type == tok::data) {
        auto s = std::make_unique<stmt>();
        s->kind = sk::text;
        s->text = t.text;
        body.push_back(std::move(s));
        next();
      } else if (t.type == tok::var_begin) {
        auto s = std::make_unique<stmt>();
        s->kind = sk::print;
        s->line = t.line;
        s->col = t.col;
        next();
        s->e = parse_tuple(true, {});
        if (cur().type != tok::var_end)
          fail_at(cur(), "expected end of print statement, got '" + describe(cur()) + "'");
        next();
        body.push_back(std::move(s));
      } else if (t.type == tok::block_begin) {
        next();
        if (cur().type == tok::name) {
          for (const char* e : ends) {
            if (cur().text == e) return body;
          }
        }
        body.push_back(parse_statement());
      } else {
        fail_at(t, "unexpected '" + describe(t) + "'");
      }
    }
  }

  void end_tag(const char* name) {
    // cur() is on the end tag name
    if (!skip_name(name)) fail_at(cur(), std::string("expected '") + name + "'");
    expect_block_end();
  }

  std::unique_ptr<stmt> new_stmt(sk k, const token& at) {
    auto s = std::make_unique<stmt>();
    s->kind = k;
    s->line = at.line;
    s->col = at.col;
    return s;
  }

  std::unique_ptr<stmt> parse_statement() {
    const token& t = cur();
    if (t.type != tok::name) fail_at(t, "tag name expected");
    const std::string n = t.text;
    depth_guard g(*this);
    if (n == "for") return parse_for();
    if (n == "if") return parse_if();
    if (n == "set") return parse_set();
    if (n == "macro") return parse_macro();
    if (n == "call") return parse_call_block();
    if (n == "filter") return parse_filter_block();
    if (n == "with") return parse_with();
    if (n == "generation") {
      auto s = new_stmt(sk::generation, t);
      next();
      expect_block_end();
      s->body = subparse({"endgeneration"});
      end_tag("endgeneration");
      return s;
    }
    if (n == "break" || n == "continue") {
      if (loops_ == 0) fail_at(t, "'" + n + "' outside of a loop");
      auto s = new_stmt(n == "break" ? sk::break_ : sk::continue_, t);
      next();
      expect_block_end();
      return s;
    }
    if (n == "block" || n == "extends" || n == "include" || n == "import" || n == "from" || n == "autoescape" ||
        n == "do") {
      fail_at(t, "the '" + n + "' tag is not supported in chat templates");
    }
    fail_at(t, "Encountered unknown tag '" + n + "'");
  }

  std::vector<std::string> parse_target_names(const char* context) {
    std::vector<std::string> names;
    const bool paren = skip_op("(");
    do {
      if (cur().type != tok::name)
        fail_at(cur(), std::string("can't assign to '") + describe(cur()) + "' in " + context);
      names.push_back(cur().text);
      next();
    } while (skip_op(",") && cur().type == tok::name);
    if (paren) expect_op(")");
    return names;
  }

  std::unique_ptr<stmt> parse_for() {
    auto s = new_stmt(sk::for_, cur());
    next();
    s->targets = parse_target_names("for loop");
    if (!skip_name("in")) fail_at(cur(), "expected 'in', got '" + describe(cur()) + "'");
    s->e = parse_tuple(false, {"recursive"});
    if (skip_name("if")) s->cond = parse_expression(true);
    s->recursive = skip_name("recursive");
    expect_block_end();
    ++loops_;
    s->body = subparse({"endfor", "else"});
    --loops_;
    if (skip_name("else")) {
      expect_block_end();
      s->else_body = subparse({"endfor"});
    }
    end_tag("endfor");
    return s;
  }

  std::unique_ptr<stmt> parse_if() {
    auto s = new_stmt(sk::if_, cur());
    next();
    s->e = parse_tuple(false, {});
    expect_block_end();
    s->body = subparse({"elif", "else", "endif"});
    if (is_name("elif")) {
      // elif chains as a nested if that owns the endif.
      s->else_body.push_back(parse_if());
      return s;
    }
    if (skip_name("else")) {
      expect_block_end();
      s->else_body = subparse({"endif"});
    }
    end_tag("endif");
    return s;
  }

  std::unique_ptr<stmt> parse_set() {
    const token& start = cur();
    next();
    if (cur().type == tok::name && peek().type == tok::op && peek().text == "." && peek(2).type == tok::name) {
      auto s = new_stmt(sk::set, start);
      s->targets.push_back(cur().text);
      next();
      next();
      s->ns_attr = cur().text;
      next();
      expect_op("=");
      s->e = parse_tuple(true, {});
      expect_block_end();
      return s;
    }
    std::vector<std::string> names = parse_target_names("set");
    if (skip_op("=")) {
      auto s = new_stmt(sk::set, start);
      s->targets = std::move(names);
      s->e = parse_tuple(true, {});
      expect_block_end();
      return s;
    }
    if (names.size() != 1) fail_at(cur(), "expected '='");
    auto s = new_stmt(sk::set_block, start);
    s->targets = std::move(names);
    while (skip_op("|")) s->filters.push_back(parse_filter(nullptr));
    expect_block_end();
    s->body = subparse({"endset"});
    end_tag("endset");
    return s;
  }

  void parse_signature(std::vector<param>& params) {
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;
      param p;
      p.name = expect_identifier();
      if (skip_op("=")) p.default_value = parse_expression(true);
      params.push_back(std::move(p));
    }
    expect_op(")");
  }

  std::unique_ptr<stmt> parse_macro() {
    auto s = new_stmt(sk::macro, cur());
    next();
    s->name = expect_identifier();
    parse_signature(s->params);
    expect_block_end();
    const int saved = loops_;
    loops_ = 0;
    s->body = subparse({"endmacro"});
    loops_ = saved;
    end_tag("endmacro");
    return s;
  }

  std::unique_ptr<stmt> parse_call_block() {
    auto s = new_stmt(sk::call_block, cur());
    next();
    if (is_op("(")) parse_signature(s->params);
    s->e = parse_expression(true);
    if (s->e->kind != ek::call) fail_at(cur(), "expected call");
    expect_block_end();
    const int saved = loops_;
    loops_ = 0;
    s->body = subparse({"endcall"});
    loops_ = saved;
    end_tag("endcall");
    return s;
  }

  std::unique_ptr<stmt> parse_filter_block() {
    auto s = new_stmt(sk::filter_block, cur());
    next();
    s->filters.push_back(parse_filter(nullptr));
    while (skip_op("|")) s->filters.push_back(parse_filter(nullptr));
    expect_block_end();
    s->body = subparse({"endfilter"});
    end_tag("endfilter");
    return s;
  }

  std::unique_ptr<stmt> parse_with() {
    auto s = new_stmt(sk::with, cur());
    next();
    while (cur().type != tok::block_end) {
      if (!s->params.empty()) expect_op(",");
      param p;
      p.name = expect_identifier();
      expect_op("=");
      p.default_value = parse_expression(true);
      s->params.push_back(std::move(p));
    }
    expect_block_end();
    s->body = subparse({"endwith"});
    end_tag("endwith");
    return s;
  }

  // ---- expressions

  bool tuple_end(std::initializer_list<const char*> extra) const {
    const token& t = cur();
    if (t.type == tok::var_end || t.type == tok::block_end || t.type == tok::eof) return true;
    if (t.type == tok::op && t.text == ")") return true;
    if (t.type == tok::name) {
      for (const char* e : extra) {
        if (t.text == e) return true;
      }
    }
    return false;
  }

  expr_ptr parse_tuple(bool with_condexpr, std::initializer_list<const char*> extra, bool explicit_parens = false) {
    const token& start = cur();
    std::vector<expr_ptr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (tuple_end(extra)) break;
      args.push_back(with_condexpr ? parse_expression(true) : parse_or());
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) fail_at(cur(), "expected an expression, got '" + describe(cur()) + "'");
    }
    auto e = node(ek::tuple, start);
    e->args = std::move(args);
    return e;
  }

  expr_ptr parse_expression(bool with_condexpr) {
    depth_guard g(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  expr_ptr parse_condexpr() {
    expr_ptr e = parse_or();
    while (is_name("if")) {
      const token& t = cur();
      next();
      auto c = node(ek::condexpr, t);
      c->args.push_back(parse_or());
      c->args.push_back(std::move(e));
      c->args.push_back(skip_name("else") ? parse_condexpr() : nullptr);
      e = std::move(c);
    }
    return e;
  }

  expr_ptr binary(const token& t, const std::string& op, expr_ptr l, expr_ptr r) {
    auto e = node(ek::binary, t);
    e->name = op;
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  expr_ptr parse_or() {
    expr_ptr l = parse_and();
    while (is_name("or")) {
      const token& t = cur();
      next();
      l = binary(t, "or", std::move(l), parse_and());
    }
    return l;
  }

  expr_ptr parse_and() {
    expr_ptr l = parse_not();
    while (is_name("and")) {
      const token& t = cur();
      next();
      l = binary(t, "and", std::move(l), parse_not());
    }
    return l;
  }

  expr_ptr parse_not() {
    if (is_name("not")) {
      depth_guard g(*this);
      const token& t = cur();
      next();
      auto e = node(ek::unary, t);
      e->name = "not";
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  expr_ptr parse_compare() {
    const token& start = cur();
    expr_ptr first = parse_math1();
    expr_ptr cmp;
    while (true) {
      std::string op;
      if (cur().type == tok::op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                    cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && peek().type == tok::name && peek().text == "in") {
        op = "notin";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = node(ek::compare, start);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  expr_ptr parse_math1() {
    expr_ptr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      const token& t = cur();
      next();
      l = binary(t, t.text, std::move(l), parse_concat());
    }
    return l;
  }

  expr_ptr parse_concat() {
    expr_ptr l = parse_math2();
    while (is_op("~")) {
      const token& t = cur();
      next();
      l = binary(t, "~", std::move(l), parse_math2());
    }
    return l;
  }

  expr_ptr parse_math2() {
    expr_ptr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const token& t = cur();
      next();
      l = binary(t, t.text, std::move(l), parse_pow());
    }
    return l;
  }

  expr_ptr parse_pow() {
    expr_ptr l = parse_unary(true);
    while (is_op("**")) {
      const token& t = cur();
      next();
      l = binary(t, "**", std::move(l), parse_unary(true));
    }
    return l;
  }

  expr_ptr parse_unary(bool with_filter) {
    depth_guard g(*this);
    expr_ptr e;
    if (is_op("-") || is_op("+")) {
      const token& t = cur();
      next();
      e = node(ek::unary, t);
      e->name = t.text;
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  expr_ptr parse_primary() {
    const token& t = cur();
    if (t.type == tok::name) {
      const std::string& n = t.text;
      auto e = node(ek::literal, t);
      if (n == "true" || n == "True") {
        e->lit = value::boolean(true);
      } else if (n == "false" || n == "False") {
        e->lit = value::boolean(false);
      } else if (n == "none" || n == "None") {
        e->lit = value::none();
      } else {
        e->kind = ek::name;
        e->name = n;
      }
      next();
      return e;
    }
    if (t.type == tok::string) {
      std::string s = t.text;
      next();
      while (cur().type == tok::string) {  // adjacent literals concatenate, as in Python
        s += cur().text;
        next();
      }
      auto e = node(ek::literal, t);
      e->lit = value::string(std::move(s), false);
      return e;
    }
    if (t.type == tok::integer || t.type == tok::floating) {
      auto e = node(ek::literal, t);
      if (t.type == tok::integer) {
        e->lit = value::integer(std::stoll(t.text));
      } else {
        e->lit = value::floating(std::strtod(t.text.c_str(), nullptr));
      }
      next();
      return e;
    }
    if (is_op("(")) {
      next();
      expr_ptr e = parse_tuple(true, {}, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      auto e = node(ek::list, t);
      next();
      while (!is_op("]")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("]")) break;
        e->args.push_back(parse_expression(true));
      }
      expect_op("]");
      return e;
    }
    if (is_op("{")) {
      auto e = node(ek::dict, t);
      next();
      while (!is_op("}")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("}")) break;
        e->args.push_back(parse_expression(true));
        expect_op(":");
        e->args.push_back(parse_expression(true));
      }
      expect_op("}");
      return e;
    }
    fail_at(t, "unexpected '" + describe(t) + "'");
  }

  expr_ptr parse_postfix(expr_ptr e) {
    int chain = 0;
    while (true) {
      if (++chain > max_parse_depth) fail_at(cur(), "expression too long");
      if (is_op(".") || is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  expr_ptr parse_filter_expr(expr_ptr e) {
    int chain = 0;
    while (true) {
      if (++chain > max_parse_depth) fail_at(cur(), "expression too long");
      if (is_op("|")) {
        next();
        e = parse_filter(std::move(e));
      } else if (is_name("is")) {
        e = parse_test(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  expr_ptr parse_subscript(expr_ptr obj) {
    const token& t = cur();
    if (skip_op(".")) {
      if (cur().type == tok::name) {
        auto e = node(ek::getattr, t);
        e->name = cur().text;
        e->args.push_back(std::move(obj));
        next();
        return e;
      }
      if (cur().type == tok::integer) {
        auto e = node(ek::getitem, t);
        e->args.push_back(std::move(obj));
        auto k = node(ek::literal, cur());
        k->lit = value::integer(std::stoll(cur().text));
        e->args.push_back(std::move(k));
        next();
        return e;
      }
      fail_at(cur(), "expected name or number");
    }
    next();  // '['
    std::vector<expr_ptr> subs;
    while (!is_op("]")) {
      if (!subs.empty()) expect_op(",");
      if (is_op("]")) break;
      subs.push_back(parse_subscribed());
    }
    expect_op("]");
    if (subs.empty()) fail_at(t, "expected a subscript");
    expr_ptr key;
    if (subs.size() > 1) {
      for (const auto& sub : subs) {
        if (sub->kind == ek::slice) fail_at(t, "a slice inside a tuple subscript is not supported");
      }
    }
    if (subs.size() == 1) {
      key = std::move(subs[0]);
    } else {
      key = node(ek::tuple, t);
      key->args = std::move(subs);
    }
    if (key->kind == ek::slice && !key->args[0]) {
      key->args[0] = std::move(obj);
      return key;
    }
    auto e = node(ek::getitem, t);
    e->args.push_back(std::move(obj));
    e->args.push_back(std::move(key));
    return e;
  }

  // One subscript: an expression or a slice start:stop:step (a slice node with a null operand).
  expr_ptr parse_subscribed() {
    const token& t = cur();
    expr_ptr start;
    if (!is_op(":")) {
      start = parse_expression(true);
      if (!is_op(":")) return start;
    }
    next();  // ':'
    auto s = node(ek::slice, t);
    s->args.push_back(nullptr);
    s->args.push_back(std::move(start));
    s->args.push_back(!is_op("]") && !is_op(",") && !is_op(":") ? parse_expression(true) : nullptr);
    if (skip_op(":")) {
      s->args.push_back(!is_op("]") && !is_op(",") ? parse_expression(true) : nullptr);
    } else {
      s->args.push_back(nullptr);
    }
    return s;
  }

  void parse_call_args(expr& e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) fail_at(cur(), "*args and **kwargs in calls are not supported");
      if (cur().type == tok::name && peek().type == tok::op && peek().text == "=") {
        std::string k = cur().text;
        next();
        next();
        e.kwargs.emplace_back(std::move(k), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail_at(cur(), "positional argument follows keyword argument");
        e.args.push_back(parse_expression(true));
      }
    }
    expect_op(")");
  }

  expr_ptr parse_call(expr_ptr callee) {
    auto e = node(ek::call, cur());
    e->args.push_back(std::move(callee));
    parse_call_args(*e);
    return e;
  }

  expr_ptr parse_filter(expr_ptr operand) {
    const token& t = cur();
    auto e = node(ek::filter, t);
    e->name = expect_identifier();
    while (is_op(".") && peek().type == tok::name) {
      next();
      e->name += "." + cur().text;
      next();
    }
    e->args.push_back(std::move(operand));
    if (is_op("(")) parse_call_args(*e);
    return e;
  }

  expr_ptr parse_test(expr_ptr operand) {
    const token& t = cur();
    next();  // 'is'
    auto e = node(ek::test, t);
    e->negated = skip_name("not");
    e->name = expect_identifier();
    while (is_op(".") && peek().type == tok::name) {
      next();
      e->name += "." + cur().text;
      next();
    }
    e->args.push_back(std::move(operand));
    const token& c = cur();
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((c.type == tok::name || c.type == tok::string || c.type == tok::integer || c.type == tok::floating ||
                (c.type == tok::op && (c.text == "(" || c.text == "[" || c.text == "{"))) &&
               !(c.type == tok::name && (c.text == "else" || c.text == "or" || c.text == "and"))) {
      if (is_name("is")) fail_at(c, "You cannot chain multiple tests with is");
      e->args.push_back(parse_postfix(parse_primary()));
    }
    return e;
  }
};

}  // namespace

result<body_t> parse_tokens(const std::vector<token>& tokens) {
  try {
    return parser(tokens).parse_all();
  } catch (const error& e) {
    return e;
  }
}

}  // namespace pocketlm::chat::jinja::detail
