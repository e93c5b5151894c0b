// JSON Schema -> GBNF, the values of each type (grammar/json_schema_converter.h): strings
// (lengths, patterns, formats), integers (ranges), objects (properties in schema order, optional
// ones skippable, additional ones last), arrays (prefixItems, items, counts), constants, and the
// shared primitives in llama.cpp's shapes.
#include <cmath>
#include <map>

#include "grammar/json_schema_converter.h"

namespace pocketlm::grammar::json_schema_parts {

namespace {

const char* quote = "\"\\\"\"";  // the GBNF literal for one '"'

}  // namespace

uint64_t count_keyword(const json& schema, const char* key, const std::string& ptr, uint64_t fallback) {
  if (!schema.contains(key)) return fallback;
  const json& v = schema.at(key);
  bool integral = v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0) ||
                  (v.is_number_float() && v.get<double>() >= 0 && std::floor(v.get<double>()) == v.get<double>());
  if (!integral)
    fail(error_kind::invalid_input, std::string("'") + key + "' must be a non-negative integer at " + where(ptr));
  double value = v.get<double>();
  if (value > static_cast<double>(max_repetition)) {
    fail(error_kind::unsupported, std::string("unsupported '") + key + "' " + v.dump() + " at " + where(ptr) +
                                      " (at most " + std::to_string(max_repetition) + ")");
  }
  return static_cast<uint64_t>(value);
}

namespace {

// An integer bound, rounded inward and clamped just past the 16-digit range.
int64_t integer_bound(const json& v, const char* key, const std::string& ptr, bool lower, bool exclusive) {
  if (v.is_boolean()) {
    fail(error_kind::unsupported, std::string("unsupported boolean '") + key + "' (draft 4) at " + where(ptr));
  }
  if (!v.is_number()) fail(error_kind::invalid_input, std::string("'") + key + "' must be a number at " + where(ptr));
  constexpr int64_t outside = max_integer_magnitude + 1;
  long double x = v.is_number_unsigned()  ? static_cast<long double>(v.get<uint64_t>())
                  : v.is_number_integer() ? static_cast<long double>(v.get<int64_t>())
                                          : static_cast<long double>(v.get<double>());
  long double bound =
      lower ? (exclusive ? std::floor(x) + 1 : std::ceil(x)) : (exclusive ? std::ceil(x) - 1 : std::floor(x));
  if (bound > outside) return outside;
  if (bound < -outside) return -outside;
  return static_cast<int64_t>(bound);
}

code_set email_atom_chars() {
  code_set s('a', 'z');
  s.add('A', 'Z');
  s.add('0', '9');
  for (char c : std::string("!#$%&'*+/=?^_`{|}~-")) s.add(c, c);
  return s;
}

}  // namespace

std::string converter::primitive(const std::string& which) {
  std::string name = rule_name(which);
  if (rule_index_.count(name)) return name;
  reserve_rule(which);
  std::string sp = which == "space" ? "" : primitive("space");
  std::string body;
  if (which == "space") {
    body = "| \" \" | \"\\n\" [ \\t]{0,20}";  // bounded, as llama.cpp: a model cannot pad forever
  } else if (which == "char") {
    body = "[^\"\\\\\\x00-\\x1F] | [\\\\] ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})";
  } else if (which == "string") {
    body = std::string(quote) + " " + primitive("char") + "* " + quote + " " + sp;
  } else if (which == "integral-part") {
    body = "[0] | [1-9] [0-9]{0,15}";
  } else if (which == "decimal-part") {
    body = "[0-9]{1,16}";
  } else if (which == "number") {
    std::string integral = primitive("integral-part");
    body = "(\"-\"? " + integral + ") (\".\" " + primitive("decimal-part") + ")? ([eE] [-+]? " + integral + ")? " + sp;
  } else if (which == "integer") {
    body = "(\"-\"? " + primitive("integral-part") + ") " + sp;
  } else if (which == "boolean") {
    body = "(\"true\" | \"false\") " + sp;
  } else if (which == "null") {
    body = "\"null\" " + sp;
  } else if (which == "any") {
    body = primitive("any-object") + " | " + primitive("any-array") + " | " + primitive("string") + " | " +
           primitive("number") + " | " + primitive("boolean") + " | " + primitive("null");
  } else if (which == "any-object") {
    std::string kv = primitive("string") + " \":\" " + sp + " " + primitive("any");
    body = "\"{\" " + sp + " (" + kv + " (\",\" " + sp + " " + kv + ")*)? \"}\" " + sp;
  } else if (which == "any-array") {
    std::string any = primitive("any");
    body = "\"[\" " + sp + " (" + any + " (\",\" " + sp + " " + any + ")*)? \"]\" " + sp;
  } else if (which == "format-date") {
    // Days per month, and 29 February in leap years only (as RFC 3339 and ajv-formats check).
    std::string day = "\"0\" [1-9] | [12] [0-9]";
    body = "[0-9]{4} \"-\" ((\"0\" [13578] | \"1\" [02]) \"-\" (" + day +
           " | \"3\" [01]) | (\"0\" [469] | \"11\") \"-\" (" + day +
           " | \"30\") | \"02-\" (\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8])) | " + primitive("format-leap-year") +
           " \"-02-29\"";
  } else if (which == "format-leap-year") {
    body = "[0-9] [0-9] ([02468] [48] | [13579] [26] | [2468] \"0\") | ([02468] [048] | [13579] [26]) \"00\"";
  } else if (which == "format-time") {
    std::string hour = "([01] [0-9] | \"2\" [0-3])";
    body =
        hour + " \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]{1,9})? ([zZ] | [-+] " + hour + " \":\" [0-5] [0-9])";
  } else if (which == "format-date-time") {
    body = primitive("format-date") + " [tT] " + primitive("format-time");
  } else if (which == "format-uuid") {
    body = "[0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12}";
  } else if (which == "format-email") {
    // ajv-formats' "full" email: dot-separated atoms, then dot-separated hostname labels.
    std::string atom = gbnf_class(email_atom_chars()) + "+";
    std::string label = primitive("format-email-label");
    body = atom + " (\".\" " + atom + ")* \"@\" (" + label + " \".\")+ " + label;
  } else if (which == "format-email-label") {
    body = "[a-zA-Z0-9] ([a-zA-Z0-9-]* [a-zA-Z0-9])?";
  }
  define_rule(name, body);
  return name;
}

