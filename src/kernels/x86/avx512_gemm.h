// The tile driver of the AVX-512 level: turns a register-blocked tile kernel into a gemm_fn and
// a vec_dot_fn. `Tiles` provides rows / tokens (the register block, R weight rows x T activation
// rows) and `template <int R, int T> static void tile(n, w[R], a[T], res[R * T])`, which writes
// res[r * T + t] = dot(w[r], a[t]) and computes every (r, t) pair with the same operations in
// the same order whatever R and T are. The row dot is the 1 x 1 tile, so gemm and vec_dot agree
// bit for bit. Include only from x86/*avx512*.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pocketlm::kernels::x86::avx512 {

struct gemm_args {
  int64_t n;
  int n_rows;
  int n_tokens;
  const uint8_t* w;
  size_t w_row_bytes;
  const uint8_t* act;
  size_t act_row_bytes;
  float* y;
  size_t y_stride;
};

template <class Tiles, int R, int T>
void run_tile(const gemm_args& g, int r0, int t0) {
  const uint8_t* w[R];
  const uint8_t* a[T];
  float res[R * T];
  for (int r = 0; r < R; ++r) w[r] = g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes;
  for (int t = 0; t < T; ++t) a[t] = g.act + static_cast<size_t>(t0 + t) * g.act_row_bytes;
  Tiles::template tile<R, T>(g.n, w, a, res);
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) g.y[static_cast<size_t>(t0 + t) * g.y_stride + r0 + r] = res[r * T + t];
  }
}

// Tokens [t0, n_tokens) of rows [r0, r0 + R): tiles of T tokens, the remainder with fewer.
template <class Tiles, int R, int T>
void run_tokens(const gemm_args& g, int r0, int t0) {
  int t = t0;
  for (; t + T <= g.n_tokens; t += T) run_tile<Tiles, R, T>(g, r0, t);
  if constexpr (T > 1) {
    if (t < g.n_tokens) run_tokens<Tiles, R, T - 1>(g, r0, t);
  }
}

template <class Tiles>
void gemm(int64_t n, int n_rows, int n_tokens, const uint8_t* w, size_t w_row_bytes, const uint8_t* act,
          size_t act_row_bytes, float* y, size_t y_stride) {
  const gemm_args g{n, n_rows, n_tokens, w, w_row_bytes, act, act_row_bytes, y, y_stride};
  int r = 0;
  for (; r + Tiles::rows <= n_rows; r += Tiles::rows) run_tokens<Tiles, Tiles::rows, Tiles::tokens>(g, r, 0);
  for (; r < n_rows; ++r) run_tokens<Tiles, 1, Tiles::tokens>(g, r, 0);
}

template <class Tiles>
void vec_dot(int64_t n, float* out, const void* w_row, const void* act_row) {
  const uint8_t* w[1] = {static_cast<const uint8_t*>(w_row)};
  const uint8_t* a[1] = {static_cast<const uint8_t*>(act_row)};
  Tiles::template tile<1, 1>(n, w, a, out);
}

}  // namespace pocketlm::kernels::x86::avx512
