// Filters, tests, methods and globals, with Jinja2 3.1's and Python's semantics (the filter
// bodies follow jinja2/filters.py; tojson is the one transformers installs).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <unordered_map>

#include "chat/jinja/evaluator.h"
#include "chat/jinja/lexer.h"
#include "chat/jinja/pytext.h"

namespace pocketlm::chat::jinja::detail {
namespace {

using filter_fn = value (*)(evaluator&, const value&, call_args&);
using test_fn = bool (*)(evaluator&, const value&, call_args&);

[[noreturn]] void type_error(const std::string& what) { fail("jinja: " + what); }

// By value: callers pass temporaries as the fallback.
value arg(const call_args& a, size_t i, std::string_view name, const value& fallback) {
  const value* v = a.get(i, name);
  return v ? *v : fallback;
}
const value kNone = value::none();
const value kUndef = value::undefined();
const value kFalse = value::boolean(false);
const value kTrue = value::boolean(true);
const value kZero = value::integer(0);

bool bool_arg(const call_args& a, size_t i, std::string_view name, bool fallback) {
  const value* v = a.get(i, name);
  return v ? truthy(*v) : fallback;
}

int64_t int_arg(const call_args& a, size_t i, std::string_view name, int64_t fallback) {
  const value* v = a.get(i, name);
  if (!v || v->is_none()) return fallback;
  if (v->k != kind::integer && v->k != kind::boolean) {
    type_error("'" + std::string(name) + "' must be an integer, not " + type_name(*v));
  }
  return v->as_int();
}

// soft_str(): what Jinja2 turns a value into before string filters.
pstr soft_str(const value& v) { return py_str(v); }

value str_value(pstr s) { return value::string(std::move(s)); }

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

pstr upper(const pstr& s) {
  if (s.text().find("\xC3\x9F") == std::string::npos) {
    return map_chars(s, [](uint32_t c, size_t, bool) { return to_upper(c); });
  }
  // U+00DF (sharp s) is the one common letter whose upper case is two: "SS".
  pstr out;
  const std::string& t = s.text();
  for (size_t i = 0; i < t.size();) {
    const size_t j = std::min(t.find("\xC3\x9F", i), t.size());
    out.append(map_chars(s.substr(i, j), [](uint32_t c, size_t, bool) { return to_upper(c); }));
    if (j < t.size()) out.append("SS", s.data_at(j));
    i = j + 2;
  }
  return out;
}
pstr lower(const pstr& s) { return map_chars(s, [](uint32_t c, size_t, bool) { return to_lower(c); }); }
pstr capitalize(const pstr& s) {
  return map_chars(s, [](uint32_t c, size_t i, bool) { return i == 0 ? to_upper(c) : to_lower(c); });
}
// Python's str.title(): a cased letter after a cased letter is lowered, any other is raised.
pstr py_title(const pstr& s) {
  return map_chars(s, [](uint32_t c, size_t, bool prev) { return prev ? to_lower(c) : to_upper(c); });
}

pstr strip(const pstr& s, const value* chars, bool left, bool right) {
  const bool ws = !chars || chars->is_none() || chars->is_undefined();
  if (!ws && !chars->is_string()) type_error("strip arg must be None or str");
  const std::string cs = ws ? std::string() : chars->text();
  const std::string& t = s.text();
  const size_t b = left ? lstrip_len(t, cs, ws) : 0;
  const size_t e = right ? std::max(b, rstrip_keep(t, cs, ws)) : t.size();
  return s.substr(b, std::max(b, e));
}

pstr replace(evaluator& ev, const pstr& s, const pstr& old, const pstr& repl, int64_t count) {
  pstr out;
  const std::string& t = s.text();
  if (count < 0) count = INT64_MAX;
  if (old.empty()) {
    const auto off = char_offsets(t);
    for (size_t i = 0; i + 1 < off.size(); ++i) {
      if (static_cast<int64_t>(i) < count) out.append(repl);
      out.append(s, off[i], off[i + 1]);
      ev.check_string_size(out.size());
    }
    if (static_cast<int64_t>(off.size() - 1) < count) out.append(repl);
    return out;
  }
  size_t at = 0;
  int64_t n = 0;
  while (n < count) {
    const size_t f = t.find(old.text(), at);
    if (f == std::string::npos) break;
    out.append(s, at, f);
    out.append(repl);
    ev.check_string_size(out.size());
    at = f + old.size();
    ++n;
  }
  out.append(s, at, t.size());
  return out;
}

std::vector<value> split(const pstr& s, const value* sep, int64_t maxsplit) {
  std::vector<value> parts;
  const std::string& t = s.text();
  if (maxsplit < 0) maxsplit = INT64_MAX;
  if (!sep || sep->is_none()) {
    size_t i = 0;
    int64_t n = 0;
    while (true) {
      i += lstrip_len(std::string_view(t).substr(i), {}, true);
      if (i >= t.size()) break;
      if (n >= maxsplit) {
        parts.push_back(str_value(s.substr(i, rstrip_keep(t, {}, true))));
        break;
      }
      size_t j = i;
      while (j < t.size()) {
        size_t len = 1;
        if (py_isspace(utf8_at(t, j, len))) break;
        j += len;
      }
      parts.push_back(str_value(s.substr(i, j)));
      ++n;
      i = j;
    }
    return parts;
  }
  if (!sep->is_string()) type_error("must be str or None, not " + type_name(*sep));
  const std::string& d = sep->text();
  if (d.empty()) type_error("empty separator");
  size_t at = 0;
  int64_t n = 0;
  while (n < maxsplit) {
    const size_t f = t.find(d, at);
    if (f == std::string::npos) break;
    parts.push_back(str_value(s.substr(at, f)));
    at = f + d.size();
    ++n;
  }
  parts.push_back(str_value(s.substr(at, t.size())));
  return parts;
}

std::vector<value> rsplit(const pstr& s, const value* sep, int64_t maxsplit) {
  if (!sep || sep->is_none() || maxsplit < 0) {
    if (maxsplit < 0) return split(s, sep, -1);
    // whitespace rsplit with a limit: split fully, then rejoin the head
    std::vector<value> all = split(s, sep, -1);
    if (static_cast<int64_t>(all.size()) <= maxsplit + 1) return all;
    // Head: the original text up to the start of the kept tail.
    const std::string& t = s.text();
    size_t keep = all.size() - static_cast<size_t>(maxsplit);
    size_t pos = t.size();
    for (size_t k = all.size(); k-- > keep;) pos = t.rfind(all[k].text(), pos - 1);
    std::vector<value> out;
    out.push_back(str_value(s.substr(lstrip_len(t, {}, true), rstrip_keep(std::string_view(t).substr(0, pos), {}, true))));
    for (size_t k = keep; k < all.size(); ++k) out.push_back(all[k]);
    return out;
  }
  if (!sep->is_string()) type_error("must be str or None, not " + type_name(*sep));
  const std::string& t = s.text();
  const std::string& d = sep->text();
  if (d.empty()) type_error("empty separator");
  std::vector<value> parts;
  size_t end = t.size();
  int64_t n = 0;
  while (n < maxsplit && end >= d.size()) {
    const size_t f = t.rfind(d, end - d.size());
    if (f == std::string::npos) break;
    parts.push_back(str_value(s.substr(f + d.size(), end)));
    end = f;
    ++n;
  }
  parts.push_back(str_value(s.substr(0, end)));
  std::reverse(parts.begin(), parts.end());
  return parts;
}

// str.splitlines(): \n \r \r\n \v \f \x1c-\x1e \x85 \u2028 \u2029.
std::vector<pstr> splitlines(const pstr& s) {
  std::vector<pstr> lines;
  const std::string& t = s.text();
  size_t start = 0;
  for (size_t i = 0; i < t.size();) {
    size_t len = 1;
    const uint32_t cp = utf8_at(t, i, len);
    const bool brk = cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 ||
                     cp == 0x2028 || cp == 0x2029;
    if (!brk) {
      i += len;
      continue;
    }
    lines.push_back(s.substr(start, i));
    i += len;
    if (cp == '\r' && i < t.size() && t[i] == '\n') ++i;
    start = i;
  }
  if (start < t.size()) lines.push_back(s.substr(start, t.size()));
  return lines;
}

size_t py_len(const value& v) {
  switch (v.k) {
    case kind::undefined: return 0;
    case kind::string: return char_count(v.text());
    case kind::list:
      if (v.lst().generator) type_error("object of type 'generator' has no len()");
      return v.lst().items.size();
    case kind::dict:
    case kind::ns: return v.dct().items.size();
    case kind::loop: return static_cast<size_t>(v.loop().length);
    default: type_error("object of type '" + type_name(v) + "' has no len()");
  }
}

// Attribute paths of filters (map(attribute='a.b'), selectattr, sort(attribute=...)): dotted,
// integer parts index.
value get_path(evaluator& ev, const value& v, const value& attr) {
  if (attr.k == kind::integer) return ev.getitem(v, attr);
  if (!attr.is_string()) return ev.getitem(v, attr);
  value cur = v;
  const std::string& path = attr.text();
  size_t at = 0;
  while (true) {
    const size_t dot = path.find('.', at);
    const std::string part = path.substr(at, dot == std::string::npos ? std::string::npos : dot - at);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = numeric && part.size() < 18 ? ev.getitem(cur, value::integer(std::stoll(part))) : ev.getitem(cur, value::string(part));
    if (dot == std::string::npos) return cur;
    at = dot + 1;
  }
}

value make_bound(std::string name, std::function<value(evaluator&, call_args&)> fn) {
  auto c = std::make_shared<callable_data>();
  c->name = std::move(name);
  c->fn = std::move(fn);
  return value::callable(std::move(c));
}

// Sort key comparison with Jinja's case_sensitive=False (strings compare lowered).
value sort_key(const value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return value::string(lower(v.str()));
  return v;
}

std::vector<value> sorted(evaluator& ev, std::vector<value> items, bool reverse, bool case_sensitive,
                          const value* attribute) {
  std::vector<value> keys;
  keys.reserve(items.size());
  for (const auto& it : items) {
    keys.push_back(sort_key(attribute && !attribute->is_none() ? get_path(ev, it, *attribute) : it, case_sensitive));
  }
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return reverse ? py_compare(keys[b], keys[a], "<") < 0 : py_compare(keys[a], keys[b], "<") < 0;
  });
  std::vector<value> out;
  out.reserve(items.size());
  for (size_t i : order) out.push_back(items[i]);
  return out;
}

