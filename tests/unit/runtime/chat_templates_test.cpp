// Which chat templates a model runs with (the GGUF's, its named ones, a built-in, a file, none),
// and BOS handled as llama.cpp does when a template prints it and the vocab adds it too.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "../tokenizer/vocab_fixture.h"
#include "runtime/chat_session.h"

namespace pocketlm {
namespace {

struct gguf_bytes {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::file> file;
};

gguf_bytes gguf_with(const std::vector<std::pair<std::string, std::string>>& strings) {
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  for (const auto& [k, v] : strings) w.set_string(k, v);
  gguf_bytes g;
  g.bytes = w.to_bytes();
  auto f = gguf::file::parse(g.bytes.data(), g.bytes.size());
  EXPECT_TRUE(f.ok()) << f.error_message();
  g.file = std::move(*f);
  return g;
}

const char* k_simple = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}";

TEST(chat_templates, GgufTemplateAndNamedOnes) {
  const auto g =
      gguf_with({{"tokenizer.chat_template", k_simple}, {"tokenizer.chat_template.tool_use", "T{{ tools | length }}"}});
  std::vector<std::string> warnings;
  auto set = load_chat_templates(*g.file, {}, warnings);
  ASSERT_TRUE(set.ok()) << set.error_message();
  EXPECT_TRUE(warnings.empty());
  ASSERT_TRUE(set->main);
  EXPECT_EQ(set->main->source(), k_simple);
  ASSERT_EQ(set->named.count("tool_use"), 1u);
  EXPECT_EQ(set->pick(true), set->named["tool_use"].get());
  EXPECT_EQ(set->pick(false), set->main.get());
}

TEST(chat_templates, BrokenGgufTemplateFallsBackToChatmlWithAWarning) {
  const auto g = gguf_with({{"tokenizer.chat_template", "{% for m in messages %}"}});
  std::vector<std::string> warnings;
  auto set = load_chat_templates(*g.file, {}, warnings);
  ASSERT_TRUE(set.ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("tokenizer.chat_template: jinja: line 1"), std::string::npos) << warnings[0];
  ASSERT_TRUE(set->main);
  EXPECT_EQ(set->main->origin(), "built-in chatml");
}

TEST(chat_templates, ChoiceOverridesTheGguf) {
  const auto g = gguf_with({{"tokenizer.chat_template", k_simple}});
  std::vector<std::string> warnings;
  auto by_name = load_chat_templates(*g.file, {"llama3", ""}, warnings);
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(by_name->main->source(), std::string(*chat::builtin_source("llama3")));
  auto none = load_chat_templates(*g.file, {"none", ""}, warnings);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->main);
  auto unknown = load_chat_templates(*g.file, {"chatml2", ""}, warnings);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error_message().find("unknown chat template 'chatml2' (built-in: chatml"), std::string::npos);

  const std::string path = ::testing::TempDir() + "/pocketlm-template-test.jinja";
  std::ofstream(path) << "F{{ messages | length }}";
  auto from_file = load_chat_templates(*g.file, {"", path}, warnings);
  ASSERT_TRUE(from_file.ok()) << from_file.error_message();
  EXPECT_EQ(from_file->main->source(), "F{{ messages | length }}");
  std::ofstream(path) << "{% if %}";
  auto bad_file = load_chat_templates(*g.file, {"", path}, warnings);
  ASSERT_FALSE(bad_file.ok());
  EXPECT_NE(bad_file.error_message().find(path), std::string::npos) << bad_file.error_message();
  std::remove(path.c_str());
  EXPECT_FALSE(load_chat_templates(*g.file, {"", path}, warnings).ok());
  EXPECT_TRUE(warnings.empty());
}

TEST(chat_templates, NoGgufTemplateMeansPlainText) {
  const auto g = gguf_with({});
  std::vector<std::string> warnings;
  auto set = load_chat_templates(*g.file, {}, warnings);
  ASSERT_TRUE(set.ok());
  EXPECT_FALSE(set->main);
}

TEST(chat_templates, OneBosWhenTheTemplatePrintsItAndTheVocabAddsIt) {
  test::loaded_vocab v;
  v.bytes = test::build_vocab_gguf(test::k_llama3);
  auto f = gguf::file::parse(v.bytes.data(), v.bytes.size());
  ASSERT_TRUE(f.ok());
  auto tok = tokenizer::from_gguf(**f);
  ASSERT_TRUE(tok.ok());
  const auto llama3 = chat::chat_template::parse(std::string(*chat::builtin_source("llama3")), "llama3");
  ASSERT_TRUE(llama3.ok());
  const std::vector<chat::message> msgs{{"user", "Hi <|begin_of_text|>", ""}};
  auto p = chat_prompt_tokens(**tok, llama3->get(), msgs, chat_options_for(**tok));
  ASSERT_TRUE(p.ok()) << p.error_message();
  ASSERT_FALSE(p->tokens.empty());
  EXPECT_EQ(p->tokens[0], 128000);
  EXPECT_EQ(std::count(p->tokens.begin(), p->tokens.end(), 128000), 1) << "the user's text is not a BOS";
  EXPECT_EQ(p->text.rfind("<|begin_of_text|><|start_header_id|>user", 0), 0u);
  // A template that prints none still gets the vocab's BOS, as llama.cpp gives it.
  const auto plain = chat::chat_template::parse(k_simple, "simple");
  ASSERT_TRUE(plain.ok());
  p = chat_prompt_tokens(**tok, plain->get(), msgs, chat_options_for(**tok));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tokens[0], 128000);
}

}  // namespace
}  // namespace pocketlm
