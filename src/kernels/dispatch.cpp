// The per-weight-type kernel table (see dispatch.h), built once on first use.
#include "kernels/dispatch.h"

#include <array>

#include "kernels/ref/dot_ref.h"

namespace pocketlm::kernels {

namespace {

// Indexed by ggml_type id; covers every id in gguf/types.h. Unsupported entries stay null.
constexpr size_t k_table_size = static_cast<size_t>(ggml_type::mxfp4) + 1;
using kernel_table = std::array<type_kernels, k_table_size>;

void set(kernel_table& table, ggml_type weight, ggml_type act, from_float_fn from_float,
         vec_dot_fn dot) {
  table[static_cast<size_t>(weight)] = type_kernels{act, from_float, dot};
}

// The pairing of ggml's CPU type traits: weights of each type are dotted with activations in
// that type's vec_dot_type.
kernel_table build_table() {
  using ggml_type::q8_0;
  using ggml_type::q8_1;
  using ggml_type::q8_k;
  kernel_table t{};
  set(t, ggml_type::f32, ggml_type::f32, ref::from_float_f32_ref, ref::vec_dot_f32_f32_ref);
  set(t, ggml_type::f16, ggml_type::f16, ref::from_float_f16_ref, ref::vec_dot_f16_f16_ref);
  set(t, ggml_type::bf16, ggml_type::bf16, ref::from_float_bf16_ref, ref::vec_dot_bf16_bf16_ref);
  set(t, ggml_type::q4_0, q8_0, ref::from_float_q8_0_ref, ref::vec_dot_q4_0_q8_0_ref);
  set(t, ggml_type::q4_1, q8_1, ref::from_float_q8_1_ref, ref::vec_dot_q4_1_q8_1_ref);
  set(t, ggml_type::q5_0, q8_0, ref::from_float_q8_0_ref, ref::vec_dot_q5_0_q8_0_ref);
  set(t, ggml_type::q5_1, q8_1, ref::from_float_q8_1_ref, ref::vec_dot_q5_1_q8_1_ref);
  set(t, ggml_type::q8_0, q8_0, ref::from_float_q8_0_ref, ref::vec_dot_q8_0_q8_0_ref);
  set(t, ggml_type::q4_k, q8_k, ref::from_float_q8_k_ref, ref::vec_dot_q4_k_q8_k_ref);
  set(t, ggml_type::q5_k, q8_k, ref::from_float_q8_k_ref, ref::vec_dot_q5_k_q8_k_ref);
  set(t, ggml_type::q6_k, q8_k, ref::from_float_q8_k_ref, ref::vec_dot_q6_k_q8_k_ref);
  return t;
}

}  // namespace

const type_kernels* kernels_for(ggml_type weight_type) {
  static const kernel_table table = build_table();  // thread-safe one-time init
  const auto id = static_cast<size_t>(weight_type);
  if (id >= table.size() || table[id].vec_dot == nullptr) return nullptr;
  return &table[id];
}

}  // namespace pocketlm::kernels
