// JSON Schema -> GBNF: each schema compiled, its grammar parsed with grammar::parse, and real
// documents accepted or rejected by the matcher (the whole document, then can_end).
#include "grammar/json_schema.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grammar/grammar.h"

namespace pocketlm::grammar {
namespace {

using json = nlohmann::ordered_json;

grammar_ptr compile(const std::string& schema_text) {
  auto gbnf = json_schema_to_gbnf(json::parse(schema_text));
  EXPECT_TRUE(gbnf.ok()) << gbnf.error_message() << "\nschema: " << schema_text;
  if (!gbnf.ok()) return nullptr;
  auto g = grammar::parse(*gbnf);
  EXPECT_TRUE(g.ok()) << g.error_message() << "\n" << *gbnf;
  return g.ok() ? *g : nullptr;
}

bool accepts(const grammar_ptr& g, const std::string& doc) {
  matcher m(g);
  return m.accept(doc) && m.can_end();
}

// Every `good` document accepted, every `bad` one rejected.
void expect_language(const std::string& schema, const std::vector<std::string>& good,
                     const std::vector<std::string>& bad) {
  grammar_ptr g = compile(schema);
  ASSERT_TRUE(g);
  for (const auto& doc : good) EXPECT_TRUE(accepts(g, doc)) << "should accept " << doc << "\nschema " << schema;
  for (const auto& doc : bad) EXPECT_FALSE(accepts(g, doc)) << "should reject " << doc << "\nschema " << schema;
}

error compile_error(const std::string& schema) {
  auto gbnf = json_schema_to_gbnf(json::parse(schema));
  EXPECT_FALSE(gbnf.ok()) << "compiled: " << schema;
  return gbnf.ok() ? error{} : gbnf.err();
}

TEST(JsonSchema, Primitives) {
  expect_language(R"({"type":"string"})", {R"("")", R"("a b")", R"("\"\\\n\u00e9")", "\"\xc3\xa9\""},
                  {R"(")", R"("a\x")", "\"a\nb\"", "1", "null"});
  expect_language(R"({"type":"number"})", {"0", "-1.5", "1e10", "2.5E-3", "123"}, {"01", "1.", ".5", "+1", "\"1\""});
  expect_language(R"({"type":"integer"})", {"0", "-7", "1234567890123456"}, {"1.0", "1e2", "12345678901234567", "-"});
  expect_language(R"({"type":"boolean"})", {"true", "false"}, {"True", "1"});
  expect_language(R"({"type":"null"})", {"null"}, {"nul", "\"null\""});
}

TEST(JsonSchema, AnyValueAndJsonObject) {
  for (const char* schema : {"{}", "true"}) {
    expect_language(schema, {"1", R"({"a":[1,{"b":null}]})", R"("x")", "[]"}, {"{", "[1,]", "nope"});
  }
  auto g = grammar::parse(json_object_gbnf());
  ASSERT_TRUE(g.ok()) << g.error_message();
  EXPECT_TRUE(accepts(*g, R"({"a": 1, "b": [true, null]})"));
  EXPECT_TRUE(accepts(*g, "{}"));
  EXPECT_FALSE(accepts(*g, "[1]"));
  EXPECT_FALSE(accepts(*g, "\"s\""));
}

TEST(JsonSchema, WhitespaceIsBounded) {
  std::string schema = R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]})";
  expect_language(schema, {R"({"a":1})", "{ \"a\" : 1 }", "{\n  \"a\": 1\n}", "{\n\t\"a\": 1\n}"},
                  {"{  \"a\": 1}", "{\n" + std::string(21, ' ') + "\"a\": 1}", " {\"a\":1}"});
}

TEST(JsonSchema, RequiredAndOptionalPropertiesInSchemaOrder) {
  std::string schema = R"({"type":"object","properties":{
    "a":{"type":"string"},"b":{"type":"integer"},"c":{"type":"boolean"}},"required":["b"]})";
  expect_language(schema, {R"({"b":1})", R"({"a":"x","b":1})", R"({"b":1,"c":true})", R"({"a":"x","b":1,"c":false})"},
                  {"{}", R"({"a":"x"})", R"({"b":1,"a":"x"})", R"({"b":1,"d":2})", R"({"b":"1"})", R"({"b":1,})"});
  // All optional: any ordered subset, the empty object too.
  expect_language(R"({"properties":{"x":{"type":"null"},"y":{"type":"null"}}})",
                  {"{}", R"({"x":null})", R"({"y":null})", R"({"x":null,"y":null})"},
                  {R"({"y":null,"x":null})", R"({,"y":null})"});
}