// "%s" % args, the printf subset templates use: %s %r %d %i %f %x %X %o %e %g %%, flags, width, precision.
pstr percent_format(evaluator& ev, const pstr& fmt, const value& args) {
  std::vector<value> items;
  const value* mapping = nullptr;
  if (args.k == kind::list && args.lst().tuple) {
    items = args.lst().items;
  } else if (args.k == kind::dict) {
    mapping = &args;
  } else {
    items.push_back(args);
  }
  // Python treats any argument with __getitem__ (list, dict) but a tuple or str as a mapping:
  // leftover arguments are then no error.
  const bool getitem_arg = args.k == kind::dict || (args.k == kind::list && !args.lst().tuple);
  size_t next = 0;
  pstr out;
  const std::string& f = fmt.text();
  for (size_t i = 0; i < f.size();) {
    if (f[i] != '%') {
      size_t j = f.find('%', i);
      if (j == std::string::npos) j = f.size();
      out.append(fmt, i, j);
      i = j;
      continue;
    }
    ++i;
    if (i >= f.size()) type_error("incomplete format");
    const value* v = nullptr;
    if (f[i] == '(') {
      const size_t close = f.find(')', i);
      if (close == std::string::npos || !mapping) type_error("format requires a mapping");
      v = mapping->dct().find(std::string_view(f).substr(i + 1, close - i - 1));
      if (!v) type_error("format key '" + f.substr(i + 1, close - i - 1) + "' not found");
      i = close + 1;
    }
    std::string spec = "%";
    while (i < f.size() && std::string_view("-+ #0").find(f[i]) != std::string_view::npos) spec += f[i++];
    while (i < f.size() && f[i] >= '0' && f[i] <= '9' && spec.size() < 8) spec += f[i++];
    if (i < f.size() && f[i] == '.') {
      spec += f[i++];
      while (i < f.size() && f[i] >= '0' && f[i] <= '9' && spec.size() < 12) spec += f[i++];
    }
    if (i >= f.size()) type_error("incomplete format");
    const char conv = f[i++];
    if (conv == '%') {
      out.append("%", false);
      continue;
    }
    if (!v) {
      if (next >= items.size()) type_error("not enough arguments for format string");
      v = &items[next++];
    }
    char buf[512];
    switch (conv) {
      case 's':
      case 'r': {
        const pstr s = conv == 's' ? py_str(*v) : pstr(py_repr(*v), contains_data(*v));
        // width/precision on strings: pad or cut by characters
        std::string w = spec.substr(1);
        const bool leftj = !w.empty() && w[0] == '-';
        size_t prec = std::string::npos;
        if (const size_t dot = w.find('.'); dot != std::string::npos) {
          prec = static_cast<size_t>(std::atoi(w.c_str() + dot + 1));
          w = w.substr(0, dot);
        }
        const size_t width = static_cast<size_t>(std::atoi(w.c_str() + (leftj ? 1 : 0)));
        const auto off = char_offsets(s.text());
        const size_t n = std::min(off.size() - 1, prec);
        const pstr cut = s.substr(0, off[n]);
        const std::string pad(width > n ? width - n : 0, ' ');
        if (!leftj) out.append(pad, false);
        out.append(cut);
        if (leftj) out.append(pad, false);
        break;
      }
      case 'd':
      case 'i':
      case 'x':
      case 'X':
      case 'o': {
        if (!v->is_number()) type_error("%" + std::string(1, conv) + " format: a real number is required, not " + type_name(*v));
        const int64_t n = v->k == kind::floating ? static_cast<int64_t>(v->as_float()) : v->as_int();
        std::snprintf(buf, sizeof buf, (spec + "ll" + (conv == 'i' ? 'd' : conv)).c_str(), static_cast<long long>(n));
        out.append(buf, v->data);
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        if (!v->is_number()) type_error("must be real number, not " + type_name(*v));
        std::snprintf(buf, sizeof buf, (spec + conv).c_str(), v->as_float());
        out.append(buf, v->data);
        break;
      }
      default: type_error(std::string("unsupported format character '") + conv + "'");
    }
    ev.check_string_size(out.size());
  }
  if (next < items.size() && !getitem_arg) type_error("not all arguments converted during string formatting");
  return out;
}

