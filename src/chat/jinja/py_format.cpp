// Python's str.format() (the format-spec mini-language for str, int, float and bool; field names
// with .attribute and [index]); Jinja2's sandbox allows it on strings.
#include <cmath>
#include <cstdio>

#include "chat/jinja/builtin_util.h"

namespace pocketlm::chat::jinja::detail {
namespace {

struct spec_t {
  std::string fill = " ";
  char align = 0;  // < > ^ =
  char sign = '-';
  bool alt = false;
  bool zero = false;
  size_t width = 0;
  char grouping = 0;
  int precision = -1;
  char type = 0;
};

spec_t parse_spec(const std::string& s) {
  spec_t sp;
  size_t i = 0;
  const auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  size_t first_len = 1;
  if (!s.empty()) utf8_at(s, 0, first_len);
  if (s.size() > first_len && is_align(s[first_len])) {
    sp.fill = s.substr(0, first_len);
    sp.align = s[first_len];
    i = first_len + 1;
  } else if (!s.empty() && is_align(s[0])) {
    sp.align = s[0];
    i = 1;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) sp.sign = s[i++];
  if (i < s.size() && s[i] == '#') sp.alt = true, ++i;
  if (i < s.size() && s[i] == '0') sp.zero = true, ++i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    sp.width = sp.width * 10 + static_cast<size_t>(s[i++] - '0');
    if (sp.width > 4096) type_error("format width too large");
  }
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) sp.grouping = s[i++];
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || s[i] < '0' || s[i] > '9') type_error("Format specifier missing precision");
    sp.precision = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      sp.precision = sp.precision * 10 + (s[i++] - '0');
      if (sp.precision > 300) type_error("format precision too large");
    }
  }
  if (i < s.size()) sp.type = s[i++];
  if (i != s.size()) type_error("Invalid format specifier '" + s + "'");
  return sp;
}

std::string group(std::string digits, char sep) {
  if (!sep) return digits;
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out += sep;
    out += digits[i];
  }
  return out;
}

// Pads `body` (with an optional sign/prefix kept in front for '=') to the spec's width.
std::string pad(const spec_t& sp, const std::string& prefix, const std::string& body, char default_align) {
  const std::string all = prefix + body;
  const size_t n = char_count(all);
  if (n >= sp.width) return all;
  const size_t gap = sp.width - n;
  char align = sp.align ? sp.align : (sp.zero ? '=' : default_align);
  const std::string fill = sp.align ? sp.fill : (sp.zero ? "0" : sp.fill);
  auto rep = [&](size_t k) {
    std::string s;
    for (size_t i = 0; i < k; ++i) s += fill;
    return s;
  };
  switch (align) {
    case '<': return all + rep(gap);
    case '^': return rep(gap / 2) + all + rep(gap - gap / 2);
    case '=': return prefix + rep(gap) + body;
    default: return rep(gap) + all;
  }
}

std::string format_int(int64_t v, const spec_t& sp) {
  const bool neg = v < 0;
  const uint64_t mag = neg ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  std::string digits, prefix;
  char buf[80];
  switch (sp.type) {
    case 0:
    case 'd':
    case 'n': std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(mag)); break;
    case 'x':
    case 'X':
      std::snprintf(buf, sizeof buf, sp.type == 'x' ? "%llx" : "%llX", static_cast<unsigned long long>(mag));
      break;
    case 'o': std::snprintf(buf, sizeof buf, "%llo", static_cast<unsigned long long>(mag)); break;
    case 'b': {
      std::string b;
      for (uint64_t m = mag; m; m >>= 1) b.insert(b.begin(), static_cast<char>('0' + (m & 1)));
      std::snprintf(buf, sizeof buf, "%s", b.empty() ? "0" : b.c_str());
      break;
    }
    case 'c': {
      std::string c;
      utf8_append(c, static_cast<uint32_t>(mag));
      return pad(sp, "", c, '<');
    }
    default: type_error(std::string("Unknown format code '") + sp.type + "' for object of type 'int'");
  }
  digits = group(buf, sp.grouping);
  if (neg)
    prefix = "-";
  else if (sp.sign == '+')
    prefix = "+";
  else if (sp.sign == ' ')
    prefix = " ";
  if (sp.alt && (sp.type == 'x' || sp.type == 'X' || sp.type == 'o' || sp.type == 'b')) {
    prefix += std::string("0") + (sp.type == 'X' ? 'X' : sp.type);
  }
  return pad(sp, prefix, digits, '>');
}

std::string format_float(double v, const spec_t& sp) {
  if (sp.type == 0 && sp.precision < 0) {
    std::string r = float_repr(v);
    std::string prefix;
    if (r[0] == '-') {
      prefix = "-";
      r.erase(0, 1);
    } else if (sp.sign == '+') {
      prefix = "+";
    } else if (sp.sign == ' ') {
      prefix = " ";
    }
    return pad(sp, prefix, r, '>');
  }
  char type = sp.type ? sp.type : 'g';
  if (type != 'f' && type != 'F' && type != 'e' && type != 'E' && type != 'g' && type != 'G' && type != '%') {
    type_error(std::string("Unknown format code '") + sp.type + "' for object of type 'float'");
  }
  const int prec = sp.precision < 0 ? 6 : sp.precision;
  double x = std::fabs(v);
  std::string suffix;
  if (type == '%') {
    x *= 100;
    type = 'f';
    suffix = "%";
  }
  char fmt[16];
  std::snprintf(fmt, sizeof fmt, "%%%s.%d%c", sp.alt ? "#" : "", prec, type);
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, x);
  std::string body = buf;
  if (sp.grouping) {
    const size_t dot = body.find_first_of(".eE");
    body = group(body.substr(0, dot), sp.grouping) + (dot == std::string::npos ? "" : body.substr(dot));
  }
  body += suffix;
  std::string prefix = std::signbit(v) ? "-" : sp.sign == '+' ? "+" : sp.sign == ' ' ? " " : "";
  return pad(sp, prefix, body, '>');
}