TEST(JsonSchema, AdditionalProperties) {
  // Absent beside `properties`: none (llama.cpp); true: any after the declared ones; a schema: its values.
  expect_language(R"({"type":"object","properties":{"a":{"type":"integer"}}})", {R"({"a":1})"}, {R"({"a":1,"z":2})"});
  expect_language(R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":true})",
                  {R"({"a":1,"z":[2]})", R"({"z":"q","y":null})", R"({"ab":1})", "{}"},
                  {R"({"a":1,"a":2})", R"({"z":1,"a":1})"});
  expect_language(R"({"type":"object","additionalProperties":{"type":"string"}})", {R"({"k":"v","l":"w"})", "{}"},
                  {R"({"k":1})"});
  expect_language(R"({"type":"object","additionalProperties":false})", {"{}"}, {R"({"k":1})"});
  // Extra keys may extend or prefix a declared name, not equal it.
  expect_language(R"({"type":"object","properties":{"ab":{"type":"null"}},"additionalProperties":{"type":"integer"}})",
                  {R"({"a":1})", R"({"abc":1})", R"({"ab":null,"b":2})", R"({"":3})"},
                  {R"({"ab":1})", R"({"ab":null,"ab":2})"});
  expect_language(R"({"type":"object"})", {R"({"k":[1]})", "{}"}, {"[]"});
  // A required key outside `properties` is written with the additional properties' schema.
  expect_language(R"({"type":"object","required":["id"],"additionalProperties":{"type":"integer"}})",
                  {R"({"id":3})", R"({"id":3,"n":4})"}, {"{}", R"({"id":"3"})"});
}

TEST(JsonSchema, Arrays) {
  expect_language(R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})",
                  {"[1]", "[1, 2]", "[1,2,3]"}, {"[]", "[1,2,3,4]", "[1,]", "[\"a\"]"});
  expect_language(R"({"type":"array","items":{"type":"integer"}})", {"[]", "[1]", "[1,2,3,4,5]"}, {"[1 2]"});
  expect_language(R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false})",
                  {"[]", R"(["a"])", R"(["a",1])"}, {R"(["a",1,2])", R"([1])"});
  expect_language(R"({"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"null"},"minItems":2})",
                  {R"(["a",null])", R"(["a",null,null])"}, {R"(["a"])", R"(["a",1])"});
  expect_language(R"({"type":"array","items":[{"type":"boolean"}],"additionalItems":false})", {"[true]", "[]"},
                  {"[true,true]"});
}

TEST(JsonSchema, EnumConstAndTypeLists) {
  expect_language(R"({"enum":["red",1,null,[1,2],{"k":true}]})", {R"("red")", "1", "null", "[1, 2]", R"({"k": true})"},
                  {R"("blue")", "2", "[1]", R"({"k":false})"});
  expect_language(R"({"const":"fixed"})", {R"("fixed")"}, {R"("other")"});
  expect_language(R"({"type":"string","enum":["a",1]})", {R"("a")"}, {"1"});
  expect_language(R"({"type":["string","null"],"maxLength":2})", {R"("ab")", "null"}, {R"("abc")", "1"});
}

TEST(JsonSchema, CombinatorsAndRefs) {
  expect_language(R"({"anyOf":[{"type":"integer"},{"type":"string","maxLength":1}]})", {"5", R"("x")"},
                  {R"("xy")", "true"});
  expect_language(R"({"oneOf":[{"type":"boolean"},{"type":"null"}]})", {"true", "null"}, {"0"});
  expect_language(R"({"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
                              {"properties":{"b":{"type":"string"}},"required":["b"]}]})",
                  {R"({"a":1,"b":"x"})"}, {R"({"a":1})", R"({"b":"x"})"});
  std::string tree = R"({"$defs":{"node":{"type":"object","properties":{
      "value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["value"]}},
    "$ref":"#/$defs/node"})";
  expect_language(tree, {R"({"value":1})", R"({"value":1,"children":[{"value":2,"children":[{"value":3}]}]})"},
                  {R"({"value":1,"children":[{}]})", R"({"children":[]})"});
  expect_language(
      R"({"definitions":{"id":{"type":"string","format":"uuid"}},"properties":{"x":{"$ref":"#/definitions/id"}}})",
      {R"({"x":"123e4567-e89b-12d3-a456-426614174000"})"}, {R"({"x":"123"})"});
  expect_language(
      R"({"type":"object","properties":{"next":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},"required":["next"]})",
      {R"({"next":null})", R"({"next":{"next":null}})"}, {R"({"next":{}})"});
}

