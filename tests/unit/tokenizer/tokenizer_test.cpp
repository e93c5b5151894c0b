// Behaviour of the tokenizer API beyond the golden ids: special-token handling, BOS rules,
// end-of-generation ids, decoding, streaming UTF-8, pre-tokenizer splits and load errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tokenizer/pretokenize.h"
#include "vocab_fixture.h"

namespace pocketlm::test {
namespace {

// Loaded once per process: the Qwen3/Llama 3 vocabularies take a second to build.
const loaded_vocab& vocab(const vocab_preset& p) {
  static std::map<std::string, loaded_vocab> cache;
  auto it = cache.find(p.name);
  if (it != cache.end()) return it->second;
  loaded_vocab v;
  v.bytes = build_vocab_gguf(p);
  v.file = gguf::file::parse(v.bytes.data(), v.bytes.size()).value();
  v.tok = tokenizer::from_gguf(*v.file).value();
  return cache.emplace(p.name, std::move(v)).first->second;
}

const tokenizer& stories() {
  static auto f = gguf::file::open(stories_path());
  static auto t = tokenizer::from_gguf(**f);
  return **t;
}

TEST(Tokenizer, ControlTokenOnlyParsedWhenAsked) {
  const tokenizer& t = *vocab(k_qwen3).tok;
  const int32_t im_end = t.find_token("<|im_end|>");
  ASSERT_EQ(im_end, 151645);
  EXPECT_EQ(t.encode("<|im_end|>", false, true), std::vector<int32_t>{im_end});
  const auto plain = t.encode("<|im_end|>", false, false);
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), im_end), 0);
  EXPECT_EQ(t.decode(plain), "<|im_end|>");
}

TEST(Tokenizer, UserDefinedTokenMatchedEvenWithoutParseSpecial) {
  const tokenizer& t = *vocab(k_qwen3).tok;
  const int32_t think = t.find_token("<think>");
  ASSERT_GE(think, 0);
  EXPECT_EQ(t.encode("<think>", false, false), std::vector<int32_t>{think});
}

TEST(Tokenizer, BosFollowsTheFile) {
  const tokenizer& llama3 = *vocab(k_llama3).tok;
  EXPECT_EQ(llama3.bos(), 128000);
  EXPECT_EQ(llama3.encode("Hi", true, false).front(), 128000);
  EXPECT_NE(llama3.encode("Hi", false, false).front(), 128000);
  const tokenizer& qwen = *vocab(k_qwen3).tok;
  EXPECT_EQ(qwen.encode("Hi", true, false), qwen.encode("Hi", false, false));
  EXPECT_EQ(stories().encode("Hi", true, false).front(), 1);
  EXPECT_EQ(stories().encode("", true, false), std::vector<int32_t>{1});
  EXPECT_TRUE(stories().encode("", false, false).empty());
}

TEST(Tokenizer, SpecialIdsAndEndOfGeneration) {
  // stories260K stores 0xFFFFFFFF for two ids: llama.cpp keeps its SentencePiece defaults.
  EXPECT_EQ(stories().bos(), 1);
  EXPECT_EQ(stories().eos(), 2);
  EXPECT_EQ(stories().n_vocab(), 512);
  EXPECT_TRUE(stories().is_end_of_generation(2));
  EXPECT_FALSE(stories().is_end_of_generation(1));
  const tokenizer& qwen = *vocab(k_qwen3).tok;
  for (const char* s : {"<|im_end|>", "<|endoftext|>", "<|fim_pad|>", "<|file_sep|>"}) {
    EXPECT_TRUE(qwen.is_end_of_generation(qwen.find_token(s))) << s;
  }
  EXPECT_FALSE(qwen.is_end_of_generation(qwen.find_token("<|im_start|>")));
  const tokenizer& llama3 = *vocab(k_llama3).tok;
  EXPECT_TRUE(llama3.is_end_of_generation(llama3.find_token("<|eot_id|>")));
  EXPECT_TRUE(llama3.is_end_of_generation(128001));
  EXPECT_FALSE(llama3.is_end_of_generation(llama3.find_token("Hello")));
  EXPECT_EQ(llama3.find_token("no such token \x01"), -1);
}

