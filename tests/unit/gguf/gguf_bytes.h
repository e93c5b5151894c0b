// Byte-level builder for hand-made (often deliberately broken) GGUF files in tests, plus a
// deep comparison of metadata values.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"

namespace pocketlm::gguf::testing {

// Value type ids, as written in files.
enum : uint32_t { t_u8 = 0, t_i8, t_u16, t_i16, t_u32, t_i32, t_f32, t_bool, t_string, t_array, t_u64, t_i64, t_f64 };

struct gguf_bytes {
  std::vector<uint8_t> b;

  template <typename T>
  gguf_bytes& raw(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  gguf_bytes& u8(uint8_t v) { return raw(v); }
  gguf_bytes& u32(uint32_t v) { return raw(v); }
  gguf_bytes& u64(uint64_t v) { return raw(v); }
  gguf_bytes& i64(int64_t v) { return raw(v); }
  gguf_bytes& str(std::string_view s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  // magic, version, n_tensors, n_kv
  gguf_bytes& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b.insert(b.end(), {'G', 'G', 'U', 'F'});
    return u32(version).u64(n_tensors).u64(n_kv);
  }
  gguf_bytes& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(t_u32).u32(v); }
  gguf_bytes& kv_string(std::string_view key, std::string_view v) { return str(key).u32(t_string).str(v); }
  // name, n_dims, ne..., type id, offset
  gguf_bytes& tensor(std::string_view name, std::initializer_list<int64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (int64_t d : ne) i64(d);
    return u32(type).u64(offset);
  }
  gguf_bytes& pad(size_t alignment) {
    b.resize((b.size() + alignment - 1) / alignment * alignment, 0);
    return *this;
  }
  gguf_bytes& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

// Payload equality of two non-array values with the same variant alternative; doubles compare
// bit for bit so NaN round trips count as equal.
inline bool same_scalar(const value& a, const value& b) {
  if (const auto* u = std::get_if<uint64_t>(&a.data)) return *u == std::get<uint64_t>(b.data);
  if (const auto* i = std::get_if<int64_t>(&a.data)) return *i == std::get<int64_t>(b.data);
  if (const auto* d = std::get_if<double>(&a.data)) {
    const double e = std::get<double>(b.data);
    return std::memcmp(d, &e, sizeof e) == 0;
  }
  if (const auto* f = std::get_if<bool>(&a.data)) return *f == std::get<bool>(b.data);
  return *a.as_string() == *b.as_string();
}

// Deep equality of two metadata values (type, payload, nested items).
inline bool same_value(const value& a, const value& b) {
  if (a.type != b.type || a.data.index() != b.data.index()) return false;
  const auto* x = a.as_array();
  const auto* y = b.as_array();
  if (x == nullptr) return same_scalar(a, b);
  if (x->elem_type != y->elem_type || x->items.size() != y->items.size()) return false;
  for (size_t i = 0; i < x->items.size(); ++i) {
    if (!same_value(x->items[i], y->items[i])) return false;
  }
  return true;
}

}  // namespace pocketlm::gguf::testing
