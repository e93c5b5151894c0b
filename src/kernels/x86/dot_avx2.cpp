// x86-64 AVX2 level (AVX2 + FMA + F16C): row dots for all 11 weight types and the installer of
// the level (tiles in gemm_avx2.cpp, activation converters in quant_avx2.cpp). Integer block
// sums are exact, as in the reference (ref/dot_ref.h); only the float accumulation order
// differs: per-lane float sums, added at the end. Compiled with -mavx2 -mfma -mf16c;
// dispatch.cpp calls install_avx2 only on CPUs that run it.
#include "kernels/dispatch.h"
#include "kernels/x86/avx2_blocks.h"

namespace pocketlm::kernels::x86 {

namespace {

// Two independent accumulators hide the FMA latency; a row dot is memory bound, so the loop
// only has to keep up with the weight stream.
template <class K>
void vec_dot_32(int64_t n, float* out, const void* w_row, const void* act_row) {
  const typename K::w_block* w[1] = {static_cast<const typename K::w_block*>(w_row)};
  const typename K::a_block* a[1] = {static_cast<const typename K::a_block*>(act_row)};
  const int64_t nb = n / 32;
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  float mins[2] = {0.0f, 0.0f};
  int64_t b = 0;
  for (; b + 1 < nb; b += 2) {
    block32_step<K, 1, 1>(w, a, b, &acc[0], &mins[0]);
    block32_step<K, 1, 1>(w, a, b + 1, &acc[1], &mins[1]);
  }
  if (b < nb) block32_step<K, 1, 1>(w, a, b, &acc[0], &mins[0]);
  *out = hsum_ps(_mm256_add_ps(acc[0], acc[1])) + (mins[0] + mins[1]);
}

template <class K>
void vec_dot_k(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const typename K::w_block*>(w_row);
  const block_q8_k* rows[1] = {static_cast<const block_q8_k*>(act_row)};
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / qk_k; ++b) k_step<K, 1>(w[b], rows, b, &acc);
  *out = hsum_ps(acc);
}

// Four accumulators of 8 products each; a scalar tail for n not a multiple of 32.
template <class L>
void vec_dot_float(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const typename L::elem*>(w_row);
  const auto* a = static_cast<const typename L::elem*>(act_row);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_fmadd_ps(L::load(w + i + 8 * k), L::load(a + i + 8 * k), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(L::load(w + i), L::load(a + i), acc[0]);
  float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += L::scalar(w + i) * L::scalar(a + i);
  *out = sum;
}

void set_dot(kernel_table& t, ggml_type type, vec_dot_fn dot) { t[static_cast<size_t>(type)].vec_dot = dot; }

}  // namespace

void install_avx2(kernel_table& t) {
  set_dot(t, ggml_type::q4_0, vec_dot_32<q4_0_kernel>);
  set_dot(t, ggml_type::q8_0, vec_dot_32<q8_0_kernel>);
  set_dot(t, ggml_type::q4_k, vec_dot_k<q4_k_kernel>);
  set_dot(t, ggml_type::q6_k, vec_dot_k<q6_k_kernel>);
  set_dot(t, ggml_type::q5_0, vec_dot_32<q5_0_kernel>);
  set_dot(t, ggml_type::q5_k, vec_dot_k<q5_k_kernel>);
  set_dot(t, ggml_type::q4_1, vec_dot_32<q4_1_kernel>);
  set_dot(t, ggml_type::q5_1, vec_dot_32<q5_1_kernel>);
  set_dot(t, ggml_type::f32, vec_dot_float<f32_loader>);
  set_dot(t, ggml_type::f16, vec_dot_float<f16_loader>);
  set_dot(t, ggml_type::bf16, vec_dot_float<bf16_loader>);
  install_gemm_avx2(t);
  install_quant_avx2(t);
}

}  // namespace pocketlm::kernels::x86
