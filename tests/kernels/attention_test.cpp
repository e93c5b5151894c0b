// The fused attention kernel (kernels/attention.h): every ISA level's head-group kernel against
// the scalar reference, and the threaded driver against a direct two-pass softmax in double, for
// f16 and q8_0 caches, prefill and decode, split and unsplit, up to 4096 positions.
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tensor/fp16.h"
#include "tensor/quant.h"
#include "levels.h"

namespace pocketlm::kernels {
namespace {

// One layer of one sequence's cache, n_pos rows of kv_dim random values stored as `format`.
struct test_cache {
  kv_format format;
  int64_t kv_dim;
  size_t row_bytes;
  std::vector<uint8_t> k, v;

  test_cache(kv_format f, int64_t n_pos, int64_t dim, uint32_t seed) : format(f), kv_dim(dim) {
    const ggml_type t = f == kv_format::f16 ? ggml_type::f16 : ggml_type::q8_0;
    row_bytes = row_size(t, dim);
    k.resize(row_bytes * static_cast<size_t>(n_pos));
    v.resize(row_bytes * static_cast<size_t>(n_pos));
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> row(static_cast<size_t>(dim));
    for (int64_t p = 0; p < n_pos; ++p) {
      for (auto& x : row) x = nd(rng);
      quantize_row(t, row.data(), k.data() + p * row_bytes, dim);
      for (auto& x : row) x = nd(rng);
      quantize_row(t, row.data(), v.data() + p * row_bytes, dim);
    }
  }
  kv_layer_view view() const { return {format, k.data(), v.data(), row_bytes, ring}; }
  int64_t ring = 0;  // > 0: rows are a ring of this many cells (see ring_of)

