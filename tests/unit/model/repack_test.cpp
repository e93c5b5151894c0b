// Load-time repacking on a synthetic q4_0 llama model written here (tied embeddings, so the
// output head is a repacked second view of token_embd while token lookups keep reading the
// file): the logits must be those of the plain model (bit-identical at the scalar level, to
// float rounding at the others), the repacked matrices must really be repacked, and the
// process must not hold more memory with repacking than without (the file pages are released).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "kernels/dispatch.h"
#include "model/hparams.h"
#include "model/model.h"
#include "model/weights.h"
#include "tensor/quant.h"

namespace pocketlm {
namespace {

constexpr int64_t k_embd = 512, k_ff = 2048, k_vocab = 1024, k_layers = 4, k_head = 8, k_kv_head = 4;

std::vector<uint8_t> q4_0_tensor(int64_t n_cols, int64_t n_rows, float scale, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> row(static_cast<size_t>(n_cols));
  const size_t row_bytes = row_size(ggml_type::q4_0, n_cols);
  std::vector<uint8_t> out(row_bytes * static_cast<size_t>(n_rows));
  for (int64_t r = 0; r < n_rows; ++r) {
    for (float& v : row) v = dist(rng);
    quantize_row(ggml_type::q4_0, row.data(), out.data() + r * row_bytes, n_cols);
  }
  return out;
}

std::vector<uint8_t> ones(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n), 1.0f);
  const auto* b = reinterpret_cast<const uint8_t*>(v.data());
  return {b, b + v.size() * sizeof(float)};
}

// ~9 MB of q4_0 weights: large enough that a second resident copy would show in the RSS.
std::string write_model() {
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.embedding_length", k_embd);
  w.set_u32("llama.block_count", k_layers);
  w.set_u32("llama.feed_forward_length", k_ff);
  w.set_u32("llama.attention.head_count", k_head);
  w.set_u32("llama.attention.head_count_kv", k_kv_head);
  w.set_u32("llama.context_length", 256);
  std::mt19937 rng(42);
  const int64_t kv = k_embd / k_head * k_kv_head;
  w.add_tensor("token_embd.weight", ggml_type::q4_0, {k_embd, k_vocab}, q4_0_tensor(k_embd, k_vocab, 1.0f, rng));
  w.add_tensor("output_norm.weight", ggml_type::f32, {k_embd}, ones(k_embd));
  const float s = 1.0f / std::sqrt(static_cast<float>(k_embd));
  for (int il = 0; il < k_layers; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    w.add_tensor(p + "attn_norm.weight", ggml_type::f32, {k_embd}, ones(k_embd));
    w.add_tensor(p + "ffn_norm.weight", ggml_type::f32, {k_embd}, ones(k_embd));
    w.add_tensor(p + "attn_q.weight", ggml_type::q4_0, {k_embd, k_embd}, q4_0_tensor(k_embd, k_embd, s, rng));
    w.add_tensor(p + "attn_k.weight", ggml_type::q4_0, {k_embd, kv}, q4_0_tensor(k_embd, kv, s, rng));
    w.add_tensor(p + "attn_v.weight", ggml_type::q4_0, {k_embd, kv}, q4_0_tensor(k_embd, kv, s, rng));
    w.add_tensor(p + "attn_output.weight", ggml_type::q4_0, {k_embd, k_embd}, q4_0_tensor(k_embd, k_embd, s, rng));
    w.add_tensor(p + "ffn_gate.weight", ggml_type::q4_0, {k_embd, k_ff}, q4_0_tensor(k_embd, k_ff, s, rng));
    w.add_tensor(p + "ffn_up.weight", ggml_type::q4_0, {k_embd, k_ff}, q4_0_tensor(k_embd, k_ff, s, rng));
    w.add_tensor(p + "ffn_down.weight", ggml_type::q4_0, {k_ff, k_embd},
                 q4_0_tensor(k_ff, k_embd, 1.0f / std::sqrt(static_cast<float>(k_ff)), rng));
  }
  const auto path = std::filesystem::temp_directory_path() / ("pocketlm_repack_" + std::to_string(getpid()) + ".gguf");
  EXPECT_TRUE(w.write_file(path.string()).ok());
  return path.string();
}

// Resident set size in bytes (VmRSS of /proc/self/status).
int64_t rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      int64_t kb = 0;
      in >> kb;
      return kb * 1024;
    }
    in.ignore(1 << 16, '\n');
  }
  return -1;
}

