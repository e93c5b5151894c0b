// x86-64 AVX-512 level (F/BW/VL + VNNI, and BF16 where the CPU has it): the installer of the
// level. Its kernels, in quant_avx512.cpp and float_avx512.cpp, replace the AVX2 level's row dot
// and tile of every weight type (bf16 only with AVX512_BF16). Compiled with the avx512 flags;
// dispatch.cpp calls install_avx512 only on CPUs that run it, after install_avx2.
#include "kernels/x86/avx512_blocks.h"  // first: see avx512_intrin.h
#include "kernels/dispatch.h"

namespace pocketlm::kernels::x86 {

void install_avx512(kernel_table& t) {
  avx512::install_quant_avx512(t);
  avx512::install_float_avx512(t);
}

}  // namespace pocketlm::kernels::x86
