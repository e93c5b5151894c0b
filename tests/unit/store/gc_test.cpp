// Garbage collection: a replaced or removed manifest leaves no blob nothing references; a dead
// writer's -partial and .tmp-PID files go at the next store write while live writers' stay; a
// write that fails (full disk) leaves neither empty manifest folders nor the blobs it added.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "store/create.h"
#include "store/store.h"

namespace pocketlm::store {
namespace {

namespace fs = std::filesystem;

const std::string k_stories = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

class StoreGc : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pocketlm-gc-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A second valid GGUF with other bytes: stories260K with bytes appended (the reader ignores
  // what follows the last tensor).
  std::string other_gguf() {
    const std::string p = dir_ + "/other.gguf";
    fs::copy_file(k_stories, p);
    std::ofstream(p, std::ios::app | std::ios::binary) << std::string(64, 'z');
    return p;
  }
  std::set<std::string> blob_files(const model_store& s) const {
    std::set<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(s.root() + "/blobs", ec)) out.insert(e.path().filename());
    return out;
  }
  std::string dir_;
};

// A pid no process has: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

TEST_F(StoreGc, ReimportingANameRemovesTheOldBlobs) {
  model_store s(dir_ + "/store");
  auto first = import_gguf(s, k_stories, *parse_name("x"));
  ASSERT_TRUE(first) << first.error_message();
  const auto old_blobs = blob_files(s);
  ASSERT_EQ(old_blobs.size(), 2u);  // weights + config
  auto second = import_gguf(s, other_gguf(), *parse_name("x"));
  ASSERT_TRUE(second) << second.error_message();
  const auto now = blob_files(s);
  EXPECT_EQ(now.size(), 2u);
  for (const auto& b : now) EXPECT_EQ(old_blobs.count(b), 0u) << b << " survived from the old manifest";
  // Blobs another manifest still uses are kept.
  ASSERT_TRUE(import_gguf(s, k_stories, *parse_name("y")));
  ASSERT_TRUE(import_gguf(s, k_stories, *parse_name("x")));
  EXPECT_EQ(blob_files(s), old_blobs);
  ASSERT_TRUE(s.remove(*parse_name("x")));
  EXPECT_EQ(blob_files(s), old_blobs);  // y's
  ASSERT_TRUE(s.remove(*parse_name("y")));
  EXPECT_TRUE(blob_files(s).empty());
}

TEST_F(StoreGc, StaleTempFilesGoAtTheNextWriteLiveOnesStay) {
  model_store s(dir_ + "/store");
  ASSERT_TRUE(import_gguf(s, k_stories, *parse_name("base")));
  const std::string blobs = s.root() + "/blobs/";
  const std::string mdir = s.root() + "/manifests/registry.ollama.ai/library/base/";
  const std::string dead = std::to_string(dead_pid());
  // A killed import's leftovers.
  std::ofstream(blobs + "sha256-" + std::string(64, 'a') + "-partial") << "half";
  std::ofstream(blobs + ".sha256-" + std::string(64, 'b') + ".tmp-" + dead) << "x";
  std::ofstream(mdir + ".latest.tmp-" + dead) << "{}";
  // A live writer's: a partial whose flock is held, and a temp file of a running process.
  auto held = s.open_partial(std::string(64, 'c'), 100);
  ASSERT_TRUE(held && *held);
  const std::string live_tmp = mdir + ".latest.tmp-" + std::to_string(::getppid());
  std::ofstream(live_tmp) << "{}";

  ASSERT_TRUE(import_gguf(s, k_stories, *parse_name("next")));  // the next store write
  EXPECT_FALSE(fs::exists(blobs + "sha256-" + std::string(64, 'a') + "-partial"));
  EXPECT_FALSE(fs::exists(blobs + ".sha256-" + std::string(64, 'b') + ".tmp-" + dead));
  EXPECT_FALSE(fs::exists(mdir + ".latest.tmp-" + dead));
  EXPECT_TRUE(fs::exists(s.partial_path(std::string(64, 'c'))));
  EXPECT_TRUE(fs::exists(live_tmp));
  held->reset();
  ASSERT_TRUE(s.remove(*parse_name("next")));  // rm sweeps too
  EXPECT_FALSE(fs::exists(s.partial_path(std::string(64, 'c'))));
}

TEST_F(StoreGc, FullDiskDuringCreateLeavesNoFoldersOrBlobs) {
  model_store s(dir_ + "/store");
  ASSERT_TRUE(import_gguf(s, k_stories, *parse_name("base")));
  const auto before = blob_files(s);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Every write of a byte fails with EFBIG, as on a full disk; directories still get made.
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{0, 0};
    setrlimit(RLIMIT_FSIZE, &lim);
    modelfile mf;
    mf.from = "base";
    std::vector<std::string> notes;
    auto r = create_model(s, std::nullopt, mf, *parse_name("derived"), notes);
    mf.parameters.push_back({"temperature", "0.5"});
    auto r2 = create_model(s, std::nullopt, mf, *parse_name("derived2"), notes);
    const bool ok = !r && r.error_message().find("disk full") != std::string::npos && !r2 &&
                    r2.error_message().find("disk full") != std::string::npos;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const std::string lib = s.root() + "/manifests/registry.ollama.ai/library/";
  EXPECT_FALSE(fs::exists(lib + "derived")) << "empty manifest folder left";
  EXPECT_FALSE(fs::exists(lib + "derived2")) << "empty manifest folder left";
  EXPECT_EQ(blob_files(s), before);
}

TEST_F(StoreGc, FailedImportRemovesTheBlobItAdded) {
  model_store s(dir_ + "/store");
  // Valid GGUF, but the manifest cannot be written: its folder is a file.
  fs::create_directories(s.root() + "/manifests/registry.ollama.ai/library");
  std::ofstream(s.root() + "/manifests/registry.ollama.ai/library/x") << "in the way";
  auto r = import_gguf(s, k_stories, *parse_name("x"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(blob_files(s).empty());
}

}  // namespace
}  // namespace pocketlm::store
