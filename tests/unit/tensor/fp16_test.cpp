// fp16 / bf16 conversions: exhaustive round trips over all 65536 codes, rounding at every
// boundary class (ties to even, overflow, gradual underflow) and NaN handling.
#include "tensor/fp16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace pocketlm {
namespace {

bool is_half_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0; }

TEST(fp16, round_trip_exhaustive) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<fp16_t>(h);
    const float f = fp16_to_f32(half);
    if (is_half_nan(half)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << h;
      EXPECT_EQ(f32_to_fp16(f), (h & 0x8000u) | 0x7e00u) << std::hex << h;
    } else {
      ASSERT_EQ(f32_to_fp16(f), half) << std::hex << h;
    }
  }
}

TEST(fp16, decodes_known_values) {
  EXPECT_EQ(fp16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_f32(0x0400), 0x1p-14f);  // smallest normal
  EXPECT_EQ(fp16_to_f32(0x0001), 0x1p-24f);  // smallest subnormal
  EXPECT_EQ(fp16_to_f32(0x03ff), 1023 * 0x1p-24f);
  EXPECT_EQ(f32_to_bits(fp16_to_f32(0x8000)), 0x80000000u);
  EXPECT_EQ(fp16_to_f32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16_to_f32(0xfc00), -std::numeric_limits<float>::infinity());
}

TEST(fp16, is_monotonic_over_positive_codes) {
  for (uint16_t h = 0; h < 0x7c00; ++h) {
    ASSERT_LT(fp16_to_f32(h), fp16_to_f32(static_cast<fp16_t>(h + 1))) << std::hex << h;
  }
}

TEST(fp16, rounds_to_nearest_even) {
  EXPECT_EQ(f32_to_fp16(1.0f + 0x1p-11f), 0x3c00);             // tie, even below
  EXPECT_EQ(f32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);         // tie, even above
  EXPECT_EQ(f32_to_fp16(1.0f + 0x1p-11f + 0x1p-23f), 0x3c01);  // just past the tie
  EXPECT_EQ(f32_to_fp16(65519.99f), 0x7bff);
  EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);  // tie with 2^16 rounds to infinity
  EXPECT_EQ(f32_to_fp16(1e9f), 0x7c00);
  EXPECT_EQ(f32_to_fp16(-1e9f), 0xfc00);
  EXPECT_EQ(f32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
}

TEST(fp16, underflows_gradually) {
  EXPECT_EQ(f32_to_fp16(0x1p-24f), 0x0001);
  EXPECT_EQ(f32_to_fp16(0x1p-25f), 0x0000);               // tie with zero: even
  EXPECT_EQ(f32_to_fp16(0x1p-25f * 1.0000001f), 0x0001);  // just above the tie
  EXPECT_EQ(f32_to_fp16(1.5f * 0x1p-24f), 0x0002);        // tie: even above
  EXPECT_EQ(f32_to_fp16(2.5f * 0x1p-24f), 0x0002);        // tie: even below
  EXPECT_EQ(f32_to_fp16(1023.5f * 0x1p-24f), 0x0400);     // rounds up into the normals
  EXPECT_EQ(f32_to_fp16(-0x1p-30f), 0x8000);
  EXPECT_EQ(f32_to_fp16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(f32_to_fp16(-0.0f), 0x8000);
}

TEST(fp16, nan_becomes_canonical_quiet_nan) {
  EXPECT_EQ(f32_to_fp16(std::numeric_limits<float>::quiet_NaN()), 0x7e00);
  EXPECT_EQ(f32_to_fp16(bits_to_f32(0xff800001u)), 0xfe00);  // signalling, negative
  EXPECT_TRUE(std::isnan(fp16_to_f32(0x7c01)));
}

// Independent oracle: the nearest half (ties to even mantissa), found by comparing distances in
// double precision, for random floats across the finite half range and the subnormals.
TEST(fp16, matches_nearest_half_oracle_on_random_floats) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits(0x30000000u, 0x477fefffu);  // below 65520
  for (int i = 0; i < 200000; ++i) {
    const float f = bits_to_f32(bits(rng));
    const fp16_t h = f32_to_fp16(f);
    const double err = std::fabs(double(fp16_to_f32(h)) - f);
    for (int step : {-1, 1}) {
      const auto other = static_cast<fp16_t>(h + step);
      if (other >= 0x7c00) continue;
      const double other_err = std::fabs(double(fp16_to_f32(other)) - f);
      ASSERT_TRUE(err < other_err || (err == other_err && (h & 1) == 0)) << "f=" << f << " h=" << h;
    }
  }
}

TEST(bf16, round_trip_exhaustive) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<bf16_t>(h);
    const float f = bf16_to_f32(b);
    EXPECT_EQ(f32_to_bits(f), h << 16);
    if (std::isnan(f)) {
      EXPECT_EQ(f32_to_bf16(f), b | 0x40u) << std::hex << h;  // made quiet, payload kept
    } else {
      ASSERT_EQ(f32_to_bf16(f), b) << std::hex << h;
    }
  }
}

TEST(bf16, rounds_to_nearest_even) {
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);      // tie, even below
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);  // tie, even above
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f + 0x1p-23f), 0x3f81);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to infinity
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
}

}  // namespace
}  // namespace pocketlm
