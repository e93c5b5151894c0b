// A model file truncated under a loaded model (a user's `cp junk model.gguf` over a file the
// server has mapped): the next pass reads zero pages instead of dying of SIGBUS, and reports
// the model as changed; other mappings are unaffected.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "model/model.h"

namespace pocketlm {
namespace {

const std::string k_stories = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

TEST(FileChange, TruncatedUnderALoadedModelFailsThePassNotTheProcess) {
  const auto dir = std::filesystem::temp_directory_path() / ("pocketlm_file_change_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string copy = (dir / "m.gguf").string();
  std::filesystem::copy_file(k_stories, copy, std::filesystem::copy_options::overwrite_existing);
  model_options o;
  o.n_ctx = 64;
  o.n_threads = 2;
  auto m = model::load(copy, o);
  ASSERT_TRUE(m.ok()) << m.error_message();
  auto other = model::load(k_stories, o);
  ASSERT_TRUE(other.ok()) << other.error_message();
  ASSERT_TRUE((*m)->eval({1, 400, 30}, false).ok());
  EXPECT_FALSE((*m)->file().damaged());

  ASSERT_EQ(truncate(copy.c_str(), 4096), 0);  // every weight page is gone from the file
  (*m)->truncate(0);
  auto after = (*m)->eval({1, 400, 30}, false);
  ASSERT_FALSE(after.ok());
  EXPECT_NE(after.error_message().find("changed on disk"), std::string::npos) << after.error_message();
  EXPECT_TRUE((*m)->file().damaged());
  auto decode = (*m)->eval({5}, false);  // the one-token path says so too
  EXPECT_FALSE(decode.ok());

  EXPECT_TRUE((*other)->eval({1, 400, 30}, false).ok());  // a healthy mapping still works
  EXPECT_FALSE((*other)->file().damaged());
  m->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pocketlm
