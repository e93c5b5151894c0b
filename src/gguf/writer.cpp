// GGUF v3 writer, byte-compatible with llama.cpp's gguf_write_to_file: header, key/values in
// insertion order, tensor infos, zero padding to the alignment, then each tensor's data
// padded to the alignment. Tensor bytes are streamed one tensor at a time.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "gguf/gguf.h"

namespace pocketlm::gguf {
namespace {

constexpr uint32_t k_version = 3;

struct byte_buf {
  std::vector<uint8_t> bytes;

  template <typename T>
  void raw(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    bytes.insert(bytes.end(), tmp, tmp + sizeof(T));
  }
  void str(std::string_view s) {
    raw<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  void pad(uint64_t alignment) { bytes.resize((bytes.size() + alignment - 1) / alignment * alignment); }
};

error bad_value(const std::string& key, const value& v, const char* why) {
  return error{"gguf: key '" + key + "': value of type " + std::string(type_name(v.type)) + " " + why};
}

// Integers may be held as either variant alternative as long as the value fits T.
template <typename T>
bool put_int(byte_buf& b, const value& v) {
  if (const auto* u = std::get_if<uint64_t>(&v.data); u && std::in_range<T>(*u)) {
    b.raw(static_cast<T>(*u));
    return true;
  }
  if (const auto* i = std::get_if<int64_t>(&v.data); i && std::in_range<T>(*i)) {
    b.raw(static_cast<T>(*i));
    return true;
  }
  return false;
}

bool put_f32(byte_buf& b, const value& v) {
  const auto* d = std::get_if<double>(&v.data);
  if (d == nullptr) return false;
  if (std::isfinite(*d) && std::fabs(*d) > std::numeric_limits<float>::max()) return false;
  b.raw(static_cast<float>(*d));
  return true;
}

bool put_f64(byte_buf& b, const value& v) {
  const auto* d = std::get_if<double>(&v.data);
  if (d != nullptr) b.raw(*d);
  return d != nullptr;
}

bool put_bool(byte_buf& b, const value& v) {
  const auto* x = std::get_if<bool>(&v.data);
  if (x != nullptr) b.raw<uint8_t>(*x ? 1 : 0);
  return x != nullptr;
}

bool put_string(byte_buf& b, const value& v) {
  const auto* s = v.as_string();
  if (s != nullptr) b.str(*s);
  return s != nullptr;
}

status put_payload(byte_buf& b, const value& v, const std::string& key, int depth);

status put_array(byte_buf& b, const value& v, const std::string& key, int depth) {
  const auto* arr = v.as_array();
  if (arr == nullptr) return bad_value(key, v, "does not hold an array");
  if (depth > k_max_array_depth) return bad_value(key, v, "nests arrays too deeply");
  b.raw(static_cast<uint32_t>(arr->elem_type));
  b.raw<uint64_t>(arr->items.size());
  for (const value& item : arr->items) {
    if (item.type != arr->elem_type) return bad_value(key, item, "differs from its array's type");
    if (status s = put_payload(b, item, key, depth); !s) return s;
  }
  return {};
}

// Writes the value without its type tag (arrays carry element type and count).
status put_payload(byte_buf& b, const value& v, const std::string& key, int depth) {
  bool ok = false;
  switch (v.type) {
    case value_type::u8: ok = put_int<uint8_t>(b, v); break;
    case value_type::i8: ok = put_int<int8_t>(b, v); break;
    case value_type::u16: ok = put_int<uint16_t>(b, v); break;
    case value_type::i16: ok = put_int<int16_t>(b, v); break;
    case value_type::u32: ok = put_int<uint32_t>(b, v); break;
    case value_type::i32: ok = put_int<int32_t>(b, v); break;
    case value_type::u64: ok = put_int<uint64_t>(b, v); break;
    case value_type::i64: ok = put_int<int64_t>(b, v); break;
    case value_type::f32: ok = put_f32(b, v); break;
    case value_type::f64: ok = put_f64(b, v); break;
    case value_type::boolean: ok = put_bool(b, v); break;
    case value_type::string: ok = put_string(b, v); break;
    case value_type::array: return put_array(b, v, key, depth + 1);
  }
  if (!ok) return bad_value(key, v, "holds a missing or out-of-range value");
  return {};
}

// Byte size of a tensor after checking what the reader will check.
result<uint64_t> tensor_bytes(const std::string& name, ggml_type type, const std::vector<int64_t>& ne) {
  const std::string where = "gguf: tensor '" + name + "': ";
  if (name.empty() || name.size() > k_max_tensor_name_bytes) {
    return error{where + "name length must be in [1, " + std::to_string(k_max_tensor_name_bytes) + "]"};
  }
  const ggml_type_traits tr = type_traits(type);
  if (tr.block_size == 0) return error{where + "unknown type"};
  if (ne.empty() || ne.size() > static_cast<size_t>(k_max_dims)) {
    return error{where + "needs 1 to 4 dimensions, got " + std::to_string(ne.size())};
  }
  int64_t n = 1;
  for (int64_t d : ne) {
    if (d < 1) return error{where + "dimension " + std::to_string(d) + " must be >= 1"};
    if (__builtin_mul_overflow(n, d, &n)) return error{where + "element count overflows"};
  }
  if (ne[0] % tr.block_size != 0) {
    return error{where + "ne[0] = " + std::to_string(ne[0]) + " is not a multiple of " + std::to_string(tr.block_size)};
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(n / tr.block_size), uint64_t{tr.type_size}, &bytes)) {
    return error{where + "byte size overflows"};
  }
  return bytes;
}

uint64_t padded(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

bool write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = EIO;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

void writer::put(std::string key, value v) {
  if (key == "general.alignment" && v.type == value_type::u32) {
    if (const auto a = v.as_int(); a && std::in_range<uint32_t>(*a)) alignment_ = static_cast<uint32_t>(*a);
  }
  for (auto& kv : kv_) {
    if (kv.key == key) {
      kv.val = std::move(v);
      return;
    }
  }
  kv_.push_back({std::move(key), std::move(v)});
}

void writer::set_u32(std::string key, uint32_t v) { put(std::move(key), {value_type::u32, uint64_t{v}}); }
void writer::set_i32(std::string key, int32_t v) { put(std::move(key), {value_type::i32, int64_t{v}}); }
void writer::set_u64(std::string key, uint64_t v) { put(std::move(key), {value_type::u64, v}); }
void writer::set_f32(std::string key, float v) { put(std::move(key), {value_type::f32, double{v}}); }
void writer::set_bool(std::string key, bool v) { put(std::move(key), {value_type::boolean, v}); }
void writer::set_string(std::string key, std::string v) { put(std::move(key), {value_type::string, std::move(v)}); }
void writer::set_value(std::string key, value v) { put(std::move(key), std::move(v)); }

void writer::set_string_array(std::string key, std::vector<std::string> v) {
  array_value arr{value_type::string, {}};
  arr.items.reserve(v.size());
  for (auto& s : v) arr.items.push_back({value_type::string, std::move(s)});
  put(std::move(key), {value_type::array, std::move(arr)});
}

void writer::set_i32_array(std::string key, const std::vector<int32_t>& v) {
  array_value arr{value_type::i32, {}};
  arr.items.reserve(v.size());
  for (int32_t x : v) arr.items.push_back({value_type::i32, int64_t{x}});
  put(std::move(key), {value_type::array, std::move(arr)});
}

void writer::set_f32_array(std::string key, const std::vector<float>& v) {
  array_value arr{value_type::f32, {}};
  arr.items.reserve(v.size());
  for (float x : v) arr.items.push_back({value_type::f32, double{x}});
  put(std::move(key), {value_type::array, std::move(arr)});
}

void writer::set_alignment(uint32_t alignment) { set_u32("general.alignment", alignment); }

void writer::add_tensor(std::string name, ggml_type type, std::vector<int64_t> ne, std::vector<uint8_t> data) {
  tensors_.push_back({std::move(name), type, std::move(ne), std::move(data), nullptr});
}

void writer::add_tensor_lazy(std::string name, ggml_type type, std::vector<int64_t> ne,
                             std::function<void(std::vector<uint8_t>& out)> fill) {
  tensors_.push_back({std::move(name), type, std::move(ne), {}, std::move(fill)});
}

status writer::encode_meta(std::vector<uint8_t>& out, std::vector<uint64_t>& sizes) const {
  const value* align_kv = nullptr;
  for (const auto& kv : kv_) {
    if (kv.key == "general.alignment") align_kv = &kv.val;
  }
  if ((align_kv != nullptr && align_kv->type != value_type::u32) || alignment_ == 0 ||
      (alignment_ & (alignment_ - 1)) != 0) {
    return error{"gguf: general.alignment must be a u32 nonzero power of two, got " + std::to_string(alignment_)};
  }
  byte_buf meta;
  meta.raw<uint32_t>(0x46554747);  // "GGUF"
  meta.raw(k_version);
  meta.raw<uint64_t>(tensors_.size());
  meta.raw<uint64_t>(kv_.size());
  for (const auto& kv : kv_) {
    if (kv.key.empty() || kv.key.size() > k_max_key_bytes) {
      return error{"gguf: key '" + kv.key.substr(0, 80) + "': length must be in [1, " +
                   std::to_string(k_max_key_bytes) + "]"};
    }
    meta.str(kv.key);
    meta.raw(static_cast<uint32_t>(kv.val.type));
    if (status s = put_payload(meta, kv.val, kv.key, 0); !s) return s;
  }
  std::unordered_set<std::string_view> names;
  uint64_t offset = 0;  // tensors are packed in order, each padded to the alignment
  for (const auto& t : tensors_) {
    const auto bytes = tensor_bytes(t.name, t.type, t.ne);
    if (!bytes) return bytes.err();
    if (!names.insert(t.name).second) return error{"gguf: duplicate tensor name '" + t.name + "'"};
    if (!t.fill && t.data.size() != *bytes) {
      return error{"gguf: tensor '" + t.name + "': data has " + std::to_string(t.data.size()) + " bytes, expected " +
                   std::to_string(*bytes)};
    }
    meta.str(t.name);
    meta.raw<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) meta.raw(d);
    meta.raw(static_cast<uint32_t>(t.type));
    meta.raw(offset);
    sizes.push_back(*bytes);
    offset += padded(*bytes, alignment_);
  }
  meta.pad(alignment_);
  out = std::move(meta.bytes);
  return {};
}

status writer::emit(const sink& out) const {
  std::vector<uint64_t> sizes;
  {
    std::vector<uint8_t> meta;
    if (status s = encode_meta(meta, sizes); !s) return s;
    if (status s = out(meta.data(), meta.size()); !s) return s;
  }
  const std::vector<uint8_t> zeros(alignment_, 0);
  std::vector<uint8_t> scratch;  // reused by lazy tensors: only one is ever in memory
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    const std::vector<uint8_t>* data = &t.data;
    if (t.fill) {
      scratch.clear();
      t.fill(scratch);
      if (scratch.size() != sizes[i]) {
        return error{"gguf: tensor '" + t.name + "': fill produced " + std::to_string(scratch.size()) +
                     " bytes, expected " + std::to_string(sizes[i])};
      }
      data = &scratch;
    }
    if (status s = out(data->data(), data->size()); !s) return s;
    if (status s = out(zeros.data(), padded(sizes[i], alignment_) - sizes[i]); !s) return s;
  }
  return {};
}

status writer::write_file(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  const auto io_error = [&path] {
    return error{"gguf: writing " + path + ": " + std::generic_category().message(errno)};
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error();
  status s = emit([&](const uint8_t* p, size_t n) -> status {
    if (!write_all(fd, p, n)) return io_error();
    return {};
  });
  if (s && ::fsync(fd) != 0) s = io_error();
  if (::close(fd) != 0 && s) s = io_error();
  if (s && ::rename(tmp.c_str(), path.c_str()) != 0) s = io_error();
  if (!s) ::unlink(tmp.c_str());
  return s;
}

std::vector<uint8_t> writer::to_bytes() const {
  std::vector<uint8_t> bytes;
  const status s = emit([&](const uint8_t* p, size_t n) -> status {
    bytes.insert(bytes.end(), p, p + n);
    return {};
  });
  if (!s) throw std::invalid_argument(s.error_message());
  return bytes;
}

}  // namespace pocketlm::gguf
