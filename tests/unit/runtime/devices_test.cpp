// The built-in device table, name lookup, and the ceilings and phone fit derived from it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/devices.h"

namespace pocketlm {
namespace {

TEST(devices, table_holds_the_published_figures_in_order) {
  const std::vector<std::string> names = {"A18 Pro",
                                          "M2",
                                          "M2 Ultra",
                                          "M3",
                                          "M4",
                                          "M3 Max",
                                          "M4 Max",
                                          "Snapdragon 8 Gen 2",
                                          "Snapdragon 8 Gen 3",
                                          "Snapdragon X Elite",
                                          "Snapdragon 8 Elite"};
  const std::vector<double> tops = {35, 15.8, 31.6, 19, 38, 35, 38, 26, 34, 45, 75};
  const std::vector<double> tflops = {4.454, 5.68, 26.98, 7.1, 9.2, 32.8, 34.08, 4.178, 5.548, 9.2, 6.758};
  const std::vector<double> bw = {60, 102.4, 800, 102.4, 120, 300, 546, 67.0, 76.6, 133.9, 76.6};
  const auto table = device_table();
  ASSERT_EQ(table.size(), names.size());
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(table[i].name, names[i]);
    EXPECT_DOUBLE_EQ(table[i].npu_int8_tops, tops[i]) << names[i];
    EXPECT_DOUBLE_EQ(table[i].gpu_fp16_tflops, tflops[i]) << names[i];
    EXPECT_DOUBLE_EQ(table[i].mem_bw_gbs, bw[i]) << names[i];
    EXPECT_GE(table[i].ram_gb_max, table[i].ram_gb_min);
    EXPECT_GE(table[i].ram_gb_min, 8) << names[i];
    EXPECT_FALSE(table[i].cpu_layout.empty());
  }
  EXPECT_EQ(table[0].ram_gb_min, 8);  // iPhone 16 Pro
  EXPECT_EQ(table[0].kind, device_kind::phone);
  EXPECT_EQ(table[2].kind, device_kind::computer);
}

TEST(devices, lookup_ignores_case_spacing_and_vendor) {
  ASSERT_NE(find_device("m4-max"), nullptr);
  EXPECT_EQ(find_device("m4-max")->name, "M4 Max");
  EXPECT_EQ(find_device("8 gen 3")->name, "Snapdragon 8 Gen 3");
  EXPECT_EQ(find_device("snapdragon-8-elite")->name, "Snapdragon 8 Elite");
  EXPECT_EQ(find_device("A18_PRO")->name, "A18 Pro");
  EXPECT_EQ(find_device("M4")->name, "M4");  // not M4 Max
  EXPECT_EQ(find_device("pixel 9"), nullptr);
}

TEST(devices, phone_keeps_sixty_percent_for_apps) {
  EXPECT_DOUBLE_EQ(os_share(device_kind::phone), 0.40);
  EXPECT_EQ(usable_ram(device_kind::phone, 8), static_cast<uint64_t>(8.0 * 0.6 * (1ull << 30)));
  EXPECT_EQ(usable_ram(device_kind::computer, 16), 12ull << 30);
}

TEST(devices, ceilings_follow_bandwidth_and_peak_ops) {
  const device_spec& a18 = *find_device("A18 Pro");
  // 1 GB read per token at 60 GB/s: 60 tokens/s. 1e9 params: 2e9 ops per token.
  const auto q = project(a18, 1'000'000'000, 1'000'000'000, /*quantized=*/true);
  EXPECT_NEAR(q.decode_tokens_per_s, 60.0, 1e-9);
  EXPECT_NEAR(q.prefill_tokens_per_s, 35e12 / 2e9, 1e-6);
  EXPECT_EQ(q.prefill_basis, "NPU INT8 35 TOPS");
  const auto f = project(a18, 500'000'000, 1'000'000'000, /*quantized=*/false);
  EXPECT_NEAR(f.decode_tokens_per_s, 120.0, 1e-9);
  EXPECT_NEAR(f.prefill_tokens_per_s, 4.454e12 / 2e9, 1e-6);
  EXPECT_EQ(f.prefill_basis, "GPU FP16 4.454 TFLOPS");
  EXPECT_EQ(f.budget, usable_ram(device_kind::phone, 8));
}

}  // namespace
}  // namespace pocketlm
