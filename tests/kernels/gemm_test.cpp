// Tile kernels against row dots: for every ISA level this CPU runs, every weight type whose
// table entry has a gemm must give, per (row, token), its own vec_dot's result to float
// rounding; and the repacked-layout kernels (kernels/repack.h) must give the plain layout's
// reference dot (bit-identical at the scalar level, which sums in the same order). Shapes
// leave remainder rows and tokens for every register blocking up to 8 x 8.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/ref/dot_ref.h"
#include "kernels/repack.h"
#include "tensor/quant.h"
#include "levels.h"

namespace pocketlm::kernels {
namespace {

struct shape {
  int64_t n;
  int rows;
  int tokens;
};

// Random rows of `type` (quantized from N(0, 1) floats) and the same for activations in the
// weight type's dot format.
struct operands {
  std::vector<uint8_t> w, act;
  size_t w_row_bytes = 0, act_row_bytes = 0;
};

operands make_operands(ggml_type type, ggml_type act_type, const shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> row(static_cast<size_t>(s.n));
  operands o;
  o.w_row_bytes = row_size(type, s.n);
  o.act_row_bytes = row_size(act_type, s.n);
  o.w.resize(o.w_row_bytes * static_cast<size_t>(s.rows));
  o.act.resize(o.act_row_bytes * static_cast<size_t>(s.tokens));
  for (int r = 0; r < s.rows; ++r) {
    for (float& v : row) v = dist(rng);
    quantize_row(type, row.data(), o.w.data() + r * o.w_row_bytes, s.n);
  }
  for (int t = 0; t < s.tokens; ++t) {
    for (float& v : row) v = dist(rng);
    quantize_row(act_type, row.data(), o.act.data() + t * o.act_row_bytes, s.n);
  }
  return o;
}

// Largest |value| of a tile, the scale of its rounding differences.
float max_abs(const std::vector<float>& v) {
  float m = 1.0f;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

const shape k_shapes[] = {{256, 1, 1}, {256, 7, 5}, {512, 13, 9}, {768, 4, 3}, {256, 17, 11}};

TEST(gemm, every_gemm_equals_its_vec_dot) {
  isa_guard guard;
  int checked = 0;
  for (isa_level level : k_levels) {
    if (!set_isa(level)) continue;
    for (ggml_type type : k_types) {
      const type_kernels* k = kernels_for(type);
      ASSERT_NE(k, nullptr);
      if (k->gemm == nullptr) continue;
      for (const shape& s : k_shapes) {
        const operands o = make_operands(type, k->vec_dot_type, s, 7u + static_cast<uint32_t>(s.rows));
        const size_t y_stride = static_cast<size_t>(s.rows) + 3;  // strided output rows
        std::vector<float> y(y_stride * static_cast<size_t>(s.tokens), -1.0f);
        std::vector<float> want(y.size(), -1.0f);
        k->gemm(s.n, s.rows, s.tokens, o.w.data(), o.w_row_bytes, o.act.data(), o.act_row_bytes, y.data(), y_stride);
        for (int t = 0; t < s.tokens; ++t) {
          for (int r = 0; r < s.rows; ++r) {
            k->vec_dot(s.n, &want[t * y_stride + r], o.w.data() + r * o.w_row_bytes,
                       o.act.data() + t * o.act_row_bytes);
          }
        }
        const float tol = 1e-5f * max_abs(want);
        for (size_t i = 0; i < y.size(); ++i) {
          ASSERT_NEAR(y[i], want[i], tol) << isa_name(level) << " " << type_traits(type).name << " n=" << s.n
                                          << " rows=" << s.rows << " tokens=" << s.tokens << " index " << i;
        }
        ++checked;
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no level installs a gemm on this CPU";
}

// A q4_0 / q8_0 matrix repacked, with its activations' block infos.
struct packed_case {
  operands o;
  std::vector<uint8_t> packed;
  std::vector<act_block_info> info;
};

packed_case make_packed(ggml_type type, const shape& s, uint32_t seed) {
  packed_case c{make_operands(type, ggml_type::q8_0, s, seed), {}, {}};
  const matrix_view w{type, s.n, s.rows, c.o.w.data(), c.o.w_row_bytes};
  const weight_layout layout = repack_layout(type, s.rows);
  EXPECT_NE(layout, weight_layout::plain);
  c.packed.resize(c.o.w.size());
  repack_groups(w, layout, 0, s.rows / 4, c.packed.data());
  c.info.resize(static_cast<size_t>(s.tokens * (s.n / qk8_0)));
  for (int t = 0; t < s.tokens; ++t) {
    q8_0_block_info(c.o.act.data() + t * c.o.act_row_bytes, s.n, c.info.data() + t * (s.n / qk8_0));
  }
  return c;
}

TEST(gemm, repacked_kernels_equal_the_plain_reference_at_every_level) {
  isa_guard guard;
  const shape shapes[] = {{32, 4, 1}, {64, 8, 2}, {96, 4, 3}, {896, 12, 4}, {128, 20, 5}, {256, 16, 7}, {64, 4, 9}};
  for (ggml_type type : {ggml_type::q4_0, ggml_type::q8_0}) {
    const vec_dot_fn ref_dot = type == ggml_type::q4_0 ? ref::vec_dot_q4_0_q8_0_ref : ref::vec_dot_q8_0_q8_0_ref;
    for (const shape& s : shapes) {
      const packed_case c = make_packed(type, s, 11u + static_cast<uint32_t>(s.n));
      std::vector<float> want(static_cast<size_t>(s.rows * s.tokens));
      for (int t = 0; t < s.tokens; ++t) {
        for (int r = 0; r < s.rows; ++r) {
          ref_dot(s.n, &want[t * s.rows + r], c.o.w.data() + r * c.o.w_row_bytes,
                  c.o.act.data() + t * c.o.act_row_bytes);
        }
      }
      for (isa_level level : k_levels) {
        if (!set_isa(level)) continue;
        const packed_gemm_fn gemm = packed_gemm_for(repack_layout(type, s.rows));
        std::vector<float> y(want.size(), -1.0f);
        gemm(s.n, s.rows / 4, s.tokens, c.packed.data(), c.o.act.data(), c.o.act_row_bytes, c.info.data(), y.data(),
             static_cast<size_t>(s.rows));
        const std::string where = std::string(isa_name(level)) + " " + std::string(type_traits(type).name) +
                                  " n=" + std::to_string(s.n) + " rows=" + std::to_string(s.rows) +
                                  " tokens=" + std::to_string(s.tokens);
        if (level == isa_level::scalar) {
          EXPECT_EQ(y, want) << where;
          continue;
        }
        const float tol = 1e-5f * max_abs(want);
        for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], want[i], tol) << where << " index " << i;
      }
    }
  }
}

// Raw random q4_0 bytes reach every nibble code and -128 activation quants.
TEST(gemm, repacked_q4_0_handles_every_code) {
  isa_guard guard;
  const shape s{256, 8, 6};
  std::mt19937 rng(5);
  packed_case c = make_packed(ggml_type::q4_0, s, 3);
  for (auto* bytes : {&c.o.w, &c.o.act}) {
    for (auto& b : *bytes) b = static_cast<uint8_t>(rng());
  }
  // Finite scales: only the quants are raw.
  const fp16_t scale = f32_to_fp16(0.01f);
  auto* wb = reinterpret_cast<block_q4_0*>(c.o.w.data());
  for (size_t i = 0; i < c.o.w.size() / sizeof(block_q4_0); ++i) wb[i].d = scale;
  auto* ab = reinterpret_cast<block_q8_0*>(c.o.act.data());
  for (size_t i = 0; i < c.o.act.size() / sizeof(block_q8_0); ++i) ab[i].d = scale;
  const matrix_view w{ggml_type::q4_0, s.n, s.rows, c.o.w.data(), c.o.w_row_bytes};
  repack_groups(w, weight_layout::q4_0x4, 0, s.rows / 4, c.packed.data());
  for (int t = 0; t < s.tokens; ++t) {
    q8_0_block_info(c.o.act.data() + t * c.o.act_row_bytes, s.n, c.info.data() + t * (s.n / qk8_0));
  }
  std::vector<float> want(static_cast<size_t>(s.rows * s.tokens));
  for (int t = 0; t < s.tokens; ++t) {
    for (int r = 0; r < s.rows; ++r) {
      ref::vec_dot_q4_0_q8_0_ref(s.n, &want[t * s.rows + r], c.o.w.data() + r * c.o.w_row_bytes,
                                 c.o.act.data() + t * c.o.act_row_bytes);
    }
  }
  for (isa_level level : k_levels) {
    if (!set_isa(level)) continue;
    std::vector<float> y(want.size(), -1.0f);
    packed_gemm_for(weight_layout::q4_0x4)(s.n, s.rows / 4, s.tokens, c.packed.data(), c.o.act.data(),
                                           c.o.act_row_bytes, c.info.data(), y.data(), static_cast<size_t>(s.rows));
    const float tol = 1e-5f * max_abs(want);
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], want[i], tol) << isa_name(level) << " " << i;
  }
}

TEST(gemm, repack_layout_needs_whole_row_groups) {
  EXPECT_EQ(repack_layout(ggml_type::q4_0, 8), weight_layout::q4_0x4);
  EXPECT_EQ(repack_layout(ggml_type::q8_0, 4), weight_layout::q8_0x4);
  EXPECT_EQ(repack_layout(ggml_type::q4_0, 6), weight_layout::plain);
  EXPECT_EQ(repack_layout(ggml_type::q4_k, 8), weight_layout::plain);
  EXPECT_EQ(repack_layout(ggml_type::f32, 8), weight_layout::plain);
}

}  // namespace
}  // namespace pocketlm::kernels
