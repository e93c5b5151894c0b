// AVX2 activation converters (from_float) for q8_0, q8_1, q8_K, f16 and bf16. They must write
// the same bytes as the reference converters (tensor/quant.cpp, quant_k.cpp, fp16.h) for every
// input, non-finite ones included, so each step mirrors the scalar one: the same float
// operations in the same order, the same rounding (q8_0/q8_1: round half away from zero, then
// truncation with cvttss2si semantics; q8_K: the 1.5 * 2^23 bias trick of nearest_int), and
// int8 results taken as the low byte of the int32, as the scalar casts do. Products go through
// rounded() so that no FMA contraction skips their float rounding.
#include <cstring>

#include "kernels/dispatch.h"
#include "kernels/x86/avx2_blocks.h"
#include "tensor/fp16.h"

namespace pocketlm::kernels::x86 {

namespace {

// A function, not a namespace-scope constant: static initializers run before dispatch checks
// the CPU, so this file must not execute AVX code outside the installed kernels.
inline __m256 abs_mask() { return _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)); }

// max(|x|) over 8n floats, ignoring NaNs as std::max(amax, fabs(x)) does: vmaxps returns its
// second operand when either is NaN, so the running max goes second.
float abs_max(const float* x, int n8) {
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < n8; ++i) {
    m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + 8 * i), abs_mask()), m);
  }
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

// Low bytes of four vectors of 8 int32 (elements 0-7, 8-15, 16-23, 24-31), in element order.
__m256i low_bytes(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i m = _mm256_set1_epi32(0xff);
  const __m256i ab = _mm256_packus_epi32(_mm256_and_si256(a, m), _mm256_and_si256(b, m));
  const __m256i cd = _mm256_packus_epi32(_mm256_and_si256(c, m), _mm256_and_si256(d, m));
  // packus interleaves 128-bit lanes: bytes come out as a0 b0 c0 d0 a1 b1 c1 d1 (4 each).
  const __m256i bytes = _mm256_packus_epi16(ab, cd);
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// trunc_to_int(std::round(v)): round half away from zero (v - trunc(v) is exact), then the
// truncating conversion, whose out-of-range / NaN result INT_MIN matches trunc_to_int.
__m256i round_away_to_int(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_and_ps(_mm256_sub_ps(v, t), abs_mask());
  const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_andnot_ps(abs_mask(), v));
  const __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), one);
  return _mm256_cvttps_epi32(_mm256_add_ps(t, step));
}

// One 32-element block: d = amax / 127, qs = round(x / d). Returns the unrounded d.
float quantize_block_8bit(const float* x, fp16_t& d_out, int8_t* qs) {
  const float d = abs_max(x, 4) / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  d_out = f32_to_fp16(d);
  const __m256 vid = _mm256_set1_ps(id);
  __m256i q[4];
  for (int k = 0; k < 4; ++k) {
    q[k] = round_away_to_int(rounded(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid)));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), low_bytes(q[0], q[1], q[2], q[3]));
  return d;
}

void from_float_q8_0_avx2(const float* x, void* act_row, int64_t n) {
  auto* y = static_cast<block_q8_0*>(act_row);
  for (int64_t b = 0; b < n / qk8_0; ++b) quantize_block_8bit(x + b * qk8_0, y[b].d, y[b].qs);
}

// q8_1 also stores s = d * sum(qs), with the f32 d before its fp16 rounding.
void from_float_q8_1_avx2(const float* x, void* act_row, int64_t n) {
  auto* y = static_cast<block_q8_1*>(act_row);
  for (int64_t b = 0; b < n / qk8_1; ++b) {
    const float d = quantize_block_8bit(x + b * qk8_1, y[b].d, y[b].qs);
    const int32_t sum = hsum_epi32(dot_u8_s8(_mm256_set1_epi8(1), load_256(y[b].qs)));
    y[b].s = f32_to_fp16(static_cast<float>(sum) * d);
  }
}

// The signed value of largest magnitude, the first one in order on ties (as the scalar scan's
// strict > keeps).
float signed_abs_max(const float* x, float amax) {
  const __m256 target = _mm256_set1_ps(amax);
  for (int i = 0; i < qk_k; i += 8) {
    const __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask());
    const int hits = _mm256_movemask_ps(_mm256_cmp_ps(a, target, _CMP_EQ_OQ));
    if (hits != 0) return x[i + __builtin_ctz(static_cast<unsigned>(hits))];
  }
  return 0.0f;
}

