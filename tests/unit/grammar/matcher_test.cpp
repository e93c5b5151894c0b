// The matcher on real strings: JSON, arithmetic, lists, chess moves; UTF-8 classes and code
// points split across accept calls; rejection leaves the state unchanged; the ambiguity bound.
#include <gtest/gtest.h>

#include <string>

#include "grammar_samples.h"
#include "grammar_test_util.h"

namespace pocketlm::grammar {
namespace {

using testing::matches;
using testing::must_parse;
using testing::prefix_ok;

TEST(Matcher, Json) {
  auto g = must_parse(testing::json_gbnf);
  EXPECT_TRUE(matches(g, R"({"a": 1, "b": [true, false, null], "c": {"d": "e\n\u00e9"}})"));
  EXPECT_TRUE(matches(g, "[1.5e+3, -0, 12, \"\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82\"]"));
  EXPECT_TRUE(matches(g, "{\n  \"k\": [ ]\n}"));
  EXPECT_FALSE(matches(g, R"({"a": 1,})"));
  EXPECT_FALSE(matches(g, R"({"a" 1})"));
  EXPECT_FALSE(matches(g, R"("tab	inside")"));  // a raw control character in a string
  EXPECT_FALSE(matches(g, R"([01])"));
  EXPECT_FALSE(matches(g, R"({"a": 1)"));
  EXPECT_TRUE(prefix_ok(g, R"({"a": 1)"));
  EXPECT_FALSE(prefix_ok(g, R"({"a": 1]})"));
}

TEST(Matcher, Arithmetic) {
  auto g = must_parse(testing::arithmetic_gbnf);
  EXPECT_TRUE(matches(g, "x + 2 = 5\n"));
  EXPECT_TRUE(matches(g, "(a1*b)/ (c-3) = q\ny=1\n"));
  EXPECT_FALSE(matches(g, "x + = 5\n"));
  EXPECT_FALSE(matches(g, "x = 5"));
  EXPECT_FALSE(matches(g, "X = 5\n"));
}

TEST(Matcher, Lists) {
  auto g = must_parse(testing::list_gbnf);
  EXPECT_TRUE(matches(g, "- milk\n- eggs \xE2\x80\x94 a dozen\n"));
  EXPECT_FALSE(matches(g, "- \n"));
  EXPECT_FALSE(matches(g, "* milk\n"));
  EXPECT_FALSE(matches(g, "- a\xE2\x80\xA8z\n"));  // U+2028 is excluded
}

TEST(Matcher, Chess) {
  auto g = must_parse(testing::chess_gbnf);
  EXPECT_TRUE(matches(g, "1. e4 e5\n2. Nf3 Nc6\n3. Bb5 a6\n4. O-O Nxe4\n10. exd8=Q+ Kxd8\n"));
  EXPECT_FALSE(matches(g, "1. e9 e5\n"));
  EXPECT_FALSE(matches(g, "1. e4\n"));
  EXPECT_FALSE(matches(g, "1. Zf3 e5\n"));
}

TEST(Matcher, CyrillicRangeAndEmoji) {
  auto g = must_parse("root ::= [а-я]+ \" \" [\\U0001F600-\\U0001F64F]\n");
  EXPECT_TRUE(matches(g, "привет \xF0\x9F\x98\x80"));
  EXPECT_FALSE(matches(g, "Привет \xF0\x9F\x98\x80"));  // П is outside [а-я]
  EXPECT_FALSE(matches(g, "привет \xF0\x9F\x9A\x80"));  // 🚀 U+1F680 is outside the range
  EXPECT_FALSE(matches(g, "hello \xF0\x9F\x98\x80"));
}

TEST(Matcher, CodePointSplitAcrossCalls) {
  auto g = must_parse("root ::= [а-я]+ \"!\"\n");
  matcher m(g);
  EXPECT_TRUE(m.accept("\xD0"));  // first byte of а..п
  EXPECT_FALSE(m.can_end());
  EXPECT_TRUE(m.accept("\xB0"));  // а
  EXPECT_TRUE(m.accept("\xD1\x8F\xD0"));
  EXPECT_FALSE(m.accept("!"));  // a code point is still open
  EXPECT_TRUE(m.accept("\xBF!"));
  EXPECT_TRUE(m.can_end());
  EXPECT_TRUE(m.finished());

  // A lead byte whose code points all lie outside the class is refused at once.
  matcher ascii(must_parse("root ::= [a-z]+\n"));
  EXPECT_FALSE(ascii.accept("\xD0"));
  EXPECT_FALSE(ascii.accept("\x80"));  // a lone continuation byte
  // A negated class accepts a partial code point it does not wholly exclude.
  matcher negated(must_parse("root ::= [^а-я]\n"));
  EXPECT_TRUE(negated.accept("\xD0"));
  EXPECT_FALSE(negated.allows("\xB0"));  // а
  EXPECT_TRUE(negated.allows("\x80"));   // Ѐ (U+0400)
}

// Only well-formed UTF-8 matches (RFC 3629): an overlong "\xC0\xA2" is not a quote, and
// no lead byte is allowed whose every well-formed continuation lies outside the class.
TEST(Matcher, MalformedUtf8NeverMatches) {
  auto g = must_parse("root ::= \"\\\"\" [^\"]* \"\\\"\"\n");  // a quoted string
  EXPECT_TRUE(matches(g, "\"x\""));
  EXPECT_FALSE(matches(g, "\xC0\xA2x\""));                                      // overlong quote
  EXPECT_FALSE(matches(g, "\"\xE0\x80\xA2\""));                                 // overlong, 3 bytes
  EXPECT_FALSE(matches(g, "\"\xF0\x80\x80\xA2\""));                             // overlong, 4 bytes
  EXPECT_FALSE(matches(g, "\"\xED\xA0\x80\""));                                 // a surrogate
  EXPECT_FALSE(matches(g, "\"\xF4\x90\x80\x80\""));                             // past U+10FFFF
  EXPECT_FALSE(matches(g, "\"\xF8\x88\x80\x80\x80\""));                         // 5-byte forms do not exist
  EXPECT_TRUE(matches(g, "\"\xE0\xA0\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\""));  // the smallest and largest
  // A 3-byte lead cannot end in an ASCII digit: [0-9] refuses \xE0 (it once allowed it: range 0..0xFFF).
  matcher digits(must_parse("root ::= [0-9]+\n"));
  EXPECT_FALSE(digits.allows("\xE0"));
  EXPECT_FALSE(digits.allows("\xF0"));
}

TEST(Matcher, RejectLeavesStateUnchanged) {
  auto g = must_parse(testing::json_gbnf);
  matcher m(g);
  ASSERT_TRUE(m.accept("{\"a\": 1"));
  matcher before = m;
  EXPECT_FALSE(m.accept("2]"));  // the '2' fits, the ']' does not: nothing is kept
  EXPECT_TRUE(m.same_state(before));
  EXPECT_TRUE(m.accept("}"));
  EXPECT_TRUE(m.can_end());
  EXPECT_FALSE(m.finished());  // whitespace may follow
  EXPECT_FALSE(before.same_state(m));
}

TEST(Matcher, AllowsDoesNotAdvance) {
  matcher m(must_parse("root ::= \"ab\"\n"));
  EXPECT_TRUE(m.allows("a"));
  EXPECT_TRUE(m.allows("ab"));
  EXPECT_FALSE(m.allows("b"));
  EXPECT_FALSE(m.allows("abc"));
  EXPECT_TRUE(m.accept("ab"));
  EXPECT_TRUE(m.finished());
  EXPECT_FALSE(m.allows("a"));
}

TEST(Matcher, CopiesAreIndependent) {
  matcher a(must_parse("root ::= \"x\" \"1\" | \"y\" \"2\"\n"));
  matcher b = a;
  EXPECT_TRUE(a.accept("x"));
  EXPECT_TRUE(b.accept("y"));
  EXPECT_FALSE(a.same_state(b));
  EXPECT_FALSE(a.allows("2"));
  EXPECT_TRUE(b.allows("2"));
}

TEST(Matcher, EqualStatesReachedDifferentlyCompareEqual) {
  auto g = must_parse("root ::= [a-z]*\n");
  matcher a(g), b(g);
  ASSERT_TRUE(a.accept("abc"));
  ASSERT_TRUE(b.accept("z"));
  EXPECT_TRUE(a.same_state(b));
  EXPECT_EQ(a.state_hash(), b.state_hash());
}

TEST(Matcher, RepetitionBounds) {
  auto g = must_parse("root ::= \"a\"{2,5} \"b\"{3}\n");
  EXPECT_TRUE(matches(g, "aabbb"));
  EXPECT_TRUE(matches(g, "aaaaabbb"));
  EXPECT_FALSE(matches(g, "abbb"));
  EXPECT_FALSE(matches(g, "aaaaaabbb"));
  EXPECT_FALSE(matches(g, "aabb"));
  EXPECT_FALSE(matches(g, "aabbbb"));
  auto big = must_parse("root ::= [0-9]{10000}\n");
  EXPECT_TRUE(matches(big, std::string(10000, '5')));
  EXPECT_FALSE(matches(big, std::string(9999, '5')));
}

TEST(Matcher, AmbiguousGrammarFailsClearly) {
  // Every "a" doubles the ways to finish: after n of them, 2^n continuations, each under three
  // tops ("a" twice, "d"): 3 * 2^n stacks.
  auto g = must_parse("root ::= x\nx ::= \"a\" x \"b\" | \"a\" x \"c\" | \"d\"\n");
  matcher m(g);
  int accepted = 0;
  while (m.accept("a")) ++accepted;
  EXPECT_EQ(accepted, 8);  // 768 stacks; the 9th "a" would make 1536 > matcher::max_stacks
  EXPECT_TRUE(m.too_ambiguous());
  EXPECT_TRUE(m.accept("d"));
  EXPECT_FALSE(m.too_ambiguous());

  // Nullable rules reachable along many paths expand once each (no exponential blow-up).
  std::string gbnf = "root ::=";
  for (int i = 0; i < 40; ++i) gbnf += " ((\"a\"?)?)?";
  gbnf += " \"z\"\n";
  EXPECT_TRUE(matches(must_parse(gbnf), "aaaz"));
}

TEST(Matcher, DeepRightRecursion) {
  auto g = must_parse(testing::json_gbnf);
  std::string deep = std::string(2000, '[') + std::string(2000, ']');
  EXPECT_TRUE(matches(g, deep));
}

}  // namespace
}  // namespace pocketlm::grammar
