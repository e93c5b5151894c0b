// AVX-512F head-group attention kernel (see kernels/attention.h): the AVX2 kernel's scheme at
// 16 floats a step. Each cached K/V row slice is decoded to f32 once per position into an L1
// buffer, then dotted with every query head of the group / accumulated into every head's acc.
// q8_0 rows need whole blocks (offset and head_dim multiples of 32); others go to the reference.
// GCC 12 warns inside its own AVX-512 headers (their _mm512_undefined_* idiom, GCC PR105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <vector>

#include "kernels/attention_group.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels::x86 {

namespace {

// out[0, n) = f16 elements [off, off + n) of row.
void decode_f16(const uint8_t* row, int64_t off, int64_t n, float* out) {
  const auto* h = reinterpret_cast<const fp16_t*>(row) + off;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i));
    _mm512_storeu_ps(out + i, _mm512_cvtph_ps(x));
  }
  for (; i < n; ++i) out[i] = _cvtsh_ss(h[i]);
}

// out[0, n) = d * q of the q8_0 blocks covering [off, off + n); off and n multiples of 32.
void decode_q8_0(const uint8_t* row, int64_t off, int64_t n, float* out) {
  const auto* b = reinterpret_cast<const block_q8_0*>(row) + off / qk8_0;
  for (int64_t j = 0; j < n / qk8_0; ++j) {
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[j].d));
    for (int k = 0; k < qk8_0; k += 16) {
      const __m128i q8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[j].qs + k));
      const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8));
      _mm512_storeu_ps(out + j * qk8_0 + k, _mm512_mul_ps(q, d));
    }
  }
}

float dot(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// acc[0, n) = acc * scale + x * w (the multiply skipped when scale is 1).
void scale_add(float* acc, float scale, const float* x, float w, int64_t n) {
  const __m512 vs = _mm512_set1_ps(scale), vw = _mm512_set1_ps(w);
  int64_t i = 0;
  if (scale == 1.0f) {
    for (; i + 16 <= n; i += 16) {
      _mm512_storeu_ps(acc + i, _mm512_fmadd_ps(_mm512_loadu_ps(x + i), vw, _mm512_loadu_ps(acc + i)));
    }
  } else {
    for (; i + 16 <= n; i += 16) {
      const __m512 a = _mm512_mul_ps(_mm512_loadu_ps(acc + i), vs);
      _mm512_storeu_ps(acc + i, _mm512_fmadd_ps(_mm512_loadu_ps(x + i), vw, a));
    }
  }
  for (; i < n; ++i) acc[i] = acc[i] * scale + x[i] * w;
}

}  // namespace

void attend_group_avx512(const head_group_args& a) { attend_group_with<decode_f16, decode_q8_0, dot, scale_add>(a); }

}  // namespace pocketlm::kernels::x86
