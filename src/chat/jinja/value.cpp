#include "chat/jinja/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "chat/jinja/pytext.h"

namespace pocketlm::chat::jinja::detail {

void fail(std::string message) { throw render_error{std::move(message)}; }

// ---- pstr

bool pstr::data_at(size_t i) const {
  for (const run& r : runs_) {
    if (i < r.begin) return false;
    if (i < r.end) return true;
  }
  return false;
}

void pstr::append(std::string_view s, bool from_data) {
  if (s.empty()) return;
  const size_t at = text_.size();
  text_.append(s);
  if (!from_data) return;
  if (!runs_.empty() && runs_.back().end == at) {
    runs_.back().end = text_.size();
  } else {
    runs_.push_back({at, text_.size()});
  }
}

void pstr::append(const pstr& o, size_t begin, size_t end) {
  if (begin >= end) return;
  if (o.runs_.empty()) {
    append(std::string_view(o.text_).substr(begin, end - begin), false);
    return;
  }
  size_t at = begin;
  for (const run& r : o.runs_) {
    if (r.end <= at) continue;
    if (r.begin >= end) break;
    const size_t b = std::max(r.begin, at);
    const size_t e = std::min(r.end, end);
    if (b > at) append(std::string_view(o.text_).substr(at, b - at), false);
    append(std::string_view(o.text_).substr(b, e - b), true);
    at = e;
  }
  if (at < end) append(std::string_view(o.text_).substr(at, end - at), false);
}

// ---- value constructors

value value::undefined(std::string hint) {
  value v;
  if (!hint.empty()) v.v = std::make_shared<const pstr>(std::move(hint), false);
  return v;
}
value value::none(bool from_data) {
  value v;
  v.k = kind::none;
  v.data = from_data;
  return v;
}
value value::boolean(bool b, bool from_data) {
  value v;
  v.k = kind::boolean;
  v.v = b;
  v.data = from_data;
  return v;
}
value value::integer(int64_t i, bool from_data) {
  value v;
  v.k = kind::integer;
  v.v = i;
  v.data = from_data;
  return v;
}
value value::floating(double f, bool from_data) {
  value v;
  v.k = kind::floating;
  v.v = f;
  v.data = from_data;
  return v;
}
value value::string(pstr s) {
  value v;
  v.k = kind::string;
  v.v = std::make_shared<const pstr>(std::move(s));
  return v;
}
value value::list(std::vector<value> items, bool tuple) {
  value v;
  v.k = kind::list;
  auto l = std::make_shared<list_data>();
  l->items = std::move(items);
  l->tuple = tuple;
  v.v = std::move(l);
  return v;
}
value value::dict(std::shared_ptr<dict_data> d) {
  value v;
  v.k = kind::dict;
  v.v = std::move(d);
  return v;
}
value value::make_namespace(std::shared_ptr<dict_data> d) {
  value v;
  v.k = kind::ns;
  v.v = std::move(d);
  return v;
}
value value::callable(std::shared_ptr<const callable_data> c) {
  value v;
  v.k = kind::callable;
  v.v = std::move(c);
  return v;
}

std::string value::undefined_message() const {
  if (const auto* s = std::get_if<std::shared_ptr<const pstr>>(&v)) return (*s)->text();
  return "value is undefined";
}

const value* dict_data::find(const value& key) const {
  for (const auto& [k, v] : items) {
    if (py_equal(k, key)) return &v;
  }
  return nullptr;
}

const value* dict_data::find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k.k == kind::string && k.text() == key) return &v;
  }
  return nullptr;
}

