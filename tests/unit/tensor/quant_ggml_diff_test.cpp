// Differential tests of tensor/ codecs against ggml itself: llama.cpp's libggml-base.so as shipped
// by node-llama-cpp is dlopen'ed and its plain C entry points (quantize_row_*_ref,
// dequantize_row_*, fp16/bf16 conversions) are called on the same inputs as ours.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tensor/fp16.h"
#include "tensor/quant.h"

namespace pocketlm {
namespace {

constexpr const char* k_ggml_base = POCKETLM_NODE_MODULES "/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so";

// Prototypes of the ggml C functions used; block pointers are passed as void*, ggml_fp16_t and
// ggml_bf16_t are both 16-bit values.
using quantize_fn = void (*)(const float*, void*, int64_t);
using dequantize_fn = void (*)(const void*, float*, int64_t);
using fp16_to_f32_fn = float (*)(uint16_t);
using f32_to_fp16_fn = uint16_t (*)(float);

struct type_case {
  ggml_type type;
  const char* quantize;    // ggml symbol producing the same format from f32
  const char* dequantize;  // ggml symbol decoding it; nullptr when ggml exports none (q8_1)
};

constexpr type_case k_cases[] = {
    {ggml_type::f16, "ggml_fp32_to_fp16_row", "ggml_fp16_to_fp32_row"},
    {ggml_type::bf16, "ggml_fp32_to_bf16_row_ref", "ggml_bf16_to_fp32_row"},
    {ggml_type::q4_0, "quantize_row_q4_0_ref", "dequantize_row_q4_0"},
    {ggml_type::q4_1, "quantize_row_q4_1_ref", "dequantize_row_q4_1"},
    {ggml_type::q5_0, "quantize_row_q5_0_ref", "dequantize_row_q5_0"},
    {ggml_type::q5_1, "quantize_row_q5_1_ref", "dequantize_row_q5_1"},
    {ggml_type::q8_0, "quantize_row_q8_0_ref", "dequantize_row_q8_0"},
    {ggml_type::q8_1, "quantize_row_q8_1_ref", nullptr},
    {ggml_type::q4_k, "quantize_row_q4_K_ref", "dequantize_row_q4_K"},
    {ggml_type::q5_k, "quantize_row_q5_K_ref", "dequantize_row_q5_K"},
    {ggml_type::q6_k, "quantize_row_q6_K_ref", "dequantize_row_q6_K"},
    {ggml_type::q8_k, "quantize_row_q8_K_ref", "dequantize_row_q8_K"},
};

class ggml_diff : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { lib_ = dlopen(k_ggml_base, RTLD_NOW | RTLD_LOCAL); }
  static void TearDownTestSuite() {
    if (lib_ != nullptr) dlclose(lib_);
    lib_ = nullptr;
  }
  void SetUp() override {
    if (lib_ == nullptr) GTEST_SKIP() << "llama.cpp library not found: " << k_ggml_base;
  }
  template <class F>
  static F sym(const char* name) {
    void* p = dlsym(lib_, name);
    EXPECT_NE(p, nullptr) << "symbol " << name;
    return reinterpret_cast<F>(p);
  }
  static void* lib_;
};
void* ggml_diff::lib_ = nullptr;

// Test inputs: 4 super-blocks (1024 values) per distribution, covering signed/positive data,
// heavy tails, tiny magnitudes (fp16 subnormal scales), zero and constant blocks.
std::vector<float> make_input(int dist, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(1024);
  for (size_t i = 0; i < x.size(); ++i) {
    switch (dist) {
      case 0: x[i] = normal(rng); break;
      case 1: x[i] = uniform(rng); break;
      case 2: x[i] = 2.0f + uniform(rng); break;                          // strictly positive: min > 0 paths
      case 3: x[i] = normal(rng) * (i % 97 == 0 ? 40.0f : 0.02f); break;  // outliers
      case 4: x[i] = uniform(rng) * 3e-6f; break;                         // scales underflow in fp16
      case 5: x[i] = i < 256 ? 0.0f : (i < 512 ? 0.75f : -3.0f * normal(rng)); break;
      case 6: x[i] = std::ldexp(uniform(rng), static_cast<int>(i % 40) - 20); break;
      default: x[i] = i % 5 == 0 ? 0.0f : uniform(rng) * 2e-38f; break;  // 1/d overflows
    }
  }
  return x;
}
constexpr int k_distributions = 8;

// Offset of the first differing byte, or a.size() when equal.
size_t first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  size_t i = 0;
  while (i < a.size() && a[i] == b[i]) ++i;
  return i;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST_F(ggml_diff, quantize_bytes_identical_and_dequantize_identical) {
  for (const auto& c : k_cases) {
    const auto ggml_quantize = sym<quantize_fn>(c.quantize);
    const auto ggml_dequantize = c.dequantize ? sym<dequantize_fn>(c.dequantize) : nullptr;
    for (int dist = 0; dist < k_distributions; ++dist) {
      for (uint32_t seed = 0; seed < 6; ++seed) {
        const auto input = make_input(dist, seed * 7919u + static_cast<uint32_t>(dist));
        // Lengths of one block, three blocks and the whole input (4 super-blocks).
        const int64_t bs = type_traits(c.type).block_size == 1 ? 32 : type_traits(c.type).block_size;
        const int64_t n = seed % 3 == 0 ? bs : seed % 3 == 1 ? 3 * bs : static_cast<int64_t>(input.size());
        const std::vector<float> x(input.begin(), input.begin() + n);
        // ggml leaves q8_K bsums unwritten for all-zero blocks; start both from zeros.
        std::vector<uint8_t> ours(row_size(c.type, n), 0), theirs(row_size(c.type, n), 0);
        quantize_row(c.type, x.data(), ours.data(), n);
        ggml_quantize(x.data(), theirs.data(), n);
        const std::string where =
            std::string(type_traits(c.type).name) + " dist " + std::to_string(dist) + " n " + std::to_string(n);
        EXPECT_EQ(first_difference(ours, theirs), ours.size()) << where;
        if (ggml_dequantize == nullptr) continue;
        std::vector<float> y_ours(x.size()), y_theirs(x.size());
        dequantize_row(c.type, theirs.data(), y_ours.data(), n);
        ggml_dequantize(theirs.data(), y_theirs.data(), n);
        EXPECT_TRUE(same_bits(y_ours, y_theirs)) << where;
      }
    }
  }
}

// Dequantizing arbitrary bytes (every bit pattern, including NaN/inf fp16 scales) must agree
// bit for bit with ggml: this pins the block layouts independently of our quantizers.
TEST_F(ggml_diff, dequantize_random_bytes_identical) {
  std::mt19937 rng(12345);
  for (const auto& c : k_cases) {
    if (c.dequantize == nullptr || c.type == ggml_type::bf16 || c.type == ggml_type::f16) continue;
    const auto ggml_dequantize = sym<dequantize_fn>(c.dequantize);
    const int64_t n = 512;
    std::vector<uint8_t> bytes(row_size(c.type, n));
    for (int trial = 0; trial < 20; ++trial) {
      for (auto& b : bytes) b = static_cast<uint8_t>(rng());
      if (c.type == ggml_type::q8_k) {
        // q8_K's f32 d: keep it finite so both sides compute the same products.
        for (size_t off = 0; off < bytes.size(); off += type_traits(c.type).type_size) {
          const float d = std::ldexp(static_cast<float>(rng() % 1000) - 500.0f, -12);
          std::memcpy(&bytes[off], &d, sizeof d);
        }
      }
      std::vector<float> y_ours(n), y_theirs(n);
      dequantize_row(c.type, bytes.data(), y_ours.data(), n);
      ggml_dequantize(bytes.data(), y_theirs.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const bool both_nan = std::isnan(y_ours[i]) && std::isnan(y_theirs[i]);
        if (!both_nan) {
          ASSERT_EQ(f32_to_bits(y_ours[i]), f32_to_bits(y_theirs[i])) << type_traits(c.type).name << " element " << i;
        }
      }
    }
  }
}

TEST_F(ggml_diff, fp16_to_f32_exhaustive) {
  const auto ggml_fp16_to_fp32 = sym<fp16_to_f32_fn>("ggml_fp16_to_fp32");
  for (uint32_t h = 0; h < 65536; ++h) {
    const float ours = fp16_to_f32(static_cast<fp16_t>(h));
    const float theirs = ggml_fp16_to_fp32(static_cast<uint16_t>(h));
    ASSERT_EQ(f32_to_bits(ours), f32_to_bits(theirs)) << "half 0x" << std::hex << h;
  }
}

// Every half's value, the midpoints to its neighbours and one ulp either side of them (all the
// rounding boundaries), plus a stride through all 2^32 float bit patterns.
TEST_F(ggml_diff, f32_to_fp16_boundaries_and_sweep) {
  const auto ggml_fp32_to_fp16 = sym<f32_to_fp16_fn>("ggml_fp32_to_fp16");
  std::vector<uint32_t> probes;
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const uint32_t v = f32_to_bits(fp16_to_f32(static_cast<fp16_t>(h)));
    const uint32_t next = f32_to_bits(fp16_to_f32(static_cast<fp16_t>(h + 1)));
    const uint32_t mid = f32_to_bits(0.5f * (bits_to_f32(v) + bits_to_f32(next)));
    for (uint32_t b : {v, mid - 1, mid, mid + 1}) {
      probes.push_back(b);
      probes.push_back(b | 0x80000000u);
    }
  }
  for (uint64_t b = 0; b < (1ull << 32); b += 4099) probes.push_back(static_cast<uint32_t>(b));
  for (uint32_t b : probes) {
    const float f = bits_to_f32(b);
    ASSERT_EQ(f32_to_fp16(f), ggml_fp32_to_fp16(f)) << "f32 bits 0x" << std::hex << b;
  }
}

}  // namespace
}  // namespace pocketlm
