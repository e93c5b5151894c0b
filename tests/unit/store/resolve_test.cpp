// resolve_model: what a model argument means. A bare name is a store name even when a file of
// that name is in the working directory; a path is opened only under a policy that allows it
// (the CLI's), or inside model_dirs; a remote caller's path outside them is "not found"
// whether or not it exists; FIFOs, symlink loops and 300-character names are clear errors
// with a kind, never a hang or an exception.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

#include "store/create.h"
#include "store/model_config.h"

namespace pocketlm::store {
namespace {

namespace fs = std::filesystem;

const std::string k_stories = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

class Resolve : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pocketlm-resolve-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    old_cwd_ = fs::current_path();
    fs::current_path(dir_);
    ::setenv("POCKETLM_MODELS", (dir_ + "/store").c_str(), 1);
    ::setenv("OLLAMA_MODELS", (dir_ + "/no-ollama").c_str(), 1);
  }
  void TearDown() override {
    fs::current_path(old_cwd_);
    ::unsetenv("POCKETLM_MODELS");
    ::unsetenv("OLLAMA_MODELS");
    fs::remove_all(dir_);
  }
  std::string dir_;
  fs::path old_cwd_;
};

TEST_F(Resolve, BareNameNeverMeansAFileInTheWorkingDirectory) {
  fs::copy_file(k_stories, dir_ + "/stories");  // even a valid GGUF
  std::ofstream(dir_ + "/hi") << "hi\n";
  auto r = resolve_model("stories");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.kind(), error_kind::not_found);
  EXPECT_NE(r.error_message().find("model 'stories:latest' not found"), std::string::npos) << r.error_message();
  EXPECT_FALSE(resolve_model("hi"));
  // The store's model of that name wins; a path-looking argument is a path.
  model_store s = model_store::pocketlm_default();
  ASSERT_TRUE(import_gguf(s, k_stories, *parse_name("stories")));
  auto named = resolve_model("stories");
  ASSERT_TRUE(named) << named.error_message();
  EXPECT_NE(named->gguf_path, dir_ + "/stories");
  EXPECT_TRUE(named->entry.has_value());
  auto path = resolve_model("./stories");
  ASSERT_TRUE(path) << path.error_message();
  EXPECT_EQ(path->gguf_path, "./stories");
  EXPECT_FALSE(path->entry.has_value());
}

TEST_F(Resolve, TildeIsHome) {
  const char* home = std::getenv("HOME");
  const std::string saved = home ? home : "";
  ::setenv("HOME", dir_.c_str(), 1);
  fs::copy_file(k_stories, dir_ + "/m.gguf");
  auto r = resolve_model("~/m.gguf");
  ::setenv("HOME", saved.c_str(), 1);
  ASSERT_TRUE(r) << r.error_message();
  EXPECT_EQ(r->gguf_path, dir_ + "/m.gguf");
}

TEST_F(Resolve, RemotePolicyOpensNoPathAndSaysNotFoundEitherWay) {
  const auto remote = resolve_policy::remote();
  auto existing = resolve_model("/etc/passwd.gguf", remote);
  auto real = resolve_model("/etc/passwd", remote);
  auto missing = resolve_model("/nonexistent/x.gguf", remote);
  fs::copy_file(k_stories, dir_ + "/m.gguf");
  auto model_file = resolve_model(dir_ + "/m.gguf", remote);
  for (const auto* r : {&existing, &real, &missing, &model_file}) {
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->kind(), error_kind::not_found);
  }
  EXPECT_EQ(real.error_message(), "model '/etc/passwd' not found");
  EXPECT_EQ(missing.error_message(), "model '/nonexistent/x.gguf' not found");
  // The CLI's policy opens paths and says what is wrong.
  auto cli_missing = resolve_model("/nonexistent/x.gguf");
  ASSERT_FALSE(cli_missing);
  EXPECT_EQ(cli_missing.kind(), error_kind::not_found);
  EXPECT_NE(cli_missing.error_message().find("No such file"), std::string::npos);
}

