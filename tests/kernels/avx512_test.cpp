// The AVX-512 level's own contracts beyond isa_test / gemm_test: it replaces the AVX2 level's
// row dot and tile of every weight type (bf16 only on CPUs with AVX512_BF16); a tile is the row
// dot bit for bit for every register-block remainder (rows and tokens 1..9) and odd block
// counts; the integer sums stay exact on raw bytes (-128 activations and q8_0 weights, every
// nibble and fifth-bit pattern, extreme K-quant scales); float rows of any length are read with
// masked tails that touch nothing past the row. Skipped on CPUs without the level.
#include <gtest/gtest.h>

#include <cfloat>
#include <cstddef>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "levels.h"

namespace pocketlm::kernels {
namespace {

class avx512_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!isa_supported(isa_level::avx512)) GTEST_SKIP() << "CPU lacks AVX-512 F/BW/VL/VNNI";
    saved_ = active_isa();
  }
  void TearDown() override {
    for (isa_level l : {isa_level::scalar, isa_level::avx2, isa_level::avx512}) {
      if (saved_ == isa_name(l)) set_isa(l);
    }
  }
  static type_kernels at(isa_level level, ggml_type t) {
    EXPECT_TRUE(set_isa(level));
    return *kernels_for(t);
  }

 private:
  std::string saved_;
};

bool is_float_type(ggml_type t) { return t == ggml_type::f32 || t == ggml_type::f16 || t == ggml_type::bf16; }

// Raw random bytes with finite fp16 scales (and, for q8_K, a finite d and true bsums), so every
// code, sign and scale pattern occurs, -128 included.
void fill_raw(ggml_type t, uint8_t* row, size_t bytes, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  for (size_t i = 0; i < bytes; ++i) row[i] = static_cast<uint8_t>(byte(rng));
  const size_t block_bytes = type_traits(t).type_size;
  for (size_t b = 0; b < bytes / block_bytes; ++b) {
    uint8_t* blk = row + b * block_bytes;
    auto put_half = [&](size_t off) {
      const fp16_t h = f32_to_fp16(scale(rng));
      std::memcpy(blk + off, &h, sizeof(h));
    };
    if (t == ggml_type::q8_k) {
      auto* q = reinterpret_cast<block_q8_k*>(blk);
      q->d = scale(rng);
      for (int g = 0; g < qk_k / 16; ++g) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) sum += q->qs[16 * g + j];
        q->bsums[g] = static_cast<int16_t>(sum);
      }
    } else if (t == ggml_type::q6_k) {
      put_half(offsetof(block_q6_k, d));
    } else {
      put_half(0);
      if (t == ggml_type::q4_1 || t == ggml_type::q5_1 || t == ggml_type::q8_1 || t == ggml_type::q4_k ||
          t == ggml_type::q5_k) {
        put_half(2);
      }
    }
  }
}

// `count` rows of n elements of type t, either raw bytes or quantized N(0, 1) floats.
std::vector<uint8_t> make_rows(ggml_type t, int64_t n, int count, bool raw, std::mt19937& rng) {
  const size_t rb = row_size(t, n);
  std::vector<uint8_t> rows(rb * static_cast<size_t>(count));
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int i = 0; i < count; ++i) {
    if (raw) {
      fill_raw(t, rows.data() + i * rb, rb, rng);
      continue;
    }
    for (float& v : x) v = dist(rng);
    quantize_row(t, x.data(), rows.data() + i * rb, n);
  }
  return rows;
}

TEST_F(avx512_test, replaces_the_avx2_kernels_of_every_type) {
  for (ggml_type t : k_types) {
    const type_kernels avx2 = at(isa_level::avx2, t);
    const type_kernels mine = at(isa_level::avx512, t);
    SCOPED_TRACE(type_traits(t).name);
    EXPECT_EQ(mine.vec_dot_type, avx2.vec_dot_type);
    if (t == ggml_type::bf16 && !host_cpu().avx512bf16) {
      EXPECT_EQ(mine.vec_dot, avx2.vec_dot) << "VDPBF16PS needs AVX512_BF16";
      continue;
    }
    EXPECT_NE(mine.vec_dot, avx2.vec_dot);
    ASSERT_NE(mine.gemm, nullptr);
    EXPECT_NE(mine.gemm, avx2.gemm);
  }
}

