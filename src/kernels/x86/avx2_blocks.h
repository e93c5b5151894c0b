// Per-weight-type block kernels of the AVX2 level, shared by the row dots (dot_avx2.cpp) and
// the multi-token tiles (gemm_avx2.cpp), so both compute exactly the same integer sums.
//
// 32-element formats (q4_0 q4_1 q5_0 q5_1 q8_0): a weight block is decoded once (`decode`),
// an activation block prepared once (`prep`), and any pair dotted (`dot`: 8 int32 lanes,
// exact); the pair's float contribution is lanes * d_w * d_a plus, for q4_1/q5_1, min_term.
//
// K-quants (q4_K q5_K q6_K): `for_groups` decodes a 256-element super-block into eight groups
// of 32 unsigned codes with the int16 multiplier of each code (its sub-block scale) and hands
// them to a callback in element order. From q8_K's bsums come `lane_offset`, int32 lanes added
// to the super-block's exact integer lanes before they are converted (q6_K's -32 code offset),
// and, where has_tail, `tail_lanes`, int32 lanes scaled by tail_scale * d_a (q4_K/q5_K's
// -dmin * min part).
// Include only from translation units compiled with -mavx2 -mfma -mf16c.
#pragma once

#include "kernels/dispatch.h"
#include "kernels/x86/avx2_util.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels::x86 {

// Internal linkage: a TU built for a higher level (e.g. *avx512*.cpp) that includes this header
// gets its own copies, so the linker cannot hand an AVX-512-compiled copy to AVX2 code.
namespace {

inline float fp16f(fp16_t h) { return fp16_to_f32_f16c(h); }

// The offset formats (q4_0: q - 8, q5_0: q - 16) keep the unsigned codes for maddubs and
// subtract offset * (a pair sums), prepared once per activation block.
template <int offset>
struct offset_act {
  __m256i q;
  __m256i off;  // int16 pairs: offset * (a[2i] + a[2i+1])
};
template <int offset>
inline offset_act<offset> prep_offset_act(const int8_t* qs) {
  const __m256i q = load_256(qs);
  return {q, _mm256_maddubs_epi16(_mm256_set1_epi8(offset), q)};
}
template <int offset>
inline __m256i dot_offset(__m256i w, const offset_act<offset>& a) {
  return sum_pairs_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(w, a.q), a.off));
}

inline __m256i decode_q5(const uint8_t* qs, const uint8_t* qh) {
  return _mm256_or_si256(unpack_nibbles_16(qs), bits_to_bytes(load_u32(qh), 0x10));
}

struct q4_0_kernel {
  using w_block = block_q4_0;
  using a_block = block_q8_0;
  using act = offset_act<8>;
  static constexpr bool has_min = false;
  static __m256i decode(const w_block& b) { return unpack_nibbles_16(b.qs); }
  static act prep(const a_block& a) { return prep_offset_act<8>(a.qs); }
  static __m256i dot(__m256i w, const act& a) { return dot_offset(w, a); }
  static float min_term(const w_block&, const a_block&) { return 0.0f; }
};

struct q5_0_kernel {
  using w_block = block_q5_0;
  using a_block = block_q8_0;
  using act = offset_act<16>;
  static constexpr bool has_min = false;
  static __m256i decode(const w_block& b) { return decode_q5(b.qs, b.qh); }
  static act prep(const a_block& a) { return prep_offset_act<16>(a.qs); }
  static __m256i dot(__m256i w, const act& a) { return dot_offset(w, a); }
  static float min_term(const w_block&, const a_block&) { return 0.0f; }
};

// x = d * q + m: unsigned codes dotted as they are, plus m * (q8_1's d * sum(a)).
struct q4_1_kernel {
  using w_block = block_q4_1;
  using a_block = block_q8_1;
  using act = __m256i;
  static constexpr bool has_min = true;
  static __m256i decode(const w_block& b) { return unpack_nibbles_16(b.qs); }
  static act prep(const a_block& a) { return load_256(a.qs); }
  static __m256i dot(__m256i w, act a) { return dot_u8_s8(w, a); }
  static float min_term(const w_block& w, const a_block& a) { return fp16f(w.m) * fp16f(a.s); }
};