pstr format_value(const value& v, const std::string& spec_text) {
  if (spec_text.empty()) return py_str(v);
  const spec_t sp = parse_spec(spec_text);
  switch (v.k) {
    case kind::string: {
      if (sp.type && sp.type != 's')
        type_error(std::string("Unknown format code '") + sp.type + "' for object of type 'str'");
      const pstr& s = v.str();
      const auto off = char_offsets(s.text());
      const size_t n = sp.precision < 0 ? off.size() - 1 : std::min(off.size() - 1, static_cast<size_t>(sp.precision));
      const std::string cut = s.text().substr(0, off[n]);
      return pstr(pad(sp, "", cut, '<'), s.any_data());
    }
    case kind::boolean:  // with a spec, bool formats as int
    case kind::integer:
      if (sp.type == 'e' || sp.type == 'E' || sp.type == 'f' || sp.type == 'F' || sp.type == 'g' || sp.type == 'G' ||
          sp.type == '%') {
        return pstr(format_float(v.as_float(), sp), v.data);
      }
      return pstr(format_int(v.as_int(), sp), v.data);
    case kind::floating: return pstr(format_float(v.as_float(), sp), v.data);
    default: type_error("unsupported format string passed to " + type_name(v) + ".__format__");
  }
}

}  // namespace

pstr py_format(evaluator& ev, const pstr& fmt, const call_args& args) {
  const std::string& f = fmt.text();
  pstr out;
  size_t auto_index = 0;
  bool used_auto = false, used_manual = false;
  for (size_t i = 0; i < f.size();) {
    const char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') {
        out.append(fmt, i, i + 1);
        i += 2;
        continue;
      }
      type_error("Single '}' encountered in format string");
    }
    if (c != '{') {
      const size_t j = std::min(f.find_first_of("{}", i), f.size());
      out.append(fmt, i, j);
      i = j;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out.append(fmt, i, i + 1);
      i += 2;
      continue;
    }
    const size_t close = f.find('}', i);
    if (close == std::string::npos) type_error("expected '}' before end of string");
    std::string field = f.substr(i + 1, close - i - 1);
    if (field.find('{') != std::string::npos) type_error("nested format fields are not supported");
    i = close + 1;
    std::string spec, conv;
    if (const size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    if (const size_t bang = field.find('!'); bang != std::string::npos) {
      conv = field.substr(bang + 1);
      field = field.substr(0, bang);
      if (conv != "s" && conv != "r" && conv != "a") type_error("Unknown conversion specifier " + conv);
    }
    const size_t head_end = std::min(field.find_first_of(".["), field.size());
    const std::string head = field.substr(0, head_end);
    value v;
    if (head.empty()) {
      if (used_manual) type_error("cannot switch from manual field specification to automatic field numbering");
      used_auto = true;
      if (auto_index >= args.pos.size())
        type_error("Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple");
      v = args.pos[auto_index++];
    } else if (std::all_of(head.begin(), head.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      if (used_auto) type_error("cannot switch from automatic field numbering to manual field specification");
      used_manual = true;
      const size_t n = head.size() > 6 ? SIZE_MAX : std::stoul(head);
      if (n >= args.pos.size()) type_error("Replacement index " + head + " out of range for positional args tuple");
      v = args.pos[n];
    } else {
      const value* kw = nullptr;
      for (const auto& [k, x] : args.kw) {
        if (k == head) kw = &x;
      }
      if (!kw) type_error("'" + head + "'");  // Python's KeyError text
      v = *kw;
    }
    for (size_t p = head_end; p < field.size();) {
      if (field[p] == '.') {
        const size_t e = std::min(field.find_first_of(".[", p + 1), field.size());
        v = ev.getattr(v, field.substr(p + 1, e - p - 1));
        p = e;
      } else {
        const size_t e = field.find(']', p);
        if (e == std::string::npos) type_error("Missing ']' in format string");
        const std::string key = field.substr(p + 1, e - p - 1);
        const bool numeric = !key.empty() && key.size() < 18 &&
                             std::all_of(key.begin(), key.end(), [](char d) { return d >= '0' && d <= '9'; });
        v = ev.getitem(v, numeric ? value::integer(std::stoll(key)) : value::string(key, false));
        p = e + 1;
      }
    }
    if (conv == "r" || conv == "a")
      v = value::string(py_repr(v), contains_data(v));
    else if (conv == "s")
      v = value::string(py_str(v));
    out.append(format_value(v, spec));  // an Undefined with no spec formats as "", as its str()
    ev.check_string_size(out.size());
  }
  return out;
}

}  // namespace pocketlm::chat::jinja::detail
