// NEON head-group attention kernel (see kernels/attention.h), armv8-a baseline: each cached K/V
// row slice is decoded to f32 once per position into an L1 buffer (FCVTL for f16), then dotted
// with every query head of the group / accumulated into every head's acc with FMLA. q8_0 rows
// need whole blocks (offset and head_dim multiples of 32); others go to the reference.
#include <arm_neon.h>

#include <vector>

#include "kernels/attention_group.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels::arm {

namespace {

// out[0, n) = f16 elements [off, off + n) of row.
void decode_f16(const uint8_t* row, int64_t off, int64_t n, float* out) {
  const auto* h = reinterpret_cast<const fp16_t*>(row) + off;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float16x8_t x = vreinterpretq_f16_u16(vld1q_u16(h + i));
    vst1q_f32(out + i, vcvt_f32_f16(vget_low_f16(x)));
    vst1q_f32(out + i + 4, vcvt_high_f32_f16(x));
  }
  for (; i < n; ++i) out[i] = fp16_to_f32(h[i]);
}

// out[0, n) = d * q of the q8_0 blocks covering [off, off + n); off and n multiples of 32.
void decode_q8_0(const uint8_t* row, int64_t off, int64_t n, float* out) {
  const auto* b = reinterpret_cast<const block_q8_0*>(row) + off / qk8_0;
  for (int64_t j = 0; j < n / qk8_0; ++j) {
    const float32x4_t d = vdupq_n_f32(fp16_to_f32(b[j].d));
    for (int k = 0; k < qk8_0; k += 8) {
      const int16x8_t q = vmovl_s8(vld1_s8(b[j].qs + k));
      float* o = out + j * qk8_0 + k;
      vst1q_f32(o, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(q))), d));
      vst1q_f32(o + 4, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(q)), d));
    }
  }
}

float dot(const float* a, const float* b, int64_t n) {
  float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
  }
  for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
  float s = vaddvq_f32(vaddq_f32(s0, s1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// acc[0, n) = acc * scale + x * w (the multiply skipped when scale is 1).
void scale_add(float* acc, float scale, const float* x, float w, int64_t n) {
  int64_t i = 0;
  if (scale == 1.0f) {
    for (; i + 4 <= n; i += 4) vst1q_f32(acc + i, vfmaq_n_f32(vld1q_f32(acc + i), vld1q_f32(x + i), w));
  } else {
    for (; i + 4 <= n; i += 4) {
      const float32x4_t a = vmulq_n_f32(vld1q_f32(acc + i), scale);
      vst1q_f32(acc + i, vfmaq_n_f32(a, vld1q_f32(x + i), w));
    }
  }
  for (; i < n; ++i) acc[i] = acc[i] * scale + x[i] * w;
}

}  // namespace

void attend_group_neon(const head_group_args& a) { attend_group_with<decode_f16, decode_q8_0, dot, scale_add>(a); }

}  // namespace pocketlm::kernels::arm
