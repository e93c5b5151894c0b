// Hand-made broken files, one test each, each with the error it must produce. Every case is
// also stored as tests/golden/gguf_corrupt/<name>.gguf and read back through file::open;
// POCKETLM_REGEN_GOLDEN=1 rewrites those files from the builders below.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "gguf/gguf.h"
#include "gguf_bytes.h"

namespace pocketlm::gguf {
namespace {

namespace fs = std::filesystem;
using namespace testing;

const fs::path k_golden_dir = fs::path(POCKETLM_SOURCE_DIR) / "tests/golden/gguf_corrupt";

// Names of all cases below; the golden folder must hold exactly these.
const std::set<std::string> k_cases = {
    "bad_magic",
    "version_1",
    "version_4",
    "truncated_header",
    "n_tensors_huge",
    "n_kv_huge",
    "key_length_huge",
    "empty_key",
    "string_length_huge",
    "array_length_huge",
    "nested_array_too_deep",
    "unknown_value_type",
    "unknown_array_type",
    "bad_bool",
    "unknown_tensor_type",
    "n_dims_5",
    "zero_dim",
    "negative_dim",
    "row_not_block_multiple",
    "element_count_overflow",
    "byte_size_overflow",
    "duplicate_key",
    "duplicate_tensor_name",
    "tensor_name_too_long",
    "alignment_zero",
    "alignment_not_power_of_two",
    "alignment_wrong_type",
    "tensor_offset_misaligned",
    "tensor_data_past_end",
    "offset_size_overflow",
    "truncated_tensor_info",
};

std::vector<uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void check_case(const std::string& name, const gguf_bytes& g, const std::string& expect) {
  ASSERT_TRUE(k_cases.count(name)) << name << " missing from k_cases";
  auto r = file::parse(g.b.data(), g.b.size());
  ASSERT_FALSE(r.ok()) << name << " parsed";
  const std::string& msg = r.error_message();
  EXPECT_EQ(msg.rfind("gguf: ", 0), 0u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find(expect), std::string::npos) << "got: " << msg;

  const fs::path golden = k_golden_dir / (name + ".gguf");
  if (std::getenv("POCKETLM_REGEN_GOLDEN") != nullptr) {
    fs::create_directories(k_golden_dir);
    std::ofstream(golden, std::ios::binary)
        .write(reinterpret_cast<const char*>(g.b.data()), static_cast<std::streamsize>(g.b.size()));
  }
  EXPECT_EQ(read_all(golden), g.b) << golden << " is stale: rerun with POCKETLM_REGEN_GOLDEN=1";
  auto f = file::open(golden.string());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error_message().find(expect), std::string::npos) << "got: " << f.error_message();
  EXPECT_NE(f.error_message().find(golden.string()), std::string::npos);
}

// Declares the builder, a test that checks it (and its golden file), then the builder's body.
#define CORRUPT_CASE(name, expect)                                        \
  gguf_bytes build_##name();                                              \
  TEST(gguf_corrupt, name) { check_case(#name, build_##name(), expect); } \
  gguf_bytes build_##name()

// A one-tensor file 'w': header padded to 32, then data_bytes of zeros.
gguf_bytes one_tensor(std::initializer_list<int64_t> ne, uint32_t type, uint64_t offset, size_t data_bytes) {
  gguf_bytes g;
  g.header(3, 1, 0).tensor("w", ne, type, offset).pad(32).zeros(data_bytes);
  return g;
}

CORRUPT_CASE(bad_magic, "gguf: not a GGUF file (it does not start with the magic \"GGUF\")") {
  gguf_bytes g;
  g.header(3, 0, 0);
  g.b[3] = 'X';
  return g;
}

CORRUPT_CASE(version_1, "version 1 is not supported") {
  gguf_bytes g;
  g.b = {'G', 'G', 'U', 'F'};
  g.u32(1).u32(0).u32(0);  // v1 used 32-bit counts
  g.zeros(8);
  return g;
}

CORRUPT_CASE(version_4, "version 4 is not supported (need 2 or 3)") {
  gguf_bytes g;
  return g.header(4, 0, 0);
}

CORRUPT_CASE(truncated_header, "truncated header: file is 12 bytes, the header needs 24") {
  gguf_bytes g;
  g.header(3, 0, 0);
  g.b.resize(12);
  return g;
}

CORRUPT_CASE(n_tensors_huge, "n_tensors 1152921504606846976 exceeds what the 8 bytes left") {
  gguf_bytes g;
  return g.header(3, uint64_t{1} << 60, 0).zeros(8);
}

CORRUPT_CASE(n_kv_huge, "n_kv 18446744073709551615 exceeds what the 0 bytes left") {
  gguf_bytes g;
  return g.header(3, 0, ~uint64_t{0});
}

CORRUPT_CASE(key_length_huge, "key #0: key length 4294967296 exceeds the limit of 65536") {
  gguf_bytes g;
  return g.header(3, 0, 1).u64(uint64_t{1} << 32).u32(t_u8).u8(0).zeros(8);
}

CORRUPT_CASE(empty_key, "key #0: key is empty") {
  gguf_bytes g;
  return g.header(3, 0, 1).str("").u32(t_u8).u8(0).zeros(8);
}

CORRUPT_CASE(string_length_huge, "key #0 'general.name': string length 18446744073709551615 exceeds the 4 bytes left") {
  gguf_bytes g;
  return g.header(3, 0, 1).str("general.name").u32(t_string).u64(~uint64_t{0}).u32(0);
}

CORRUPT_CASE(array_length_huge, "array length 1099511627776 of u32 exceeds the 8 bytes left") {
  gguf_bytes g;
  g.header(3, 0, 1).str("a").u32(t_array).u32(t_u32).u64(uint64_t{1} << 40).u64(0);
  return g;
}

CORRUPT_CASE(nested_array_too_deep, "key #0 'deep': arrays nested deeper than 8 levels") {
  gguf_bytes g;
  g.header(3, 0, 1).str("deep").u32(t_array);
  for (int i = 0; i < 9; ++i) g.u32(t_array).u64(1);
  return g.u32(t_u8).u64(0);
}

CORRUPT_CASE(unknown_value_type, "key #1 'b': unknown value type id 13 (valid: 0..12)") {
  gguf_bytes g;
  return g.header(3, 0, 2).kv_u32("a", 1).str("b").u32(13).u32(0).zeros(8);
}

CORRUPT_CASE(unknown_array_type, "unknown array element type id 99") {
  gguf_bytes g;
  return g.header(3, 0, 1).str("a").u32(t_array).u32(99).u64(1).u32(0);
}

CORRUPT_CASE(bad_bool, "bool byte 2 at offset 37 is not 0 or 1") {
  gguf_bytes g;
  return g.header(3, 0, 1).str("b").u32(t_bool).u8(2).zeros(8);
}

CORRUPT_CASE(unknown_tensor_type, "tensor 'w' (#0): unknown tensor type id 4") {
  return one_tensor({8}, 4, 0, 32);  // 4 was q4_2, removed from ggml
}

CORRUPT_CASE(n_dims_5, "tensor 'w' (#0): n_dims 5 is out of range [0, 4]") {
  return one_tensor({1, 1, 1, 1, 8}, 0, 0, 32);
}

CORRUPT_CASE(zero_dim, "tensor 'w' (#0): ne[1] = 0 must be >= 1") { return one_tensor({8, 0}, 0, 0, 32); }

CORRUPT_CASE(negative_dim, "tensor 'w' (#0): ne[0] = -8 must be >= 1") { return one_tensor({-8}, 0, 0, 32); }

CORRUPT_CASE(row_not_block_multiple, "ne[0] = 48 is not a multiple of the q4_0 block size 32") {
  return one_tensor({48}, 2, 0, 32);
}

CORRUPT_CASE(element_count_overflow, "element count of shape [4294967296, 4294967296, 1, 1] overflows int64") {
  return one_tensor({int64_t{1} << 32, int64_t{1} << 32}, 0, 0, 32);
}

CORRUPT_CASE(byte_size_overflow, "byte size of 4611686018427387904 f64 elements overflows") {
  return one_tensor({int64_t{1} << 62}, 28, 0, 32);
}

CORRUPT_CASE(duplicate_key, "key #2 'a': duplicate key (first defined as key #0)") {
  gguf_bytes g;
  return g.header(3, 0, 3).kv_u32("a", 1).kv_u32("b", 2).kv_u32("a", 3);
}

CORRUPT_CASE(duplicate_tensor_name, "tensor 'w' (#1): duplicate tensor name (also tensor #0)") {
  gguf_bytes g;
  g.header(3, 2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad(32).zeros(64);
  return g;
}

CORRUPT_CASE(tensor_name_too_long, "tensor #0: name length 1025 exceeds the limit of 1024") {
  gguf_bytes g;
  g.header(3, 1, 0).tensor(std::string(1025, 'n'), {8}, 0, 0).pad(32).zeros(32);
  return g;
}

CORRUPT_CASE(alignment_zero, "general.alignment 0 is not a nonzero power of two") {
  gguf_bytes g;
  return g.header(3, 0, 1).kv_u32("general.alignment", 0);
}

CORRUPT_CASE(alignment_not_power_of_two, "general.alignment 48 is not a nonzero power of two") {
  gguf_bytes g;
  return g.header(3, 0, 1).kv_u32("general.alignment", 48);
}

CORRUPT_CASE(alignment_wrong_type, "general.alignment has type i32, must be u32") {
  gguf_bytes g;
  return g.header(3, 0, 1).str("general.alignment").u32(t_i32).u32(32);
}

CORRUPT_CASE(tensor_offset_misaligned, "tensor 'w' (#0): offset 16 is not a multiple of the alignment 32") {
  return one_tensor({8}, 0, 16, 64);
}

CORRUPT_CASE(tensor_data_past_end, "tensor 'w' (#0): data [64, 128) lies outside the file (96 bytes)") {
  return one_tensor({16}, 0, 0, 32);  // 64 bytes of f32, only 32 present
}

CORRUPT_CASE(offset_size_overflow, "tensor 'w' (#0): data offset 64 + 18446744073709551584 + size 32 overflows") {
  return one_tensor({8}, 0, ~uint64_t{31}, 32);
}

CORRUPT_CASE(truncated_tensor_info, "tensor 'w' (#0): truncated: type needs 4 bytes at offset 53 but only 0 are left") {
  gguf_bytes g;  // 29 bytes after the header: enough for the count check, not for the type
  return g.header(3, 1, 0).str("w").u32(2).i64(8).i64(8);
}

TEST(gguf_corrupt, golden_folder_holds_exactly_the_tested_cases) {
  std::set<std::string> found;
  for (const auto& e : fs::directory_iterator(k_golden_dir)) {
    if (e.path().extension() == ".gguf") found.insert(e.path().stem().string());
  }
  EXPECT_EQ(found, k_cases);
}

}  // namespace
}  // namespace pocketlm::gguf