// Every (rows, tokens) pair up to 9 x 9 covers full 4 x 4 / 2 x 4 register blocks and each
// remainder; odd block counts cover the single trailing 32-element block.
TEST_F(avx512_test, tiles_equal_the_row_dot_bit_for_bit) {
  std::mt19937 rng(512);
  for (ggml_type t : k_types) {
    const type_kernels k = at(isa_level::avx512, t);
    if (k.gemm == nullptr) continue;
    const int64_t block = is_float_type(t) ? 1 : type_traits(t).block_size;
    const int64_t n = is_float_type(t) ? 333 : 3 * block;  // odd: a trailing single block
    for (bool raw : {false, true}) {
      if (raw && is_float_type(t)) continue;
      const std::vector<uint8_t> w = make_rows(t, n, 9, raw, rng);
      const std::vector<uint8_t> a = make_rows(k.vec_dot_type, n, 9, raw, rng);
      const size_t wb = row_size(t, n), ab = row_size(k.vec_dot_type, n);
      for (int rows = 1; rows <= 9; ++rows) {
        for (int tokens = 1; tokens <= 9; ++tokens) {
          const size_t stride = static_cast<size_t>(rows) + 2;
          std::vector<float> y(stride * static_cast<size_t>(tokens), -7.0f);
          k.gemm(n, rows, tokens, w.data(), wb, a.data(), ab, y.data(), stride);
          for (int tk = 0; tk < tokens; ++tk) {
            for (size_t r = 0; r < stride; ++r) {
              const float got = y[tk * stride + r];
              if (r >= static_cast<size_t>(rows)) {
                ASSERT_EQ(got, -7.0f) << "wrote outside the tile";
                continue;
              }
              float want = 0.0f;
              k.vec_dot(n, &want, w.data() + r * wb, a.data() + tk * ab);
              ASSERT_EQ(std::memcmp(&got, &want, sizeof(float)), 0)
                  << type_traits(t).name << (raw ? " raw" : "") << " rows=" << rows << " tokens=" << tokens
                  << " r=" << r << " t=" << tk << ": " << got << " vs " << want;
            }
          }
        }
      }
    }
  }
}

// Offset and length, inside one block, of the bytes that hold codes (and K-quant sub-block
// scales), i.e. everything but the fp16 super-scales.
std::pair<size_t, size_t> code_bytes(ggml_type t) {
  switch (t) {
    case ggml_type::q4_0: return {2, 16};
    case ggml_type::q4_1: return {4, 16};
    case ggml_type::q5_0: return {2, 20};
    case ggml_type::q5_1: return {4, 20};
    case ggml_type::q8_0: return {2, 32};
    case ggml_type::q4_k: return {4, 12 + 128};
    case ggml_type::q5_k: return {4, 12 + 32 + 128};
    default: return {0, offsetof(block_q6_k, d)};  // q6_K
  }
}

// sum |x_i| * |a_i| bound with the d and min parts of offset formats counted apart.
double magnitude(ggml_type t, const std::vector<uint8_t>& w, int64_t n, double act_max) {
  const bool has_min = t == ggml_type::q4_1 || t == ggml_type::q5_1 || t == ggml_type::q4_k || t == ggml_type::q5_k;
  std::vector<std::vector<uint8_t>> parts{w};
  if (has_min) {
    parts.assign(2, w);
    const size_t bb = type_traits(t).type_size;
    for (size_t b = 0; b < w.size() / bb; ++b) {
      std::memset(parts[0].data() + b * bb + 2, 0, 2);  // no min: the d * q part
      std::memset(parts[1].data() + b * bb, 0, 2);      // d = 0: the min part
    }
  }
  double mag = 0.0;
  std::vector<float> x(static_cast<size_t>(n));
  for (const auto& p : parts) {
    dequantize_row(t, p.data(), x.data(), n);
    for (float v : x) mag += std::fabs(v) * act_max;
  }
  return mag;
}

