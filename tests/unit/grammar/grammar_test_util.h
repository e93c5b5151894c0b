// Helpers shared by the grammar tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "grammar/grammar.h"

namespace pocketlm::grammar::testing {

inline grammar_ptr must_parse(std::string_view gbnf, std::string_view root = "root") {
  auto g = grammar::parse(gbnf, root);
  EXPECT_TRUE(g.ok()) << g.error_message() << "\n" << gbnf;
  return g.ok() ? *g : nullptr;
}

// Whether the whole of `text` is a sentence of the grammar.
inline bool matches(const grammar_ptr& g, std::string_view text) {
  matcher m(g);
  return m.accept(text) && m.can_end();
}

// Whether `text` is a prefix of some sentence.
inline bool prefix_ok(const grammar_ptr& g, std::string_view text) {
  matcher m(g);
  return m.accept(text);
}

inline std::string parse_error(std::string_view gbnf) {
  auto g = grammar::parse(gbnf);
  return g.ok() ? std::string("(parsed)") : g.error_message();
}

}  // namespace pocketlm::grammar::testing
