// JSON Schema (draft 2020-12 subset, as OpenAI structured outputs and Ollama's format use it)
// compiled to GBNF text for grammar::grammar::parse, in llama.cpp's json_schema_to_grammar
// shape: whitespace as JSON allows it (bounded), objects with their properties in schema order.
//
// Supported: type (incl. lists), properties, required, additionalProperties (bool or schema),
// items, prefixItems, enum, const, anyOf, oneOf (as anyOf), allOf (merged objects), $ref to
// "#/$defs/..." / "#/definitions/..." (recursive too), minItems/maxItems, minLength/maxLength,
// minimum/maximum/exclusiveMinimum/exclusiveMaximum for integers, pattern (regex subset in
// docs/structured-output.md), format date, time, date-time, uuid, email. Annotations (title,
// description, default, examples, $schema, $id, $comment) are ignored. Anything else is an
// `unsupported` error naming the keyword and where it is: never silently unconstrained.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pocketlm::grammar {

// A complete grammar whose root matches the documents the schema accepts.
result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema);

// Rules only, for embedding in a larger grammar (tool calls): every rule name starts with
// `prefix` and the schema's value is rule `<prefix>value`; shared primitive rules are named
// `<prefix>...` too, so two schemas with different prefixes never collide.
result<std::string> json_schema_rules(const nlohmann::ordered_json& schema, std::string_view prefix);

// Any JSON object (OpenAI response_format json_object, Ollama format "json").
std::string json_object_gbnf();

}  // namespace pocketlm::grammar
