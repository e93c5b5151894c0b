// The store on a phone (issue 18): Ollama stores inside proot-distro roots found under $PREFIX
// and resolved by the documented rule, and a store on a file system without flock (Android's
// shared storage, FUSE), simulated through fsutil's flock seam.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include "store/fsutil.h"
#include "store/store.h"

namespace pocketlm::store {

namespace {

namespace fs = std::filesystem;

// A manifest whose one model layer has this (fake) digest: listing and locating read only it.
std::string manifest_with(char hex_digit, int64_t size) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
         R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:)" +
         std::string(64, 'c') +
         R"(","size":10},"layers":[{"mediaType":"application/vnd.ollama.image.model",)"
         R"("digest":"sha256:)" +
         std::string(64, hex_digit) + R"(","size":)" + std::to_string(size) + "}]}";
}

// Saves and restores an environment variable.
struct env_var {
  std::string name;
  std::optional<std::string> saved;
  env_var(const char* n, const std::string& value) : name(n) {
    if (const char* v = std::getenv(n)) saved = v;
    ::setenv(n, value.c_str(), 1);
  }
  ~env_var() {
    if (saved) {
      ::setenv(name.c_str(), saved->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
};

class PhoneStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pocketlm-phone-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    set_flock_for_testing(nullptr);
    fs::remove_all(dir_);
  }
  std::string rootfs() const { return dir_ + "/prefix/var/lib/proot-distro/installed-rootfs"; }
  // Writes an Ollama manifest for `name` (library model) into the store at `models`.
  void put(const std::string& models, const std::string& model, const std::string& tag, char hex, int64_t size) {
    const std::string d = models + "/manifests/registry.ollama.ai/library/" + model;
    fs::create_directories(d);
    fs::create_directories(models + "/blobs");
    std::ofstream(d + "/" + tag) << manifest_with(hex, size);
  }
  std::string dir_;
};

TEST_F(PhoneStoreTest, FindsProotDistroStoresInDocumentedOrder) {
  env_var prefix("PREFIX", dir_ + "/prefix");
  put(rootfs() + "/ubuntu/root/.ollama/models", "qwen", "0.5b", 'a', 100);
  put(rootfs() + "/ubuntu/home/zoe/.ollama/models", "zoe-model", "latest", 'b', 200);
  put(rootfs() + "/ubuntu/home/alice/.ollama/models", "alice-model", "latest", 'd', 300);
  put(rootfs() + "/debian/root/.ollama/models", "qwen", "0.5b", 'e', 400);
  fs::create_directories(rootfs() + "/alpine/root");  // a distro without Ollama: skipped
  const auto stores = model_store::proot_ollama_stores();
  ASSERT_EQ(stores.size(), 4u);
  EXPECT_EQ(stores[0].source(), "debian:root");
  EXPECT_EQ(stores[1].source(), "ubuntu:root");
  EXPECT_EQ(stores[2].source(), "ubuntu:alice");
  EXPECT_EQ(stores[3].source(), "ubuntu:zoe");
  for (const auto& s : stores) EXPECT_TRUE(s.read_only()) << s.root();
  EXPECT_EQ(stores[1].root(), rootfs() + "/ubuntu/root/.ollama/models");
}

TEST_F(PhoneStoreTest, NoProotRootsMeansNoStores) {
  env_var prefix("PREFIX", dir_ + "/nothing-here");
  EXPECT_TRUE(model_store::proot_ollama_stores().empty());
}

TEST_F(PhoneStoreTest, LocateAndListFollowTheShadowingRule) {
  env_var prefix("PREFIX", dir_ + "/prefix");
  const model_store mine(dir_ + "/mine");
  put(dir_ + "/ollama", "llama", "1b", 'f', 50);
  std::optional<model_store> ollama = model_store(dir_ + "/ollama", true);
  ollama->set_source("ollama");
  put(rootfs() + "/ubuntu/root/.ollama/models", "qwen", "0.5b", 'a', 100);
  put(rootfs() + "/ubuntu/root/.ollama/models", "llama", "1b", '1', 60);  // shadowed by ~/.ollama
  put(rootfs() + "/debian/root/.ollama/models", "qwen", "0.5b", 'e', 400);

  // qwen:0.5b is in debian and ubuntu: debian sorts first and wins.
  auto q = locate(*parse_name("qwen:0.5b"), mine, ollama);
  ASSERT_TRUE(q) << q.error_message();
  ASSERT_NE(q->owned, nullptr);
  EXPECT_EQ(q->where, q->owned.get());
  EXPECT_EQ(q->where->source(), "debian:root");
  EXPECT_EQ(q->entry.m.total_size(), 410);
  const auto* w = q->entry.m.find(media::model);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(q->where->blob_path(std::string(64, 'e')),
            rootfs() + "/debian/root/.ollama/models/blobs/sha256-" + std::string(64, 'e'));

  // llama:1b is in ~/.ollama and in ubuntu: the Ollama store of the user wins.
  auto l = locate(*parse_name("llama:1b"), mine, ollama);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->where, &*ollama);
  EXPECT_EQ(l->owned, nullptr);

