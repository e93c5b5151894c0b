// Quantize -> dequantize round trips for every type on several distributions and lengths, with
// per-type error bounds and the expected precision ordering; plus hand-built blocks that pin the
// bit layouts and the extra fields of the activation formats (q8_1 s, q8_K bsums).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace pocketlm {
namespace {

enum class dist { normal, uniform, outliers };

std::vector<float> make_data(dist d, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (size_t i = 0; i < x.size(); ++i) {
    switch (d) {
      case dist::normal: x[i] = normal(rng); break;
      case dist::uniform: x[i] = uniform(rng); break;
      case dist::outliers: x[i] = normal(rng) * (rng() % 64 == 0 ? 30.0f : 1.0f); break;
    }
  }
  return x;
}

std::vector<float> round_trip(ggml_type t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(row_size(t, n));
  quantize_row(t, x.data(), q.data(), n);
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), n);
  return y;
}

// RMSE of the reconstruction divided by the RMS of the input.
double relative_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0.0, ref = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    ref += double(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

struct type_bound {
  ggml_type type;
  double max_rel_rmse;  // on normal and uniform data
};

// Bounds sit ~30% above the errors these reference quantizers reach on 4096 Gaussian values
// (q4_0 0.085, q4_1 0.079, q4_K 0.071, q5_0 0.042, q5_1 0.037, q5_K 0.036, q6_K 0.017,
// q8_0 0.0053, bf16 0.0016, f16 0.0002); uniform data does better.
constexpr type_bound k_bounds[] = {
    {ggml_type::bf16, 0.0022}, {ggml_type::f16, 0.0003}, {ggml_type::q8_0, 0.007}, {ggml_type::q6_k, 0.023},
    {ggml_type::q5_0, 0.055},  {ggml_type::q5_1, 0.05},  {ggml_type::q5_k, 0.047}, {ggml_type::q4_0, 0.11},
    {ggml_type::q4_1, 0.10},   {ggml_type::q4_k, 0.092},
};

TEST(quant_round_trip, f32_is_exact) {
  const auto x = make_data(dist::outliers, 100, 1);
  const auto y = round_trip(ggml_type::f32, x);
  EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0);
}

TEST(quant_round_trip, error_within_per_type_bounds) {
  for (const auto& b : k_bounds) {
    const int64_t bs = std::max<int64_t>(type_traits(b.type).block_size, 32);
    for (int64_t blocks : {1, 2, 5}) {
      for (dist d : {dist::normal, dist::uniform}) {
        const auto x = make_data(d, bs * blocks, static_cast<uint32_t>(blocks * 31 + int(d)));
        const double e = relative_rmse(x, round_trip(b.type, x));
        EXPECT_LE(e, b.max_rel_rmse) << type_traits(b.type).name << " blocks " << blocks;
        EXPECT_GT(e, 0.0) << type_traits(b.type).name;  // lossy types do lose something
      }
    }
  }
}

// Outliers inflate the block scales; the error stays bounded relative to the signal.
TEST(quant_round_trip, outliers_stay_bounded) {
  for (const auto& b : k_bounds) {
    const auto x = make_data(dist::outliers, 1024, 99);
    EXPECT_LE(relative_rmse(x, round_trip(b.type, x)), 2.0 * b.max_rel_rmse) << type_traits(b.type).name;
  }
}

TEST(quant_round_trip, precision_ordering) {
  const auto x = make_data(dist::normal, 4096, 5);
  std::map<ggml_type, double> e;
  for (const auto& b : k_bounds) e[b.type] = relative_rmse(x, round_trip(b.type, x));
  EXPECT_LT(e[ggml_type::f16], e[ggml_type::bf16]);
  EXPECT_LT(e[ggml_type::q8_0], e[ggml_type::q6_k]);
  EXPECT_LT(e[ggml_type::q6_k], e[ggml_type::q5_k]);
  EXPECT_LT(e[ggml_type::q6_k], e[ggml_type::q5_0]);
  EXPECT_LT(e[ggml_type::q5_k], e[ggml_type::q4_k]);
  EXPECT_LT(e[ggml_type::q5_0], e[ggml_type::q4_0]);
  EXPECT_LT(e[ggml_type::q5_1], e[ggml_type::q4_1]);
  EXPECT_LT(e[ggml_type::q4_k], e[ggml_type::q4_0]);  // the scale search pays off
}

TEST(quant_round_trip, zeros_and_constants) {
  for (const auto& b : k_bounds) {
    const int64_t n = 512;
    const auto zeros = round_trip(b.type, std::vector<float>(n, 0.0f));
    for (float v : zeros) ASSERT_EQ(v, 0.0f) << type_traits(b.type).name;
    const auto consts = round_trip(b.type, std::vector<float>(n, 0.375f));
    for (float v : consts) ASSERT_NEAR(v, 0.375f, 0.375f * 0.01f) << type_traits(b.type).name;
  }
}

