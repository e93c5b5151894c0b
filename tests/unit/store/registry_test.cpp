// Which registries `pull` may contact: those in $POCKETLM_REGISTRY (default Ollama's and
// Hugging Face's, HTTPS). A name naming another host is refused before any connection.
#include <gtest/gtest.h>

#include <cstdlib>

#include "store/registry.h"

namespace pocketlm::store {
namespace {

struct env_guard {
  explicit env_guard(const char* value) {
    if (value)
      ::setenv("POCKETLM_REGISTRY", value, 1);
    else
      ::unsetenv("POCKETLM_REGISTRY");
  }
  ~env_guard() { ::unsetenv("POCKETLM_REGISTRY"); }
};

std::string base(const std::string& name) {
  auto b = registry_base(*parse_name(name));
  return b ? *b : "error: " + b.error_message();
}

TEST(Registry, DefaultIsOllamaAndHuggingFaceOverHttps) {
  env_guard g(nullptr);
  EXPECT_EQ(base("llama3.2:1b"), "https://registry.ollama.ai");
  EXPECT_EQ(base("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"), "https://hf.co");
  EXPECT_EQ(base("http://registry.ollama.ai/library/x:y"), "https://registry.ollama.ai");  // config wins
  // The name: two parts make a namespace with dots and a port, not a valid name at all.
  EXPECT_EQ(parse_name("127.0.0.1:18499/x:y").kind(), error_kind::invalid_input);
  auto r = registry_base(*parse_name("127.0.0.1:18499/library/x:y"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.kind(), error_kind::invalid_input);
  EXPECT_NE(r.error_message().find("registry '127.0.0.1:18499' is not allowed"), std::string::npos)
      << r.error_message();
  EXPECT_NE(r.error_message().find("registry.ollama.ai, hf.co"), std::string::npos) << r.error_message();
  EXPECT_FALSE(registry_base(*parse_name("evil.example/ns/m:t")));
}

TEST(Registry, ConfiguredListAndMirror) {
  env_guard g(" http://127.0.0.1:8080/ , Registry.Example.com:5000,https://hf.co");
  auto regs = configured_registries();
  ASSERT_TRUE(regs) << regs.error_message();
  ASSERT_EQ(regs->size(), 3u);
  EXPECT_EQ((*regs)[0].scheme, "http");
  EXPECT_EQ((*regs)[1].host, "registry.example.com:5000");
  EXPECT_EQ((*regs)[1].scheme, "https");  // https unless http:// is written
  // Names of Ollama's library go to the first entry (a mirror) when Ollama's is not listed.
  EXPECT_EQ(base("stories:260k"), "http://127.0.0.1:8080");
  EXPECT_EQ(base("127.0.0.1:8080/library/stories:260k"), "http://127.0.0.1:8080");
  EXPECT_EQ(base("registry.example.com:5000/team/m:t"), "https://registry.example.com:5000");
  EXPECT_NE(base("127.0.0.1:8081/library/x:y").find("is not allowed"), std::string::npos);
  EXPECT_NE(base("registry.example.com/team/m:t").find("is not allowed"), std::string::npos);  // port differs
}

TEST(Registry, BadEntriesAreRefused) {
  {
    env_guard g("http://example.com");
    auto r = registry_base(*parse_name("x:y"));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error_message().find("only loopback registries may use http"), std::string::npos) << r.error_message();
  }
  {
    env_guard g("http://127.attacker.example:80");  // a name, resolved anywhere: not loopback
    EXPECT_NE(base("x:y").find("only loopback registries may use http"), std::string::npos);
  }
  {
    env_guard g("http://localhost:8080,http://[::1]:9,http://127.0.0.2");
    EXPECT_TRUE(configured_registries());
  }
  {
    env_guard g("ftp://example.com");
    EXPECT_NE(base("x:y").find("scheme 'ftp'"), std::string::npos);
  }
  {
    env_guard g("example.com/path?q");
    EXPECT_NE(base("x:y").find("is not [http://|https://]host[:port]"), std::string::npos);
  }
  {
    env_guard g(" , ");
    EXPECT_NE(base("x:y").find("lists no registry"), std::string::npos);
  }
}

}  // namespace
}  // namespace pocketlm::store
