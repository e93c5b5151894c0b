// AVX2 kernels over the four-row repacked q4_0 / q8_0 layouts (kernels/repack.h). q4_0: one
// 32-byte load holds two rows' nibbles of a block; VPMADDUBSW multiplies the unsigned codes by
// the signed activation bytes (at most 2 * 15 * 128 per pair, no saturation) and the -8 code
// offset comes back out through the activation block's precomputed sum. q8_0: the stored codes
// are turned back into signed bytes and multiplied with the usual |w| x sign(a, w) pairing.
// Tokens are blocked four at a time so each weight record loaded serves four activation rows.
#include <immintrin.h>

#include "kernels/repack.h"
#include "kernels/x86/repack_groups.h"

namespace pocketlm::kernels::x86 {

namespace {

inline __m128 record_scales(const fp16_t* d) {
  return _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(d)));
}

inline const block_q8_0* act_block(const uint8_t* act, size_t act_row_bytes, int t, int64_t b) {
  return reinterpret_cast<const block_q8_0*>(act + t * act_row_bytes) + b;
}

// acc01: row 0 in lanes 0..3, row 1 in 4..7; acc23 likewise; writes the four totals to y[0..3].
inline void store_pair_sums(__m256 acc01, __m256 acc23, float* y) {
  const __m256 h = _mm256_hadd_ps(acc01, acc23);  // (r0 r0 r2 r2 | r1 r1 r3 r3)
  const __m256 h2 = _mm256_hadd_ps(h, h);         // (r0 r2 r0 r2 | r1 r3 r1 r3)
  _mm_storeu_ps(y, _mm_unpacklo_ps(_mm256_castps256_ps128(h2), _mm256_extractf128_ps(h2, 1)));
}

// Unsigned nibble codes (lo: elements 0..15, hi: 16..31, two rows per register) dotted with one
// activation block broadcast to both halves; 8 int32 lanes, 4 per row, with -8 * sum removed.
inline __m256i q4_pair_dot(__m256i lo, __m256i hi, __m256i alo, __m256i ahi, __m256i corr) {
  const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, alo), _mm256_maddubs_epi16(hi, ahi));
  return _mm256_add_epi32(_mm256_madd_epi16(p, _mm256_set1_epi16(1)), corr);
}

template <int NT>
void q4_0x4_tile(int64_t nb, const block_q4_0x4* rec, const uint8_t* act, size_t act_row_bytes,
                 const act_block_info* info, float* y, size_t y_stride) {
  const __m256i low = _mm256_set1_epi8(0x0F);
  const __m256i spread01 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  const __m256i spread23 = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
  __m256 acc01[NT], acc23[NT];
  for (int t = 0; t < NT; ++t) acc01[t] = acc23[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i v01 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec[b].qs));
    const __m256i v23 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec[b].qs + 32));
    const __m256i lo01 = _mm256_and_si256(v01, low), hi01 = _mm256_and_si256(_mm256_srli_epi16(v01, 4), low);
    const __m256i lo23 = _mm256_and_si256(v23, low), hi23 = _mm256_and_si256(_mm256_srli_epi16(v23, 4), low);
    const __m256 d4 = _mm256_castps128_ps256(record_scales(rec[b].d));
    const __m256 dw01 = _mm256_permutevar8x32_ps(d4, spread01);
    const __m256 dw23 = _mm256_permutevar8x32_ps(d4, spread23);
    for (int t = 0; t < NT; ++t) {
      const block_q8_0* a = act_block(act, act_row_bytes, t, b);
      const act_block_info in = info[t * nb + b];
      const __m256i alo = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a->qs)));
      const __m256i ahi = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a->qs + 16)));
      const __m256i corr = _mm256_set1_epi32(-2 * in.sum);  // -8 * sum over a row's 4 lanes
      const __m256 da = _mm256_set1_ps(in.d);
      const __m256i s01 = q4_pair_dot(lo01, hi01, alo, ahi, corr);
      const __m256i s23 = q4_pair_dot(lo23, hi23, alo, ahi, corr);
      acc01[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s01), _mm256_mul_ps(dw01, da), acc01[t]);
      acc23[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s23), _mm256_mul_ps(dw23, da), acc23[t]);
    }
  }
  for (int t = 0; t < NT; ++t) store_pair_sums(acc01[t], acc23[t], y + t * y_stride);
}

// Signed w (32 bytes, one row) dotted with a: 8 int32 lanes whose sum is the row's block sum.
inline __m256i q8_row_dot(__m256i w_abs, __m256i w, __m256i a) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(a, w)), _mm256_set1_epi16(1));
}

template <int NT>
void q8_0x4_tile(int64_t nb, const block_q8_0x4* rec, const uint8_t* act, size_t act_row_bytes,
                 const act_block_info* info, float* y, size_t y_stride) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i w[4], w_abs[4];
    for (int i = 0; i < 4; ++i) {
      w[i] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec[b].qs + 32 * i)), flip);
      w_abs[i] = _mm256_abs_epi8(w[i]);
    }
    const __m128 d4 = record_scales(rec[b].d);
    const __m256 dw = _mm256_set_m128(d4, d4);
    for (int t = 0; t < NT; ++t) {
      const block_q8_0* a = act_block(act, act_row_bytes, t, b);
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a->qs));
      const __m256i h01 = _mm256_hadd_epi32(q8_row_dot(w_abs[0], w[0], av), q8_row_dot(w_abs[1], w[1], av));
      const __m256i h23 = _mm256_hadd_epi32(q8_row_dot(w_abs[2], w[2], av), q8_row_dot(w_abs[3], w[3], av));
      const __m256i s = _mm256_hadd_epi32(h01, h23);  // (r0 r1 r2 r3 | r0 r1 r2 r3) partials
      const __m256 da = _mm256_set1_ps(info[t * nb + b].d);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, da), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    _mm_storeu_ps(y + t * y_stride, _mm_add_ps(_mm256_castps256_ps128(acc[t]), _mm256_extractf128_ps(acc[t], 1)));
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

void gemm_q4_0x4_avx2(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                      size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride) {
  gemm_groups<block_q4_0x4, q4_tile>(n, n_groups, n_tokens, w, act, act_row_bytes, info, y, y_stride);
}

void gemm_q8_0x4_avx2(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                      size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride) {
  gemm_groups<block_q8_0x4, q8_tile>(n, n_groups, n_tokens, w, act, act_row_bytes, info, y, y_stride);
}

}  // namespace pocketlm::kernels::x86
