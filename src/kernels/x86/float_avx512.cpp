// AVX-512 row dots and tiles of the float weight types (driver: avx512_gemm.h): f32 and f16
// (VCVTPH2PS) widen to 16 floats per register and multiply-add; bf16 uses VDPBF16PS, which
// multiplies 32 bf16 pairs exactly and adds them into 16 float lanes, on CPUs with AVX512_BF16
// (without it bf16 keeps the AVX2 level's kernels). The tail of a row (n not a multiple of the
// step) is read with masked loads, so nothing past the row is touched.
#include "kernels/x86/avx512_blocks.h"  // first: see avx512_intrin.h
#include "kernels/cpu_features.h"
#include "kernels/x86/avx512_gemm.h"

namespace pocketlm::kernels::x86::avx512 {

namespace {

// Each loader reads `step` elements at p (or the first `count` < step, zero-filled) as one
// register; madd(acc, w, a) adds their products.
struct f32_loader {
  using elem = float;
  using reg = __m512;
  static constexpr int step = 16;
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static reg load_part(const float* p, int count) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), p);
  }
  static __m512 madd(__m512 acc, reg w, reg a) { return _mm512_fmadd_ps(w, a, acc); }
};

struct f16_loader {
  using elem = uint16_t;
  using reg = __m512;
  static constexpr int step = 16;
  static reg load(const uint16_t* p) { return _mm512_cvtph_ps(load_256(p)); }
  static reg load_part(const uint16_t* p, int count) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(static_cast<__mmask16>((1u << count) - 1), p));
  }
  static __m512 madd(__m512 acc, reg w, reg a) { return _mm512_fmadd_ps(w, a, acc); }
};

struct bf16_loader {
  using elem = uint16_t;
  using reg = __m512i;
  static constexpr int step = 32;
  static reg load(const uint16_t* p) { return load_512(p); }
  static reg load_part(const uint16_t* p, int count) {
    return _mm512_maskz_loadu_epi16(static_cast<__mmask32>((uint64_t{1} << count) - 1), p);
  }
  static __m512 madd(__m512 acc, reg w, reg a) {
    // A vector conversion of the same 64 bytes (no cast intrinsic exists for __m512bh).
    return _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)a);
  }
};

// One column step of R weight rows x T activation rows at element i (count elements when
// partial).
template <class L, int R, int T, bool partial>
inline void float_step(const typename L::elem* const* w, const typename L::elem* const* a, int64_t i, int count,
                       __m512 (&acc)[R][T]) {
  typename L::reg wv[R];
  for (int r = 0; r < R; ++r) wv[r] = partial ? L::load_part(w[r] + i, count) : L::load(w[r] + i);
  for (int t = 0; t < T; ++t) {
    const typename L::reg av = partial ? L::load_part(a[t] + i, count) : L::load(a[t] + i);
    for (int r = 0; r < R; ++r) acc[r][t] = L::madd(acc[r][t], wv[r], av);
  }
}

template <class L>
struct float_tiles {
  static constexpr int rows = 4;
  static constexpr int tokens = 4;
  template <int R, int T>
  static void tile(int64_t n, const uint8_t* const* w, const uint8_t* const* a, float* res) {
    using elem = typename L::elem;
    const elem* wr[R];
    const elem* ar[T];
    for (int r = 0; r < R; ++r) wr[r] = reinterpret_cast<const elem*>(w[r]);
    for (int t = 0; t < T; ++t) ar[t] = reinterpret_cast<const elem*>(a[t]);
    __m512 acc[R][T];
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    }
    int64_t i = 0;
    for (; i + L::step <= n; i += L::step) float_step<L, R, T, false>(wr, ar, i, L::step, acc);
    if (i < n) float_step<L, R, T, true>(wr, ar, i, static_cast<int>(n - i), acc);
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) res[r * T + t] = hsum_512(acc[r][t]);
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

void install_float_avx512(kernel_table& t) {
  set_kernels<float_tiles<f32_loader>>(t, ggml_type::f32);
  set_kernels<float_tiles<f16_loader>>(t, ggml_type::f16);
  if (host_cpu().avx512bf16) set_kernels<float_tiles<bf16_loader>>(t, ggml_type::bf16);
}

}  // namespace pocketlm::kernels::x86::avx512