void dict_data::set(value key, value v) {
  for (auto& [k, old] : items) {
    if (py_equal(k, key)) {
      old = std::move(v);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(v));
}

const value* call_args::get(size_t index, std::string_view name) const {
  for (const auto& [k, v] : kw) {
    if (k == name) return &v;
  }
  return index < pos.size() ? &pos[index] : nullptr;
}

// ---- Python semantics

bool truthy(const value& v) {
  switch (v.k) {
    case kind::undefined:
    case kind::none: return false;
    case kind::boolean: return v.as_bool();
    case kind::integer: return v.as_int() != 0;
    case kind::floating: return v.as_float() != 0.0;
    case kind::string: return !v.str().empty();
    case kind::list: return v.lst().generator || !v.lst().items.empty();
    case kind::dict: return !v.dct().items.empty();
    default: return true;
  }
}

std::string type_name(const value& v) {
  switch (v.k) {
    case kind::undefined: return "Undefined";
    case kind::none: return "NoneType";
    case kind::boolean: return "bool";
    case kind::integer: return "int";
    case kind::floating: return "float";
    case kind::string: return "str";
    case kind::list: return v.lst().generator ? "generator" : v.lst().tuple ? "tuple" : "list";
    case kind::dict: return "dict";
    case kind::ns: return "Namespace";
    case kind::loop: return "LoopContext";
    case kind::callable: return "function";
  }
  return "object";
}

namespace {

void check_depth(int depth) {
  if (depth > 512) fail("jinja: value nested too deeply");
}

}  // namespace

bool py_equal(const value& a, const value& b, int depth) {
  check_depth(depth);
  if (a.is_number() && b.is_number()) {
    if (a.k == kind::floating || b.k == kind::floating) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.k != b.k) return false;
  switch (a.k) {
    case kind::undefined:
    case kind::none: return true;
    case kind::string: return a.text() == b.text();
    case kind::list: {
      const auto& x = a.lst();
      const auto& y = b.lst();
      if (x.generator || y.generator) return &x == &y;
      if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!py_equal(x.items[i], y.items[i], depth + 1)) return false;
      }
      return true;
    }
    case kind::dict: {
      const auto& x = a.dct();
      const auto& y = b.dct();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const value* o = y.find(k);
        if (!o || !py_equal(v, *o, depth + 1)) return false;
      }
      return true;
    }
    case kind::ns: return a.dict_ptr() == b.dict_ptr();
    case kind::loop: return &a.loop() == &b.loop();
    case kind::callable: return &a.fn() == &b.fn();
    default: return false;
  }
}

int py_compare(const value& a, const value& b, const char* op, int depth) {
  check_depth(depth);
  if (a.is_undefined()) fail("jinja: " + a.undefined_message());
  if (b.is_undefined()) fail("jinja: " + b.undefined_message());
  if (a.is_number() && b.is_number()) {
    if (a.k == kind::floating || b.k == kind::floating) {
      const double x = a.as_float(), y = b.as_float();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    const int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.k == kind::string && b.k == kind::string) {
    const int c = a.text().compare(b.text());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.k == kind::list && b.k == kind::list && a.lst().tuple == b.lst().tuple && !a.lst().generator &&
      !b.lst().generator) {
    const auto& x = a.lst().items;
    const auto& y = b.lst().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (py_equal(x[i], y[i], depth + 1)) continue;
      return py_compare(x[i], y[i], op, depth + 1);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  fail(std::string("jinja: '") + op + "' not supported between instances of '" + type_name(a) + "' and '" +
       type_name(b) + "'");
}

// ---- str / repr

namespace {

// The fewest significant digits that read back as a (> 0, finite), as std::to_chars gives them:
// DIGITS with a at DIGITS[0].DIGITS[1..] * 10^exp10. Tries 1 to 17 digits with printf, which
// gives the nearest decimal of that length; where the rounding interval of a is not centred on
// it (next to a power of two) that one can miss while its neighbour on the other side of a reads
// back, so that one is tried too. std::to_chars for floating point would bring 167 KB of tables
// into the static (phone) binary.
void shortest_digits(double a, std::string& digits, int& exp10) {
  char buf[64];
  for (int n = 1; n <= 17; ++n) {
    std::snprintf(buf, sizeof buf, "%.*e", n - 1, a);  // D.DDDe+XX
    const double back = std::strtod(buf, nullptr);
    char* e = std::strchr(buf, 'e');
    const int last_exp = std::atoi(e + 1) - (n - 1);  // power of ten of the last digit
    *e = '\0';
    std::string m(buf);
    m.erase(std::remove(m.begin(), m.end(), '.'), m.end());
    if (back == a) {
      digits = m;
      exp10 = last_exp + n - 1;
      return;
    }
    if (n == 17) break;
    const unsigned long long nearest = std::stoull(m);
    const unsigned long long other = back < a ? nearest + 1 : nearest - 1;
    std::snprintf(buf, sizeof buf, "%llue%d", other, last_exp);
    if (std::strtod(buf, nullptr) == a) {
      digits = std::to_string(other);
      exp10 = last_exp + static_cast<int>(digits.size()) - 1;
      return;
    }
  }
  digits = "0";  // not reached: 17 digits always read back
  exp10 = 0;
}

}  // namespace

std::string float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
  if (f == 0) return std::signbit(f) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then Python's choice of layout (repr: exponent when the decimal
  // point would sit before -4 or after 16 digits).
  const bool neg = f < 0;
  std::string digits;
  int exp10 = 0;
  shortest_digits(std::fabs(f), digits, exp10);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int decpt = exp10 + 1;  // value = 0.DIGITS * 10^decpt
  std::string out = neg ? "-" : "";
  if (decpt <= -4 || decpt > 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += eb;
  } else if (decpt <= 0) {
    out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out += digits + std::string(static_cast<size_t>(decpt) - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
  }
  return out;
}

namespace {

bool repr_printable(uint32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp < 0x7F) return true;
  if (cp <= 0xA0 || cp == 0xAD) return false;
  if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
      (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF || (cp >= 0xE000 && cp <= 0xF8FF) ||
      (cp >= 0xFFF9 && cp <= 0xFFFB) || cp >= 0xF0000)
    return false;
  return true;
}

std::string repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t cp = utf8_at(s, i, len);
    const std::string_view raw = s.substr(i, len);
    i += len;
    if (cp == static_cast<unsigned char>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (repr_printable(cp)) {
      out += raw;
    } else {
      char buf[16];
      if (cp < 0x100) {
        std::snprintf(buf, sizeof buf, "\\x%02x", cp);
      } else if (cp < 0x10000) {
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      } else {
        std::snprintf(buf, sizeof buf, "\\U%08x", cp);
      }
      out += buf;
    }
  }
  out += quote;
  return out;
}

}  // namespace

