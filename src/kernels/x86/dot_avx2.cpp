// x86-64 avx2 kernels (being written): installs nothing yet, so the level equals the reference.
#include "kernels/dispatch.h"

namespace pocketlm::kernels::x86 {

void install_avx2(kernel_table& t) { (void)t; }

}  // namespace pocketlm::kernels::x86