std::string converter::format_value(const std::string& format, const std::string& ptr) {
  if (format != "date" && format != "time" && format != "date-time" && format != "uuid" && format != "email") {
    fail(error_kind::unsupported, "unsupported 'format' \"" + format + "\" at " + where(ptr) +
                                      " (supported: date, time, date-time, uuid, email)");
  }
  return std::string(quote) + " " + primitive("format-" + format) + " " + quote + " " + primitive("space");
}

std::string converter::string_value(const json& schema, const std::string& ptr, const std::string& name) {
  bool has_format = schema.contains("format"), has_pattern = schema.contains("pattern");
  bool has_length = schema.contains("minLength") || schema.contains("maxLength");
  if (has_format + has_pattern + has_length > 1) {
    fail(error_kind::unsupported, std::string("unsupported combination of ") + (has_format ? "'format'" : "'pattern'") +
                                      " and " + (has_pattern && has_format ? "'pattern'" : "a length") + " at " +
                                      where(ptr));
  }
  if (has_format) {
    if (!schema["format"].is_string()) fail(error_kind::invalid_input, "'format' must be a string at " + where(ptr));
    return format_value(schema["format"].get<std::string>(), child_pointer(ptr, "format"));
  }
  if (has_pattern) {
    if (!schema["pattern"].is_string()) fail(error_kind::invalid_input, "'pattern' must be a string at " + where(ptr));
    std::string body;
    try {
      body = pattern_expr(schema["pattern"].get<std::string>(), primitive("char"));
    } catch (compile_error& e) {
      e.err.message += " at " + where(child_pointer(ptr, "pattern"));
      throw;
    }
    return std::string(quote) + (body.empty() ? "" : " (" + body + ")") + " " + quote + " " + primitive("space");
  }
  if (has_length) {
    uint64_t min = count_keyword(schema, "minLength", ptr, 0);
    std::optional<uint64_t> max;
    if (schema.contains("maxLength")) max = count_keyword(schema, "maxLength", ptr, 0);
    if (max && *max < min) fail(error_kind::invalid_input, "'maxLength' below 'minLength' at " + where(ptr));
    std::string chars = repetition(primitive("char"), min, max);
    return std::string(quote) + (chars.empty() ? "" : " " + chars) + " " + quote + " " + primitive("space");
  }
  return primitive("string");
}

std::string converter::integer_value(const json& schema, const std::string& ptr, const std::string& name) {
  int64_t lo = -max_integer_magnitude, hi = max_integer_magnitude;
  bool bounded = false;
  auto bound = [&](const char* key, bool lower, bool exclusive) {
    if (!schema.contains(key)) return;
    bounded = true;
    int64_t b = integer_bound(schema[key], key, ptr, lower, exclusive);
    if (lower)
      lo = std::max(lo, b);
    else
      hi = std::min(hi, b);
  };
  bound("minimum", true, false);
  bound("exclusiveMinimum", true, true);
  bound("maximum", false, false);
  bound("exclusiveMaximum", false, true);
  if (!bounded) return primitive("integer");
  if (lo > hi) {
    fail(error_kind::invalid_input, "no integer of at most 16 digits lies within the bounds at " + where(ptr));
  }
  return "(" + integer_range_expr(lo, hi) + ") " + primitive("space");
}

std::string converter::const_value(const json& value) {
  std::string sp = primitive("space");
  std::string comma = "\",\" " + sp + " ";
  if (value.is_array()) {
    std::string out = "\"[\" " + sp;
    for (size_t i = 0; i < value.size(); i++) out += " " + (i ? comma : "") + const_value(value[i]);
    return out + " \"]\" " + sp;
  }
  if (value.is_object()) {
    std::string out = "\"{\" " + sp;
    bool first = true;
    for (const auto& [key, v] : value.items()) {
      out += " " + (first ? "" : comma) + gbnf_literal(json(key).dump()) + " " + sp + " \":\" " + sp + " " +
             const_value(v);
      first = false;
    }
    return out + " \"}\" " + sp;
  }
  return gbnf_literal(value.dump()) + " " + sp;
}

}  // namespace pocketlm::grammar::json_schema_parts
