#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "store/create.h"
#include "store/model_config.h"
#include "store/store.h"

namespace pocketlm::store {

namespace {

namespace fs = std::filesystem;

const std::string k_stories = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pocketlm-store-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write_bytes(const std::string& name, size_t n, uint32_t seed) {
    std::string bytes(n, '\0');
    std::mt19937 rng(seed);
    for (auto& c : bytes) c = static_cast<char>(rng());
    std::ofstream(dir_ + "/" + name, std::ios::binary) << bytes;
    return bytes;
  }
  std::vector<std::string> blob_files(const model_store& s) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(s.root() + "/blobs", ec)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
};

ino_t inode(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace

mode_t mode_of(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

TEST_F(StoreTest, AddBlobFileCopiesReadOnlyAndDedupes) {
  const std::string bytes = write_bytes("w.bin", 100000, 1);
  model_store s(dir_ + "/store");
  auto l = s.add_blob_file(dir_ + "/w.bin", media::model);
  ASSERT_TRUE(l) << l.error_message();
  const std::string hex = sha256_hex(bytes);
  EXPECT_EQ(l->digest, "sha256:" + hex);
  EXPECT_EQ(l->size, 100000);
  // A copy, never a hard link to the user's file, and read-only.
  EXPECT_NE(inode(s.blob_path(hex)), inode(dir_ + "/w.bin"));
  EXPECT_EQ(mode_of(s.blob_path(hex)), 0444u);
  // Overwriting the original in place does not reach the blob.
  write_bytes("w.bin", 100000, 99);
  EXPECT_EQ(*sha256_file(s.blob_path(hex)), hex);
  write_bytes("w.bin", 100000, 1);
  ASSERT_TRUE(s.add_blob_file(dir_ + "/w.bin", media::model));  // already there
  EXPECT_EQ(blob_files(s), std::vector<std::string>{"sha256-" + hex});
}

TEST_F(StoreTest, CorruptExistingBlobIsReplacedNotReused) {
  const std::string bytes = write_bytes("w.bin", 200000, 7);
  const std::string hex = sha256_hex(bytes);
  model_store s(dir_ + "/store");
  ASSERT_TRUE(s.add_blob_file(dir_ + "/w.bin", media::model));
  ASSERT_TRUE(s.verify_blob(hex, 200000));
  // What an old hard-linked import let happen: the blob's bytes change in place.
  ASSERT_EQ(::chmod(s.blob_path(hex).c_str(), 0644), 0);
  {
    std::fstream f(s.blob_path(hex), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('X');
  }
  const auto v = s.verify_blob(hex, 200000);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error_message().find("is corrupt"), std::string::npos) << v.error_message();
  auto l = s.add_blob_file(dir_ + "/w.bin", media::model);
  ASSERT_TRUE(l) << l.error_message();
  EXPECT_EQ(*sha256_file(s.blob_path(hex)), hex);
  EXPECT_EQ(mode_of(s.blob_path(hex)), 0444u);
  // A truncated one too, and a text blob.
  ASSERT_EQ(::chmod(s.blob_path(hex).c_str(), 0644), 0);
  ASSERT_EQ(::truncate(s.blob_path(hex).c_str(), 10), 0);
  ASSERT_TRUE(s.add_blob_file(dir_ + "/w.bin", media::model));
  EXPECT_EQ(*sha256_file(s.blob_path(hex)), hex);
  auto t = s.add_blob_bytes("hello", media::system);
  ASSERT_TRUE(t);
  const std::string thex = *digest_hex(t->digest);
  EXPECT_EQ(mode_of(s.blob_path(thex)), 0444u);
  ASSERT_EQ(::chmod(s.blob_path(thex).c_str(), 0644), 0);
  std::ofstream(s.blob_path(thex)) << "jello";
  ASSERT_TRUE(s.add_blob_bytes("hello", media::system));
  EXPECT_EQ(*read_file(s.blob_path(thex), 100), "hello");
}

TEST_F(StoreTest, CopyResumesFromPartial) {
  const std::string bytes = write_bytes("w.bin", 3 << 20, 2);
  const std::string hex = sha256_hex(bytes);
  model_store s(dir_ + "/store");
  fs::create_directories(s.root() + "/blobs");
  std::ofstream(s.partial_path(hex), std::ios::binary) << bytes.substr(0, 1 << 20);
  auto p = s.open_partial(hex, bytes.size());
  ASSERT_TRUE(p && *p);
  EXPECT_EQ((*p)->offset(), 1 << 20);
  p->reset();
  ASSERT_TRUE(s.add_blob_file(dir_ + "/w.bin", media::model));
  EXPECT_EQ(*sha256_file(s.blob_path(hex)), hex);
  EXPECT_FALSE(fs::exists(s.partial_path(hex)));
}

TEST_F(StoreTest, CorruptPartialIsDeletedNotPromoted) {
  const std::string bytes = write_bytes("w.bin", 5000, 3);
  const std::string hex = sha256_hex(bytes);
  model_store s(dir_ + "/store");
  auto p = s.open_partial(hex, 5000);
  ASSERT_TRUE(p && *p);
  std::string bad = bytes;
  bad[100] ^= 1;
  ASSERT_TRUE(pwrite_all((*p)->fd(), bad.data(), bad.size(), 0));
  const auto st = s.commit_partial(**p, hex, 5000);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error_message().find("failed verification"), std::string::npos);
  EXPECT_TRUE(blob_files(s).empty());
  // Short partials are reported, kept for a later resume.
  p = s.open_partial(hex, 5000);
  ASSERT_TRUE(p && *p);
  ASSERT_TRUE(pwrite_all((*p)->fd(), bytes.data(), 10, 0));
  EXPECT_FALSE(s.commit_partial(**p, hex, 5000));
  EXPECT_TRUE(fs::exists(s.partial_path(hex)));
  // A partial longer than the blob is emptied on open.
  ASSERT_TRUE(pwrite_all((*p)->fd(), bad.data(), 6000 < bad.size() ? 6000 : bad.size(), 0));
  ASSERT_TRUE(pwrite_all((*p)->fd(), bad.data(), 1000, 5000));
  p->reset();
  p = s.open_partial(hex, 5000);
  ASSERT_TRUE(p && *p);
  EXPECT_EQ((*p)->offset(), 0);
}

TEST_F(StoreTest, FullDiskLeavesStoreAsItWas) {
  write_bytes("w.bin", 1 << 20, 4);
  model_store s(dir_ + "/store");
  ASSERT_TRUE(s.lock());  // creates the directories first
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{64 * 1024, 64 * 1024};
    setrlimit(RLIMIT_FSIZE, &lim);
    auto l = s.add_blob_file(dir_ + "/w.bin", media::model);
    _exit(!l && l.error_message().find("disk full") != std::string::npos ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(blob_files(s).empty());
}

TEST_F(StoreTest, ImportRemoveKeepsSharedBlobs) {
  model_store s(dir_ + "/store");
  ASSERT_TRUE(import_gguf(s, k_stories, *parse_name("a")));
  ASSERT_TRUE(import_gguf(s, k_stories, *parse_name("b:v1")));
  auto l = s.list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].id, sha256_hex(l[0].raw));
  const auto blobs = blob_files(s);
  EXPECT_EQ(blobs.size(), 2u);  // model + config, shared
  ASSERT_TRUE(s.remove(*parse_name("a")));
  EXPECT_EQ(blob_files(s), blobs);
  EXPECT_FALSE(fs::exists(s.root() + "/manifests/registry.ollama.ai/library/a"));
  EXPECT_FALSE(s.remove(*parse_name("a")));
  ASSERT_TRUE(s.remove(*parse_name("b:v1")));
  EXPECT_TRUE(blob_files(s).empty());
  EXPECT_TRUE(s.list().empty());
}

TEST_F(StoreTest, ImportRejectsNonGguf) {
  write_bytes("junk.gguf", 4096, 5);
  model_store s(dir_ + "/store");
  EXPECT_FALSE(import_gguf(s, dir_ + "/junk.gguf", *parse_name("junk")));
  EXPECT_TRUE(blob_files(s).empty());
}

TEST_F(StoreTest, ManifestNeedsItsBlobs) {
  model_store s(dir_ + "/store");
  const std::string m = R"({"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)" +
                        std::string(64, 'c') + R"(","size":1}]})";
  const auto st = s.write_manifest(*parse_name("x"), m);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error_message().find("missing"), std::string::npos);
  EXPECT_FALSE(s.contains(*parse_name("x")));
}