std::string py_repr(const value& v, int depth) {
  check_depth(depth);
  switch (v.k) {
    case kind::undefined: return "Undefined";
    case kind::none: return "None";
    case kind::boolean: return v.as_bool() ? "True" : "False";
    case kind::integer: return std::to_string(v.as_int());
    case kind::floating: return float_repr(v.as_float());
    case kind::string: return repr_string(v.text());
    case kind::list: {
      const auto& l = v.lst();
      if (l.generator) return "<generator object>";
      std::string out = l.view ? std::string(l.view) + "([" : l.tuple ? "(" : "[";
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i) out += ", ";
        out += py_repr(l.items[i], depth + 1);
      }
      if (l.tuple && l.items.size() == 1) out += ",";
      out += l.view ? "])" : l.tuple ? ")" : "]";
      return out;
    }
    case kind::dict:
    case kind::ns: {
      std::string out = v.k == kind::ns ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [k, x] : v.dct().items) {
        if (!first) out += ", ";
        first = false;
        out += py_repr(k, depth + 1) + ": " + py_repr(x, depth + 1);
      }
      return out + (v.k == kind::ns ? "}>" : "}");
    }
    case kind::loop:
      return "<LoopContext " + std::to_string(v.loop().index0 + 1) + "/" + std::to_string(v.loop().length) + ">";
    case kind::callable: return "<function " + v.fn().name + ">";
  }
  return "";
}

bool contains_data(const value& v, int depth) {
  check_depth(depth);
  switch (v.k) {
    case kind::string: return v.str().any_data();
    case kind::list:
      for (const auto& x : v.lst().items) {
        if (contains_data(x, depth + 1)) return true;
      }
      return false;
    case kind::dict:
    case kind::ns:
      for (const auto& [k, x] : v.dct().items) {
        if (contains_data(k, depth + 1) || contains_data(x, depth + 1)) return true;
      }
      return false;
    default: return v.data;
  }
}

pstr py_str(const value& v) {
  switch (v.k) {
    case kind::string: return v.str();
    case kind::undefined: return {};
    case kind::none:
    case kind::boolean:
    case kind::integer:
    case kind::floating: return pstr(py_repr(v), v.data);
    default: return pstr(py_repr(v), contains_data(v));
  }
}

// ---- json.dumps