struct q5_1_kernel {
  using w_block = block_q5_1;
  using a_block = block_q8_1;
  using act = __m256i;
  static constexpr bool has_min = true;
  static __m256i decode(const w_block& b) { return decode_q5(b.qs, b.qh); }
  static act prep(const a_block& a) { return load_256(a.qs); }
  static __m256i dot(__m256i w, act a) { return dot_u8_s8(w, a); }
  static float min_term(const w_block& w, const a_block& a) { return fp16f(w.m) * fp16f(a.s); }
};

// Both sides signed and possibly -128: widened to int16 (elements 0-15 and 16-31) for madd.
struct s16_pair {
  __m256i lo, hi;
};
inline s16_pair widen_s8(const int8_t* qs) {
  return {_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs))),
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16)))};
}

struct q8_0_kernel {
  using w_block = block_q8_0;
  using a_block = block_q8_0;
  using act = s16_pair;
  static constexpr bool has_min = false;
  static s16_pair decode(const w_block& b) { return widen_s8(b.qs); }
  static act prep(const a_block& a) { return widen_s8(a.qs); }
  static __m256i dot(const s16_pair& w, const act& a) {
    return _mm256_add_epi32(_mm256_madd_epi16(w.lo, a.lo), _mm256_madd_epi16(w.hi, a.hi));
  }
  static float min_term(const w_block&, const a_block&) { return 0.0f; }
};

// The eight 6-bit scales and mins of a q4_K/q5_K super-block (layout: ref/dot_ref_k.cpp),
// unpacked with 32-bit word operations on the 12 packed bytes.
struct k4_scales {
  uint8_t scales[8];
  uint8_t mins[8];
};

inline k4_scales unpack_k4_scales(const uint8_t* packed) {
  const uint32_t w0 = load_u32(packed);
  const uint32_t w1 = load_u32(packed + 4);
  const uint32_t w2 = load_u32(packed + 8);
  const uint32_t words[4] = {
      w0 & 0x3f3f3f3fu,                                       // scales 0-3
      (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u),         // scales 4-7
      w1 & 0x3f3f3f3fu,                                       // mins 0-3
      ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u),  // mins 4-7
  };
  k4_scales s;
  std::memcpy(&s, words, sizeof(s));
  return s;
}

// The eight mins, each repeated for the two 16-element bsums of its sub-block: madd with
// q8_K's bsums gives lanes summing to sum_j mins[j] * (bsums[2j] + bsums[2j+1]).
inline __m256i widen_mins16(const k4_scales& s) {
  const __m128i mins8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s.mins));
  const __m128i dup = _mm_shuffle_epi8(mins8, _mm_set_epi8(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0));
  return _mm256_cvtepu8_epi16(dup);
}

// Scale j of eight uint8 scales, as 16 int16 lanes: one byte shuffle of the scales widened to
// int16 in both 128-bit halves.
inline __m256i widen_scales8(const uint8_t* scales) {
  const __m128i s8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales));
  const __m128i s16 = _mm_cvtepu8_epi16(s8);
  return _mm256_broadcastsi128_si256(s16);
}
inline __m256i pick_scale(__m256i scales16, int j) {
  const auto pair = static_cast<int16_t>((2 * j + 1) << 8 | 2 * j);  // bytes of int16 lane j
  return _mm256_shuffle_epi8(scales16, _mm256_set1_epi16(pair));
}

// q4_K / q5_K super-block scales: unpacked, and the scales widened for pick_scale.
struct k4_prepared {
  __m256i scales16;
  __m256i mins16;
};
inline k4_prepared prepare_k4(const uint8_t* packed) {
  const k4_scales s = unpack_k4_scales(packed);
  return {widen_scales8(s.scales), widen_mins16(s)};
}

