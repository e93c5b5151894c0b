// AVX-512 VNNI kernels over the four-row repacked q4_0 / q8_0 layouts (kernels/repack.h). One
// block index of four rows is one record: a single 64-byte load holds four q4_0 rows' nibbles,
// two hold four q8_0 rows. VPDPBUSD multiplies the unsigned weight codes by the signed
// activation bytes; the code offset (8 for q4_0, 128 for q8_0) comes back out through the
// activation block's precomputed sum, spread evenly over the lanes of each row. Tokens are
// blocked four at a time so each weight record loaded serves four activation rows.
// GCC 12's AVX-512 headers build "undefined" vectors by self-initialisation and then warn about
// it wherever they are inlined (GCC PR105593, fixed in 13); the header lines' diagnostic state
// decides, so immintrin.h is first included here with those two warnings off.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
#include <immintrin.h>

#include "kernels/repack.h"
#include "kernels/x86/repack_groups.h"

namespace pocketlm::kernels::x86 {

namespace {

// acc holds row i's partial sums in lanes 4i..4i+3; writes the four row totals to y[0..3].
inline void store_row_sums(__m512 acc, float* y) {
  const __m512 s1 = _mm512_add_ps(acc, _mm512_shuffle_ps(acc, acc, _MM_SHUFFLE(2, 3, 0, 1)));
  const __m512 s2 = _mm512_add_ps(s1, _mm512_shuffle_ps(s1, s1, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512i pick = _mm512_setr_epi32(0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12);
  _mm_storeu_ps(y, _mm512_castps512_ps128(_mm512_permutexvar_ps(pick, s2)));
}

// The four fp16 scales of a record as floats, each repeated over the lanes `spread` gives it.
inline __m512 record_scales(const fp16_t* d, __m512i spread) {
  const __m128 d4 = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(d)));
  return _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(d4));
}

inline const block_q8_0* act_block(const uint8_t* act, size_t act_row_bytes, int t, int64_t b) {
  return reinterpret_cast<const block_q8_0*>(act + t * act_row_bytes) + b;
}

// One group of four rows against NT activation rows.
template <int NT>
void q4_0x4_tile(int64_t nb, const block_q4_0x4* rec, const uint8_t* act, size_t act_row_bytes,
                 const act_block_info* info, float* y, size_t y_stride) {
  const __m512i low = _mm512_set1_epi8(0x0F);
  const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m512i v = _mm512_loadu_si512(rec[b].qs);
    const __m512i lo = _mm512_and_si512(v, low);                        // elements 0..15
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);  // elements 16..31
    const __m512 dw = record_scales(rec[b].d, spread);
    for (int t = 0; t < NT; ++t) {
      const block_q8_0* a = act_block(act, act_row_bytes, t, b);
      const act_block_info in = info[t * nb + b];
      const __m512i alo = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a->qs)));
      const __m512i ahi = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a->qs + 16)));
      // Each row's 4 lanes carry -8 * sum between them: -2 * sum per lane.
      __m512i s = _mm512_dpbusd_epi32(_mm512_set1_epi32(-2 * in.sum), lo, alo);
      s = _mm512_dpbusd_epi32(s, hi, ahi);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(in.d)), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) store_row_sums(acc[t], y + t * y_stride);
}

// One group of four rows against NT activation rows. Lanes 0..7 of a product are the first
// row of a pair, 8..15 the second; each lane carries -128 * sum / 8 = -16 * sum.
template <int NT>
void q8_0x4_tile(int64_t nb, const block_q8_0x4* rec, const uint8_t* act, size_t act_row_bytes,
                 const act_block_info* info, float* y, size_t y_stride) {
  const __m512i spread01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i spread23 = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  __m512 acc01[NT], acc23[NT];
  for (int t = 0; t < NT; ++t) acc01[t] = acc23[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m512i w01 = _mm512_loadu_si512(rec[b].qs);
    const __m512i w23 = _mm512_loadu_si512(rec[b].qs + 64);
    const __m512 dw01 = record_scales(rec[b].d, spread01);
    const __m512 dw23 = record_scales(rec[b].d, spread23);
    for (int t = 0; t < NT; ++t) {
      const block_q8_0* a = act_block(act, act_row_bytes, t, b);
      const act_block_info in = info[t * nb + b];
      const __m512i av = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a->qs)));
      const __m512i corr = _mm512_set1_epi32(-16 * in.sum);
      const __m512 da = _mm512_set1_ps(in.d);
      const __m512i s01 = _mm512_dpbusd_epi32(corr, w01, av);
      const __m512i s23 = _mm512_dpbusd_epi32(corr, w23, av);
      acc01[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s01), _mm512_mul_ps(dw01, da), acc01[t]);
      acc23[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s23), _mm512_mul_ps(dw23, da), acc23[t]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    // 128-bit lanes (row0 row0 row1 row1) and (row2 row2 row3 row3) -> one lane per row.
    const __m512 even = _mm512_shuffle_f32x4(acc01[t], acc23[t], 0x88);
    const __m512 odd = _mm512_shuffle_f32x4(acc01[t], acc23[t], 0xDD);
    store_row_sums(_mm512_add_ps(even, odd), y + t * y_stride);
  }
}

template <int NT>
struct q4_tile {
  static constexpr auto run = q4_0x4_tile<NT>;
};
template <int NT>
struct q8_tile {
  static constexpr auto run = q8_0x4_tile<NT>;
};

}  // namespace

void gemm_q4_0x4_avx512(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                        size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride) {
  gemm_groups<block_q4_0x4, q4_tile>(n, n_groups, n_tokens, w, act, act_row_bytes, info, y, y_stride);
}

void gemm_q8_0x4_avx512(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                        size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride) {
  gemm_groups<block_q8_0x4, q8_tile>(n, n_groups, n_tokens, w, act, act_row_bytes, info, y, y_stride);
}

}  // namespace pocketlm::kernels::x86
