// libFuzzer entry for the GGUF reader: parse arbitrary bytes, then read everything a consumer
// could read. Sanitizers turn any out-of-bounds read, overflow or leak into a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "gguf/gguf.h"

namespace {

using namespace pocketlm::gguf;

uint64_t touch_value(const value& v) {
  uint64_t h = static_cast<uint64_t>(v.type);
  if (const auto i = v.as_int()) h += static_cast<uint64_t>(*i);
  if (const auto d = v.as_float()) h += *d > 0 ? 1 : 0;
  if (const auto* s = v.as_string()) h += s->empty() ? 0 : static_cast<uint8_t>(s->back());
  if (const auto* a = v.as_array()) {
    for (const auto& item : a->items) {
      if (item.type != a->elem_type) std::abort();  // reader promised homogeneous arrays
      h += touch_value(item);
    }
  }
  return h;
}

uint64_t touch_file(const file& f) {
  uint64_t h = f.version() + f.alignment() + f.data_offset();
  for (const auto& kv : f.metadata()) {
    h += touch_value(kv.val);
    h += f.get_u32(kv.key).value_or(0) + f.get_bool(kv.key).value_or(false);
    h += f.get_f32(kv.key).has_value() + f.get_string(kv.key).has_value();
    h += f.get_array(kv.key) != nullptr;
    if (f.find(kv.key) == nullptr) std::abort();
  }
  if (f.data_offset() > f.size() || (f.alignment() & (f.alignment() - 1)) != 0) std::abort();
  for (const auto& t : f.tensors()) {
    if (t.n_bytes == 0 || t.offset % f.alignment() != 0 || t.n_elements() <= 0) std::abort();
    if (f.data_offset() + t.offset + t.n_bytes > f.size()) std::abort();
    const uint8_t* p = f.tensor_data(t);
    h += p[0] + p[t.n_bytes - 1];
    if (f.find_tensor(t.name) == nullptr) std::abort();
  }
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Copy so the buffer ends exactly at `size` (ASan then flags any read past it).
  const std::vector<uint8_t> bytes(data, data + size);
  auto r = file::parse(bytes.data(), bytes.size());
  if (!r.ok()) {
    if (r.error_message().empty()) std::abort();
    return 0;
  }
  volatile uint64_t sink = touch_file(**r);
  (void)sink;
  return 0;
}