double round_half_even(double x, int64_t digits) {
  if (digits == 0) return std::nearbyint(x);
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::clamp<int64_t>(digits, 0, 300)), x);
  return std::strtod(buf, nullptr);
}

value generator(std::vector<value> items) {
  value v = value::list(std::move(items));
  v.lst().generator = true;
  return v;
}

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

// ---- filters

value f_abs(evaluator&, const value& v, call_args&) {
  if (v.k == kind::floating) return value::floating(std::fabs(v.as_float()), v.data);
  if (v.k == kind::integer || v.k == kind::boolean) {
    if (v.as_int() == INT64_MIN) type_error("integer overflow");
    return value::integer(std::llabs(v.as_int()), v.data);
  }
  type_error("bad operand type for abs(): '" + type_name(v) + "'");
}

value f_attr(evaluator& ev, const value& v, call_args& a) {
  const value& name = arg(a, 0, "name", kUndef);
  if (!name.is_string()) type_error("attr: the name must be a string");
  return ev.getattr(v, name.text());
}

value f_capitalize(evaluator&, const value& v, call_args&) { return str_value(capitalize(soft_str(v))); }

value f_default(evaluator&, const value& v, call_args& a) {
  static const value empty = value::string("", false);
  const value& dflt = arg(a, 0, "default_value", empty);
  const bool boolean = bool_arg(a, 1, "boolean", false);
  if (v.is_undefined() || (boolean && !truthy(v))) return dflt;
  return v;
}

value f_dictsort(evaluator& ev, const value& v, call_args& a) {
  if (v.k != kind::dict) type_error("dictsort: expected a dict, got " + type_name(v));
  const bool cs = bool_arg(a, 0, "case_sensitive", false);
  const value& by = arg(a, 1, "by", value::string("key", false));
  const bool reverse = bool_arg(a, 2, "reverse", false);
  const size_t pos = by.is_string() && by.text() == "value" ? 1 : 0;
  if (!(by.is_string() && (by.text() == "key" || by.text() == "value"))) {
    type_error("You can only sort by either \"key\" or \"value\"");
  }
  std::vector<value> pairs;
  for (const auto& [k, x] : v.dct().items) pairs.push_back(value::list({k, x}, true));
  const value idx = value::integer(static_cast<int64_t>(pos));
  return value::list(sorted(ev, std::move(pairs), reverse, cs, &idx));
}

pstr html_escape(const pstr& s) {
  pstr out;
  const std::string& t = s.text();
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const char* rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&#34;" : c == '\'' ? "&#39;" : nullptr;
    if (rep) {
      out.append(rep, s.data_at(i));
    } else {
      out.append(s, i, i + 1);
    }
  }
  return out;
}

value as_markup(value v) {
  v.markup = true;
  return v;
}

value f_escape(evaluator&, const value& v, call_args&) {
  if (v.is_string() && v.markup) return v;
  return as_markup(str_value(html_escape(soft_str(v))));
}

value f_forceescape(evaluator&, const value& v, call_args&) { return as_markup(str_value(html_escape(soft_str(v)))); }

value f_first(evaluator& ev, const value& v, call_args&) {
  std::vector<value> items = ev.iterate(v);
  if (items.empty()) return value::undefined("No first item, sequence was empty.");
  return items.front();
}

value f_last(evaluator& ev, const value& v, call_args&) {
  if (v.is_undefined()) return value::undefined("No last item, sequence was empty.");
  if (v.k == kind::list && v.lst().generator) type_error("'generator' object is not reversible");
  std::vector<value> items = ev.iterate(v);
  if (items.empty()) return value::undefined("No last item, sequence was empty.");
  return items.back();
}

std::optional<double> parse_float(const std::string& s) {
  std::string t = s.substr(lstrip_len(s, {}, true));
  t = t.substr(0, rstrip_keep(t, {}, true));
  t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size()) return std::nullopt;
  return d;
}

value f_float(evaluator&, const value& v, call_args& a) {
  static const value zero = value::floating(0.0);
  const value& dflt = arg(a, 0, "default", zero);
  if (v.is_number()) return value::floating(v.as_float(), v.data);
  if (v.is_string()) {
    if (auto d = parse_float(v.text())) return value::floating(*d, v.str().any_data());
  }
  return dflt;
}

value f_int(evaluator&, const value& v, call_args& a) {
  const value& dflt = arg(a, 0, "default", kZero);
  const int64_t base = int_arg(a, 1, "base", 10);
  if (v.k == kind::integer || v.k == kind::boolean) return value::integer(v.as_int(), v.data);
  if (v.k == kind::floating) {
    const double d = v.as_float();
    if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return dflt;
    return value::integer(static_cast<int64_t>(d), v.data);
  }
  if (v.is_string()) {
    std::string t = v.text().substr(lstrip_len(v.text(), {}, true));
    t = t.substr(0, rstrip_keep(t, {}, true));
    t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
    if (!t.empty() && base >= 2 && base <= 36) {
      errno = 0;
      char* end = nullptr;
      const long long n = std::strtoll(t.c_str(), &end, static_cast<int>(base));
      if (!errno && end == t.c_str() + t.size()) return value::integer(n, v.str().any_data());
    }
    if (auto d = parse_float(v.text()); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) {
      return value::integer(static_cast<int64_t>(*d), v.str().any_data());
    }
  }
  return dflt;
}

value f_indent(evaluator& ev, const value& v, call_args& a) {
  const value& w = arg(a, 0, "width", value::integer(4));
  const bool first = bool_arg(a, 1, "first", false);
  const bool blank = bool_arg(a, 2, "blank", false);
  pstr ind;
  if (w.is_string()) {
    ind = w.str();
  } else {
    const int64_t n = w.is_number() ? w.as_int() : 4;
    ev.check_string_size(static_cast<size_t>(std::max<int64_t>(n, 0)));
    ind = pstr(std::string(static_cast<size_t>(std::max<int64_t>(n, 0)), ' '), false);
  }
  if (!v.is_string()) type_error("unsupported operand type(s) for +=: '" + type_name(v) + "' and 'str'");
  pstr s = v.str();
  s.append("\n", false);
  const std::vector<pstr> lines = splitlines(s);
  pstr out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out.append("\n", false);
    if ((i > 0 || first) && (blank || !lines[i].empty())) out.append(ind);
    out.append(lines[i]);
    ev.check_string_size(out.size());
  }
  if (blank && first && lines.empty()) out.append(ind);
  return str_value(std::move(out));
}