TEST_F(Resolve, ModelDirsAllowPathsInsideOnly) {
  fs::create_directories(dir_ + "/models");
  fs::copy_file(k_stories, dir_ + "/models/m.gguf");
  fs::copy_file(k_stories, dir_ + "/outside.gguf");
  fs::create_symlink(dir_ + "/outside.gguf", dir_ + "/models/escape.gguf");
  const auto policy = resolve_policy::remote({dir_ + "/models"});
  auto inside = resolve_model(dir_ + "/models/m.gguf", policy);
  ASSERT_TRUE(inside) << inside.error_message();
  EXPECT_EQ(inside->gguf_path, fs::canonical(dir_ + "/models/m.gguf").string());
  EXPECT_TRUE(resolve_model("./models/m.gguf", policy));
  EXPECT_FALSE(resolve_model(dir_ + "/outside.gguf", policy));
  EXPECT_FALSE(resolve_model(dir_ + "/models/escape.gguf", policy));  // a link out does not count
  EXPECT_FALSE(resolve_model(dir_ + "/models/../outside.gguf", policy));
  // A directory named like the allowed one is not inside it.
  fs::create_directories(dir_ + "/models2");
  fs::copy_file(k_stories, dir_ + "/models2/m.gguf");
  EXPECT_FALSE(resolve_model(dir_ + "/models2/m.gguf", policy));
}

TEST_F(Resolve, FifoSymlinkLoopAndLongNamesAreClearErrors) {
  ASSERT_EQ(::mkfifo((dir_ + "/f.gguf").c_str(), 0600), 0);
  auto fut = std::async(std::launch::async, [&] {
    auto r = resolve_model(dir_ + "/f.gguf");
    return r ? error{"resolved", error_kind::internal} : r.err();
  });
  if (fut.wait_for(std::chrono::seconds(5)) == std::future_status::timeout) {
    ADD_FAILURE() << "resolve_model blocked on a FIFO";
    const int w = ::open((dir_ + "/f.gguf").c_str(), O_WRONLY | O_NONBLOCK);
    if (w >= 0) ::close(w);
  }
  const error fifo = fut.get();
  EXPECT_EQ(fifo.kind, error_kind::invalid_input);
  EXPECT_NE(fifo.message.find("not a regular file (a FIFO)"), std::string::npos) << fifo.message;

  fs::create_symlink(dir_ + "/b.gguf", dir_ + "/a.gguf");
  fs::create_symlink(dir_ + "/a.gguf", dir_ + "/b.gguf");
  auto loop = resolve_model(dir_ + "/a.gguf");
  ASSERT_FALSE(loop);
  EXPECT_EQ(loop.kind(), error_kind::invalid_input);
  EXPECT_NE(loop.error_message().find("symlink loop"), std::string::npos) << loop.error_message();
  auto loop_remote = resolve_model(dir_ + "/a.gguf", resolve_policy::remote({dir_}));
  ASSERT_FALSE(loop_remote);
  EXPECT_EQ(loop_remote.kind(), error_kind::not_found);

  auto long_name = resolve_model(std::string(300, 'a'));
  ASSERT_FALSE(long_name);
  EXPECT_EQ(long_name.kind(), error_kind::invalid_input);
  EXPECT_NE(long_name.error_message().find("is 300 characters long (at most 80)"), std::string::npos)
      << long_name.error_message();
  EXPECT_LT(long_name.error_message().size(), 200u);  // the name is not echoed whole
  auto long_path = resolve_model(std::string(300, 'a') + ".gguf");
  ASSERT_FALSE(long_path);
  EXPECT_EQ(long_path.kind(), error_kind::invalid_input);
}

TEST_F(Resolve, MissingWeightsBlobIsNotFound) {
  model_store s = model_store::pocketlm_default();
  ASSERT_TRUE(import_gguf(s, k_stories, *parse_name("m")));
  auto r = resolve_model("m");
  ASSERT_TRUE(r);
  fs::remove(r->gguf_path);
  auto gone = resolve_model("m");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.kind(), error_kind::not_found);
  EXPECT_NE(gone.error_message().find("weights blob is missing"), std::string::npos) << gone.error_message();
}

}  // namespace
}  // namespace pocketlm::store
