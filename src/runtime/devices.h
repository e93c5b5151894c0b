// A built-in table of phone and laptop chips (accelerator throughput, memory bandwidth, typical
// RAM, CPU layout) and what it implies for a planned model: decode and prefill ceilings, and
// whether it fits phones of common RAM sizes once the OS has taken its share.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pocketlm {

enum class device_kind { phone, computer };

struct device_spec {
  std::string_view name;
  device_kind kind = device_kind::phone;
  double npu_int8_tops = 0;    // vendor peak of the neural engine / Hexagon NPU
  double gpu_fp16_tflops = 0;  // GPU peak at FP16
  double mem_bw_gbs = 0;       // peak DRAM bandwidth, 10^9 bytes/s
  int ram_gb_min = 0;          // RAM of shipping configurations, GiB
  int ram_gb_max = 0;
  std::string_view cpu_layout;  // performance + efficiency cores
};

std::span<const device_spec> device_table();

// Case-insensitive, ignoring spaces, '-' and '_' and a "snapdragon" / "apple" prefix:
// "m4-max", "8 Gen 3", "snapdragon-8-elite". nullptr when unknown.
const device_spec* find_device(std::string_view name);
std::string device_names();  // comma-separated, for help and errors

// Share of RAM the OS and other apps keep: Android and iOS hold ~40% (system server, GPU
// carve-outs, zRAM, background apps); macOS / Windows ~25%.
double os_share(device_kind kind);
// RAM an app may use on a device of `ram_gb` GiB.
uint64_t usable_ram(device_kind kind, int ram_gb);

struct device_projection {
  double decode_tokens_per_s = 0;   // bandwidth / bytes read per token
  double prefill_tokens_per_s = 0;  // peak ops / (2 * params)
  std::string prefill_basis;        // "NPU INT8 35 TOPS" or "GPU FP16 4.454 TFLOPS"
  uint64_t budget = 0;              // usable RAM of the smallest configuration
};

// bytes_per_token: weights + KV read per decoded token; n_params: matmul weights; quantized:
// weights in integer blocks, so prefill is bounded by the NPU's INT8 rate, else the GPU's FP16.
device_projection project(const device_spec& d, uint64_t bytes_per_token, uint64_t n_params, bool quantized);

}  // namespace pocketlm