value f_items(evaluator&, const value& v, call_args&) {
  if (v.is_undefined()) return generator({});
  if (v.k != kind::dict) type_error("items: can only get item pairs from a mapping, not " + type_name(v));
  std::vector<value> out;
  for (const auto& [k, x] : v.dct().items) out.push_back(value::list({k, x}, true));
  return generator(std::move(out));
}

value f_join(evaluator& ev, const value& v, call_args& a) {
  static const value empty = value::string("", false);
  const value& d = arg(a, 0, "d", empty);
  const value* attribute = a.get(1, "attribute");
  const pstr sep = soft_str(d);
  pstr out;
  bool firstitem = true;
  for (const value& it : ev.iterate(v)) {
    if (!firstitem) out.append(sep);
    firstitem = false;
    out.append(soft_str(attribute && !attribute->is_none() ? get_path(ev, it, *attribute) : it));
    ev.check_string_size(out.size());
  }
  return str_value(std::move(out));
}

value f_length(evaluator&, const value& v, call_args&) { return value::integer(static_cast<int64_t>(py_len(v))); }

value f_list(evaluator& ev, const value& v, call_args&) { return value::list(ev.iterate(v)); }

value f_lower(evaluator&, const value& v, call_args&) { return str_value(lower(soft_str(v))); }
value f_upper(evaluator&, const value& v, call_args&) { return str_value(upper(soft_str(v))); }

value f_title(evaluator&, const value& v, call_args&) {
  // Jinja's own title: words start after runs of [-\s({[<]; first letter up, rest down.
  const pstr s = soft_str(v);
  const std::string& t = s.text();
  pstr out;
  bool at_word_start = true;
  std::string buf;
  for (size_t i = 0; i < t.size();) {
    size_t len = 1;
    const uint32_t cp = utf8_at(t, i, len);
    const bool sep = py_isspace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    buf.clear();
    if (len == 1 && cp >= 0x80) {
      buf += t[i];
    } else {
      utf8_append(buf, sep ? cp : at_word_start ? to_upper(cp) : to_lower(cp));
    }
    out.append(buf, s.data_at(i));
    at_word_start = sep;
    i += len;
  }
  return str_value(std::move(out));
}

// map(filter, *args) / map(attribute=, default=)
value f_map(evaluator& ev, const value& v, call_args& a) {
  std::vector<value> out;
  if (!truthy(v)) return generator({});  // Jinja2: `if value:` before iterating
  const value* attribute = nullptr;
  for (const auto& [k, x] : a.kw) {
    if (k == "attribute") attribute = &x;
  }
  if (attribute) {
    const value* dflt = nullptr;
    for (const auto& [k, x] : a.kw) {
      if (k == "default") dflt = &x;
    }
    for (const value& it : ev.iterate(v)) {
      value got = get_path(ev, it, *attribute);
      out.push_back(got.is_undefined() && dflt ? *dflt : got);
    }
    return generator(std::move(out));
  }
  if (a.pos.empty() || !a.pos[0].is_string()) type_error("map: expected a filter name or attribute=");
  const std::string name = a.pos[0].text();
  call_args rest;
  rest.pos.assign(a.pos.begin() + 1, a.pos.end());
  rest.kw = a.kw;
  for (const value& it : ev.iterate(v)) {
    call_args copy = rest;
    out.push_back(ev.apply_filter(name, it, copy, 0, 0));
  }
  return generator(std::move(out));
}

value select_impl(evaluator& ev, const value& v, call_args& a, bool attr_mode, bool want) {
  size_t first = 0;
  const value* attribute = nullptr;
  if (attr_mode) {
    if (a.pos.empty()) type_error("selectattr: missing the attribute");
    attribute = &a.pos[0];
    first = 1;
  }
  std::string test;
  if (a.pos.size() > first) {
    if (!a.pos[first].is_string()) type_error("select: the test name must be a string");
    test = a.pos[first].text();
  }
  call_args targs;
  if (a.pos.size() > first + 1) targs.pos.assign(a.pos.begin() + static_cast<long>(first) + 1, a.pos.end());
  targs.kw = a.kw;
  std::vector<value> out;
  if (!truthy(v)) return generator({});  // Jinja2: `if value:` before iterating
  for (const value& it : ev.iterate(v)) {
    const value probe = attribute ? get_path(ev, it, *attribute) : it;
    bool ok;
    if (test.empty()) {
      ok = truthy(probe);
    } else {
      call_args copy = targs;
      ok = ev.apply_test(test, probe, copy, 0, 0);
    }
    if (ok == want) out.push_back(it);
  }
  return generator(std::move(out));
}

value f_select(evaluator& ev, const value& v, call_args& a) { return select_impl(ev, v, a, false, true); }
value f_reject(evaluator& ev, const value& v, call_args& a) { return select_impl(ev, v, a, false, false); }
value f_selectattr(evaluator& ev, const value& v, call_args& a) { return select_impl(ev, v, a, true, true); }
value f_rejectattr(evaluator& ev, const value& v, call_args& a) { return select_impl(ev, v, a, true, false); }

value f_replace(evaluator& ev, const value& v, call_args& a) {
  const value& old = arg(a, 0, "old", kUndef);
  const value& repl = arg(a, 1, "new", kUndef);
  const int64_t count = int_arg(a, 2, "count", -1);
  return str_value(replace(ev, soft_str(v), soft_str(old), soft_str(repl), count));
}

value f_reverse(evaluator& ev, const value& v, call_args&) {
  if (v.is_string()) {
    const pstr& s = v.str();
    const auto off = char_offsets(s.text());
    pstr out;
    for (size_t i = off.size() - 1; i-- > 0;) out.append(s, off[i], off[i + 1]);
    return str_value(std::move(out));
  }
  const bool from_generator = v.k == kind::list && v.lst().generator;
  std::vector<value> items = ev.iterate(v);
  std::reverse(items.begin(), items.end());
  // reversed() of a sequence is an iterator; a generator is not reversible, so Jinja2 lists it.
  return from_generator ? value::list(std::move(items)) : generator(std::move(items));
}

