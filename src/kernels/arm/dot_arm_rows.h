// Turns a row kernel (dot_arm_impl.h: run<T>, one weight row against T activation rows) into
// the kernel table's vec_dot_fn (T = 1) and gemm_fn (tokens in groups of 4). Internal linkage,
// included by the per-level translation units of src/kernels/arm/.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/arm/dot_arm.h"

namespace pocketlm::kernels::arm {
namespace {

template <typename K>
void row_dot(int64_t n, float* out, const void* w_row, const void* act_row) {
  K::template run<1>(n, static_cast<const uint8_t*>(w_row), static_cast<const uint8_t*>(act_row), 0, out);
}

constexpr int k_tile_tokens = 4;

// Token groups of 4 (then the 1-3 left) outermost, so a group's activation rows stay in L1
// while every weight row of the tile is decoded once and dotted with all of them.
template <typename K>
void row_gemm(int64_t n, int n_rows, int n_tokens, const uint8_t* w, size_t w_row_bytes, const uint8_t* act,
              size_t act_row_bytes, float* y, size_t y_stride) {
  for (int t0 = 0; t0 < n_tokens; t0 += k_tile_tokens) {
    const int nt = n_tokens - t0 < k_tile_tokens ? n_tokens - t0 : k_tile_tokens;
    const uint8_t* a = act + static_cast<size_t>(t0) * act_row_bytes;
    for (int r = 0; r < n_rows; ++r) {
      const uint8_t* wr = w + static_cast<size_t>(r) * w_row_bytes;
      float res[k_tile_tokens];
      switch (nt) {
        case 4: K::template run<4>(n, wr, a, act_row_bytes, res); break;
        case 3: K::template run<3>(n, wr, a, act_row_bytes, res); break;
        case 2: K::template run<2>(n, wr, a, act_row_bytes, res); break;
        default: K::template run<1>(n, wr, a, act_row_bytes, res); break;
      }
      for (int t = 0; t < nt; ++t) y[static_cast<size_t>(t0 + t) * y_stride + r] = res[t];
    }
  }
}

// Tiles of up to 4 weight rows x 4 tokens, tokens outermost so a group's activation rows stay
// in L1 while every weight row of the tile range is used with all of them. The tile kernel
//   static void tile(int64_t n, int n_rows, int n_tokens, const uint8_t* const* w,
//                    const uint8_t* const* a, size_t act_stride, float (*out)[4]);
// gets 4 row and 4 token pointers (past the counts they repeat the last real one, whose
// results are discarded), the token rows also as a[0] + t * act_stride for t < n_tokens, and
// writes out[t][r].
template <typename Tiles>
void tile_gemm(int64_t n, int n_rows, int n_tokens, const uint8_t* w, size_t w_row_bytes, const uint8_t* act,
               size_t act_row_bytes, float* y, size_t y_stride) {
  for (int t0 = 0; t0 < n_tokens; t0 += 4) {
    const int nt = n_tokens - t0 < 4 ? n_tokens - t0 : 4;
    const uint8_t* a[4];
    for (int j = 0; j < 4; ++j) {
      a[j] = act + static_cast<size_t>(t0 + (j < nt ? j : nt - 1)) * act_row_bytes;
    }
    for (int r0 = 0; r0 < n_rows; r0 += 4) {
      const int nr = n_rows - r0 < 4 ? n_rows - r0 : 4;
      const uint8_t* wr[4];
      for (int i = 0; i < 4; ++i) {
        wr[i] = w + static_cast<size_t>(r0 + (i < nr ? i : nr - 1)) * w_row_bytes;
      }
      float out[4][4];
      Tiles::tile(n, nr, nt, wr, a, act_row_bytes, out);
      for (int t = 0; t < nt; ++t) {
        for (int r = 0; r < nr; ++r) y[static_cast<size_t>(t0 + t) * y_stride + r0 + r] = out[t][r];
      }
    }
  }
}

// A kernel list entry with both the row dot and the gemm tile of K.
template <typename K>
constexpr arm_kernel both(ggml_type weight) {
  return arm_kernel{weight, row_dot<K>, row_gemm<K>};
}

// A kernel list entry with the row dot of K and the tile gemm of Tiles.
template <typename K, typename Tiles>
constexpr arm_kernel dot_and_tiles(ggml_type weight) {
  return arm_kernel{weight, row_dot<K>, tile_gemm<Tiles>};
}

}  // namespace
}  // namespace pocketlm::kernels::arm
