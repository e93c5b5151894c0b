// Per-weight-type block decoders of the AVX-512 level (F/BW/VL + VNNI), shared by its row dots
// and tiles (quant_avx512.cpp), which run one register-blocked tile code for both: a row dot is
// the 1 x 1 tile, so a gemm entry gives bit-identical results to its vec_dot.
//
// 32-element formats (q4_0 q4_1 q5_0 q5_1 q8_0) are taken two blocks at a time: `decode` turns
// two weight blocks into 64 unsigned bytes in element order, and VPDPBUSD dots them with the 64
// signed activation bytes into 16 int32 lanes (lanes 0-7 block one, 8-15 block two). The code
// offset (8, 16, or 128 for q8_0 stored XOR 0x80) comes back out as offset * sum(activations),
// itself one VPDPBUSD per activation pair, shared by every weight row of a tile.
//
// K-quants (q4_K q5_K q6_K) are taken 64 elements (a "chunk") at a time: `decode` gives the 64
// unsigned codes of chunk c in element order, VPDPBUSD sums them with the activations four at
// a time into 16 int32 lanes that fit int16 (|sum| <= 4 * 63 * 128), VPACKSSDW packs two
// chunks' lanes into words exactly, and VPDPWSSD multiplies each word by its sub-block scale
// (`pair_scales`) into exact int32 lanes: three multiplies per 128 elements. From q8_K's bsums
// come the lane offset (q6_K's -32) and the min term of q4_K/q5_K.
// Include only from translation units compiled with the avx512 flags (x86/*avx512*.cpp), before
// any other header that may include <immintrin.h> (see avx512_intrin.h).
#pragma once

#include "kernels/x86/avx512_intrin.h"  // first: see there

#include <cstdint>
#include <cstring>

#include "kernels/dispatch.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels::x86::avx512 {

inline float half(fp16_t h) { return _cvtsh_ss(h); }

inline __m512i load_512(const void* p) { return _mm512_loadu_si512(p); }
inline __m256i load_256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Sum of the 16 floats of v (halves, then quarters, then within a quarter).
inline float hsum_512(__m512 v) {
  __m512 s = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm512_add_ps(s, _mm512_shuffle_f32x4(s, s, _MM_SHUFFLE(2, 3, 0, 1)));
  __m128 x = _mm512_castps512_ps128(s);
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

// Two 32-byte halves in one register: lo in bytes 0-31, hi in 32-63.
inline __m512i join_256(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

// Two fp16 scales as floats: lanes 0-7 = h0, lanes 8-15 = h1.
inline __m512 pair_scales(fp16_t h0, fp16_t h1) {
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(h0 | (uint32_t{h1} << 16))));
  const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  return _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(f));
}

// Two fp16 values in lanes 0 and 8, zero elsewhere (q4_1/q5_1 min terms: one per block).
inline __m512 pair_singles(fp16_t h0, fp16_t h1) {
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(h0 | (uint32_t{h1} << 16))));
  const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  return _mm512_maskz_permutexvar_ps(0x0101, spread, _mm512_castps128_ps512(f));
}

// 2 x 16 packed nibble bytes -> 64 codes: [lo(p0), hi(p0), lo(p1), hi(p1)], the element order
// of two consecutive 32-element blocks.
inline __m512i nibbles_2x16(const uint8_t* p0, const uint8_t* p1) {
  const __m256i b0 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p0)));
  const __m256i b1 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p1)));
  const __m512i shifts = _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4);
  // Per 128-bit lane shift: 0 for the low nibbles, 4 for the high ones.
  return _mm512_and_si512(_mm512_srlv_epi64(join_256(b0, b1), shifts), _mm512_set1_epi8(0x0F));
}

// q5's fifth bits of two blocks (bit i of each 32-bit qh = element i) added as 16.
inline __m512i add_fifth_bits(__m512i codes, const uint8_t* qh0, const uint8_t* qh1) {
  uint32_t h0, h1;
  std::memcpy(&h0, qh0, 4);
  std::memcpy(&h1, qh1, 4);
  const __mmask64 set = _cvtu64_mask64(uint64_t{h0} | (uint64_t{h1} << 32));
  return _mm512_mask_add_epi8(codes, set, codes, _mm512_set1_epi8(0x10));
}

struct q4_0_pair {
  using w_block = block_q4_0;
  using a_block = block_q8_0;
  static constexpr int offset = 8;
  static constexpr bool has_min = false;
  static __m512i decode(const w_block& b0, const w_block& b1) { return nibbles_2x16(b0.qs, b1.qs); }
};

