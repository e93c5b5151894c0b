// Token masks against the definition: for every token, a copy of the matcher accepts its piece.
// The vocabulary looks like a real one: every short substring of JSON documents (multi-byte
// characters split at every byte too), random bytes, duplicates and empty pieces.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "grammar_samples.h"
#include "grammar_test_util.h"

namespace pocketlm::grammar {
namespace {

using testing::must_parse;

const std::string sample_json =
    "{\"name\": \"Ада Лавлейс\", \"born\": 1815, \"tags\": [\"math\", \"poet\\u00e9\", \"😀 ok\"],\n"
    "  \"ratio\": -0.25e+3, \"ok\": true, \"none\": null, \"nested\": {\"a\": [1, 2, {\"b\": \"\\\"q\\\"\"}]}}";

std::vector<std::string> vocabulary() {
  std::set<std::string> unique;
  for (size_t len = 1; len <= 10; ++len)
    for (size_t i = 0; i + len <= sample_json.size(); ++i) unique.insert(sample_json.substr(i, len));
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string random(1 + rng() % 4, '\0');
    for (char& c : random) c = static_cast<char>(rng() % 256);
    unique.insert(random);
  }
  std::vector<std::string> pieces(unique.begin(), unique.end());
  pieces.push_back("");        // control tokens: never allowed
  pieces.push_back("\"name");  // a duplicate piece: both ids allowed together
  pieces.insert(pieces.begin() + 10, "");
  return pieces;
}

std::vector<uint8_t> brute_force(const matcher& m, const std::vector<std::string>& pieces) {
  std::vector<uint8_t> allowed(pieces.size(), 0);
  for (size_t i = 0; i < pieces.size(); ++i) allowed[i] = !pieces[i].empty() && m.allows(pieces[i]);
  return allowed;
}

size_t count(const std::vector<uint8_t>& mask) {
  size_t n = 0;
  for (uint8_t v : mask) n += v;
  return n;
}

TEST(TokenMask, MatchesBruteForceThroughAJsonDocument) {
  auto pieces = vocabulary();
  ASSERT_GT(pieces.size(), 3000u);
  token_trie trie(pieces);
  EXPECT_EQ(trie.size(), pieces.size());
  matcher m(must_parse(testing::json_gbnf));
  std::vector<uint8_t> allowed;
  size_t checked = 0;
  for (size_t i = 0; i <= sample_json.size(); ++i) {
    allowed_tokens(m, trie, allowed);
    ASSERT_EQ(allowed, brute_force(m, pieces)) << "after " << i << " bytes";
    EXPECT_GT(count(allowed), 0u);
    ++checked;
    if (i < sample_json.size()) {
      ASSERT_TRUE(m.accept(sample_json.substr(i, 1))) << i;  // splits code points too
    }
  }
  EXPECT_TRUE(m.can_end());
  EXPECT_EQ(checked, sample_json.size() + 1);
}

TEST(TokenMask, EmptyPiecesAndExactAnswers) {
  std::vector<std::string> pieces = {"", "a", "ab", "abc", "b", "ab", "\xD0", "\xD0\xB0", "x"};
  token_trie trie(pieces);
  matcher m(must_parse("root ::= \"ab\" [а-я]?\n"));
  std::vector<uint8_t> allowed;
  allowed_tokens(m, trie, allowed);
  EXPECT_EQ(allowed, (std::vector<uint8_t>{0, 1, 1, 0, 0, 1, 0, 0, 0}));
  ASSERT_TRUE(m.accept("ab"));
  allowed_tokens(m, trie, allowed);
  EXPECT_EQ(allowed, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 1, 1, 0}));
}

TEST(TokenMask, OtherGrammarsMatchBruteForce) {
  auto pieces = vocabulary();
  for (const char* piece : {"1. ", "e4", " e5\n", "Nf3", "O-O", "x + ", "= ", "- ", "milk\n", "\n"})
    pieces.push_back(piece);
  token_trie trie(pieces);
  struct sample {
    const char* gbnf;
    std::string text;
  };
  for (const sample& s :
       {sample{testing::chess_gbnf, "1. e4 e5\n2. Nf3 Nc6\n"}, sample{testing::arithmetic_gbnf, "(a + 2) * b = 7\n"},
        sample{testing::list_gbnf, "- Ада\n- 😀 x\n"}}) {
    matcher m(must_parse(s.gbnf));
    std::vector<uint8_t> allowed;
    for (size_t i = 0; i <= s.text.size(); ++i) {
      allowed_tokens(m, trie, allowed);
      ASSERT_EQ(allowed, brute_force(m, pieces)) << s.gbnf << " after " << i;
      if (i < s.text.size()) {
        ASSERT_TRUE(m.accept(s.text.substr(i, 1)));
      }
    }
  }
}

TEST(TokenMask, ManyStacksMatchBruteForce) {
  // Hundreds of stacks at once (more than the walker memoizes by matched bits).
  auto pieces = vocabulary();
  for (const char* piece : {"a", "aa", "d", "db", "dc", "dbc", "bcb"}) pieces.push_back(piece);
  token_trie trie(pieces);
  matcher m(must_parse("root ::= x\nx ::= \"a\" x \"b\" | \"a\" x \"c\" | \"d\"\n"));
  ASSERT_TRUE(m.accept("aaaaaaa"));
  std::vector<uint8_t> allowed;
  allowed_tokens(m, trie, allowed);
  EXPECT_EQ(allowed, brute_force(m, pieces));
  ASSERT_TRUE(m.accept("d"));
  allowed_tokens(m, trie, allowed);
  EXPECT_EQ(allowed, brute_force(m, pieces));
}

TEST(MaskCache, SameMasksAndHitsInsideAString) {
  auto pieces = vocabulary();
  auto trie = std::make_shared<const token_trie>(pieces);
  auto g = must_parse(testing::json_gbnf);
  mask_cache cache(trie);
  matcher m(g);
  std::string doc = "{\"text\": \"" + std::string(200, 'z') + "\", \"n\": 1234567}";
  std::vector<uint8_t> expected;
  for (size_t i = 0; i <= doc.size(); ++i) {
    allowed_tokens(m, *trie, expected);
    ASSERT_EQ(cache.allowed(m), expected) << i;
    if (i < doc.size()) {
      ASSERT_TRUE(m.accept(doc.substr(i, 1)));
    }
  }
  EXPECT_EQ(cache.hits() + cache.misses(), doc.size() + 1);
  EXPECT_GT(cache.hits(), 200u);  // every byte of the long string after the first
  EXPECT_LT(cache.misses(), 40u);
}

TEST(MaskCache, EvictsWhenFullAndStaysCorrect) {
  auto pieces = vocabulary();
  auto trie = std::make_shared<const token_trie>(pieces);
  mask_cache cache(trie, 2);
  auto g = must_parse("root ::= [0-9]{0,50}\n");  // every length a different state
  matcher m(g);
  std::vector<uint8_t> expected;
  for (int round = 0; round < 2; ++round) {
    matcher walk = m;
    for (int i = 0; i < 20; ++i) {
      allowed_tokens(walk, *trie, expected);
      ASSERT_EQ(cache.allowed(walk), expected);
      ASSERT_TRUE(walk.accept("5"));
    }
  }
  EXPECT_EQ(cache.hits(), 0u);  // 20 distinct states through 2 entries: always evicted
  // Another grammar through the same cache: its own masks, not the first grammar's.
  matcher other(must_parse("root ::= \"{\"\n"));
  allowed_tokens(other, *trie, expected);
  EXPECT_EQ(cache.allowed(other), expected);
}

}  // namespace
}  // namespace pocketlm::grammar