TEST(JsonSchema, StringLengthsAndFormats) {
  expect_language(R"({"type":"string","minLength":2,"maxLength":3})", {R"("ab")", "\"\xc3\xa9\xc3\xa9\"", R"("a\nb")"},
                  {R"("a")", R"("abcd")"});
  expect_language(R"({"type":"string","format":"date"})", {R"("2024-02-29")", R"("2023-12-31")", R"("2000-02-29")"},
                  {R"("2023-02-29")", R"("1900-02-29")", R"("2023-04-31")", R"("2023-13-01")", R"("23-01-01")"});
  expect_language(R"({"type":"string","format":"time"})", {R"("23:59:59Z")", R"("08:30:00.123+02:00")"},
                  {R"("24:00:00Z")", R"("08:30:00")", R"("8:30:00Z")"});
  expect_language(R"({"type":"string","format":"date-time"})", {R"("2024-05-01T10:00:00Z")"},
                  {R"("2024-05-01 10:00:00Z")"});
  expect_language(R"({"type":"string","format":"email"})", {R"("a.b+c@example.co.uk")"},
                  {R"("a@b")", R"("@example.com")", R"("a..b@example.com")", R"("a@-x.com")"});
}

TEST(JsonSchema, IntegerRanges) {
  struct range_case {
    const char* schema;
    long long lo, hi;
  };
  const range_case cases[] = {
      {R"({"type":"integer","minimum":-5,"maximum":120})", -5, 120},
      {R"({"type":"integer","minimum":17,"maximum":1234})", 17, 1234},
      {R"({"type":"integer","exclusiveMinimum":-100,"exclusiveMaximum":-3})", -99, -4},
      {R"({"type":"integer","minimum":0.5,"maximum":9.5})", 1, 9},
      {R"({"type":"integer","minimum":995,"maximum":1005})", 995, 1005},
  };
  for (const auto& c : cases) {
    grammar_ptr g = compile(c.schema);
    ASSERT_TRUE(g);
    for (long long v = c.lo - 30; v <= c.hi + 30; v++) {
      EXPECT_EQ(accepts(g, std::to_string(v)), v >= c.lo && v <= c.hi) << c.schema << " value " << v;
    }
    EXPECT_FALSE(accepts(g, "0" + std::to_string(c.hi)));  // no leading zeros
  }
  expect_language(R"({"type":"integer","minimum":10})", {"10", "99", "100000", "9999999999999999"},
                  {"9", "-10", "010"});
  expect_language(R"({"type":"integer","maximum":-10})", {"-10", "-11", "-100000"}, {"-9", "0", "10"});
}

TEST(JsonSchema, Patterns) {
  expect_language(R"({"type":"string","pattern":"^[A-Z]{2}-\\d{3,4}$"})", {R"("AB-123")", R"("XY-1234")"},
                  {R"("AB-12")", R"("ab-123")", R"(" AB-123")"});
  // Unanchored: a search, anything may come before and after.
  expect_language(R"({"type":"string","pattern":"ab+c"})", {R"("abc")", R"("xxabbbcyy")"}, {R"("ac")", R"("")"});
  expect_language(R"({"type":"string","pattern":"^(cat|dog)s?$|^bird$"})", {R"("cat")", R"("dogs")", R"("bird")"},
                  {R"("cats!")", R"("birds")"});
  // Characters JSON escapes are matched in their escaped form.
  expect_language(R"({"type":"string","pattern":"^a\"b\\\\c\\n$"})", {R"("a\"b\\c\n")"}, {R"("a"b\c")"});
  expect_language(R"({"type":"string","pattern":"^.$"})", {R"("x")", R"("\"")", "\"\xc3\xa9\""},
                  {R"("\n")", R"("xy")", R"("")"});
  expect_language(R"({"type":"string","pattern":"^[^a-z]+$"})", {R"("ABC")", R"("A\"")"}, {R"("AbC")"});
  expect_language(R"({"type":"string","pattern":"^\\w+\\s\\S$"})", {R"("a_1 x")", R"("ab\tx")"}, {R"("a  x")"});
  expect_language(R"({"type":"string","pattern":"^(?:ab){2}$"})", {R"("abab")"}, {R"("ab")"});
  // A quantifier after a character written as an escape repeats the whole escape.
  expect_language(R"({"type":"string","pattern":"^a\\\\?$"})", {R"("a")", R"("a\\")"}, {R"("a\")", R"("a\\\\")"});
}

TEST(JsonSchema, RefusesUnsupportedKeywordsNamingWhere) {
  error e = compile_error(R"({"type":"object","properties":{"x":{"not":{"type":"string"}}}})");
  EXPECT_EQ(e.kind, error_kind::unsupported);
  EXPECT_EQ(e.message, "unsupported JSON Schema keyword 'not' at /properties/x");
  for (const char* schema :
       {R"({"if":{},"then":{}})", R"({"type":"object","patternProperties":{"a":{}}})", R"({"dependentRequired":{}})",
        R"({"type":"array","uniqueItems":true})", R"({"type":"integer","multipleOf":3})",
        R"({"type":"object","minProperties":1})", R"({"type":"number","minimum":0})",
        R"({"$ref":"https://example.com/s.json"})", R"({"type":"string","format":"uri"})",
        R"~({"type":"string","pattern":"^(?=a)"})~", R"({"type":"string","pattern":"(a)\\1"})",
        R"({"type":"string","pattern":"a^b"})", R"({"type":"array","maxItems":1000000})",
        R"({"type":"string","pattern":"a{1,100000}"})", R"({"type":"string","pattern":"\\bx"})",
        R"({"type":"string","pattern":"(a?)*"})", "false"}) {
    EXPECT_EQ(compile_error(schema).kind, error_kind::unsupported) << schema;
  }
  EXPECT_NE(compile_error(R"({"items":{"items":{"if":true}}})").message.find("at /items/items"), std::string::npos);
}