struct q4_k_kernel {
  using w_block = block_q4_k;
  using prepared = k4_prepared;
  static prepared prepare(const w_block& b) { return prepare_k4(b.scales); }
  static float d(const w_block& b) { return fp16f(b.d); }
  template <class F>
  static void for_groups(const w_block& b, const prepared& p, F&& f) {
    for (int c = 0; c < 4; ++c) {
      __m256i lo, hi;
      unpack_nibbles_32(b.qs + 32 * c, lo, hi);
      f(2 * c, lo, pick_scale(p.scales16, 2 * c));
      f(2 * c + 1, hi, pick_scale(p.scales16, 2 * c + 1));
    }
  }
  static __m256i lane_offset(const prepared&, const block_q8_k&) { return _mm256_setzero_si256(); }
  static constexpr bool has_tail = true;
  static __m256i tail_lanes(const prepared& p, const block_q8_k& a) {
    return _mm256_madd_epi16(p.mins16, load_256(a.bsums));
  }
  static float tail_scale(const w_block& b) { return -fp16f(b.dmin); }
};

struct q5_k_kernel {
  using w_block = block_q5_k;
  using prepared = k4_prepared;
  static prepared prepare(const w_block& b) { return prepare_k4(b.scales); }
  static float d(const w_block& b) { return fp16f(b.d); }
  // Chunk c's fifth bits are bits 2c (low nibbles) and 2c+1 (high nibbles) of qh[0..31].
  template <class F>
  static void for_groups(const w_block& b, const prepared& p, F&& f) {
    const __m256i qh = load_256(b.qh);
    const __m256i sixteen = _mm256_set1_epi8(0x10);
    for (int c = 0; c < 4; ++c) {
      __m256i lo, hi;
      unpack_nibbles_32(b.qs + 32 * c, lo, hi);
      const __m256i bit_lo = _mm256_set1_epi8(static_cast<char>(1 << (2 * c)));
      const __m256i bit_hi = _mm256_set1_epi8(static_cast<char>(1 << (2 * c + 1)));
      lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_lo), bit_lo), sixteen));
      hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_hi), bit_hi), sixteen));
      f(2 * c, lo, pick_scale(p.scales16, 2 * c));
      f(2 * c + 1, hi, pick_scale(p.scales16, 2 * c + 1));
    }
  }
  static __m256i lane_offset(const prepared&, const block_q8_k&) { return _mm256_setzero_si256(); }
  static constexpr bool has_tail = true;
  static __m256i tail_lanes(const prepared& p, const block_q8_k& a) {
    return _mm256_madd_epi16(p.mins16, load_256(a.bsums));
  }
  static float tail_scale(const w_block& b) { return -fp16f(b.dmin); }
};

// q6_K codes are used unsigned (0..63, exact in maddubs); the -32 offset is applied once per
// super-block as -32 * sum_j scale[j] * bsums[j], in integers, so the lanes stay exact.
struct q6_k_kernel {
  using w_block = block_q6_k;
  struct prepared {
    __m128i scales;  // the 16 int8 sub-block scales
  };
  static prepared prepare(const w_block& b) { return {_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales))}; }
  static float d(const w_block& b) { return fp16f(b.d); }
  // Group g = 4h + k covers sub-blocks 2g (low 128-bit lane) and 2g+1 (high lane).
  static __m256i group_scale(__m128i scales, int g) {
    const __m128i pick = _mm_add_epi8(_mm_set_epi64x(0x0101010101010101, 0), _mm_set1_epi8(static_cast<char>(2 * g)));
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, pick));
  }
  template <class F>
  static void for_groups(const w_block& b, const prepared& p, F&& f) {
    const __m256i mask4 = _mm256_set1_epi8(0x0F);
    const __m256i mask2 = _mm256_set1_epi8(0x03);
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load_256(b.ql + 64 * h);
      const __m256i ql1 = load_256(b.ql + 64 * h + 32);
      const __m256i qh = load_256(b.qh + 32 * h);
      const __m256i low[4] = {_mm256_and_si256(ql0, mask4), _mm256_and_si256(ql1, mask4),
                              _mm256_and_si256(_mm256_srli_epi16(ql0, 4), mask4),
                              _mm256_and_si256(_mm256_srli_epi16(ql1, 4), mask4)};
      const __m256i high[4] = {_mm256_slli_epi16(_mm256_and_si256(qh, mask2), 4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), mask2), 4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), mask2), 4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), mask2), 4)};
      for (int k = 0; k < 4; ++k) {
        const int g = 4 * h + k;
        f(g, _mm256_or_si256(low[k], high[k]), group_scale(p.scales, g));
      }
    }
  }
  static __m256i lane_offset(const prepared& p, const block_q8_k& a) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(p.scales);
    const __m256i sums = _mm256_madd_epi16(sc16, load_256(a.bsums));
    return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 5));  // * -32
  }
  static constexpr bool has_tail = false;
};

