// Streaming <think> splitting: the same reasoning/answer for every way a stream is chunked.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chat/think_split.h"

namespace pocketlm::chat {
namespace {

struct sample {
  bool started_in_think;
  std::string stream;
  std::string reasoning;
  std::string answer;
};

const std::vector<sample> samples = {
    {false, "<think>\nI should greet.\n</think>\n\nHello there!", "I should greet.", "Hello there!"},
    {true, "\nLet me see.\n\n</think>\n\nThe answer is 4.\n", "Let me see.", "The answer is 4.\n"},
    {false, "  Just an answer <think> inline", "", "  Just an answer <think> inline"},
    {false, "\n\n<think>r</think>a", "r", "a"},
    {true, "thinking forever  \n", "thinking forever", ""},
    {false, "<thi", "", "<thi"},
    {true, "abc </thi", "abc </thi", ""},
    {false, "<think>a</think>b<think>c</think>", "a", "b<think>c</think>"},
    {false, "<think>x < y, </b> </thinking> ok </think>done", "x < y, </b> </thinking> ok", "done"},
    {false, "<think>\n\n</think>\n\nHi", "", "Hi"},
    {false, "<think>é \n 世界</think> \n🙂 end ", "é \n 世界", "🙂 end "},
    {true, "\n<think>\nrepeated open</think>x", "repeated open", "x"},
    {true, " <thinking about it </think>x", "<thinking about it", "x"},
    {true, " \n<thi", "<thi", ""},
    {false, "", "", ""},
    {false, " \n ", "", " \n "},
};

think_splitter::out run(const sample& s, const std::vector<std::size_t>& cuts) {
  think_splitter splitter(s.started_in_think);
  think_splitter::out total;
  std::size_t from = 0;
  auto take = [&](const think_splitter::out& o) {
    total.reasoning += o.reasoning;
    total.answer += o.answer;
  };
  for (std::size_t cut : cuts) {
    take(splitter.push(std::string_view(s.stream).substr(from, cut - from)));
    from = cut;
  }
  take(splitter.push(std::string_view(s.stream).substr(from)));
  take(splitter.flush());
  return total;
}

TEST(think_splitter, EveryTwoWaySplitGivesTheSameResult) {
  for (const sample& s : samples) {
    for (std::size_t cut = 0; cut <= s.stream.size(); ++cut) {
      const auto got = run(s, {cut});
      EXPECT_EQ(got.reasoning, s.reasoning) << s.stream << " cut at " << cut;
      EXPECT_EQ(got.answer, s.answer) << s.stream << " cut at " << cut;
    }
  }
}

TEST(think_splitter, EveryThreeWaySplitAndByteByByte) {
  for (const sample& s : samples) {
    for (std::size_t i = 0; i <= s.stream.size(); ++i) {
      for (std::size_t j = i; j <= s.stream.size(); ++j) {
        const auto got = run(s, {i, j});
        ASSERT_EQ(got.reasoning, s.reasoning) << s.stream << " cuts " << i << "," << j;
        ASSERT_EQ(got.answer, s.answer) << s.stream << " cuts " << i << "," << j;
      }
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < s.stream.size(); ++i) every.push_back(i);
    const auto got = run(s, every);
    EXPECT_EQ(got.reasoning, s.reasoning) << s.stream;
    EXPECT_EQ(got.answer, s.answer) << s.stream;
  }
}

TEST(think_splitter, StreamsAsSoonAsTextIsDecided) {
  think_splitter splitter(false);
  auto o = splitter.push("<think>\nHello wor");
  EXPECT_EQ(o.reasoning, "Hello wor");
  o = splitter.push("ld  </thi");  // trailing space and a partial tag are held back
  EXPECT_EQ(o.reasoning, "ld");
  EXPECT_EQ(o.answer, "");
  o = splitter.push("nk>\n\nAns");
  EXPECT_EQ(o.reasoning, "");
  EXPECT_EQ(o.answer, "Ans");
  o = splitter.push("wer");
  EXPECT_EQ(o.answer, "wer");
  o = splitter.flush();
  EXPECT_EQ(o.reasoning + o.answer, "");
}

TEST(think_splitter, HoldsAPartialOpeningTagUntilDecided) {
  think_splitter splitter(false);
  auto o = splitter.push(" <thi");
  EXPECT_EQ(o.reasoning + o.answer, "");
  o = splitter.push("s is not a tag");
  EXPECT_EQ(o.answer, " <this is not a tag");
  EXPECT_EQ(o.reasoning, "");
}

TEST(think_splitter, SpaceInsideReasoningIsReleasedWhenTextFollows) {
  think_splitter splitter(true);
  auto o = splitter.push("a \n");
  EXPECT_EQ(o.reasoning, "a");
  o = splitter.push("b");
  EXPECT_EQ(o.reasoning, " \nb");
}

}  // namespace
}  // namespace pocketlm::chat
