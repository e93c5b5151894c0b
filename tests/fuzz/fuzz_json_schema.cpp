// libFuzzer entry for the JSON Schema compiler: the input parsed as JSON, compiled to GBNF
// (grammar/json_schema.h); whatever compiles must parse with grammar::parse, both as a whole
// grammar and as prefixed rules embedded in another, and a refusal must say why. A compiled
// schema that does not parse is a bug in the compiler, so the target aborts on it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"

namespace {

void must_parse(const std::string& gbnf) {
  auto g = pocketlm::grammar::grammar::parse(gbnf);
  if (!g) {
    std::fprintf(stderr, "compiled grammar does not parse: %s\n%s\n", g.error_message().c_str(), gbnf.c_str());
    std::abort();
  }
  pocketlm::grammar::matcher m(*g);
  m.accept("{\"a\": [1, \"x\", null]}");  // any verdict: the matcher only must not crash
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto schema = nlohmann::ordered_json::parse(data, data + size, nullptr, false);
  if (schema.is_discarded()) return 0;
  auto gbnf = pocketlm::grammar::json_schema_to_gbnf(schema);
  if (!gbnf) {
    if (gbnf.error_message().empty()) std::abort();
    return 0;
  }
  must_parse(*gbnf);
  auto rules = pocketlm::grammar::json_schema_rules(schema, "t-");
  if (!rules) std::abort();  // the same schema compiled a moment ago
  must_parse("root ::= t-value \"\\n\"\n" + *rules);
  return 0;
}