  const auto all = list_all(mine, ollama);
  ASSERT_EQ(all.size(), 2u);  // each name once
  for (const auto& m : all) {
    if (m.entry.name.display() == "qwen:0.5b") {
      EXPECT_EQ(m.where->source(), "debian:root");
    } else {
      EXPECT_EQ(m.entry.name.display(), "llama:1b");
      EXPECT_EQ(m.where->source(), "ollama");
    }
  }
  EXPECT_FALSE(locate(*parse_name("nosuch"), mine, ollama));
}

TEST_F(PhoneStoreTest, OllamaModelsPointingIntoARootIsNotSearchedTwice) {
  env_var prefix("PREFIX", dir_ + "/prefix");
  const std::string in_root = rootfs() + "/ubuntu/root/.ollama/models";
  put(in_root, "qwen", "0.5b", 'a', 100);
  const model_store mine(dir_ + "/mine");
  const std::optional<model_store> ollama = model_store(in_root, true);
  const auto all = list_all(mine, ollama);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].where, &*ollama);
  EXPECT_EQ(all[0].owned, nullptr);
}

TEST_F(PhoneStoreTest, ProotStoresAreNeverWritten) {
  env_var prefix("PREFIX", dir_ + "/prefix");
  put(rootfs() + "/ubuntu/root/.ollama/models", "qwen", "0.5b", 'a', 100);
  auto stores = model_store::proot_ollama_stores();
  ASSERT_EQ(stores.size(), 1u);
  EXPECT_FALSE(stores[0].remove(*parse_name("qwen:0.5b")));
  EXPECT_TRUE(stores[0].contains(*parse_name("qwen:0.5b")));
  EXPECT_FALSE(stores[0].lock());
}

int g_flock_calls = 0;
int g_flock_errno = ENOLCK;
int failing_flock(int, int) {
  ++g_flock_calls;
  errno = g_flock_errno;
  return -1;
}

// Android's shared storage (FUSE) may have no flock: imports, manifest writes and removal work
// unlocked with one warning; any other lock failure is still an error.
TEST_F(PhoneStoreTest, WorksWithoutFlockWhereTheFileSystemHasNone) {
  for (const int e : {ENOLCK, ENOSYS, EOPNOTSUPP}) {
    g_flock_calls = 0;
    g_flock_errno = e;
    set_flock_for_testing(&failing_flock);
    const std::string root = dir_ + "/store-" + std::to_string(e);
    model_store s(root);
    const std::string src = dir_ + "/weights.bin";
    std::ofstream(src, std::ios::binary) << std::string(4096, 'w');
    auto l = s.add_blob_file(src, media::model);
    ASSERT_TRUE(l) << l.error_message();
    auto c = s.add_blob_bytes("{}", media::config);
    ASSERT_TRUE(c) << c.error_message();
    manifest m;
    m.config = *c;
    m.layers.push_back(*l);
    const auto n = *parse_name("imported:latest");
    auto st = s.write_manifest(n, serialize_manifest(m));
    ASSERT_TRUE(st) << st.error_message();
    EXPECT_TRUE(s.contains(n));
    // A copy, not a link: the blob is ours, read-only, and another inode than the source.
    struct stat a {
    }, b{};
    ASSERT_EQ(::stat(src.c_str(), &a), 0);
    ASSERT_EQ(::stat(s.blob_path(*digest_hex(l->digest)).c_str(), &b), 0);
    EXPECT_NE(a.st_ino, b.st_ino);
    EXPECT_EQ(b.st_mode & 0777, 0444u);
    ASSERT_TRUE(s.remove(n));
    EXPECT_FALSE(s.contains(n));
    EXPECT_GT(g_flock_calls, 0) << "the seam was not used";
    EXPECT_TRUE(locks_unsupported_seen());
  }
  g_flock_errno = EIO;  // a real failure is not papered over
  set_flock_for_testing(&failing_flock);
  model_store s(dir_ + "/store-eio");
  auto lk = s.lock();
  ASSERT_FALSE(lk);
  EXPECT_NE(lk.error_message().find("cannot lock"), std::string::npos) << lk.error_message();
}

}  // namespace

}  // namespace pocketlm::store