value f_round(evaluator&, const value& v, call_args& a) {
  const int64_t precision = int_arg(a, 0, "precision", 0);
  const value& method = arg(a, 1, "method", value::string("common", false));
  if (!v.is_number()) type_error("round: expected a number, got " + type_name(v));
  if (v.k != kind::floating && method.is_string() && method.text() == "common") {
    // Python's round(int, n) is an int: unchanged for n >= 0, else to 10**-n, ties to even.
    int64_t x = v.as_int();
    if (precision >= 0) return value::integer(x, v.data);
    if (precision < -18) return value::integer(0, v.data);
    int64_t scale = 1;
    for (int64_t i = 0; i < -precision; ++i) scale *= 10;
    int64_t q = x / scale, r = x % scale;
    if (r < 0) {
      r += scale;
      --q;
    }
    if (2 * r > scale || (2 * r == scale && (q & 1))) ++q;
    int64_t out;
    if (__builtin_mul_overflow(q, scale, &out)) type_error("integer overflow");
    return value::integer(out, v.data);
  }
  const double x = v.as_float();
  const std::string m = method.is_string() ? method.text() : "";
  double r;
  if (m == "common") {
    r = round_half_even(x, precision);
  } else if (m == "floor" || m == "ceil") {
    const double scale = std::pow(10.0, static_cast<double>(precision));
    r = (m == "floor" ? std::floor(x * scale) : std::ceil(x * scale)) / scale;
  } else {
    type_error("method must be common, ceil or floor");
  }
  return value::floating(r, v.data);
}

value f_safe(evaluator&, const value& v, call_args&) { return as_markup(v.is_string() ? v : value::string(soft_str(v))); }
value f_string(evaluator&, const value& v, call_args&) { return v.is_string() ? v : value::string(soft_str(v)); }

value f_sum(evaluator& ev, const value& v, call_args& a) {
  const value* attribute = a.get(0, "attribute");
  value total = arg(a, 1, "start", kZero);
  for (const value& it : ev.iterate(v)) {
    total = binary_op(ev, "+", total, attribute && !attribute->is_none() ? get_path(ev, it, *attribute) : it);
  }
  return total;
}

value f_trim(evaluator&, const value& v, call_args& a) {
  const value* chars = a.get(0, "chars");
  return str_value(strip(soft_str(v), chars, true, true));
}

value f_truncate(evaluator&, const value& v, call_args& a) {
  if (!v.is_string()) {
    // Jinja2 measures the value itself: len() of a list or dict, an error for other types.
    if (static_cast<int64_t>(py_len(v)) <= int_arg(a, 0, "length", 255) + int_arg(a, 3, "leeway", 5)) return v;
  }
  const pstr s = soft_str(v);
  const int64_t length = int_arg(a, 0, "length", 255);
  const bool killwords = bool_arg(a, 1, "killwords", false);
  const value& end_v = arg(a, 2, "end", value::string("...", false));
  const int64_t leeway = int_arg(a, 3, "leeway", 5);
  const pstr end = soft_str(end_v);
  const auto off = char_offsets(s.text());
  const int64_t n = static_cast<int64_t>(off.size()) - 1;
  const int64_t end_n = static_cast<int64_t>(char_count(end.text()));
  if (n <= length + leeway) return v.is_string() ? v : str_value(s);
  const int64_t cut = std::clamp<int64_t>(length - end_n, 0, n);
  pstr head = s.substr(0, off[static_cast<size_t>(cut)]);
  if (!killwords) {
    const size_t sp = head.text().rfind(' ');
    if (sp != std::string::npos) head = head.substr(0, sp);
  }
  head.append(end);
  return str_value(std::move(head));
}

value f_unique(evaluator& ev, const value& v, call_args& a) {
  const bool cs = bool_arg(a, 0, "case_sensitive", false);
  const value* attribute = a.get(1, "attribute");
  std::vector<value> seen, out;
  for (const value& it : ev.iterate(v)) {
    const value key = sort_key(attribute && !attribute->is_none() ? get_path(ev, it, *attribute) : it, cs);
    bool dup = false;
    for (const auto& s : seen) dup = dup || py_equal(s, key);
    if (dup) continue;
    seen.push_back(key);
    out.push_back(it);
  }
  return generator(std::move(out));
}

value minmax(evaluator& ev, const value& v, call_args& a, bool want_max) {
  const bool cs = bool_arg(a, 0, "case_sensitive", false);
  const value* attribute = a.get(1, "attribute");
  std::vector<value> items = ev.iterate(v);
  if (items.empty()) return value::undefined(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  auto key = [&](size_t i) { return sort_key(attribute && !attribute->is_none() ? get_path(ev, items[i], *attribute) : items[i], cs); };
  for (size_t i = 1; i < items.size(); ++i) {
    const int c = py_compare(key(i), key(best), want_max ? ">" : "<");
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}
value f_max(evaluator& ev, const value& v, call_args& a) { return minmax(ev, v, a, true); }
value f_min(evaluator& ev, const value& v, call_args& a) { return minmax(ev, v, a, false); }

value f_sort(evaluator& ev, const value& v, call_args& a) {
  const bool reverse = bool_arg(a, 0, "reverse", false);
  const bool cs = bool_arg(a, 1, "case_sensitive", false);
  const value* attribute = a.get(2, "attribute");
  return value::list(sorted(ev, ev.iterate(v), reverse, cs, attribute));
}

value f_wordcount(evaluator&, const value& v, call_args&) {
  const std::string t = soft_str(v).text();
  int64_t n = 0;
  bool in_word = false;
  for (size_t i = 0; i < t.size();) {
    size_t len = 1;
    const uint32_t cp = utf8_at(t, i, len);
    const bool w = is_alpha(cp) || is_digit(cp) || cp == '_' || cp >= 0x80;
    if (w && !in_word) ++n;
    in_word = w;
    i += len;
  }
  return value::integer(n);
}

value f_format(evaluator& ev, const value& v, call_args& a) {
  if (!a.kw.empty()) {
    auto d = std::make_shared<dict_data>();
    for (const auto& [k, x] : a.kw) d->set(value::string(k, false), x);
    return str_value(percent_format(ev, soft_str(v), value::dict(d)));
  }
  return str_value(percent_format(ev, soft_str(v), value::list(a.pos, true)));
}

value f_tojson(evaluator& ev, const value& v, call_args& a) {
  // transformers: json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)
  json_format f;
  f.ensure_ascii = bool_arg(a, 0, "ensure_ascii", false);
  const value* indent = a.get(1, "indent");
  if (indent && !indent->is_none()) {
    f.has_indent = true;
    if (indent->is_string()) {
      f.indent = indent->text();
    } else if (indent->k == kind::integer || indent->k == kind::boolean) {
      const int64_t n = std::clamp<int64_t>(indent->as_int(), 0, 64);
      f.indent = std::string(static_cast<size_t>(n), ' ');
    } else {
      type_error("tojson: indent must be an integer or a string");
    }
    f.item_sep = ",";
  }
  if (const value* seps = a.get(2, "separators"); seps && !seps->is_none()) {
    if (seps->k != kind::list || seps->lst().items.size() != 2 || !seps->lst().items[0].is_string() ||
        !seps->lst().items[1].is_string()) {
      type_error("tojson: separators must be a pair of strings");
    }
    f.item_sep = seps->lst().items[0].text();
    f.key_sep = seps->lst().items[1].text();
  }
  f.sort_keys = bool_arg(a, 3, "sort_keys", false);
  std::string out = json_dumps(v, f);
  ev.check_string_size(out.size());
  return value::string(std::move(out), contains_data(v));
}

value f_batch(evaluator& ev, const value& v, call_args& a) {
  const int64_t n = int_arg(a, 0, "linecount", 1);
  if (n <= 0) type_error("batch: linecount must be positive");
  const value* fill = a.get(1, "fill_with");
  std::vector<value> out, cur;
  for (const value& it : ev.iterate(v)) {
    cur.push_back(it);
    if (static_cast<int64_t>(cur.size()) == n) {
      out.push_back(value::list(std::move(cur)));
      cur.clear();
    }
  }
  if (!cur.empty()) {
    while (fill && !fill->is_none() && static_cast<int64_t>(cur.size()) < n) cur.push_back(*fill);
    out.push_back(value::list(std::move(cur)));
  }
  return generator(std::move(out));
}

value f_groupby(evaluator& ev, const value& v, call_args& a) {
  const value& attribute = arg(a, 0, "attribute", kUndef);
  const value* dflt = a.get(1, "default");
  const bool cs = bool_arg(a, 2, "case_sensitive", false);
  std::vector<value> items = ev.iterate(v);
  std::vector<value> keys;
  for (const auto& it : items) {
    value k = get_path(ev, it, attribute);
    if (k.is_undefined() && dflt) k = *dflt;
    keys.push_back(k);
  }
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return py_compare(sort_key(keys[x], cs), sort_key(keys[y], cs), "<") < 0;
  });
  std::vector<value> groups;
  for (size_t n = 0; n < order.size();) {
    const value key = sort_key(keys[order[n]], cs);
    std::vector<value> members;
    size_t m = n;
    while (m < order.size() && py_equal(sort_key(keys[order[m]], cs), key)) members.push_back(items[order[m++]]);
    groups.push_back(value::list({keys[order[n]], value::list(std::move(members))}, true));
    n = m;
  }
  return value::list(std::move(groups));
}