TEST(Tokenizer, PiecesAndRenderSpecial) {
  const tokenizer& qwen = *vocab(k_qwen3).tok;
  EXPECT_EQ(qwen.token_to_piece(151645), "<|im_end|>");
  EXPECT_EQ(qwen.token_to_piece(151645, false), "");
  EXPECT_EQ(qwen.token_to_piece(qwen.find_token("\xC4\xA0the")), " the");
  EXPECT_EQ(qwen.token_to_piece(-1), "");
  EXPECT_EQ(qwen.token_to_piece(qwen.n_vocab()), "");
  EXPECT_EQ(stories().token_to_piece(stories().find_token("<0x0A>")), "\n");
  EXPECT_EQ(stories().decode(stories().encode("Once upon a time", true, false)), "<s>Once upon a time");
  EXPECT_EQ(stories().decode(stories().encode("Once upon a time", true, false), false), "Once upon a time");
}

TEST(Tokenizer, InvalidUtf8) {
  // SentencePiece keeps raw bytes (byte fallback); byte-level BPE sees U+FFFD per bad byte.
  const int32_t ff = stories().find_token("<0xFF>");
  ASSERT_GE(ff, 0);
  const auto ids = stories().encode("\xFF", false, false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.back(), ff);
  EXPECT_EQ(stories().decode(ids), "\xFF");
  const tokenizer& qwen = *vocab(k_qwen3).tok;
  EXPECT_EQ(qwen.encode("a\xFF\xC3", false, false), qwen.encode("a\xEF\xBF\xBD\xEF\xBF\xBD", false, false));
}

TEST(Utf8Stream, HoldsBackSplitCharacters) {
  utf8_stream s;
  EXPECT_EQ(s.push("a\xE4\xBD"), "a");
  EXPECT_EQ(s.push("\xA0"), "\xE4\xBD\xA0");
  EXPECT_EQ(s.push("\xF0\x9F"), "");
  EXPECT_EQ(s.push("\x99"), "");
  EXPECT_EQ(s.push("\x82!"), "\xF0\x9F\x99\x82!");
  EXPECT_EQ(s.push("\xE4"), "");
  EXPECT_EQ(s.flush(), "\xE4");
  EXPECT_EQ(s.flush(), "");
  EXPECT_EQ(s.push("\xFF"), "\xFF");  // invalid bytes are not held
}

TEST(Utf8Stream, ReassemblesByteFallbackTokens) {
  // stories260K has no CJK or emoji tokens: each character becomes several <0xNN> tokens.
  const std::string text = "\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x99\x82";
  const auto ids = stories().encode(text, false, false);
  ASSERT_GT(ids.size(), 8u);
  utf8_stream s;
  std::string out;
  for (int32_t id : ids) {
    const std::string ready = s.push(stories().token_to_piece(id));
    EXPECT_EQ(utf8_stream().push(ready), ready) << "emitted a partial character";
    out += ready;
  }
  out += s.flush();
  EXPECT_EQ(out, " " + text);
}

TEST(PreTokenizer, Gpt2AndDefaultRegexes) {
  auto gpt2 = pre_tokenizer::create("gpt-2");
  ASSERT_TRUE(gpt2.ok());
  EXPECT_EQ((*gpt2)->split("Hello world's 123  x"),
            (std::vector<std::string>{"Hello", " world", "'s", " 123", " ", " x"}));
  auto def = pre_tokenizer::create("default");
  ASSERT_TRUE(def.ok());
  EXPECT_EQ((*def)->split("a+b=12345"), (std::vector<std::string>{"a", "+", "b", "=", "123", "45"}));
  auto qwen = pre_tokenizer::create("qwen2");
  ASSERT_TRUE(qwen.ok());
  EXPECT_EQ((*qwen)->split("I'M 42\n\n  go"), (std::vector<std::string>{"I", "'M", " ", "4", "2", "\n\n", " ", " go"}));
  EXPECT_FALSE(pre_tokenizer::create("no-such-pre").ok());
}

std::vector<std::string> split_with(const std::string& pre, const std::string& text) {
  auto p = pre_tokenizer::create(pre);
  EXPECT_TRUE(p.ok()) << pre << ": " << p.error_message();
  return p.ok() ? (*p)->split(text) : std::vector<std::string>{};
}

