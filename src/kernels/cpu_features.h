// What the running CPU offers: on aarch64 the HWCAP bits the kernel dispatch (dispatch.cpp)
// chooses a SIMD level from; on x86-64 the cpuid bits.
#pragma once

#include <string>

namespace pocketlm::kernels {

struct cpu_features {
  // aarch64, from getauxval(AT_HWCAP / AT_HWCAP2) on Linux and Android.
  bool neon = false;     // HWCAP_ASIMD (every AArch64 Linux CPU)
  bool dotprod = false;  // HWCAP_ASIMDDP: SDOT/UDOT
  bool i8mm = false;     // HWCAP2_I8MM: SMMLA/UMMLA
  // x86-64, from cpuid, counted only when the OS saves the wider registers (xgetbv).
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
};

// The host's features, detected on first use.
const cpu_features& host_cpu();

// The features that are set, space-separated in the field order above ("neon dotprod"), or
// "none".
std::string describe(const cpu_features& f);

}  // namespace pocketlm::kernels
