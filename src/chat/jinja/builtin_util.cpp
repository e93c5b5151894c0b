// Helpers the builtins share (builtin_util.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <unordered_map>

#include "chat/jinja/builtin_util.h"

namespace pocketlm::chat::jinja::detail {

[[noreturn]] void type_error(const std::string& what) { fail("jinja: " + what); }

// By value: callers pass temporaries as the fallback.
value arg(const call_args& a, size_t i, std::string_view name, const value& fallback) {
  const value* v = a.get(i, name);
  return v ? *v : fallback;
}

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
pstr lower(const pstr& s) {
  return map_chars(s, [](uint32_t c, size_t, bool) { return to_lower(c); });
}
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
    out.push_back(
        str_value(s.substr(lstrip_len(t, {}, true), rstrip_keep(std::string_view(t).substr(0, pos), {}, true))));
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
    cur = numeric && part.size() < 18 ? ev.getitem(cur, value::integer(std::stoll(part)))
                                      : ev.getitem(cur, value::string(part));
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
        if (!v->is_number())
          type_error("%" + std::string(1, conv) + " format: a real number is required, not " + type_name(*v));
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

pstr html_escape(const pstr& s) {
  pstr out;
  const std::string& t = s.text();
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const char* rep = c == '&'    ? "&amp;"
                      : c == '<'  ? "&lt;"
                      : c == '>'  ? "&gt;"
                      : c == '"'  ? "&#34;"
                      : c == '\'' ? "&#39;"
                                  : nullptr;
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

}  // namespace pocketlm::chat::jinja::detail
