// What a client may name (issue 12, rows 4 and 12): store models, and files inside the folders
// the operator opened (--models-dir). Any other path is "not found" whether or not it exists,
// without a byte or a size of the file in the answer; a GGUF elsewhere on disk never loads, so it
// never shows in /api/tags; symlink loops and over-long names are 4xx, never 500.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "server/api.h"
#include "server/server.h"
#include "test_server.h"

namespace pocketlm::server {
namespace {

const std::string k_model = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

class ModelAccess : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("pocketlm_access_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_ / "allowed");
    std::filesystem::create_directories(dir_ / "elsewhere");
    test::use_private_store(dir_ / "store");
    std::filesystem::copy_file(k_model, dir_ / "allowed" / "ok.gguf");
    std::filesystem::copy_file(k_model, dir_ / "elsewhere" / "secret.gguf");
    std::ofstream(dir_ / "elsewhere" / "notes.txt") << "private text, 27 bytes long";
    std::filesystem::create_symlink(dir_ / "allowed" / "loop.gguf", dir_ / "allowed" / "loop.gguf");
    std::filesystem::create_symlink(dir_ / "elsewhere" / "secret.gguf", dir_ / "allowed" / "link-out.gguf");
    server_options o = test::loopback_options();
    o.models.n_ctx = 64;
    o.models.model_dirs = {(dir_ / "allowed").string()};
    srv_ = std::make_unique<test::running_server>(o);
    port_ = srv_->port();
  }
  void TearDown() override {
    srv_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::pair<int, std::string> post(const std::string& path, const json& body) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30);
    auto r = c.Post(path, body.dump(), "application/json");
    return r ? std::pair{r->status, r->body} : std::pair{0, std::string()};
  }
  std::string tags() const {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/api/tags");
    return r ? r->body : "";
  }
  std::string p(const char* rel) const { return (dir_ / rel).string(); }
  std::filesystem::path dir_;
  std::unique_ptr<test::running_server> srv_;
  int port_ = 0;
};

json generate(const std::string& model) {
  return {{"model", model}, {"prompt", "Once"}, {"raw", true}, {"stream", false}, {"options", {{"num_predict", 2}}}};
}

TEST_F(ModelAccess, PathsOutsideTheOpenedFoldersAreNotFoundWithoutDetails) {
  for (const std::string& path :
       {std::string("/etc/shadow"), std::string("/etc/passwd"), p("elsewhere/secret.gguf"), p("elsewhere/notes.txt"),
        p("allowed/link-out.gguf"), p("allowed/../elsewhere/secret.gguf"), std::string("/nonexistent/x.gguf")}) {
    for (const char* route : {"/api/generate", "/api/show", "/v1/chat/completions"}) {
      json body = generate(path);
      if (std::string(route) == "/v1/chat/completions")
        body = {{"model", path}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
      const auto [status, text] = post(route, body);
      EXPECT_EQ(status, 404) << route << " " << path << ": " << text;
      EXPECT_EQ(text.find("private"), std::string::npos) << text;
      EXPECT_EQ(text.find("size"), std::string::npos) << text;  // no size of the file
      EXPECT_EQ(text.find("magic"), std::string::npos) << text;
      EXPECT_EQ(text.find("FROM"), std::string::npos) << text;
    }
  }
  const std::string listed = tags();
  EXPECT_EQ(listed.find("secret"), std::string::npos) << "a file outside the opened folders was loaded: " << listed;
}

TEST_F(ModelAccess, FilesInsideAnOpenedFolderServe) {
  const auto [status, text] = post("/api/generate", generate(p("allowed/ok.gguf")));
  EXPECT_EQ(status, 200) << text;
  EXPECT_EQ(post("/api/show", {{"model", p("allowed/ok.gguf")}}).first, 200);
}

TEST_F(ModelAccess, SymlinkLoopsAndLongNamesAre4xxNot500) {
  const auto loop = post("/api/generate", generate(p("allowed/loop.gguf")));
  EXPECT_GE(loop.first, 400);
  EXPECT_LT(loop.first, 500) << loop.second;
  const auto long_name = post("/api/generate", generate(std::string(300, 'a')));
  EXPECT_GE(long_name.first, 400);
  EXPECT_LT(long_name.first, 500) << long_name.second;
  const auto long_show = post("/api/show", {{"model", std::string(300, 'b') + ":latest"}});
  EXPECT_GE(long_show.first, 400);
  EXPECT_LT(long_show.first, 500) << long_show.second;
  const auto bare = post("/api/generate", generate("stories"));  // no store model, no ./stories
  EXPECT_EQ(bare.first, 404) << bare.second;
}

}  // namespace
}  // namespace pocketlm::server
