// The model manager under contention (issue 12): a model loading never holds up requests for
// models already loaded; a queued request whose client left gives up its place; a model file
// replaced on disk is reloaded on the next request instead of being served stale.
#include "server/manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "server/api.h"

namespace pocketlm::server {
namespace {

const std::string k_model = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("pocketlm_manager_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    setenv("POCKETLM_MODELS", (dir_ / "store").c_str(), 1);
    setenv("OLLAMA_MODELS", (dir_ / "no-ollama").c_str(), 1);
    for (const char* name : {"a.gguf", "b.gguf"}) {
      std::filesystem::copy_file(k_model, dir_ / name, std::filesystem::copy_options::overwrite_existing);
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  manager_options options() const {
    manager_options o;
    o.engine.n_threads = 1;
    o.n_ctx = 64;
    o.n_parallel = 1;
    o.model_dirs = {dir_.string()};
    return o;
  }
  std::filesystem::path dir_;
};

TEST_F(ManagerTest, ALoadingModelDoesNotHoldUpALoadedOne) {
  std::promise<void> release_b;
  std::shared_future<void> b_may_load = release_b.get_future().share();
  std::promise<void> b_started;
  manager_options o = options();
  o.before_load = [&](const std::string& name) {
    if (name.find("b.gguf") == std::string::npos) return;
    b_started.set_value();
    b_may_load.wait();
  };
  model_manager m(o);
  { model_lease a = m.acquire(path("a.gguf"), -1); }  // a is loaded
  auto loading_b = std::async(std::launch::async, [&] { model_lease b = m.acquire(path("b.gguf"), -1); });
  b_started.get_future().wait();  // b's load is in progress, and stays so until released
  auto again_a = std::async(std::launch::async, [&] { model_lease a = m.acquire(path("a.gguf"), -1); });
  EXPECT_EQ(again_a.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "a request for a loaded model waited for another model's load";
  release_b.set_value();
  loading_b.get();
  EXPECT_EQ(m.running().size(), 2u);
}

TEST_F(ManagerTest, AQueuedRequestWhoseClientLeftGivesUpItsPlace) {
  manager_options o = options();
  o.queue = 1;
  model_manager m(o);
  model_lease lease = m.acquire(path("a.gguf"), -1);
  auto held = m.acquire_slot(lease, {});  // the only slot
  std::atomic<bool> client_here{true};
  auto waiting = std::async(std::launch::async, [&] {
    try {
      auto s = m.acquire_slot(lease, {}, [&] { return client_here.load(); });
      return 200;
    } catch (const api_error& e) {
      return e.status;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);  // still queued
  client_here = false;
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(waiting.get(), 499);
  // Its place in the queue is free again: another request can wait there.
  auto next = std::async(std::launch::async, [&] { return m.acquire_slot(lease, {}) != nullptr; });
  held.reset();
  EXPECT_TRUE(next.get());
}

TEST_F(ManagerTest, AModelFileReplacedOnDiskIsReloadedNotServedStale) {
  model_manager m(options());
  int64_t first_ctx = 0;
  {
    model_lease a = m.acquire(path("a.gguf"), -1);
    first_ctx = a->llm->n_ctx();
  }
  file_stamp before;
  {
    model_lease a = m.acquire(path("a.gguf"), -1);
    before = a->stamp;
  }
  // Replace the file (a new inode and mtime), as `cp other.gguf a.gguf` or a re-download does.
  std::filesystem::copy_file(k_model, path("a.new"), std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(path("a.new"), path("a.gguf"));
  model_lease a = m.acquire(path("a.gguf"), -1);
  EXPECT_NE(a->stamp.ino, before.ino) << "the old mapping was served after the file changed";
  EXPECT_EQ(a->stamp, *stamp_of(path("a.gguf")));
  EXPECT_EQ(a->llm->n_ctx(), first_ctx);
}

}  // namespace
}  // namespace pocketlm::server
