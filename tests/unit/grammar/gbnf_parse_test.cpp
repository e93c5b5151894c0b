// GBNF parsing: every construct of llama.cpp's grammars/README.md, checked through what the
// parsed grammar accepts, and every error with its line and column.
#include <gtest/gtest.h>

#include <string>

#include "grammar_test_util.h"

namespace pocketlm::grammar {
namespace {

using testing::matches;
using testing::must_parse;
using testing::parse_error;
using testing::prefix_ok;

TEST(GbnfParse, LiteralsAndSequences) {
  auto g = must_parse("root ::= \"ab\" \"c\"\n");
  EXPECT_TRUE(matches(g, "abc"));
  EXPECT_FALSE(matches(g, "ab"));
  EXPECT_FALSE(matches(g, "abcd"));
  EXPECT_TRUE(prefix_ok(g, "ab"));
  EXPECT_FALSE(prefix_ok(g, "ac"));
}

TEST(GbnfParse, Alternatives) {
  auto g = must_parse("root ::= \"yes\" | \"no\" | \n  \"maybe\"\n");
  EXPECT_TRUE(matches(g, "yes"));
  EXPECT_TRUE(matches(g, "no"));
  EXPECT_TRUE(matches(g, "maybe"));
  EXPECT_FALSE(matches(g, "y"));
  EXPECT_FALSE(matches(g, "yesno"));
}

TEST(GbnfParse, EmptyAlternative) {
  auto g = must_parse("root ::= \"a\" x\nx ::= \"b\" | \n");
  EXPECT_TRUE(matches(g, "a"));
  EXPECT_TRUE(matches(g, "ab"));
  EXPECT_FALSE(matches(g, "abb"));
}

TEST(GbnfParse, Escapes) {
  auto g = must_parse(R"(root ::= "\n\t\r\\\"\x41\u00e9\U0001F600" [\[\]] )"
                      "\n");
  EXPECT_TRUE(matches(g, "\n\t\r\\\"A\xC3\xA9\xF0\x9F\x98\x80["));
  EXPECT_TRUE(matches(g, "\n\t\r\\\"A\xC3\xA9\xF0\x9F\x98\x80]"));
  EXPECT_FALSE(matches(g, "\n\t\r\\\"B\xC3\xA9\xF0\x9F\x98\x80]"));
}

TEST(GbnfParse, CharacterClasses) {
  auto g = must_parse("root ::= [a-cx] [^0-9\\n] [-] [a-]\n");
  EXPECT_TRUE(matches(g, "a!--"));
  EXPECT_TRUE(matches(g, "xQ-a"));
  EXPECT_FALSE(matches(g, "d!--"));
  EXPECT_FALSE(matches(g, "a5--"));
  EXPECT_FALSE(matches(g, "a\n--"));
  EXPECT_FALSE(matches(g, "a!-b"));
}

TEST(GbnfParse, AnyCodePoint) {
  auto g = must_parse("root ::= . .\n");
  EXPECT_TRUE(matches(g, "ab"));
  EXPECT_TRUE(matches(g, "\xD1\x8F\xF0\x9F\x98\x80"));  // я 😀: two code points
  EXPECT_FALSE(matches(g, "abc"));
  EXPECT_FALSE(matches(g, "a"));
}

TEST(GbnfParse, GroupsAndNewlinesInside) {
  auto g = must_parse("root ::= (\n  \"a\" |\n  \"b\" # a comment\n  \"c\"\n)+ \"!\"\n");
  EXPECT_TRUE(matches(g, "a!"));
  EXPECT_TRUE(matches(g, "bcaa!"));
  EXPECT_FALSE(matches(g, "b!"));
  EXPECT_FALSE(matches(g, "!"));
}

TEST(GbnfParse, StarPlusOptional) {
  auto g = must_parse("root ::= \"a\"* \"b\"+ \"c\"?\n");
  EXPECT_TRUE(matches(g, "b"));
  EXPECT_TRUE(matches(g, "aaabbc"));
  EXPECT_FALSE(matches(g, "aaac"));
  EXPECT_FALSE(matches(g, "bcc"));
}

TEST(GbnfParse, MultiCharLiteralRepeatsAsAWhole) {
  auto g = must_parse("root ::= \"abcdef\"{2} \"xy\"*\n");
  EXPECT_TRUE(matches(g, "abcdefabcdef"));
  EXPECT_TRUE(matches(g, "abcdefabcdefxyxy"));
  EXPECT_FALSE(matches(g, "abcdefabcdefx"));
  EXPECT_FALSE(matches(g, "abcdef"));
}

TEST(GbnfParse, CountedRepetition) {
  auto exactly = must_parse("root ::= [0-9]{3}\n");
  auto at_least = must_parse("root ::= [0-9]{2,}\n");
  auto between = must_parse("root ::= [0-9]{1,3}\n");
  auto at_most = must_parse("root ::= \"x\" [0-9]{,2}\n");
  auto spaced = must_parse("root ::= \"a\"{ 1 , 2 }\n");
  for (int n = 0; n <= 5; ++n) {
    std::string digits(n, '7');
    EXPECT_EQ(matches(exactly, digits), n == 3) << n;
    EXPECT_EQ(matches(at_least, digits), n >= 2) << n;
    EXPECT_EQ(matches(between, digits), n >= 1 && n <= 3) << n;
    EXPECT_EQ(matches(at_most, "x" + digits), n <= 2) << n;
    EXPECT_EQ(matches(spaced, std::string(n, 'a')), n >= 1 && n <= 2) << n;
  }
}

TEST(GbnfParse, CommentsAndBlankLines) {
  auto g = must_parse("# header comment\n\nroot ::= item # trailing\n\n# between\nitem ::= \"i\"\n");
  EXPECT_TRUE(matches(g, "i"));
}

TEST(GbnfParse, CrLfLineEnds) {
  auto g = must_parse("root ::= a\r\na ::= \"x\"\r\n");
  EXPECT_TRUE(matches(g, "x"));
}

TEST(GbnfParse, OtherRoot) {
  auto g = must_parse("start ::= \"s\" tail\ntail ::= \"t\"\n", "start");
  EXPECT_TRUE(matches(g, "st"));
  EXPECT_FALSE(grammar::parse("start ::= \"s\"\n").ok());  // no rule named root
}

TEST(GbnfParse, ErrorsNameLineAndColumn) {
  EXPECT_EQ(parse_error("root ::= \"a\"\nitem ::= \"b\" @\n"), "GBNF 2:14: expecting a newline or the end of the text");
  EXPECT_EQ(parse_error("root ::= \"abc\n"), "GBNF 1:10: unterminated string literal");
  EXPECT_EQ(parse_error("root ::= [abc\n"), "GBNF 1:10: unterminated character class");
  EXPECT_EQ(parse_error("root :: \"a\"\n"), "GBNF 1:6: expecting ::=");
  EXPECT_EQ(parse_error("::= \"a\"\n"), "GBNF 1:1: expecting a rule name");
  EXPECT_EQ(parse_error("root ::= \"\\q\"\n"), "GBNF 1:11: unknown escape \\q");
  EXPECT_EQ(parse_error("root ::= \"\\x4\"\n"), "GBNF 1:14: expecting 2 hex digits");
  EXPECT_EQ(parse_error("root ::= \"\\U00110000\"\n"), "GBNF 1:13: code point beyond U+10FFFF");
  EXPECT_EQ(parse_error("root ::= [z-a]\n"), "GBNF 1:14: character range out of order");
  EXPECT_EQ(parse_error("root ::= ( \"a\"\n"), "GBNF 2:1: expecting ')' to close the '(' at 1:10");
  EXPECT_EQ(parse_error("root ::= * \"a\"\n"), "GBNF 1:10: nothing before '*' to repeat");
  EXPECT_EQ(parse_error("root ::= \"a\"{2,1}\n"), "GBNF 1:13: repetition {m,n} with n < m");
  EXPECT_EQ(parse_error("root ::= \"a\"{x}\n"), "GBNF 1:14: expecting a number");
  EXPECT_EQ(parse_error("root ::= \"a\"{2\n"), "GBNF 1:15: expecting '}'");
  EXPECT_EQ(parse_error("root ::= \"a\"\nroot ::= \"b\"\n"), "GBNF 2:10: rule 'root' is defined twice");
  EXPECT_EQ(parse_error("root ::= \"a\" \xFF\n"), "GBNF 1:14: expecting a newline or the end of the text");
  EXPECT_EQ(parse_error("root ::= \"\xFF\"\n"), "GBNF 1:11: invalid UTF-8");
}

TEST(GbnfParse, UndefinedRuleAndMissingRoot) {
  EXPECT_EQ(parse_error("root ::= \"a\" value\n"), "GBNF 1:14: undefined rule 'value'");
  EXPECT_EQ(parse_error("item ::= \"a\"\n"), "GBNF: no rule named 'root' (the root)");
  EXPECT_EQ(parse_error(""), "GBNF: no rule named 'root' (the root)");
}

TEST(GbnfParse, LeftRecursionRefused) {
  EXPECT_NE(parse_error("root ::= root \"a\" | \"a\"\n").find("left-recursive"), std::string::npos);
  EXPECT_NE(parse_error("root ::= a\na ::= b \"x\"\nb ::= a | \"y\"\n").find("left-recursive"), std::string::npos);
  // Through a nullable prefix, and through a repetition of something nullable.
  EXPECT_NE(parse_error("root ::= e root \"a\" | \"b\"\ne ::= \"x\" | \n").find("left-recursive"), std::string::npos);
  EXPECT_NE(parse_error("root ::= (\"a\"?)*\n").find("left-recursive"), std::string::npos);
  // Right recursion is fine.
  auto g = must_parse("root ::= \"a\" root | \"a\"\n");
  EXPECT_TRUE(matches(g, "aaaa"));
}

TEST(GbnfParse, HostileInputsAreErrorsNotCrashes) {
  std::string deep = "root ::= " + std::string(100000, '(') + "\"a\"" + std::string(100000, ')') + "\n";
  EXPECT_NE(parse_error(deep).find("nested deeper than"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"a\"{10001}\n").find("repetition count over 10000"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"a\"{99999999999999999999999}\n").find("repetition count over"), std::string::npos);
  // Each count is allowed, but together they would take gigabytes: the compiled size is bounded.
  std::string many = "root ::=";
  for (int i = 0; i < 500; ++i) many += " \"a\"{10000}";
  EXPECT_NE(parse_error(many + "\n").find("too large"), std::string::npos);
  // Nested counts multiply the language, not the compiled size (each copy is one reference).
  std::string nested = "\"ab\"";
  for (int i = 0; i < 6; ++i) nested = "(" + nested + "){10000}";
  EXPECT_TRUE(grammar::parse("root ::= " + nested + "\n").ok());
  // A long chain of rules (no recursion limit in the checks).
  std::string chain;
  for (int i = 0; i < 50000; ++i) chain += "r" + std::to_string(i) + " ::= r" + std::to_string(i + 1) + "\n";
  chain += "r50000 ::= \"end\"\nroot ::= r0\n";
  auto g = must_parse(chain);
  EXPECT_TRUE(matches(g, "end"));
}

TEST(GbnfParse, NestedRepetitionsWithinBounds) {
  auto g = must_parse("root ::= (\"ab\"{2}){3}\n");
  EXPECT_TRUE(matches(g, "abababababab"));
  EXPECT_FALSE(matches(g, "ababababab"));
}

}  // namespace
}  // namespace pocketlm::grammar
