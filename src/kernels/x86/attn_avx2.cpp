// AVX2 + FMA + F16C head-group attention kernel (see kernels/attention.h): each cached K/V row
// slice is decoded to f32 once per position into an L1 buffer, then dotted with every query
// head of the group / accumulated into every head's acc with FMAs. q8_0 rows need the head's
// slice to be whole blocks (offset and head_dim multiples of 32); others go to the reference.
#include <immintrin.h>

#include <vector>

#include "kernels/attention_group.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels::x86 {

namespace {

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// out[0, n) = f16 elements [off, off + n) of row.
void decode_f16(const uint8_t* row, int64_t off, int64_t n, float* out) {
  const auto* h = reinterpret_cast<const fp16_t*>(row) + off;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
  }
  for (; i < n; ++i) out[i] = _cvtsh_ss(h[i]);
}

// out[0, n) = d * q of the q8_0 blocks covering [off, off + n); off and n multiples of 32.
void decode_q8_0(const uint8_t* row, int64_t off, int64_t n, float* out) {
  const auto* b = reinterpret_cast<const block_q8_0*>(row) + off / qk8_0;
  for (int64_t j = 0; j < n / qk8_0; ++j) {
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(b[j].d));
    for (int k = 0; k < qk8_0; k += 8) {
      const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b[j].qs + k));
      const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
      _mm256_storeu_ps(out + j * qk8_0 + k, _mm256_mul_ps(q, d));
    }
  }
}

float dot(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// acc[0, n) = acc * scale + x * w (either term skipped when it is a no-op).
void scale_add(float* acc, float scale, const float* x, float w, int64_t n) {
  const __m256 vs = _mm256_set1_ps(scale), vw = _mm256_set1_ps(w);
  int64_t i = 0;
  if (scale == 1.0f) {
    for (; i + 8 <= n; i += 8) {
      _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), vw, _mm256_loadu_ps(acc + i)));
    }
  } else {
    for (; i + 8 <= n; i += 8) {
      const __m256 a = _mm256_mul_ps(_mm256_loadu_ps(acc + i), vs);
      _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), vw, a));
    }
  }
  for (; i < n; ++i) acc[i] = acc[i] * scale + x[i] * w;
}

}  // namespace

void attend_group_avx2(const head_group_args& a) { attend_group_with<decode_f16, decode_q8_0, dot, scale_add>(a); }

}  // namespace pocketlm::kernels::x86
