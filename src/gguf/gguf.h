// gguf/: owns the GGUF file format: a bounds-checked reader over a read-only mmap, metadata
// values, tensor infos, and a writer. Calls only common/ and the C++ standard library.
#pragma once

#include <sys/stat.h>

#include <array>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "gguf/types.h"

namespace pocketlm::gguf {

// Metadata value type ids as written in GGUF files.
enum class value_type : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

// "u8", "string", "array", ... as used in error messages; "unknown" for ids outside the enum.
std::string_view type_name(value_type t);

struct value;

// A GGUF array: one element type, possibly nested arrays.
struct array_value {
  value_type elem_type = value_type::u8;
  std::vector<value> items;
};

// One metadata value. Integers keep their signedness; floats are widened to double.
struct value {
  value_type type = value_type::u8;
  std::variant<uint64_t, int64_t, double, bool, std::string, array_value> data;

  // Integer view: any integer type (or bool) whose value fits; nullopt otherwise.
  std::optional<int64_t> as_int() const;
  // Float view: f32/f64 and any integer type.
  std::optional<double> as_float() const;
  const std::string* as_string() const;
  const array_value* as_array() const;
};

struct key_value {
  std::string key;
  value val;
};

constexpr int k_max_dims = 4;
// Limits the reader enforces (and the writer checks, so it never writes what cannot be read).
constexpr uint64_t k_max_key_bytes = 64 * 1024;
constexpr uint64_t k_max_tensor_name_bytes = 1024;  // llama.cpp allows 63; lenient but bounded
constexpr int k_max_array_depth = 8;                // arrays of arrays of ...

struct tensor_info {
  std::string name;
  uint32_t n_dims = 0;
  std::array<int64_t, k_max_dims> ne{1, 1, 1, 1};  // elements per dimension, ne[0] fastest
  ggml_type type = ggml_type::f32;
  uint64_t offset = 0;   // relative to the start of the data section
  uint64_t n_bytes = 0;  // validated: data section holds [offset, offset + n_bytes)
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

// A parsed, fully validated GGUF file. Every accessor is safe once open() succeeded.
// Owns the mmap (when opened from a path); tensor data pointers live as long as this object.
class file {
 public:
  // mmaps `path` read-only and validates everything. Error message is one line naming the
  // problem, e.g. "tensor 'blk.0.attn_q.weight': data [x, y) lies outside the file (size z)".
  static result<std::unique_ptr<file>> open(const std::string& path);
  // Parses a caller-owned buffer (fuzzing, tests). The buffer must outlive the file object.
  static result<std::unique_ptr<file>> parse(const uint8_t* data, size_t size);

  ~file();
  file(const file&) = delete;
  file& operator=(const file&) = delete;

  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }  // start of the tensor data section
  size_t size() const { return size_; }
  const uint8_t* bytes() const { return data_; }

  const std::vector<key_value>& metadata() const { return kv_; }
  const value* find(std::string_view key) const;

  // Typed getters; nullopt when the key is missing or of an incompatible type / out of range.
  std::optional<uint32_t> get_u32(std::string_view key) const;
  std::optional<float> get_f32(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  // Arrays: nullptr when missing or not an array of the right element type.
  const array_value* get_array(std::string_view key) const;

  const std::vector<tensor_info>& tensors() const { return tensors_; }
  const tensor_info* find_tensor(std::string_view name) const;
  const uint8_t* tensor_data(const tensor_info& t) const { return data_ + data_offset_ + t.offset; }
  // True once a page of the mapping vanished (the file shrank under it; the page now reads as
  // zeros): whatever was computed from it since is wrong. See mapping_guard.h.
  bool damaged() const;

 private:
  file() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when we own an mmap of size_ bytes
  int guard_ = -1;           // mapping_guard slot of mapping_
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<key_value> kv_;
  std::vector<tensor_info> tensors_;
  friend class parser;
};

// Opens `path` read-only without ever blocking and refuses anything but a regular file, before a
// byte is read: O_RDONLY|O_NONBLOCK|O_CLOEXEC (O_NONBLOCK cleared once open), then fstat of the
// opened fd, so a FIFO, socket, device or directory (or a symlink to one, or one swapped in) is
// an error, not a hang. Returns the fd (the caller closes it) and fills `st` when given. Error
// kinds: not_found (missing), invalid_input (not a regular file, symlink loop, name too long), io.
result<int> open_regular_file(const std::string& path, struct stat* st = nullptr);

// Builds a GGUF v3 file in memory or on disk. Tensors are written in insertion order, each
// aligned to `general.alignment` (32 unless set with set_alignment).
class writer {
 public:
  void set_u32(std::string key, uint32_t v);
  void set_i32(std::string key, int32_t v);
  void set_u64(std::string key, uint64_t v);
  void set_f32(std::string key, float v);
  void set_bool(std::string key, bool v);
  void set_string(std::string key, std::string v);
  void set_value(std::string key, value v);  // any value, including nested arrays
  void set_string_array(std::string key, std::vector<std::string> v);
  void set_i32_array(std::string key, const std::vector<int32_t>& v);
  void set_f32_array(std::string key, const std::vector<float>& v);
  void set_alignment(uint32_t alignment);  // also writes general.alignment
  // ne[0] is the fastest dimension; `data` must hold row_size(type, ne[0]) * rows bytes.
  void add_tensor(std::string name, ggml_type type, std::vector<int64_t> ne, std::vector<uint8_t> data);
  // Same, but the bytes are produced only while writing, one tensor at a time, so multi-GB
  // models never sit in memory whole. `fill` must resize `out` to the tensor's byte size.
  void add_tensor_lazy(std::string name, ggml_type type, std::vector<int64_t> ne,
                       std::function<void(std::vector<uint8_t>& out)> fill);
  // Writes to `path` via a temporary file renamed into place; clear error on a full disk.
  // Invalid values or tensors (bad shape, wrong data size) are reported as errors too.
  status write_file(const std::string& path) const;
  // Same bytes as write_file; throws std::invalid_argument where write_file returns an error.
  std::vector<uint8_t> to_bytes() const;

 private:
  using sink = std::function<status(const uint8_t* bytes, size_t n)>;
  void put(std::string key, value v);  // replaces an existing key in place
  // Validates everything but lazy tensor sizes; encodes header, kv and tensor infos (padded)
  // and each tensor's unpadded byte size.
  status encode_meta(std::vector<uint8_t>& out, std::vector<uint64_t>& sizes) const;
  status emit(const sink& out) const;  // streams the file one tensor at a time

  std::vector<key_value> kv_;
  struct pending_tensor {
    std::string name;
    ggml_type type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;
    std::function<void(std::vector<uint8_t>&)> fill;  // set for lazy tensors
  };
  std::vector<pending_tensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace pocketlm::gguf
