// `pocketlm devices`: the built-in table of phone and laptop chips that `plan --device` uses.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/verbs.h"
#include "runtime/devices.h"

namespace pocketlm::cli {

namespace {

int run_devices(bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : device_table()) {
      out.push_back({{"name", d.name},
                     {"kind", d.kind == device_kind::phone ? "phone" : "computer"},
                     {"npu_int8_tops", d.npu_int8_tops},
                     {"gpu_fp16_tflops", d.gpu_fp16_tflops},
                     {"mem_bw_gbs", d.mem_bw_gbs},
                     {"ram_gb_min", d.ram_gb_min},
                     {"ram_gb_max", d.ram_gb_max},
                     {"cpu", d.cpu_layout}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-20s %-8s %9s %10s %8s %9s  %s\n", "DEVICE", "KIND", "NPU TOPS", "GPU TFLOPS", "BW GB/s", "RAM GB",
              "CPU");
  for (const auto& d : device_table()) {
    const std::string ram = d.ram_gb_min == d.ram_gb_max
                                ? std::to_string(d.ram_gb_min)
                                : std::to_string(d.ram_gb_min) + "-" + std::to_string(d.ram_gb_max);
    std::printf("%-20s %-8s %9g %10g %8.1f %9s  %s\n", std::string(d.name).c_str(),
                d.kind == device_kind::phone ? "phone" : "computer", d.npu_int8_tops, d.gpu_fp16_tflops, d.mem_bw_gbs,
                ram.c_str(), std::string(d.cpu_layout).c_str());
  }
  std::printf("NPU: INT8 TOPS; GPU: FP16 TFLOPS; BW: peak DRAM bandwidth; RAM: shipping configurations.\n");
  return 0;
}

}  // namespace

void register_devices(CLI::App& app, int& exit_code) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("devices", "List the built-in device table used by plan --device");
  cmd->add_flag("--json", *json, "print JSON");
  cmd->callback([json, &exit_code] { exit_code = run_devices(*json); });
}

}  // namespace pocketlm::cli