struct q5_0_pair {
  using w_block = block_q5_0;
  using a_block = block_q8_0;
  static constexpr int offset = 16;
  static constexpr bool has_min = false;
  static __m512i decode(const w_block& b0, const w_block& b1) {
    return add_fifth_bits(nibbles_2x16(b0.qs, b1.qs), b0.qh, b1.qh);
  }
};

// q8_0 codes are signed; XOR 0x80 makes them q + 128 as unsigned bytes.
struct q8_0_pair {
  using w_block = block_q8_0;
  using a_block = block_q8_0;
  static constexpr int offset = 128;
  static constexpr bool has_min = false;
  static __m512i decode(const w_block& b0, const w_block& b1) {
    return _mm512_xor_si512(join_256(load_256(b0.qs), load_256(b1.qs)), _mm512_set1_epi8(-128));
  }
};

struct q4_1_pair {
  using w_block = block_q4_1;
  using a_block = block_q8_1;
  static constexpr int offset = 0;
  static constexpr bool has_min = true;
  static __m512i decode(const w_block& b0, const w_block& b1) { return nibbles_2x16(b0.qs, b1.qs); }
};

struct q5_1_pair {
  using w_block = block_q5_1;
  using a_block = block_q8_1;
  static constexpr int offset = 0;
  static constexpr bool has_min = true;
  static __m512i decode(const w_block& b0, const w_block& b1) {
    return add_fifth_bits(nibbles_2x16(b0.qs, b1.qs), b0.qh, b1.qh);
  }
};

// The int16 scales in the word order of one chunk pair's packed lanes: chunk 2cp and 2cp+1
// each give 16 int32 lanes (VPDPBUSD: lane l sums elements 4l..4l+3 of the chunk), and
// VPACKSSDW interleaves them per 128-bit lane L as [chunk 2cp lanes 4L..4L+3, chunk 2cp+1 lanes
// 4L..4L+3]. Word i therefore covers elements 64 chunk + 4 (4L + i % 4) and takes the scale of
// their `sub`-element sub-block (32 for q4_K/q5_K, 16 for q6_K).
struct spread_table {
  alignas(64) int16_t v[2][32];
};
template <int sub>
constexpr spread_table make_spread() {
  spread_table t{};
  for (int cp = 0; cp < 2; ++cp) {
    for (int i = 0; i < 32; ++i) {
      const int chunk = 2 * cp + (i % 8 >= 4 ? 1 : 0);
      const int elem = 64 * chunk + 4 * (4 * (i / 8) + i % 4);
      t.v[cp][i] = static_cast<int16_t>(elem / sub);
    }
  }
  return t;
}
template <int sub>
inline constexpr spread_table k_spread = make_spread<sub>();

template <int sub>
inline __m512i spread_scales(__m512i sc16, int cp) {
  return _mm512_permutexvar_epi16(load_512(k_spread<sub>.v[cp]), sc16);
}

// Scales and mins of a q4_K/q5_K super-block (12 packed bytes, layout: ref/dot_ref_k.cpp).
struct k4_prepared {
  __m512i sc16;   // words 0-7: the eight 6-bit scales
  __m256i min16;  // words 2j, 2j+1: min j, to pair with bsums[2j], bsums[2j+1]
};

inline k4_prepared prepare_k4(const uint8_t* packed) {
  uint32_t w[3];
  std::memcpy(w, packed, sizeof(w));
  const uint32_t words[4] = {
      w[0] & 0x3f3f3f3fu,                                         // scales 0-3
      (w[2] & 0x0f0f0f0fu) | ((w[0] >> 2) & 0x30303030u),         // scales 4-7
      w[1] & 0x3f3f3f3fu,                                         // mins 0-3
      ((w[2] >> 4) & 0x0f0f0f0fu) | ((w[1] >> 2) & 0x30303030u),  // mins 4-7
  };
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(words));
  const __m128i mins2 =
      _mm_shuffle_epi8(bytes, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
  return {_mm512_zextsi128_si512(_mm_cvtepu8_epi16(bytes)), _mm256_cvtepu8_epi16(mins2)};
}

