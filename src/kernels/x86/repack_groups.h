// The loop the x86 repacked gemm kernels share (see kernels/repack.h): every group of four
// weight rows against blocks of up to four activation rows. Each level instantiates it with its
// own tile kernels in its own translation unit, so it is compiled for that level only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/repack.h"

namespace pocketlm::kernels::x86 {

// Tile<NT>::run(nb, records of one group, act, act_row_bytes, info, out, y_stride) handles
// NT activation rows; Tile<4> is the full register block, the last block may be shorter.
template <class Record, template <int> class Tile>
void gemm_groups(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act, size_t act_row_bytes,
                 const act_block_info* info, float* y, size_t y_stride) {
  constexpr int k_block = 4;
  const int64_t nb = n / qk8_0;
  const auto* recs = reinterpret_cast<const Record*>(w);
  for (int64_t g = 0; g < n_groups; ++g) {
    for (int t0 = 0; t0 < n_tokens; t0 += k_block) {
      const uint8_t* a = act + t0 * act_row_bytes;
      const act_block_info* in = info + t0 * nb;
      float* out = y + t0 * y_stride + g * 4;
      switch (n_tokens - t0) {
        case 1: Tile<1>::run(nb, recs + g * nb, a, act_row_bytes, in, out, y_stride); break;
        case 2: Tile<2>::run(nb, recs + g * nb, a, act_row_bytes, in, out, y_stride); break;
        case 3: Tile<3>::run(nb, recs + g * nb, a, act_row_bytes, in, out, y_stride); break;
        default: Tile<k_block>::run(nb, recs + g * nb, a, act_row_bytes, in, out, y_stride); break;
      }
    }
  }
}

}  // namespace pocketlm::kernels::x86
