// Metadata value views and the typed lookups on a parsed gguf::file.
#include <cmath>
#include <iterator>
#include <limits>

#include "gguf/gguf.h"

namespace pocketlm::gguf {
namespace {

bool is_integer(value_type t) {
  switch (t) {
    case value_type::u8:
    case value_type::i8:
    case value_type::u16:
    case value_type::i16:
    case value_type::u32:
    case value_type::i32:
    case value_type::u64:
    case value_type::i64: return true;
    default: return false;
  }
}

}  // namespace

std::string_view type_name(value_type t) {
  static constexpr std::string_view k_names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                 "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(k_names) ? k_names[i] : "unknown";
}

std::optional<int64_t> value::as_int() const {
  if (const auto* b = std::get_if<bool>(&data)) return *b ? 1 : 0;
  if (const auto* i = std::get_if<int64_t>(&data)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  return std::nullopt;
}

std::optional<double> value::as_float() const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  if (const auto* i = std::get_if<int64_t>(&data)) return static_cast<double>(*i);
  if (const auto* u = std::get_if<uint64_t>(&data)) return static_cast<double>(*u);
  return std::nullopt;
}

const std::string* value::as_string() const { return std::get_if<std::string>(&data); }

const array_value* value::as_array() const { return std::get_if<array_value>(&data); }

const value* file::find(std::string_view key) const {
  for (const auto& kv : kv_) {
    if (kv.key == key) return &kv.val;
  }
  return nullptr;
}

// Integer ids are stored as u32 by some writers and i32 by others: accept any integer type
// whose value fits.
std::optional<uint32_t> file::get_u32(std::string_view key) const {
  const value* v = find(key);
  if (v == nullptr || !is_integer(v->type)) return std::nullopt;
  const auto i = v->as_int();
  if (!i || *i < 0 || *i > std::numeric_limits<uint32_t>::max()) return std::nullopt;
  return static_cast<uint32_t>(*i);
}

std::optional<float> file::get_f32(std::string_view key) const {
  const value* v = find(key);
  if (v == nullptr || v->type == value_type::boolean) return std::nullopt;
  const auto d = v->as_float();
  if (!d) return std::nullopt;
  if (std::isfinite(*d) && std::fabs(*d) > std::numeric_limits<float>::max()) return std::nullopt;
  return static_cast<float>(*d);
}

std::optional<bool> file::get_bool(std::string_view key) const {
  const value* v = find(key);
  if (v == nullptr || v->type != value_type::boolean) return std::nullopt;
  return std::get<bool>(v->data);
}

std::optional<std::string> file::get_string(std::string_view key) const {
  const value* v = find(key);
  if (v == nullptr || v->as_string() == nullptr) return std::nullopt;
  return *v->as_string();
}

const array_value* file::get_array(std::string_view key) const {
  const value* v = find(key);
  return v == nullptr ? nullptr : v->as_array();
}

const tensor_info* file::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace pocketlm::gguf
