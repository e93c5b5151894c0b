// The memory planner: size parsing and the default budget, plan totals against the measured peak
// RSS of `pocketlm eval` (three generated models, two contexts each), load-time refusal and
// context reduction, and the q8_0 KV cache's accuracy against f16.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/planner.h"

namespace pocketlm {
namespace {

namespace fs = std::filesystem;

const std::string k_stories = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";
const std::string k_cli = std::string(POCKETLM_BINARY_DIR) + "/src/cli/pocketlm";
const std::string k_gen = std::string(POCKETLM_BINARY_DIR) + "/bin/pocketlm-gen-model";

#if defined(__SANITIZE_ADDRESS__)
constexpr bool k_sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool k_sanitized = true;
#else
constexpr bool k_sanitized = false;
#endif
#else
constexpr bool k_sanitized = false;
#endif

struct child_result {
  int exit_code = -1;
  long max_rss_kb = 0;  // ru_maxrss of the child
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs argv[0] with stdout/stderr in files; returns its exit code and peak RSS.
child_result run_child(const std::vector<std::string>& args, const fs::path& dir) {
  const fs::path out = dir / "child.out", err = dir / "child.err";
  const pid_t pid = fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  child_result r;
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.max_rss_kb = ru.ru_maxrss;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// Generated models shared by the tests of this file (written once, removed at the end).
class planner_models : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("pocketlm-plan-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // Generates (once) preset/type[/n_layer] and returns its path.
  static std::string model(const std::string& preset, const std::string& type, int n_layer = 0) {
    const std::string name = preset + "-" + type + (n_layer ? "-l" + std::to_string(n_layer) : "");
    const fs::path path = dir_ / (name + ".gguf");
    if (fs::exists(path)) return path.string();
    std::vector<std::string> args = {k_gen, "--preset", preset, "--type", type, "-o", path.string()};
    if (n_layer) args.insert(args.end(), {"--n-layer", std::to_string(n_layer)});
    const child_result r = run_child(args, dir_);
    EXPECT_EQ(r.exit_code, 0) << "pocketlm-gen-model (build it first): " << r.err;
    return path.string();
  }

  static inline fs::path dir_;
};

TEST(plan_sizes, parses_units_as_powers_of_1024) {
  EXPECT_EQ(*parse_size("8G"), 8ull << 30);
  EXPECT_EQ(*parse_size("512M"), 512ull << 20);
  EXPECT_EQ(*parse_size("6GiB"), 6ull << 30);
  EXPECT_EQ(*parse_size("8GB"), 8ull << 30);
  EXPECT_EQ(*parse_size("1.5g"), 3ull << 29);
  EXPECT_EQ(*parse_size("64k"), 64ull << 10);
  EXPECT_EQ(*parse_size("4096"), 4096u);
  for (const char* bad : {"", "G", "-1G", "0", "8X", "8 G", " 8G", "1e30T", "nanG"}) {
    EXPECT_FALSE(parse_size(bad).ok()) << bad;
  }
}

TEST(plan_sizes, default_budget_is_mem_available_minus_reserve) {
  const fs::path p = fs::temp_directory_path() / ("meminfo-" + std::to_string(::getpid()));
  std::ofstream(p) << "MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    2000000 kB\n";
  auto avail = read_mem_available(p.string());
  ASSERT_TRUE(avail.ok());
  EXPECT_EQ(*avail, 2000000ull * 1024);
  auto b = resolve_budget("", p.string());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->bytes, 2000000ull * 1024 - 200000ull * 1024);  // 10% when under 512 MiB
  EXPECT_EQ(b->source, "MemAvailable - reserve");
  EXPECT_EQ(budget_from_available(64ull << 30), (64ull << 30) - (512ull << 20));  // capped
  auto flag = resolve_budget("3G", p.string());
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag->bytes, 3ull << 30);
  EXPECT_EQ(flag->source, "--ram");
  EXPECT_FALSE(resolve_budget("lots", p.string()).ok());
  std::ofstream(p) << "MemTotal: 1 kB\n";
  EXPECT_FALSE(resolve_budget("", p.string()).ok());
  fs::remove(p);
}

// The done-when check: plan's total within 5% of the peak RSS of `pocketlm eval` for three
// model sizes at two contexts, and for lfm2 (KV cells on its attention layers only, a
// convolution state per sequence). The KV cache is zero-filled at load, so it is resident even
// though eval writes only a few positions; the models have tied embeddings, so every weight
// page is read by the output projection.
TEST_F(planner_models, plan_total_matches_eval_peak_rss) {
  if (k_sanitized) GTEST_SKIP() << "sanitizer shadow memory inflates RSS";
  const std::vector<std::string> models = {model("qwen3-tiny", "q8_0"), model("qwen3-tiny", "f32"),
                                           model("qwen2.5-0.5b", "q4_0", 8), model("lfm2-tiny", "q8_0")};
  for (const auto& m : models) {
    for (const char* ctx : {"1024", "32768"}) {
      const child_result plan =
          run_child({k_cli, "plan", "-m", m, "-c", ctx, "-t", "2", "--ram", "64G", "-o", "json"}, dir_);
      ASSERT_EQ(plan.exit_code, 0) << plan.err;
      const auto j = nlohmann::json::parse(plan.out);
      const double total = j["total"].get<double>();
      const child_result eval = run_child(
          {k_cli, "eval", "-m", m, "--tokens", "1,2,3,4,5,6,7,8", "-c", ctx, "-t", "2", "--ram", "64G"}, dir_);
      ASSERT_EQ(eval.exit_code, 0) << eval.err;
      const double rss = static_cast<double>(eval.max_rss_kb) * 1024.0;
      EXPECT_LT(std::fabs(total - rss) / rss, 0.05)
          << m << " -c " << ctx << ": plan " << total / 1048576 << " MiB, peak RSS " << rss / 1048576 << " MiB";
    }
  }
}

TEST_F(planner_models, largest_context_and_chunk_fit_the_budget) {
  plan_request req{model("qwen2.5-0.5b", "q4_0", 8), 4096, 512, 2, kv_type::f16, {300ull << 20, "--ram"}};
  auto p = make_plan(req);
  ASSERT_TRUE(p.ok()) << p.error_message();
  EXPECT_GT(p->max_ctx, 0);
  EXPECT_LT(p->max_ctx, p->hp.n_ctx_train);
  auto at = [&](int64_t ctx, int64_t batch) {
    plan_request r = req;
    r.n_ctx = ctx;
    r.n_batch = batch;
    return make_plan(r)->needs.total();
  };
  EXPECT_LE(at(p->max_ctx, 512), req.budget.bytes);
  EXPECT_GT(at(p->max_ctx + 1, 512), req.budget.bytes);
  EXPECT_GE(p->max_batch, 512);  // the planned chunk fits, so the largest is at least as big
  EXPECT_LE(at(4096, p->max_batch), req.budget.bytes);
  if (p->max_batch < 4096) {
    EXPECT_GT(at(4096, p->max_batch + 1), req.budget.bytes);
  }
  req.budget.bytes = p->needs.total() - p->needs.compute / 2;  // squeeze the chunk
  auto q = make_plan(req);
  EXPECT_FALSE(q->fits);
  EXPECT_LT(q->max_batch, 512);
  EXPECT_GT(q->max_batch, 0);
  EXPECT_LE(at(4096, q->max_batch), req.budget.bytes);
  EXPECT_GT(at(4096, q->max_batch + 1), req.budget.bytes);
  // KV q8_0 is 34/64 of f16.
  req.kv = kv_type::q8_0;
  EXPECT_EQ(make_plan(req)->needs.kv * 64, p->needs.kv * 34);
}

TEST_F(planner_models, model_larger_than_budget_is_refused) {
  const std::string m = model("qwen3-tiny", "q8_0");
  model_options opt;
  opt.n_threads = 2;
  opt.ram_budget = 16ull << 20;  // weights alone are ~40 MiB
  auto r = model::load(m, opt);
  ASSERT_FALSE(r.ok());
  const std::string& msg = r.error_message();
  EXPECT_NE(msg.find("model needs "), std::string::npos) << msg;
  EXPECT_NE(msg.find("(weights "), std::string::npos) << msg;
  EXPECT_NE(msg.find("at -c 4096"), std::string::npos) << msg;
  EXPECT_NE(msg.find("but the budget is 16.0 MiB (--ram)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("smaller quantization"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  // The CLI prints it as one line and exits 5 (exhausted), before touching the weights.
  const child_result c = run_child({k_cli, "eval", "-m", m, "--tokens", "1", "-t", "2", "--ram", "16M"}, dir_);
  EXPECT_EQ(c.exit_code, 5);
  EXPECT_EQ(c.err, "error: " + msg + "\n");
}

TEST_F(planner_models, too_large_context_is_refused_when_explicit_reduced_when_default) {
  const std::string m = model("qwen2.5-0.5b", "q4_0", 8);
  auto f = gguf::file::open(m);
  ASSERT_TRUE(f.ok());
  auto hp = read_hparams(**f);
  ASSERT_TRUE(hp.ok()) << hp.error_message();
  const uint64_t budget = estimate_memory(**f, *hp, {1500, 512, 1, kv_type::f16}).total();

  model_options opt;
  opt.ram_budget = budget;
  opt.n_ctx = 32768;  // explicit: refused, naming the largest context that fits
  auto r = model::load(m, opt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_message().find("use -c 1500 or less"), std::string::npos) << r.error_message();
  EXPECT_NE(r.error_message().find("at -c 32768"), std::string::npos);

  opt.n_ctx = 0;  // default (4096 for this model): reduced to a multiple of 256 that fits
  auto d = model::load(m, opt);
  ASSERT_TRUE(d.ok()) << d.error_message();
  EXPECT_EQ((*d)->n_ctx(), 1280);
  EXPECT_NE((*d)->load_notice().find("context reduced from 4096 to 1280"), std::string::npos) << (*d)->load_notice();
  EXPECT_TRUE((*d)->eval({1, 2, 3}, false).ok());

  opt.ram_budget = estimate_memory(**f, *hp, {200, 512, 1, kv_type::f16}).total();
  auto tiny = model::load(m, opt);  // not even 256 positions fit: refused
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.error_message().find("use -c 200 or less"), std::string::npos) << tiny.error_message();
}

TEST(plan_kv, q8_0_needs_kv_width_multiple_of_32) {
  hparams hp;
  hp.n_head_kv = 1;
  hp.head_dim = 8;
  EXPECT_TRUE(check_kv_type(hp, kv_type::f16).ok());
  const status s = check_kv_type(hp, kv_type::q8_0);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error_message().find("multiple of 32"), std::string::npos);
  hp.n_head_kv = 4;
  EXPECT_TRUE(check_kv_type(hp, kv_type::q8_0).ok());
}

// Last-position logits with a q8_0 KV cache stay within `tolerance` of the logit range of the
// f16 ones, and pick the same top token.
void expect_q8_kv_close(const std::string& path, int64_t vocab_limit, float tolerance) {
  std::vector<int32_t> prompt;
  for (int i = 0; i < 96; ++i) prompt.push_back(static_cast<int32_t>(1 + (i * 37) % (vocab_limit - 1)));
  std::vector<float> logits[2];
  for (int k = 0; k < 2; ++k) {
    model_options opt;
    opt.n_ctx = 128;
    opt.n_threads = 2;
    opt.kv = k == 0 ? kv_type::f16 : kv_type::q8_0;
    auto m = model::load(path, opt);
    ASSERT_TRUE(m.ok()) << m.error_message();
    EXPECT_EQ((*m)->kv(), opt.kv);
    auto out = (*m)->eval(prompt, false);
    ASSERT_TRUE(out.ok());
    for (int i = 0; i < 4; ++i) out = (*m)->eval({prompt[static_cast<size_t>(i)]}, false);  // decode too
    ASSERT_TRUE(out.ok());
    logits[k] = *out;
  }
  const auto [lo, hi] = std::minmax_element(logits[0].begin(), logits[0].end());
  float diff = 0;
  for (size_t i = 0; i < logits[0].size(); ++i) diff = std::max(diff, std::fabs(logits[0][i] - logits[1][i]));
  EXPECT_GT(diff, 0.0f) << "q8_0 cache gave bit-identical logits: not in use?";
  EXPECT_LT(diff, tolerance * (*hi - *lo)) << path;
  EXPECT_EQ(std::max_element(logits[0].begin(), logits[0].end()) - logits[0].begin(),
            std::max_element(logits[1].begin(), logits[1].end()) - logits[1].begin());
}

// stories260K has head_dim 8, so one 32-value block (one scale) spans 4 heads and quieter heads
// lose precision: measured 1.2% (a generated story) to 1.6% (this prompt) of the range; bounded
// at 2%. qwen2-tiny (head_dim 64, two blocks per head) is held to 1%.
TEST(plan_kv, q8_0_cache_close_to_f16_on_stories) { expect_q8_kv_close(k_stories, 512, 0.02f); }

TEST_F(planner_models, q8_0_cache_close_to_f16_on_qwen2_tiny) {
  expect_q8_kv_close(model("qwen2-tiny", "q8_0"), 1000, 0.01f);
}

TEST_F(planner_models, plan_device_reports_ceilings_and_phone_fit) {
  const child_result r = run_child(
      {k_cli, "plan", "-m", model("qwen3-tiny", "q8_0"), "-c", "2048", "--device", "8-gen-3", "-o", "json"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& d = j["device"];
  EXPECT_EQ(d["name"], "Snapdragon 8 Gen 3");
  EXPECT_EQ(j["budget"].get<uint64_t>(), static_cast<uint64_t>(8.0 * 0.6 * (1ull << 30)));
  EXPECT_NEAR(d["decode_tokens_per_s"].get<double>(), 76.6e9 / d["bytes_per_token"].get<double>(), 1e-6);
  EXPECT_GT(d["bytes_per_token"].get<uint64_t>(), j["kv"].get<uint64_t>());
  EXPECT_NEAR(d["prefill_tokens_per_s"].get<double>(), 34e12 / (2.0 * j["n_params"].get<double>()), 1e-3);
  EXPECT_EQ(d["prefill_basis"], "NPU INT8 34 TOPS");
  ASSERT_EQ(d["phones"].size(), 3u);
  EXPECT_TRUE(d["phones"][0]["fits"].get<bool>());
  const child_result bad = run_child({k_cli, "plan", "-m", k_stories, "--device", "pixel"}, dir_);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unknown 'pixel'"), std::string::npos);
}

}  // namespace
}  // namespace pocketlm