struct q4_k_chunks {
  using w_block = block_q4_k;
  using prepared = k4_prepared;
  static constexpr bool has_min = true;
  static prepared prepare(const w_block& b) { return prepare_k4(b.scales); }
  static float d(const w_block& b) { return half(b.d); }
  static float dmin(const w_block& b) { return half(b.dmin); }
  // Chunk c: low nibbles of qs[32c..32c+31], then their high nibbles.
  static __m512i decode(const w_block& b, const prepared&, int c) {
    const __m256i q = load_256(b.qs + 32 * c);
    return _mm512_and_si512(join_256(q, _mm256_srli_epi16(q, 4)), _mm512_set1_epi8(0x0F));
  }
  static __m512i pair_scales(const prepared& p, int cp) { return spread_scales<32>(p.sc16, cp); }
  static __m512i lane_offset(const prepared&, const block_q8_k&) { return _mm512_setzero_si512(); }
};

// q5_K: chunk c's fifth bits are bits 2c (first 32 codes) and 2c+1 (last 32) of qh[0..31].
struct q5_k_chunks {
  using w_block = block_q5_k;
  using prepared = k4_prepared;
  static constexpr bool has_min = true;
  static prepared prepare(const w_block& b) { return prepare_k4(b.scales); }
  static float d(const w_block& b) { return half(b.d); }
  static float dmin(const w_block& b) { return half(b.dmin); }
  static __m512i decode(const w_block& b, const prepared&, int c) {
    const __m256i q = load_256(b.qs + 32 * c);
    const __m512i codes = _mm512_and_si512(join_256(q, _mm256_srli_epi16(q, 4)), _mm512_set1_epi8(0x0F));
    const __m512i qh = _mm512_broadcast_i64x4(load_256(b.qh));
    const __m512i bit =
        join_256(_mm256_set1_epi8(static_cast<char>(1 << (2 * c))), _mm256_set1_epi8(static_cast<char>(2 << (2 * c))));
    return _mm512_mask_add_epi8(codes, _mm512_test_epi8_mask(qh, bit), codes, _mm512_set1_epi8(0x10));
  }
  static __m512i pair_scales(const prepared& p, int cp) { return spread_scales<32>(p.sc16, cp); }
  static __m512i lane_offset(const prepared&, const block_q8_k&) { return _mm512_setzero_si512(); }
};

// q6_K codes are used unsigned (0..63); the -32 offset is -32 * sum_j scale_j * bsums_j, added
// to the int32 lanes once per super-block, so the lanes stay exact.
struct q6_k_chunks {
  using w_block = block_q6_k;
  struct prepared {
    __m512i sc16;        // words 0-15: the 16 int8 sub-block scales
    __m256i neg32_sc16;  // the same times -32
  };
  static constexpr bool has_min = false;
  static prepared prepare(const w_block& b) {
    const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
    return {_mm512_zextsi256_si512(sc), _mm256_mullo_epi16(sc, _mm256_set1_epi16(-32))};
  }
  static float d(const w_block& b) { return half(b.d); }
  static float dmin(const w_block&) { return 0.0f; }
  // Chunk c = half h = c/2, quarters k = 0,1 (c even) or 2,3 (c odd) of ref/dot_ref_k.cpp:
  // low bits from the low (even) or high (odd) nibbles of ql[64h..64h+63]; top two bits from
  // qh[32h..32h+31] shifted by 2k, taken as [qh, qh >> 2] so one mask serves both quarters.
  static __m512i decode(const w_block& b, const prepared&, int c) {
    const int h = c >> 1;
    __m512i ql = load_512(b.ql + 64 * h);
    if (c & 1) ql = _mm512_srli_epi16(ql, 4);
    const __m256i qh = load_256(b.qh + 32 * h);
    __m512i top = join_256(qh, _mm256_srli_epi16(qh, 2));
    if ((c & 1) == 0) top = _mm512_slli_epi16(top, 4);
    return _mm512_or_si512(_mm512_and_si512(ql, _mm512_set1_epi8(0x0F)), _mm512_and_si512(top, _mm512_set1_epi8(0x30)));
  }
  static __m512i pair_scales(const prepared& p, int cp) { return spread_scales<16>(p.sc16, cp); }
  static __m512i lane_offset(const prepared& p, const block_q8_k& a) {
    return _mm512_zextsi256_si512(_mm256_madd_epi16(p.neg32_sc16, load_256(a.bsums)));
  }
};

// Installers of the level's parts (quant_avx512.cpp, float_avx512.cpp); dot_avx512.cpp calls
// them from install_avx512.
void install_quant_avx512(kernel_table& t);
void install_float_avx512(kernel_table& t);

}  // namespace pocketlm::kernels::x86::avx512
