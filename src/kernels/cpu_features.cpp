// Runtime CPU feature detection (see cpu_features.h).
#include "kernels/cpu_features.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <cstdint>
#include <utility>

namespace pocketlm::kernels {

namespace {

#if defined(__aarch64__)
// Bit values from the Linux arm64 uapi (asm/hwcap.h), for headers that predate them.
constexpr unsigned long k_hwcap_asimd = 1ul << 1;
constexpr unsigned long k_hwcap_asimddp = 1ul << 20;
constexpr unsigned long k_hwcap2_i8mm = 1ul << 13;

cpu_features detect() {
  cpu_features f;
#if defined(__linux__)
  const unsigned long hwcap = getauxval(AT_HWCAP);
  const unsigned long hwcap2 = getauxval(AT_HWCAP2);
  f.neon = (hwcap & k_hwcap_asimd) != 0;
  f.dotprod = (hwcap & k_hwcap_asimddp) != 0;
  f.i8mm = (hwcap2 & k_hwcap2_i8mm) != 0;
#else
  f.neon = true;  // Advanced SIMD is part of every AArch64 ABI; the extensions stay off.
#endif
  return f;
}
#elif defined(__x86_64__)
bool bit(uint32_t reg, int n) { return (reg >> n & 1u) != 0; }

// XCR0: which register states the OS saves on context switch.
uint64_t read_xcr0() {
  uint32_t lo = 0;
  uint32_t hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return static_cast<uint64_t>(hi) << 32 | lo;
}

cpu_features detect() {
  cpu_features f;
  uint32_t a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(1, 0, &a, &b, &c, &d) == 0 || !bit(c, 27)) return f;  // no OSXSAVE
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool zmm_saved = (xcr0 & 0xE0) == 0xE0;  // opmask + upper ZMM state
  if (!ymm_saved) return f;
  f.avx = bit(c, 28);
  f.fma = bit(c, 12);
  f.f16c = bit(c, 29);
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return f;
  f.avx2 = bit(b, 5);
  f.avx512f = zmm_saved && bit(b, 16);
  f.avx512bw = f.avx512f && bit(b, 30);
  f.avx512vl = f.avx512f && bit(b, 31);
  f.avx512vnni = f.avx512f && bit(c, 11);
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d) != 0) f.avx512bf16 = f.avx512f && bit(a, 5);
  return f;
}
#else
cpu_features detect() { return {}; }
#endif

}  // namespace

const cpu_features& host_cpu() {
  static const cpu_features features = detect();
  return features;
}

std::string describe(const cpu_features& f) {
  const std::pair<bool, const char*> flags[] = {
      {f.neon, "neon"},
      {f.dotprod, "dotprod"},
      {f.i8mm, "i8mm"},
      {f.avx, "avx"},
      {f.avx2, "avx2"},
      {f.fma, "fma"},
      {f.f16c, "f16c"},
      {f.avx512f, "avx512f"},
      {f.avx512bw, "avx512bw"},
      {f.avx512vl, "avx512vl"},
      {f.avx512vnni, "avx512vnni"},
      {f.avx512bf16, "avx512bf16"},
  };
  std::string out;
  for (const auto& [set, name] : flags) {
    if (!set) continue;
    if (!out.empty()) out += ' ';
    out += name;
  }
  return out.empty() ? "none" : out;
}

}  // namespace pocketlm::kernels
