// AArch64 kernel levels (src/kernels/arm/): for every level the CPU runs (neon, dotprod, i8mm;
// under qemu the emulated core decides), each weight type's gemm tile must return exactly the
// bits of the same level's row dot for every (row, token), over row and token counts that hit
// every remainder of the tiles (1x1 up to past two 4x4 tiles), odd block counts, padded row
// strides and a padded output stride (entries outside the tile must stay untouched). Also
// checks which formats each level covers. Compiled to nothing on other architectures.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/dispatch.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "levels.h"

#if defined(__aarch64__)

namespace pocketlm::kernels {
namespace {

constexpr isa_level k_arm_levels[] = {isa_level::neon, isa_level::dotprod, isa_level::i8mm};

constexpr size_t k_pad = 40;  // extra bytes between rows, so a kernel that ignores the stride
                              // reads the wrong bytes

// `count` rows of n elements of type t, row_size + k_pad bytes apart. Weights are quantized
// random floats; for q8_0 and q4_0 (the SMMLA formats) odd rows are raw random bytes with
// finite scales instead, which reach the extreme codes (-128).
std::vector<uint8_t> make_rows(ggml_type t, const type_kernels* k, int count, int64_t n, bool weights,
                               std::mt19937& rng) {
  const ggml_type stored = weights ? t : k->vec_dot_type;
  const size_t bytes = row_size(stored, n);
  std::vector<uint8_t> out((bytes + k_pad) * static_cast<size_t>(count));
  std::normal_distribution<float> dist(weights ? 0.01f : 0.0f, weights ? 0.02f : 2.0f);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<float> f(static_cast<size_t>(n));
  for (int r = 0; r < count; ++r) {
    uint8_t* row = out.data() + r * (bytes + k_pad);
    for (size_t i = bytes; i < bytes + k_pad; ++i) row[i] = static_cast<uint8_t>(byte(rng));
    const bool raw = weights && r % 2 == 1 && (t == ggml_type::q8_0 || t == ggml_type::q4_0);
    if (raw) {
      const size_t block = type_traits(t).type_size;
      for (size_t i = 0; i < bytes; ++i) row[i] = static_cast<uint8_t>(byte(rng));
      for (size_t b = 0; b < bytes / block; ++b) {
        const fp16_t d = f32_to_fp16(0.001f * static_cast<float>(byte(rng) - 128));
        std::memcpy(row + b * block, &d, sizeof d);  // the scale leads both block layouts
      }
      continue;
    }
    for (auto& x : f) x = dist(rng);
    if (weights) {
      quantize_row(t, f.data(), row, n);
    } else {
      k->from_float(f.data(), row, n);
    }
  }
  return out;
}

// gemm over n_rows x n_tokens against vec_dot on every pair, at the active level.
void check_gemm(ggml_type t, int64_t n, int n_rows, int n_tokens, uint32_t seed) {
  const type_kernels* k = kernels_for(t);
  ASSERT_NE(k, nullptr);
  ASSERT_NE(k->gemm, nullptr);
  std::mt19937 rng(seed);
  const std::vector<uint8_t> w = make_rows(t, k, n_rows, n, true, rng);
  const std::vector<uint8_t> a = make_rows(t, k, n_tokens, n, false, rng);
  const size_t w_stride = row_size(t, n) + k_pad;
  const size_t a_stride = row_size(k->vec_dot_type, n) + k_pad;
  const size_t y_stride = static_cast<size_t>(n_rows) + 3;
  constexpr float k_untouched = -12345.0f;
  std::vector<float> y(y_stride * static_cast<size_t>(n_tokens), k_untouched);
  k->gemm(n, n_rows, n_tokens, w.data(), w_stride, a.data(), a_stride, y.data(), y_stride);
  for (int tok = 0; tok < n_tokens; ++tok) {
    for (int r = 0; r < n_rows; ++r) {
      float want = 0.0f;
      k->vec_dot(n, &want, w.data() + r * w_stride, a.data() + tok * a_stride);
      const float got = y[tok * y_stride + r];
      EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0)
          << "row " << r << " token " << tok << ": gemm " << got << " vec_dot " << want;
    }
    for (size_t r = static_cast<size_t>(n_rows); r < y_stride; ++r) {
      EXPECT_EQ(y[tok * y_stride + r], k_untouched) << "wrote outside the tile, token " << tok;
    }
  }
}

class arm_gemm_test : public ::testing::TestWithParam<ggml_type> {};

TEST_P(arm_gemm_test, gemm_matches_the_row_dot_bit_for_bit_at_every_level) {
  isa_guard guard;
  const ggml_type t = GetParam();
  const int64_t block = type_traits(t).block_size == 1 ? 32 : type_traits(t).block_size;
  uint32_t seed = 900 + 50 * static_cast<uint32_t>(t);
  for (isa_level level : k_arm_levels) {
    if (!set_isa(level)) continue;
    for (int64_t blocks : {1, 3, 9}) {
      for (auto [rows, tokens] :
           {std::pair{1, 1}, {2, 2}, {3, 5}, {4, 4}, {5, 3}, {7, 9}, {9, 2}, {8, 8}, {1, 6}, {6, 1}}) {
        SCOPED_TRACE(std::string(isa_name(level)) + " n=" + std::to_string(blocks * block) +
                     " rows=" + std::to_string(rows) + " tokens=" + std::to_string(tokens));
        check_gemm(t, blocks * block, rows, tokens, seed++);
      }
    }
  }
}

// The float rows also take lengths that are not a multiple of their 16-element step.
TEST(arm_gemm, float_rows_handle_any_length) {
  isa_guard guard;
  for (isa_level level : k_arm_levels) {
    if (!set_isa(level)) continue;
    for (ggml_type t : {ggml_type::f32, ggml_type::f16, ggml_type::bf16}) {
      for (int64_t n : {1, 5, 17, 35}) {
        SCOPED_TRACE(std::string(isa_name(level)) + " " + std::string(type_traits(t).name) + " n=" + std::to_string(n));
        check_gemm(t, n, 3, 5, 77 + static_cast<uint32_t>(n));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(all_weight_types, arm_gemm_test, ::testing::ValuesIn(k_types),
                         [](const ::testing::TestParamInfo<ggml_type>& p) {
                           return std::string(type_traits(p.param).name);
                         });

// What each level lays over the one below: neon covers every type (row dot and gemm); dotprod
// replaces the integer formats and keeps neon's float rows; i8mm replaces the row dots of q8_0
// and q4_0 and the gemm tiles of every integer format (SMMLA), and keeps the float rows.
TEST(arm_levels, each_level_installs_its_own_kernels) {
  isa_guard guard;
  ASSERT_TRUE(set_isa(isa_level::neon));
  std::vector<type_kernels> neon;
  for (ggml_type t : k_types) {
    neon.push_back(*kernels_for(t));
    EXPECT_NE(neon.back().gemm, nullptr) << type_traits(t).name;
  }
  if (!set_isa(isa_level::dotprod)) GTEST_SKIP() << "the CPU has no dotprod";
  std::vector<type_kernels> dotprod;
  for (size_t i = 0; i < std::size(k_types); ++i) {
    dotprod.push_back(*kernels_for(k_types[i]));
    const bool is_float = type_traits(k_types[i]).block_size == 1;
    EXPECT_EQ(dotprod[i].vec_dot == neon[i].vec_dot, is_float) << type_traits(k_types[i]).name;
    EXPECT_EQ(dotprod[i].gemm == neon[i].gemm, is_float) << type_traits(k_types[i]).name;
  }
  if (!set_isa(isa_level::i8mm)) GTEST_SKIP() << "the CPU has no i8mm";
  for (size_t i = 0; i < std::size(k_types); ++i) {
    const type_kernels& k = *kernels_for(k_types[i]);
    const ggml_type t = k_types[i];
    const bool smmla_dot = t == ggml_type::q8_0 || t == ggml_type::q4_0;
    const bool smmla_gemm = type_traits(t).block_size != 1;
    EXPECT_EQ(k.vec_dot == dotprod[i].vec_dot, !smmla_dot) << type_traits(t).name;
    EXPECT_EQ(k.gemm == dotprod[i].gemm, !smmla_gemm) << type_traits(t).name;
  }
}

}  // namespace
}  // namespace pocketlm::kernels

#endif  // __aarch64__
