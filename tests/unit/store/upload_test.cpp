// Uploaded blobs (receive_blob: hashed as they arrive, named only when the digest checks out,
// nothing kept on failure) and models built from typed fields (create_from_spec: /api/create).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "store/create.h"
#include "store/model_config.h"
#include "store/store.h"

namespace pocketlm::store {

namespace {

namespace fs = std::filesystem;

const std::string k_stories = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

std::string random_bytes(size_t n, uint32_t seed) {
  std::string bytes(n, '\0');
  std::mt19937 rng(seed);
  for (auto& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Feeds `bytes` to the sink in pieces of `piece` bytes; `complete` false ends it early.
std::function<bool(const blob_sink&)> pieces(const std::string& bytes, size_t piece, bool complete = true) {
  return [=](const blob_sink& sink) {
    const size_t end = complete ? bytes.size() : bytes.size() / 2;
    for (size_t off = 0; off < end; off += piece) {
      if (!sink(bytes.data() + off, std::min(piece, end - off))) return false;
    }
    return complete;
  };
}

class StoreUpload : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pocketlm-upload-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> blob_files(const model_store& s) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(s.root() + "/blobs", ec)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
};

}  // namespace

TEST_F(StoreUpload, MatchingBytesBecomeAReadOnlyBlob) {
  model_store s(dir_ + "/store");
  const std::string bytes = random_bytes(3 << 20, 1);
  const std::string hex = sha256_hex(bytes);
  auto l = receive_blob(s, hex, pieces(bytes, 100000));
  ASSERT_TRUE(l) << l.error_message();
  EXPECT_EQ(l->digest, "sha256:" + hex);
  EXPECT_EQ(l->size, static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(file_bytes(s.blob_path(hex)), bytes);
  struct stat st {};
  ASSERT_EQ(::stat(s.blob_path(hex).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_EQ(blob_files(s), std::vector<std::string>{"sha256-" + hex});
}

TEST_F(StoreUpload, WrongDigestOrCutShortKeepsNothing) {
  model_store s(dir_ + "/store");
  const std::string bytes = random_bytes(1 << 20, 2);
  const std::string other = sha256_hex("something else");
  auto l = receive_blob(s, other, pieces(bytes, 65536));
  ASSERT_FALSE(l);
  EXPECT_EQ(l.kind(), error_kind::invalid_input);
  EXPECT_NE(l.error_message().find("digest mismatch"), std::string::npos) << l.error_message();
  EXPECT_NE(l.error_message().find(sha256_hex(bytes)), std::string::npos) << l.error_message();
  EXPECT_TRUE(blob_files(s).empty());

  auto cut = receive_blob(s, sha256_hex(bytes), pieces(bytes, 65536, /*complete=*/false));
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.kind(), error_kind::io);
  EXPECT_TRUE(blob_files(s).empty());
}

TEST_F(StoreUpload, LeftoverPartialIsEmptiedNotResumed) {
  model_store s(dir_ + "/store");
  const std::string bytes = random_bytes(200000, 3);
  const std::string hex = sha256_hex(bytes);
  fs::create_directories(s.root() + "/blobs");
  std::ofstream(s.partial_path(hex), std::ios::binary) << bytes.substr(0, 1000);  // an earlier, cut upload
  auto l = receive_blob(s, hex, pieces(bytes, 4096));
  ASSERT_TRUE(l) << l.error_message();
  EXPECT_EQ(file_bytes(s.blob_path(hex)), bytes);
  EXPECT_FALSE(fs::exists(s.partial_path(hex)));
}

TEST_F(StoreUpload, FullDiskIsExhaustedAndKeepsNothing) {
  model_store s(dir_ + "/store");
  ASSERT_TRUE(s.lock());  // creates the directories first
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{64 * 1024, 64 * 1024};
    setrlimit(RLIMIT_FSIZE, &lim);
    const std::string bytes = random_bytes(1 << 20, 4);
    auto l = receive_blob(s, sha256_hex(bytes), pieces(bytes, 32768));
    _exit(!l && l.kind() == error_kind::exhausted && l.error_message().find("disk full") != std::string::npos ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(blob_files(s).empty());
}

TEST_F(StoreUpload, CreateFromAnUploadedBlobThenLayerOverIt) {
  model_store s(dir_ + "/store");
  const std::string gguf = file_bytes(k_stories);
  const std::string hex = sha256_hex(gguf);
  ASSERT_TRUE(receive_blob(s, hex, pieces(gguf, 1 << 16)));

  create_spec up;
  up.model_blob = hex;
  up.system = "You tell stories.";
  up.licenses = {"MIT"};
  ASSERT_TRUE(set_param(up.parameters, "num_predict", "4"));
  ASSERT_TRUE(set_param(up.parameters, "stop", "THE END"));
  std::vector<std::string> statuses;
  auto m =
      create_from_spec(s, std::nullopt, up, *parse_name("up"), [&](std::string_view st) { statuses.emplace_back(st); });
  ASSERT_TRUE(m) << m.error_message();
  ASSERT_FALSE(statuses.empty());
  EXPECT_EQ(statuses.front(), "parsing GGUF");
  EXPECT_EQ(statuses.back(), "writing manifest");
  EXPECT_NE(std::find(statuses.begin(), statuses.end(), "using existing layer sha256:" + hex), statuses.end());
  auto e = s.read(*parse_name("up"));
  ASSERT_TRUE(e);
  auto cfg = load_config(s, *e);
  ASSERT_TRUE(cfg) << cfg.error_message();
  EXPECT_EQ(cfg->gguf_path, s.blob_path(hex));  // the upload itself is the model layer
  EXPECT_EQ(cfg->system, "You tell stories.");
  EXPECT_EQ(cfg->params.num_predict, 4);
  EXPECT_EQ(cfg->params.stop, std::vector<std::string>{"THE END"});

  // Over it: a parameter replaced, one added, the rest (and the licence) inherited; a template
  // becomes Ollama's template layer.
  create_spec over;
  over.from = "up";
  over.template_text = "{{ .Prompt }}";
  ASSERT_TRUE(set_param(over.parameters, "num_predict", "2"));
  ASSERT_TRUE(set_param(over.parameters, "top_k", "7"));
  ASSERT_TRUE(create_from_spec(s, std::nullopt, over, *parse_name("over")));
  auto cfg2 = load_config(s, *s.read(*parse_name("over")));
  ASSERT_TRUE(cfg2) << cfg2.error_message();
  EXPECT_EQ(cfg2->params.num_predict, 2);
  EXPECT_EQ(cfg2->params.top_k, 7);
  EXPECT_EQ(cfg2->params.stop, std::vector<std::string>{"THE END"});
  EXPECT_EQ(cfg2->system, "You tell stories.");
  EXPECT_EQ(cfg2->licenses, std::vector<std::string>{"MIT"});
  EXPECT_TRUE(cfg2->has_go_template);
  EXPECT_EQ(cfg2->gguf_path, s.blob_path(hex));
}

TEST_F(StoreUpload, CreateErrorsNameTheProblemAndAddNothing) {
  model_store s(dir_ + "/store");
  const std::string junk = random_bytes(5000, 5);
  ASSERT_TRUE(receive_blob(s, sha256_hex(junk), pieces(junk, 1000)));
  const auto before = blob_files(s);
  create_spec missing;
  missing.model_blob = sha256_hex("never uploaded");
  auto a = create_from_spec(s, std::nullopt, missing, *parse_name("a"));
  ASSERT_FALSE(a);
  EXPECT_EQ(a.kind(), error_kind::not_found);
  create_spec not_gguf;
  not_gguf.model_blob = sha256_hex(junk);
  not_gguf.system = "a system prompt";
  auto b = create_from_spec(s, std::nullopt, not_gguf, *parse_name("b"));
  ASSERT_FALSE(b);
  EXPECT_EQ(b.kind(), error_kind::invalid_input);
  create_spec unknown;
  unknown.from = "nosuch:1b";
  auto c = create_from_spec(s, std::nullopt, unknown, *parse_name("c"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.kind(), error_kind::not_found);
  auto d = create_from_spec(s, std::nullopt, create_spec{}, *parse_name("d"));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.kind(), error_kind::invalid_input);
  EXPECT_EQ(blob_files(s), before);
  EXPECT_TRUE(s.list().empty());
}

}  // namespace pocketlm::store
