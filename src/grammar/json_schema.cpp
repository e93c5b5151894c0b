// JSON Schema -> GBNF (grammar/json_schema.h): the entry points, the rule table, and the
// combinators ($ref, allOf, anyOf/oneOf, type lists, enum/const). Values of each type are in
// json_schema_types.cpp, GBNF text pieces in json_schema_text.cpp, patterns in
// json_schema_pattern.cpp. Behaviour follows llama.cpp's json_schema_to_grammar
// (common/json-schema-to-grammar.cpp); where it differs, docs/structured-output.md says how.
#include "grammar/json_schema.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "grammar/json_schema_converter.h"

namespace pocketlm::grammar {

namespace json_schema_parts {

namespace {

// Keywords that never constrain a value: they are skipped, as validators skip them.
bool is_annotation(const std::string& key) {
  static const std::set<std::string> keys = {"title",    "description", "default",          "examples",
                                             "$schema",  "$id",         "$comment",         "deprecated",
                                             "readOnly", "writeOnly",   "contentMediaType", "contentEncoding",
                                             "$defs",    "definitions", "contentSchema"};
  return keys.count(key) > 0;
}

bool is_handled(const std::string& key) {
  static const std::set<std::string> keys = {"type",
                                             "enum",
                                             "const",
                                             "anyOf",
                                             "oneOf",
                                             "allOf",
                                             "$ref",
                                             "properties",
                                             "required",
                                             "additionalProperties",
                                             "items",
                                             "prefixItems",
                                             "additionalItems",
                                             "minItems",
                                             "maxItems",
                                             "minLength",
                                             "maxLength",
                                             "pattern",
                                             "format",
                                             "minimum",
                                             "maximum",
                                             "exclusiveMinimum",
                                             "exclusiveMaximum",
                                             "uniqueItems"};
  return keys.count(key) > 0;
}

// Which value type a keyword constrains: a schema without `type` gets the types its keywords
// imply (llama.cpp's reading; a validator would let values of other types through).
const char* family_of(const std::string& key) {
  if (key == "properties" || key == "required" || key == "additionalProperties") return "object";
  if (key == "items" || key == "prefixItems" || key == "additionalItems" || key == "minItems" || key == "maxItems") {
    return "array";
  }
  if (key == "minLength" || key == "maxLength" || key == "pattern" || key == "format") return "string";
  if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" || key == "exclusiveMaximum") return "number";
  return nullptr;
}

bool has_type(const json& value, const std::string& type) {
  if (type == "null") return value.is_null();
  if (type == "boolean") return value.is_boolean();
  if (type == "string") return value.is_string();
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "number") return value.is_number();
  if (type == "integer") {
    return value.is_number_integer() ||
           (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>());
  }
  return false;
}

// The schema's constraining keywords other than `skip`, for "beside" checks.
json constraints_except(const json& schema, std::initializer_list<const char*> skip) {
  json rest = json::object();
  for (const auto& [key, value] : schema.items()) {
    if (is_annotation(key) || std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
    if (key == "uniqueItems" && value == false) continue;
    rest[key] = value;
  }
  return rest;
}

std::string decode_pointer_token(std::string token) {
  std::string out;
  for (size_t i = 0; i < token.size(); i++) {
    if (token[i] == '%' && i + 2 < token.size() && std::isxdigit(static_cast<unsigned char>(token[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(token[i + 2]))) {
      out += static_cast<char>(std::stoi(token.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[i + 1] == '0' ? '~' : '/';
      i++;
    } else {
      out += token[i];
    }
  }
  return out;
}

struct depth_guard {
  depth_guard(int& depth, const std::string& ptr) : depth_(depth) {
    if (++depth_ > max_depth) {
      fail(error_kind::unsupported,
           "JSON Schema nested deeper than " + std::to_string(max_depth) + " levels at " + where(ptr));
    }
  }
  ~depth_guard() { depth_--; }
  int& depth_;
};

// What the GBNF parser will build from `gbnf`: about its length, plus a few elements per copy
// of every {m,n} repetition (it expands them into chains of optional rules).
uint64_t expanded_size(const std::string& gbnf) {
  uint64_t total = gbnf.size();
  for (size_t i = 0; i < gbnf.size(); i++) {
    char c = gbnf[i];
    if (c == '"' || c == '[') {
      char close = c == '"' ? '"' : ']';
      for (i++; i < gbnf.size() && gbnf[i] != close; i++) {
        if (gbnf[i] == '\\') i++;
      }
    } else if (c == '{') {
      uint64_t largest = 0, n = 0;
      for (i++; i < gbnf.size() && gbnf[i] != '}'; i++) {
        if (gbnf[i] >= '0' && gbnf[i] <= '9') {
          n = std::min<uint64_t>(n * 10 + (gbnf[i] - '0'), max_repetition);
        } else {
          largest = std::max(largest, n);
          n = 0;
        }
      }
      total += 8 * std::max(largest, n);
    }
  }
  return total;
}

}  // namespace

std::string child_pointer(const std::string& ptr, const std::string& key) {
  std::string escaped;
  for (char c : key) escaped += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return ptr + "/" + escaped;
}

std::string where(const std::string& ptr) { return ptr.empty() ? "the root" : ptr; }

std::string converter::rules_text() {
  std::string value = reserve_rule("value");
  ref_rules_["#"] = value;
  pending_refs_.push_back("#");
  define_rule(value, body_of(root_, "", "value"));
  std::string out;
  for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
  if (expanded_size(out) > max_expanded_size) {
    fail(error_kind::unsupported,
         "the grammar for this JSON Schema would be too large once its repetitions are expanded");
  }
  return out;
}

std::string converter::visit(const json& schema, const std::string& ptr, const std::string& name) {
  std::string rule = reserve_rule(name);
  define_rule(rule, body_of(schema, ptr, name));
  return rule;
}

std::string converter::body_of(const json& schema, const std::string& ptr, const std::string& name) {
  depth_guard guard(depth_, ptr);
  if (schema.is_boolean()) {
    if (schema.get<bool>()) return primitive("any");
    fail(error_kind::unsupported, "schema false (no value is valid) at " + where(ptr));
  }
  if (!schema.is_object())
    fail(error_kind::invalid_input, "a JSON Schema must be an object or a boolean at " + where(ptr));
  return visit_object_schema(schema, ptr, name);
}

void converter::check_keywords(const json& schema, const std::string& ptr) {
  for (const auto& [key, value] : schema.items()) {
    if (is_annotation(key)) continue;
    if (key == "uniqueItems" && value == true) {
      fail(error_kind::unsupported, "unsupported JSON Schema keyword 'uniqueItems' (true) at " + where(ptr));
    }
    if (!is_handled(key))
      fail(error_kind::unsupported, "unsupported JSON Schema keyword '" + key + "' at " + where(ptr));
  }
}

std::string converter::visit_object_schema(const json& schema, const std::string& ptr, const std::string& name) {
  check_keywords(schema, ptr);
  if (schema.contains("$ref")) return visit_ref(schema, ptr, name);
  if (schema.contains("allOf")) return visit_object_schema(merged_all_of(schema, ptr, 0), ptr, name);
  if (schema.contains("anyOf") || schema.contains("oneOf")) return visit_union(schema, ptr, name);
  if (schema.contains("type") && schema["type"].is_array()) return visit_type_list(schema, ptr, name);
  if (schema.contains("enum") || schema.contains("const")) return visit_enum(schema, ptr, name);
  if (schema.contains("type")) {
    if (!schema["type"].is_string())
      fail(error_kind::invalid_input, "'type' must be a string or a list at " + where(ptr));
    return visit_typed(schema, schema["type"].get<std::string>(), ptr, name);
  }
  std::vector<std::string> implied;
  for (const auto& [key, value] : schema.items()) {
    const char* family = family_of(key);
    if (family && std::find(implied.begin(), implied.end(), family) == implied.end()) implied.push_back(family);
  }
  if (implied.empty()) return primitive("any");
  if (implied.size() == 1) return visit_typed(schema, implied[0], ptr, name);
  json typed = schema;
  typed["type"] = implied;
  return visit_type_list(typed, ptr, name);
}

const json& converter::resolve_pointer(const std::string& ref, const std::string& ptr) {
  if (ref.empty() || ref[0] != '#') {
    fail(error_kind::unsupported,
         "unsupported remote $ref '" + ref + "' at " + where(ptr) + " (only '#/...' refs into the schema)");
  }
  if (ref.size() > 1 && ref[1] != '/') {
    fail(error_kind::unsupported, "unsupported $ref '" + ref + "' to an anchor at " + where(ptr));
  }
  const json* at = &root_;
  size_t start = 2;
  while (start <= ref.size() && ref.size() > 1) {
    size_t end = ref.find('/', start);
    if (end == std::string::npos) end = ref.size();
    std::string token = decode_pointer_token(ref.substr(start, end - start));
    if (at->is_object() && at->contains(token)) {
      at = &(*at)[token];
    } else if (at->is_array() && !token.empty() && token.size() < 10 &&
               std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
               std::stoul(token) < at->size()) {
      at = &(*at)[std::stoul(token)];
    } else {
      fail(error_kind::invalid_input, "$ref '" + ref + "' at " + where(ptr) + " points to nothing in the schema");
    }
    start = end + 1;
  }
  return *at;
}

std::string converter::visit_ref(const json& schema, const std::string& ptr, const std::string& name) {
  if (!schema["$ref"].is_string()) fail(error_kind::invalid_input, "'$ref' must be a string at " + where(ptr));
  std::string ref = schema["$ref"].get<std::string>();
  json siblings = constraints_except(schema, {"$ref"});
  if (!siblings.empty()) {
    // Keywords beside $ref apply too (draft 2019-09 on): the same as allOf of both.
    json both = {{"allOf", json::array({json{{"$ref", ref}}, siblings})}};
    return visit_object_schema(both, ptr, name);
  }
  if (std::find(pending_refs_.begin(), pending_refs_.end(), ref) != pending_refs_.end()) {
    fail(error_kind::unsupported,
         "$ref '" + ref + "' at " + where(ptr) + " refers back to itself before any value begins (left recursion)");
  }
  if (auto known = ref_rules_.find(ref); known != ref_rules_.end()) return known->second;
  const json& target = resolve_pointer(ref, ptr);
  size_t slash = ref.find_last_of('/');
  std::string rule = reserve_rule(
      "ref-" + (slash == std::string::npos ? std::string("root") : decode_pointer_token(ref.substr(slash + 1))));
  ref_rules_[ref] = rule;
  pending_refs_.push_back(ref);
  std::string body = body_of(target, ref.size() > 1 ? ref.substr(1) : "", rule.substr(prefix_.size()));
  pending_refs_.pop_back();
  define_rule(rule, body);
  return rule;
}

std::string converter::visit_union(const json& schema, const std::string& ptr, const std::string& name) {
  if (schema.contains("anyOf") && schema.contains("oneOf")) {
    fail(error_kind::unsupported, "unsupported 'anyOf' together with 'oneOf' at " + where(ptr));
  }
  // oneOf is read as anyOf: a document matching two branches is accepted (see the docs).
  const char* key = schema.contains("anyOf") ? "anyOf" : "oneOf";
  const json& branches = schema[key];
  std::string branches_ptr = child_pointer(ptr, key);
  if (!branches.is_array() || branches.empty()) {
    fail(error_kind::invalid_input, std::string("'") + key + "' must be a non-empty array at " + where(ptr));
  }
  json siblings = constraints_except(schema, {"anyOf", "oneOf"});
  std::string out;
  for (size_t i = 0; i < branches.size(); i++) {
    std::string branch_ptr = child_pointer(branches_ptr, std::to_string(i));
    std::string rule;
    if (siblings.empty()) {
      rule = visit(branches[i], branch_ptr, name + "-" + std::to_string(i));
    } else {
      // Keywords beside anyOf hold in every branch.
      json merged = siblings;
      merge_into(merged, resolved_component(branches[i], branch_ptr, 0), branch_ptr);
      rule = visit(merged, branch_ptr, name + "-" + std::to_string(i));
    }
    out += (i ? " | " : "") + rule;
  }
  return out;
}

std::string converter::visit_type_list(const json& schema, const std::string& ptr, const std::string& name) {
  const json& types = schema["type"];
  if (types.empty()) fail(error_kind::invalid_input, "'type' must not be an empty list at " + where(ptr));
  std::vector<std::string> seen;
  std::string out;
  for (const auto& t : types) {
    if (!t.is_string()) fail(error_kind::invalid_input, "'type' must list strings at " + where(ptr));
    std::string type = t.get<std::string>();
    if (std::find(seen.begin(), seen.end(), type) != seen.end()) continue;
    seen.push_back(type);
    json one = schema;
    one["type"] = type;
    out += (out.empty() ? "" : " | ") + visit(one, ptr, name + "-" + type);
  }
  return out;
}

std::string converter::visit_enum(const json& schema, const std::string& ptr, const std::string& name) {
  json others = constraints_except(schema, {"enum", "const", "type"});
  if (!others.empty()) {
    fail(error_kind::unsupported,
         "unsupported keyword '" + others.begin().key() + "' beside 'enum'/'const' at " + where(ptr));
  }
  json values = json::array();
  if (schema.contains("const")) {
    values.push_back(schema["const"]);
    if (schema.contains("enum")) {
      if (!schema["enum"].is_array() ||
          std::find(schema["enum"].begin(), schema["enum"].end(), schema["const"]) == schema["enum"].end()) {
        fail(error_kind::invalid_input, "'const' is not one of 'enum' at " + where(ptr));
      }
    }
  } else {
    if (!schema["enum"].is_array() || schema["enum"].empty()) {
      fail(error_kind::invalid_input, "'enum' must be a non-empty array at " + where(ptr));
    }
    values = schema["enum"];
  }
  std::string out;
  for (const auto& v : values) {
    if (schema.contains("type") && schema["type"].is_string() && !has_type(v, schema["type"].get<std::string>()))
      continue;
    out += (out.empty() ? "" : " | ") + const_value(v);
  }
  if (out.empty()) fail(error_kind::invalid_input, "no 'enum'/'const' value has the schema's 'type' at " + where(ptr));
  return out;
}

std::string converter::visit_typed(const json& schema, const std::string& type, const std::string& ptr,
                                   const std::string& name) {
  if (type == "string") return string_value(schema, ptr, name);
  if (type == "integer") return integer_value(schema, ptr, name);
  if (type == "number") {
    for (const char* key : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
      if (schema.contains(key)) {
        fail(error_kind::unsupported, std::string("unsupported JSON Schema keyword '") + key + "' on a number at " +
                                          where(ptr) + " (bounds are supported for integers only)");
      }
    }
    return primitive("number");
  }
  if (type == "boolean" || type == "null") return primitive(type);
  if (type == "object") return object_value(schema, ptr, name);
  if (type == "array") return array_value(schema, ptr, name);
  fail(error_kind::invalid_input, "unknown 'type' \"" + type + "\" at " + where(ptr));
}

// ---- allOf: the components merged into one schema (llama.cpp merges object properties too).

json converter::resolved_component(const json& schema, const std::string& ptr, int depth) {
  if (depth > max_depth)
    fail(error_kind::unsupported, "allOf/$ref chain deeper than " + std::to_string(max_depth) + " at " + where(ptr));
  if (schema.is_boolean()) {
    if (schema.get<bool>()) return json::object();
    fail(error_kind::unsupported, "schema false (no value is valid) at " + where(ptr));
  }
  if (!schema.is_object())
    fail(error_kind::invalid_input, "a JSON Schema must be an object or a boolean at " + where(ptr));
  check_keywords(schema, ptr);
  json out = schema.contains("allOf") ? merged_all_of(schema, ptr, depth + 1) : schema;
  if (!out.contains("$ref")) return out;
  if (!out["$ref"].is_string()) fail(error_kind::invalid_input, "'$ref' must be a string at " + where(ptr));
  std::string ref = out["$ref"].get<std::string>();
  json target = resolved_component(resolve_pointer(ref, ptr), ref.substr(1), depth + 1);
  out.erase("$ref");
  merge_into(target, out, ptr);
  return target;
}

json converter::merged_all_of(const json& schema, const std::string& ptr, int depth) {
  const json& parts = schema["allOf"];
  if (!parts.is_array() || parts.empty())
    fail(error_kind::invalid_input, "'allOf' must be a non-empty array at " + where(ptr));
  json merged = schema;
  merged.erase("allOf");
  std::string parts_ptr = child_pointer(ptr, "allOf");
  for (size_t i = 0; i < parts.size(); i++) {
    std::string part_ptr = child_pointer(parts_ptr, std::to_string(i));
    merge_into(merged, resolved_component(parts[i], part_ptr, depth + 1), part_ptr);
  }
  return merged;
}

namespace {

std::vector<std::string> type_list(const json& type) {
  std::vector<std::string> out;
  if (type.is_string()) out.push_back(type.get<std::string>());
  if (type.is_array()) {
    for (const auto& t : type) {
      if (t.is_string()) out.push_back(t.get<std::string>());
    }
  }
  return out;
}

json intersect_types(const json& a, const json& b, const std::string& ptr) {
  std::vector<std::string> left = type_list(a), right = type_list(b), both;
  auto in = [](const std::vector<std::string>& v, const std::string& t) {
    return std::find(v.begin(), v.end(), t) != v.end();
  };
  for (const auto& t : left) {
    if (in(right, t) || (t == "integer" && in(right, "number")))
      both.push_back(t);
    else if (t == "number" && in(right, "integer"))
      both.push_back("integer");
  }
  if (both.empty()) fail(error_kind::invalid_input, "allOf 'type's have nothing in common at " + where(ptr));
  return both.size() == 1 ? json(both[0]) : json(both);
}

}  // namespace

void converter::merge_into(json& into, const json& from, const std::string& ptr) {
  for (const auto& [key, value] : from.items()) {
    if (is_annotation(key)) continue;
    if (!into.contains(key)) {
      into[key] = value;
      continue;
    }
    json& mine = into[key];
    if (mine == value) continue;
    if (key == "properties" && mine.is_object() && value.is_object()) {
      for (const auto& [prop, sub] : value.items()) {
        if (!mine.contains(prop))
          mine[prop] = sub;
        else if (mine[prop] != sub)
          mine[prop] = json{{"allOf", json::array({mine[prop], sub})}};
      }
    } else if (key == "required" && mine.is_array() && value.is_array()) {
      for (const auto& r : value) {
        if (std::find(mine.begin(), mine.end(), r) == mine.end()) mine.push_back(r);
      }
    } else if (key == "type") {
      mine = intersect_types(mine, value, ptr);
    } else if ((key == "minimum" || key == "exclusiveMinimum" || key == "minLength" || key == "minItems") &&
               mine.is_number() && value.is_number()) {
      if (value > mine) mine = value;
    } else if ((key == "maximum" || key == "exclusiveMaximum" || key == "maxLength" || key == "maxItems") &&
               mine.is_number() && value.is_number()) {
      if (value < mine) mine = value;
    } else if (key == "additionalProperties" && (mine == true || value == true)) {
      if (mine == true) mine = value;
    } else if (key == "items" && !mine.is_array() && !value.is_array()) {
      mine = json{{"allOf", json::array({mine, value})}};
    } else if (key == "enum" && mine.is_array() && value.is_array()) {
      json common = json::array();
      for (const auto& v : mine) {
        if (std::find(value.begin(), value.end(), v) != value.end()) common.push_back(v);
      }
      if (common.empty()) fail(error_kind::invalid_input, "allOf 'enum's have no value in common at " + where(ptr));
      mine = common;
    } else {
      fail(error_kind::unsupported, "unsupported: conflicting '" + key + "' in allOf at " + where(ptr));
    }
  }
}

// ---- Rules.

std::string converter::rule_name(const std::string& name) const {
  std::string clean;
  for (char c : name) {
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (word)
      clean += c;
    else if (clean.empty() || clean.back() != '-')
      clean += '-';
  }
  if (clean.size() > 64) clean.resize(64);
  return prefix_ + clean;
}

std::string converter::reserve_rule(const std::string& name) {
  std::string base = rule_name(name), unique = base;
  for (size_t n = 1; rule_index_.count(unique); n++) unique = base + "-" + std::to_string(n);
  rule_index_[unique] = rules_.size();
  rules_.emplace_back(unique, "");
  return unique;
}

void converter::define_rule(const std::string& name, const std::string& body) {
  grammar_bytes_ += name.size() + body.size() + 6;
  if (grammar_bytes_ > max_grammar_bytes) {
    fail(error_kind::unsupported,
         "the grammar for this JSON Schema would exceed " + std::to_string(max_grammar_bytes >> 20) + " MiB");
  }
  rules_[rule_index_.at(name)].second = body;
}

std::string converter::add_rule(const std::string& name, const std::string& body) {
  std::string rule = reserve_rule(name);
  define_rule(rule, body);
  return rule;
}

}  // namespace json_schema_parts

namespace {

bool valid_prefix(std::string_view prefix) {
  return std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

result<std::string> json_schema_rules(const nlohmann::ordered_json& schema, std::string_view prefix) {
  if (!valid_prefix(prefix)) {
    return error{"a grammar rule prefix may hold only letters, digits and '-': \"" + std::string(prefix) + "\"",
                 error_kind::invalid_input};
  }
  try {
    return json_schema_parts::converter(schema, std::string(prefix)).rules_text();
  } catch (const json_schema_parts::compile_error& e) {
    return e.err;
  } catch (const nlohmann::json::exception& e) {
    return error{std::string("JSON Schema: ") + e.what(), error_kind::invalid_input};
  }
}

result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema) {
  auto rules = json_schema_rules(schema, "");
  if (!rules) return rules.err();
  return "root ::= value\n" + *rules;
}

std::string json_object_gbnf() {
  auto rules = json_schema_rules(nlohmann::ordered_json{{"type", "object"}}, "");
  return "root ::= value\n" + *rules;
}

}  // namespace pocketlm::grammar
