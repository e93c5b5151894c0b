// Writer: round trips of every value type and several tensor types, in-place key replacement,
// lazy tensors, byte-identical rewrite of stories260K, and I/O failures.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "gguf/gguf.h"
#include "gguf_bytes.h"

namespace pocketlm::gguf {
namespace {

namespace fs = std::filesystem;
using testing::same_value;

value scalar(value_type t, decltype(value::data) d) { return value{t, std::move(d)}; }

value array_of(value_type elem, std::vector<value> items) {
  return value{value_type::array, array_value{elem, std::move(items)}};
}

// One value of every type, including nested and empty arrays.
std::vector<key_value> every_value_type() {
  const value ints =
      array_of(value_type::i16, {scalar(value_type::i16, int64_t{-3}), scalar(value_type::i16, int64_t{32767})});
  return {
      {"v.u8", scalar(value_type::u8, uint64_t{255})},
      {"v.i8", scalar(value_type::i8, int64_t{-128})},
      {"v.u16", scalar(value_type::u16, uint64_t{65535})},
      {"v.i16", scalar(value_type::i16, int64_t{-32768})},
      {"v.u32", scalar(value_type::u32, uint64_t{0xFFFFFFFF})},
      {"v.i32", scalar(value_type::i32, int64_t{-2147483647 - 1})},
      {"v.f32", scalar(value_type::f32, double{0.1f})},
      {"v.bool", scalar(value_type::boolean, true)},
      {"v.string", scalar(value_type::string, std::string("h\xc3\xa9llo\n\0x", 9))},
      {"v.u64", scalar(value_type::u64, ~uint64_t{0})},
      {"v.i64", scalar(value_type::i64, int64_t{-1} << 62)},
      {"v.f64", scalar(value_type::f64, std::nan(""))},
      {"v.bools",
       array_of(value_type::boolean, {scalar(value_type::boolean, false), scalar(value_type::boolean, true)})},
      {"v.strings", array_of(value_type::string, {scalar(value_type::string, std::string("a")),
                                                  scalar(value_type::string, std::string())})},
      {"v.empty", array_of(value_type::u64, {})},
      {"v.nested", array_of(value_type::array, {ints, array_of(value_type::i16, {})})},
      {"v.deep", array_of(value_type::array, {array_of(value_type::array, {ints})})},
  };
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

TEST(gguf_writer, round_trip_every_value_type_and_tensor_types) {
  writer w;
  const auto kvs = every_value_type();
  for (const auto& kv : kvs) w.set_value(kv.key, kv.val);
  w.set_string_array("s.arr", {"x", "yz"});
  w.set_i32_array("i.arr", {-1, 5});
  w.set_f32_array("f.arr", {1.5f});
  struct spec {
    const char* name;
    ggml_type type;
    std::vector<int64_t> ne;
    size_t bytes;
  };
  const std::vector<spec> specs = {
      {"t.f32", ggml_type::f32, {3, 5}, 60},
      {"t.f16", ggml_type::f16, {7}, 14},
      {"t.q4_0", ggml_type::q4_0, {64, 2}, 72},
      {"t.q8_0", ggml_type::q8_0, {32, 1, 3}, 102},
      {"t.q4_k", ggml_type::q4_k, {256, 1, 1, 2}, 288},
  };
  for (size_t i = 0; i < specs.size(); ++i) {
    w.add_tensor(specs[i].name, specs[i].type, specs[i].ne, pattern(specs[i].bytes, uint8_t(i)));
  }
  const auto bytes = w.to_bytes();
  auto r = file::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(r.ok()) << r.error_message();
  const file& f = **r;
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.metadata().size(), kvs.size() + 3);
  for (size_t i = 0; i < kvs.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].key, kvs[i].key);
    EXPECT_TRUE(same_value(f.metadata()[i].val, kvs[i].val)) << kvs[i].key;
  }
  EXPECT_EQ(f.get_array("s.arr")->items[1].as_string()->size(), 2u);
  EXPECT_EQ(f.get_array("i.arr")->items[0].as_int(), -1);
  EXPECT_EQ(f.get_array("f.arr")->items[0].as_float(), 1.5);
  ASSERT_EQ(f.tensors().size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const tensor_info& t = f.tensors()[i];
    EXPECT_EQ(t.name, specs[i].name);
    EXPECT_EQ(t.type, specs[i].type);
    EXPECT_EQ(t.n_dims, specs[i].ne.size());
    for (size_t d = 0; d < specs[i].ne.size(); ++d) EXPECT_EQ(t.ne[d], specs[i].ne[d]);
    EXPECT_EQ(t.n_bytes, specs[i].bytes);
    EXPECT_EQ(t.offset % 32, 0u);
    const auto want = pattern(specs[i].bytes, uint8_t(i));
    EXPECT_EQ(std::vector<uint8_t>(f.tensor_data(t), f.tensor_data(t) + t.n_bytes), want);
  }
  // llama.cpp's layout: every tensor padded, so the file ends on an alignment boundary.
  EXPECT_EQ(bytes.size() % 32, 0u);
}

TEST(gguf_writer, set_replaces_key_in_place) {
  writer w;
  w.set_u32("a", 1);
  w.set_string("b", "old");
  w.set_bool("c", false);
  w.set_f32("b", 2.5f);
  const auto bytes = w.to_bytes();
  auto r = file::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(r.ok()) << r.error_message();
  const auto& md = (*r)->metadata();
  ASSERT_EQ(md.size(), 3u);
  EXPECT_EQ(md[0].key, "a");
  EXPECT_EQ(md[1].key, "b");
  EXPECT_EQ(md[2].key, "c");
  EXPECT_EQ((*r)->get_f32("b"), 2.5f);
  EXPECT_EQ((*r)->get_string("b"), std::nullopt);
}

