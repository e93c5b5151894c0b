// Lays the AArch64 kernels of each ISA level over the kernel table (see dispatch.h). Only reads
// the levels' constant kernel lists, so it is compiled for the baseline and runs on any ARMv8
// CPU.
#include "kernels/arm/dot_arm.h"
#include "kernels/dispatch.h"

namespace pocketlm::kernels::arm {

namespace {
void install(kernel_table& t, const arm_kernel_list& list) {
  for (size_t i = 0; i < list.count; ++i) {
    type_kernels& entry = t[static_cast<size_t>(list.items[i].weight)];
    if (list.items[i].vec_dot != nullptr) entry.vec_dot = list.items[i].vec_dot;
    if (list.items[i].gemm != nullptr) entry.gemm = list.items[i].gemm;
  }
}
}  // namespace

void install_neon(kernel_table& t) { install(t, k_neon_kernels); }

void install_dotprod(kernel_table& t) { install(t, k_dotprod_kernels); }

void install_i8mm(kernel_table& t) { install(t, k_i8mm_kernels); }

}  // namespace pocketlm::kernels::arm