namespace {

void json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t cp = utf8_at(s, i, len);
    const std::string_view raw = s.substr(i, len);
    i += len;
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    char buf[16];
    if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
      if (cp >= 0x10000) {
        const uint32_t c = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      }
      out += buf;
    } else {
      out += raw;
    }
  }
  out += '"';
}

std::string json_key(const value& k) {
  switch (k.k) {
    case kind::string: return k.text();
    case kind::none: return "null";
    case kind::boolean: return k.as_bool() ? "true" : "false";
    case kind::integer: return std::to_string(k.as_int());
    case kind::floating: return float_repr(k.as_float());
    default: fail("jinja: tojson: keys must be str, int, float, bool or None, not " + type_name(k));
  }
}

void dump(std::string& out, const value& v, const json_format& f, int depth) {
  check_depth(depth);
  const auto newline = [&](int level) {
    if (!f.has_indent) return;
    out += '\n';
    for (int i = 0; i < level; ++i) out += f.indent;
  };
  switch (v.k) {
    case kind::none: out += "null"; return;
    case kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case kind::integer: out += std::to_string(v.as_int()); return;
    case kind::floating: {
      const double d = v.as_float();
      out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d < 0 ? "-Infinity" : "Infinity") : float_repr(d);
      return;
    }
    case kind::string: json_string(out, v.text(), f.ensure_ascii); return;
    case kind::list: {
      if (v.lst().generator) fail("jinja: tojson: Object of type generator is not JSON serializable");
      const auto& items = v.lst().items;
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += f.item_sep;
        newline(depth + 1);
        dump(out, items[i], f, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    }
    case kind::dict: {
      std::vector<const std::pair<value, value>*> items;
      for (const auto& kv : v.dct().items) items.push_back(&kv);
      if (items.empty()) {
        out += "{}";
        return;
      }
      std::vector<std::string> keys;
      for (const auto* kv : items) keys.push_back(json_key(kv->first));
      std::vector<size_t> order(items.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      if (f.sort_keys) {
        for (const auto* kv : items) {
          if (kv->first.k != kind::string) fail("jinja: tojson: sort_keys needs str keys");
        }
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
      }
      out += '{';
      for (size_t n = 0; n < order.size(); ++n) {
        const size_t i = order[n];
        if (n) out += f.item_sep;
        newline(depth + 1);
        json_string(out, keys[i], f.ensure_ascii);
        out += f.key_sep;
        dump(out, items[i]->second, f, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    }
    default: fail("jinja: tojson: Object of type " + type_name(v) + " is not JSON serializable");
  }
}

}  // namespace

std::string json_dumps(const value& v, const json_format& f, int depth) {
  std::string out;
  dump(out, v, f, depth);
  return out;
}

namespace {

bool is_word(const nlohmann::ordered_json& j) {
  if (!j.is_string()) return false;
  const auto& s = j.get_ref<const std::string&>();
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace

value from_json(const nlohmann::ordered_json& j, bool from_data, int depth, int max_depth,
                const std::vector<std::string>& word_fields) {
  if (depth > max_depth) fail("jinja: the context is nested deeper than " + std::to_string(max_depth) + " levels");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return value::none(from_data);
    case nlohmann::ordered_json::value_t::boolean: return value::boolean(j.get<bool>(), from_data);
    case nlohmann::ordered_json::value_t::number_integer: return value::integer(j.get<int64_t>(), from_data);
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return value::floating(static_cast<double>(u), from_data);
      return value::integer(static_cast<int64_t>(u), from_data);
    }
    case nlohmann::ordered_json::value_t::number_float: return value::floating(j.get<double>(), from_data);
    case nlohmann::ordered_json::value_t::string: return value::string(j.get<std::string>(), from_data);
    case nlohmann::ordered_json::value_t::array: {
      std::vector<value> items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json(x, from_data, depth + 1, max_depth, word_fields));
      return value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      auto d = std::make_shared<dict_data>();
      d->items.reserve(j.size());
      for (const auto& [k, x] : j.items()) {
        const bool word =
            from_data && is_word(x) && std::find(word_fields.begin(), word_fields.end(), k) != word_fields.end();
        d->items.emplace_back(value::string(k, from_data),
                              from_json(x, from_data && !word, depth + 1, max_depth, word_fields));
      }
      return value::dict(std::move(d));
    }
    default: return value::none(from_data);
  }
}

}  // namespace pocketlm::chat::jinja::detail