value f_pprint(evaluator&, const value& v, call_args&) { return value::string(py_repr(v), contains_data(v)); }

value f_center(evaluator&, const value& v, call_args& a) {
  const pstr s = soft_str(v);
  const int64_t width = std::min<int64_t>(int_arg(a, 0, "width", 80), 1 << 16);
  const int64_t n = static_cast<int64_t>(char_count(s.text()));
  if (n >= width) return str_value(s);
  const int64_t total = width - n;
  const int64_t left = total / 2 + (total & width & 1);
  pstr out(std::string(static_cast<size_t>(left), ' '), false);
  out.append(s);
  out.append(std::string(static_cast<size_t>(total - left), ' '), false);
  return str_value(std::move(out));
}

value lazy_items(evaluator& ev, const value& v, call_args& a) { return lazily([&] { return f_items(ev, v, a); }); }
value lazy_map(evaluator& ev, const value& v, call_args& a) { return lazily([&] { return f_map(ev, v, a); }); }
value lazy_select(evaluator& ev, const value& v, call_args& a) { return lazily([&] { return f_select(ev, v, a); }); }
value lazy_reject(evaluator& ev, const value& v, call_args& a) { return lazily([&] { return f_reject(ev, v, a); }); }
value lazy_selectattr(evaluator& ev, const value& v, call_args& a) {
  return lazily([&] { return f_selectattr(ev, v, a); });
}
value lazy_rejectattr(evaluator& ev, const value& v, call_args& a) {
  return lazily([&] { return f_rejectattr(ev, v, a); });
}
value lazy_unique(evaluator& ev, const value& v, call_args& a) { return lazily([&] { return f_unique(ev, v, a); }); }
value lazy_batch(evaluator& ev, const value& v, call_args& a) { return lazily([&] { return f_batch(ev, v, a); }); }

const std::unordered_map<std::string, filter_fn>& filters() {
  static const std::unordered_map<std::string, filter_fn> table = {
      {"abs", f_abs},         {"attr", f_attr},           {"batch", lazy_batch},       {"capitalize", f_capitalize},
      {"center", f_center},   {"count", f_length},        {"d", f_default},         {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape},          {"escape", f_escape},     {"forceescape", f_forceescape},
      {"first", f_first},     {"float", f_float},         {"format", f_format},     {"groupby", f_groupby},
      {"indent", f_indent},   {"int", f_int},             {"items", lazy_items},       {"join", f_join},
      {"last", f_last},       {"length", f_length},       {"list", f_list},         {"lower", f_lower},
      {"map", lazy_map},         {"max", f_max},             {"min", f_min},           {"pprint", f_pprint},
      {"reject", lazy_reject},   {"rejectattr", lazy_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse},
      {"round", f_round},     {"safe", f_safe},           {"select", lazy_select},     {"selectattr", lazy_selectattr},
      {"sort", f_sort},       {"string", f_string},       {"sum", f_sum},           {"title", f_title},
      {"tojson", f_tojson},   {"trim", f_trim},           {"truncate", f_truncate}, {"unique", lazy_unique},
      {"upper", f_upper},     {"wordcount", f_wordcount},
  };
  return table;
}

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
      {"boolean", t_boolean}, {"callable", t_callable}, {"defined", t_defined}, {"divisibleby", t_divisibleby},
      {"eq", t_eq},           {"==", t_eq},             {"equalto", t_eq},      {"escaped", t_escaped},
      {"even", t_even},       {"false", t_false},       {"filter", t_filter},   {"float", t_float},
      {"ge", t_ge},           {">=", t_ge},             {"gt", t_gt},           {">", t_gt},
      {"greaterthan", t_gt},  {"in", t_in},             {"integer", t_integer}, {"iterable", t_iterable},
      {"le", t_le},           {"<=", t_le},             {"lower", t_lower},     {"lt", t_lt},
      {"<", t_lt},            {"lessthan", t_lt},       {"mapping", t_mapping}, {"ne", t_ne},
      {"!=", t_ne},           {"none", t_none},         {"number", t_number},   {"odd", t_odd},
      {"sameas", t_sameas},   {"sequence", t_sequence}, {"string", t_string},   {"test", t_test},
      {"true", t_true},       {"undefined", t_undefined}, {"upper", t_upper},
  };
  return table;
}

// ---- globals

