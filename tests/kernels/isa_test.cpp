// SIMD levels against the scalar reference: for every ISA level this CPU runs (forced with
// set_isa), every weight type's row dot is compared with the reference on the same bytes, for
// odd block counts. Rows are either quantized random floats or raw random bytes (which reach
// the extreme codes: -128 activations, -128 q6_K scales, all 6-bit K scales and mins). The
// integer sums are exact at every level, so only float rounding order may differ.
// Also checks which level was dispatched: POCKETLM_EXPECT_ISA (set per emulated CPU by
// tools/test_aarch64.sh) must name active_isa().
#include <gtest/gtest.h>

#include <cfloat>
#include <cstddef>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "levels.h"

namespace pocketlm::kernels {
namespace {

isa_level highest_supported() {
  isa_level best = isa_level::scalar;
  for (isa_level l : k_levels) {
    if (isa_supported(l)) best = l;
  }
  return best;
}

TEST(isa, expected_level_is_dispatched) {
  if (const char* expect = std::getenv("POCKETLM_EXPECT_ISA"); expect != nullptr) {
    EXPECT_STREQ(active_isa(), expect) << "cpu: " << describe(host_cpu());
  } else if (std::getenv("POCKETLM_ISA") == nullptr) {
    EXPECT_STREQ(active_isa(), isa_name(highest_supported())) << "cpu: " << describe(host_cpu());
  } else {
    GTEST_SKIP() << "POCKETLM_ISA forces the level and no POCKETLM_EXPECT_ISA was given";
  }
}

TEST(isa, supported_levels_follow_the_cpu_features) {
  const cpu_features& cpu = host_cpu();
  EXPECT_TRUE(isa_supported(isa_level::scalar));
#if defined(__aarch64__)
  EXPECT_EQ(isa_supported(isa_level::neon), cpu.neon);
  EXPECT_EQ(isa_supported(isa_level::dotprod), cpu.neon && cpu.dotprod);
  EXPECT_EQ(isa_supported(isa_level::i8mm), cpu.neon && cpu.dotprod && cpu.i8mm);
  EXPECT_TRUE(cpu.neon) << "Advanced SIMD is mandatory on AArch64 Linux";
  for (isa_level l : {isa_level::avx2, isa_level::avx512}) {
    EXPECT_FALSE(isa_supported(l)) << isa_name(l);
  }
#elif defined(__x86_64__)
  EXPECT_FALSE(cpu.neon || cpu.dotprod || cpu.i8mm);
  for (isa_level l : {isa_level::neon, isa_level::dotprod, isa_level::i8mm}) {
    EXPECT_FALSE(isa_supported(l)) << isa_name(l);
  }
  const bool avx2 = cpu.avx && cpu.avx2 && cpu.fma && cpu.f16c;
  EXPECT_EQ(isa_supported(isa_level::avx2), avx2);
  EXPECT_EQ(isa_supported(isa_level::avx512), avx2 && cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512vnni);
#endif
}

TEST(isa, set_isa_switches_supported_levels_and_refuses_others) {
  isa_guard guard;
  for (isa_level l : k_levels) {
    const std::string before = active_isa();
    if (isa_supported(l)) {
      EXPECT_TRUE(set_isa(l));
      EXPECT_STREQ(active_isa(), isa_name(l));
    } else {
      EXPECT_FALSE(set_isa(l));
      EXPECT_EQ(active_isa(), before) << "a refused level must not change the active one";
    }
  }
}

TEST(isa, describe_lists_set_features_in_order) {
  EXPECT_EQ(describe(cpu_features{}), "none");
  cpu_features f;
  f.i8mm = true;
  f.neon = true;
  EXPECT_EQ(describe(f), "neon i8mm");
  cpu_features x;
  x.avx512vnni = true;
  x.avx2 = true;
  x.fma = true;
  EXPECT_EQ(describe(x), "avx2 fma avx512vnni");
}

// Byte offsets of the fp16 scale fields inside one block of each quantized type, which the
// raw-bytes rows overwrite with finite values (random fp16 bits may be inf or NaN).
std::vector<size_t> fp16_fields(ggml_type t) {
  switch (t) {
    case ggml_type::q4_0:
    case ggml_type::q5_0:
    case ggml_type::q8_0: return {0};
    case ggml_type::q4_1:
    case ggml_type::q5_1:
    case ggml_type::q8_1:
    case ggml_type::q4_k:
    case ggml_type::q5_k: return {0, 2};
    case ggml_type::q6_k: return {offsetof(block_q6_k, d)};
    default: return {};
  }
}

bool is_float_type(ggml_type t) { return t == ggml_type::f32 || t == ggml_type::f16 || t == ggml_type::bf16; }

// Raw random bytes with finite scales. q8_K keeps a float d and bsums that are the sums of its
// 16-element groups, as every q8_K row from from_float has.
void fill_raw(ggml_type t, std::vector<uint8_t>& row, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  for (auto& b : row) b = static_cast<uint8_t>(byte(rng));
  if (t == ggml_type::q8_k) {
    auto* blocks = reinterpret_cast<block_q8_k*>(row.data());
    for (size_t b = 0; b < row.size() / sizeof(block_q8_k); ++b) {
      blocks[b].d = scale(rng);
      for (int g = 0; g < qk_k / 16; ++g) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) sum += blocks[b].qs[16 * g + j];
        blocks[b].bsums[g] = static_cast<int16_t>(sum);
      }
    }
    return;
  }
  const size_t block_bytes = type_traits(t).type_size;
  for (size_t b = 0; b < row.size() / block_bytes; ++b) {
    for (size_t off : fp16_fields(t)) {
      const fp16_t h = f32_to_fp16(scale(rng));
      std::memcpy(row.data() + b * block_bytes + off, &h, sizeof(h));
    }
  }
}

