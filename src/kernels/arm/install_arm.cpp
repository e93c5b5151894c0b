// Lays the AArch64 kernels of each ISA level over the kernel table (see dispatch.h). Only takes
// the kernels' addresses, so it is compiled for the baseline and runs on any ARMv8 CPU.
#include "kernels/arm/dot_arm.h"
#include "kernels/dispatch.h"

namespace pocketlm::kernels::arm {

namespace {
void set_dot(kernel_table& t, ggml_type weight, vec_dot_fn dot) {
  t[static_cast<size_t>(weight)].vec_dot = dot;
}
}  // namespace

void install_neon(kernel_table& t) {
  set_dot(t, ggml_type::q8_0, vec_dot_q8_0_q8_0_neon);
  set_dot(t, ggml_type::q4_0, vec_dot_q4_0_q8_0_neon);
  set_dot(t, ggml_type::q4_k, vec_dot_q4_k_q8_k_neon);
  set_dot(t, ggml_type::q6_k, vec_dot_q6_k_q8_k_neon);
}

void install_dotprod(kernel_table& t) {
  set_dot(t, ggml_type::q8_0, vec_dot_q8_0_q8_0_dotprod);
  set_dot(t, ggml_type::q4_0, vec_dot_q4_0_q8_0_dotprod);
  set_dot(t, ggml_type::q4_k, vec_dot_q4_k_q8_k_dotprod);
  set_dot(t, ggml_type::q6_k, vec_dot_q6_k_q8_k_dotprod);
}

// The K-quants keep the dotprod kernels: SMMLA gains nothing on a single row.
void install_i8mm(kernel_table& t) {
  set_dot(t, ggml_type::q8_0, vec_dot_q8_0_q8_0_i8mm);
  set_dot(t, ggml_type::q4_0, vec_dot_q4_0_q8_0_i8mm);
}

}  // namespace pocketlm::kernels::arm
