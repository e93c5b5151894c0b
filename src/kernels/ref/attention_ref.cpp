// Scalar reference of attention's head-group kernel (kernels/attention.h), which every SIMD
// level is held to.
#include <vector>

#include "kernels/attention.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels {

namespace {

// out[0, n) = elements [off, off + n) of a cached row, as f32 (q8_0: d * q, as dequantize does).
void decode_slice(kv_format f, const uint8_t* row, int64_t off, int64_t n, float* out) {
  if (f == kv_format::f16) {
    const auto* h = reinterpret_cast<const fp16_t*>(row) + off;
    for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_f32(h[i]);
    return;
  }
  const auto* b = reinterpret_cast<const block_q8_0*>(row);
  for (int64_t i = 0; i < n; ++i) {
    const block_q8_0& blk = b[(off + i) / qk8_0];
    out[i] = fp16_to_f32(blk.d) * static_cast<float>(blk.qs[(off + i) % qk8_0]);
  }
}

}  // namespace

void attend_group_ref(const head_group_args& a) {
  const int64_t hd = a.head_dim;
  std::vector<float> row(static_cast<size_t>(hd)), vw(static_cast<size_t>(a.group));
  for (int64_t p = a.p0; p < a.p1; ++p) {
    decode_slice(a.kv.format, a.kv.k + p * a.kv.row_bytes, a.offset, hd, row.data());
    for (int g = 0; g < a.group; ++g) {
      const float* q = a.q + g * hd;
      double dot = 0.0;
      for (int64_t i = 0; i < hd; ++i) dot += static_cast<double>(q[i] * row[i]);
      float acc_scale = 1.0f;
      online_softmax_step(attention_score(static_cast<float>(dot), a.scale, a.softcap), a.m[g], a.s[g], acc_scale,
                          vw[g]);
      if (acc_scale != 1.0f) {
        for (int64_t i = 0; i < hd; ++i) a.acc[g * hd + i] *= acc_scale;
      }
    }
    decode_slice(a.kv.format, a.kv.v + p * a.kv.row_bytes, a.offset, hd, row.data());
    for (int g = 0; g < a.group; ++g) {
      float* acc = a.acc + g * hd;
      for (int64_t i = 0; i < hd; ++i) acc[i] += row[i] * vw[g];
    }
  }
}

}  // namespace pocketlm::kernels
