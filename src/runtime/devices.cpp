#include "runtime/devices.h"

#include <array>
#include <cctype>
#include <cstdio>

namespace pocketlm {

namespace {

using enum device_kind;

// Accelerator and bandwidth figures are vendors' peaks. RAM: the configurations each chip
// ships with (phones: common retail models; Macs: Apple's build-to-order range).
constexpr std::array<device_spec, 11> k_devices = {{
    {"A18 Pro", phone, 35, 4.454, 60, 8, 8, "2P + 4E"},
    {"M2", computer, 15.8, 5.68, 102.4, 8, 24, "4P + 4E"},
    {"M2 Ultra", computer, 31.6, 26.98, 800, 64, 192, "16P + 8E"},
    {"M3", computer, 19, 7.1, 102.4, 8, 24, "4P + 4E"},
    {"M4", computer, 38, 9.2, 120, 16, 32, "4P + 6E"},
    {"M3 Max", computer, 35, 32.8, 300, 36, 128, "12P + 4E (binned: 10P + 4E)"},
    {"M4 Max", computer, 38, 34.08, 546, 36, 128, "12P + 4E (binned: 10P + 4E)"},
    {"Snapdragon 8 Gen 2", phone, 26, 4.178, 67.0, 8, 16,
     "1x X3 3.2 GHz + 2x A715 + 2x A710 2.8 GHz + 3x A510 2.0 GHz"},
    {"Snapdragon 8 Gen 3", phone, 34, 5.548, 76.6, 8, 24,
     "1x X4 3.3 GHz + 3x A720 3.15 GHz + 2x A720 2.96 GHz + 2x A520 2.27 GHz"},
    {"Snapdragon X Elite", computer, 45, 9.2, 133.9, 16, 64, "12x Oryon 3.4-4.2 GHz"},
    {"Snapdragon 8 Elite", phone, 75, 6.758, 76.6, 12, 24, "2x Oryon 4.32 GHz + 6x Oryon 3.53 GHz"},
}};

// Lower case without spaces, '-', '_' and a vendor prefix: "Snapdragon 8 Gen 3" -> "8gen3".
std::string normalize(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '-' || c == '_') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (std::string_view prefix : {"snapdragon", "apple"}) {
    if (out.rfind(prefix, 0) == 0) out.erase(0, prefix.size());
  }
  return out;
}

}  // namespace

std::span<const device_spec> device_table() { return k_devices; }

const device_spec* find_device(std::string_view name) {
  const std::string want = normalize(name);
  for (const auto& d : k_devices) {
    if (normalize(d.name) == want) return &d;
  }
  return nullptr;
}

std::string device_names() {
  std::string s;
  for (const auto& d : k_devices) s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

double os_share(device_kind kind) { return kind == phone ? 0.40 : 0.25; }

uint64_t usable_ram(device_kind kind, int ram_gb) {
  const double bytes = static_cast<double>(ram_gb) * (1ull << 30);
  return static_cast<uint64_t>(bytes * (1.0 - os_share(kind)));
}

device_projection project(const device_spec& d, uint64_t bytes_per_token, uint64_t n_params, bool quantized) {
  device_projection p;
  if (bytes_per_token > 0) p.decode_tokens_per_s = d.mem_bw_gbs * 1e9 / static_cast<double>(bytes_per_token);
  const double peak = quantized ? d.npu_int8_tops : d.gpu_fp16_tflops;
  if (n_params > 0) p.prefill_tokens_per_s = peak * 1e12 / (2.0 * static_cast<double>(n_params));
  char basis[64];
  std::snprintf(basis, sizeof basis, quantized ? "NPU INT8 %g TOPS" : "GPU FP16 %g TFLOPS", peak);
  p.prefill_basis = basis;
  p.budget = usable_ram(d.kind, d.ram_gb_min);
  return p;
}

}  // namespace pocketlm