value g_range(evaluator& ev, call_args& a) {
  if (!a.kw.empty()) type_error("range() takes no keyword arguments");
  std::vector<int64_t> n;
  for (const value& v : a.pos) {
    if (v.k != kind::integer && v.k != kind::boolean) type_error("'" + type_name(v) + "' object cannot be interpreted as an integer");
    n.push_back(v.as_int());
  }
  int64_t start = 0, stop = 0, step = 1;
  if (n.size() == 1) {
    stop = n[0];
  } else if (n.size() == 2 || n.size() == 3) {
    start = n[0];
    stop = n[1];
    if (n.size() == 3) step = n[2];
  } else {
    type_error("range expected 1 to 3 arguments, got " + std::to_string(n.size()));
  }
  if (step == 0) type_error("range() arg 3 must not be zero");
  const long double count_ld = step > 0 ? (static_cast<long double>(stop) - start + step - 1) / step
                                        : (static_cast<long double>(start) - stop - step - 1) / -step;
  const int64_t count = count_ld > 0 ? static_cast<int64_t>(count_ld) : 0;
  if (count > 100000) type_error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  std::vector<value> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    ev.step();
    out.push_back(value::integer(start + i * step));
  }
  return value::list(std::move(out));
}

value g_namespace(evaluator& ev, call_args& a) {
  auto d = std::make_shared<dict_data>();
  ev.track(d);
  for (const value& p : a.pos) {
    if (p.k != kind::dict) type_error("namespace() takes a mapping and keyword arguments");
    for (const auto& [k, v] : p.dct().items) d->set(k, v);
  }
  for (const auto& [k, v] : a.kw) d->set(value::string(k, false), v);
  return value::make_namespace(std::move(d));
}

value g_dict(evaluator&, call_args& a) {
  auto d = std::make_shared<dict_data>();
  for (const value& p : a.pos) {
    if (p.k != kind::dict) type_error("dict() takes a mapping and keyword arguments");
    for (const auto& [k, v] : p.dct().items) d->set(k, v);
  }
  for (const auto& [k, v] : a.kw) d->set(value::string(k, false), v);
  return value::dict(std::move(d));
}

value g_raise_exception(evaluator&, call_args& a) {
  const value* m = a.get(0, "message");
  fail("jinja: the template raised an error: " + (m ? py_str(*m).text() : std::string()));
}

value g_strftime_now(evaluator& ev, call_args& a) {
  const value* f = a.get(0, "format");
  if (!f || !f->is_string()) type_error("strftime_now(format) needs a format string");
  const std::time_t t = ev.options().now_unix ? static_cast<std::time_t>(*ev.options().now_unix) : std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  if (f->text().size() > 256) type_error("strftime_now: format too long");
  char buf[2048];
  const size_t n = f->text().empty() ? 0 : std::strftime(buf, sizeof buf, f->text().c_str(), &tm);
  return value::string(std::string(buf, n), false);
}

value g_joiner(evaluator&, call_args& a) {
  const value sep = a.get(0, "sep") ? *a.get(0, "sep") : value::string(", ", false);
  auto used = std::make_shared<bool>(false);
  return make_bound("joiner", [sep, used](evaluator&, call_args&) {
    if (!*used) {
      *used = true;
      return value::string("", false);
    }
    return sep;
  });
}

value make_global(const char* name, value (*fn)(evaluator&, call_args&)) { return make_bound(name, fn); }

// ---- methods

value str_method(evaluator& ev, const value& obj, const std::string& name, bool& found) {
  found = true;
  const auto self = obj;
  using A = call_args;
  auto bind = [&](auto fn) { return make_bound("str." + name, [self, fn](evaluator& e, A& a) { return fn(e, self.str(), a); }); };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool l = name != "rstrip", r = name != "lstrip";
    return bind([l, r](evaluator&, const pstr& s, A& a) { return str_value(strip(s, a.get(0, "chars"), l, r)); });
  }
  if (name == "split" || name == "rsplit") {
    const bool right = name == "rsplit";
    return bind([right](evaluator&, const pstr& s, A& a) {
      const value* sep = a.get(0, "sep");
      const int64_t maxsplit = int_arg(a, 1, "maxsplit", -1);
      return value::list(right ? rsplit(s, sep, maxsplit) : split(s, sep, maxsplit));
    });
  }
  if (name == "splitlines") {
    return bind([](evaluator&, const pstr& s, A&) {
      std::vector<value> out;
      for (auto& l : splitlines(s)) out.push_back(str_value(std::move(l)));
      return value::list(std::move(out));
    });
  }
  if (name == "startswith" || name == "endswith") {
    const bool starts = name == "startswith";
    return bind([starts](evaluator&, const pstr& s, A& a) {
      const value& p = arg(a, 0, "prefix", kUndef);
      std::vector<value> options = p.k == kind::list && p.lst().tuple ? p.lst().items : std::vector<value>{p};
      const std::string& t = s.text();
      for (const value& o : options) {
        if (!o.is_string()) type_error(std::string(starts ? "startswith" : "endswith") + " first arg must be str or a tuple of str, not " + type_name(o));
        const std::string& x = o.text();
        if (starts ? t.starts_with(x) : t.ends_with(x)) return value::boolean(true);
      }
      return value::boolean(false);
    });
  }
  if (name == "replace") {
    return bind([](evaluator& e, const pstr& s, A& a) {
      const value& old = arg(a, 0, "old", kUndef);
      const value& repl = arg(a, 1, "new", kUndef);
      if (!old.is_string() || !repl.is_string()) type_error("replace() arguments must be str");
      return str_value(replace(e, s, old.str(), repl.str(), int_arg(a, 2, "count", -1)));
    });
  }
  if (name == "upper") return bind([](evaluator&, const pstr& s, A&) { return str_value(upper(s)); });
  if (name == "lower") return bind([](evaluator&, const pstr& s, A&) { return str_value(lower(s)); });
  if (name == "title") return bind([](evaluator&, const pstr& s, A&) { return str_value(py_title(s)); });
  if (name == "capitalize") return bind([](evaluator&, const pstr& s, A&) { return str_value(capitalize(s)); });
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    const std::string m = name;
    return bind([m](evaluator&, const pstr& s, A& a) {
      const value& sub = arg(a, 0, "sub", kUndef);
      if (!sub.is_string()) type_error("must be str, not " + type_name(sub));
      const std::string& t = s.text();
      const std::string& x = sub.text();
      auto to_chars = [&](size_t byte) { return static_cast<int64_t>(char_count(std::string_view(t).substr(0, byte))); };
      if (m == "count") {
        if (x.empty()) return value::integer(static_cast<int64_t>(char_count(t)) + 1);
        int64_t n = 0;
        for (size_t p = t.find(x); p != std::string::npos; p = t.find(x, p + x.size())) ++n;
        return value::integer(n);
      }
      const size_t p = (m == "find" || m == "index") ? t.find(x) : t.rfind(x);
      if (p == std::string::npos) {
        if (m == "index" || m == "rindex") type_error("substring not found");
        return value::integer(-1);
      }
      return value::integer(to_chars(p));
    });
  }
  if (name == "join") {
    return bind([](evaluator& e, const pstr& s, A& a) {
      pstr out;
      bool first = true;
      for (const value& it : e.iterate(arg(a, 0, "iterable", kUndef))) {
        if (!it.is_string()) type_error("sequence item: expected str instance, " + type_name(it) + " found");
        if (!first) out.append(s);
        first = false;
        out.append(it.str());
        e.check_string_size(out.size());
      }
      return str_value(std::move(out));
    });
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const bool pre = name == "removeprefix";
    return bind([pre](evaluator&, const pstr& s, A& a) {
      const value& x = arg(a, 0, "prefix", kUndef);
      if (!x.is_string()) type_error("must be str, not " + type_name(x));
      const std::string& t = s.text();
      if (pre && t.starts_with(x.text())) return str_value(s.substr(x.text().size(), t.size()));
      if (!pre && !x.text().empty() && t.ends_with(x.text())) return str_value(s.substr(0, t.size() - x.text().size()));
      return str_value(s);
    });
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "isupper" ||
      name == "islower" || name == "isnumeric" || name == "isdecimal") {
    const std::string m = name;
    return bind([m](evaluator&, const pstr& s, A&) {
      const std::string& t = s.text();
      if (t.empty()) return value::boolean(false);
      if (m == "isupper" || m == "islower") {
        bool cased = false;
        for (size_t i = 0; i < t.size();) {
          size_t len = 1;
          const uint32_t cp = utf8_at(t, i, len);
          i += len;
          if (!is_cased_letter(cp)) continue;
          cased = true;
          if (m == "isupper" ? to_upper(cp) != cp : to_lower(cp) != cp) return value::boolean(false);
        }
        return value::boolean(cased);
      }
      for (size_t i = 0; i < t.size();) {
        size_t len = 1;
        const uint32_t cp = utf8_at(t, i, len);
        i += len;
        const bool ok = m == "isspace" ? py_isspace(cp)
                        : m == "isalpha" ? is_alpha(cp)
                        : m == "isalnum" ? is_alpha(cp) || is_digit(cp)
                                         : is_digit(cp);
        if (!ok) return value::boolean(false);
      }
      return value::boolean(true);
    });
  }
  if (name == "format") {
    return bind([](evaluator&, const pstr&, A&) -> value { type_error("str.format() is not supported in chat templates"); });
  }
  (void)ev;
  found = false;
  return value::undefined();
}

