// AVX2 multi-token tiles (kernels::gemm_fn) for prefill. Register blocks of 2 weight rows x 4
// activation rows (tokens) for the 32-element and float formats, 1 x 4 for the K-quants: each
// weight block is decoded once for 4 tokens and each activation block prepared once for 2 rows,
// while the 4 activation rows stay in L1/L2 across the tile's weight rows. The integer sums are
// those of the row dots (avx2_blocks.h); results agree with vec_dot up to float accumulation
// order. Measured on the dev machine (one 64 x 64 tile, n = 4096, one thread): q4_K/q6_K ~110
// GFLOP/s, close to the AVX2 bound of two maddubs/madd uops per 32 int8 products.
#include <algorithm>

#include "kernels/dispatch.h"
#include "kernels/x86/avx2_blocks.h"

namespace pocketlm::kernels::x86 {

namespace {

constexpr int k_max_tokens = 4;

// Each row kernel: res[r * T + t] = dot(weight row r, activation row t) for r < R, t < T, rows
// w_row_bytes / act_row_bytes apart. max_rows is the largest R it blocks.
template <class K>
struct row32 {
  static constexpr int max_rows = 2;
  template <int R, int T>
  static void run(int64_t n, const uint8_t* w, size_t w_row_bytes, const uint8_t* act, size_t act_row_bytes,
                  float* res) {
    const typename K::w_block* wr[R];
    const typename K::a_block* a[T];
    __m256 acc[R * T];
    float mins[R * T];
    for (int r = 0; r < R; ++r) {
      wr[r] = reinterpret_cast<const typename K::w_block*>(w + r * w_row_bytes);
    }
    for (int t = 0; t < T; ++t) {
      a[t] = reinterpret_cast<const typename K::a_block*>(act + t * act_row_bytes);
    }
    for (int i = 0; i < R * T; ++i) {
      acc[i] = _mm256_setzero_ps();
      mins[i] = 0.0f;
    }
    for (int64_t b = 0; b < n / 32; ++b) block32_step<K, R, T>(wr, a, b, acc, mins);
    for (int i = 0; i < R * T; ++i) res[i] = hsum_ps(acc[i]) + mins[i];
  }
};

// K-quants stay at one row: the int32 lanes of 4 tokens already fill the registers.
template <class K>
struct row_k {
  static constexpr int max_rows = 1;
  template <int R, int T>
  static void run(int64_t n, const uint8_t* w, size_t, const uint8_t* act, size_t act_row_bytes, float* res) {
    static_assert(R == 1);
    const auto* wb = reinterpret_cast<const typename K::w_block*>(w);
    const block_q8_k* a[T];
    __m256 acc[T];
    for (int t = 0; t < T; ++t) {
      a[t] = reinterpret_cast<const block_q8_k*>(act + t * act_row_bytes);
      acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < n / qk_k; ++b) k_step<K, T>(wb[b], a, b, acc);
    for (int t = 0; t < T; ++t) res[t] = hsum_ps(acc[t]);
  }
};

// Float rows: one accumulator per (row, token), R * T FMA chains in flight; each activation
// load serves R rows, each weight load T tokens.
template <class L>
struct row_float {
  using elem = typename L::elem;
  static constexpr int max_rows = 2;
  template <int R, int T>
  static void run(int64_t n, const uint8_t* w_bytes, size_t w_row_bytes, const uint8_t* act, size_t act_row_bytes,
                  float* res) {
    const elem* w[R];
    const elem* a[T];
    __m256 acc[R * T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const elem*>(w_bytes + r * w_row_bytes);
    for (int t = 0; t < T; ++t) a[t] = reinterpret_cast<const elem*>(act + t * act_row_bytes);
    for (int i = 0; i < R * T; ++i) acc[i] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      __m256 wv[R];
      for (int r = 0; r < R; ++r) wv[r] = L::load(w[r] + i);
      for (int t = 0; t < T; ++t) {
        const __m256 av = L::load(a[t] + i);
        for (int r = 0; r < R; ++r) acc[r * T + t] = _mm256_fmadd_ps(wv[r], av, acc[r * T + t]);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) {
        float sum = hsum_ps(acc[r * T + t]);
        for (int64_t j = i; j < n; ++j) sum += L::scalar(w[r] + j) * L::scalar(a[t] + j);
        res[r * T + t] = sum;
      }
    }
  }
};

template <class Row, int R>
void run_rows(int nt, int64_t n, const uint8_t* w, size_t w_row_bytes, const uint8_t* act, size_t act_row_bytes,
              float* res) {
  switch (nt) {
    case 4: Row::template run<R, 4>(n, w, w_row_bytes, act, act_row_bytes, res); break;
    case 3: Row::template run<R, 3>(n, w, w_row_bytes, act, act_row_bytes, res); break;
    case 2: Row::template run<R, 2>(n, w, w_row_bytes, act, act_row_bytes, res); break;
    default: Row::template run<R, 1>(n, w, w_row_bytes, act, act_row_bytes, res); break;
  }
}

// Token groups of 4 (then the 1-3 left) outermost, so the group's activation rows are reused
// by every weight row of the tile; rows in blocks of Row::max_rows (then the one left).
template <class Row>
void gemm_tile(int64_t n, int n_rows, int n_tokens, const uint8_t* w, size_t w_row_bytes, const uint8_t* act,
               size_t act_row_bytes, float* y, size_t y_stride) {
  for (int t0 = 0; t0 < n_tokens; t0 += k_max_tokens) {
    const int nt = std::min(k_max_tokens, n_tokens - t0);
    const uint8_t* a = act + static_cast<size_t>(t0) * act_row_bytes;
    for (int r0 = 0; r0 < n_rows; r0 += Row::max_rows) {
      const int nr = std::min(Row::max_rows, n_rows - r0);
      const uint8_t* wr = w + static_cast<size_t>(r0) * w_row_bytes;
      float res[2 * k_max_tokens];
      if constexpr (Row::max_rows == 2) {
        if (nr == 2) run_rows<Row, 2>(nt, n, wr, w_row_bytes, a, act_row_bytes, res);
      }
      if (nr == 1) run_rows<Row, 1>(nt, n, wr, w_row_bytes, a, act_row_bytes, res);
      for (int r = 0; r < nr; ++r) {
        for (int t = 0; t < nt; ++t) {
          y[static_cast<size_t>(t0 + t) * y_stride + r0 + r] = res[r * nt + t];
        }
      }
    }
  }
}

void set_gemm(kernel_table& t, ggml_type type, gemm_fn gemm) { t[static_cast<size_t>(type)].gemm = gemm; }

}  // namespace

void install_gemm_avx2(kernel_table& t) {
  set_gemm(t, ggml_type::q4_0, gemm_tile<row32<q4_0_kernel>>);
  set_gemm(t, ggml_type::q8_0, gemm_tile<row32<q8_0_kernel>>);
  set_gemm(t, ggml_type::q4_k, gemm_tile<row_k<q4_k_kernel>>);
  set_gemm(t, ggml_type::q6_k, gemm_tile<row_k<q6_k_kernel>>);
  set_gemm(t, ggml_type::q5_0, gemm_tile<row32<q5_0_kernel>>);
  set_gemm(t, ggml_type::q5_k, gemm_tile<row_k<q5_k_kernel>>);
  set_gemm(t, ggml_type::q4_1, gemm_tile<row32<q4_1_kernel>>);
  set_gemm(t, ggml_type::q5_1, gemm_tile<row32<q5_1_kernel>>);
  set_gemm(t, ggml_type::f32, gemm_tile<row_float<f32_loader>>);
  set_gemm(t, ggml_type::f16, gemm_tile<row_float<f16_loader>>);
  set_gemm(t, ggml_type::bf16, gemm_tile<row_float<bf16_loader>>);
}

}  // namespace pocketlm::kernels::x86
