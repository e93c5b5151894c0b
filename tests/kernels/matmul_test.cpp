// The matmul driver against the reference path (reference activation conversion, then the
// reference row dot for every (row, token)), over shapes with one and several row and token
// tiles, for every ISA level and every thread count tried; outputs must not depend on the
// thread count at all (bit-identical). Repacked q4_0 / q8_0 matrices must give the plain
// matrix's result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/repack.h"
#include "tensor/quant.h"
#include "levels.h"

namespace pocketlm::kernels {
namespace {

struct mm_shape {
  int64_t n_cols, n_rows, n_tokens;
};

// Several row tiles (4100 rows), several token tiles (70 tokens), odd sizes everywhere.
const mm_shape k_shapes[] = {{256, 1, 1}, {256, 37, 1}, {256, 100, 7}, {512, 300, 70}, {256, 4100, 3}};

struct problem {
  std::vector<uint8_t> w;
  std::vector<float> x;
  matrix_view view;
};

problem make_problem(ggml_type type, const mm_shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  problem p;
  const size_t row_bytes = row_size(type, s.n_cols);
  p.w.resize(row_bytes * static_cast<size_t>(s.n_rows));
  std::vector<float> row(static_cast<size_t>(s.n_cols));
  for (int64_t r = 0; r < s.n_rows; ++r) {
    for (float& v : row) v = dist(rng);
    quantize_row(type, row.data(), p.w.data() + r * row_bytes, s.n_cols);
  }
  p.x.resize(static_cast<size_t>(s.n_cols * s.n_tokens));
  for (float& v : p.x) v = dist(rng);
  p.view = {type, s.n_cols, s.n_rows, p.w.data(), row_bytes};
  return p;
}

// The scalar path: reference conversion and reference dot, one (row, token) at a time.
std::vector<float> reference(const problem& p, int64_t n_tokens) {
  isa_guard guard;
  set_isa(isa_level::scalar);
  const type_kernels* k = kernels_for(p.view.type);
  const size_t act_bytes = row_size(k->vec_dot_type, p.view.n_cols);
  std::vector<uint8_t> act(act_bytes);
  std::vector<float> y(static_cast<size_t>(n_tokens * p.view.n_rows));
  for (int64_t t = 0; t < n_tokens; ++t) {
    k->from_float(p.x.data() + t * p.view.n_cols, act.data(), p.view.n_cols);
    for (int64_t r = 0; r < p.view.n_rows; ++r) {
      k->vec_dot(p.view.n_cols, &y[t * p.view.n_rows + r], p.view.data + r * p.view.row_bytes, act.data());
    }
  }
  return y;
}

std::vector<float> run_matmul(const matrix_view& w, const std::vector<float>& x, int64_t n_tokens, int n_threads) {
  thread_pool pool(n_threads);
  std::vector<uint8_t> scratch;
  std::vector<float> y(static_cast<size_t>(n_tokens * w.n_rows), -1.0f);
  matmul(w, x.data(), n_tokens, y.data(), pool, scratch);
  return y;
}

float max_abs(const std::vector<float>& v) {
  float m = 1.0f;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& where) {
  ASSERT_EQ(got.size(), want.size());
  const float tol = 1e-5f * max_abs(want);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << where << " index " << i;
}

TEST(matmul, equals_the_reference_and_ignores_the_thread_count) {
  isa_guard guard;
  for (ggml_type type : k_types) {
    for (const mm_shape& s : k_shapes) {
      const problem p = make_problem(type, s, 1u + static_cast<uint32_t>(s.n_rows));
      const std::vector<float> want = reference(p, s.n_tokens);
      for (isa_level level : k_levels) {
        if (!set_isa(level)) continue;
        const std::string where = std::string(isa_name(level)) + " " + std::string(type_traits(type).name) +
                                  " rows=" + std::to_string(s.n_rows) + " tokens=" + std::to_string(s.n_tokens);
        const std::vector<float> one = run_matmul(p.view, p.x, s.n_tokens, 1);
        if (level == isa_level::scalar) {
          EXPECT_EQ(one, want) << where;  // the same dots in the same order
        } else {
          expect_close(one, want, where);
        }
        for (int threads : {2, 3}) {
          EXPECT_EQ(run_matmul(p.view, p.x, s.n_tokens, threads), one) << where << " threads=" << threads;
        }
      }
    }
  }
}

// The matrix in the layout load_weights would give it, in its own buffer.
struct packed_matrix {
  std::vector<uint8_t> bytes;
  matrix_view view;
};

packed_matrix repack(const matrix_view& w) {
  packed_matrix m{std::vector<uint8_t>(w.row_bytes * static_cast<size_t>(w.n_rows)), w};
  m.view.layout = repack_layout(w.type, w.n_rows);
  m.view.data = m.bytes.data();
  repack_groups(w, m.view.layout, 0, w.n_rows / 4, m.bytes.data());
  return m;
}

TEST(matmul, repacked_matrices_give_the_plain_result) {
  isa_guard guard;
  const mm_shape shapes[] = {{32, 4, 1}, {256, 36, 1}, {896, 128, 5}, {512, 300, 70}, {256, 4100, 3}};
  for (ggml_type type : {ggml_type::q4_0, ggml_type::q8_0}) {
    for (const mm_shape& s : shapes) {
      const problem p = make_problem(type, s, 100u + static_cast<uint32_t>(s.n_rows));
      const packed_matrix packed = repack(p.view);
      ASSERT_NE(packed.view.layout, weight_layout::plain);
      const std::vector<float> want = reference(p, s.n_tokens);
      for (isa_level level : k_levels) {
        if (!set_isa(level)) continue;
        const std::string where = std::string(isa_name(level)) + " " + std::string(type_traits(type).name) +
                                  " rows=" + std::to_string(s.n_rows) + " tokens=" + std::to_string(s.n_tokens);
        const std::vector<float> one = run_matmul(packed.view, p.x, s.n_tokens, 1);
        if (level == isa_level::scalar) {
          EXPECT_EQ(one, want) << where;
        } else {
          expect_close(one, want, where);
          expect_close(run_matmul(p.view, p.x, s.n_tokens, 1), one, where + " plain vs packed");
        }
        EXPECT_EQ(run_matmul(packed.view, p.x, s.n_tokens, 3), one) << where << " threads=3";
      }
    }
  }
}

// The scratch buffer is reused: a second, smaller call must not need it cleared.
TEST(matmul, reuses_scratch_across_shapes) {
  const problem big = make_problem(ggml_type::q8_0, {512, 64, 20}, 9);
  const problem small = make_problem(ggml_type::q8_0, {256, 16, 2}, 10);
  thread_pool pool(2);
  std::vector<uint8_t> scratch;
  std::vector<float> y_big(64 * 20), y_small(16 * 2);
  matmul(big.view, big.x.data(), 20, y_big.data(), pool, scratch);
  const size_t cap = scratch.capacity();
  matmul(small.view, small.x.data(), 2, y_small.data(), pool, scratch);
  EXPECT_EQ(scratch.capacity(), cap);
  expect_close(y_small, reference(small, 2), "small after big");
}

}  // namespace
}  // namespace pocketlm::kernels