value dict_method(const value& obj, const std::string& name, bool& found) {
  found = true;
  const auto self = obj;
  if (name == "items" || name == "keys" || name == "values") {
    const int which = name == "items" ? 0 : name == "keys" ? 1 : 2;
    return make_bound("dict." + name, [self, which](evaluator&, call_args&) {
      std::vector<value> out;
      for (const auto& [k, v] : self.dct().items) {
        out.push_back(which == 0 ? value::list({k, v}, true) : which == 1 ? k : v);
      }
      value view = value::list(std::move(out));
      view.lst().view = which == 0 ? "dict_items" : which == 1 ? "dict_keys" : "dict_values";
      return view;
    });
  }
  if (name == "get") {
    return make_bound("dict.get", [self](evaluator&, call_args& a) {
      const value& key = arg(a, 0, "key", kUndef);
      if (const value* v = self.dct().find(key)) return *v;
      return arg(a, 1, "default", kNone);
    });
  }
  if (name == "copy") {
    return make_bound("dict.copy", [self](evaluator&, call_args&) {
      return value::dict(std::make_shared<dict_data>(self.dct()));
    });
  }
  if (name == "pop" || name == "popitem" || name == "setdefault" || name == "update" || name == "clear") {
    return value::undefined("access to attribute '" + name + "' of 'dict' object is unsafe.");
  }
  found = false;
  return value::undefined();
}

value list_method(const value& obj, const std::string& name, bool& found) {
  found = false;
  if (obj.lst().generator) return value::undefined();  // generators have no list methods
  found = true;
  const auto self = obj;
  if (name == "index" || name == "count") {
    const bool is_index = name == "index";
    return make_bound("list." + name, [self, is_index](evaluator&, call_args& a) {
      const value& x = arg(a, 0, "value", kUndef);
      int64_t n = 0;
      const auto& items = self.lst().items;
      for (size_t i = 0; i < items.size(); ++i) {
        if (!py_equal(items[i], x)) continue;
        if (is_index) return value::integer(static_cast<int64_t>(i));
        ++n;
      }
      if (is_index) type_error(py_repr(x) + " is not in list");
      return value::integer(n);
    });
  }
  if (name == "copy" && !obj.lst().tuple) {
    return make_bound("list.copy", [self](evaluator&, call_args&) { return value::list(self.lst().items); });
  }
  if (!obj.lst().tuple && (name == "append" || name == "extend" || name == "insert" || name == "pop" ||
                           name == "remove" || name == "reverse" || name == "sort" || name == "clear")) {
    return value::undefined("access to attribute '" + name + "' of 'list' object is unsafe.");
  }
  found = false;
  return value::undefined();
}

}  // namespace

bool has_filter(const std::string& name) { return filters().count(name) != 0; }
bool has_test(const std::string& name) { return tests().count(name) != 0; }

value run_filter(evaluator& ev, const std::string& name, const value& operand, call_args& args) {
  return filters().at(name)(ev, operand, args);
}

bool run_test(evaluator& ev, const std::string& name, const value& operand, call_args& args) {
  return tests().at(name)(ev, operand, args);
}

value method(evaluator& ev, const value& obj, const std::string& name, bool& found) {
  found = false;
  switch (obj.k) {
    case kind::string: return str_method(ev, obj, name, found);
    case kind::dict: return dict_method(obj, name, found);
    case kind::list: return list_method(obj, name, found);
    case kind::loop: {
      found = true;
      const auto self = obj;
      if (name == "cycle") {
        return make_bound("loop.cycle", [self](evaluator&, call_args& a) {
          if (a.pos.empty()) type_error("no items for cycling given");
          return a.pos[static_cast<size_t>(self.loop().index0) % a.pos.size()];
        });
      }
      return make_bound("loop.changed", [self](evaluator&, call_args& a) {
        const value cur = value::list(a.pos, true);
        loop_data& l = self.loop();
        const bool changed = !l.changed_called || !py_equal(l.last_changed, cur);
        l.changed_called = true;
        l.last_changed = cur;
        return value::boolean(changed);
      });
    }
    default: return value::undefined();
  }
}

const value* global(const std::string& name) {
  static const std::map<std::string, value> table = {
      {"range", make_global("range", g_range)},
      {"namespace", make_global("namespace", g_namespace)},
      {"dict", make_global("dict", g_dict)},
      {"raise_exception", make_global("raise_exception", g_raise_exception)},
      {"strftime_now", make_global("strftime_now", g_strftime_now)},
      {"joiner", make_global("joiner", g_joiner)},
  };
  const auto it = table.find(name);
  return it == table.end() ? nullptr : &it->second;
}

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
    if ((a.is_string() || a.is_list()) && (b.k == kind::integer || b.k == kind::boolean)) return repeat(ev, a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.k == kind::integer || a.k == kind::boolean)) return repeat(ev, b, a.as_int());
    if (a.is_string() || b.is_string()) type_error("can't multiply sequence by non-int of type '" + type_name(a.is_string() ? b : a) + "'");
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
