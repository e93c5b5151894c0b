// Element-wise operations, the thread pool and the matmul driver against direct computations.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "tensor/quant.h"

namespace pocketlm::kernels {
namespace {

std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

TEST(ops, rmsnorm_matches_definition) {
  const auto x = random_vec(67, 1, 3.0f);
  const auto w = random_vec(67, 2);
  std::vector<float> out(67);
  rmsnorm(x.data(), w.data(), out.data(), 67, 1e-5f);
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double scale = 1.0 / std::sqrt(ss / 67 + 1e-5);
  for (size_t i = 0; i < 67; ++i) EXPECT_NEAR(out[i], x[i] * scale * w[i], 1e-5);
}

TEST(ops, swiglu_matches_definition) {
  auto g = random_vec(40, 4, 5.0f);
  const auto u = random_vec(40, 5);
  const auto g0 = g;
  swiglu(g.data(), u.data(), 40);
  for (size_t i = 0; i < 40; ++i) EXPECT_NEAR(g[i], g0[i] / (1 + std::exp(-g0[i])) * u[i], 1e-5);
}

// RoPE is a rotation whose q.k depends only on the distance between positions; the normal and
// NeoX variants pair different elements, so they disagree.
class rope_test : public ::testing::TestWithParam<rope_mode> {};

TEST_P(rope_test, preserves_norm_and_depends_on_relative_position) {
  rope_params p;
  p.mode = GetParam();
  p.n_rot = 32;
  const int hd = 32;
  const auto q = random_vec(hd, 6), k = random_vec(hd, 7);
  auto dot_at = [&](int64_t pq, int64_t pk) {
    auto a = q, b = k;
    rope(a.data(), 1, hd, pq, p);
    rope(b.data(), 1, hd, pk, p);
    double d = 0, na = 0, nq = 0;
    for (int i = 0; i < hd; ++i) {
      d += a[i] * b[i];
      na += a[i] * a[i];
      nq += q[i] * q[i];
    }
    EXPECT_NEAR(na, nq, 1e-4);
    return d;
  };
  EXPECT_NEAR(dot_at(5, 2), dot_at(103, 100), 1e-3);
  EXPECT_NEAR(dot_at(0, 0), dot_at(77, 77), 1e-3);
  EXPECT_GT(std::fabs(dot_at(5, 2) - dot_at(5, 4)), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(modes, rope_test, ::testing::Values(rope_mode::normal, rope_mode::neox));

TEST(ops, rope_variants_rotate_different_pairs) {
  rope_params normal, neox;
  normal.n_rot = neox.n_rot = 8;
  neox.mode = rope_mode::neox;
  std::vector<float> a(8, 0.0f), b(8, 0.0f);
  a[0] = b[0] = 1.0f;  // rotation at pos 1 moves element 0 into 1 (normal) or 4 (neox)
  rope(a.data(), 1, 8, 1, normal);
  rope(b.data(), 1, 8, 1, neox);
  EXPECT_NEAR(a[1], std::sin(1.0f), 1e-6);
  EXPECT_NEAR(b[4], std::sin(1.0f), 1e-6);
  EXPECT_EQ(a[4], 0.0f);
  EXPECT_EQ(b[1], 0.0f);
}

TEST(threads, every_thread_runs_each_job_once) {
  for (int n : {1, 2, 3, 8}) {
    thread_pool pool(n);
    for (int rep = 0; rep < 200; ++rep) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.run([&](int ith, int nth) {
        EXPECT_EQ(nth, n);
        hits[static_cast<size_t>(ith)].fetch_add(1);
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    }
  }
}

TEST(threads, split_range_covers_everything_once) {
  for (int64_t n : {0, 1, 7, 100}) {
    for (int nth : {1, 3, 4}) {
      int64_t covered = 0, prev_end = 0;
      for (int i = 0; i < nth; ++i) {
        const auto [b, e] = split_range(n, i, nth);
        EXPECT_EQ(b, prev_end);
        covered += e - b;
        prev_end = e;
      }
      EXPECT_EQ(covered, n);
    }
  }
}

// matmul over f32 and q8_0 weights equals a double-precision product of the dequantized rows.
TEST(matmul, matches_naive_product_for_any_thread_count) {
  const int64_t cols = 96, rows = 37, n_tok = 5;
  const auto wf = random_vec(static_cast<size_t>(cols * rows), 8);
  const auto x = random_vec(static_cast<size_t>(cols * n_tok), 9);
  for (ggml_type t : {ggml_type::f32, ggml_type::q8_0}) {
    const size_t rb = row_size(t, cols);
    std::vector<uint8_t> wq(rb * rows);
    std::vector<float> deq(wf.size());
    for (int64_t r = 0; r < rows; ++r) {
      quantize_row(t, wf.data() + r * cols, wq.data() + r * rb, cols);
      dequantize_row(t, wq.data() + r * rb, deq.data() + r * cols, cols);
    }
    const matrix_view w{t, cols, rows, wq.data(), rb};
    for (int threads : {1, 2, 3}) {
      thread_pool pool(threads);
      std::vector<uint8_t> scratch;
      std::vector<float> y(static_cast<size_t>(rows * n_tok));
      matmul(w, x.data(), n_tok, y.data(), pool, scratch);
      for (int64_t tk = 0; tk < n_tok; ++tk) {
        for (int64_t r = 0; r < rows; ++r) {
          double ref = 0;
          for (int64_t c = 0; c < cols; ++c) ref += double(deq[r * cols + c]) * x[tk * cols + c];
          const double tol = t == ggml_type::f32 ? 1e-4 : 0.05;  // q8_0 also rounds activations
          EXPECT_NEAR(y[tk * rows + r], ref, tol) << "type " << int(t) << " threads " << threads;
        }
      }
    }
  }
}

}  // namespace
}  // namespace pocketlm::kernels
