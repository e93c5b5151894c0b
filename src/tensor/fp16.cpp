// IEEE binary16 <-> binary32 conversions done with integer arithmetic so that the result is the
// same on every host (no F16C dependence) and bit-identical to ggml's portable conversion:
// round to nearest even, gradual underflow, overflow to infinity, NaN -> quiet NaN 0x7e00.
#include "tensor/fp16.h"

namespace pocketlm {
namespace {

constexpr uint32_t k_f32_abs_mask = 0x7fffffffu;
constexpr uint32_t k_f32_inf = 0x7f800000u;
constexpr uint32_t k_f32_quiet_bit = 0x00400000u;
// |f| at or above this (65520, halfway between 65504 and 2^16) rounds to half infinity.
constexpr uint32_t k_half_overflow = 0x477ff000u;
// |f| below 2^-14 becomes a half subnormal (or zero).
constexpr uint32_t k_half_min_normal = 0x38800000u;
constexpr int k_exp_rebias = 127 - 15;

// Shifts `m` right by `shift` bits rounding to nearest, ties to even.
uint32_t shift_right_rne(uint32_t m, int shift) {
  if (shift == 0) return m;
  const uint32_t kept = m >> shift;
  const uint32_t rest = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (kept & 1u))) return kept + 1u;
  return kept;
}

}  // namespace

float fp16_to_f32(fp16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24 is exact in binary32.
    const float mag = static_cast<float>(mant) * 0x1p-24f;
    return bits_to_f32(sign | f32_to_bits(mag));
  }
  if (exp == 0x1f) {
    // Infinity keeps its bits; a NaN comes back quiet with its payload, as a float multiply
    // (what ggml's conversion does) would leave it.
    const uint32_t quiet = mant != 0 ? k_f32_quiet_bit : 0u;
    return bits_to_f32(sign | k_f32_inf | quiet | (mant << 13));
  }
  return bits_to_f32(sign | ((exp + k_exp_rebias) << 23) | (mant << 13));
}

fp16_t f32_to_fp16(float f) {
  const uint32_t u = f32_to_bits(f);
  const auto sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & k_f32_abs_mask;
  if (a > k_f32_inf) return static_cast<fp16_t>(sign | 0x7e00u);
  if (a >= k_half_overflow) return static_cast<fp16_t>(sign | 0x7c00u);
  if (a < k_half_min_normal) {
    // Result in units of 2^-24: (1.mant) * 2^(e-127) / 2^-24 = m >> (126 - e).
    const int e = static_cast<int>(a >> 23);
    const int shift = 126 - e;
    if (shift > 24) return sign;  // below 2^-25: rounds to zero
    const uint32_t m = (a & 0x7fffffu) | 0x800000u;
    return static_cast<fp16_t>(sign | shift_right_rne(m, shift));
  }
  // Normal: rebias the exponent, then drop 13 mantissa bits with round to nearest even; a
  // carry out of the mantissa correctly bumps the exponent.
  const uint32_t rebased = a - (static_cast<uint32_t>(k_exp_rebias) << 23);
  return static_cast<fp16_t>(sign | shift_right_rne(rebased, 13));
}

}  // namespace pocketlm