TEST(gguf_writer, alignment_pads_header_and_tensors) {
  writer w;
  w.set_i32("x", -5);
  w.set_u64("y", 9);
  w.set_alignment(64);
  w.add_tensor("a", ggml_type::f32, {3}, pattern(12, 1));
  w.add_tensor("b", ggml_type::i8, {5}, pattern(5, 2));
  const auto bytes = w.to_bytes();
  auto r = file::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(r.ok()) << r.error_message();
  const file& f = **r;
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.get_u32("general.alignment"), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.tensors()[1].offset, 64u);
  EXPECT_EQ(bytes.size(), f.data_offset() + 128);
  EXPECT_EQ(f.find("x")->as_int(), -5);
}

TEST(gguf_writer, lazy_tensors_fill_only_while_writing) {
  writer w;
  int calls = 0;
  for (int i = 0; i < 3; ++i) {
    w.add_tensor_lazy("t" + std::to_string(i), ggml_type::f32, {4, 2}, [&calls, i](auto& out) {
      ++calls;
      out = pattern(32, uint8_t(i));
    });
  }
  EXPECT_EQ(calls, 0);
  const auto bytes = w.to_bytes();
  EXPECT_EQ(calls, 3);
  auto r = file::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(r.ok()) << r.error_message();
  const tensor_info& t2 = (*r)->tensors()[2];
  EXPECT_EQ(std::vector<uint8_t>((*r)->tensor_data(t2), (*r)->tensor_data(t2) + 32), pattern(32, 2));
}

TEST(gguf_writer, invalid_input_is_an_error) {
  writer bad_size;
  bad_size.add_tensor("w", ggml_type::q4_0, {32}, std::vector<uint8_t>(17));
  EXPECT_THROW((void)bad_size.to_bytes(), std::invalid_argument);
  writer bad_shape;
  bad_shape.add_tensor("w", ggml_type::q4_0, {31}, {});
  EXPECT_THROW((void)bad_shape.to_bytes(), std::invalid_argument);
  writer dup;
  dup.add_tensor("w", ggml_type::i8, {1}, {1});
  dup.add_tensor("w", ggml_type::i8, {1}, {1});
  EXPECT_THROW((void)dup.to_bytes(), std::invalid_argument);
  writer range;
  range.set_value("k", value{value_type::u8, uint64_t{256}});
  EXPECT_THROW((void)range.to_bytes(), std::invalid_argument);
  const status s = range.write_file(std::string(POCKETLM_BINARY_DIR) + "/gguf_range_error.gguf");
  EXPECT_EQ(s.error_message(), "gguf: key 'k': value of type u8 holds a missing or out-of-range value");
  writer mixed;
  mixed.set_value("m", value{value_type::array, array_value{value_type::u8, {value{value_type::i8, int64_t{1}}}}});
  EXPECT_THROW((void)mixed.to_bytes(), std::invalid_argument);
  writer align;
  align.set_alignment(48);
  EXPECT_THROW((void)align.to_bytes(), std::invalid_argument);
}

// Copying every key and tensor of stories260K reproduces the file byte for byte: the writer
// lays files out exactly as llama.cpp does.
TEST(gguf_writer, stories260k_rewrite_is_byte_identical) {
  auto r = file::open(std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf");
  ASSERT_TRUE(r.ok()) << r.error_message();
  const file& f = **r;
  writer w;
  for (const auto& kv : f.metadata()) w.set_value(kv.key, kv.val);
  for (const auto& t : f.tensors()) {
    w.add_tensor_lazy(
        t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims),
        [&f, &t](std::vector<uint8_t>& out) { out.assign(f.tensor_data(t), f.tensor_data(t) + t.n_bytes); });
  }
  const auto bytes = w.to_bytes();
  ASSERT_EQ(bytes.size(), f.size());
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), f.bytes()));
}

class gguf_writer_file : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(POCKETLM_BINARY_DIR) / "gguf_writer_test" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  fs::path dir_;
};

TEST_F(gguf_writer_file, writes_via_tmp_and_rereads) {
  writer w;
  w.set_string("general.architecture", "llama");
  w.add_tensor("w", ggml_type::f32, {2}, pattern(8, 3));
  const auto path = (dir_ / "m.gguf").string();
  const status s = w.write_file(path);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  auto r = file::open(path);
  ASSERT_TRUE(r.ok()) << r.error_message();
  EXPECT_EQ((*r)->get_string("general.architecture"), "llama");
  EXPECT_EQ((*r)->size(), w.to_bytes().size());
}

TEST_F(gguf_writer_file, missing_directory_is_reported) {
  writer w;
  const auto path = (dir_ / "no" / "m.gguf").string();
  const status s = w.write_file(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_message(), "gguf: writing " + path + ": No such file or directory");
}

TEST_F(gguf_writer_file, failed_fill_removes_tmp_and_keeps_old_file) {
  const auto path = (dir_ / "m.gguf").string();
  std::ofstream(path) << "old";
  writer w;
  w.add_tensor_lazy("w", ggml_type::f32, {2}, [](auto& out) { out.resize(3); });
  const status s = w.write_file(path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error_message().find("fill produced 3 bytes, expected 8"), std::string::npos);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(fs::file_size(path), 3u);
}

// A write error midway (here EFBIG from a file size limit, standing in for ENOSPC) removes the
// temporary file and reports the OS error for the target path.
TEST_F(gguf_writer_file, io_error_midway_removes_tmp) {
  writer w;
  w.add_tensor("w", ggml_type::f32, {4096}, std::vector<uint8_t>(16384));
  const auto path = (dir_ / "m.gguf").string();
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const status s = w.write_file(path);
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_message(), "gguf: writing " + path + ": File too large");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace pocketlm::gguf
