#include <gtest/gtest.h>

#include "store/name.h"

namespace pocketlm::store {

TEST(StoreName, ResolvesLikeOllama) {
  auto n = parse_name("deepseek-r1:1.5b");
  ASSERT_TRUE(n) << n.error_message();
  EXPECT_EQ(n->host, "registry.ollama.ai");
  EXPECT_EQ(n->ns, "library");
  EXPECT_EQ(n->model, "deepseek-r1");
  EXPECT_EQ(n->tag, "1.5b");
  EXPECT_EQ(n->rel_path(), "registry.ollama.ai/library/deepseek-r1/1.5b");
  EXPECT_EQ(n->display(), "deepseek-r1:1.5b");

  n = parse_name("user/model");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->ns, "user");
  EXPECT_EQ(n->tag, "latest");
  EXPECT_EQ(n->display(), "user/model:latest");

  n = parse_name("localhost:5000/team/m.v2:q8_0");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->host, "localhost:5000");
  EXPECT_EQ(n->ns, "team");
  EXPECT_EQ(n->model, "m.v2");
  EXPECT_EQ(n->tag, "q8_0");
  EXPECT_EQ(n->display(), "localhost:5000/team/m.v2:q8_0");

  n = parse_name("http://127.0.0.1:8080/library/x");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->scheme, "http");
  EXPECT_EQ(n->host, "127.0.0.1:8080");
}

TEST(StoreName, RejectsBadParts) {
  for (const char* bad : {"", "a b", "-x", "ns.dots/model", "model:", ":tag", "a/b/c/d/e!", "x:t:t", "ftp://h/n/m"}) {
    EXPECT_FALSE(parse_name(bad)) << bad;
  }
  EXPECT_TRUE(parse_name(std::string(80, 'a')));
  EXPECT_FALSE(parse_name(std::string(81, 'a')));
}

TEST(StoreName, CaseInsensitiveEquality) {
  EXPECT_TRUE(*parse_name("Qwen:Latest") == *parse_name("qwen"));
  EXPECT_FALSE(*parse_name("qwen:a") == *parse_name("qwen:b"));
}

TEST(StoreName, FromManifestPath) {
  auto n = name_from_rel_path("registry.ollama.ai/library/qwen2.5/0.5b");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->display(), "qwen2.5:0.5b");
  EXPECT_FALSE(name_from_rel_path("registry.ollama.ai/library/qwen2.5"));
  EXPECT_FALSE(name_from_rel_path("h/ns/m/.latest.tmp-12"));
  EXPECT_FALSE(name_from_rel_path("h/ns/m/t/extra"));
}

TEST(StoreName, GgufPaths) {
  EXPECT_TRUE(is_gguf_path("model.gguf"));
  EXPECT_TRUE(is_gguf_path("dir/Model.GGUF"));
  EXPECT_TRUE(is_gguf_path("./model"));
  EXPECT_TRUE(is_gguf_path("/abs/model"));
  EXPECT_FALSE(is_gguf_path("qwen2.5:0.5b"));
  EXPECT_FALSE(is_gguf_path("user/model"));
}

}  // namespace pocketlm::store

namespace pocketlm::store {

TEST(StoreName, LengthsAsOllama) {
  EXPECT_TRUE(parse_name(std::string(80, 'm') + ":" + std::string(80, 't')));
  auto m = parse_name(std::string(300, 'm'));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.kind(), error_kind::invalid_input);
  EXPECT_EQ(m.error_message(),
            "invalid model name: the model '" + std::string(77, 'm') + "...' is 300 characters long (at most 80)");
  EXPECT_FALSE(parse_name("m:" + std::string(81, 't')));
  EXPECT_FALSE(parse_name(std::string(81, 'n') + "/m"));
  EXPECT_TRUE(parse_name(std::string(350, 'h') + "/n/m"));
  EXPECT_FALSE(parse_name(std::string(351, 'h') + "/n/m"));
  EXPECT_EQ(parse_name("bad name!").kind(), error_kind::invalid_input);
}

TEST(StoreName, PathRule) {
  EXPECT_TRUE(is_gguf_path(".hidden"));
  EXPECT_TRUE(is_gguf_path("~/models/m"));
  EXPECT_FALSE(is_gguf_path("stories"));
  EXPECT_FALSE(is_gguf_path("hf.co/user/repo:Q4_K_M"));
}

}  // namespace pocketlm::store
