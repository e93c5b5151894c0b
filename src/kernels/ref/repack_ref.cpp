// Scalar references of the repacked gemms (kernels/repack.h): the same integer block sums and
// float steps as the plain layout's reference dots, which the SIMD levels are held to.
#include "kernels/repack.h"

namespace pocketlm::kernels {

namespace ref {

void gemm_q4_0x4_ref(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                     size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride) {
  const int64_t nb = n / qk4_0;
  const auto* recs = reinterpret_cast<const block_q4_0x4*>(w);
  for (int64_t g = 0; g < n_groups; ++g) {
    for (int t = 0; t < n_tokens; ++t) {
      const auto* a = reinterpret_cast<const block_q8_0*>(act + t * act_row_bytes);
      for (int i = 0; i < k_group; ++i) {
        float sum = 0.0f;
        for (int64_t b = 0; b < nb; ++b) {
          const block_q4_0x4& rec = recs[g * nb + b];
          int32_t sumi = 0;
          for (int j = 0; j < qk4_0 / 2; ++j) {
            const uint8_t q = rec.qs[i * (qk4_0 / 2) + j];
            sumi += ((q & 0x0F) - 8) * a[b].qs[j] + ((q >> 4) - 8) * a[b].qs[j + qk4_0 / 2];
          }
          sum += static_cast<float>(sumi) * fp16_to_f32(rec.d[i]) * info[t * nb + b].d;
        }
        y[t * y_stride + static_cast<size_t>(g * k_group + i)] = sum;
      }
    }
  }
}

void gemm_q8_0x4_ref(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                     size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride) {
  const int64_t nb = n / qk8_0;
  const auto* recs = reinterpret_cast<const block_q8_0x4*>(w);
  for (int64_t g = 0; g < n_groups; ++g) {
    for (int t = 0; t < n_tokens; ++t) {
      const auto* a = reinterpret_cast<const block_q8_0*>(act + t * act_row_bytes);
      for (int i = 0; i < k_group; ++i) {
        float sum = 0.0f;
        for (int64_t b = 0; b < nb; ++b) {
          const block_q8_0x4& rec = recs[g * nb + b];
          int32_t sumi = 0;
          for (int j = 0; j < qk8_0; ++j) {
            sumi += (static_cast<int32_t>(rec.qs[i * qk8_0 + j]) - 128) * a[b].qs[j];
          }
          sum += static_cast<float>(sumi) * (fp16_to_f32(rec.d[i]) * info[t * nb + b].d);
        }
        y[t * y_stride + static_cast<size_t>(g * k_group + i)] = sum;
      }
    }
  }
}

}  // namespace ref

}  // namespace pocketlm::kernels
