// The AVX2 level's own contracts beyond isa_test / gemm_test: its activation converters write
// the reference converters' exact bytes (rounding ties, non-finite inputs, sign ties of the
// q8_K maximum, all-zero blocks), and its dots and tiles stay exact on the int8 extremes
// (-128 weights and activations, which the sign-flip trick of other SIMD kernels gets wrong).
// Skipped on CPUs without AVX2 + FMA + F16C.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels {
namespace {

class avx2_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!isa_supported(isa_level::avx2)) GTEST_SKIP() << "CPU lacks AVX2 + FMA + F16C";
    saved_ = active_isa();
  }
  void TearDown() override {
    for (isa_level l : {isa_level::scalar, isa_level::avx2, isa_level::avx512}) {
      if (saved_ == isa_name(l)) set_isa(l);
    }
  }
  // The kernels of `t` at the scalar level and at the avx2 level.
  static std::pair<type_kernels, type_kernels> both(ggml_type t) {
    set_isa(isa_level::scalar);
    const type_kernels ref = *kernels_for(t);
    set_isa(isa_level::avx2);
    return {ref, *kernels_for(t)};
  }

 private:
  std::string saved_;
};

// Weight types whose activation formats are q8_0, q8_1, q8_K, f16 and bf16.
constexpr ggml_type k_quant_act_weights[] = {ggml_type::q8_0, ggml_type::q4_1, ggml_type::q4_k, ggml_type::f16,
                                             ggml_type::bf16};

void expect_same_bytes(const std::vector<float>& x, const type_kernels& ref, const type_kernels& simd,
                       const std::string& what) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> want(row_size(ref.vec_dot_type, n), 0xAA);
  std::vector<uint8_t> got(want.size(), 0x55);
  ref.from_float(x.data(), want.data(), n);
  simd.from_float(x.data(), got.data(), n);
  EXPECT_EQ(got, want) << what << " (" << type_traits(ref.vec_dot_type).name << ")";
}

TEST_F(avx2_test, from_float_writes_the_reference_bytes_on_random_rows) {
  std::mt19937 rng(42);
  for (ggml_type w : k_quant_act_weights) {
    const auto [ref, simd] = both(w);
    EXPECT_NE(simd.from_float, ref.from_float) << "avx2 installs its own converter";
    for (float scale : {1e-3f, 1.0f, 300.0f}) {
      std::normal_distribution<float> dist(0.0f, scale);
      std::vector<float> x(5 * 256);
      for (auto& v : x) v = dist(rng);
      expect_same_bytes(x, ref, simd, "random scale " + std::to_string(scale));
    }
  }
}

// Blocks whose scaled values fall exactly on k + 0.5: q8_0/q8_1 round them away from zero,
// q8_K to even. With the largest magnitude 127 both scales are exactly 1.
TEST_F(avx2_test, from_float_rounds_exact_ties_as_the_reference) {
  std::vector<float> x(2 * 256);
  for (size_t i = 0; i < x.size(); ++i) {
    const float tie = static_cast<float>(i % 127) + 0.5f;
    x[i] = (i % 3 == 0) ? -tie : tie;
    if (i % 32 == 5) x[i] = -127.0f;  // the block maximum (negative: q8_K's scale is then +1)
    if (i % 32 == 6) x[i] = -126.5f;
  }
  for (ggml_type w : k_quant_act_weights) {
    const auto [ref, simd] = both(w);
    expect_same_bytes(x, ref, simd, "ties");
  }
  // Scaled by 1.1 the products land within a rounding of the ties, where a product fused
  // into the next add (FMA contraction) rounds differently from the scalar code.
  for (float& v : x) v *= 1.1f;
  for (ggml_type w : k_quant_act_weights) {
    const auto [ref, simd] = both(w);
    expect_same_bytes(x, ref, simd, "near ties");
  }
}

TEST_F(avx2_test, from_float_matches_the_reference_on_special_values) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x(6 * 256, 0.0f);  // block 0 (q8_K) / blocks 0-7 (q8_0): all zeros
  for (int i = 0; i < 256; ++i) {
    x[256 + i] = (i % 2 == 0 ? 1.0f : -1.0f) * static_cast<float>(i % 5);  // +4 and -4 tie
    x[512 + i] = i == 17 ? nan : std::sin(static_cast<float>(i));
    x[768 + i] = i == 40 ? -inf : std::cos(static_cast<float>(i));
    x[1024 + i] = (i % 7 == 0 ? 3e38f : 1e-40f) * (i % 2 == 0 ? 1.0f : -1.0f);  // huge, denormal
    x[1280 + i] = i % 4 == 0 ? -0.0f : 1e-30f;
  }
  // NaNs with payloads and signs (f16 keeps none of the payload; bf16 its top bits), the f16
  // overflow edge (65520 rounds to inf, 65519.996 to 65504) and f16 subnormal ties.
  const uint32_t nan_bits[] = {0x7fc00000u, 0xffc00001u, 0x7f800001u, 0xff812345u, 0x7fffffffu};
  for (int i = 0; i < 5; ++i) std::memcpy(&x[1290 + i], &nan_bits[i], sizeof(float));
  x[1300] = 65520.0f;
  x[1301] = -65519.996f;
  x[1302] = std::ldexp(3.0f, -26);  // 1.5 f16 subnormal steps: a tie
  x[1303] = std::ldexp(5.0f, -26);
  for (ggml_type w : k_quant_act_weights) {
    const auto [ref, simd] = both(w);
    expect_same_bytes(x, ref, simd, "special values");
  }
}