TEST_F(StoreTest, OllamaStoreIsReadInPlaceAndNeverWritten) {
  // An Ollama store with the old "sha256:<hex>" blob names.
  model_store staging(dir_ + "/staging");
  ASSERT_TRUE(import_gguf(staging, k_stories, *parse_name("m")));
  auto params = staging.add_blob_bytes(R"({"temperature":0.25,"stop":["x"]})", media::params);
  auto tmpl = staging.add_blob_bytes("{{ .Prompt }}", media::template_);
  ASSERT_TRUE(params && tmpl);
  auto e = staging.read(*parse_name("m"));
  manifest m = e->m;
  m.layers.push_back(*params);
  m.layers.push_back(*tmpl);
  ASSERT_TRUE(staging.write_manifest(*parse_name("m"), serialize_manifest(m)));
  fs::create_directories(dir_ + "/ollama/blobs");
  fs::rename(dir_ + "/staging/manifests", dir_ + "/ollama/manifests");
  for (const auto& b : fs::directory_iterator(dir_ + "/staging/blobs")) {
    std::string name = b.path().filename();
    name[6] = ':';
    fs::rename(b.path(), dir_ + "/ollama/blobs/" + name);
  }
  const std::optional<model_store> ollama = model_store(dir_ + "/ollama", true);
  model_store mine(dir_ + "/mine");
  auto loc = locate(*parse_name("m"), mine, ollama);
  ASSERT_TRUE(loc) << loc.error_message();
  EXPECT_EQ(loc->where, &*ollama);
  auto cfg = load_config(*loc->where, loc->entry);
  ASSERT_TRUE(cfg) << cfg.error_message();
  EXPECT_NE(cfg->gguf_path.find("/ollama/blobs/sha256:"), std::string::npos);
  EXPECT_DOUBLE_EQ(*cfg->params.temperature, 0.25);
  EXPECT_TRUE(cfg->has_go_template);
  EXPECT_FALSE(model_store(dir_ + "/ollama", true).add_blob_bytes("x", media::system));
  EXPECT_FALSE(model_store(dir_ + "/ollama", true).remove(*parse_name("m")));
  // cp into our store copies the blobs (Ollama's files stay as they are, writable, and are
  // never linked) and keeps the manifest bytes (same ID).
  const std::string hex = *digest_hex(loc->entry.m.find(media::model)->digest);
  const mode_t ollama_mode = mode_of(ollama->blob_path(hex));
  ASSERT_TRUE(mine.copy_from(*ollama, *parse_name("m"), *parse_name("mine")));
  EXPECT_NE(inode(mine.blob_path(hex)), inode(ollama->blob_path(hex)));
  EXPECT_EQ(*sha256_file(mine.blob_path(hex)), hex);
  EXPECT_EQ(mode_of(mine.blob_path(hex)), 0444u);
  EXPECT_EQ(mode_of(ollama->blob_path(hex)), ollama_mode);
  EXPECT_EQ(mine.read(*parse_name("mine"))->id, loc->entry.id);
  EXPECT_EQ(locate(*parse_name("mine"), mine, ollama)->where, &mine);
  // Removing our copy collects our blobs only; Ollama's store is never touched.
  ASSERT_TRUE(mine.remove(*parse_name("mine")));
  EXPECT_FALSE(fs::exists(mine.blob_path(hex)) && mine.blob_path(hex).find("/mine/") != std::string::npos);
  EXPECT_TRUE(fs::exists(ollama->blob_path(hex)));
  EXPECT_TRUE(ollama->contains(*parse_name("m")));
}

TEST_F(StoreTest, ConcurrentImportsDoNotCorrupt) {
  model_store s(dir_ + "/store");
  std::vector<pid_t> kids;
  for (int i = 0; i < 4; ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto r = import_gguf(s, k_stories, *parse_name("m" + std::to_string(i)));
      _exit(r ? 0 : 1);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int status = 0;
    waitpid(k, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(s.list().size(), 4u);
  EXPECT_EQ(blob_files(s).size(), 2u);
  auto l = s.list();
  EXPECT_EQ(*sha256_file(s.blob_path(*digest_hex(l[0].m.find(media::model)->digest))), *sha256_file(k_stories));
}

}  // namespace pocketlm::store
