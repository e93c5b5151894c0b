// WordPiece pre-tokenization (tokenizer/wpm.h) on cases of llama.cpp's preprocess: accents
// stripped after NFD, lowercase, punctuation / ASCII symbols / CJK ideographs as words of their
// own, controls dropped, non-ASCII symbols kept inside words. Whole-vocabulary agreement with
// llama.cpp is tests/diff/embeddings.test.mjs.
#include <gtest/gtest.h>

#include "tokenizer/wpm.h"

namespace pocketlm {
namespace {

using words = std::vector<std::string>;

TEST(Wordpiece, NormalisesAndSplitsAsLlamaCpp) {
  EXPECT_EQ(wpm_words("Héllo, WORLD!", true, true), (words{"hello", ",", "world", "!"}));
  EXPECT_EQ(wpm_words("Crème Brûlée", true, true), (words{"creme", "brulee"}));
  EXPECT_EQ(wpm_words("Crème", false, false), (words{"Crème"}));
  EXPECT_EQ(wpm_words("日本語abc", true, true), (words{"日", "本", "語", "abc"}));
  EXPECT_EQ(wpm_words("a\x07"
                      "b\tc\u3000d",
                      true, true),
            (words{"ab", "c", "d"}));
  EXPECT_EQ(wpm_words("€5 x+y", true, true), (words{"€5", "x", "+", "y"}));
  EXPECT_EQ(wpm_words("ΑΒΓ Ωmega", true, true), (words{"αβγ", "ωmega"}));
  EXPECT_TRUE(wpm_words(" \n ", true, true).empty());
}

}  // namespace
}  // namespace pocketlm