// The decoded activations (any vec_dot_type), for the rounding bound.
std::vector<double> decode_act(ggml_type t, const std::vector<uint8_t>& row, int64_t n) {
  std::vector<double> out(static_cast<size_t>(n));
  if (is_float_type(t)) {
    std::vector<float> f(static_cast<size_t>(n));
    dequantize_row(t, row.data(), f.data(), n);
    for (int64_t i = 0; i < n; ++i) out[i] = f[i];
    return out;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (t == ggml_type::q8_1) {
      const auto& b = reinterpret_cast<const block_q8_1*>(row.data())[i / qk8_1];
      out[i] = static_cast<double>(fp16_to_f32(b.d)) * b.qs[i % qk8_1];
    } else if (t == ggml_type::q8_k) {
      const auto& b = reinterpret_cast<const block_q8_k*>(row.data())[i / qk_k];
      out[i] = static_cast<double>(b.d) * b.qs[i % qk_k];
    } else {
      const auto& b = reinterpret_cast<const block_q8_0*>(row.data())[i / qk8_0];
      out[i] = static_cast<double>(fp16_to_f32(b.d)) * b.qs[i % qk8_0];
    }
  }
  return out;
}

// sum |w_i * a_i| with the two parts of offset weights (d*sc*q and dmin*m) counted separately:
// a bound on the size of every partial sum the kernels round.
double magnitude(ggml_type t, const std::vector<uint8_t>& w, const std::vector<double>& a, int64_t n) {
  std::vector<std::vector<uint8_t>> parts{w};
  if (t == ggml_type::q4_k || t == ggml_type::q5_k || t == ggml_type::q4_1 || t == ggml_type::q5_1) {
    parts.assign(2, w);
    const size_t block_bytes = type_traits(t).type_size;
    for (size_t b = 0; b < w.size() / block_bytes; ++b) {
      std::memset(parts[0].data() + b * block_bytes + 2, 0, 2);  // dmin / m = 0: the d*q part
      std::memset(parts[1].data() + b * block_bytes, 0, 2);      // d = 0: the min part
    }
  }
  double sum = 0.0;
  std::vector<float> wd(static_cast<size_t>(n));
  for (const auto& p : parts) {
    dequantize_row(t, p.data(), wd.data(), n);
    for (int64_t i = 0; i < n; ++i) sum += std::fabs(wd[i] * a[i]);
  }
  return sum;
}

struct row_pair {
  std::vector<uint8_t> w;
  std::vector<uint8_t> a;
};

row_pair make_rows(ggml_type t, const type_kernels& k, int64_t n, bool raw, uint32_t seed) {
  std::mt19937 rng(seed);
  row_pair r{std::vector<uint8_t>(row_size(t, n)), std::vector<uint8_t>(row_size(k.vec_dot_type, n))};
  if (raw) {
    fill_raw(t, r.w, rng);
    fill_raw(k.vec_dot_type, r.a, rng);
    return r;
  }
  std::normal_distribution<float> w_dist(0.01f, 0.02f);
  std::normal_distribution<float> a_dist(0.0f, 2.0f);
  std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
  for (auto& x : wf) x = w_dist(rng);
  for (auto& x : af) x = a_dist(rng);
  quantize_row(t, wf.data(), r.w.data(), n);
  k.from_float(af.data(), r.a.data(), n);
  return r;
}