TEST(JsonSchema, RefusesInvalidSchemas) {
  for (const char* schema : {R"({"type":"strin"})", R"({"enum":[]})", R"({"type":"string","minLength":-1})",
                             R"({"$ref":"#/$defs/missing"})", R"({"type":"integer","minimum":5,"maximum":4})",
                             R"({"type":"string","pattern":"(ab"})", R"({"required":"a"})", "3"}) {
    EXPECT_EQ(compile_error(schema).kind, error_kind::invalid_input) << schema;
  }
}

TEST(JsonSchema, IgnoresAnnotations) {
  expect_language(
      R"({"title":"T","description":"d","default":1,"examples":[1],"$schema":"https://json-schema.org/draft/2020-12/schema",
                      "$id":"x","$comment":"c","deprecated":false,"readOnly":true,"writeOnly":false,"type":"integer"})",
      {"1"}, {"\"1\""});
}

TEST(JsonSchema, HostileSchemasFailFast) {
  std::string deep = R"({"type":"string"})";
  for (int i = 0; i < 200; i++) deep = R"({"type":"array","items":)" + deep + "}";
  EXPECT_NE(compile_error(deep).message.find("nested deeper"), std::string::npos);
  // Left recursion through $ref never reaches a value: refused, not handed to the parser.
  EXPECT_EQ(
      compile_error(R"({"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}},"$ref":"#/$defs/a"})").kind,
      error_kind::unsupported);
  // Many large repetitions together: refused before the parser's own bound.
  json wide = {{"type", "object"}, {"properties", json::object()}};
  for (int i = 0; i < 100; i++)
    wide["properties"]["p" + std::to_string(i)] = {{"type", "string"}, {"maxLength", 10000}};
  auto gbnf = json_schema_to_gbnf(wide);
  EXPECT_FALSE(gbnf.ok());
  EXPECT_EQ(gbnf.kind(), error_kind::unsupported);
}

TEST(JsonSchema, LongDeclaredNamesKeepGroupsShallow) {
  // The key trie nests a group per character; a 600-character name must still parse.
  std::string name(600, 'x');
  json schema = {{"type", "object"}, {"properties", {{name, {{"type", "null"}}}}}, {"additionalProperties", true}};
  auto gbnf = json_schema_to_gbnf(schema);
  ASSERT_TRUE(gbnf.ok()) << gbnf.error_message();
  auto g = grammar::parse(*gbnf);
  ASSERT_TRUE(g.ok()) << g.error_message();
  EXPECT_TRUE(accepts(*g, "{\"" + name + "\":null}"));
  EXPECT_TRUE(accepts(*g, "{\"" + name.substr(1) + "\":1}"));
  EXPECT_TRUE(accepts(*g, "{\"" + name + "y\":1}"));
  EXPECT_FALSE(accepts(*g, "{\"" + name + "\":1}"));
}

TEST(JsonSchema, RulesWithPrefixEmbed) {
  auto a = json_schema_rules(json::parse(R"({"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]})"),
                             "a-");
  auto b = json_schema_rules(json::parse(R"({"type":"array","items":{"type":"string"}})"), "b-");
  ASSERT_TRUE(a.ok() && b.ok());
  for (const std::string* rules : {&*a, &*b}) {
    size_t line = 0;
    while (line < rules->size()) {
      EXPECT_TRUE(rules->compare(line, 2, "a-") == 0 || rules->compare(line, 2, "b-") == 0) << rules->substr(line, 40);
      line = rules->find('\n', line) + 1;
    }
  }
  auto g = grammar::parse("root ::= a-value \"|\" b-value\n" + *a + *b);
  ASSERT_TRUE(g.ok()) << g.error_message();
  EXPECT_TRUE(accepts(*g, R"({"n":1}|["x","y"])"));
  EXPECT_FALSE(accepts(*g, R"({"n":"1"}|["x"])"));
  EXPECT_EQ(json_schema_rules(json::object(), "bad prefix").kind(), error_kind::invalid_input);
}

}  // namespace
}  // namespace pocketlm::grammar
