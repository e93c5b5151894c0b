// AVX-512 VNNI row dots and tiles of the quantized weight types (decoders: avx512_blocks.h,
// driver: avx512_gemm.h). Integer block sums are exact, as in the reference; only the float
// accumulation order differs (16 float lanes per (row, token), added at the end).
//
// Register budget (32 zmm): a 32-element-format tile of 4 rows x 4 tokens keeps 16 float
// accumulators plus the 4 decoded weight pairs and their scales; a K-quant tile of 2 rows x 4
// tokens keeps 8 float accumulators, 8 int32 super-block sums and 4 min accumulators plus a
// chunk pair per row.
#include "kernels/x86/avx512_blocks.h"  // first: see avx512_intrin.h
#include "kernels/x86/avx512_gemm.h"

namespace pocketlm::kernels::x86::avx512 {

namespace {

// An all-zero block stands in for the missing second block of an odd block count: its codes,
// activations and scales are 0, so it adds exactly 0.
template <class B>
inline constexpr B k_zero_block{};

template <int R, int T>
inline void zero_acc(__m512 (&acc)[R][T]) {
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  }
}

template <int R, int T>
inline void reduce_acc(const __m512 (&acc)[R][T], float* res) {
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) res[r * T + t] = hsum_512(acc[r][t]);
  }
}

// Blocks b and b + 1 (b alone when !two) of R weight rows against T activation rows.
template <class F, int R, int T, bool two>
inline void pair_step(const typename F::w_block* const* w, const typename F::a_block* const* a, int64_t b,
                      __m512 (&acc)[R][T]) {
  using w_block = typename F::w_block;
  using a_block = typename F::a_block;
  __m512i q[R];
  __m512 dw[R];
  __m512 mw[R];
  for (int r = 0; r < R; ++r) {
    const w_block& w1 = two ? w[r][b + 1] : k_zero_block<w_block>;
    q[r] = F::decode(w[r][b], w1);
    dw[r] = pair_scales(w[r][b].d, w1.d);
    if constexpr (F::has_min) mw[r] = pair_singles(w[r][b].m, w1.m);
  }
  for (int t = 0; t < T; ++t) {
    const a_block& a0 = a[t][b];
    const a_block& a1 = two ? a[t][b + 1] : k_zero_block<a_block>;
    const __m512i act = join_256(load_256(a0.qs), load_256(a1.qs));
    // -offset * (sum of each lane's four activations): the lanes' starting value.
    __m512i base = _mm512_setzero_si512();
    if constexpr (F::offset != 0) {
      const __m512i off = _mm512_set1_epi8(static_cast<char>(F::offset));
      base = _mm512_sub_epi32(base, _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, act));
    }
    const __m512 da = pair_scales(a0.d, a1.d);
    for (int r = 0; r < R; ++r) {
      const __m512i lanes = _mm512_dpbusd_epi32(base, q[r], act);
      acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes), _mm512_mul_ps(dw[r], da), acc[r][t]);
      if constexpr (F::has_min) acc[r][t] = _mm512_fmadd_ps(mw[r], pair_scales(a0.s, a1.s), acc[r][t]);
    }
  }
}

template <class F>
struct pair_tiles {
  static constexpr int rows = 4;
  static constexpr int tokens = 4;
  template <int R, int T>
  static void tile(int64_t n, const uint8_t* const* w, const uint8_t* const* a, float* res) {
    const typename F::w_block* wr[R];
    const typename F::a_block* ar[T];
    for (int r = 0; r < R; ++r) wr[r] = reinterpret_cast<const typename F::w_block*>(w[r]);
    for (int t = 0; t < T; ++t) ar[t] = reinterpret_cast<const typename F::a_block*>(a[t]);
    __m512 acc[R][T];
    zero_acc(acc);
    const int64_t nb = n / 32;
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) pair_step<F, R, T, true>(wr, ar, b, acc);
    if (b < nb) pair_step<F, R, T, false>(wr, ar, b, acc);
    reduce_acc(acc, res);
  }
};

// The min part of q4_K/q5_K super-block b for R <= 2 rows: row r's 8 int32 lanes of
// sum_j min_j * bsums sit in lanes 8r..8r+7 of one register per token, scaled by -dmin * d_a
// into mins[t], so one multiply-add serves both rows. Row r's lanes see the same operations
// whatever R is.
template <class K, int R, int T>
inline void k_min_step(const typename K::w_block* const* w, const typename K::prepared* p, const block_q8_k* const* a,
                       int64_t b, __m512* mins) {
  static_assert(R <= 2, "one register holds the min lanes of two rows");
  __m512i min16 = _mm512_zextsi256_si512(p[0].min16);
  __m512 dmin = _mm512_zextps256_ps512(_mm256_set1_ps(K::dmin(w[0][b])));
  if constexpr (R == 2) {
    min16 = _mm512_inserti64x4(min16, p[1].min16, 1);
    dmin = _mm512_insertf32x4(dmin, _mm_set1_ps(K::dmin(w[1][b])), 2);
    dmin = _mm512_insertf32x4(dmin, _mm_set1_ps(K::dmin(w[1][b])), 3);
  }
  for (int t = 0; t < T; ++t) {
    const __m512i lanes = _mm512_madd_epi16(min16, _mm512_broadcast_i64x4(load_256(a[t][b].bsums)));
    const __m512 scale = _mm512_mul_ps(dmin, _mm512_set1_ps(-a[t][b].d));
    mins[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes), scale, mins[t]);
  }
}