// Rows quantized from random floats with every 5th int8 set to -128 (q8_K's bsums kept in step).
std::vector<uint8_t> act_with_extremes(ggml_type act, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> row(row_size(act, n));
  quantize_row(act, x.data(), row.data(), n);
  if (act == ggml_type::q8_k) {
    auto* b = reinterpret_cast<block_q8_k*>(row.data());
    for (int64_t i = 0; i < n / qk_k; ++i) {
      for (int j = 0; j < qk_k; j += 5) b[i].qs[j] = -128;
      for (int g = 0; g < qk_k / 16; ++g) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) sum += b[i].qs[16 * g + j];
        b[i].bsums[g] = static_cast<int16_t>(sum);
      }
    }
    return row;
  }
  const size_t block_bytes = type_traits(act).type_size;
  const size_t qs_offset = block_bytes - 32;  // q8_0 and q8_1 end with their 32 quants
  for (size_t b = 0; b < row.size() / block_bytes; ++b) {
    for (size_t j = 0; j < 32; j += 5) row[b * block_bytes + qs_offset + j] = 0x80;
  }
  return row;
}

TEST_F(avx2_test, dots_and_tiles_are_exact_on_int8_extremes) {
  constexpr int64_t n = 3 * 256;
  constexpr int rows = 3;
  constexpr int tokens = 6;  // a group of 4 and a remainder of 2
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (ggml_type t : {ggml_type::q4_0, ggml_type::q4_1, ggml_type::q5_0, ggml_type::q5_1, ggml_type::q8_0,
                      ggml_type::q4_k, ggml_type::q5_k, ggml_type::q6_k}) {
    const auto [ref, simd] = both(t);
    ASSERT_NE(simd.gemm, nullptr) << type_traits(t).name;
    const size_t w_bytes = row_size(t, n);
    const size_t a_bytes = row_size(ref.vec_dot_type, n);
    std::vector<float> x(n);
    std::vector<uint8_t> w, act;
    for (int r = 0; r < rows + tokens; ++r) {
      for (auto& v : x) v = dist(rng);
      // q8_0 weights get the extremes too; the other weight types cannot hold -128.
      const bool weight = r < rows;
      std::vector<uint8_t> row;
      if (weight && t != ggml_type::q8_0) {
        row.resize(w_bytes);
        quantize_row(t, x.data(), row.data(), n);
      } else {
        row = act_with_extremes(weight ? t : ref.vec_dot_type, x);
      }
      auto& dst = weight ? w : act;
      dst.insert(dst.end(), row.begin(), row.end());
    }
    std::vector<float> y(static_cast<size_t>(rows * tokens));
    simd.gemm(n, rows, tokens, w.data(), w_bytes, act.data(), a_bytes, y.data(), rows);
    for (int tk = 0; tk < tokens; ++tk) {
      for (int r = 0; r < rows; ++r) {
        float want = 0.0f;
        float dot = 0.0f;
        ref.vec_dot(n, &want, w.data() + r * w_bytes, act.data() + tk * a_bytes);
        simd.vec_dot(n, &dot, w.data() + r * w_bytes, act.data() + tk * a_bytes);
        // Float order only: |dot| ~ 30, sum |w a| ~ 600 here; a wrong int8 product is ~200.
        const float tol = 1e-3f * std::max(1.0f, std::fabs(want));
        EXPECT_NEAR(dot, want, tol) << type_traits(t).name << " vec_dot row " << r;
        EXPECT_NEAR(y[tk * rows + r], want, tol) << type_traits(t).name << " gemm row " << r << " token " << tk;
      }
    }
  }
}

// Float rows of any length: the 8-wide loops leave a scalar tail (n = 37: 4 vectors + 5).
TEST_F(avx2_test, float_dots_and_tiles_handle_rows_of_any_length) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (ggml_type t : {ggml_type::f32, ggml_type::f16, ggml_type::bf16}) {
    for (int64_t n : {1, 7, 37, 100}) {
      const auto [ref, simd] = both(t);
      const size_t row_bytes = row_size(t, n);
      constexpr int rows = 3;
      constexpr int tokens = 5;
      std::vector<uint8_t> w(row_bytes * rows), act(row_bytes * tokens);
      std::vector<float> x(static_cast<size_t>(n));
      for (int r = 0; r < rows + tokens; ++r) {
        for (auto& v : x) v = dist(rng);
        uint8_t* dst = r < rows ? w.data() + r * row_bytes : act.data() + (r - rows) * row_bytes;
        ref.from_float(x.data(), dst, n);
      }
      std::vector<float> y(static_cast<size_t>(rows * tokens));
      simd.gemm(n, rows, tokens, w.data(), row_bytes, act.data(), row_bytes, y.data(), rows);
      for (int tk = 0; tk < tokens; ++tk) {
        for (int r = 0; r < rows; ++r) {
          float want = 0.0f;
          float dot = 0.0f;
          ref.vec_dot(n, &want, w.data() + r * row_bytes, act.data() + tk * row_bytes);
          simd.vec_dot(n, &dot, w.data() + r * row_bytes, act.data() + tk * row_bytes);
          const float tol = 1e-5f * static_cast<float>(n);  // |w a| ~ 1 per element
          EXPECT_NEAR(dot, want, tol) << type_traits(t).name << " n=" << n;
          EXPECT_NEAR(y[tk * rows + r], want, tol) << type_traits(t).name << " n=" << n;
        }
      }
    }
  }
}

}  // namespace
}  // namespace pocketlm::kernels
