#include "model/memory.h"

#include <algorithm>
#include <cstdio>

#include "kernels/dispatch.h"
#include "model/arch.h"

namespace pocketlm {

namespace {

// glibc malloc: a chunk holds the request plus an 8-byte header, rounded up to 16, at least 32.
uint64_t heap_chunk(uint64_t request) { return std::max<uint64_t>(32, (request + 8 + 15) & ~15ull); }

// std::string keeps up to 15 characters inline; longer ones own a heap chunk.
uint64_t string_heap(const std::string& s) { return s.size() > 15 ? heap_chunk(s.size() + 1) : 0; }

uint64_t value_heap(const gguf::value& v) {
  if (const std::string* s = v.as_string()) return string_heap(*s);
  const gguf::array_value* a = v.as_array();
  if (a == nullptr || a->items.empty()) return 0;
  uint64_t n = heap_chunk(a->items.size() * sizeof(gguf::value));
  for (const auto& item : a->items) n += value_heap(item);
  return n;
}

// The header pages the parser read (file-backed, resident) plus its heap copy of them.
uint64_t metadata_bytes(const gguf::file& f) {
  uint64_t n = f.data_offset();
  n += heap_chunk(f.metadata().size() * sizeof(gguf::key_value));
  for (const auto& kv : f.metadata()) n += string_heap(kv.key) + value_heap(kv.val);
  n += heap_chunk(f.tensors().size() * sizeof(gguf::tensor_info));
  for (const auto& t : f.tensors()) n += string_heap(t.name);
  return n;
}

uint64_t weight_bytes(const gguf::file& f) {
  uint64_t n = 0;
  for (const auto& t : f.tensors()) {
    n += t.n_bytes;
    if (t.n_dims == 1) n += heap_chunk(static_cast<uint64_t>(t.n_elements()) * sizeof(float));
  }
  return n;
}

// Largest activation row the matmuls convert (bytes per token): the weight with the widest
// input in its vec_dot format.
uint64_t act_row_bytes(const gguf::file& f) {
  uint64_t best = 0;
  for (const auto& t : f.tensors()) {
    if (t.n_dims != 2) continue;
    const kernels::type_kernels* k = kernels::kernels_for(t.type);
    if (k != nullptr) best = std::max<uint64_t>(best, row_size(k->vec_dot_type, t.ne[0]));
  }
  return best;
}

uint64_t compute_bytes(const gguf::file& f, const hparams& hp, const memory_shape& s) {
  // An encoder runs its whole input as one batch (model::load), whatever the chunk size asked.
  const int64_t batch = arch_of(hp.arch).encoder ? s.n_ctx : s.n_batch;
  const auto n = static_cast<uint64_t>(std::clamp<int64_t>(batch, 1, s.n_ctx));
  const auto floats = [](uint64_t count) { return heap_chunk(count * sizeof(float)); };
  const auto e = static_cast<uint64_t>(hp.n_embd), qd = static_cast<uint64_t>(hp.q_dim());
  const auto kvd = static_cast<uint64_t>(hp.kv_dim()), ff = static_cast<uint64_t>(hp.n_ff);
  uint64_t b = floats(n * e) + floats(n * std::max(e, qd)) + 2 * floats(n * qd) + 2 * floats(n * kvd) +
               2 * floats(n * ff);  // x, xb, q + attn, k + v, gate + up
  if (arch_of(hp.arch).fused_ffn || arch_of(hp.arch).encoder) b += floats(n * std::max(qd + 2 * kvd, 2 * ff));
  if (hp.has_conv()) b += floats(n * 4 * e);  // lfm2: in_proj output and gated convolution
  // Last-position logits: the model's buffer, the copy eval returns, and a caller's index.
  b += 3 * floats(static_cast<uint64_t>(hp.n_vocab));
  b += heap_chunk(act_row_bytes(f) * n);
  return b;
}

}  // namespace

memory_needs estimate_memory(const gguf::file& f, const hparams& hp, const memory_shape& s) {
  memory_needs m;
  m.weights = weight_bytes(f);
  m.metadata = metadata_bytes(f);
  int64_t cells = 0;
  for (int64_t il = 0; il < hp.n_layer; ++il) cells += hp.kv_cells(il, s.n_ctx, s.n_batch);
  m.kv = 2 * static_cast<uint64_t>(cells) * kv_row_bytes(s.kv, hp.kv_dim());
  // lfm2's convolution state (f32, like llama.cpp's) and its copy saved after a prefill sit
  // beside the KV cache of each sequence.
  if (hp.has_conv()) m.kv += 2 * heap_chunk(static_cast<uint64_t>(hp.conv_state_floats()) * sizeof(float));
  m.compute = compute_bytes(f, hp, s);
  return m;
}

int64_t largest_fitting_ctx(const gguf::file& f, const hparams& hp, memory_shape s, uint64_t budget, int64_t limit) {
  int64_t lo = 0, hi = limit;  // invariant: lo fits (or is 0), everything above hi does not
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    s.n_ctx = mid;
    if (estimate_memory(f, hp, s).total() <= budget)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

int64_t largest_fitting_batch(const gguf::file& f, const hparams& hp, memory_shape s, uint64_t budget) {
  int64_t lo = 0, hi = s.n_ctx;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    s.n_batch = mid;
    if (estimate_memory(f, hp, s).total() <= budget)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

status check_kv_type(const hparams& hp, kv_type kv) {
  if (kv == kv_type::q8_0 && hp.kv_dim() % 32 != 0) {
    return error{"--kv-type q8_0 needs the KV width (n_head_kv * head_dim = " + std::to_string(hp.kv_dim()) +
                 ") to be a multiple of 32; use --kv-type f16"};
  }
  return {};
}

std::string format_bytes(uint64_t n) {
  static constexpr const char* k_units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024.0 && u < 4) v /= 1024.0, ++u;
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, k_units[u]);
  return buf;
}

result<fitted_context> fit_context(const gguf::file& f, const hparams& hp, const memory_shape& s, uint64_t budget,
                                   const std::string& budget_source, bool ctx_explicit) {
  const memory_needs need = estimate_memory(f, hp, s);
  if (budget == 0 || need.total() <= budget) return fitted_context{s.n_ctx, ""};
  constexpr int64_t k_ctx_step = 256;  // a reduced default context is a multiple of this
  const int64_t largest = largest_fitting_ctx(f, hp, s, budget, s.n_ctx);
  if (!ctx_explicit && largest >= k_ctx_step) {
    const int64_t ctx = largest / k_ctx_step * k_ctx_step;
    return fitted_context{ctx, "context reduced from " + std::to_string(s.n_ctx) + " to " + std::to_string(ctx) +
                                   " to fit the memory budget of " + format_bytes(budget) + " (" + budget_source + ")"};
  }
  std::string msg = "model needs " + format_bytes(need.total()) + " (weights " + format_bytes(need.weights) + " + KV " +
                    format_bytes(need.kv) + " at -c " + std::to_string(s.n_ctx) + " + compute " +
                    format_bytes(need.compute) + " + runtime " + format_bytes(need.metadata + need.overhead) +
                    ") but the budget is " + format_bytes(budget) + " (" + budget_source + "): ";
  if (largest > 0) {
    msg += "use -c " + std::to_string(largest) + " or less, or a smaller quantization";
  } else {
    msg += "use a smaller quantization or a larger --ram";
  }
  memory_shape q8 = s;
  q8.kv = kv_type::q8_0;
  if (s.kv == kv_type::f16 && hp.kv_dim() % 32 == 0 && estimate_memory(f, hp, q8).total() <= budget) {
    msg += " (or --kv-type q8_0)";
  }
  return error{msg, error_kind::exhausted};
}

}  // namespace pocketlm