class repack_model : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { path_ = new std::string(write_model()); }
  static void TearDownTestSuite() {
    std::filesystem::remove(*path_);
    delete path_;
    unsetenv("POCKETLM_REPACK");
  }

  // Loads with repacking on or off (POCKETLM_REPACK) and runs a prompt: all positions' logits.
  static std::vector<float> run(bool repack, int threads) {
    auto m = load(repack, threads);
    if (!m) return {};
    auto logits = m->eval({1, 17, 300, 999, 42, 7, 512, 64}, true);
    EXPECT_TRUE(logits.ok());
    return logits.ok() ? *logits : std::vector<float>{};
  }

  static std::unique_ptr<model> load(bool repack, int threads) {
    setenv("POCKETLM_REPACK", repack ? "1" : "0", 1);
    model_options opt;
    opt.n_ctx = 64;
    opt.n_threads = threads;
    auto m = model::load(*path_, opt);
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error_message());
    return m.ok() ? std::move(*m) : nullptr;
  }

  // Growth of the RSS from before loading to after a forward pass touched every weight.
  static int64_t rss_growth(bool repack) {
    const int64_t before = rss_bytes();
    auto m = load(repack, 1);
    if (!m || !m->eval({1, 2, 3}, false).ok()) return -1;
    return rss_bytes() - before;
  }

  static std::string* path_;
};

std::string* repack_model::path_ = nullptr;

class isa_guard {
 public:
  isa_guard() : saved_(kernels::active_isa()) {}
  ~isa_guard() {
    for (auto l : {kernels::isa_level::scalar, kernels::isa_level::avx2, kernels::isa_level::avx512,
                   kernels::isa_level::neon, kernels::isa_level::dotprod, kernels::isa_level::i8mm}) {
      if (saved_ == kernels::isa_name(l)) kernels::set_isa(l);
    }
  }

 private:
  std::string saved_;
};

TEST_F(repack_model, load_weights_repacks_the_projections_and_the_tied_head) {
  isa_guard guard;
  kernels::set_isa(kernels::isa_level::scalar);  // the reference kernels count as native
  auto f = gguf::file::open(*path_);
  ASSERT_TRUE(f.ok());
  auto hp = read_hparams(**f);
  ASSERT_TRUE(hp.ok());
  hp->n_vocab = k_vocab;
  auto packed = load_weights(**f, *hp, true);
  ASSERT_TRUE(packed.ok()) << packed.error_message();
  ASSERT_TRUE(packed->packed);
  EXPECT_EQ(packed->layers[2].w_down.layout, kernels::weight_layout::q4_0x4);
  EXPECT_EQ(packed->output.layout, kernels::weight_layout::q4_0x4);
  // Tied: the embedding lookups read the repacked head, not the released file pages.
  EXPECT_EQ(packed->token_embd.layout, kernels::weight_layout::q4_0x4);
  EXPECT_EQ(packed->output.data, packed->token_embd.data);
  auto plain = load_weights(**f, *hp, false);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->packed);
  EXPECT_EQ(plain->layers[2].w_down.layout, kernels::weight_layout::plain);
}

TEST_F(repack_model, scalar_logits_are_bit_identical) {
  isa_guard guard;
  kernels::set_isa(kernels::isa_level::scalar);
  const std::vector<float> plain = run(false, 2);
  ASSERT_EQ(plain.size(), 8u * k_vocab);
  EXPECT_EQ(run(true, 2), plain);
}

TEST_F(repack_model, logits_agree_at_the_active_level) {
  const std::vector<float> plain = run(false, 2);
  const std::vector<float> packed = run(true, 2);
  ASSERT_EQ(plain.size(), 8u * k_vocab);
  ASSERT_EQ(packed.size(), plain.size());
  float scale = 1.0f, diff = 0.0f;
  for (size_t i = 0; i < plain.size(); ++i) {
    scale = std::max(scale, std::fabs(plain[i]));
    diff = std::max(diff, std::fabs(plain[i] - packed[i]));
  }
  // Rounding differences flip the odd activation quant, and four random layers amplify that:
  // the plain model itself moves by ~0.4% of the largest logit between the scalar and the
  // SIMD kernels. A wrong repacked kernel changes the logits by their own size.
  EXPECT_LT(diff, 2e-2f * scale) << kernels::active_isa();
  EXPECT_EQ(run(true, 1), packed) << "thread count changed the repacked result";
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool k_rss_is_meaningful = false;  // ASan's shadow memory and quarantine add to RSS
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool k_rss_is_meaningful = false;
#else
constexpr bool k_rss_is_meaningful = true;
#endif
#else
constexpr bool k_rss_is_meaningful = true;
#endif

TEST_F(repack_model, repacking_keeps_one_resident_copy) {
  if (!k_rss_is_meaningful) GTEST_SKIP() << "RSS under AddressSanitizer is not the program's";
  isa_guard guard;
  kernels::set_isa(kernels::isa_level::scalar);
  const int64_t weights = std::filesystem::file_size(*path_);
  // Repacked first: whatever the allocator keeps from the first model only helps the second.
  const int64_t packed = rss_growth(true);
  const int64_t plain = rss_growth(false);
  ASSERT_GT(plain, weights / 2) << "the plain model's weights should be resident after a pass";
  EXPECT_LE(packed, plain + weights / 8) << "packed " << packed << " plain " << plain;
}

}  // namespace
}  // namespace pocketlm