TEST(quant_round_trip, supported_weight_types) {
  for (const auto& b : k_bounds) EXPECT_TRUE(is_supported_weight_type(b.type));
  EXPECT_TRUE(is_supported_weight_type(ggml_type::f32));
  EXPECT_FALSE(is_supported_weight_type(ggml_type::q8_1));
  EXPECT_FALSE(is_supported_weight_type(ggml_type::q8_k));
  EXPECT_FALSE(is_supported_weight_type(ggml_type::q2_k));
  EXPECT_FALSE(is_supported_weight_type(ggml_type::iq4_xs));
}

// q8_1: s = d * sum(q) with d before fp16 rounding; q matches q8_0 exactly.
TEST(quant_activation_formats, q8_1_sum_field) {
  const auto x = make_data(dist::normal, 128, 11);
  std::vector<block_q8_1> q1(4);
  std::vector<block_q8_0> q0(4);
  quantize_row(ggml_type::q8_1, x.data(), q1.data(), 128);
  quantize_row(ggml_type::q8_0, x.data(), q0.data(), 128);
  for (int b = 0; b < 4; ++b) {
    EXPECT_EQ(q1[b].d, q0[b].d);
    EXPECT_EQ(std::memcmp(q1[b].qs, q0[b].qs, 32), 0);
    int sum = 0;
    for (int8_t v : q1[b].qs) sum += v;
    const float d = fp16_to_f32(q1[b].d);
    EXPECT_NEAR(fp16_to_f32(q1[b].s), d * sum, std::fabs(d * sum) * 2e-3 + 1e-6);
  }
}

// q8_K: float d = max / -127, qs in [-127, 127], bsums = sums of each 16 qs.
TEST(quant_activation_formats, q8_k_bsums_and_scale) {
  auto x = make_data(dist::outliers, 512, 12);
  x[300] = -50.0f;  // the extreme value of block 1 is negative
  std::vector<block_q8_k> q(2);
  quantize_row(ggml_type::q8_k, x.data(), q.data(), 512);
  EXPECT_FLOAT_EQ(q[1].d, 50.0f / 127.0f);
  EXPECT_EQ(q[1].qs[300 - 256], -127);
  for (const auto& blk : q) {
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += blk.qs[16 * g + j];
      EXPECT_EQ(blk.bsums[g], sum);
    }
  }
  std::vector<float> y(512);
  dequantize_row(ggml_type::q8_k, q.data(), y.data(), 512);
  for (size_t i = 0; i < y.size(); ++i) {
    EXPECT_NEAR(y[i], x[i], 0.5f * std::fabs(q[i / 256].d) * 1.001f);
  }
}

// Hand-built blocks pin the layouts: q4_0 nibble order and q5_0's fifth-bit mask.
TEST(quant_layout, q4_0_and_q5_0_bit_order) {
  block_q4_0 b4{};
  b4.d = f32_to_fp16(0.5f);
  b4.qs[0] = 0xf1;  // element 0: 1 - 8 = -7, element 16: 15 - 8 = 7
  std::vector<float> y(32);
  dequantize_row(ggml_type::q4_0, &b4, y.data(), 32);
  EXPECT_EQ(y[0], -3.5f);
  EXPECT_EQ(y[16], 3.5f);
  EXPECT_EQ(y[1], -4.0f);

  block_q5_0 b5{};
  b5.d = f32_to_fp16(1.0f);
  b5.qh[2] = 0x01;  // bit 16: fifth bit of element 16
  b5.qs[0] = 0x3f;  // element 0: 15, element 16: 3 | 16
  dequantize_row(ggml_type::q5_0, &b5, y.data(), 32);
  EXPECT_EQ(y[0], -1.0f);   // 15 - 16
  EXPECT_EQ(y[16], 3.0f);   // 19 - 16
  EXPECT_EQ(y[1], -16.0f);  // 0 - 16
}

// q4_K: 6-bit scale/min of sub-block 5 live split across bytes 1, 5 and 9.
TEST(quant_layout, q4_k_scale_packing) {
  block_q4_k b{};
  b.d = f32_to_fp16(1.0f);
  b.dmin = f32_to_fp16(1.0f);
  b.scales[9] = 0x21;  // low nibbles: scale 1, min 2 of sub-block 5
  b.scales[1] = 0x40;  // top bits of sub-block 5 scale: 1 -> scale 17
  b.scales[5] = 0x80;  // top bits of sub-block 5 min: 2 -> min 34
  b.qs[64] = 0x30;     // high nibble: element 160 (sub-block 5) = 3; low: element 128 = 0
  std::vector<float> y(256);
  dequantize_row(ggml_type::q4_k, &b, y.data(), 256);
  EXPECT_EQ(y[160], 17.0f * 3.0f - 34.0f);
  EXPECT_EQ(y[161], -34.0f);
  EXPECT_EQ(y[128], 0.0f);  // sub-block 4: scale 0, min 0
}

}  // namespace
}  // namespace pocketlm