  // Row p of K (or V), all kv_dim values, decoded by the tensor layer's dequantizer.
  std::vector<float> decoded(bool key, int64_t p) const {
    std::vector<float> out(static_cast<size_t>(kv_dim));
    const ggml_type t = format == kv_format::f16 ? ggml_type::f16 : ggml_type::q8_0;
    dequantize_row(t, (key ? k.data() : v.data()) + p * row_bytes, out.data(), kv_dim);
    return out;
  }
};

std::vector<float> random_vec(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

std::vector<float> round_f16(std::vector<float> v) {
  for (auto& x : v) x = fp16_to_f32(f32_to_fp16(x));
  return v;
}

// Finished (group, hd) output of one head-group kernel call over [0, n_pos) of KV head kvh.
std::vector<float> run_group(head_group_fn fn, const test_cache& c, const std::vector<float>& q, int group, int64_t hd,
                             int64_t kvh, int64_t n_pos) {
  std::vector<float> m(static_cast<size_t>(group), -INFINITY), s(static_cast<size_t>(group), 0.0f);
  std::vector<float> acc(static_cast<size_t>(group * hd), 0.0f);
  head_group_args a;
  a.q = q.data();
  a.group = group;
  a.head_dim = hd;
  a.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  a.kv = c.view();
  a.offset = kvh * hd;
  a.p0 = 0;
  a.p1 = n_pos;
  a.m = m.data();
  a.s = s.data();
  a.acc = acc.data();
  fn(a);
  for (int g = 0; g < group; ++g) {
    for (int64_t i = 0; i < hd; ++i) acc[g * hd + i] /= s[g];
  }
  return acc;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
  }
  EXPECT_LE(worst, tol);
}

struct group_case {
  kv_format format;
  int group;
  int64_t hd, n_head_kv, n_pos;
};

TEST(attention, every_level_matches_the_reference) {
  // Shapes: qwen2.5-0.5b (group 7, hd 64), odd head sizes that leave SIMD tails, and a q8_0
  // head size that is not whole blocks (the SIMD kernels hand it to the reference).
  const group_case cases[] = {{kv_format::f16, 7, 64, 2, 300},  {kv_format::f16, 1, 20, 3, 97},
                              {kv_format::f16, 4, 128, 1, 64},  {kv_format::q8_0, 7, 64, 2, 300},
                              {kv_format::q8_0, 2, 32, 4, 129}, {kv_format::q8_0, 3, 16, 4, 50}};
  int n_levels = 0;
  for (const group_case& gc : cases) {
    const test_cache c(gc.format, gc.n_pos, gc.hd * gc.n_head_kv, 11);
    const auto q = round_f16(random_vec(static_cast<size_t>(gc.group * gc.hd), 12, 1.5f));
    for (int64_t kvh = 0; kvh < gc.n_head_kv; ++kvh) {
      const auto want = run_group(attend_group_ref, c, q, gc.group, gc.hd, kvh, gc.n_pos);
      n_levels = 0;
      for (isa_level level : k_levels) {
        const head_group_fn fn = attend_group_for(level);
        if (fn == nullptr) continue;
        ++n_levels;
        SCOPED_TRACE(isa_name(level));
        expect_close(run_group(fn, c, q, gc.group, gc.hd, kvh, gc.n_pos), want, 2e-6);
      }
    }
  }
  EXPECT_GE(n_levels, 1);
}

TEST(attention, rising_scores_rescale_the_accumulator) {
  // K rows growing with position make every step a new maximum (the rescale branch).
  const int64_t hd = 32, n_pos = 200;
  test_cache c(kv_format::f16, n_pos, hd, 5);
  const auto q = round_f16(random_vec(static_cast<size_t>(hd), 6, 1.0f));
  std::vector<float> row(static_cast<size_t>(hd));
  for (int64_t p = 0; p < n_pos; ++p) {
    for (int64_t i = 0; i < hd; ++i) row[i] = q[i] * 0.02f * static_cast<float>(p);
    quantize_row(ggml_type::f16, row.data(), c.k.data() + p * c.row_bytes, hd);
  }
  const auto want = run_group(attend_group_ref, c, q, 1, hd, 0, n_pos);
  for (isa_level level : k_levels) {
    if (const head_group_fn fn = attend_group_for(level)) {
      SCOPED_TRACE(isa_name(level));
      expect_close(run_group(fn, c, q, 1, hd, 0, n_pos), want, 2e-6);
    }
  }
}

// A batch for the threaded driver: token t of sequence seq[t] at position last[t], attending
// from position first[t] (from 0 when `first` is empty).
struct batch {
  int64_t n_head, n_head_kv, hd;
  std::vector<int> seq;
  std::vector<int64_t> last;
  std::vector<float> q;  // (tokens, n_head * hd)
  std::vector<int64_t> first = {};
  float softcap = 0.0f;
};

batch make_batch(int64_t n_head, int64_t n_head_kv, int64_t hd, std::vector<int> seq, std::vector<int64_t> last) {
  batch b{n_head, n_head_kv, hd, std::move(seq), std::move(last), {}};
  b.q = random_vec(b.seq.size() * static_cast<size_t>(n_head * hd), 21, 1.5f);
  return b;
}

std::vector<float> run_driver(const batch& b, const std::vector<test_cache>& caches, int threads, int64_t split_chunk) {
  const auto n = static_cast<int64_t>(b.seq.size());
  std::vector<float> out(static_cast<size_t>(n * b.n_head * b.hd), -1.0f);
  attention_args a;
  a.n_tokens = n;
  a.n_head = b.n_head;
  a.n_head_kv = b.n_head_kv;
  a.head_dim = b.hd;
  a.scale = 1.0f / std::sqrt(static_cast<float>(b.hd));
  a.q = b.q.data();
  a.q_stride = b.n_head * b.hd;
  a.last_pos = b.last.data();
  a.first_pos = b.first.empty() ? nullptr : b.first.data();
  a.kv_of = [&](int64_t t) { return caches[static_cast<size_t>(b.seq[static_cast<size_t>(t)])].view(); };
  a.out = out.data();
  a.split_chunk = split_chunk;
  a.softcap = b.softcap;
  thread_pool pool(threads);
  attention(a, pool);
  return out;
}

// Direct two-pass softmax in double over the decoded rows, q rounded to f16.
std::vector<float> naive(const batch& b, const std::vector<test_cache>& caches) {
  const int64_t group = b.n_head / b.n_head_kv, qd = b.n_head * b.hd;
  std::vector<float> out(b.q.size());
  for (size_t t = 0; t < b.seq.size(); ++t) {
    const test_cache& c = caches[static_cast<size_t>(b.seq[t])];
    const int64_t p0 = b.first.empty() ? 0 : b.first[t], n_pos = b.last[t] + 1 - p0;
    std::vector<std::vector<float>> ks, vs;
    for (int64_t p = p0; p < p0 + n_pos; ++p) {
      ks.push_back(c.decoded(true, p));
      vs.push_back(c.decoded(false, p));
    }
    for (int64_t h = 0; h < b.n_head; ++h) {
      const int64_t off = (h / group) * b.hd;
      std::vector<double> w(static_cast<size_t>(n_pos));
      double mx = -INFINITY, sum = 0.0;
      for (int64_t p = 0; p < n_pos; ++p) {
        double d = 0.0;
        for (int64_t i = 0; i < b.hd; ++i) {
          d += static_cast<double>(fp16_to_f32(f32_to_fp16(b.q[t * qd + h * b.hd + i]))) * ks[p][off + i];
        }
        w[p] = d / std::sqrt(static_cast<double>(b.hd));
        if (b.softcap > 0.0f) w[p] = b.softcap * std::tanh(w[p] / b.softcap);
        mx = std::max(mx, w[p]);
      }
      for (auto& x : w) sum += (x = std::exp(x - mx));
      for (int64_t i = 0; i < b.hd; ++i) {
        double o = 0.0;
        for (int64_t p = 0; p < n_pos; ++p) o += w[p] * vs[p][off + i];
        out[t * qd + h * b.hd + i] = static_cast<float>(o / sum);
      }
    }
  }
  return out;
}

// Runs `body` under every supported ISA level, then restores the active one.
template <class F>
void for_each_level(F body) {
  const std::string before = active_isa();
  for (isa_level level : k_levels) {
    if (!set_isa(level)) continue;
    SCOPED_TRACE(isa_name(level));
    body();
  }
  for (isa_level level : k_levels) {
    if (before == isa_name(level)) set_isa(level);
  }
}

TEST(attention, prefill_batch_matches_direct_softmax) {
  // 6 tokens x 2 KV heads: the unsplit path; two sequences, causal positions, GQA group 7.
  for (kv_format f : {kv_format::f16, kv_format::q8_0}) {
    const std::vector<test_cache> caches{test_cache(f, 64, 128, 1), test_cache(f, 64, 128, 2)};
    const batch b = make_batch(14, 2, 64, {1, 1, 1, 1, 1, 0}, {10, 11, 12, 13, 14, 0});
    const auto want = naive(b, caches);
    for_each_level([&] {
      for (int threads = 1; threads <= 3; ++threads) expect_close(run_driver(b, caches, threads, 0), want, 2e-5);
    });
  }
}

TEST(attention, soft_capped_scores_match_direct_softmax) {
  // Gemma 2 caps q.k with tanh; a cap of 1 flattens these scores (std ~1.5) noticeably, so the
  // capped result must differ from the uncapped one and match the direct capped softmax, in one
  // batch (prefill) and in the flash-decoding split.
  const std::vector<test_cache> caches{test_cache(kv_format::f16, 300, 128, 3)};
  batch b = make_batch(8, 2, 64, {0, 0, 0}, {40, 41, 299});
  const auto uncapped = naive(b, caches);
  b.softcap = 1.0f;
  const auto want = naive(b, caches);
  double moved = 0.0;
  for (size_t i = 0; i < want.size(); ++i)
    moved = std::max(moved, std::abs(static_cast<double>(want[i]) - uncapped[i]));
  EXPECT_GT(moved, 1e-2);
  for_each_level([&] {
    expect_close(run_driver(b, caches, 2, 0), want, 2e-5);
    expect_close(run_driver(b, caches, 2, 64), want, 2e-5);
  });
}

TEST(attention, long_context_decode_split_equals_unsplit) {
  // One token at position 4095 (and a two-sequence decode batch): the flash-decoding split.
  for (kv_format f : {kv_format::f16, kv_format::q8_0}) {
    const std::vector<test_cache> caches{test_cache(f, 4096, 128, 3), test_cache(f, 4096, 128, 4)};
    for (const batch& b : {make_batch(14, 2, 64, {0}, {4095}), make_batch(8, 2, 64, {1, 0}, {4095, 1000})}) {
      const auto want = naive(b, caches);
      for_each_level([&] {
        const auto whole = run_driver(b, caches, 1, int64_t{1} << 40);
        expect_close(whole, want, 2e-5);
        const auto automatic = run_driver(b, caches, 2, 0);
        expect_close(automatic, whole, 2e-6);
        for (int threads = 1; threads <= 3; ++threads) {
          const auto split = run_driver(b, caches, threads, 97);
          expect_close(split, whole, 2e-6);
          // The split depends on the shape only, so every thread count gives the same bits.
          EXPECT_EQ(split, run_driver(b, caches, 1, 97));
        }
      });
    }
  }
}

// A ring of `cells` rows holding positions [hi - cells, hi) of `c`, position p in row p % cells,
// as a sliding-window layer's cache holds them.
test_cache ring_of(const test_cache& c, int64_t cells, int64_t hi) {
  test_cache r = c;
  r.k.assign(c.row_bytes * static_cast<size_t>(cells), 0);
  r.v.assign(c.row_bytes * static_cast<size_t>(cells), 0);
  for (int64_t p = hi - cells; p < hi; ++p) {
    std::copy_n(c.k.begin() + static_cast<long>(p * c.row_bytes), c.row_bytes,
                r.k.begin() + static_cast<long>((p % cells) * c.row_bytes));
    std::copy_n(c.v.begin() + static_cast<long>(p * c.row_bytes), c.row_bytes,
                r.v.begin() + static_cast<long>((p % cells) * c.row_bytes));
  }
  r.ring = cells;
  return r;
}

TEST(attention, sliding_window_over_a_ring_matches_the_window_of_a_flat_cache) {
  // Windows of 40 positions ending at 200..203 (prefill) and at 1500 (a split decode), read from a
  // ring of 45 cells (window + batch) whose ranges wrap, against the same window of a flat cache.
  for (kv_format f : {kv_format::f16, kv_format::q8_0}) {
    const test_cache flat(f, 1501, 128, 5);
    for (const auto& [last, hi] : {std::pair{std::vector<int64_t>{200, 201, 202, 203}, int64_t{204}},
                                   std::pair{std::vector<int64_t>{1500}, int64_t{1501}}}) {
      batch b = make_batch(8, 2, 64, std::vector<int>(last.size(), 0), last);
      for (int64_t p : last) b.first.push_back(p - 39);
      const auto want = naive(b, {flat});
      const std::vector<test_cache> ring{ring_of(flat, 45, hi)};
      for_each_level([&] {
        expect_close(run_driver(b, ring, 2, 0), want, 2e-5);
        expect_close(run_driver(b, ring, 3, 7), want, 2e-5);  // chunks of 7 cross the wrap
      });
    }
  }
}

}  // namespace
}  // namespace pocketlm::kernels