// Super-block b of R weight rows against T q8_K activation rows.
template <class K, int R, int T>
inline void k_step(const typename K::w_block* const* w, const block_q8_k* const* a, int64_t b, __m512 (&acc)[R][T],
                   __m512* mins) {
  typename K::prepared p[R];
  for (int r = 0; r < R; ++r) p[r] = K::prepare(w[r][b]);
  __m512i isum[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) isum[r][t] = K::lane_offset(p[r], a[t][b]);
  }
  for (int cp = 0; cp < qk_k / 128; ++cp) {
    __m512i q0[R], q1[R], sc[R];
    for (int r = 0; r < R; ++r) {
      q0[r] = K::decode(w[r][b], p[r], 2 * cp);
      q1[r] = K::decode(w[r][b], p[r], 2 * cp + 1);
      sc[r] = K::pair_scales(p[r], cp);
    }
    for (int t = 0; t < T; ++t) {
      const __m512i act0 = load_512(a[t][b].qs + 128 * cp);
      const __m512i act1 = load_512(a[t][b].qs + 128 * cp + 64);
      for (int r = 0; r < R; ++r) {
        const __m512i lo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q0[r], act0);
        const __m512i hi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q1[r], act1);
        isum[r][t] = _mm512_dpwssd_epi32(isum[r][t], _mm512_packs_epi32(lo, hi), sc[r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    const __m512 d = _mm512_set1_ps(K::d(w[r][b]));
    for (int t = 0; t < T; ++t) {
      const __m512 scale = _mm512_mul_ps(d, _mm512_set1_ps(a[t][b].d));
      acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][t]), scale, acc[r][t]);
    }
  }
  if constexpr (K::has_min) k_min_step<K, R, T>(w, p, a, b, mins);
}

// Sum of the 8 floats in lanes 8 * half .. 8 * half + 7 of v.
inline float hsum_half(__m512 v, int half) {
  const __m256 h =
      half == 0 ? _mm512_castps512_ps256(v) : _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

template <class K>
struct k_tiles {
  static constexpr int rows = 2;
  static constexpr int tokens = 4;
  template <int R, int T>
  static void tile(int64_t n, const uint8_t* const* w, const uint8_t* const* a, float* res) {
    const typename K::w_block* wr[R];
    const block_q8_k* ar[T];
    for (int r = 0; r < R; ++r) wr[r] = reinterpret_cast<const typename K::w_block*>(w[r]);
    for (int t = 0; t < T; ++t) ar[t] = reinterpret_cast<const block_q8_k*>(a[t]);
    __m512 acc[R][T];
    __m512 mins[T];
    zero_acc(acc);
    for (int t = 0; t < T; ++t) mins[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / qk_k; ++b) k_step<K, R, T>(wr, ar, b, acc, mins);
    reduce_acc(acc, res);
    if constexpr (K::has_min) {
      for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) res[r * T + t] += hsum_half(mins[t], r);
      }
    }
  }
};

template <class Tiles>
void set_kernels(kernel_table& t, ggml_type type) {
  auto& e = t[static_cast<size_t>(type)];
  e.vec_dot = vec_dot<Tiles>;
  e.gemm = gemm<Tiles>;
}

}  // namespace

void install_quant_avx512(kernel_table& t) {
  set_kernels<pair_tiles<q4_0_pair>>(t, ggml_type::q4_0);
  set_kernels<pair_tiles<q8_0_pair>>(t, ggml_type::q8_0);
  set_kernels<pair_tiles<q5_0_pair>>(t, ggml_type::q5_0);
  set_kernels<pair_tiles<q4_1_pair>>(t, ggml_type::q4_1);
  set_kernels<pair_tiles<q5_1_pair>>(t, ggml_type::q5_1);
  set_kernels<k_tiles<q4_k_chunks>>(t, ggml_type::q4_k);
  set_kernels<k_tiles<q5_k_chunks>>(t, ggml_type::q5_k);
  set_kernels<k_tiles<q6_k_chunks>>(t, ggml_type::q6_k);
}

}  // namespace pocketlm::kernels::x86::avx512