// Runs `dot` on copies of the rows followed by guard bytes, twice with different guard
// contents: a result that changes reads past the rows.
float guarded_dot(vec_dot_fn dot, int64_t n, const row_pair& rows) {
  float results[2];
  for (int pass = 0; pass < 2; ++pass) {
    const uint8_t guard = pass == 0 ? 0x00 : 0xFF;
    std::vector<uint8_t> w(rows.w), a(rows.a);
    w.resize(w.size() + 64, guard);
    a.resize(a.size() + 64, guard);
    dot(n, &results[pass], w.data(), a.data());
  }
  EXPECT_EQ(std::memcmp(&results[0], &results[1], sizeof(float)), 0) << "reads past the rows";
  return results[0];
}

class isa_dot_test : public ::testing::TestWithParam<ggml_type> {};

// A level may convert activations with its own code, but must write the reference's bytes.
void expect_same_activation_bytes(const type_kernels& k, const type_kernels& ref) {
  constexpr int64_t n = 8 * 256;
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = dist(rng);
  std::vector<uint8_t> got(row_size(ref.vec_dot_type, n)), want(got.size());
  k.from_float(x.data(), got.data(), n);
  ref.from_float(x.data(), want.data(), n);
  EXPECT_EQ(got, want) << "from_float must write the reference bytes";
}

void check_level(isa_level level, ggml_type t, const type_kernels& ref) {
  ASSERT_TRUE(set_isa(level));
  const type_kernels* k = kernels_for(t);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->vec_dot_type, ref.vec_dot_type) << "activation format must not depend on level";
  expect_same_activation_bytes(*k, ref);
  const int64_t block = is_float_type(t) ? 32 : type_traits(t).block_size;
  uint32_t seed = 7000 + 100 * static_cast<uint32_t>(t);
  for (int64_t blocks : {1, 3, 31, 33, 255}) {
    for (bool raw : {false, true}) {
      if (raw && is_float_type(t)) continue;  // random float bits include NaNs
      const int64_t n = blocks * block;
      SCOPED_TRACE(std::string(isa_name(level)) + " n=" + std::to_string(n) + (raw ? " raw bytes" : " quantized"));
      const row_pair rows = make_rows(t, ref, n, raw, seed++);
      const float want = guarded_dot(ref.vec_dot, n, rows);
      const float got = guarded_dot(k->vec_dot, n, rows);
      ASSERT_TRUE(std::isfinite(want));
      if (k->vec_dot == ref.vec_dot) {
        EXPECT_EQ(got, want);
        continue;
      }
      const double mag = magnitude(t, rows.w, decode_act(ref.vec_dot_type, rows.a, n), n);
      const double nb = static_cast<double>(n / type_traits(t).block_size);
      EXPECT_NEAR(got, want, 2.0 * FLT_EPSILON * (std::sqrt(nb) + 2.0) * mag);
    }
  }
}

TEST_P(isa_dot_test, every_supported_level_matches_the_reference) {
  isa_guard guard;
  const ggml_type t = GetParam();
  ASSERT_TRUE(set_isa(isa_level::scalar));
  const type_kernels* ref = kernels_for(t);
  ASSERT_NE(ref, nullptr);
  int levels_run = 0;
  for (isa_level level : k_levels) {
    if (!isa_supported(level)) continue;
    check_level(level, t, *ref);
    ++levels_run;
  }
  EXPECT_GE(levels_run, 1);
}

INSTANTIATE_TEST_SUITE_P(all_weight_types, isa_dot_test, ::testing::ValuesIn(k_types),
                         [](const ::testing::TestParamInfo<ggml_type>& p) {
                           return std::string(type_traits(p.param).name);
                         });

// The SIMD levels must replace the hot pairs' scalar dots (and only those) on CPUs that have
// them, or the level would be SIMD in name only.
// Every SIMD level has its own dot for every weight type (the test above holds each to the
// reference), so no supported level silently runs scalar code for some type.
TEST(isa, every_simd_level_replaces_every_dot) {
  isa_guard guard;
  ASSERT_TRUE(set_isa(isa_level::scalar));
  std::vector<vec_dot_fn> ref;
  for (ggml_type t : k_types) ref.push_back(kernels_for(t)->vec_dot);
  for (isa_level level : k_levels) {
    if (level == isa_level::scalar || !set_isa(level)) continue;
    for (size_t i = 0; i < std::size(k_types); ++i) {
      EXPECT_NE(kernels_for(k_types[i])->vec_dot, ref[i]) << isa_name(level) << " " << type_traits(k_types[i]).name;
    }
  }
}

}  // namespace
}  // namespace pocketlm::kernels