// Extreme rows against the reference for block counts 1..5 (odd and even pairs): raw bytes,
// and every code byte 0x80 (-128 q8_0 weights and q6_K scales, code 8 | 8 << 4) or 0xFF (the
// largest codes, fifth bits and 6-bit scales). Activations are raw bytes (-128 included).
TEST_F(avx512_test, integer_sums_are_exact_on_extreme_bytes) {
  std::mt19937 rng(77);
  for (ggml_type t : k_types) {
    if (is_float_type(t)) continue;
    const type_kernels ref = at(isa_level::scalar, t);
    const type_kernels mine = at(isa_level::avx512, t);
    const int64_t block = type_traits(t).block_size;
    const size_t bb = type_traits(t).type_size;
    const auto [off, len] = code_bytes(t);
    for (int64_t nb = 1; nb <= 5; ++nb) {
      const int64_t n = nb * block;
      for (int fill : {-1, 0x80, 0xFF}) {
        std::vector<uint8_t> w = make_rows(t, n, 1, true, rng);
        const std::vector<uint8_t> a = make_rows(ref.vec_dot_type, n, 1, true, rng);
        for (int64_t b = 0; fill >= 0 && b < nb; ++b) std::memset(w.data() + b * bb + off, fill, len);
        float want = 0.0f, got = 0.0f;
        ref.vec_dot(n, &want, w.data(), a.data());
        mine.vec_dot(n, &got, w.data(), a.data());
        ASSERT_TRUE(std::isfinite(want));
        // Exact integer sums leave only float rounding, a few ulps of the summed terms. Raw
        // activation values are at most 128 * 0.05.
        const double mag = magnitude(t, w, n, 128.0 * 0.05);
        EXPECT_NEAR(got, want, 8.0 * FLT_EPSILON * mag) << type_traits(t).name << " nb=" << nb << " fill " << fill;
      }
    }
  }
}

// Float rows of every length 1..70: the masked tail reads only the row (guard bytes after it
// change nothing) and the result matches the reference.
TEST_F(avx512_test, float_rows_of_any_length_read_only_the_row) {
  std::mt19937 rng(99);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (ggml_type t : {ggml_type::f32, ggml_type::f16, ggml_type::bf16}) {
    const type_kernels ref = at(isa_level::scalar, t);
    const type_kernels mine = at(isa_level::avx512, t);
    for (int64_t n = 1; n <= 70; ++n) {
      std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
      for (float& v : wf) v = dist(rng);
      for (float& v : af) v = dist(rng);
      const size_t rb = row_size(t, n);
      float results[2];
      for (int pass = 0; pass < 2; ++pass) {
        std::vector<uint8_t> w(rb + 128, pass == 0 ? 0x00 : 0x7F);
        std::vector<uint8_t> a(rb + 128, pass == 0 ? 0x00 : 0x7F);
        ref.from_float(wf.data(), w.data(), n);
        ref.from_float(af.data(), a.data(), n);
        mine.vec_dot(n, &results[pass], w.data(), a.data());
        if (pass == 1) {
          float want = 0.0f;
          ref.vec_dot(n, &want, w.data(), a.data());
          double mag = 0.0;
          for (int64_t i = 0; i < n; ++i) mag += std::fabs(static_cast<double>(wf[i]) * af[i]);
          EXPECT_NEAR(results[pass], want, 4.0 * FLT_EPSILON * mag) << type_traits(t).name << " n=" << n;
        }
      }
      EXPECT_EQ(std::memcmp(&results[0], &results[1], sizeof(float)), 0)
          << type_traits(t).name << " n=" << n << " reads past the row";
    }
  }
}

// bf16 rows of small integers: every product and partial sum is exact in float, so VDPBF16PS
// must give exactly the reference's value.
TEST_F(avx512_test, bf16_dot_is_exact_where_float_is) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> small(-16, 16);
  const type_kernels ref = at(isa_level::scalar, ggml_type::bf16);
  const type_kernels mine = at(isa_level::avx512, ggml_type::bf16);
  for (int64_t n : {1, 31, 32, 33, 100, 4096}) {
    std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
    for (float& v : wf) v = static_cast<float>(small(rng));
    for (float& v : af) v = static_cast<float>(small(rng));
    std::vector<uint8_t> w(row_size(ggml_type::bf16, n)), a(w.size());
    ref.from_float(wf.data(), w.data(), n);
    ref.from_float(af.data(), a.data(), n);
    float want = 0.0f, got = 0.0f;
    ref.vec_dot(n, &want, w.data(), a.data());
    mine.vec_dot(n, &got, w.data(), a.data());
    EXPECT_EQ(got, want) << "n=" << n;
  }
}

}  // namespace
}  // namespace pocketlm::kernels
