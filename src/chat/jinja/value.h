// chat/jinja internals: the values a template computes with (Python's types as Jinja2 sees them),
// strings that remember which of their bytes came from the context, and Python's str(), repr()
// and json.dumps() forms of them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace pocketlm::chat::jinja::detail {

// Every failure while rendering is thrown as this and turned into an error result by render().
struct render_error {
  std::string message;
};
[[noreturn]] void fail(std::string message);

// A string whose bytes are tagged: runs of bytes that came from the context (data) and the rest
// (template text). Runs are sorted, disjoint, not adjacent and never empty.
class pstr {
 public:
  struct run {
    size_t begin, end;
  };
  pstr() = default;
  pstr(std::string text, bool from_data) : text_(std::move(text)) {
    if (from_data && !text_.empty()) runs_.push_back({0, text_.size()});
  }
  const std::string& text() const { return text_; }
  const std::vector<run>& runs() const { return runs_; }
  size_t size() const { return text_.size(); }
  bool empty() const { return text_.empty(); }
  bool any_data() const { return !runs_.empty(); }
  bool data_at(size_t i) const;

  void append(std::string_view s, bool from_data);
  void append(const pstr& o) { append(o, 0, o.size()); }
  void append(const pstr& o, size_t begin, size_t end);  // o's bytes [begin, end) with their tags
  pstr substr(size_t begin, size_t end) const {
    pstr p;
    p.append(*this, begin, end);
    return p;
  }

 private:
  std::string text_;
  std::vector<run> runs_;
};

enum class kind : uint8_t { undefined, none, boolean, integer, floating, string, list, dict, ns, loop, callable };

struct value;
struct list_data;
struct dict_data;
struct loop_data;
struct callable_data;
struct stmt;   // ast.h
struct scope;  // evaluator.h

using value_ptr = std::shared_ptr<const value>;

struct value {
  kind k = kind::undefined;
  bool data = false;    // scalars (numbers, booleans, none): the value came from the context
  bool markup = false;  // strings: a markupsafe.Markup (|safe, |escape): `+` escapes the other operand
  std::variant<std::monostate, bool, int64_t, double, std::shared_ptr<const pstr>, std::shared_ptr<list_data>,
               std::shared_ptr<dict_data>, std::shared_ptr<loop_data>, std::shared_ptr<const callable_data>>
      v;

  static value undefined(std::string hint = {});  // hint: what was undefined, for the error message
  static value none(bool from_data = false);
  static value boolean(bool b, bool from_data = false);
  static value integer(int64_t i, bool from_data = false);
  static value floating(double f, bool from_data = false);
  static value string(pstr s);
  static value string(std::string s, bool from_data = false) { return string(pstr(std::move(s), from_data)); }
  static value list(std::vector<value> items, bool tuple = false);
  static value dict(std::shared_ptr<dict_data> d);
  static value make_namespace(std::shared_ptr<dict_data> d);
  static value callable(std::shared_ptr<const callable_data> c);

  bool is_undefined() const { return k == kind::undefined; }
  bool is_none() const { return k == kind::none; }
  bool is_string() const { return k == kind::string; }
  bool is_number() const { return k == kind::integer || k == kind::floating || k == kind::boolean; }
  bool is_list() const { return k == kind::list; }
  bool is_dict() const { return k == kind::dict; }

  bool as_bool() const { return std::get<bool>(v); }
  int64_t as_int() const { return k == kind::boolean ? std::get<bool>(v) : std::get<int64_t>(v); }
  double as_float() const { return k == kind::floating ? std::get<double>(v) : static_cast<double>(as_int()); }
  const pstr& str() const { return *std::get<std::shared_ptr<const pstr>>(v); }
  const std::string& text() const { return str().text(); }
  list_data& lst() const { return *std::get<std::shared_ptr<list_data>>(v); }
  dict_data& dct() const { return *std::get<std::shared_ptr<dict_data>>(v); }
  const std::shared_ptr<dict_data>& dict_ptr() const { return std::get<std::shared_ptr<dict_data>>(v); }
  loop_data& loop() const { return *std::get<std::shared_ptr<loop_data>>(v); }
  const callable_data& fn() const { return *std::get<std::shared_ptr<const callable_data>>(v); }
  // The undefined value's hint ("'x' is undefined" or an attribute that was not allowed).
  std::string undefined_message() const;
};

struct list_data {
  std::vector<value> items;
  bool tuple = false;
  // A Python generator (what map, select, reject, selectattr, rejectattr, unique, batch and
  // reverse return): always true, no len(), and iterating it once consumes it.
  bool generator = false;
  std::string pending_error;   // a generator whose body fails: the error, raised when iterated
  const char* view = nullptr;  // "dict_keys", "dict_values", "dict_items": how repr() shows it
};

// Python dict (insertion order) and Jinja's namespace() object.
struct dict_data {
  std::vector<std::pair<value, value>> items;
  const value* find(const value& key) const;
  const value* find(std::string_view key) const;
  void set(value key, value v);
};

struct loop_data {
  int64_t index0 = 0;
  int64_t length = 0;
  int64_t depth0 = 0;
  std::vector<value> const* items = nullptr;  // the loop's (filtered) items
  std::shared_ptr<std::vector<value>> owned;  // keeps items alive while the loop object lives
  value last_changed;
  bool changed_called = false;
  // {% for ... recursive %}: loop(items) renders the same body one level deeper.
  const stmt* recursive = nullptr;
  std::weak_ptr<scope> recursive_scope;
};

// Arguments of a call: positional and keyword.
struct call_args {
  std::vector<value> pos;
  std::vector<std::pair<std::string, value>> kw;
  const value* get(size_t index, std::string_view name) const;  // positional index or keyword name
};

class evaluator;
struct callable_data {
  std::string name;
  std::function<value(evaluator&, call_args&)> fn;
};

// Python semantics.
bool truthy(const value& v);
bool py_equal(const value& a, const value& b, int depth = 0);
int py_compare(const value& a, const value& b, const char* op, int depth = 0);  // <0, 0, >0; throws on types
std::string type_name(const value& v);

// str(v) (what {{ v }} prints) and repr(v), each tagged: strings keep their tags; numbers and
// containers are data when they hold anything from the context.
pstr py_str(const value& v);
std::string py_repr(const value& v, int depth = 0);
std::string float_repr(double f);
bool contains_data(const value& v, int depth = 0);

struct json_format {
  bool ensure_ascii = false;
  std::string indent;  // used when has_indent
  bool has_indent = false;
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
};
std::string json_dumps(const value& v, const json_format& f, int depth = 0);

// The context's JSON as values (every string, number and key tagged as data unless template_text).
// word_fields: see render_options::word_fields.
value from_json(const nlohmann::ordered_json& j, bool from_data, int depth, int max_depth,
                const std::vector<std::string>& word_fields);

}  // namespace pocketlm::chat::jinja::detail