// bsums[g] = sum of qs[16g .. 16g+15] for the 16 groups of a q8_K block.
void q8_k_bsums(const int8_t* qs, int16_t* bsums) {
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256i sums[2];
  for (int half = 0; half < 2; ++half) {
    __m256i quads[4];  // 8 sums of 4 bytes per 32-byte vector
    for (int v = 0; v < 4; ++v) {
      quads[v] = dot_u8_s8(_mm256_set1_epi8(1), load_256(qs + 128 * half + 32 * v));
    }
    // Two rounds of pairwise adds within 128-bit lanes leave groups in the order 0 2 4 6 1 3 5 7.
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(quads[0], quads[1]), _mm256_hadd_epi32(quads[2], quads[3]));
    sums[half] = _mm256_permutevar8x32_epi32(h, order);
  }
  const __m256i packed = _mm256_packs_epi32(sums[0], sums[1]);  // |sum| <= 2048
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(bsums), _mm256_permute4x64_epi64(packed, _MM_SHUFFLE(3, 1, 2, 0)));
}

// nearest_int(v) = bits(v + 1.5 * 2^23) & 0x7fffff - 0x400000, then min(127, .).
__m256i nearest_int_max127(__m256 v) {
  const __m256i bits = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.0f)));
  const __m256i i = _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff)), _mm256_set1_epi32(0x400000));
  return _mm256_min_epi32(i, _mm256_set1_epi32(127));
}

void from_float_q8_k_avx2(const float* x, void* act_row, int64_t n) {
  auto* y = static_cast<block_q8_k*>(act_row);
  for (int64_t b = 0; b < n / qk_k; ++b, x += qk_k) {
    std::memset(&y[b], 0, sizeof(y[b]));
    const float amax = abs_max(x, qk_k / 8);
    if (amax == 0.0f) continue;
    const float iscale = -127.0f / signed_abs_max(x, amax);
    const __m256 vis = _mm256_set1_ps(iscale);
    for (int j = 0; j < qk_k; j += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        q[k] = nearest_int_max127(rounded(_mm256_mul_ps(vis, _mm256_loadu_ps(x + j + 8 * k))));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs + j), low_bytes(q[0], q[1], q[2], q[3]));
    }
    q8_k_bsums(y[b].qs, y[b].bsums);
    y[b].d = 1.0f / iscale;
  }
}

// f16: vcvtps2ph rounds to nearest even exactly as f32_to_fp16, overflow and subnormals
// included; only NaNs differ (it keeps payload bits), so NaN lanes become sign | 0x7e00.
__m128i f32x8_to_fp16(__m256 x) {
  const __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256i nan32 = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  const __m128i nan16 = _mm_packs_epi32(_mm256_castsi256_si128(nan32), _mm256_extracti128_si256(nan32, 1));
  const __m128i quiet =
      _mm_or_si128(_mm_and_si128(h, _mm_set1_epi16(static_cast<int16_t>(0x8000))), _mm_set1_epi16(0x7e00));
  return _mm_blendv_epi8(h, quiet, nan16);
}

void from_float_f16_avx2(const float* x, void* act_row, int64_t n) {
  auto* y = static_cast<fp16_t*>(act_row);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), f32x8_to_fp16(_mm256_loadu_ps(x + i)));
  }
  for (; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}

// bf16: f32_to_bf16 in 32-bit integer lanes (round to nearest even by adding 0x7fff plus the
// kept low bit; NaN: the top half with the quiet bit set).
__m128i f32x8_to_bf16(__m256 x) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded_up = _mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff)));
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  const __m256i nan_bits = _mm256_or_si256(u, _mm256_set1_epi32(64 << 16));
  const __m256i top = _mm256_srli_epi32(_mm256_blendv_epi8(rounded_up, nan_bits, nan), 16);
  const __m256i packed = _mm256_packus_epi32(top, top);  // lanes hold 0..0xffff: no saturation
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, _MM_SHUFFLE(3, 1, 2, 0)));
}

void from_float_bf16_avx2(const float* x, void* act_row, int64_t n) {
  auto* y = static_cast<bf16_t*>(act_row);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), f32x8_to_bf16(_mm256_loadu_ps(x + i)));
  }
  for (; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

void set_from_float(kernel_table& t, ggml_type type, from_float_fn f) { t[static_cast<size_t>(type)].from_float = f; }

}  // namespace

void install_quant_avx2(kernel_table& t) {
  for (ggml_type w : {ggml_type::q4_0, ggml_type::q5_0, ggml_type::q8_0}) {
    set_from_float(t, w, from_float_q8_0_avx2);
  }
  for (ggml_type w : {ggml_type::q4_1, ggml_type::q5_1}) set_from_float(t, w, from_float_q8_1_avx2);
  for (ggml_type w : {ggml_type::q4_k, ggml_type::q5_k, ggml_type::q6_k}) {
    set_from_float(t, w, from_float_q8_k_avx2);
  }
  set_from_float(t, ggml_type::f16, from_float_f16_avx2);
  set_from_float(t, ggml_type::bf16, from_float_bf16_avx2);
}

}  // namespace pocketlm::kernels::x86
