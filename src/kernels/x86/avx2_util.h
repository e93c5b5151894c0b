// Inline AVX2 (+FMA +F16C) helpers shared by the x86 kernel files (x86/*avx2*.cpp; the
// *avx512*.cpp files, compiled with AVX2 enabled too, may use them as well). Include only from translation
// units compiled with at least -mavx2 -mfma -mf16c. Every integer helper is exact for the full
// int8 range, -128 included: the SIMD dots must give the same integer sums as the reference on
// any bytes, so none of them uses the _mm256_sign_epi8 trick (which wraps -(-128)).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace pocketlm::kernels::x86 {

// Internal linkage: a TU built for a higher level (e.g. *avx512*.cpp) that includes this header
// gets its own copies, so the linker cannot hand an AVX-512-compiled copy to AVX2 code.
namespace {

// Sum of the 8 floats of v.
inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Sum of the 8 int32 lanes of v.
inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// IEEE half -> float with the F16C instruction (exact, as fp16_to_f32).
inline float fp16_to_f32_f16c(uint16_t h) { return _cvtsh_ss(h); }

// 16 packed bytes -> 32 nibbles: bytes 0..15 of the result are the low nibbles of p[0..15],
// bytes 16..31 the high nibbles. This is the element order of the 32-element formats (byte j
// holds element j and element j + 16).
inline __m256i unpack_nibbles_16(const uint8_t* p) {
  // The 16 bytes in both halves; the upper half shifted right by 4 (one variable shift
  // instead of a shift plus a cross-lane insert).
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i b = _mm256_broadcastsi128_si256(bytes);
  const __m256i both = _mm256_srlv_epi64(b, _mm256_set_epi64x(4, 4, 0, 0));
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 32 packed bytes -> their 32 low nibbles (lo) and 32 high nibbles (hi), in byte order. This is
// the layout of a K-quant 64-element chunk.
inline void unpack_nibbles_32(const uint8_t* p, __m256i& lo, __m256i& hi) {
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i mask = _mm256_set1_epi8(0x0F);
  lo = _mm256_and_si256(b, mask);
  hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), mask);
}

// 32 bits (bit i = element i, little-endian as q5's qh) -> 32 bytes, byte i = `value` where
// bit i is set, else 0.
inline __m256i bits_to_bytes(uint32_t bits, int8_t value) {
  // Byte i takes source byte i / 8, then tests bit i % 8 of it.
  const __m256i spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int32_t>(bits)),
                          _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(value));
}

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Pairwise int16 sums -> int32: lanes i = v[2i] + v[2i+1].
inline __m256i sum_pairs_epi16(__m256i v) { return _mm256_madd_epi16(v, _mm256_set1_epi16(1)); }

// u8 x s8 products summed in groups of four into 8 int32 lanes. Exact while each adjacent pair
// u[2i]*s[2i] + u[2i+1]*s[2i+1] fits int16: u <= 127 always is (u <= 63 in every caller).
inline __m256i dot_u8_s8(__m256i u, __m256i s) { return sum_pairs_epi16(_mm256_maddubs_epi16(u, s)); }

// As dot_u8_s8 with each int16 pair sum first multiplied by its int16 scale: lanes i =
// scale[2i] * (pair 2i) + scale[2i+1] * (pair 2i+1).
inline __m256i dot_u8_s8_scaled(__m256i u, __m256i s, __m256i scale_epi16) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale_epi16);
}

// Returns v unchanged, but the compiler cannot see through it: a product passed through here
// is rounded to float before the next add. Without it GCC contracts _mm256_mul_ps followed by
// _mm256_add_ps/_sub_ps into one FMA (-ffp-contract=fast), which changes the rounding of
// converters that must match scalar code bit for bit.
inline __m256 rounded(__m256 v) {
  __asm__("" : "+x"(v));
  return v;
}

inline __m256i load_256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 8 halves / 8 bfloat16 -> 8 floats.
inline __m256 load_fp16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 load_bf16x8(const uint16_t* p) {
  const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

}  // namespace
}  // namespace pocketlm::kernels::x86
