// x86-64 avx512 kernels (being written): installs nothing yet, so the level equals the reference.
#include "kernels/dispatch.h"

namespace pocketlm::kernels::x86 {

void install_avx512(kernel_table& t) { (void)t; }

}  // namespace pocketlm::kernels::x86
