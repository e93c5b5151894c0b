// grammar/json_schema_converter.h: the JSON Schema -> GBNF visitor behind json_schema.h. One
// converter per schema: it walks the schema once, naming one rule per subschema (`<prefix>value`
// for the root, `<prefix>value-<property>`..., `<prefix>ref-<name>` per $ref target) and adding
// the shared primitives (`<prefix>string`, `<prefix>space`, ...) on first use. json_schema.cpp
// holds the combinators ($ref, allOf, anyOf, type lists, enum), json_schema_types.cpp the values
// of each type. Internal to grammar/.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "grammar/json_schema_parts.h"

namespace pocketlm::grammar::json_schema_parts {

using json = nlohmann::ordered_json;

class converter {
 public:
  converter(const json& root, std::string prefix) : root_(root), prefix_(std::move(prefix)) {}
  // Every rule, one per line, the root schema's value first. Throws compile_error.
  std::string rules_text();

 private:
  // json_schema.cpp
  std::string visit(const json& schema, const std::string& ptr, const std::string& name);  // -> its rule
  std::string body_of(const json& schema, const std::string& ptr, const std::string& name);
  std::string visit_object_schema(const json& schema, const std::string& ptr, const std::string& name);
  std::string visit_ref(const json& schema, const std::string& ptr, const std::string& name);
  std::string visit_union(const json& schema, const std::string& ptr, const std::string& name);
  std::string visit_type_list(const json& schema, const std::string& ptr, const std::string& name);
  std::string visit_enum(const json& schema, const std::string& ptr, const std::string& name);
  std::string visit_typed(const json& schema, const std::string& type, const std::string& ptr, const std::string& name);
  const json& resolve_pointer(const std::string& ref, const std::string& ptr);
  json resolved_component(const json& schema, const std::string& ptr, int depth);
  json merged_all_of(const json& schema, const std::string& ptr, int depth);
  void merge_into(json& into, const json& from, const std::string& ptr);
  void check_keywords(const json& schema, const std::string& ptr);

  // json_schema_types.cpp
  std::string string_value(const json& schema, const std::string& ptr, const std::string& name);
  std::string integer_value(const json& schema, const std::string& ptr, const std::string& name);
  std::string object_value(const json& schema, const std::string& ptr, const std::string& name);
  std::string array_value(const json& schema, const std::string& ptr, const std::string& name);
  std::string const_value(const json& value);
  std::string object_body(const std::vector<std::pair<std::string, std::string>>& kvs,
                          const std::vector<bool>& required, const std::string& extra_kv, const std::string& name);
  std::string not_names_key(const std::vector<std::string>& names);
  std::string format_value(const std::string& format, const std::string& ptr);

  // Rules. `primitive` adds a shared rule (and what it needs) once and returns its name.
  std::string primitive(const std::string& which);
  std::string add_rule(const std::string& name, const std::string& body);
  std::string reserve_rule(const std::string& name);
  void define_rule(const std::string& name, const std::string& body);
  std::string rule_name(const std::string& name) const;

  const json& root_;
  std::string prefix_;
  std::vector<std::pair<std::string, std::string>> rules_;  // name, body, in order of creation
  std::unordered_map<std::string, size_t> rule_index_;
  std::unordered_map<std::string, std::string> ref_rules_;  // "#/$defs/x" -> its rule
  // $refs entered since the last byte a value must begin with: one seen twice is a cycle that
  // never reaches a value (left recursion; the GBNF parser refuses it).
  std::vector<std::string> pending_refs_;
  size_t grammar_bytes_ = 0;
  int depth_ = 0;
};

// The JSON pointer of `key` under `ptr` (~0, ~1 escaped) and how errors name a place.
std::string child_pointer(const std::string& ptr, const std::string& key);
std::string where(const std::string& ptr);

// A count keyword's value (minItems, maxLength...): a non-negative integer up to max_repetition.
uint64_t count_keyword(const json& schema, const char* key, const std::string& ptr, uint64_t fallback);

}  // namespace pocketlm::grammar::json_schema_parts