// Regexes llama.cpp runs through std::regex see categories collapsed to one byte each, so
// \p{Lu} is any letter there (tiny_aya), while gpt-4o's adapted regex tells case apart.
TEST(PreTokenizer, CollapsedCategoriesAsLlamaCpp) {
  EXPECT_EQ(split_with("tiny_aya", "HelloWorld"), (std::vector<std::string>{"HelloWorld"}));
  EXPECT_EQ(split_with("gpt-4o", "HelloWorld"), (std::vector<std::string>{"Hello", "World"}));
}

// std::regex_iterator's empty matches cut words (superbpe's digit groups); std::wregex's \d is
// ASCII only, so Arabic-Indic digits stay one word.
TEST(PreTokenizer, EmptyMatchesAndAsciiDigits) {
  EXPECT_EQ(split_with("superbpe", "x1234567y"), (std::vector<std::string>{"x", "1", "234", "567", "y"}));
  EXPECT_EQ(split_with("superbpe", "\u0661\u0662\u0663\u0664"), (std::vector<std::string>{"\u0661\u0662\u0663\u0664"}));
}

// afmoe's hand-written digit grouping: len % 3 first, then threes; the text before a group
// joins it (as llama.cpp's unicode_regex_split_custom_afmoe does).
TEST(PreTokenizer, AfmoeDigitGroups) {
  EXPECT_EQ(split_with("afmoe", "ab1234cd5"), (std::vector<std::string>{"ab", "1", "234", "cd", "5"}));
}

// kimi-k2's hand-written splitter: Han runs are words of their own, other letters run on.
TEST(PreTokenizer, KimiK2SplitsHan) {
  EXPECT_EQ(split_with("kimi-k2", "Hello\u4e16\u754cabc's 12345"),
            (std::vector<std::string>{"Hello", "\u4e16\u754c", "abc's", " ", "123", "45"}));
  EXPECT_EQ(split_with("llama3", "Hello\u4e16\u754cabc"), (std::vector<std::string>{"Hello\u4e16\u754cabc"}));
}

TEST(PreTokenizer, SettingsFollowLlamaCpp) {
  const auto tekken = find_pre_type_settings("tekken");
  ASSERT_TRUE(tekken);
  EXPECT_TRUE(tekken->ignore_merges);
  EXPECT_TRUE(tekken->add_bos);
  const auto lfm2 = find_pre_type_settings("lfm2");
  ASSERT_TRUE(lfm2);
  EXPECT_TRUE(lfm2->ignore_merges && lfm2->add_bos);
  const auto dbrx = find_pre_type_settings("dbrx");  // Llama 3's regex, but merges as usual
  ASSERT_TRUE(dbrx);
  EXPECT_FALSE(dbrx->ignore_merges || dbrx->add_bos);
  const auto glm = find_pre_type_settings("chatglm-bpe");
  ASSERT_TRUE(glm);
  EXPECT_TRUE(glm->no_default_bos);
  const auto gemma4 = find_pre_type_settings("gemma4");  // SentencePiece-style BPE, BOS forced
  ASSERT_TRUE(gemma4);
  EXPECT_TRUE(gemma4->spm_style && gemma4->force_add_bos && gemma4->newline_runs_whole);
  const auto sarvam = find_pre_type_settings("sarvam-moe");  // the same shape, nothing forced
  ASSERT_TRUE(sarvam);
  EXPECT_TRUE(sarvam->spm_style);
  EXPECT_FALSE(sarvam->force_add_bos || sarvam->newline_runs_whole);
  EXPECT_FALSE(find_pre_type_settings("whitespace"));  // its own session in llama.cpp
  EXPECT_FALSE(pre_tokenizer::create("whitespace").ok());
}

TEST(Tokenizer, LoadErrorsNameTheKey) {
  gguf::writer w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "qwen2");
  auto bytes = w.to_bytes();
  auto f = gguf::file::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok());
  auto t = tokenizer::from_gguf(**f);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error_message().find("tokenizer.ggml.tokens"), std::string::npos);
  w.set_string("tokenizer.ggml.model", "bert-ish");
  bytes = w.to_bytes();
  f = gguf::file::parse(bytes.data(), bytes.size());
  t = tokenizer::from_gguf(**f);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error_message().find("tokenizer.ggml.model"), std::string::npos);
}

}  // namespace
}  // namespace pocketlm::test
