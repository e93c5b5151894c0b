// The head-group loop the SIMD attention kernels share (see attention.h): per cached position,
// decode the K row slice once, score it against every query head of the group, fold the scores
// into each head's online softmax, then decode the V slice once and accumulate it into every
// head. Each level instantiates it in its own translation unit with its own row primitives, so
// the code is compiled for that level only.
#pragma once

#include <vector>

#include "kernels/attention.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels {

// decode(row, offset, n, out): n values of a cached row from element `offset` to f32.
// dot(a, b, n) -> float. scale_add(acc, scale, x, w, n): acc = acc * scale + x * w.
template <auto decode_f16, auto decode_q8_0, auto dot, auto scale_add>
void attend_group_with(const head_group_args& a) {
  const bool q8 = a.kv.format == kv_format::q8_0;
  if (q8 && (a.offset % qk8_0 != 0 || a.head_dim % qk8_0 != 0)) return attend_group_ref(a);
  const int64_t hd = a.head_dim;
  thread_local std::vector<float> row, scales, weights;
  row.resize(static_cast<size_t>(hd));
  scales.resize(static_cast<size_t>(a.group));
  weights.resize(static_cast<size_t>(a.group));
  const auto decode = q8 ? decode_q8_0 : decode_f16;
  for (int64_t p = a.p0; p < a.p1; ++p) {
    decode(a.kv.k + p * a.kv.row_bytes, a.offset, hd, row.data());
    for (int g = 0; g < a.group; ++g) {
      const float score = attention_score(dot(a.q + g * hd, row.data(), hd), a.scale, a.softcap);
      online_softmax_step(score, a.m[g], a.s[g], scales[g], weights[g]);
    }
    decode(a.kv.v + p * a.kv.row_bytes, a.offset, hd, row.data());
    for (int g = 0; g < a.group; ++g) {
      scale_add(a.acc + g * hd, scales[g], row.data(), weights[g], hd);
    }
  }
}

}  // namespace pocketlm::kernels
