// Prefix reuse of a session on an lfm2 model (convolution state per sequence, see
// model/shortconv.h): a chat's next prompt continues the cached tokens, or only the last prompt
// before them, and the session evaluates exactly what the model could not keep.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../model/lfm2_fixture.h"
#include "runtime/session.h"

namespace pocketlm {
namespace {

std::vector<int32_t> tokens(size_t n, size_t salt) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>(3 + (i * 37 + salt * 101) % 500));
  return ids;
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

TEST(lfm2_session, next_prompts_reuse_what_the_state_can_keep) {
  const std::string path = lfm2_fixture::lfm2_from_stories("session");
  ASSERT_FALSE(path.empty());
  model_options opt;
  opt.n_ctx = 128;
  opt.n_batch = 16;
  auto m = model::load(path, opt);
  auto fresh = model::load(path, opt);
  std::filesystem::remove(path);
  ASSERT_TRUE(m.ok() && fresh.ok());
  const auto want = [&](const std::vector<int32_t>& ids) {
    (*fresh)->truncate(0, 0);
    auto l = (*fresh)->eval(ids, false);
    EXPECT_TRUE(l.ok());
    return l.ok() ? *l : std::vector<float>{};
  };
  session s(**m);
  const auto p1 = concat({1}, tokens(20, 1));
  ASSERT_TRUE(s.sync(p1).ok());
  const auto reply = tokens(3, 2);
  for (int32_t t : reply) ASSERT_TRUE(s.push(t).ok());
  // The next turn extends everything cached: only its new tokens run.
  const auto turn = tokens(5, 3);
  const auto p2 = concat(concat(p1, reply), turn);
  auto l2 = s.sync(p2);
  ASSERT_TRUE(l2.ok());
  EXPECT_EQ(s.last_evaluated(), 5);
  EXPECT_LT(max_abs_diff(**l2, want(p2)), 1e-5f);
  // A prompt that leaves the reply (re-rendered otherwise) shares p2's prefix only up to p1 + 1:
  // the state saved after p2's prefill is too late, so the whole prompt runs again.
  const auto p3 = concat(concat(p1, {reply[0]}), tokens(4, 4));
  auto l3 = s.sync(p3);
  ASSERT_TRUE(l3.ok());
  EXPECT_EQ(s.last_evaluated(), static_cast<int64_t>(p3.size()));
  EXPECT_LT(max_abs_diff(**l3, want(p3)), 1e-5f);
  // After p3's prefill, a prompt that extends p3 but not what followed it restarts from p3's end.
  for (int32_t t : tokens(2, 5)) ASSERT_TRUE(s.push(t).ok());
  const auto p4 = concat(p3, tokens(6, 6));
  auto l4 = s.sync(p4);
  ASSERT_TRUE(l4.ok());
  EXPECT_EQ(s.last_evaluated(), 6);
  EXPECT_LT(max_abs_diff(**l4, want(p4)), 1e-5f);
}

}  // namespace
}  // namespace pocketlm
