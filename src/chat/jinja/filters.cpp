// Jinja2 3.1's filters (jinja2/filters.py), tojson as transformers installs it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <unordered_map>

#include "chat/jinja/builtin_util.h"

namespace pocketlm::chat::jinja::detail {
namespace {

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

value f_safe(evaluator&, const value& v, call_args&) {
  return as_markup(v.is_string() ? v : value::string(soft_str(v)));
}
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
  auto key = [&](size_t i) {
    return sort_key(attribute && !attribute->is_none() ? get_path(ev, items[i], *attribute) : items[i], cs);
  };
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

value lazy_items(evaluator& ev, const value& v, call_args& a) {
  return lazily([&] { return f_items(ev, v, a); });
}
value lazy_map(evaluator& ev, const value& v, call_args& a) {
  return lazily([&] { return f_map(ev, v, a); });
}
value lazy_select(evaluator& ev, const value& v, call_args& a) {
  return lazily([&] { return f_select(ev, v, a); });
}
value lazy_reject(evaluator& ev, const value& v, call_args& a) {
  return lazily([&] { return f_reject(ev, v, a); });
}
value lazy_selectattr(evaluator& ev, const value& v, call_args& a) {
  return lazily([&] { return f_selectattr(ev, v, a); });
}
value lazy_rejectattr(evaluator& ev, const value& v, call_args& a) {
  return lazily([&] { return f_rejectattr(ev, v, a); });
}
value lazy_unique(evaluator& ev, const value& v, call_args& a) {
  return lazily([&] { return f_unique(ev, v, a); });
}
value lazy_batch(evaluator& ev, const value& v, call_args& a) {
  return lazily([&] { return f_batch(ev, v, a); });
}

const std::unordered_map<std::string, filter_fn>& filters() {
  static const std::unordered_map<std::string, filter_fn> table = {
      {"abs", f_abs},           {"attr", f_attr},
      {"batch", lazy_batch},    {"capitalize", f_capitalize},
      {"center", f_center},     {"count", f_length},
      {"d", f_default},         {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape},
      {"escape", f_escape},     {"forceescape", f_forceescape},
      {"first", f_first},       {"float", f_float},
      {"format", f_format},     {"groupby", f_groupby},
      {"indent", f_indent},     {"int", f_int},
      {"items", lazy_items},    {"join", f_join},
      {"last", f_last},         {"length", f_length},
      {"list", f_list},         {"lower", f_lower},
      {"map", lazy_map},        {"max", f_max},
      {"min", f_min},           {"pprint", f_pprint},
      {"reject", lazy_reject},  {"rejectattr", lazy_rejectattr},
      {"replace", f_replace},   {"reverse", f_reverse},
      {"round", f_round},       {"safe", f_safe},
      {"select", lazy_select},  {"selectattr", lazy_selectattr},
      {"sort", f_sort},         {"string", f_string},
      {"sum", f_sum},           {"title", f_title},
      {"tojson", f_tojson},     {"trim", f_trim},
      {"truncate", f_truncate}, {"unique", lazy_unique},
      {"upper", f_upper},       {"wordcount", f_wordcount},
  };
  return table;
}

}  // namespace

bool has_filter(const std::string& name) { return filters().count(name) != 0; }

value run_filter(evaluator& ev, const std::string& name, const value& operand, call_args& args) {
  return filters().at(name)(ev, operand, args);
}

}  // namespace pocketlm::chat::jinja::detail