// One step of a tile of R weight rows x T activation rows (R = T = 1 for a row dot): block b
// of each weight row w[r] is decoded once, block b of each activation row a[t] prepared once,
// and every pair dotted. acc[r * T + t] collects lane sums times d_w * d_a; mins[r * T + t]
// the q4_1/q5_1 min terms.
template <class K, int R, int T>
inline void block32_step(const typename K::w_block* const* w, const typename K::a_block* const* a, int64_t b,
                         __m256* acc, float* mins) {
  decltype(K::decode(w[0][b])) q[R];
  float dw[R];
  for (int r = 0; r < R; ++r) {
    q[r] = K::decode(w[r][b]);
    dw[r] = fp16f(w[r][b].d);
  }
  for (int t = 0; t < T; ++t) {
    const auto& ab = a[t][b];
    const typename K::act ap = K::prep(ab);
    const float da = fp16f(ab.d);
    for (int r = 0; r < R; ++r) {
      const __m256 lanes = _mm256_cvtepi32_ps(K::dot(q[r], ap));
      acc[r * T + t] = _mm256_fmadd_ps(lanes, _mm256_set1_ps(dw[r] * da), acc[r * T + t]);
      if constexpr (K::has_min) mins[r * T + t] += K::min_term(w[r][b], ab);
    }
  }
}

// The same for a K-quant super-block: exact int32 lanes per activation row, converted once.
template <class K, int T>
inline void k_step(const typename K::w_block& w, const block_q8_k* const* a, int64_t b, __m256* acc) {
  const auto p = K::prepare(w);
  __m256i isum[T];
  for (int t = 0; t < T; ++t) isum[t] = K::lane_offset(p, a[t][b]);
  K::for_groups(w, p, [&](int g, __m256i q, __m256i scale) {
    for (int t = 0; t < T; ++t) {
      const __m256i act = load_256(a[t][b].qs + 32 * g);
      isum[t] = _mm256_add_epi32(isum[t], dot_u8_s8_scaled(q, act, scale));
    }
  });
  const float d = K::d(w);
  for (int t = 0; t < T; ++t) {
    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * a[t][b].d), acc[t]);
    if constexpr (K::has_tail) {
      const __m256 tail = _mm256_cvtepi32_ps(K::tail_lanes(p, a[t][b]));
      acc[t] = _mm256_fmadd_ps(tail, _mm256_set1_ps(K::tail_scale(w) * a[t][b].d), acc[t]);
    }
  }
}

// Float rows: 8 elements per load, widened to float.
struct f32_loader {
  using elem = float;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  static float scalar(const float* p) { return *p; }
};
struct f16_loader {
  using elem = uint16_t;
  static __m256 load(const uint16_t* p) { return load_fp16x8(p); }
  static float scalar(const uint16_t* p) { return fp16_to_f32_f16c(*p); }
};
struct bf16_loader {
  using elem = uint16_t;
  static __m256 load(const uint16_t* p) { return load_bf16x8(p); }
  static float scalar(const uint16_t* p) { return bits_to_f32(static_cast<uint32_t>(*p) << 16); }
};

}  // namespace

// Multi-token tiles (gemm_avx2.cpp): sets the gemm entry of each weight type it covers.
void install_gemm_avx2(kernel_table& t);
// Activation converters (quant_avx2.cpp): q8_0, q8_1, q8_K, f16 and bf16 from_float,
// byte-identical to the reference ones.
void install_quant_avx2(kernel_table& t);

}  // namespace pocketlm::kernels::x86
