// Globals (range, namespace, dict, raise_exception, strftime_now, joiner) and the methods of
// str, dict, list and loop values, as Python and Jinja2 define them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <unordered_map>

#include "chat/jinja/builtin_util.h"

namespace pocketlm::chat::jinja::detail {
namespace {

// ---- globals

value g_range(evaluator& ev, call_args& a) {
  if (!a.kw.empty()) type_error("range() takes no keyword arguments");
  std::vector<int64_t> n;
  for (const value& v : a.pos) {
    if (v.k != kind::integer && v.k != kind::boolean)
      type_error("'" + type_name(v) + "' object cannot be interpreted as an integer");
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

}  // namespace

// ---- methods

value str_method(evaluator& ev, const value& obj, const std::string& name, bool& found) {
  found = true;
  const auto self = obj;
  using A = call_args;
  auto bind = [&](auto fn) {
    return make_bound("str." + name, [self, fn](evaluator& e, A& a) { return fn(e, self.str(), a); });
  };
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
        if (!o.is_string())
          type_error(std::string(starts ? "startswith" : "endswith") +
                     " first arg must be str or a tuple of str, not " + type_name(o));
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
      auto to_chars = [&](size_t byte) {
        return static_cast<int64_t>(char_count(std::string_view(t).substr(0, byte)));
      };
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
        const bool ok = m == "isspace"   ? py_isspace(cp)
                        : m == "isalpha" ? is_alpha(cp)
                        : m == "isalnum" ? is_alpha(cp) || is_digit(cp)
                                         : is_digit(cp);
        if (!ok) return value::boolean(false);
      }
      return value::boolean(true);
    });
  }
  if (name == "format") {
    return bind([](evaluator& e, const pstr& s, A& a) { return str_value(py_format(e, s, a)); });
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
    return make_bound("dict.copy",
                      [self](evaluator&, call_args&) { return value::dict(std::make_shared<dict_data>(self.dct())); });
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

}  // namespace pocketlm::chat::jinja::detail
