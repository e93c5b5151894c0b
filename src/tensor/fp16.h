// IEEE half and bfloat16 conversions, bit-exact with ggml's (round to nearest even).
#pragma once

#include <cstdint>
#include <cstring>

namespace pocketlm {

using fp16_t = uint16_t;
using bf16_t = uint16_t;

inline float bits_to_f32(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

float fp16_to_f32(fp16_t h);
fp16_t f32_to_fp16(float f);

inline float bf16_to_f32(bf16_t h) { return bits_to_f32(static_cast<uint32_t>(h) << 16); }
inline bf16_t f32_to_bf16(float f) {
  uint32_t u = f32_to_bits(f);
  if ((u & 0x7fffffff) > 0x7f800000) return static_cast<bf16_t>((u >> 16) | 64);  // quiet NaN
  return static_cast<bf16_t>((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

}  // namespace pocketlm
